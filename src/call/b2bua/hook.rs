//! The routing hook (docs/routing.md): a new call on a route with a
//! `hook` waits, without blocking any other call, for the shell to POST
//! its newCall fields and hand back the answer; the hook's timeout is a
//! B2BUA timer, so the route's own targets are tried at that moment
//! whatever the HTTP side is doing.

use super::*;
use crate::config::WebhookConfig;
use crate::routing::HookDecision;

/// A call waiting for its route's hook: for the shell to send.
#[derive(Clone, Debug)]
pub struct HookRequest {
    /// The call, to name in `B2bua::hook_answered`.
    pub call: u64,
    /// The call's record as it starts (the newCall fields).
    pub record: CallRecord,
    pub settings: Arc<WebhookConfig>,
}

impl B2bua {
    /// Holds `call` until its hook answers or times out.
    pub(super) fn ask_hook(&mut self, call: &mut Call, settings: Arc<WebhookConfig>, now: Instant) {
        call.hook_waiting = true;
        call.record.hook = Some("waiting".into());
        let timeout = Duration::from_millis(settings.timeout_ms);
        self.timers
            .arm(now + timeout, call.id, 0, TimerKind::HookTimeout);
        debug!(call = %call.record.id, url = %settings.url, "asking the routing hook");
        self.hook_requests.push_back(HookRequest {
            call: call.id,
            record: call.record.clone(),
            settings,
        });
        self.note_record_change(&call.record);
    }

    /// The next hook request for the shell.
    pub fn poll_hook_request(&mut self) -> Option<HookRequest> {
        self.hook_requests.pop_front()
    }

    /// What hook request `call` came to: the hook's decision, or why there
    /// is none (no answer, an error status, an answer that does not
    /// parse). An answer after the timeout changes nothing: the call has
    /// gone on with the route's targets.
    pub fn hook_answered(
        &mut self,
        tx: &mut TransactionLayer,
        call: u64,
        outcome: Result<HookDecision, String>,
        now: Instant,
    ) {
        self.with_call(tx, call, now, |b, tx, call| {
            if !call.hook_waiting {
                debug!(call = %call.record.id, "routing hook answered after the call went on; ignored");
                return;
            }
            call.hook_waiting = false;
            match outcome {
                Ok(decision) => b.apply_hook(tx, call, decision, now),
                Err(why) => {
                    warn!(call = %call.record.id, "routing hook failed: {why}; the route's targets apply");
                    call.record.hook = Some(format!("error: {why}"));
                    b.try_next_target(tx, call, now);
                }
            }
        });
    }

    fn apply_hook(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        decision: HookDecision,
        now: Instant,
    ) {
        let summary = decision.summary();
        info!(call = %call.record.id, hook = %summary, "routing hook answered");
        call.record.hook = Some(summary);
        if let Some((status, reason)) = decision.reject {
            self.stats.failed += 1;
            self.fail_caller(tx, call, status, &reason, None, now);
            call.record.hangup_cause = Some(HangupCause::Rejected);
            return;
        }
        for (name, _) in &decision.headers {
            call.custom_headers.retain(|(n, _)| n != name);
        }
        call.custom_headers.extend(decision.headers);
        call.hook_targets = decision.targets;
        self.try_next_target(tx, call, now);
    }

    /// The hook's timeout: the route's targets, now.
    pub(super) fn hook_timed_out(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        now: Instant,
    ) {
        if !call.hook_waiting {
            return;
        }
        call.hook_waiting = false;
        let ms = call
            .route
            .as_ref()
            .and_then(|r| r.hook.as_ref())
            .map_or(0, |h| h.timeout_ms);
        warn!(call = %call.record.id, "routing hook silent for {ms} ms; the route's targets apply");
        call.record.hook = Some("timeout".into());
        self.try_next_target(tx, call, now);
    }
}
