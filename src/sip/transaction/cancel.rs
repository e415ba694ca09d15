//! The CANCEL for a pending INVITE (RFC 3261 §9.1).

use crate::sip::message::{HeaderName, Method, Request};

/// Builds the CANCEL for `invite`: the same Request-URI, Call-ID, To, From
/// (tags included) and CSeq number with method CANCEL, a single Via equal to
/// the INVITE's top Via (same branch: the UAS matches it to the INVITE by
/// it, §9.2), the INVITE's Route headers, and Max-Forwards 70.
pub fn cancel_for(invite: &Request) -> Request {
    let mut cancel = Request::new(Method::Cancel, invite.uri.clone());
    let h = &invite.headers;
    if let Some(via) = h.values(&HeaderName::Via).next() {
        cancel.headers.push(HeaderName::Via, via);
    }
    cancel.headers.push(HeaderName::MaxForwards, "70");
    for route in h.get_all(&HeaderName::Route) {
        cancel.headers.push(HeaderName::Route, route);
    }
    for name in [HeaderName::From, HeaderName::To, HeaderName::CallId] {
        if let Some(v) = h.get(&name) {
            cancel.headers.push(name, v);
        }
    }
    if let Ok(cseq) = h.cseq() {
        cancel
            .headers
            .push(HeaderName::CSeq, format!("{} {}", cseq.seq, Method::Cancel));
    }
    cancel
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::Uri;

    #[test]
    fn copies_what_rfc3261_9_1_asks() {
        let mut invite = Request::new(Method::Invite, Uri::parse("sip:bob@example.com").unwrap());
        let h = &mut invite.headers;
        h.push(HeaderName::Via, "SIP/2.0/TCP gw:5060;branch=z9hG4bKabc");
        h.push(HeaderName::Via, "SIP/2.0/TCP pbx:5060;branch=z9hG4bKp");
        h.push(HeaderName::Route, "<sip:proxy1;lr>");
        h.push(HeaderName::From, "<sip:alice@example.com>;tag=a1");
        h.push(HeaderName::To, "<sip:bob@example.com>");
        h.push(HeaderName::CallId, "call-1");
        h.push(HeaderName::CSeq, "9 INVITE");
        invite.body = b"v=0\r\n".to_vec();

        let c = cancel_for(&invite);
        assert_eq!(c.method, Method::Cancel);
        assert_eq!(c.uri, invite.uri);
        let vias: Vec<_> = c.headers.values(&HeaderName::Via).collect();
        assert_eq!(vias, vec!["SIP/2.0/TCP gw:5060;branch=z9hG4bKabc"]);
        assert_eq!(c.headers.get(&HeaderName::Route), Some("<sip:proxy1;lr>"));
        assert_eq!(
            c.headers.get(&HeaderName::To),
            Some("<sip:bob@example.com>")
        );
        assert_eq!(c.headers.from_tag().as_deref(), Some("a1"));
        assert_eq!(c.headers.call_id(), Some("call-1"));
        assert_eq!(c.headers.get(&HeaderName::CSeq), Some("9 CANCEL"));
        assert_eq!(c.headers.get(&HeaderName::MaxForwards), Some("70"));
        assert!(c.body.is_empty());
    }
}
