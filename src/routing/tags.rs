//! Retreaver's call tags (X-PH-RetreaverUUID/Key/AFID/SID on the INVITE it
//! sends) and the X- headers kept in call records.

use crate::sip::message::{HeaderName, Headers};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallTags {
    /// The call's UUID.
    pub uuid: Option<String>,
    /// The postback key.
    pub key: Option<String>,
    /// The publisher (affiliate) id.
    pub afid: Option<String>,
    /// The sub-publisher id, when one is set.
    pub sid: Option<String>,
}

impl CallTags {
    /// First line of each tag, trimmed; an empty value counts as absent.
    pub fn extract(headers: &Headers) -> CallTags {
        let tag = |name: &str| {
            headers
                .get(&HeaderName::from_wire(name))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        CallTags {
            uuid: tag("X-PH-RetreaverUUID"),
            key: tag("X-PH-RetreaverKey"),
            afid: tag("X-PH-RetreaverAFID"),
            sid: tag("X-PH-RetreaverSID"),
        }
    }

    pub fn is_empty(&self) -> bool {
        self == &CallTags::default()
    }
}

/// Every X- header, in order, with the name spelled as received.
pub fn x_headers(headers: &Headers) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|h| {
            h.name
                .as_str()
                .get(..2)
                .is_some_and(|p| p.eq_ignore_ascii_case("x-"))
        })
        .map(|h| (h.name.as_str().to_string(), h.value.clone()))
        .collect()
}
