//! The signalling loop's answers to the web page and the API
//! (`app::ControlRequest`): each is carried out between two SIP messages,
//! on the core the loop owns, so a save never races a call's setup and
//! saves are done one at a time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use tracing::{info, warn};

use crate::app::{ControlError, ControlRequest, Core, Reconfiguration, SaveReport};
use crate::call::CallControlError;
use crate::config::{changed_sections, restart_fields, Config, ConfigError, ConfigStore};

use super::compile::compile;
use super::history::HistoryWriter;

/// What the loop keeps to answer saves: the configuration in force, where
/// it is stored, and the copy the web server reads.
pub struct ConfigState {
    pub current: Config,
    /// None when the gateway runs without a file it may write (tests that
    /// pass a configuration in memory): saves are refused.
    pub store: Option<ConfigStore>,
    pub shared: Arc<RwLock<Config>>,
    /// The listeners' names in the order their sockets were bound: a save
    /// that reorders the file's listeners must not swap their rules.
    pub running_listeners: Vec<String>,
}

/// Set when a restart was asked for: the process starts itself again once
/// the loop has stopped (main.rs).
static RESTART: AtomicBool = AtomicBool::new(false);

/// Whether the loop stopped for a restart.
pub fn restart_requested() -> bool {
    RESTART.load(Ordering::SeqCst)
}

/// Carries out `req` and answers it. A reply channel whose asker has gone
/// (the browser closed) is not an error: the work is done either way.
/// True when the loop is to stop (a restart).
pub fn handle(
    req: ControlRequest,
    core: &mut Core,
    cfg: &mut ConfigState,
    history: Option<&mut HistoryWriter>,
    now: Instant,
) -> bool {
    match req {
        ControlRequest::Restart { who, reply } => {
            info!(who = %who, "restart asked for: stopping, then starting again");
            RESTART.store(true, Ordering::SeqCst);
            let _ = reply.try_send(Ok(()));
            return true;
        }
        ControlRequest::SaveConfig { config, who, reply } => {
            let _ = reply.try_send(save(*config, &who, core, cfg, history));
        }
        ControlRequest::Hangup { call, who, reply } => {
            info!(call = %call, who = %who, "hang-up asked for");
            let _ = reply.try_send(core.hang_up(&call, now).map_err(control_error));
        }
        ControlRequest::Transfer {
            call,
            target,
            who,
            reply,
        } => {
            info!(call = %call, who = %who, target = %target, "transfer asked for");
            let _ = reply.try_send(core.transfer(&call, &target, now).map_err(control_error));
        }
        ControlRequest::SendDtmf {
            call,
            to_caller,
            digits,
            who,
            reply,
        } => {
            info!(call = %call, who = %who, to_caller, "digits asked for");
            let _ = reply.try_send(
                core.send_dtmf(&call, to_caller, &digits, now)
                    .map_err(control_error),
            );
        }
        ControlRequest::TestCall {
            invite,
            from_lan,
            reply,
        } => {
            let _ = reply.try_send(core.test_call(&invite, from_lan));
        }
    }
    false
}

fn control_error(e: CallControlError) -> ControlError {
    match e {
        CallControlError::NoSuchCall(id) => ControlError::NoSuchCall(id),
        CallControlError::NotPossible(why) => ControlError::Refused(why),
        CallControlError::Digits(d) => ControlError::BadDigits(d.to_string()),
    }
}

/// Checks `new` as a start would, stores it keeping the file's comments,
/// and applies what can be applied at once to new calls. A configuration
/// that does not compile, or a file that cannot be written, changes
/// nothing.
fn save(
    new: Config,
    who: &str,
    core: &mut Core,
    cfg: &mut ConfigState,
    history: Option<&mut HistoryWriter>,
) -> Result<SaveReport, ConfigError> {
    let compiled = compile(new)?;
    let Some(store) = &cfg.store else {
        return Err(ConfigError::invalid(
            "config",
            "this gateway was started without a configuration file it may write",
        ));
    };
    store.save_edited(&cfg.current, &compiled.config)?;
    let report = SaveReport {
        needs_restart: restart_fields(&cfg.current, &compiled.config),
        changed: changed_sections(&cfg.current, &compiled.config),
    };
    info!(who = %who, changed = ?report.changed, needs_restart = ?report.needs_restart, "configuration saved");
    for w in &compiled.warnings {
        warn!("configuration: {w}");
    }
    let c = &compiled.config;
    let names: Vec<&str> = c.listeners.iter().map(|l| l.name.as_str()).collect();
    let admission = in_running_order(&cfg.running_listeners, &names, compiled.admission);
    core.reconfigure(Reconfiguration {
        router: compiled.router.clone(),
        calls: c.calls.clone(),
        accounts: c.accounts.clone(),
        media: c.media.clone(),
        admission,
        inbound_auth: c.inbound_auth.clone(),
    });
    if let Some(h) = history {
        if c.history != cfg.current.history {
            h.set_limits(c.history.clone());
        }
    }
    *cfg.shared.write().unwrap_or_else(|p| p.into_inner()) = compiled.config.clone();
    cfg.current = compiled.config;
    Ok(report)
}

/// `items` (one per name of `names`, the saved file's order) in the order
/// of `running`; None where the file no longer has a running listener.
fn in_running_order<T>(running: &[String], names: &[&str], items: Vec<T>) -> Vec<Option<T>> {
    let mut items: Vec<Option<T>> = items.into_iter().map(Some).collect();
    running
        .iter()
        .map(|name| {
            names
                .iter()
                .position(|n| n == name)
                .and_then(|i| items.get_mut(i).and_then(Option::take))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::in_running_order;
    use std::time::Duration;

    use futures_lite::FutureExt;

    use crate::app::{ControlError, ControlRequest};
    use crate::gateway::{compile_toml, Gateway};

    /// A restart asked for is answered, stops the loop as SIGTERM does
    /// (run returns), and is remembered for main.rs to start again.
    #[test]
    fn a_restart_stops_the_loop_and_is_remembered() {
        let compiled = compile_toml(
            "[[listener]]\nname = \"wan\"\nside = \"wan\"\nbind = \"127.0.182.1:0\"\ntransports = [\"udp\"]\n",
        )
        .expect("config");
        let gateway = Gateway::bind(compiled).expect("bind");
        let control = gateway.control();
        let (reply, answer) = smol::channel::bounded(1);
        let (_, answered) = smol::block_on(
            futures_lite::future::zip(gateway.run(), async {
                let who = "admin".to_string();
                control
                    .send(ControlRequest::Restart { who, reply })
                    .await
                    .expect("the loop takes requests");
                answer.recv().await.expect("an answer")
            })
            .or(async {
                smol::Timer::after(Duration::from_secs(10)).await;
                (
                    (),
                    Err(ControlError::Refused("the loop did not stop".into())),
                )
            }),
        );
        assert_eq!(answered, Ok(()));
        assert!(super::restart_requested());
    }

    #[test]
    fn listeners_reordered_in_the_file_keep_their_own_rules() {
        let running = vec!["wan".to_string(), "lan".to_string()];
        let got = in_running_order(&running, &["lan", "wan"], vec!["lan rules", "wan rules"]);
        assert_eq!(got, vec![Some("wan rules"), Some("lan rules")]);
        // A removed listener keeps what it runs with until the restart;
        // an added one waits for it.
        let got = in_running_order(&running, &["extra", "lan"], vec!["x", "lan rules"]);
        assert_eq!(got, vec![None, Some("lan rules")]);
    }
}
