//! The signalling loop's answers to the web page and the API
//! (`app::ControlRequest`): each is carried out between two SIP messages,
//! on the core the loop owns, so a save never races a call's setup and
//! saves are done one at a time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use tracing::{info, warn};

use crate::app::network::NetworkPlan;
use crate::app::{ControlError, ControlRequest, Core, Reconfiguration, SaveReport};
use crate::call::CallControlError;
use crate::config::{changed_sections, restart_fields, Config, ConfigError, ConfigStore};

use smol::channel::Sender;

use crate::sip::transport::tcp;

use super::compile::compile_with;
use super::history::HistoryWriter;
use super::listener_plan::plan;
use super::listeners::{Slot, Slots};
use super::{listener_info, Inbound};

/// What the loop keeps to answer saves: the configuration in force, where
/// it is stored, and the copy the web server reads.
pub struct ConfigState {
    pub current: Config,
    /// None when the gateway runs without a file it may write (tests that
    /// pass a configuration in memory): saves are refused.
    pub store: Option<ConfigStore>,
    pub shared: Arc<RwLock<Config>>,
    /// What the running configuration was compiled with (`--board`): a
    /// save is compiled the same way.
    pub options: super::compile::Options,
    /// Where `[network]` is written (None: not started with a data
    /// directory's network file, as in tests: the plan is kept, no file).
    pub network_file: Option<super::network::NetworkFile>,
    /// The network plan in force (the file says it).
    pub network: NetworkPlan,
}

/// The parts of the signalling loop's shell a control request may touch.
pub struct Shell<'a> {
    pub history: Option<&'a mut HistoryWriter>,
    /// A save may bind listeners and retire others.
    pub slots: &'a mut Slots,
    pub connections: &'a tcp::Connections,
    pub inbound: &'a Sender<Inbound>,
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
    shell: Shell,
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
            let _ = reply.try_send(save(*config, &who, core, cfg, shell, now));
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
    shell: Shell,
    now: Instant,
) -> Result<SaveReport, ConfigError> {
    let compiled = compile_with(new, &cfg.options)?;
    let Some(store) = &cfg.store else {
        return Err(ConfigError::invalid(
            "config",
            "this gateway was started without a configuration file it may write",
        ));
    };
    let c = &compiled.config;
    // Listeners moved or added are bound before anything is written, so a
    // port in use refuses the save and changes nothing.
    let listener_plan = plan(&shell.slots.running(), &c.listeners).filter(|p| !p.is_empty());
    let mut bound = Vec::new();
    if let Some(p) = &listener_plan {
        for &i in &p.bind {
            let slot = Slot::bind(i, &c.listeners[i])
                .map_err(|e| ConfigError::invalid(format!("listener[{i}].bind"), e.to_string()))?;
            bound.push((i, slot));
        }
    }
    // The network file before the configuration, so a file that cannot
    // be written refuses the save; put back if the configuration cannot be.
    let network_file = cfg
        .network_file
        .as_ref()
        .filter(|_| compiled.network != cfg.network);
    if let Some(f) = network_file {
        let changed = f.apply(&compiled.network)?;
        info!(who = %who, "network: {}", f.describe(&compiled.network, changed));
    }
    if let Err(e) = store.save_edited(&cfg.current, c) {
        if let Some(f) = network_file {
            if let Err(back) = f.apply(&cfg.network) {
                warn!(
                    "network: {} could not be put back: {back}",
                    f.path().display()
                );
            }
        }
        return Err(e);
    }
    cfg.network = compiled.network.clone();
    let mut needs_restart = restart_fields(&cfg.current, c);
    if let Some(p) = &listener_plan {
        // Applied now: no restart for these.
        needs_restart.retain(|f| {
            f != "listener"
                && !p
                    .bind
                    .iter()
                    .any(|i| f.starts_with(&format!("listener[{i}].")))
        });
    }
    let report = SaveReport {
        needs_restart,
        changed: changed_sections(&cfg.current, c),
    };
    info!(who = %who, changed = ?report.changed, needs_restart = ?report.needs_restart, "configuration saved");
    for w in &compiled.warnings {
        warn!("configuration: {w}");
    }
    let names: Vec<&str> = c.listeners.iter().map(|l| l.name.as_str()).collect();
    let mut admission: Vec<Option<_>> = compiled.admission.into_iter().map(Some).collect();
    if let Some(p) = &listener_plan {
        for &old in &p.retire {
            core.retire_listener(old);
            shell.slots.retire(old, now);
            if let Some(b) = shell.slots.bound(old) {
                info!(listener = %b.name, udp = ?b.udp, tcp = ?b.tcp, "listener retired: calls on it go on, new calls use the saved address");
            }
        }
        for (i, slot) in bound {
            // compile() made one per listener of the file.
            let Some(rules) = admission[i].take() else {
                warn!(listener = %slot.bound.name, "no admission rules compiled for the listener; not bound");
                continue;
            };
            let info = listener_info(&c.listeners[i], &slot.bound);
            info!(listener = %slot.bound.name, udp = ?slot.bound.udp, tcp = ?slot.bound.tcp, "listener bound");
            let id = core.add_listener(info, rules);
            let pushed = shell.slots.push(slot);
            debug_assert_eq!(id, pushed);
            shell.slots.start(pushed, shell.connections, shell.inbound);
        }
    }
    let admission = in_running_order(&shell.slots.names_by_id(), &names, admission);
    core.reconfigure(Reconfiguration {
        router: compiled.router.clone(),
        calls: c.calls.clone(),
        accounts: c.accounts.clone(),
        media: c.media.clone(),
        admission,
        inbound_auth: c.inbound_auth.clone(),
    });
    if let Some(h) = shell.history {
        if c.history != cfg.current.history {
            h.set_limits(c.history.clone());
        }
        if c.webhooks != cfg.current.webhooks || c.events != cfg.current.events {
            h.set_sinks(crate::events::EventSinks::from_config(c));
        }
    }
    core.set_event_headers(c.events.headers.clone());
    *cfg.shared.write().unwrap_or_else(|p| p.into_inner()) = compiled.config.clone();
    cfg.current = compiled.config;
    Ok(report)
}

/// `items` (one per name of `names`, the saved file's order) in the order
/// of `running`; None where the file no longer has a running listener.
fn in_running_order<T>(
    running: &[String],
    names: &[&str],
    items: Vec<Option<T>>,
) -> Vec<Option<T>> {
    let mut items = items;
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
        let got = in_running_order(
            &running,
            &["lan", "wan"],
            vec![Some("lan rules"), Some("wan rules")],
        );
        assert_eq!(got, vec![Some("wan rules"), Some("lan rules")]);
        // A removed listener keeps what it runs with until the restart;
        // an added one waits for it.
        let got = in_running_order(
            &running,
            &["extra", "lan"],
            vec![Some("x"), Some("lan rules")],
        );
        assert_eq!(got, vec![None, Some("lan rules")]);
    }
}
