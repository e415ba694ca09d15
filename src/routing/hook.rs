//! A routing hook's answer (docs/routing.md, "Routing hook"): the JSON a
//! route's `hook` URL returns for a new call, checked as strictly as the
//! configuration it stands in for, so nothing it says can put a bad URI
//! or header line on the wire. Unknown keys are ignored, so a service can
//! answer with more than the gateway reads.

use serde::Deserialize;

use crate::config::{ConfigError, TargetConfig};
use crate::sip::message::HeaderName;

use super::header_text::{header_value, writable_name};
use super::target::Target;

/// Targets or headers beyond these are a mistake in the service, not a
/// routing plan; refusing keeps one answer from making a huge INVITE.
pub const MAX_HOOK_TARGETS: usize = 16;
pub const MAX_HOOK_HEADERS: usize = 32;

/// What a hook decided for one call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HookDecision {
    /// Replace the route's targets, in failover order; empty: keep them.
    pub targets: Vec<Target>,
    /// Added to every INVITE of the call, replacing same-named headers
    /// of the route's plan.
    pub headers: Vec<(HeaderName, String)>,
    /// Refuse the call with this status and reason instead.
    pub reject: Option<(u16, String)>,
}

impl HookDecision {
    /// How the decision reads in the call record and the log.
    pub fn summary(&self) -> String {
        if let Some((status, _)) = &self.reject {
            return format!("rejected: {status}");
        }
        let mut parts = Vec::new();
        if !self.targets.is_empty() {
            parts.push(format!("targets: {}", self.targets.len()));
        }
        if !self.headers.is_empty() {
            parts.push(format!("headers: {}", self.headers.len()));
        }
        if parts.is_empty() {
            "no change".into()
        } else {
            parts.join(", ")
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HookAnswerError {
    #[error("the answer is not JSON of the expected shape: {0}")]
    Json(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0} targets: at most {MAX_HOOK_TARGETS}")]
    TooManyTargets(usize),
    #[error("{0} headers: at most {MAX_HOOK_HEADERS}")]
    TooManyHeaders(usize),
    #[error("reject.status {0} is not a final failure status (400-699)")]
    RejectStatus(u16),
}

impl From<ConfigError> for HookAnswerError {
    fn from(e: ConfigError) -> Self {
        HookAnswerError::Invalid(e.to_string())
    }
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    targets: Vec<AnswerTarget>,
    #[serde(default)]
    headers: Vec<AnswerHeader>,
    reject: Option<AnswerReject>,
}

#[derive(Deserialize)]
struct AnswerTarget {
    uri: String,
}

#[derive(Deserialize)]
struct AnswerHeader {
    name: String,
    value: String,
}

#[derive(Deserialize)]
struct AnswerReject {
    status: u16,
    reason: Option<String>,
}

/// Reads a hook's answer body. An empty body (a 204) changes nothing.
pub fn parse_hook_answer(body: &[u8]) -> Result<HookDecision, HookAnswerError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(HookDecision::default());
    }
    let answer: Answer =
        serde_json::from_slice(body).map_err(|e| HookAnswerError::Json(e.to_string()))?;
    if answer.targets.len() > MAX_HOOK_TARGETS {
        return Err(HookAnswerError::TooManyTargets(answer.targets.len()));
    }
    if answer.headers.len() > MAX_HOOK_HEADERS {
        return Err(HookAnswerError::TooManyHeaders(answer.headers.len()));
    }
    let targets = answer
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let cfg = TargetConfig {
                uri: t.uri.clone(),
                ..TargetConfig::default()
            };
            // No accounts: a hook names where, never whose credentials.
            Target::compile(&cfg, &format!("targets[{i}]"), &[], &[])
        })
        .collect::<Result<Vec<_>, _>>()?;
    let headers = answer
        .headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let name = writable_name(&format!("headers[{i}].name"), &h.name)?;
            let value = header_value(&format!("headers[{i}].value"), &h.value)?;
            Ok((name, value))
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let reject = match answer.reject {
        None => None,
        Some(r) if (400..=699).contains(&r.status) => {
            let reason = r
                .reason
                .as_deref()
                .map(|t| header_value("reject.reason", t))
                .transpose()?
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| default_reason(r.status).to_string());
            Some((r.status, reason))
        }
        Some(r) => return Err(HookAnswerError::RejectStatus(r.status)),
    };
    Ok(HookDecision {
        targets,
        headers,
        reject,
    })
}

