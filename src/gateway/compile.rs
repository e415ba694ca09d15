//! The one place the configuration becomes the gateway's runtime parts:
//! the router, admission per listener, the registrations. Loading the file
//! checks the data (`Config::validate`); what needs SIP or the routing
//! rules is read here, once, with errors that name the field. Start-up and
//! `--check-config` both come through here, so a file the check accepts
//! starts.

use std::sync::Arc;

use crate::app::{registration_plan, RegistrationPlan};
use crate::config::{Config, ConfigError};
use crate::policy::{Admission, Allowlist};
use crate::routing::{route_warnings, Router};

/// A configuration compiled for running.
pub struct Compiled {
    pub config: Config,
    pub router: Arc<Router>,
    /// Per listener, in configuration order.
    pub admission: Vec<Admission>,
    /// Per enabled account: its index in `config.accounts` and its plan.
    pub registrations: Vec<(usize, RegistrationPlan)>,
    /// What still works but deserves a look (`--check-config` prints them,
    /// the gateway logs them at start).
    pub warnings: Vec<String>,
}

pub fn compile(config: Config) -> Result<Compiled, ConfigError> {
    config.validate()?;
    let mut admission = Vec::with_capacity(config.listeners.len());
    for (i, l) in config.listeners.iter().enumerate() {
        match Admission::from_listener(l) {
            Ok(a) => admission.push(a),
            Err(e) => {
                // Name the entry at fault: parse them one by one (only on
                // this error path).
                let entries = l.allow.as_deref().unwrap_or_default();
                let j = entries
                    .iter()
                    .position(|entry| Allowlist::parse(&[entry]).is_err())
                    .unwrap_or(0);
                return Err(ConfigError::invalid(format!("listener[{i}].allow[{j}]"), e));
            }
        }
    }
    let router = Router::compile(&config.routes, &config.accounts, &config.emergency)?;
    let mut registrations = Vec::new();
    for (i, account) in config.accounts.iter().enumerate() {
        // Every account is read, so a disabled one is ready when enabled.
        let plan = registration_plan(i, account, &config.sip.user_agent)?;
        if account.enabled {
            registrations.push((i, plan));
        }
    }
    let mut warnings = config.media.warnings();
    warnings.extend(config.calls.warnings(&config.history));
    warnings.extend(route_warnings(&router));
    Ok(Compiled {
        config,
        router: Arc::new(router),
        admission,
        registrations,
        warnings,
    })
}

/// Parses TOML text and compiles it: for tests and tools that start from
/// text.
pub fn compile_toml(text: &str) -> Result<Compiled, String> {
    let config = Config::from_toml(text)?;
    compile(config).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_needs_sip_or_routing_is_refused_here_naming_the_field() {
        for (toml, field) in [
            (
                "[[listener]]\nname='wan'\nside='wan'\nbind='127.0.0.1:5060'\n\
                 allow=['10.0.0.0/8', 'not-a-net']\n",
                "listener[0].allow[1]",
            ),
            (
                "[[account]]\nname='sw'\nregistrar='sip:bob@example.com'\nusername='a'\n",
                "account[0].registrar",
            ),
            (
                "[[account]]\nname='sw'\nregistrar='sip:example.com;transport=tcp'\nusername='a'\n",
                "account[0].registrar",
            ),
            (
                "[[route]]\nname='r'\ntargets=[{ uri='sip:' }]\n",
                "route[0].targets[0].uri",
            ),
        ] {
            // The data alone is fine...
            Config::from_toml(toml).unwrap_or_else(|e| panic!("{toml}: {e}"));
            // ... what it means is not.
            let e = compile_toml(toml).err().unwrap_or_else(|| panic!("{toml}"));
            assert!(e.contains(field), "{toml}: {e}");
        }
    }

    #[test]
    fn the_defaults_compile_with_the_emergency_warning() {
        let c = compile(Config::default()).expect("defaults");
        assert_eq!(c.admission.len(), 2);
        assert!(c.registrations.is_empty());
        assert!(
            c.warnings
                .iter()
                .any(|w| w.starts_with("emergency.numbers")),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn enabled_accounts_get_a_registration_plan() {
        let c = compile_toml(
            "[[account]]\nname='a'\nregistrar='sip:a.example.com'\nusername='u'\n\
             [[account]]\nname='b'\nenabled=false\nregistrar='sip:b.example.com'\nusername='u'\n",
        )
        .expect("compiles");
        assert_eq!(c.registrations.len(), 1);
        assert_eq!(c.registrations[0].0, 0);
    }
}
