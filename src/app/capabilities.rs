//! What the gateway supports, and the RFC 3261 §8.2.2 checks a UAS makes
//! before it processes a request (416, 420, 415, 406).

use crate::sip::message::{HeaderName, Method, Request, Response};

/// Methods the gateway handles (in dialogs, the others are relayed).
pub const ALLOW: &str = crate::call::CALL_ALLOW;
/// Body types the gateway understands.
pub const ACCEPT: &str = "application/sdp";
/// Option tags the gateway supports: RFC 4028 session timers (negotiated
/// end to end between the legs, enforced by the gateway).
pub const SUPPORTED: &[&str] = &["timer"];

/// The first check a request fails, as the response to send, or None when
/// the request may be processed. `to_tag` is the tag for the answer.
pub fn precheck(req: &Request, to_tag: &str) -> Option<Response> {
    // §8.2.2.1: a scheme we do not understand.
    if !matches!(req.uri.scheme(), "sip" | "sips") {
        return Some(
            Response::for_request(req, 416, Some(to_tag))
                .with_reason(&format!("Unsupported URI Scheme '{}'", req.uri.scheme())),
        );
    }
    // §8.2.2.3: Require with option tags we do not support. Not for ACK or
    // CANCEL, whose Require is that of the INVITE.
    if !matches!(req.method, Method::Ack | Method::Cancel) {
        let unsupported: Vec<&str> = req
            .headers
            .values(&HeaderName::Require)
            .filter(|t| !t.is_empty() && !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(t)))
            .collect();
        if !unsupported.is_empty() {
            let mut r = Response::for_request(req, 420, Some(to_tag));
            r.headers
                .push(HeaderName::Unsupported, unsupported.join(", "));
            return Some(r);
        }
    }
    // §8.2.3: bodies we would have to interpret (session descriptions).
    if req.method == Method::Invite {
        if !req.body.is_empty() {
            let ct = req
                .headers
                .get(&HeaderName::ContentType)
                .unwrap_or("application/sdp");
            let mime = ct.split(';').next().unwrap_or_default().trim();
            if !mime.eq_ignore_ascii_case("application/sdp") {
                let mut r = Response::for_request(req, 415, Some(to_tag))
                    .with_reason(&format!("Unsupported Media Type {mime}"));
                r.headers.push(HeaderName::Accept, ACCEPT);
                return Some(r);
            }
        }
        // The answer will carry SDP, so Accept must allow it (RFC 3261 §20.1).
        let accepts: Vec<&str> = req.headers.values(&HeaderName::Accept).collect();
        if !accepts.is_empty() && !accepts.iter().any(|a| accepts_sdp(a)) {
            let mut r = Response::for_request(req, 406, Some(to_tag));
            r.headers.push(HeaderName::Accept, ACCEPT);
            return Some(r);
        }
    }
    None
}

fn accepts_sdp(range: &str) -> bool {
    let mime = range.split(';').next().unwrap_or_default().trim();
    mime.is_empty()
        || mime == "*/*"
        || mime.eq_ignore_ascii_case("application/*")
        || mime.eq_ignore_ascii_case("application/sdp")
}
