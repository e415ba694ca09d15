//! The ACK an INVITE client transaction sends for a non-2xx final response
//! (RFC 3261 §17.1.1.3). The ACK for a 2xx is the dialog layer's: it is a
//! new transaction-less request with its own branch.

use super::cancel::request_beside_invite;
use crate::sip::message::{HeaderName, Method, Request, Response};

/// Builds the ACK for a 3xx-6xx `response` to `invite`: the INVITE's
/// Request-URI, Call-ID, From and CSeq number with method ACK, the To of
/// the response (it carries the UAS's tag), only the INVITE's top Via (same
/// branch, so it matches the server transaction), its Route headers, and
/// Max-Forwards 70. Missing headers are left out rather than invented; a
/// request accepted by `send_request` has them all.
pub fn ack_for_non_2xx(invite: &Request, response: &Response) -> Request {
    let to = response.headers.get(&HeaderName::To);
    request_beside_invite(invite, Method::Ack, to)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::proxied_invite;
    use super::*;
    use crate::sip::message::CSeq;

    #[test]
    fn copies_what_rfc3261_17_1_1_3_asks() {
        let invite = proxied_invite();
        assert_eq!(invite.body, b"v=0\r\n");
        let resp = Response::for_request(&invite, 486, Some("b7"));

        let ack = ack_for_non_2xx(&invite, &resp);
        assert_eq!(ack.method, Method::Ack);
        assert_eq!(ack.uri, invite.uri);
        let vias: Vec<_> = ack.headers.values(&HeaderName::Via).collect();
        assert_eq!(vias, vec!["SIP/2.0/UDP gw:5060;branch=z9hG4bKabc"]);
        assert_eq!(ack.headers.to_tag().as_deref(), Some("b7"));
        assert_eq!(ack.headers.from_tag().as_deref(), Some("a1"));
        assert_eq!(ack.headers.call_id(), Some("call-1"));
        assert_eq!(
            ack.headers.cseq().unwrap(),
            CSeq {
                seq: 314,
                method: Method::Ack
            }
        );
        assert_eq!(ack.headers.get(&HeaderName::MaxForwards), Some("70"));
        let routes: Vec<_> = ack.headers.get_all(&HeaderName::Route).collect();
        assert_eq!(routes, vec!["<sip:proxy1;lr>", "<sip:proxy2;lr>"]);
        assert!(ack.body.is_empty());
        assert!(!ack.headers.contains(&HeaderName::ContentType));
    }
}
