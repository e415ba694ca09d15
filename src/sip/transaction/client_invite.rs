//! The INVITE client transaction (RFC 3261 §17.1.1, with the RFC 6026
//! Accepted state).
//!
//! ```text
//!            send_request
//!                 |  (timer A: UDP retransmissions, timer B: 64*T1)
//!              Calling ---1xx--> Proceeding
//!                 |                  |
//!        2xx -----+------------------+----- 300-699: ACK, timer D
//!         v                                    v
//!     Accepted (timer M)                  Completed (re-ACK retransmissions)
//!         |                                    |
//!         +------------> Terminated <----------+
//! ```

use std::time::Instant;

use tracing::debug;

use crate::sip::message::{Headers, Request, Response};
use crate::sip::transport::Peer;

use super::ack::ack_for_non_2xx;
use super::armed::Armed;
use super::event::{ClientTransactionId, TransactionEvent};
use super::label::{Label, Side};
use super::machine::Machine;
use super::output::Outputs;
use super::timers::{Backoff, TimerConfig};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Calling,
    Proceeding,
    Completed,
    Accepted,
    Terminated,
}

#[derive(Debug)]
pub(crate) struct ClientInvite {
    id: ClientTransactionId,
    state: State,
    label: Label,
    /// Kept to build the ACK (§17.1.1.3) and the CANCEL (§9.1).
    request: Request,
    /// The INVITE serialised once, for every retransmission.
    bytes: Vec<u8>,
    to: Peer,
    timers: TimerConfig,
    /// Timer A; timer B in Calling, the CANCEL guard in Proceeding, timer
    /// D in Completed, timer M in Accepted.
    armed: Armed,
    cancel_sent_at: Option<Instant>,
    /// The ACK for the non-2xx final, serialised once, for re-ACKing.
    ack: Vec<u8>,
    final_status: Option<u16>,
}

impl Machine for ClientInvite {
    fn armed(&self) -> &Armed {
        &self.armed
    }
}

