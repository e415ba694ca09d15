//! A saved configuration, as the core takes it live.

use crate::app::Reconfiguration;
use crate::gateway::compile_toml;

/// What saving `toml` on the page hands the running core.
pub fn reconfiguration(toml: &str) -> Reconfiguration {
    let c = compile_toml(toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
    Reconfiguration {
        router: c.router.clone(),
        calls: c.config.calls.clone(),
        accounts: c.config.accounts.clone(),
        media: c.config.media.clone(),
        admission: c.admission.into_iter().map(Some).collect(),
        inbound_auth: c.config.inbound_auth.clone(),
    }
}
