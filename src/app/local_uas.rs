//! Requests the endpoint answers itself: OPTIONS for monitors, and clean
//! answers for requests that belong to no call (scanners, stray BYEs).

use crate::sip::message::{HeaderName, Method, Request, Response};

use super::capabilities::{precheck, ACCEPT, ALLOW, SUPPORTED};
use super::stats::CoreStats;

/// What an initial INVITE gets before it reaches the B2BUA, if it may not
/// be processed: the §8.2.2 checks, and 483 for Max-Forwards 0 (the
/// gateway forwards calls, so it must honour it).
pub fn refuse_invite(req: &Request, to_tag: &str) -> Option<Response> {
    if let Some(r) = precheck(req, to_tag) {
        return Some(r);
    }
    let max_forwards = req
        .headers
        .get(&HeaderName::MaxForwards)
        .and_then(|v| v.trim().parse::<u32>().ok());
    (max_forwards == Some(0)).then(|| Response::for_request(req, 483, Some(to_tag)))
}

pub fn answer(
    req: &Request,
    cancel_matched: bool,
    to_tag: &str,
    stats: &mut CoreStats,
) -> Response {
    if let Some(r) = precheck(req, to_tag) {
        return r;
    }
    let in_dialog = req.headers.to_tag().is_some();
    match &req.method {
        Method::Options => {
            stats.options_answered += 1;
            // RFC 3261 §11.2: what the answer to OPTIONS should list.
            let mut r = Response::for_request(req, 200, Some(to_tag));
            r.headers.push(HeaderName::Allow, ALLOW);
            r.headers.push(HeaderName::Accept, ACCEPT);
            r.headers.push(HeaderName::AcceptEncoding, "identity");
            r.headers.push(HeaderName::AcceptLanguage, "en");
            r.headers.push(HeaderName::Supported, SUPPORTED.join(", "));
            r
        }
        Method::Invite => {
            // Initial INVITEs belong to the B2BUA; this one names a dialog
            // that does not exist.
            let _ = stats;
            Response::for_request(req, 481, Some(to_tag))
        }
        // RFC 3261 §9.2: a CANCEL that matched is answered 200 even when the
        // INVITE already had its final response; one that matched nothing, 481.
        Method::Cancel if cancel_matched => Response::for_request(req, 200, Some(to_tag)),
        Method::Cancel | Method::Bye => Response::for_request(req, 481, Some(to_tag)),
        Method::Extension(_) => {
            let mut r = Response::for_request(req, 501, Some(to_tag));
            r.headers.push(HeaderName::Allow, ALLOW);
            r
        }
        _ if in_dialog => Response::for_request(req, 481, Some(to_tag)),
        _ => {
            let mut r = Response::for_request(req, 405, Some(to_tag));
            r.headers.push(HeaderName::Allow, ALLOW);
            r
        }
    }
}
