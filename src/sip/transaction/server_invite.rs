//! The INVITE server transaction (RFC 3261 §17.2.1, with the RFC 6026
//! Accepted state).
//!
//! ```text
//!      INVITE received (100 Trying after 200 ms if the TU is silent)
//!                 Proceeding ---- 2xx ----> Accepted (timer L)
//!                     |                        |
//!                  300-699                     |
//!                     v                        |
//!       Completed (timer G: UDP, timer H)      |
//!                     | ACK                    |
//!                     v                        |
//!             Confirmed (timer I) ----> Terminated
//! ```

use std::time::Instant;

use tracing::debug;

use crate::sip::message::{Request, Response};
use crate::sip::transport::Peer;

use super::armed::Armed;
use super::event::{ServerTransactionId, TransactionEvent};
use super::label::{Label, Side};
use super::machine::Machine;
use super::output::Outputs;
use super::timers::{Backoff, TimerConfig, TRYING_DELAY};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

/// What to do with an ACK that matched this transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AckDisposition {
    Absorbed,
    /// RFC 6026 §8.7: an ACK matching an Accepted transaction is the TU's.
    PassUp,
}

#[derive(Debug)]
pub(crate) struct ServerInvite {
    id: ServerTransactionId,
    state: State,
    label: Label,
    /// Where responses go (RFC 3261 §18.2.2), worked out once.
    target: Peer,
    timers: TimerConfig,
    /// The 100 Trying the transaction sends itself if the TU is still
    /// silent at the Proceeding deadline.
    trying: Option<Response>,
    /// The last response sent, serialised once: the provisional re-sent on
    /// INVITE retransmissions, then the final re-sent by timer G.
    last_response: Vec<u8>,
    final_status: Option<u16>,
    /// Timer G; the 100 Trying moment in Proceeding, timer H in Completed,
    /// I in Confirmed, L in Accepted.
    armed: Armed,
}

impl Machine for ServerInvite {
    fn armed(&self) -> &Armed {
        &self.armed
    }
}

impl ServerInvite {
    pub fn new(
        id: ServerTransactionId,
        request: &Request,
        target: Peer,
        timers: TimerConfig,
        now: Instant,
    ) -> Self {
        let label = Label::started(Side::Server, request, id, target);
        ServerInvite {
            id,
            state: State::Proceeding,
            label,
            target,
            timers,
            trying: Some(Response::for_request(request, 100, None)),
            last_response: Vec::new(),
            final_status: None,
            // RFC 3261 §17.2.1: 100 Trying unless the TU answers within 200 ms.
            armed: Armed::new(None, Some(now + TRYING_DELAY)),
        }
    }

    fn terminate(&mut self, how: &str) {
        self.state = State::Terminated;
        self.armed.end();
        self.trying = None;
        self.label.ended(self.id, self.final_status, how);
    }

    /// The final response sent, if any.
    pub fn final_status(&self) -> Option<u16> {
        self.final_status
    }

    /// The INVITE arrived again.
    pub fn handle_retransmission(&mut self, out: &mut Outputs) {
        match self.state {
            // §17.2.1: re-send the most recent provisional, if any; in
            // Completed, the final.
            State::Proceeding | State::Completed if !self.last_response.is_empty() => {
                debug!(id = %self.id, "INVITE retransmission: re-sending last response");
                out.send(self.target, self.last_response.clone());
            }
            // Confirmed, and RFC 6026 Accepted (timer L): absorbed.
            _ => debug!(id = %self.id, state = ?self.state, "INVITE retransmission absorbed"),
        }
    }

