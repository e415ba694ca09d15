//! What a webhook receives for one outbox entry: the request body in the
//! webhook's format, and the signature over its exact bytes
//! (docs/events.md, "Webhooks").
//!
//! The outbox keeps each event as JSON; this turns it into the bytes sent.
//! `json` sends those bytes as they are. `sipgate` sends a form, as
//! sipgate.io's push API does: each top-level field a `name=value` pair,
//! an array as repeated `name[]=` pairs (sipgate's `user[]`), a nested
//! object flattened as `parent_child`, `null` and arrays of objects left
//! out (a form has no way to say them).

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::config::WebhookFormat;

pub const TIMESTAMP_HEADER: &str = "X-Pbxgate-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Pbxgate-Signature";
pub const EVENT_ID_HEADER: &str = "X-Pbxgate-Event-Id";

/// A request body ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireBody {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("the event is not JSON ({0}); it cannot be sent as a form")]
    NotJson(String),
    #[error("the event is not a JSON object; it cannot be sent as a form")]
    NotObject,
}

/// The body of `event` (the outbox's JSON) in `format`.
pub fn body(format: WebhookFormat, event: &str) -> Result<WireBody, WireError> {
    match format {
        WebhookFormat::Json => Ok(WireBody {
            content_type: "application/json",
            bytes: event.as_bytes().to_vec(),
        }),
        WebhookFormat::Sipgate => {
            let v: Value =
                serde_json::from_str(event).map_err(|e| WireError::NotJson(e.to_string()))?;
            let Value::Object(map) = v else {
                return Err(WireError::NotObject);
            };
            let mut form = form_urlencoded::Serializer::new(String::new());
            for (name, value) in &map {
                add_field(&mut form, name, value);
            }
            Ok(WireBody {
                content_type: "application/x-www-form-urlencoded",
                bytes: form.finish().into_bytes(),
            })
        }
    }
}

fn add_field(form: &mut form_urlencoded::Serializer<'_, String>, name: &str, value: &Value) {
    match value {
        Value::Null => {}
        Value::Array(items) => {
            let key = format!("{name}[]");
            for item in items {
                if let Some(s) = scalar(item) {
                    form.append_pair(&key, &s);
                }
            }
        }
        Value::Object(map) => {
            for (child, v) in map {
                add_field(form, &format!("{name}_{child}"), v);
            }
        }
        other => {
            if let Some(s) = scalar(other) {
                form.append_pair(name, &s);
            }
        }
    }
}

/// A value as a form writes it; `None` for what a form cannot say.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// `v1=<hex HMAC-SHA256(secret, timestamp "." body)>`: the receiver
/// recomputes it over the raw body it got, and refuses stale timestamps
/// to stop replays. Signed anew on each attempt (the timestamp changes).
pub fn signature(secret: &str, timestamp: u64, body: &[u8]) -> String {
    // HMAC takes a key of any length (RFC 2104 section 2), so this
    // cannot fail whatever the secret is.
    #[allow(clippy::expect_used)]
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let mut out = String::with_capacity(3 + 64);
    out.push_str("v1=");
    for b in tag {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The headers that identify and sign one attempt: the event id always,
/// the timestamp always, the signature when there is a secret.
pub fn headers(
    event_id: &str,
    secret: Option<&str>,
    timestamp: u64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let mut h = vec![
        (EVENT_ID_HEADER, event_id.to_string()),
        (TIMESTAMP_HEADER, timestamp.to_string()),
    ];
    if let Some(s) = secret {
        h.push((SIGNATURE_HEADER, signature(s, timestamp, body)));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_sent_byte_for_byte() {
        let event = r#"{"event":"newCall", "z":1,"a":2}"#;
        let b = body(WebhookFormat::Json, event).unwrap();
        assert_eq!(b.content_type, "application/json");
        assert_eq!(b.bytes, event.as_bytes());
    }

    #[test]
    fn sipgate_form_has_pairs_repeated_arrays_and_flattened_objects() {
        let event = r#"{"event":"hangup","user":["Alice","Bob"],"duration":12,
            "clockSynced":true,"diversion":null,"xph":{"uuid":"u-1","afid":"5678"},
            "headers":[{"name":"x"}],"from":"+49 30 123&4"}"#;
        let b = body(WebhookFormat::Sipgate, event).unwrap();
        assert_eq!(b.content_type, "application/x-www-form-urlencoded");
        let pairs: Vec<(String, String)> = form_urlencoded::parse(&b.bytes)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let has = |k: &str, v: &str| pairs.iter().any(|(a, b)| a == k && b == v);
        assert!(has("event", "hangup"));
        assert!(has("user[]", "Alice") && has("user[]", "Bob"));
        assert!(has("duration", "12"));
        assert!(has("clockSynced", "true"));
        assert!(has("xph_uuid", "u-1") && has("xph_afid", "5678"));
        assert!(has("from", "+49 30 123&4"));
        assert!(!pairs
            .iter()
            .any(|(k, _)| k == "diversion" || k.starts_with("headers")));
        assert_eq!(pairs.len(), 8, "{pairs:?}");
        // sipgate's own spelling of the array pairs.
        let text = String::from_utf8(b.bytes).unwrap();
        assert!(text.contains("user%5B%5D=Alice&user%5B%5D=Bob"), "{text}");
        assert!(text.contains("from=%2B49+30+123%264"), "{text}");
    }

    #[test]
    fn sipgate_form_refuses_what_is_not_an_object() {
        assert!(matches!(
            body(WebhookFormat::Sipgate, "not json"),
            Err(WireError::NotJson(_))
        ));
        assert_eq!(
            body(WebhookFormat::Sipgate, "[1,2]"),
            Err(WireError::NotObject)
        );
    }

    /// Fixed vectors, computed apart from this code (Python's hmac module).
    #[test]
    fn signature_is_over_timestamp_dot_exact_body() {
        assert_eq!(
            signature(
                "shh",
                1_700_000_000,
                b"event=hangup&user%5B%5D=Alice&user%5B%5D=Bob"
            ),
            "v1=9ef3ca87b4f7b4f05978aee1e45e137cff7114a44ed9a144b536c6337390a936"
        );
        assert_eq!(
            signature("shh", 1_700_000_000, br#"{"event":"newCall"}"#),
            "v1=6d6f8973f616436423a58f1ef186ef4de67bab35b70ee6163a7e1fbd968d4c1e"
        );
        // One byte more is another signature.
        assert_ne!(
            signature("shh", 1_700_000_000, br#"{"event":"newCall"} "#),
            signature("shh", 1_700_000_000, br#"{"event":"newCall"}"#)
        );
    }

    #[test]
    fn headers_sign_only_with_a_secret() {
        let h = headers("ev-1", None, 5, b"x");
        assert_eq!(
            h,
            vec![
                (EVENT_ID_HEADER, "ev-1".to_string()),
                (TIMESTAMP_HEADER, "5".to_string())
            ]
        );
        let h = headers("ev-1", Some("k"), 5, b"x");
        assert_eq!(h[2].0, SIGNATURE_HEADER);
        assert_eq!(h[2].1, signature("k", 5, b"x"));
    }
}
