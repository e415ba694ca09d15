//! How a route maps the caller's headers onto the callee's INVITE: X-PH-*
//! pass by default, then pass / rename / set / copy / strip in order.

use crate::config::{ConfigError, HeaderActionConfig, HeaderActionKind};
use crate::sip::message::{is_token, HeaderName, Headers};

/// Headers the B2BUA builds itself on every leg; a route may not produce
/// or pass them.
pub const OWNED_HEADERS: &[&str] = &[
    "Via",
    "From",
    "To",
    "Call-ID",
    "CSeq",
    "Contact",
    "Route",
    "Record-Route",
    "Max-Forwards",
    "Content-Length",
    "Content-Type",
    "Authorization",
    "Proxy-Authorization",
    "v",
    "f",
    "t",
    "i",
    "m",
    "l",
    "c",
];

const DEFAULT_PASS_PREFIX: &str = "X-PH-";

#[derive(Clone, Debug)]
enum NamePattern {
    Exact(String),
    Prefix(String),
}

impl NamePattern {
    fn parse(s: &str) -> NamePattern {
        match s.strip_suffix('*') {
            Some(p) => NamePattern::Prefix(p.to_string()),
            None => NamePattern::Exact(s.to_string()),
        }
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            NamePattern::Exact(e) => name.eq_ignore_ascii_case(e),
            NamePattern::Prefix(p) => {
                name.len() >= p.len()
                    && name.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Action {
    Pass(NamePattern),
    Rename { from: String, to: String },
    Set { name: String, value: String },
    Copy { from: String, to: String },
    Strip(NamePattern),
}

#[derive(Clone, Debug, Default)]
pub struct HeaderPlan {
    actions: Vec<Action>,
}

pub fn is_owned(name: &str) -> bool {
    OWNED_HEADERS.iter().any(|o| o.eq_ignore_ascii_case(name))
}

/// Checks a header name a route produces: a token the B2BUA does not own.
pub fn check_name(name: &str, field: &str, allow_star: bool) -> Result<(), ConfigError> {
    let bare = if allow_star {
        name.strip_suffix('*').unwrap_or(name)
    } else {
        name
    };
    if bare.is_empty() || !is_token(bare) {
        return Err(ConfigError::invalid(
            field,
            format!("'{name}' is not a valid header name"),
        ));
    }
    if is_owned(bare) {
        return Err(ConfigError::invalid(
            field,
            format!("'{name}' is built by the gateway on each leg and cannot be set or passed by a route"),
        ));
    }
    Ok(())
}

pub fn check_value(value: &str, field: &str) -> Result<(), ConfigError> {
    if value.contains(['\r', '\n', '\0']) {
        return Err(ConfigError::invalid(
            field,
            "a header value must be one line (no CR, LF or NUL)",
        ));
    }
    Ok(())
}

impl HeaderPlan {
    pub fn compile(actions: &[HeaderActionConfig], field: &str) -> Result<HeaderPlan, ConfigError> {
        let mut out = Vec::with_capacity(actions.len());
        for (i, a) in actions.iter().enumerate() {
            let f = |x: &str| format!("{field}[{i}].{x}");
            let star = matches!(a.action, HeaderActionKind::Pass | HeaderActionKind::Strip);
            check_name(&a.name, &f("name"), star)?;
            let from = || -> Result<String, ConfigError> {
                let from = a.from.clone().ok_or_else(|| {
                    ConfigError::invalid(
                        f("from"),
                        "rename and copy need the header to read: from = \"Name\"",
                    )
                })?;
                if !is_token(&from) {
                    return Err(ConfigError::invalid(
                        f("from"),
                        format!("'{from}' is not a valid header name"),
                    ));
                }
                Ok(from)
            };
            out.push(match a.action {
                HeaderActionKind::Pass => Action::Pass(NamePattern::parse(&a.name)),
                HeaderActionKind::Strip => Action::Strip(NamePattern::parse(&a.name)),
                HeaderActionKind::Rename => Action::Rename {
                    from: from()?,
                    to: a.name.clone(),
                },
                HeaderActionKind::Copy => Action::Copy {
                    from: from()?,
                    to: a.name.clone(),
                },
                HeaderActionKind::Set => {
                    let value = a.value.clone().ok_or_else(|| {
                        ConfigError::invalid(f("value"), "set needs the constant: value = \"...\"")
                    })?;
                    check_value(&value, &f("value"))?;
                    Action::Set {
                        name: a.name.clone(),
                        value,
                    }
                }
            });
        }
        Ok(HeaderPlan { actions: out })
    }

    /// The custom headers of the callee's INVITE, from the caller's.
    pub fn apply(&self, incoming: &Headers) -> Vec<(HeaderName, String)> {
        let mut out: Vec<(String, String)> = incoming
            .iter()
            .filter(|h| NamePattern::Prefix(DEFAULT_PASS_PREFIX.into()).matches(h.name.as_str()))
            .map(|h| (h.name.as_str().to_string(), h.value.clone()))
            .collect();
        let values_of = |name: &str| -> Vec<String> {
            incoming
                .iter()
                .filter(|h| h.name.as_str().eq_ignore_ascii_case(name))
                .map(|h| h.value.clone())
                .collect()
        };
        for a in &self.actions {
            match a {
                Action::Pass(p) => {
                    for h in incoming
                        .iter()
                        .filter(|h| p.matches(h.name.as_str()) && !is_owned(h.name.as_str()))
                    {
                        let name = h.name.as_str();
                        if !out
                            .iter()
                            .any(|(n, v)| n.eq_ignore_ascii_case(name) && *v == h.value)
                        {
                            out.push((name.to_string(), h.value.clone()));
                        }
                    }
                }
                Action::Strip(p) => out.retain(|(n, _)| !p.matches(n)),
                Action::Rename { from, to } => {
                    out.retain(|(n, _)| {
                        !n.eq_ignore_ascii_case(from) && !n.eq_ignore_ascii_case(to)
                    });
                    out.extend(values_of(from).into_iter().map(|v| (to.clone(), v)));
                }
                Action::Copy { from, to } => {
                    out.retain(|(n, _)| !n.eq_ignore_ascii_case(to));
                    out.extend(values_of(from).into_iter().map(|v| (to.clone(), v)));
                }
                Action::Set { name, value } => {
                    out.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
                    out.push((name.clone(), value.clone()));
                }
            }
        }
        out.into_iter()
            .map(|(n, v)| (HeaderName::from_wire(&n), v))
            .collect()
    }
}
