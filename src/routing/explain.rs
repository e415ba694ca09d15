//! "Test a call": which route an INVITE takes, which targets in which
//! order, the headers the PBX would get, and why each earlier route did
//! not match — the same decisions `Router::route` makes, written down for a
//! person.

use crate::sip::message::Request;

use super::matcher::{Match, MatchSubject, MatchTest};
use super::origin::{from_words, Origin};
use super::router::Router;

/// One route looked at, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteVerdict {
    pub route: String,
    /// True for the route the call takes.
    pub taken: bool,
    /// Why it was not taken ("it takes calls from the lan side",
    /// "match[1]: X-PH-RetreaverAFID is '1234', not equal to '5678'");
    /// empty for the taken route.
    pub reasons: Vec<String>,
}

/// What the call would do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// The number dialled and the caller, as the matchers read them.
    pub dialled: Option<String>,
    pub caller: Option<String>,
    /// Set when the call dials an emergency number.
    pub emergency: Option<String>,
    /// Every route up to and including the one taken (all of them when
    /// none matches).
    pub routes: Vec<RouteVerdict>,
    /// The targets of the route taken, in failover order.
    pub targets: Vec<String>,
    /// The custom headers the INVITE to the first target carries (the
    /// route's header plan and the target's own headers), in order.
    pub headers_out: Vec<(String, String)>,
}

impl Router {
    /// Explains the choice `route(req, origin)` makes.
    pub fn explain(&self, req: &Request, origin: Origin<'_>) -> Explanation {
        let emergency = self.emergency_number(req, origin).map(str::to_string);
        let mut out = Explanation {
            dialled: super::matcher::dialled(req),
            caller: super::matcher::caller(req),
            emergency: emergency.clone(),
            routes: Vec::new(),
            targets: Vec::new(),
            headers_out: Vec::new(),
        };
        let taken = self.route(req, origin);
        let emergency_route = emergency.is_some() && self.has_emergency_route();
        for (route, matches) in self.entries() {
            let is_taken = taken
                .as_ref()
                .is_some_and(|t| std::sync::Arc::ptr_eq(t, route));
            if is_taken {
                out.routes.push(RouteVerdict {
                    route: route.name.clone(),
                    taken: true,
                    reasons: if emergency_route {
                        vec![format!(
                            "the emergency route: a call to {} takes it first",
                            emergency.as_deref().unwrap_or_default()
                        )]
                    } else {
                        Vec::new()
                    },
                });
                break;
            }
            let mut reasons = Vec::new();
            if !origin.is_taken_by(&route.from) {
                reasons.push(format!("it takes calls from {}", from_words(&route.from)));
            }
            for (i, m) in matches.iter().enumerate() {
                if !m.matches(req) {
                    reasons.push(format!("match[{i}]: {}", why_not(m, req)));
                }
            }
            if reasons.is_empty() {
                // Only the emergency route jumps the order.
                reasons.push("an emergency call takes the emergency route first".into());
            }
            out.routes.push(RouteVerdict {
                route: route.name.clone(),
                taken: false,
                reasons,
            });
        }
        if let Some(route) = taken {
            out.targets = route.targets.iter().map(|t| t.uri.to_string()).collect();
            if let Some(first) = route.targets.first() {
                out.headers_out = route
                    .outgoing_headers(first, &req.headers)
                    .into_iter()
                    .map(|(n, v)| (n.as_str().to_string(), v))
                    .collect();
            }
        }
        out
    }
}

