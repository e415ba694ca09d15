//! The values call-tracking platforms put in X-PH-* headers, kept in the
//! call record for events (Retreaver: call UUID, postback key, publisher
//! and sub-publisher).

use crate::sip::message::Headers;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallTags {
    pub uuid: Option<String>,
    pub key: Option<String>,
    pub afid: Option<String>,
    pub sid: Option<String>,
}

impl CallTags {
    pub fn extract(headers: &Headers) -> CallTags {
        let get = |name: &str| {
            headers
                .iter()
                .find(|h| h.name.as_str().eq_ignore_ascii_case(name))
                .map(|h| h.value.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        CallTags {
            uuid: get("X-PH-RetreaverUUID"),
            key: get("X-PH-RetreaverKey"),
            afid: get("X-PH-RetreaverAFID"),
            sid: get("X-PH-RetreaverSID"),
        }
    }
}

/// Every X- header, name as received, for the call record.
pub fn x_headers(headers: &Headers) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|h| is_x_header(h.name.as_str()))
        .map(|h| (h.name.as_str().to_string(), h.value.clone()))
        .collect()
}

pub fn is_x_header(name: &str) -> bool {
    name.len() > 2 && name.as_bytes()[..2].eq_ignore_ascii_case(b"x-")
}
