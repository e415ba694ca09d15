//! Picks the route for a call: the first, in configuration order, that
//! takes calls from where it comes (a side, or a local line) and whose
//! conditions all pass; for an emergency call from the LAN or a line, the
//! configured emergency route first.

use std::collections::HashSet;
use std::sync::Arc;

use crate::config::{
    check_name, check_unique, AccountConfig, ConfigError, DtmfMode, EmergencyConfig, LineConfig,
    RouteConfig, RouteFrom, WebhookConfig,
};
use crate::sip::message::{HeaderName, Headers, Request, Uri};

use super::emergency::EmergencyNumbers;

use super::header_plan::HeaderPlan;
use super::matcher::Match;
use super::origin::{from_words, Origin};
use super::target::Target;

/// What the B2BUA needs once a call is routed. Shared (`Arc`) so that a
/// call keeps its route while a reloaded configuration replaces the router.
#[derive(Clone, Debug)]
pub struct Route {
    pub name: String,
    pub from: RouteFrom,
    /// In failover order; never empty.
    pub targets: Vec<Target>,
    pub headers: HeaderPlan,
    /// How the caller's leg carries DTMF.
    pub caller_dtmf: DtmfMode,
    /// The routing hook asked before the targets are tried (its settings
    /// as a webhook's, for the shell's HTTPS client).
    pub hook: Option<Arc<WebhookConfig>>,
}

impl Route {
    /// The custom headers for the INVITE sent to `target`: the route's
    /// plan, then the target's own headers, which replace same-named ones
    /// (the more specific setting wins).
    pub fn outgoing_headers(
        &self,
        target: &Target,
        incoming: &Headers,
    ) -> Vec<(HeaderName, String)> {
        let mut out = self.headers.apply(incoming);
        out.retain(|(n, _)| !target.extra_headers.iter().any(|(t, _)| t == n));
        out.extend(target.extra_headers.iter().cloned());
        out
    }
}

#[derive(Clone, Debug)]
struct Entry {
    matches: Vec<Match>,
    route: Arc<Route>,
}

#[derive(Clone, Debug, Default)]
pub struct Router {
    entries: Vec<Entry>,
    emergency: EmergencyNumbers,
    /// `[emergency] route`: taken by every emergency call.
    emergency_route: Option<Arc<Route>>,
    /// The configured lines' names (they dial emergency numbers too).
    line_names: Vec<String>,
}

impl Router {
    /// Compiles and checks every route, without emergency numbers or
    /// lines.
    pub fn from_config(
        routes: &[RouteConfig],
        accounts: &[AccountConfig],
    ) -> Result<Router, ConfigError> {
        let none = EmergencyConfig {
            numbers: Vec::new(),
            route: None,
        };
        Router::compile(routes, accounts, &[], &none)
    }