impl ClientInvite {
    /// Arms timers A and B for an INVITE the layer has just sent as `bytes`.
    pub fn start(
        id: ClientTransactionId,
        request: Request,
        bytes: Vec<u8>,
        to: Peer,
        timers: TimerConfig,
        now: Instant,
    ) -> Self {
        // RFC 3261 §17.1.1.2: timer A only on unreliable transports; it
        // starts at T1 and doubles without a cap.
        let retransmit = Backoff::unless_reliable(to.transport.is_reliable(), now, timers.t1, None);
        let label = Label::started(Side::Client, &request, id, to);
        ClientInvite {
            id,
            state: State::Calling,
            label,
            request,
            bytes,
            to,
            timers,
            armed: Armed::new(retransmit, Some(now + timers.t1_x64())),
            cancel_sent_at: None,
            ack: Vec::new(),
            final_status: None,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn request(&self) -> &Request {
        &self.request
    }

    /// A CANCEL for this INVITE went out. RFC 3261 §9.1: if no final
    /// response arrives within 64*T1 of the CANCEL, the INVITE is given up
    /// (otherwise a UAS that never answers would keep it in Proceeding).
    pub fn cancel_sent(&mut self, now: Instant) {
        if self.cancel_sent_at.is_some() {
            return;
        }
        self.cancel_sent_at = Some(now);
        if self.state == State::Proceeding {
            self.armed.deadline = Some(now + self.timers.t1_x64());
        }
    }

    pub fn handle_response(&mut self, response: Response, now: Instant, out: &mut Outputs) {
        let status = response.status;
        match (self.state, status) {
            (State::Calling | State::Proceeding, 100..=199) => {
                if self.state == State::Calling {
                    // §17.1.1.2: a provisional response stops A and B.
                    self.state = State::Proceeding;
                    self.armed.retransmit = None;
                    self.armed.deadline = self.cancel_sent_at.map(|t| t + self.timers.t1_x64());
                }
                debug!(id = %self.id, status, "INVITE client transaction: provisional response");
                self.pass_up(response, out);
            }
            (State::Calling | State::Proceeding, 200..=299) => {
                // RFC 6026 §8.4: Accepted, so that 2xx retransmissions (and
                // 2xx from other forks) still reach the TU for ACKing.
                self.state = State::Accepted;
                self.armed.retransmit = None;
                self.armed.deadline = Some(now + self.timers.t1_x64());
                self.final_status = Some(status);
                self.release_request();
                debug!(id = %self.id, status, "INVITE client transaction accepted");
                self.pass_up(response, out);
            }
            (State::Calling | State::Proceeding, _) => {
                // §17.1.1.2: a 300-699 is ACKed by the transaction itself.
                self.ack = ack_for_non_2xx(&self.request, &response).to_bytes();
                self.release_request();
                out.send(self.to, self.ack.clone());
                self.armed.retransmit = None;
                self.final_status = Some(status);
                self.pass_up(response, out);
                let d = self.timers.timer_d(self.to.transport.is_reliable());
                if self.armed.linger(now, d) {
                    self.state = State::Completed;
                } else {
                    self.terminate("ACK sent");
                }
            }
            (State::Completed, 300..) => {
                debug!(id = %self.id, status, "retransmitted final response: re-sending ACK");
                out.send(self.to, self.ack.clone());
            }
            (State::Accepted, 200..=299) => {
                // RFC 6026 §8.4: every 2xx goes to the TU, which ACKs it.
                debug!(id = %self.id, status, "2xx in Accepted: passed to the TU");
                self.pass_up(response, out);
            }
            _ => debug!(id = %self.id, status, state = ?self.state, "response absorbed"),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant, out: &mut Outputs) {
        if self.armed.deadline_due(now) {
            let how = match self.state {
                State::Calling => "no final response (timer B)",
                State::Proceeding => "cancelled, but no final response within 64*T1 of the CANCEL",
                State::Completed => "ACK sent",
                State::Accepted => "2xx passed to the TU",
                State::Terminated => return,
            };
            if self.final_status.is_none() {
                // Timer B, or the CANCEL guard (§9.1): the TU hears of it.
                out.event(TransactionEvent::Timeout { id: self.id });
            }
            self.terminate(how);
            return;
        }
        if self.armed.retransmission_due(now, None) {
            debug!(id = %self.id, "timer A: retransmitting INVITE");
            out.send(self.to, self.bytes.clone());
        }
    }

    fn terminate(&mut self, how: &str) {
        self.state = State::Terminated;
        self.armed.end();
        self.label.ended(self.id, self.final_status, how);
    }

    /// After a final response the INVITE is never sent again, but the
    /// transaction lives on for 64·T1 (Accepted) or timer D (Completed):
    /// drop it (the label keeps what the log lines name), so thousands of
    /// recent calls do not hold their INVITEs in memory.
    fn release_request(&mut self) {
        self.bytes = Vec::new();
        self.request.body = Vec::new();
        self.request.headers = Headers::new();
    }

    fn pass_up(&self, response: Response, out: &mut Outputs) {
        out.event(TransactionEvent::Response {
            id: self.id,
            response,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{TransactionError, TransactionEvent};
    use crate::sip::message::{CSeq, HeaderName, Method};

    #[test]
    fn udp_timer_a_doubles_until_timer_b() {
        let (mut h, id, req) = Harness::client("INVITE", VIA_UDP);
        assert_eq!(h.layer.poll_timeout(), Some(h.at(500)));
        let times = h.resends_until(40_000, &req.to_bytes(), udp(UAS));
        // RFC 3261 §17.1.1.2: 0.5, 1, 2, 4, 8, 16 s apart; B = 64*T1.
        assert_eq!(times, vec![500, 1500, 3500, 7500, 15500, 31500]);
        assert_eq!(h.events(), vec![TransactionEvent::Timeout { id }]);
        assert!(h.layer.is_empty());
        assert_eq!(h.layer.poll_timeout(), None);
    }

    #[test]
    fn timeout_fires_exactly_at_timer_b() {
        let (mut h, id, _) = Harness::client("INVITE", VIA_UDP);
        h.layer.handle_timeout(h.at(31_999));
        h.transmits();
        assert!(h.events().is_empty());
        assert_eq!(h.layer.poll_timeout(), Some(h.at(32_000)));
        h.layer.handle_timeout(h.at(32_000));
        assert_eq!(h.events(), vec![TransactionEvent::Timeout { id }]);
    }

    #[test]
    fn a_late_wakeup_sends_one_retransmission_not_a_burst() {
        let (mut h, _, _) = Harness::client("INVITE", VIA_UDP);
        // The shell slept through A at 0.5, 1.5 and 3.5 s.
        h.layer.handle_timeout(h.at(4000));
        assert_eq!(h.transmits().len(), 1);
        assert_eq!(h.layer.poll_timeout(), Some(h.at(7500)), "schedule kept");
    }

    #[test]
    fn provisional_stops_retransmissions_and_timer_b() {
        let (mut h, _, req) = Harness::client("INVITE", VIA_UDP);
        let timer_a = h.resends_until(600, &req.to_bytes(), udp(UAS));
        assert_eq!(timer_a, vec![500]);
        h.uas_answers(&req, 180, 600);
        assert_eq!(h.statuses(), vec![180]);
        h.uas_answers(&req, 183, 700);
        assert_eq!(h.statuses(), vec![183]);
        assert_eq!(h.layer.poll_timeout(), None);
        assert!(h.run_times(h.at(100_000)).is_empty());
        assert!(h.events().is_empty());
        assert_eq!(h.layer.len(), 1, "Proceeding waits for the final");
    }

    #[test]
    fn non_2xx_final_is_acked_passed_up_once_and_absorbed_for_timer_d() {
        let (mut h, id, req) = Harness::client("INVITE", VIA_UDP);
        let trying = h.uas_answers(&req, 100, 100);
        let busy = h.uas_answers(&req, 486, 1000);
        assert_eq!(
            h.events(),
            vec![passed_up(id, &trying), passed_up(id, &busy)]
        );
        let sent = h.transmits();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to, udp(UAS));
        let ack = parse_request(&sent[0].bytes);
        assert_eq!(ack.method, Method::Ack);
        assert_eq!(ack.uri, req.uri);
        assert_eq!(ack.headers.to_tag().as_deref(), Some("b1"));
        assert_eq!(ack.headers.from_tag().as_deref(), Some("a1"));
        assert_eq!(
            ack.headers.top_via().unwrap().branch(),
            Some("z9hG4bKclient1")
        );
        assert_eq!(ack.headers.values(&HeaderName::Via).count(), 1);
        assert_eq!(
            ack.headers.cseq().unwrap(),
            CSeq {
                seq: 1,
                method: Method::Ack
            }
        );
        assert_eq!(
            ack.headers.get(&HeaderName::Route),
            Some("<sip:proxy.example.com;lr>")
        );

        // A retransmitted 486 is re-ACKed (same bytes) and not passed up.
        h.layer.handle_response(busy.clone(), udp(UAS), h.at(2000));
        let again = h.transmits();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].bytes, sent[0].bytes);
        assert!(h.events().is_empty());

        // No timer A after the final; timer D = 32 s from the 486.
        assert_eq!(h.layer.poll_timeout(), Some(h.at(33_000)));
        h.layer.handle_timeout(h.at(32_999));
        assert_eq!(h.layer.len(), 1);
        h.layer.handle_timeout(h.at(33_000));
        assert!(h.layer.is_empty());
        assert!(h.events().is_empty());
        assert!(h.transmits().is_empty());
        // After D, a late 486 is nobody's.
        h.stray(busy, udp(UAS), 34_000);
    }

    #[test]
    fn non_2xx_final_over_tcp_ends_at_once() {
        let (mut h, _, req) = Harness::client("INVITE", VIA_TCP);
        h.uas_answers(&req, 486, 1000);
        assert_eq!(h.statuses(), vec![486]);
        let sent = h.transmits();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to, tcp(UAS));
        assert_eq!(parse_request(&sent[0].bytes).method, Method::Ack);
        assert!(h.layer.is_empty());
        assert_eq!(h.layer.poll_timeout(), None);
    }

    #[test]
    fn two_xx_is_passed_up_with_retransmissions_during_timer_m() {
        let (mut h, id, req) = Harness::client("INVITE", VIA_UDP);
        let ok = h.uas_answers(&req, 200, 1000);
        assert_eq!(h.events(), vec![passed_up(id, &ok)]);
        assert!(h.transmits().is_empty(), "the TU ACKs a 2xx");
        h.layer.handle_response(ok.clone(), udp(UAS), h.at(1500));
        assert_eq!(h.statuses(), vec![200]);
        // A 2xx from another fork is the TU's too; a non-2xx is absorbed.
        let mut fork = ok.clone();
        fork.headers
            .set(HeaderName::To, "<sip:bob@example.com>;tag=other");
        h.layer.handle_response(fork, udp(UAS), h.at(1600));
        assert_eq!(h.statuses(), vec![200]);
        h.uas_answers(&req, 486, 1700);
        assert!(h.events().is_empty());
        assert!(h.run_times(h.at(32_999)).is_empty());
        assert_eq!(h.layer.len(), 1);
        h.layer.handle_timeout(h.at(33_000));
        assert!(h.layer.is_empty());
        h.stray(ok, udp(UAS), 34_000);
    }

    #[test]
    fn cancel_waits_for_a_provisional_and_matches_by_method() {
        let (mut h, id, req) = Harness::client("INVITE", VIA_UDP);
        assert_eq!(
            h.layer.cancel_request(id),
            None,
            "RFC 3261 §9.1: not before a 1xx"
        );
        h.uas_answers(&req, 180, 300);
        h.events();
        let cancel = h.layer.cancel_request(id).unwrap();
        assert_eq!(cancel.method, Method::Cancel);
        assert_eq!(cancel.headers.get(&HeaderName::CSeq), Some("1 CANCEL"));
        assert_eq!(
            cancel.headers.top_via().unwrap().branch(),
            Some("z9hG4bKclient1")
        );
        let cid = h
            .layer
            .send_request(cancel.clone(), udp(UAS), h.at(400))
            .unwrap();
        assert_ne!(cid, id);
        assert_eq!(h.transmits().len(), 1);

        // The 200 for the CANCEL and the 487 for the INVITE share a branch;
        // the CSeq method tells them apart (§17.1.3).
        h.uas_answers(&cancel, 200, 500);
        h.uas_answers(&req, 487, 600);
        let ev = h.events();
        assert!(
            matches!(&ev[0], TransactionEvent::Response { id: i, response } if *i == cid && response.status == 200)
        );
        assert!(
            matches!(&ev[1], TransactionEvent::Response { id: i, response } if *i == id && response.status == 487)
        );
        assert_eq!(parse_request(&h.transmits()[0].bytes).method, Method::Ack);
        assert_eq!(h.layer.cancel_request(id), None, "final already received");
        h.run_until(h.at(60_000));
        assert!(h.layer.is_empty());
    }

    #[test]
    fn cancelled_invite_without_final_times_out_64_t1_after_the_cancel() {
        let (mut h, id, req) = Harness::client("INVITE", VIA_UDP);
        h.uas_answers(&req, 180, 300);
        let cancel = h.layer.cancel_request(id).unwrap();
        h.layer
            .send_request(cancel.clone(), udp(UAS), h.at(1000))
            .unwrap();
        h.uas_answers(&cancel, 200, 1100);
        h.events();
        h.run_until(h.at(32_999));
        assert!(h.events().is_empty());
        h.layer.handle_timeout(h.at(33_000));
        assert_eq!(h.events(), vec![TransactionEvent::Timeout { id }]);
        h.run_until(h.at(60_000));
        assert!(h.layer.is_empty());
    }

    #[test]
    fn ack_cannot_start_a_transaction() {
        let mut h = Harness::new();
        let ack = request("ACK", VIA_UDP, TO);
        assert_eq!(
            h.layer.send_request(ack, udp(UAS), h.t0),
            Err(TransactionError::AckNotAllowed)
        );
    }
}
