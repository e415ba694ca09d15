//! The non-INVITE server transaction (RFC 3261 §17.2.2).
//!
//! ```text
//!   request received
//!        Trying --1xx--> Proceeding
//!           |                |
//!           +---- final -----+--> Completed (timer J) --> Terminated
//! ```

use std::time::Instant;

use tracing::debug;

use crate::sip::message::{Request, Response};
use crate::sip::transport::Peer;

use super::armed::Armed;
use super::event::ServerTransactionId;
use super::label::{Label, Side};
use super::machine::Machine;
use super::output::Outputs;
use super::state::NonInviteState as State;
use super::timers::TimerConfig;

#[derive(Debug)]
pub(crate) struct ServerNonInvite {
    id: ServerTransactionId,
    state: State,
    label: Label,
    /// Where responses go (RFC 3261 §18.2.2), worked out once.
    target: Peer,
    timers: TimerConfig,
    /// The last response sent, serialised once, re-sent on retransmissions.
    last_response: Vec<u8>,
    final_status: Option<u16>,
    /// Timer J (no retransmission timer: the TU's responses are re-sent
    /// only when the request is).
    armed: Armed,
}

impl Machine for ServerNonInvite {
    fn armed(&self) -> &Armed {
        &self.armed
    }
}

impl ServerNonInvite {
    pub fn new(
        id: ServerTransactionId,
        request: &Request,
        target: Peer,
        timers: TimerConfig,
    ) -> Self {
        let label = Label::started(Side::Server, request, id, target);
        ServerNonInvite {
            id,
            state: State::Trying,
            label,
            target,
            timers,
            last_response: Vec::new(),
            final_status: None,
            armed: Armed::new(None, None),
        }
    }

    fn terminate(&mut self, how: &str) {
        self.state = State::Terminated;
        self.armed.end();
        self.label.ended(self.id, self.final_status, how);
    }

    /// The final response sent, if any.
    pub fn final_status(&self) -> Option<u16> {
        self.final_status
    }

    /// The request arrived again (§17.2.2): absorbed in Trying, answered
    /// with the last response in Proceeding and Completed.
    pub fn handle_retransmission(&mut self, out: &mut Outputs) {
        match self.state {
            State::Proceeding | State::Completed => {
                debug!(id = %self.id, "request retransmission: re-sending last response");
                out.send(self.target, self.last_response.clone());
            }
            _ => debug!(id = %self.id, state = ?self.state, "request retransmission absorbed"),
        }
    }

    /// Sends the TU's response (the caller has checked that the status is
    /// 100-699), or returns false and sends nothing when a final response
    /// has been sent already.
    #[must_use]
    pub fn respond(&mut self, response: &Response, now: Instant, out: &mut Outputs) -> bool {
        if self.state != State::Trying && self.state != State::Proceeding {
            return false;
        }
        self.last_response = response.to_bytes();
        out.send(self.target, self.last_response.clone());
        let status = response.status;
        if status < 200 {
            self.state = State::Proceeding;
            return true;
        }
        self.final_status = Some(status);
        // §17.2.2: timer J absorbs retransmissions on UDP; zero on TCP.
        let j = self.timers.timer_j(self.target.transport.is_reliable());
        if self.armed.linger(now, j) {
            self.state = State::Completed;
        } else {
            self.terminate("no timer J on a reliable transport");
        }
        true
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Completed && self.armed.deadline_due(now) {
            self.terminate("timer J");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::TransactionError;

    #[test]
    fn retransmissions_absorbed_then_answered_until_timer_j() {
        let (mut h, id, req) = Harness::server("BYE", UAC_VIA_UDP, TO_TAGGED);
        assert_eq!(h.layer.poll_timeout(), None, "Trying waits for the TU");
        h.layer.handle_request(req.clone(), udp(UAC), h.at(500));
        assert!(h.events().is_empty(), "no second Request event");
        assert!(h.transmits().is_empty());

        h.respond(id, &req, 200, 1000);
        let ok = h.transmits();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].to, udp(UAC));
        assert_eq!(parse_response(&ok[0].bytes).status, 200);
        h.layer.handle_request(req.clone(), udp(UAC), h.at(1500));
        assert_eq!(h.transmits(), ok, "the 200 again");
        assert!(h.events().is_empty());

        assert_eq!(h.layer.poll_timeout(), Some(h.at(33_000)), "J = 64*T1");
        h.layer.handle_timeout(h.at(32_999));
        assert_eq!(h.layer.len(), 1);
        h.layer.handle_timeout(h.at(33_000));
        assert!(h.layer.is_empty());
        // After J, the same request is new again.
        h.request_in(&req, udp(UAC), 34_000);
    }

    #[test]
    fn provisional_is_resent_in_proceeding() {
        let (mut h, id, req) = Harness::server("BYE", UAC_VIA_UDP, TO_TAGGED);
        h.respond(id, &req, 100, 10);
        h.transmits();
        h.layer.handle_request(req, udp(UAC), h.at(500));
        assert_eq!(h.sent_statuses(), vec![100]);
    }

    #[test]
    fn tcp_final_ends_at_once() {
        let (mut h, id, req) = Harness::server("BYE", UAC_VIA_TCP, TO_TAGGED);
        h.respond(id, &req, 200, 10);
        assert_eq!(h.transmits()[0].to, tcp(UAC));
        assert!(h.layer.is_empty());
        assert_eq!(
            h.layer.respond(id, response(&req, 200), h.at(20)),
            Err(TransactionError::UnknownServerTransaction(id))
        );
    }

    #[test]
    fn second_final_is_refused() {
        let (mut h, id, req) = Harness::server("BYE", UAC_VIA_UDP, TO_TAGGED);
        h.respond(id, &req, 200, 0);
        assert_eq!(
            h.layer.respond(id, response(&req, 500), h.t0),
            Err(TransactionError::AlreadyFinal {
                id,
                sent: 200,
                attempted: 500
            })
        );
        assert_eq!(h.transmits().len(), 1);
    }
}
