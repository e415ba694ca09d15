//! The non-INVITE client transaction (RFC 3261 §17.1.2).
//!
//! ```text
//!   send_request (timer E: UDP retransmissions, timer F: 64*T1)
//!        Trying --1xx--> Proceeding (E every T2)
//!           |                |
//!           +---- final -----+--> Completed (timer K) --> Terminated
//! ```

use std::time::Instant;

use tracing::debug;

use crate::sip::message::{Request, Response};
use crate::sip::transport::Peer;

use super::armed::Armed;
use super::event::{ClientTransactionId, TransactionEvent};
use super::label::{Label, Side};
use super::machine::Machine;
use super::output::Outputs;
use super::state::NonInviteState as State;
use super::timers::{Backoff, TimerConfig};

#[derive(Debug)]
pub(crate) struct ClientNonInvite {
    id: ClientTransactionId,
    state: State,
    label: Label,
    /// The request serialised once, for every retransmission.
    bytes: Vec<u8>,
    to: Peer,
    timers: TimerConfig,
    /// Timer E; timer F in Trying and Proceeding, timer K in Completed.
    armed: Armed,
    final_status: Option<u16>,
}

impl Machine for ClientNonInvite {
    fn armed(&self) -> &Armed {
        &self.armed
    }
}

impl ClientNonInvite {
    /// Arms timers E and F for a request the layer has just sent as `bytes`.
    pub fn start(
        id: ClientTransactionId,
        request: &Request,
        bytes: Vec<u8>,
        to: Peer,
        timers: TimerConfig,
        now: Instant,
    ) -> Self {
        // RFC 3261 §17.1.2.2: timer E starts at T1 and doubles up to T2.
        let retransmit =
            Backoff::unless_reliable(to.transport.is_reliable(), now, timers.t1, Some(timers.t2));
        let label = Label::started(Side::Client, request, id, to);
        ClientNonInvite {
            id,
            state: State::Trying,
            label,
            bytes,
            to,
            timers,
            armed: Armed::new(retransmit, Some(now + timers.t1_x64())),
            final_status: None,
        }
    }

    fn terminate(&mut self, how: &str) {
        self.state = State::Terminated;
        self.armed.end();
        self.label.ended(self.id, self.final_status, how);
    }

    pub fn handle_response(&mut self, response: Response, now: Instant, out: &mut Outputs) {
        let status = response.status;
        match (self.state, status) {
            (State::Trying | State::Proceeding, 100..=199) => {
                // Timer E keeps running; it is reset to T2 when it next fires.
                self.state = State::Proceeding;
                debug!(id = %self.id, status, "non-INVITE client transaction: provisional response");
                out.event(TransactionEvent::Response {
                    id: self.id,
                    response,
                });
            }
            (State::Trying | State::Proceeding, _) => {
                self.final_status = Some(status);
                self.armed.retransmit = None;
                // Never retransmitted again; timer K only absorbs finals.
                self.bytes = Vec::new();
                out.event(TransactionEvent::Response {
                    id: self.id,
                    response,
                });
                // §17.1.2.2: timer K absorbs retransmitted finals on UDP.
                let k = self
                    .timers
                    .t4_unless_reliable(self.to.transport.is_reliable());
                if self.armed.linger(now, k) {
                    self.state = State::Completed;
                } else {
                    self.terminate("no timer K on a reliable transport");
                }
            }
            _ => debug!(id = %self.id, status, state = ?self.state, "response absorbed"),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant, out: &mut Outputs) {
        if self.armed.deadline_due(now) {
            if self.state == State::Completed {
                self.terminate("timer K");
            } else {
                out.event(TransactionEvent::Timeout { id: self.id });
                self.terminate("no final response (timer F)");
            }
            return;
        }
        // §17.1.2.2: in Proceeding, timer E is reset to T2.
        let t2 = (self.state == State::Proceeding).then_some(self.timers.t2);
        if self.armed.retransmission_due(now, t2) {
            let method = self.label.method();
            debug!(id = %self.id, %method, "timer E: retransmitting request");
            out.send(self.to, self.bytes.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::TransactionEvent;

    #[test]
    fn udp_timer_e_doubles_to_t2_until_timer_f() {
        let (mut h, id, req) = Harness::client("OPTIONS", VIA_UDP);
        let times = h.resends_until(40_000, &req.to_bytes(), udp(UAS));
        // RFC 3261 §17.1.2.2: 0.5, 1, 2, 4, 4, 4, ... s apart; F = 64*T1.
        assert_eq!(
            times,
            vec![500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
        );
        assert_eq!(h.events(), vec![TransactionEvent::Timeout { id }]);
        assert!(h.layer.is_empty());
    }

    #[test]
    fn provisional_makes_timer_e_fire_every_t2_then_final_waits_timer_k() {
        let (mut h, id, req) = Harness::client("OPTIONS", VIA_UDP);
        assert_eq!(h.run_times(h.at(700)), vec![500]);
        h.uas_answers(&req, 100, 700);
        assert_eq!(h.statuses(), vec![100]);
        // The pending E (1.5 s) fires, then every T2.
        assert_eq!(h.run_times(h.at(12_000)), vec![1500, 5500, 9500]);
        let ok = h.uas_answers(&req, 200, 12_000);
        assert_eq!(h.events(), vec![passed_up(id, &ok)]);
        // Completed absorbs retransmitted finals, and sends nothing.
        h.layer.handle_response(ok, udp(UAS), h.at(13_000));
        assert!(h.events().is_empty());
        assert_eq!(h.layer.poll_timeout(), Some(h.at(17_000)), "K = T4");
        assert!(h.run_times(h.at(17_000)).is_empty());
        assert!(h.layer.is_empty());
        assert!(h.events().is_empty(), "no timeout after a final");
    }

    #[test]
    fn final_over_tcp_ends_at_once() {
        let (mut h, _, req) = Harness::client("OPTIONS", VIA_TCP);
        h.uas_answers(&req, 404, 10);
        assert_eq!(h.events().len(), 1);
        assert!(h.layer.is_empty());
        assert_eq!(h.layer.poll_timeout(), None);
    }
}