fn default_reason(status: u16) -> &'static str {
    match status {
        403 => "Forbidden",
        404 => "Not Found",
        480 => "Temporarily Unavailable",
        486 => "Busy Here",
        503 => "Service Unavailable",
        603 => "Decline",
        _ => "Refused",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_headers_are_read_and_unknown_keys_ignored() {
        let d = parse_hook_answer(
            br#"{"targets":[{"uri":"sip:queue2@192.168.1.11:5070","weight":3},{"uri":"sip:q3@10.0.0.3"}],
                "headers":[{"name":"X-Campaign","value":"spring"}],"version":2}"#,
        )
        .expect("a good answer");
        assert_eq!(d.targets.len(), 2);
        assert_eq!(d.targets[0].uri.to_string(), "sip:queue2@192.168.1.11:5070");
        assert_eq!(
            d.headers,
            vec![(HeaderName::from_wire("X-Campaign"), "spring".to_string())]
        );
        assert_eq!(d.reject, None);
        assert_eq!(d.summary(), "targets: 2, headers: 1");
    }

    #[test]
    fn a_reject_gets_its_reason_or_a_default_one() {
        let d = parse_hook_answer(br#"{"reject":{"status":486,"reason":"Busy buyer"}}"#)
            .expect("answer");
        assert_eq!(d.reject, Some((486, "Busy buyer".into())));
        assert_eq!(d.summary(), "rejected: 486");
        let d = parse_hook_answer(br#"{"reject":{"status":603}}"#).expect("answer");
        assert_eq!(d.reject, Some((603, "Decline".into())));
        assert_eq!(
            parse_hook_answer(br#"{"reject":{"status":200}}"#),
            Err(HookAnswerError::RejectStatus(200))
        );
    }

    #[test]
    fn an_empty_answer_changes_nothing() {
        assert_eq!(parse_hook_answer(b""), Ok(HookDecision::default()));
        assert_eq!(parse_hook_answer(b" {} "), Ok(HookDecision::default()));
        assert_eq!(HookDecision::default().summary(), "no change");
    }

    #[test]
    fn what_could_break_a_message_is_refused_with_the_place_named() {
        let e = parse_hook_answer(br#"{"targets":[{"uri":"http://evil"}]}"#).unwrap_err();
        assert!(e.to_string().contains("targets[0].uri"), "{e}");
        let e = parse_hook_answer(br#"{"headers":[{"name":"Via","value":"x"}]}"#).unwrap_err();
        assert!(e.to_string().contains("headers[0].name"), "{e}");
        let e = parse_hook_answer(br#"{"headers":[{"name":"X-A","value":"a\r\nVia: b"}]}"#)
            .unwrap_err();
        assert!(e.to_string().contains("headers[0].value"), "{e}");
        let e = parse_hook_answer(br#"{"reject":{"status":486,"reason":"a\nb"}}"#).unwrap_err();
        assert!(e.to_string().contains("reject.reason"), "{e}");
        assert!(matches!(
            parse_hook_answer(b"<html>"),
            Err(HookAnswerError::Json(_))
        ));
        assert!(matches!(
            parse_hook_answer(br#"{"targets":"sip:a@b"}"#),
            Err(HookAnswerError::Json(_))
        ));
        let many = format!(
            r#"{{"targets":[{}]}}"#,
            vec![r#"{"uri":"sip:a@10.0.0.1"}"#; 17].join(",")
        );
        assert_eq!(
            parse_hook_answer(many.as_bytes()),
            Err(HookAnswerError::TooManyTargets(17))
        );
    }
}
