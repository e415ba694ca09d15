//! What the parser says about a message it cannot accept.

use super::header::HeaderName;
use super::response::Response;
use super::via::Via;

/// The headers of a broken request that are enough to answer it
/// (RFC 3261 §8.2.6.2 needs Via, From, To, Call-ID and CSeq).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyContext {
    pub vias: Vec<String>,
    /// The top Via, when it parses, so the answer can be routed per §18.2.2.
    pub top_via: Option<Via>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub call_id: String,
    pub cseq: String,
}

impl ReplyContext {
    pub fn response(&self, status: u16, reason: &str, to_tag: &str) -> Response {
        Response::from_parts(
            self.vias.iter().map(String::as_str),
            self.from.as_deref(),
            self.to.as_deref(),
            Some(&self.call_id),
            Some(&self.cseq),
            status,
            Some(to_tag),
        )
        .with_reason(reason)
    }
}

/// A message the gateway will not process. `reason` is written for a person
/// and names the header or element at fault; it becomes the reason phrase
/// of the answer when there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub reason: String,
    /// 400 or 505 for requests that can be answered; None when the message
    /// is dropped (responses, unreadable requests, ACKs).
    pub status: Option<u16>,
    pub reply: Option<Box<ReplyContext>>,
    /// Over a stream the framing is lost: the connection must be closed.
    pub fatal_to_stream: bool,
}

impl ParseError {
    pub fn drop(reason: impl Into<String>) -> Self {
        ParseError {
            reason: reason.into(),
            status: None,
            reply: None,
            fatal_to_stream: false,
        }
    }

    /// The answer to send, if the message can be answered.
    pub fn answer(&self, to_tag: &str) -> Option<(Response, &ReplyContext)> {
        let status = self.status?;
        let ctx = self.reply.as_deref()?;
        Some((ctx.response(status, &self.reason, to_tag), ctx))
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for ParseError {}

pub(super) fn reply_context(headers: &super::header::Headers) -> Option<ReplyContext> {
    let vias: Vec<String> = headers
        .get_all(&HeaderName::Via)
        .map(str::to_string)
        .collect();
    if vias.is_empty() {
        return None;
    }
    let top_via = headers
        .values(&HeaderName::Via)
        .next()
        .and_then(|v| Via::parse(v).ok());
    Some(ReplyContext {
        vias,
        top_via,
        from: headers.get(&HeaderName::From).map(str::to_string),
        to: headers.get(&HeaderName::To).map(str::to_string),
        call_id: headers
            .get(&HeaderName::CallId)
            .filter(|c| !c.is_empty())?
            .to_string(),
        cseq: headers.get(&HeaderName::CSeq)?.to_string(),
    })
}
