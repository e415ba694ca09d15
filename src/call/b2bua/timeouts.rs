//! What the B2BUA's own timers do when they fire: 2xx retransmission, failover, session expiry.

use super::*;

impl B2bua {
    pub(super) fn timer_fired(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        kind: TimerKind,
        now: Instant,
    ) {
        match kind {
            TimerKind::Retransmit2xx => {
                let Some(p) = call.legs[leg].sip_mut().pending_2xx.as_mut() else {
                    return;
                };
                if p.next > now {
                    return; // superseded by a newer 2xx
                }
                if now >= p.give_up {
                    call.legs[leg].sip_mut().pending_2xx = None;
                    warn!(call = %call.record.id, "no ACK for the 2xx: ending the call");
                    call.record
                        .hangup_cause
                        .get_or_insert(HangupCause::AckTimeout);
                    self.send_bye(tx, call, leg, now);
                    self.end_call(tx, call, Some(leg), HangupCause::AckTimeout, now);
                    return;
                }
                let (server, response) = (p.server, p.response.clone());
                p.interval = (p.interval * 2).min(self.cfg.t2);
                // §13.3.1.4: give up at 64·T1 exactly, not at the next tick.
                p.next = (now + p.interval).min(p.give_up);
                let next = p.next;
                if tx.respond(server, response.clone(), now).is_err() {
                    tx.send_stateless(call.legs[leg].sip().dialog.peer, response.to_bytes());
                }
                self.timers
                    .arm(next, call.id, leg, TimerKind::Retransmit2xx);
            }
            TimerKind::Failover => {
                let l = &mut call.legs[leg];
                if l.heard_from || l.state != LegState::Calling || Some(leg) != call.callee {
                    return;
                }
                l.abandoned = true;
                warn!(call = %call.record.id, target = l.target.as_deref().unwrap_or("-"), "target silent: failing over");
                self.callee_failed(tx, call, leg, 408, "Request Timeout".into(), now);
            }
            TimerKind::HookTimeout => self.hook_timed_out(tx, call, now),
            TimerKind::SessionExpiry => {
                if call.session_deadline.is_some_and(|d| d <= now) {
                    warn!(call = %call.record.id, "session timer expired without a refresh: ending the call");
                    call.session_deadline = None;
                    self.end_call(tx, call, None, HangupCause::SessionExpired, now);
                }
            }
            TimerKind::DetachedBye => {
                if call.legs[leg].state == LegState::Confirmed && call.peer_of(leg).is_none() {
                    self.send_bye(tx, call, leg, now);
                }
            }
        }
    }

    /// RFC 4028 §10: with a session interval S in force, the session ends
    /// if no refresh succeeded S - min(32 s, S/3) after the last one.
    pub(super) fn arm_session_timer(&mut self, call: &mut Call, resp: &Response, now: Instant) {
        let Some(secs) = resp
            .headers
            .get(&HeaderName::SessionExpires)
            .and_then(|v| v.split(';').next())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|s| *s > 0)
        else {
            return;
        };
        let s = Duration::from_secs(secs);
        let at = now + s - Duration::from_secs(32).min(s / 3);
        call.session_deadline = Some(at);
        self.timers.arm(at, call.id, 0, TimerKind::SessionExpiry);
    }
}
