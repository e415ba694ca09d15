//! The transaction user until the call path lands: answers every request
//! correctly so monitors, health checks and scanners get clean answers.

use crate::sip::message::{HeaderName, Method, Request, Response};

use super::capabilities::{precheck, ACCEPT, ALLOW, SUPPORTED};
use super::stats::EndpointStats;

pub fn answer(
    req: &Request,
    cancel_matched: bool,
    to_tag: &str,
    stats: &mut EndpointStats,
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
            stats.invites_answered += 1;
            let max_forwards = req
                .headers
                .get(&HeaderName::MaxForwards)
                .and_then(|v| v.parse::<u32>().ok());
            if max_forwards == Some(0) {
                // The gateway forwards calls, so it must honour Max-Forwards.
                Response::for_request(req, 483, Some(to_tag))
            } else if in_dialog {
                Response::for_request(req, 481, Some(to_tag))
            } else {
                Response::for_request(req, 480, Some(to_tag))
                    .with_reason("Temporarily Unavailable (no route configured)")
            }
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