    pub fn handle_ack(&mut self, now: Instant) -> AckDisposition {
        match self.state {
            State::Completed => {
                // §17.2.1: the ACK stops G and H; timer I absorbs further ACKs.
                self.armed.retransmit = None;
                let i = self
                    .timers
                    .t4_unless_reliable(self.target.transport.is_reliable());
                if self.armed.linger(now, i) {
                    self.state = State::Confirmed;
                    debug!(id = %self.id, "ACK received: Confirmed");
                } else {
                    self.terminate("ACK received");
                }
                AckDisposition::Absorbed
            }
            State::Accepted => AckDisposition::PassUp,
            _ => {
                debug!(id = %self.id, state = ?self.state, "ACK absorbed");
                AckDisposition::Absorbed
            }
        }
    }

    /// Sends the TU's response (the caller has checked that the status is
    /// 100-699), or returns false and sends nothing when a final response
    /// has been sent already and `response` may not follow it.
    #[must_use]
    pub fn respond(&mut self, response: &Response, now: Instant, out: &mut Outputs) -> bool {
        let status = response.status;
        match (self.state, status) {
            (State::Proceeding, 100..=199) => {
                // The TU spoke: no 100 Trying of the transaction's own.
                self.trying = None;
                self.armed.deadline = None;
                self.last_response = response.to_bytes();
                out.send(self.target, self.last_response.clone());
            }
            (State::Proceeding, 200..=299) => {
                // RFC 6026 §8.5: Accepted; the TU retransmits the 2xx and
                // timer L absorbs INVITE retransmissions meanwhile.
                self.trying = None;
                self.final_status = Some(status);
                out.send(self.target, response.to_bytes());
                self.last_response = Vec::new();
                self.state = State::Accepted;
                self.armed.deadline = Some(now + self.timers.t1_x64());
            }
            (State::Proceeding, _) => {
                self.trying = None;
                self.final_status = Some(status);
                self.last_response = response.to_bytes();
                out.send(self.target, self.last_response.clone());
                self.state = State::Completed;
                // §17.2.1: timer G (UDP) from T1 doubling up to T2; timer H.
                let reliable = self.target.transport.is_reliable();
                let (t1, t2) = (self.timers.t1, self.timers.t2);
                self.armed.retransmit = Backoff::unless_reliable(reliable, now, t1, Some(t2));
                self.armed.deadline = Some(now + self.timers.t1_x64());
            }
            (State::Accepted, 200..=299) => {
                // RFC 6026 §8.5: the TU's 2xx retransmissions pass through
                // the Accepted transaction to the transport.
                debug!(id = %self.id, status, "2xx retransmission from the TU");
                out.send(self.target, response.to_bytes());
            }
            _ => return false,
        }
        true
    }

