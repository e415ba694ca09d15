//! A SIP response, its wire form, and building one for a request.

use super::header::{HeaderName, Headers};
use super::request::{serialized, write_headers_and_body, Request};
use super::status::{reason_phrase, sanitize_reason};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response {
            status,
            reason: reason_phrase(status).to_string(),
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// RFC 3261 §8.2.6.2: a response copies Via (all, in order), From,
    /// Call-ID and CSeq, and To with a tag added when the request had none
    /// (not on 100 Trying).
    pub fn for_request(req: &Request, status: u16, to_tag: Option<&str>) -> Response {
        Self::from_parts(
            req.headers.get_all(&HeaderName::Via),
            req.headers.get(&HeaderName::From),
            req.headers.get(&HeaderName::To),
            req.headers.get(&HeaderName::CallId),
            req.headers.get(&HeaderName::CSeq),
            status,
            to_tag,
        )
    }

    pub(crate) fn from_parts<'a>(
        vias: impl Iterator<Item = &'a str>,
        from: Option<&str>,
        to: Option<&str>,
        call_id: Option<&str>,
        cseq: Option<&str>,
        status: u16,
        to_tag: Option<&str>,
    ) -> Response {
        let mut r = Response::new(status);
        for v in vias {
            r.headers.push(HeaderName::Via, v);
        }
        if let Some(f) = from {
            r.headers.push(HeaderName::From, f);
        }
        if let Some(t) = to {
            let needs_tag = status > 100 && !has_tag_param(t);
            match (needs_tag, to_tag) {
                (true, Some(tag)) => r.headers.push(HeaderName::To, format!("{t};tag={tag}")),
                _ => r.headers.push(HeaderName::To, t),
            }
        }
        if let Some(c) = call_id {
            r.headers.push(HeaderName::CallId, c);
        }
        if let Some(c) = cseq {
            r.headers.push(HeaderName::CSeq, c);
        }
        r
    }

    pub fn with_reason(mut self, reason: &str) -> Self {
        self.reason = sanitize_reason(reason);
        self
    }

    pub fn is_provisional(&self) -> bool {
        self.status < 200
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"SIP/2.0 ");
        out.extend_from_slice(self.status.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        write_headers_and_body(&self.headers, &self.body, out);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serialized(384 + self.body.len(), |out| self.write_to(out))
    }
}

/// Whether a From/To value carries a `tag` header parameter (outside <>).
fn has_tag_param(value: &str) -> bool {
    let params = match value.rfind('>') {
        Some(i) => &value[i..],
        None => value,
    };
    params
        .split(';')
        .skip(1)
        .any(|p| p.trim().to_ascii_lowercase().starts_with("tag"))
}
