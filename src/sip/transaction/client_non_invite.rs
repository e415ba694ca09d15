//! The non-INVITE client transaction (RFC 3261 §17.1.2).
//!
//! ```text
//!   send_request (timer E: UDP retransmissions, timer F: 64*T1)
//!        Trying --1xx--> Proceeding (E every T2)
//!           |                |
//!           +---- final -----+--> Completed (timer K) --> Terminated
//! ```

use std::time::Instant;

use tracing::{debug, info};

use crate::sip::message::{Method, Request, Response};
use crate::sip::transport::Peer;

use super::event::{ClientTransactionId, TransactionEvent};
use super::output::Outputs;
use super::timers::{due, earliest, Backoff, TimerConfig};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

#[derive(Debug)]
pub(crate) struct ClientNonInvite {
    id: ClientTransactionId,
    state: State,
    method: Method,
    call_id: Box<str>,
    /// The request serialised once, for every retransmission.
    bytes: Vec<u8>,
    to: Peer,
    timers: TimerConfig,
    /// Timer E (unreliable transports only).
    retransmit: Option<Backoff>,
    /// Timer F in Trying and Proceeding, timer K in Completed.
    deadline: Option<Instant>,
    final_status: Option<u16>,
}

impl ClientNonInvite {
    /// Sends the request and arms timers E and F.
    pub fn start(
        id: ClientTransactionId,
        request: &Request,
        to: Peer,
        timers: TimerConfig,
        now: Instant,
        out: &mut Outputs,
    ) -> Self {
        let bytes = request.to_bytes();
        out.send(to, bytes.clone());
        // RFC 3261 §17.1.2.2: timer E starts at T1 and doubles up to T2.
        let retransmit =
            (!to.transport.is_reliable()).then(|| Backoff::start(now, timers.t1, Some(timers.t2)));
        let call_id: Box<str> = request.headers.call_id().unwrap_or("").into();
        debug!(%id, %to, method = %request.method, %call_id, "non-INVITE client transaction started");
        ClientNonInvite {
            id,
            state: State::Trying,
            method: request.method.clone(),
            call_id,
            bytes,
            to,
            timers,
            retransmit,
            deadline: Some(now + timers.t1_x64()),
            final_status: None,
        }
    }

    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        earliest(self.retransmit.map(|b| b.at), self.deadline)
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
                self.retransmit = None;
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
                if k.is_zero() {
                    self.terminate("final response received");
                } else {
                    self.state = State::Completed;
                    self.deadline = Some(now + k);
                }
            }
            _ => debug!(id = %self.id, status, state = ?self.state, "response absorbed"),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant, out: &mut Outputs) {
        if due(self.deadline, now) {
            match self.state {
                State::Trying | State::Proceeding => {
                    out.event(TransactionEvent::Timeout { id: self.id });
                    self.terminate("no final response (timer F)");
                }
                State::Completed => self.terminate("final response received"),
                State::Terminated => {}
            }
            return;
        }
        if let Some(timer_e) = &mut self.retransmit {
            if timer_e.at <= now {
                debug!(id = %self.id, method = %self.method, "timer E: retransmitting request");
                out.send(self.to, self.bytes.clone());
                if self.state == State::Proceeding {
                    // §17.1.2.2: in Proceeding, timer E is reset to T2.
                    timer_e.advance_fixed(now, self.timers.t2);
                } else {
                    timer_e.advance(now);
                }
            }
        }
    }

    fn terminate(&mut self, how: &str) {
        self.state = State::Terminated;
        self.retransmit = None;
        self.deadline = None;
        let (id, method, call_id) = (self.id, &self.method, &*self.call_id);
        match self.final_status {
            Some(status) => {
                info!(%id, call_id, "{method} client transaction ended: {status} received")
            }
            None => info!(%id, call_id, "{method} client transaction ended: {how}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::TransactionEvent;

    const UAS: &str = "203.0.113.5:5060";

    fn start(
        h: &mut Harness,
        via: &str,
    ) -> (super::ClientTransactionId, crate::sip::message::Request) {
        let req = request("OPTIONS", via, TO);
        let to = if via.contains("/TCP") {
            tcp(UAS)
        } else {
            udp(UAS)
        };
        let id = h.layer.send_request(req.clone(), to, h.t0).unwrap();
        assert_eq!(h.transmits().len(), 1);
        (id, req)
    }

    #[test]
    fn udp_timer_e_doubles_to_t2_until_timer_f() {
        let mut h = Harness::new();
        let (id, req) = start(&mut h, VIA_UDP);
        let sent = h.run_until(h.at(40_000));
        let times: Vec<u64> = sent.iter().map(|(t, _)| *t).collect();
        // RFC 3261 §17.1.2.2: 0.5, 1, 2, 4, 4, 4, ... s apart; F = 64*T1.
        assert_eq!(
            times,
            vec![500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
        );
        assert!(sent.iter().all(|(_, t)| t.bytes == req.to_bytes()));
        assert_eq!(h.events(), vec![TransactionEvent::Timeout { id }]);
        assert!(h.layer.is_empty());
    }

    #[test]
    fn tcp_never_retransmits_and_times_out_at_timer_f() {
        let mut h = Harness::new();
        let (id, _) = start(&mut h, VIA_TCP);
        assert_eq!(h.layer.poll_timeout(), Some(h.at(32_000)));
        assert!(h.run_times(h.at(40_000)).is_empty());
        assert_eq!(h.events(), vec![TransactionEvent::Timeout { id }]);
        assert!(h.layer.is_empty());
    }

    #[test]
    fn provisional_makes_timer_e_fire_every_t2_then_final_waits_timer_k() {
        let mut h = Harness::new();
        let (id, req) = start(&mut h, VIA_UDP);
        assert_eq!(h.run_times(h.at(700)), vec![500]);
        h.layer
            .handle_response(response(&req, 100), udp(UAS), h.at(700));
        assert!(
            matches!(&h.events()[..], [TransactionEvent::Response { response, .. }] if response.status == 100)
        );
        // The pending E (1.5 s) fires, then every T2.
        assert_eq!(h.run_times(h.at(12_000)), vec![1500, 5500, 9500]);
        let ok = response(&req, 200);
        h.layer.handle_response(ok.clone(), udp(UAS), h.at(12_000));
        assert_eq!(
            h.events(),
            vec![TransactionEvent::Response {
                id,
                response: ok.clone()
            }]
        );
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
        let mut h = Harness::new();
        let (_, req) = start(&mut h, VIA_TCP);
        h.layer
            .handle_response(response(&req, 404), tcp(UAS), h.at(10));
        assert_eq!(h.events().len(), 1);
        assert!(h.layer.is_empty());
        assert_eq!(h.layer.poll_timeout(), None);
    }
}
