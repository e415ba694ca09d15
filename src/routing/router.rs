//! The ordered routes: the first whose side and conditions match a call
//! takes it.

use std::collections::HashSet;
use std::sync::Arc;

use crate::config::{AccountConfig, ConfigError, RouteConfig, Side};
use crate::sip::message::Request;

use super::header_plan::HeaderPlan;
use super::matcher::Match;
use super::target::Target;

#[derive(Clone, Debug)]
pub struct Route {
    pub name: String,
    pub from: Side,
    pub matches: Vec<Match>,
    pub targets: Vec<Target>,
    pub headers: HeaderPlan,
}

#[derive(Clone, Debug, Default)]
pub struct Router {
    routes: Vec<Arc<Route>>,
}

impl Router {
    pub fn from_config(
        routes: &[RouteConfig],
        accounts: &[AccountConfig],
    ) -> Result<Router, ConfigError> {
        let mut names = HashSet::new();
        let mut out = Vec::with_capacity(routes.len());
        for (i, r) in routes.iter().enumerate() {
            let field = format!("route[{i}]");
            let name_ok = !r.name.is_empty()
                && r.name.len() <= 64
                && r.name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !name_ok {
                return Err(ConfigError::invalid(
                    format!("{field}.name"),
                    format!("'{}' must be 1-64 letters, digits, '-', '_' or '.'", r.name),
                ));
            }
            if !names.insert(r.name.as_str()) {
                return Err(ConfigError::invalid(
                    format!("{field}.name"),
                    format!("'{}' is used by another route", r.name),
                ));
            }
            if r.targets.is_empty() {
                return Err(ConfigError::invalid(format!("{field}.targets"), "list at least one target, e.g. targets = [{ uri = \"sip:queue@192.168.1.10\" }]"));
            }
            let matches = r
                .matches
                .iter()
                .enumerate()
                .map(|(j, m)| Match::compile(m, &format!("{field}.match[{j}]")))
                .collect::<Result<Vec<_>, _>>()?;
            let targets = r
                .targets
                .iter()
                .enumerate()
                .map(|(j, t)| Target::compile(t, &format!("{field}.targets[{j}]"), accounts))
                .collect::<Result<Vec<_>, _>>()?;
            let headers = HeaderPlan::compile(&r.headers, &format!("{field}.headers"))?;
            out.push(Arc::new(Route {
                name: r.name.clone(),
                from: r.from,
                matches,
                targets,
                headers,
            }));
        }
        Ok(Router { routes: out })
    }

    /// The first route for a call that arrived on `side`, if any.
    pub fn route(&self, req: &Request, side: Side) -> Option<Arc<Route>> {
        self.routes
            .iter()
            .find(|r| r.from == side && r.matches.iter().all(|m| m.matches(req)))
            .cloned()
    }

    /// Every target of every route (for DNS lookups).
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.routes.iter().flat_map(|r| r.targets.iter())
    }
}