    /// Compiles and checks every route and the emergency route (the
    /// numbers are checked by `EmergencyConfig::validate`); the error names
    /// the field at fault.
    pub fn compile(
        routes: &[RouteConfig],
        accounts: &[AccountConfig],
        lines: &[LineConfig],
        emergency: &EmergencyConfig,
    ) -> Result<Router, ConfigError> {
        let mut names = HashSet::new();
        // The catch-all routes so far (no match): each takes every call
        // from its origin.
        let mut catch_all: Vec<usize> = Vec::new();
        let mut entries = Vec::with_capacity(routes.len());
        for (i, r) in routes.iter().enumerate() {
            let field = format!("route[{i}]");
            let f = |k: &str| format!("{field}.{k}");
            check_name(f("name"), &r.name, 64, b"-_.")?;
            check_unique(&mut names, f("name"), &r.name, "route")?;
            if let RouteFrom::Line(name) = &r.from {
                if !lines.iter().any(|l| &l.name == name) {
                    return Err(ConfigError::invalid(
                        f("from"),
                        format!("no [[line]] is named '{name}'"),
                    ));
                }
            }
            // A route behind a catch-all for the same calls can never be
            // chosen; that is always a mistake in the order.
            // Emergency calls reach the emergency route wherever it is.
            let is_emergency_route = emergency.route.as_deref() == Some(r.name.as_str());
            let hidden_by = catch_all.iter().find(|&&j| routes[j].from.covers(&r.from));
            if let (Some(&j), false) = (hidden_by, is_emergency_route) {
                return Err(ConfigError::invalid(
                    field,
                    format!(
                        "can never be chosen: route[{j}] '{}' before it has no match and takes \
                         every call from {}; move the catch-all route last",
                        routes[j].name,
                        from_words(&routes[j].from)
                    ),
                ));
            }
            if r.matches.is_empty() {
                catch_all.push(i);
            }
            let matches = r
                .matches
                .iter()
                .enumerate()
                .map(|(k, m)| Match::compile(m, &format!("{field}.match[{k}]")))
                .collect::<Result<_, _>>()?;
            if r.targets.is_empty() {
                return Err(ConfigError::invalid(
                    f("targets"),
                    "at least one target is needed, e.g. targets = [{ uri = \"sip:queue@pbx.example.com\" }]",
                ));
            }
            let targets = r
                .targets
                .iter()
                .enumerate()
                .map(|(k, t)| Target::compile(t, &format!("{field}.targets[{k}]"), accounts, lines))
                .collect::<Result<_, _>>()?;
            let headers = HeaderPlan::compile(&r.headers, &f("headers"))?;
            r.validate_hook(&field)?;
            entries.push(Entry {
                matches,
                route: Arc::new(Route {
                    name: r.name.clone(),
                    from: r.from.clone(),
                    targets,
                    headers,
                    caller_dtmf: r.caller_dtmf,
                    hook: r.hook_settings().map(Arc::new),
                }),
            });
        }
        let emergency_route = match &emergency.route {
            None => None,
            Some(name) => match entries.iter().find(|e| &e.route.name == name) {
                Some(e) if e.route.from != RouteFrom::WAN => Some(Arc::clone(&e.route)),
                Some(_) => {
                    return Err(ConfigError::invalid(
                        "emergency.route",
                        format!(
                            "route '{name}' has from = \"wan\"; emergency calls come from the \
                             PBX or a local line, so name a route with from = \"lan\" or \
                             \"line\""
                        ),
                    ))
                }
                None => {
                    return Err(ConfigError::invalid(
                        "emergency.route",
                        format!("no [[route]] is named '{name}'"),
                    ))
                }
            },
        };
        Ok(Router {
            entries,
            emergency: EmergencyNumbers::new(emergency),
            emergency_route,
            line_names: lines.iter().map(|l| l.name.clone()).collect(),
        })
    }

    /// The route for a request from `origin`, if any. An emergency call
    /// takes the emergency route when there is one, before any other. A
    /// call from a line comes as the INVITE it would be (Request-URI the
    /// dialled number, From the line's extension), so conditions read it
    /// as they read a SIP call.
    pub fn route(&self, req: &Request, origin: Origin<'_>) -> Option<Arc<Route>> {
        if let Some(r) = &self.emergency_route {
            if self.emergency_number(req, origin).is_some() {
                return Some(Arc::clone(r));
            }
        }
        self.entries
            .iter()
            .find(|e| origin.is_taken_by(&e.route.from) && e.matches.iter().all(|m| m.matches(req)))
            .map(|e| Arc::clone(&e.route))
    }

    /// The emergency number a call dials, when it is one: from the LAN or
    /// a local line, and its Request-URI user (or `tel:` number) is a
    /// configured number once separators and a leading '+' are removed.
    pub fn emergency_number(&self, req: &Request, origin: Origin<'_>) -> Option<&str> {
        if !origin.may_dial_emergency() {
            return None;
        }
        let user = match &req.uri {
            Uri::Sip(u) => u.user.as_deref()?,
            Uri::Other { scheme, rest } if scheme.eq_ignore_ascii_case("tel") => rest.as_str(),
            Uri::Other { .. } => return None,
        };
        self.emergency.number_of(user.as_bytes())
    }

    pub fn emergency_numbers(&self) -> &EmergencyNumbers {
        &self.emergency
    }

    /// Whether a call from `origin` (the LAN, a line) to `number` has a
    /// route: the emergency route, or a route taking calls from there whose
    /// `dialled` items accept the number (its header and caller items
    /// depend on the call, so they are assumed to pass). For
    /// `--check-config`.
    pub fn carries_emergency(&self, number: &str, origin: Origin<'_>) -> bool {
        self.emergency_route.is_some()
            || self.entries.iter().any(|e| {
                origin.is_taken_by(&e.route.from)
                    && e.matches.iter().all(|m| m.may_pass_dialled(number))
            })
    }

    /// The configured lines' names.
    pub fn line_names(&self) -> &[String] {
        &self.line_names
    }

    /// Every route with its conditions, in configuration order.
    pub(super) fn entries(&self) -> impl Iterator<Item = (&Arc<Route>, &[Match])> {
        self.entries
            .iter()
            .map(|e| (&e.route, e.matches.as_slice()))
    }

    pub(super) fn has_emergency_route(&self) -> bool {
        self.emergency_route.is_some()
    }

    /// Every route, in configuration order (for the status page).
    pub fn routes(&self) -> impl Iterator<Item = &Arc<Route>> {
        self.entries.iter().map(|e| &e.route)
    }
}
