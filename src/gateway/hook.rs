//! Routing hooks, the shell side (docs/routing.md): each request is a task
//! of its own on the executor, so a slow hook holds up only its call, and
//! the core's timer, not this task, decides when the call stops waiting.

use std::net::SocketAddr;

use smol::channel::Sender;

use crate::app::HookCall;
use crate::routing::{parse_hook_answer, HookDecision};
use crate::sip::message::{Host, SipUri};
use crate::sip::transport::Transport;

use super::Inbound;

/// Asks the hook for `h.call` and reports the outcome to the signalling
/// loop; host names among the chosen targets are looked up first, so the
/// call can use them at once.
pub fn ask(h: HookCall, nameservers: Vec<SocketAddr>, inbound: Sender<Inbound>) {
    smol::spawn(async move {
        let outcome = decide(&h, &nameservers, &inbound).await;
        let _ = inbound
            .send(Inbound::HookAnswer {
                call: h.call,
                outcome,
            })
            .await;
    })
    .detach();
}

async fn decide(
    h: &HookCall,
    nameservers: &[SocketAddr],
    inbound: &Sender<Inbound>,
) -> Result<HookDecision, String> {
    let id = format!("hook-{:016x}", fastrand::u64(..));
    let answer = super::webhook::post_json(&h.settings, &id, &h.body).await?;
    if !(200..300).contains(&answer.status) {
        let first: String = answer
            .body
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(120)
            .collect();
        return Err(format!(
            "HTTP {} {}",
            answer.status,
            crate::logging::Escaped(&first)
        ));
    }
    let decision = parse_hook_answer(&answer.bytes).map_err(|e| e.to_string())?;
    for t in &decision.targets {
        let Host::Domain(name) = &t.uri.host else {
            continue;
        };
        let uri = SipUri::new(t.uri.host.clone(), None);
        let addrs = super::resolve::targets(&uri, Transport::Udp, nameservers)
            .await
            .map_err(|e| format!("cannot resolve {name}: {e}"))?;
        let _ = inbound
            .send(Inbound::CallTargetAddresses {
                host: name.to_ascii_lowercase(),
                addrs,
            })
            .await;
    }
    Ok(decision)
}
