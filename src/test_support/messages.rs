//! What the peers of a test send: requests that open something, answers
//! to what the core sent them, and the requests of a dialog they hold
//! with the core.

use crate::sip::message::{
    parse_message, Framing, HeaderName, Method, NameAddr, Request, Response, SipMessage,
};
use crate::sip::transport::Peer;

use super::step::Sent;

/// A message as bytes on the wire.
pub trait Wire {
    fn wire(&self) -> Vec<u8>;
}

impl Wire for [u8] {
    fn wire(&self) -> Vec<u8> {
        self.to_vec()
    }
}

impl Wire for Vec<u8> {
    fn wire(&self) -> Vec<u8> {
        self.clone()
    }
}

impl Wire for str {
    fn wire(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

impl Wire for String {
    fn wire(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

impl Wire for Request {
    fn wire(&self) -> Vec<u8> {
        self.to_bytes()
    }
}

impl Wire for Response {
    fn wire(&self) -> Vec<u8> {
        self.to_bytes()
    }
}

/// A request outside any dialog as the peer at `from` (`ip:port`) sends
/// it to `uri`: Call-ID `call_id`, its From tag and branch made from it,
/// CSeq 1, a Contact at `from`; `extra` is more header lines, each ending
/// in CRLF; `sdp` is the body.
pub fn request(
    method: &str,
    from: &str,
    uri: &str,
    call_id: &str,
    extra: &str,
    sdp: Option<&str>,
) -> String {
    let body = sdp.unwrap_or_default();
    let content_type = if sdp.is_some() {
        "Content-Type: application/sdp\r\n"
    } else {
        ""
    };
    format!(
        "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bK-{call_id}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:caller@{from}>;tag={call_id}-tag\r\nTo: <{uri}>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 {method}\r\nContact: <sip:caller@{from}>\r\n\
         {extra}{content_type}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The CANCEL of `invite` (a request as `request` makes it): the same
/// branch, as RFC 3261 §9.1 asks.
#[track_caller]
pub fn cancel<M: Wire + ?Sized>(invite: &M) -> Request {
    let Ok(SipMessage::Request(inv)) = parse_message(&invite.wire(), Framing::Datagram) else {
        panic!("not a request")
    };
    let mut c = Request::new(Method::Cancel, inv.uri.clone());
    for name in [HeaderName::Via, HeaderName::From, HeaderName::To] {
        c.headers
            .push(name.clone(), inv.headers.get(&name).unwrap_or_default());
    }
    c.headers.push(
        HeaderName::CallId,
        inv.headers.call_id().unwrap_or_default(),
    );
    let seq = inv.headers.cseq().expect("CSeq").seq;
    c.headers.push(HeaderName::CSeq, format!("{seq} CANCEL"));
    c.headers.push(HeaderName::MaxForwards, "70");
    c
}

/// The answer of the peer the core sent `req` to: To tag `tag` (when the
/// request had none), a Contact at the peer for 1xx and 2xx, `sdp` as
/// the body. Add headers to it before sending.
#[track_caller]
pub fn answer(req: &Sent, status: u16, tag: &str, sdp: Option<&str>) -> Response {
    let mut r = Response::for_request(req.request(), status, Some(tag));
    if (101..300).contains(&status) {
        r.headers
            .push(HeaderName::Contact, format!("<sip:peer@{}>", req.to.remote));
    }
    if let Some(sdp) = sdp {
        r.headers.push(HeaderName::ContentType, "application/sdp");
        r.body = sdp.as_bytes().to_vec();
    }
    r
}

/// A peer's side of a dialog with the core, to send what that peer sends
/// in it.
#[derive(Clone, Debug)]
pub struct FarEnd {
    /// The peer as the core sees it; `receive` what it sends from here.
    pub peer: Peer,
    call_id: String,
    /// The peer's own From value (its tag included).
    local: String,
    /// The core's, with its tag.
    remote: String,
    /// Where its requests go: the core's Contact.
    target: String,
    cseq: u32,
    branches: u32,
}

impl FarEnd {
    /// The caller's side: the INVITE it sent and the core's answer to it
    /// (a 2xx, or a 1xx with a tag).
    #[track_caller]
    pub fn caller<M: Wire + ?Sized>(invite: &M, answer: &Sent) -> FarEnd {
        let Ok(SipMessage::Request(inv)) = parse_message(&invite.wire(), Framing::Datagram) else {
            panic!("not a request")
        };
        let h = &answer.response().headers;
        FarEnd {
            peer: answer.to,
            call_id: inv.headers.call_id().unwrap_or_default().to_string(),
            local: inv.headers.get(&HeaderName::From).expect("From").into(),
            remote: h.get(&HeaderName::To).expect("To").into(),
            target: contact(h.get(&HeaderName::Contact)),
            cseq: inv.headers.cseq().expect("CSeq").seq,
            branches: 0,
        }
    }

    /// The callee's side: the core's INVITE to it, answered with To tag
    /// `tag`.
    #[track_caller]
    pub fn callee(invite: &Sent, tag: &str) -> FarEnd {
        let h = &invite.request().headers;
        FarEnd {
            peer: invite.to,
            call_id: h.call_id().unwrap_or_default().to_string(),
            local: format!("{};tag={tag}", h.get(&HeaderName::To).expect("To")),
            remote: h.get(&HeaderName::From).expect("From").into(),
            target: contact(h.get(&HeaderName::Contact)),
            cseq: 100,
            branches: 0,
        }
    }

    /// A request in the dialog with the next CSeq; `extra` is more header
    /// lines, each ending in CRLF.
    pub fn request(&mut self, method: &str, extra: &str, sdp: Option<&str>) -> String {
        self.cseq += 1;
        self.build(method, self.cseq, extra, sdp)
    }

    /// The ACK for the core's 2xx `ok` to this peer's INVITE.
    #[track_caller]
    pub fn ack(&mut self, ok: &Sent) -> String {
        let seq = ok.response().headers.cseq().expect("CSeq").seq;
        self.build("ACK", seq, "", None)
    }

    fn build(&mut self, method: &str, seq: u32, extra: &str, sdp: Option<&str>) -> String {
        self.branches += 1;
        let (via, n) = (self.peer.remote, self.branches);
        let (body, content_type) = match sdp {
            Some(b) => (b, "Content-Type: application/sdp\r\n"),
            None => ("", ""),
        };
        format!(
            "{method} {} SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch=z9hG4bK-{}-{n}\r\n\
             Max-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {seq} {method}\r\n\
             Contact: <sip:peer@{via}>\r\n{extra}{content_type}Content-Length: {}\r\n\r\n{body}",
            self.target,
            self.call_id,
            self.local,
            self.remote,
            self.call_id,
            body.len()
        )
    }
}

/// The URI of a Contact value.
fn contact(value: Option<&str>) -> String {
    let value = value.expect("a Contact");
    NameAddr::parse(value, "Contact")
        .expect("a Contact the core wrote")
        .uri
        .to_string()
}