/// Why one condition fails for `req`, for a person.
fn why_not(m: &Match, req: &Request) -> String {
    let (what, values): (String, Vec<String>) = match &m.subject {
        MatchSubject::Header(name) => (
            name.as_str().to_string(),
            req.headers
                .get_all(name)
                .map(|v| v.trim().to_string())
                .collect(),
        ),
        MatchSubject::Dialled => (
            "the number dialled".into(),
            super::matcher::dialled(req).into_iter().collect(),
        ),
        MatchSubject::Caller => (
            "the caller".into(),
            super::matcher::caller(req).into_iter().collect(),
        ),
    };
    let seen = if values.is_empty() {
        format!("there is no {what}")
    } else {
        format!("{what} is '{}'", values.join("', '"))
    };
    match &m.test {
        MatchTest::Equals(v) => format!("{seen}, not equal to '{v}'"),
        MatchTest::Prefix(p) => format!("{seen}, which does not start with '{p}'"),
        MatchTest::Regex(r) => format!("{seen}, which does not match /{}/", r.as_str()),
        MatchTest::Present => format!("{what} is required but absent"),
        MatchTest::Absent => format!("{seen}, but the route wants it absent"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Side};
    use crate::sip::message::{parse_message, Framing, SipMessage};

    fn router(toml: &str) -> Router {
        let cfg = Config::from_toml(toml).expect("config");
        Router::compile(&cfg.routes, &cfg.accounts, &cfg.lines, &cfg.emergency).expect("routes")
    }

    fn invite(user: &str, extra: &str) -> Request {
        let text = format!(
            "INVITE sip:{user}@gw.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1\r\n\
             Max-Forwards: 70\r\nFrom: <sip:+15551230000@cloud.example>;tag=a\r\n\
             To: <sip:{user}@gw.example.com>\r\nCall-ID: x@cloud\r\nCSeq: 1 INVITE\r\n{extra}\
             Content-Length: 0\r\n\r\n"
        );
        match parse_message(text.as_bytes(), Framing::Datagram) {
            Ok(SipMessage::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    const ROUTES: &str = "\
        [[route]]\nname = 'out'\nfrom = 'lan'\ntargets = [{ uri = 'sip:trunk@198.51.100.1' }]\n\
        [[route]]\nname = 'publisher-5678'\nmatch = [{ header = 'X-PH-RetreaverAFID', equals = '5678' }]\n\
        targets = [{ uri = 'sip:sales@10.0.0.10' }, { uri = 'sip:overflow@10.0.0.11' }]\n\
        headers = [{ action = 'rename', from = 'X-PH-RetreaverAFID', name = 'X-Publisher-ID' }]\n\
        [[route]]\nname = 'default'\ntargets = [{ uri = 'sip:q@10.0.0.12' }]\n";

    #[test]
    fn the_route_taken_its_targets_and_headers_and_why_not_the_others() {
        let r = router(ROUTES);
        let e = r.explain(
            &invite("+18885550000", "X-PH-RetreaverAFID: 5678\r\n"),
            Origin::Side(Side::Wan),
        );
        assert_eq!(e.dialled.as_deref(), Some("+18885550000"));
        let names: Vec<(&str, bool)> = e
            .routes
            .iter()
            .map(|v| (v.route.as_str(), v.taken))
            .collect();
        assert_eq!(names, vec![("out", false), ("publisher-5678", true)]);
        assert_eq!(
            e.routes[0].reasons,
            vec!["it takes calls from the lan side"]
        );
        assert_eq!(
            e.targets,
            vec!["sip:sales@10.0.0.10", "sip:overflow@10.0.0.11"]
        );
        assert_eq!(
            e.headers_out,
            vec![("X-Publisher-ID".to_string(), "5678".to_string())]
        );

        let e = r.explain(
            &invite("+18885550000", "X-PH-RetreaverAFID: 1234\r\n"),
            Origin::Side(Side::Wan),
        );
        assert_eq!(e.routes.len(), 3);
        assert_eq!(
            e.routes[1].reasons,
            vec!["match[0]: X-PH-RetreaverAFID is '1234', not equal to '5678'"]
        );
        assert!(e.routes[2].taken);
        let e = r.explain(&invite("+18885550000", ""), Origin::Side(Side::Wan));
        assert_eq!(
            e.routes[1].reasons,
            vec!["match[0]: there is no X-PH-RetreaverAFID, not equal to '5678'"]
        );
    }

    #[test]
    fn no_route_lists_every_route_with_its_reasons() {
        let r = router(
            "[[route]]\nname = 'only'\nmatch = [{ dialled = true, prefix = '+1' }]\n\
             targets = [{ uri = 'sip:q@10.0.0.12' }]\n",
        );
        let e = r.explain(&invite("4930123", ""), Origin::Side(Side::Wan));
        assert!(e.targets.is_empty());
        assert_eq!(
            e.routes,
            vec![RouteVerdict {
                route: "only".into(),
                taken: false,
                reasons: vec![
                    "match[0]: the number dialled is '4930123', which does not start with '+1'"
                        .into()
                ],
            }]
        );
    }

    #[test]
    fn an_emergency_call_says_so() {
        let r = router(&format!("[emergency]\nroute = 'out'\n{ROUTES}"));
        let e = r.explain(&invite("112", ""), Origin::Side(Side::Lan));
        assert_eq!(e.emergency.as_deref(), Some("112"));
        assert!(e.routes[0].taken);
        assert!(e.routes[0].reasons[0].contains("emergency route"), "{e:?}");
    }
}