    pub fn handle_timeout(&mut self, now: Instant, out: &mut Outputs) {
        if self.armed.deadline_due(now) {
            let how = match self.state {
                State::Proceeding => {
                    self.armed.deadline = None;
                    if let Some(trying) = self.trying.take() {
                        debug!(id = %self.id, "TU silent for 200 ms: sending 100 Trying");
                        self.last_response = trying.to_bytes();
                        out.send(self.target, self.last_response.clone());
                    }
                    return;
                }
                State::Completed => {
                    out.event(TransactionEvent::AckTimeout { id: self.id });
                    "no ACK (timer H)"
                }
                State::Confirmed => "ACK received",
                State::Accepted => "2xx handed to the TU",
                State::Terminated => return,
            };
            self.terminate(how);
            return;
        }
        if self.armed.retransmission_due(now, None) {
            debug!(id = %self.id, "timer G: retransmitting final response");
            out.send(self.target, self.last_response.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{ServerTransactionId, TransactionError, TransactionEvent};
    use crate::sip::message::HeaderName;

    #[test]
    fn sends_100_trying_after_200_ms_of_tu_silence() {
        let (mut h, _, req) = Harness::server("INVITE", UAC_VIA_UDP, TO);
        assert_eq!(h.layer.poll_timeout(), Some(h.at(200)));
        h.layer.handle_timeout(h.at(199));
        assert!(h.transmits().is_empty());
        let sent = h.run_until(h.at(200));
        assert_eq!(sent.len(), 1);
        let (t, trying) = &sent[0];
        assert_eq!(*t, 200);
        assert_eq!(trying.to, udp(UAC));
        let trying = parse_response(&trying.bytes);
        assert_eq!(trying.status, 100);
        assert_eq!(trying.headers.to_tag(), None);
        assert_eq!(trying.headers.get(&HeaderName::Via), Some(UAC_VIA_UDP));
        // A retransmitted INVITE gets the 100 again, and no new event.
        h.layer.handle_request(req, udp(UAC), h.at(500));
        assert_eq!(h.sent_statuses(), vec![100]);
        assert!(h.events().is_empty());
        assert_eq!(h.layer.poll_timeout(), None, "Proceeding has no timer");
    }

    #[test]
    fn retransmitted_invite_gets_the_last_provisional_and_no_own_trying() {
        let (mut h, id, req) = Harness::server("INVITE", UAC_VIA_UDP, TO);
        // Before any provisional the retransmission is absorbed.
        h.layer.handle_request(req.clone(), udp(UAC), h.at(20));
        assert!(h.transmits().is_empty());
        h.respond(id, &req, 180, 50);
        assert_eq!(h.sent_statuses(), vec![180]);
        assert!(
            h.run_times(h.at(10_000)).is_empty(),
            "no 100 after the TU spoke"
        );
        h.respond(id, &req, 183, 60);
        h.transmits();
        h.layer.handle_request(req, udp(UAC), h.at(600));
        assert_eq!(h.sent_statuses(), vec![183]);
        assert!(h.events().is_empty());
    }

    #[test]
    fn non_2xx_final_is_retransmitted_on_timer_g_until_the_ack() {
        let (mut h, id, req) = Harness::server("INVITE", UAC_VIA_UDP, TO);
        h.respond(id, &req, 480, 1000);
        let first = h.transmits();
        assert_eq!(parse_response(&first[0].bytes).status, 480);
        let times = h.resends_until(13_000, &first[0].bytes, udp(UAC));
        // RFC 3261 §17.2.1: T1 doubling, capped at T2.
        assert_eq!(times, vec![1500, 2500, 4500, 8500, 12500]);
        // An INVITE retransmission in Completed gets the final too.
        h.layer.handle_request(req.clone(), udp(UAC), h.at(13_000));
        assert_eq!(h.sent_statuses(), vec![480]);

        let ack = request("ACK", UAC_VIA_UDP, TO_TAGGED);
        h.layer.handle_request(ack.clone(), udp(UAC), h.at(13_100));
        assert!(h.events().is_empty(), "the ACK for a non-2xx is absorbed");
        // G stopped; I = T4 absorbs further ACKs, then the transaction ends.
        assert_eq!(h.layer.poll_timeout(), Some(h.at(18_100)));
        h.layer.handle_request(ack, udp(UAC), h.at(14_000));
        assert!(h.events().is_empty());
        assert!(h.run_times(h.at(18_100)).is_empty());
        assert!(h.layer.is_empty());
        assert!(h.events().is_empty());
    }

    #[test]
    fn missing_ack_is_reported_at_timer_h() {
        let (mut h, id, req) = Harness::server("INVITE", UAC_VIA_UDP, TO);
        h.respond(id, &req, 480, 0);
        let final_480 = h.transmits().remove(0).bytes;
        assert_eq!(
            h.resends_until(40_000, &final_480, udp(UAC)),
            vec![500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
        );
        assert_eq!(h.events(), vec![TransactionEvent::AckTimeout { id }]);
        assert!(h.layer.is_empty());
    }

    #[test]
    fn tcp_has_no_timer_g_and_no_timer_i() {
        let (mut h, id, req) = Harness::server("INVITE", UAC_VIA_TCP, TO);
        h.respond(id, &req, 480, 0);
        let sent = h.transmits();
        assert_eq!(sent[0].to, tcp(UAC), "same connection");
        assert_eq!(h.layer.poll_timeout(), Some(h.at(32_000)), "only timer H");
        let ack = request("ACK", UAC_VIA_TCP, TO_TAGGED);
        h.layer.handle_request(ack, tcp(UAC), h.at(100));
        assert!(h.events().is_empty());
        assert!(h.transmits().is_empty());
        assert!(h.layer.is_empty());
        assert_eq!(h.layer.poll_timeout(), None);
    }

    #[test]
    fn tcp_missing_ack_still_times_out() {
        let (mut h, id, req) = Harness::server("INVITE", UAC_VIA_TCP, TO);
        h.respond(id, &req, 603, 0);
        h.transmits();
        h.ends_silently_with(40_000, TransactionEvent::AckTimeout { id });
    }

    #[test]
    fn two_xx_enters_accepted_absorbing_invite_retransmissions_for_timer_l() {
        let (mut h, id, req) = Harness::server("INVITE", UAC_VIA_UDP, TO);
        h.respond(id, &req, 200, 100);
        assert_eq!(h.sent_statuses(), vec![200]);
        h.layer.handle_request(req.clone(), udp(UAC), h.at(600));
        assert!(
            h.transmits().is_empty(),
            "2xx retransmission is the TU's job"
        );
        assert!(h.events().is_empty());
        // RFC 6026 §8.5: the TU's 2xx retransmissions go through.
        h.respond(id, &req, 200, 600);
        assert_eq!(h.transmits().len(), 1);
        assert!(matches!(
            h.layer.respond(id, response(&req, 486), h.at(700)),
            Err(TransactionError::AlreadyFinal {
                sent: 200,
                attempted: 486,
                ..
            })
        ));
        // The ACK for the 2xx has its own branch: the dialog layer's.
        let via = "SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKuac2";
        let ack = request("ACK", via, TO_TAGGED);
        h.layer.handle_request(ack.clone(), udp(UAC), h.at(800));
        let passed = TransactionEvent::Ack {
            request: ack,
            from: udp(UAC),
        };
        assert_eq!(h.events(), vec![passed]);
        assert!(h.run_times(h.at(32_099)).is_empty());
        assert_eq!(h.layer.len(), 1);
        h.layer.handle_timeout(h.at(32_100));
        assert!(h.layer.is_empty());
    }

    #[test]
    fn respond_refuses_a_second_final_and_bad_input() {
        let (mut h, id, req) = Harness::server("INVITE", UAC_VIA_UDP, TO);
        assert_eq!(
            h.layer.respond(id, response(&req, 99), h.t0),
            Err(TransactionError::InvalidStatus(99))
        );
        h.respond(id, &req, 486, 0);
        let err = h.layer.respond(id, response(&req, 486), h.t0).unwrap_err();
        assert_eq!(
            err,
            TransactionError::AlreadyFinal {
                id,
                sent: 486,
                attempted: 486
            }
        );
        assert!(err.to_string().contains("already sent final response 486"));
        assert!(matches!(
            h.layer.respond(id, response(&req, 180), h.t0),
            Err(TransactionError::AlreadyFinal { .. })
        ));
        let unknown = ServerTransactionId(999);
        assert_eq!(
            h.layer.respond(unknown, response(&req, 200), h.t0),
            Err(TransactionError::UnknownServerTransaction(unknown))
        );
        // Exactly one 486 went out.
        assert_eq!(h.transmits().len(), 1);
    }

    #[test]
    fn responses_follow_rport_to_the_source_port() {
        let mut h = Harness::new();
        let via = "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKnat;rport=40123;received=198.51.100.7";
        let req = request("INVITE", via, TO);
        let (id, cancels) = h.request_in(&req, udp("198.51.100.7:40123"), 0);
        assert_eq!(cancels, None);
        h.respond(id, &req, 180, 0);
        assert_eq!(h.transmits()[0].to, udp("198.51.100.7:40123"));
    }
}
