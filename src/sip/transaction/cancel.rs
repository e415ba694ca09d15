//! The CANCEL for a pending INVITE (RFC 3261 §9.1).

use crate::sip::message::{HeaderName, Method, Request};

/// Builds the CANCEL for `invite`: the same Request-URI, Call-ID, To, From
/// (tags included) and CSeq number with method CANCEL, a single Via equal to
/// the INVITE's top Via (same branch: the UAS matches it to the INVITE by
/// it, §9.2), the INVITE's Route headers, and Max-Forwards 70.
pub fn cancel_for(invite: &Request) -> Request {
    let to = invite.headers.get(&HeaderName::To);
    request_beside_invite(invite, Method::Cancel, to)
}

/// A request that travels with `invite` through the same hops and matches
/// its transaction: the INVITE's Request-URI, top Via (same branch), Route
/// set, From, Call-ID and CSeq number, with `method`, the given To, and
/// Max-Forwards 70 (RFC 3261 §9.1 for CANCEL, §17.1.1.3 for the non-2xx
/// ACK). Missing headers are left out rather than invented.
pub(super) fn request_beside_invite(invite: &Request, method: Method, to: Option<&str>) -> Request {
    let mut req = Request::new(method.clone(), invite.uri.clone());
    let h = &invite.headers;
    if let Some(via) = h.values(&HeaderName::Via).next() {
        req.headers.push(HeaderName::Via, via);
    }
    req.headers.push(HeaderName::MaxForwards, "70");
    for route in h.get_all(&HeaderName::Route) {
        req.headers.push(HeaderName::Route, route);
    }
    if let Some(from) = h.get(&HeaderName::From) {
        req.headers.push(HeaderName::From, from);
    }
    if let Some(to) = to {
        req.headers.push(HeaderName::To, to);
    }
    if let Some(call_id) = h.get(&HeaderName::CallId) {
        req.headers.push(HeaderName::CallId, call_id);
    }
    if let Ok(cseq) = h.cseq() {
        req.headers
            .push(HeaderName::CSeq, format!("{} {}", cseq.seq, method));
    }
    req
}

#[cfg(test)]
mod tests {
    use super::super::test_support::proxied_invite;
    use super::*;

    #[test]
    fn copies_what_rfc3261_9_1_asks() {
        let invite = proxied_invite();

        let c = cancel_for(&invite);
        assert_eq!(c.method, Method::Cancel);
        assert_eq!(c.uri, invite.uri);
        let vias: Vec<_> = c.headers.values(&HeaderName::Via).collect();
        assert_eq!(vias, vec!["SIP/2.0/UDP gw:5060;branch=z9hG4bKabc"]);
        let routes: Vec<_> = c.headers.get_all(&HeaderName::Route).collect();
        assert_eq!(routes, vec!["<sip:proxy1;lr>", "<sip:proxy2;lr>"]);
        assert_eq!(
            c.headers.get(&HeaderName::To),
            Some("<sip:bob@example.com>")
        );
        assert_eq!(c.headers.from_tag().as_deref(), Some("a1"));
        assert_eq!(c.headers.call_id(), Some("call-1"));
        assert_eq!(c.headers.get(&HeaderName::CSeq), Some("314 CANCEL"));
        assert_eq!(c.headers.get(&HeaderName::MaxForwards), Some("70"));
        assert!(c.body.is_empty());
    }
}
