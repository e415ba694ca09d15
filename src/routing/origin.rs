//! Where a call to be routed comes from: a listener's side, or a local
//! line. Routes say which origins they take with their `from`.

use crate::config::{RouteFrom, Side};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin<'a> {
    /// An INVITE that arrived on a listener of this side.
    Side(Side),
    /// A call placed from the local line of this name.
    Line(&'a str),
}

impl Origin<'_> {
    /// Whether a route with `from` takes calls from here: a side's routes
    /// its own calls, "line" every line's, "line:NAME" that line's.
    pub fn is_taken_by(self, from: &RouteFrom) -> bool {
        match (self, from) {
            (Origin::Side(s), RouteFrom::Side(f)) => s == *f,
            (Origin::Line(_), RouteFrom::AnyLine) => true,
            (Origin::Line(name), RouteFrom::Line(f)) => name == f,
            _ => false,
        }
    }

    /// Whether a call from here may be an emergency call: the numbers are
    /// the local phones' (the PBX's, the lines'), never the cloud's.
    pub fn may_dial_emergency(self) -> bool {
        !matches!(self, Origin::Side(Side::Wan))
    }
}

impl std::fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Side(Side::Wan) => f.write_str("the wan side"),
            Origin::Side(Side::Lan) => f.write_str("the lan side"),
            Origin::Line(name) => write!(f, "line '{name}'"),
        }
    }
}

/// "the wan side", "local lines", "line 'desk'": the calls a route's
/// `from` takes, for messages.
pub(super) fn from_words(from: &RouteFrom) -> String {
    match from {
        RouteFrom::Side(Side::Wan) => "the wan side".into(),
        RouteFrom::Side(Side::Lan) => "the lan side".into(),
        RouteFrom::AnyLine => "local lines".into(),
        RouteFrom::Line(name) => format!("line '{name}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_origin_is_taken_by_its_routes_only() {
        let desk = RouteFrom::Line("desk".into());
        let cases = [
            (Origin::Side(Side::Wan), [true, false, false, false, false]),
            (Origin::Side(Side::Lan), [false, true, false, false, false]),
            (Origin::Line("desk"), [false, false, true, true, false]),
            (Origin::Line("shop"), [false, false, true, false, true]),
        ];
        let froms = [
            RouteFrom::WAN,
            RouteFrom::LAN,
            RouteFrom::AnyLine,
            desk,
            RouteFrom::Line("shop".into()),
        ];
        for (origin, expected) in cases {
            for (from, taken) in froms.iter().zip(expected) {
                assert_eq!(origin.is_taken_by(from), taken, "{origin} by {from}");
            }
        }
        assert!(!Origin::Side(Side::Wan).may_dial_emergency());
        assert!(Origin::Side(Side::Lan).may_dial_emergency());
        assert!(Origin::Line("desk").may_dial_emergency());
    }
}
