//! The RFC 3261 §17 transaction layer, sans-IO.
//!
//! [`TransactionLayer`] never touches a socket or reads the clock: the shell
//! feeds it parsed messages and the current time (`handle_request`,
//! `handle_response`, `handle_timeout`), the transaction user (TU) feeds it
//! responses and new requests (`respond`, `send_request`), and both drain
//! its outputs (`poll_transmit`, `poll_event`, `poll_timeout`).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use pbxgate::sip::transaction::{TimerConfig, TransactionLayer};
//!
//! let mut layer = TransactionLayer::new(TimerConfig::default());
//! let now = Instant::now();
//! // ... layer.handle_request(req, from, now) for each datagram ...
//! while let Some(_transmit) = layer.poll_transmit() { /* write to the socket */ }
//! while let Some(_event) = layer.poll_event() { /* hand to the TU */ }
//! if let Some(at) = layer.poll_timeout() { /* sleep until `at`, then: */ layer.handle_timeout(at) }
//! assert!(layer.is_empty());
//! # let _ = Duration::ZERO;
//! ```

mod ack;
mod armed;
mod cancel;
mod client_invite;
mod client_non_invite;
mod error;
mod event;
mod key;
mod label;
mod machine;
mod output;
mod server_invite;
mod server_non_invite;
mod state;
mod timer_queue;
mod timers;

#[cfg(test)]
mod test_support;

pub use ack::ack_for_non_2xx;
pub use cancel::cancel_for;
pub use error::TransactionError;
pub use event::{ClientTransactionId, ServerTransactionId, TransactionEvent};
pub use timers::{TimerConfig, TRYING_DELAY};

use std::collections::HashMap;
use std::time::Instant;

use tracing::debug;

use crate::sip::message::{Method, Request, Response};
use crate::sip::transport::{response_target, Peer, Transmit};

use client_invite::ClientInvite;
use client_non_invite::ClientNonInvite;
use key::{ClientKey, ServerKey};
use machine::{Kind, Machine};
use output::Outputs;
use server_invite::{AckDisposition, ServerInvite};
use server_non_invite::ServerNonInvite;
use timer_queue::{TimerQueue, TimerSlot, TxRef};

/// All live transactions of one SIP endpoint, the keys that find them, and
/// their timers.
#[derive(Debug)]
pub struct TransactionLayer {
    timers: TimerConfig,
    next_id: u64,
    servers: HashMap<ServerTransactionId, ServerEntry>,
    server_keys: HashMap<ServerKey, ServerTransactionId>,
    clients: HashMap<ClientTransactionId, ClientEntry>,
    client_keys: HashMap<ClientKey, ClientTransactionId>,
    queue: TimerQueue,
    out: Outputs,
}

#[derive(Debug)]
struct ServerEntry {
    machine: ServerMachine,
    key: ServerKey,
    /// RFC 2543 only: the key the ACK for our non-2xx final will carry.
    ack_alias: Option<ServerKey>,
    timer: TimerSlot,
}

type ServerMachine = Kind<ServerInvite, ServerNonInvite>;

#[derive(Debug)]
struct ClientEntry {
    machine: ClientMachine,
    key: ClientKey,
    timer: TimerSlot,
}

type ClientMachine = Kind<ClientInvite, ClientNonInvite>;

impl ServerMachine {
    fn handle_timeout(&mut self, now: Instant, out: &mut Outputs) {
        match self {
            ServerMachine::Invite(m) => m.handle_timeout(now, out),
            ServerMachine::NonInvite(m) => m.handle_timeout(now),
        }
    }
}

impl ClientMachine {
    fn handle_timeout(&mut self, now: Instant, out: &mut Outputs) {
        match self {
            ClientMachine::Invite(m) => m.handle_timeout(now, out),
            ClientMachine::NonInvite(m) => m.handle_timeout(now, out),
        }
    }
}

impl TransactionLayer {
    pub fn new(timers: TimerConfig) -> Self {
        TransactionLayer {
            timers,
            next_id: 1,
            servers: HashMap::new(),
            server_keys: HashMap::new(),
            clients: HashMap::new(),
            client_keys: HashMap::new(),
            queue: TimerQueue::default(),
            out: Outputs::default(),
        }
    }

    /// A request parsed from the network; `from` is where it came from (the
    /// shell has already stamped received/rport).
    pub fn handle_request(&mut self, request: Request, from: Peer, now: Instant) {
        let (key, via) = match ServerKey::for_request(&request) {
            Ok(k) => k,
            Err(reason) => {
                // Validation refuses such requests before they get here.
                debug!(%from, method = %request.method, %reason, "request without a usable top Via or CSeq dropped");
                return;
            }
        };
        let existing = self.server_keys.get(&key).copied();

        if request.method == Method::Ack {
            // §17.2.3: an ACK with the INVITE's branch (or, RFC 2543, the
            // To tag of our final) belongs to that INVITE's transaction.
            if let Some(id) = existing {
                if let Some(ServerEntry {
                    machine: ServerMachine::Invite(m),
                    ..
                }) = self.servers.get_mut(&id)
                {
                    if m.handle_ack(now) == AckDisposition::PassUp {
                        self.out.event(TransactionEvent::Ack { request, from });
                    }
                    self.after_server(id);
                    return;
                }
            }
            debug!(%from, call_id = request.headers.call_id().unwrap_or(""), "ACK matched no INVITE server transaction: passed to the dialog layer");
            self.out.event(TransactionEvent::Ack { request, from });
            return;
        }

        if let Some(id) = existing {
            if let Some(entry) = self.servers.get_mut(&id) {
                match &mut entry.machine {
                    ServerMachine::Invite(m) => m.handle_retransmission(&mut self.out),
                    ServerMachine::NonInvite(m) => m.handle_retransmission(&mut self.out),
                }
            }
            self.after_server(id);
            return;
        }

        // §9.2: a CANCEL carries the INVITE's matching data, method aside.
        let cancels = if request.method == Method::Cancel {
            self.server_keys.get(&key.cancelled_invite()).copied()
        } else {
            None
        };
        let id = ServerTransactionId(self.take_id());
        let target = response_target(&from, Some(&via));
        let machine = if request.method == Method::Invite {
            ServerMachine::Invite(ServerInvite::new(id, &request, target, self.timers, now))
        } else {
            ServerMachine::NonInvite(ServerNonInvite::new(id, &request, target, self.timers))
        };
        self.server_keys.insert(key.clone(), id);
        self.servers.insert(
            id,
            ServerEntry {
                machine,
                key,
                ack_alias: None,
                timer: TimerSlot::default(),
            },
        );
        self.out.event(TransactionEvent::Request {
            id,
            request,
            from,
            cancels,
        });
        self.after_server(id);
    }

    /// A response parsed from the network.
    pub fn handle_response(&mut self, response: Response, from: Peer, now: Instant) {
        if !(100..=699).contains(&response.status) {
            debug!(%from, status = response.status, "response with a status outside 100-699 dropped");
            return;
        }
        let id = match ClientKey::for_response(&response) {
            Ok(key) => self.client_keys.get(&key).copied(),
            Err(reason) => {
                debug!(%from, %reason, "response without a usable top Via branch or CSeq");
                None
            }
        };
        let Some((id, entry)) = id.and_then(|id| Some((id, self.clients.get_mut(&id)?))) else {
            debug!(%from, status = response.status, "response matched no client transaction");
            self.out
                .event(TransactionEvent::StrayResponse { response, from });
            return;
        };
        match &mut entry.machine {
            ClientMachine::Invite(m) => m.handle_response(response, now, &mut self.out),
            ClientMachine::NonInvite(m) => m.handle_response(response, now, &mut self.out),
        }
        self.after_client(id);
    }

    /// The TU answers a server transaction.
    ///
    /// A second final is refused, except that a 2xx may be repeated on an
    /// INVITE transaction: RFC 6026 §8.5 sends the TU's 2xx retransmissions
    /// through the Accepted transaction.
    pub fn respond(
        &mut self,
        id: ServerTransactionId,
        response: Response,
        now: Instant,
    ) -> Result<(), TransactionError> {
        if !(100..=699).contains(&response.status) {
            return Err(TransactionError::InvalidStatus(response.status));
        }
        let entry = self
            .servers
            .get_mut(&id)
            .ok_or(TransactionError::UnknownServerTransaction(id))?;
        let (taken, sent) = match &mut entry.machine {
            ServerMachine::Invite(m) => {
                (m.respond(&response, now, &mut self.out), m.final_status())
            }
            ServerMachine::NonInvite(m) => {
                (m.respond(&response, now, &mut self.out), m.final_status())
            }
        };
        if !taken {
            return Err(TransactionError::AlreadyFinal {
                id,
                sent: sent.unwrap_or_default(),
                attempted: response.status,
            });
        }
        let invite = matches!(entry.machine, ServerMachine::Invite(_));
        if invite && response.status >= 300 && entry.key.is_rfc2543() {
            entry.ack_alias = entry.key.ack_alias(response.headers.to_tag().as_deref());
            if let Some(alias) = &entry.ack_alias {
                self.server_keys.insert(alias.clone(), id);
            }
        }
        self.after_server(id);
        Ok(())
    }

    /// Starts a client transaction (INVITE or non-INVITE; never ACK) toward
    /// `to`. The request must carry a top Via with a unique RFC 3261 branch
    /// and a CSeq naming its method.
    pub fn send_request(
        &mut self,
        request: Request,
        to: Peer,
        now: Instant,
    ) -> Result<ClientTransactionId, TransactionError> {
        let method = request.method.clone();
        if method == Method::Ack {
            return Err(TransactionError::AckNotAllowed);
        }
        let no_branch = |reason| TransactionError::MissingBranch {
            method: method.clone(),
            reason,
        };
        let via = request.headers.top_via().map_err(no_branch)?;
        let branch = match via.branch() {
            Some(b) if via.has_rfc3261_branch() => b,
            Some(b) => {
                let why =
                    format!("branch '{b}' does not start with z9hG4bK followed by a unique part");
                return Err(no_branch(why));
            }
            None => return Err(no_branch("the top Via has no branch parameter".into())),
        };
        let bad_cseq = |reason| TransactionError::BadCSeq {
            method: method.clone(),
            reason,
        };
        let cseq = request.headers.cseq().map_err(bad_cseq)?;
        if cseq.method != method {
            let why = format!("its method {} is not the request method", cseq.method);
            return Err(bad_cseq(why));
        }
        let key = ClientKey {
            branch: branch.into(),
            method,
        };
        if let Some(&existing) = self.client_keys.get(&key) {
            return Err(TransactionError::DuplicateBranch {
                method: key.method,
                branch: key.branch.into(),
                existing,
            });
        }

        if key.method == Method::Cancel {
            let invite_key = ClientKey {
                branch: key.branch.clone(),
                method: Method::Invite,
            };
            if let Some(&invite_id) = self.client_keys.get(&invite_key) {
                if let Some(ClientEntry {
                    machine: ClientMachine::Invite(m),
                    ..
                }) = self.clients.get_mut(&invite_id)
                {
                    m.cancel_sent(now);
                }
                self.after_client(invite_id);
            }
        }

        let id = ClientTransactionId(self.take_id());
        // Sent once here; the machine keeps the bytes for retransmissions.
        let bytes = request.to_bytes();
        self.out.send(to, bytes.clone());
        let timers = self.timers;
        let machine = if key.method == Method::Invite {
            ClientMachine::Invite(ClientInvite::start(id, request, bytes, to, timers, now))
        } else {
            ClientMachine::NonInvite(ClientNonInvite::start(id, &request, bytes, to, timers, now))
        };
        self.client_keys.insert(key.clone(), id);
        self.clients.insert(
            id,
            ClientEntry {
                machine,
                key,
                timer: TimerSlot::default(),
            },
        );
        self.after_client(id);
        Ok(id)
    }

    /// Queues bytes outside any transaction (the ACK for a 2xx, stateless
    /// answers).
    pub fn send_stateless(&mut self, to: Peer, bytes: Vec<u8>) {
        self.out.send(to, bytes);
    }

    /// The CANCEL for an INVITE client transaction (RFC 3261 §9.1), to be
    /// sent with `send_request`. `None` when the transaction is unknown or
    /// ended, is not an INVITE, already has a final response, or has had no
    /// provisional response yet: §9.1 forbids sending a CANCEL before one,
    /// so the TU asks again when the first 1xx arrives (or lets timer B end
    /// the INVITE).
    pub fn cancel_request(&self, id: ClientTransactionId) -> Option<Request> {
        match &self.clients.get(&id)?.machine {
            ClientMachine::Invite(m) if m.state() == client_invite::State::Proceeding => {
                Some(cancel_for(m.request()))
            }
            _ => None,
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((tx, generation)) = self.queue.pop_due(now) {
            match tx {
                TxRef::Server(id) => {
                    if let Some(e) = self.servers.get_mut(&id) {
                        if e.timer.fire(generation) {
                            e.machine.handle_timeout(now, &mut self.out);
                            self.after_server(id);
                        }
                    }
                }
                TxRef::Client(id) => {
                    if let Some(e) = self.clients.get_mut(&id) {
                        if e.timer.fire(generation) {
                            e.machine.handle_timeout(now, &mut self.out);
                            self.after_client(id);
                        }
                    }
                }
            }
        }
        self.prune();
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<TransactionEvent> {
        self.out.events.pop_front()
    }

    /// The earliest pending timer, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.queue.peek().map(|(at, _, _)| at)
    }

    /// Live transactions (server and client).
    pub fn len(&self) -> usize {
        self.servers.len() + self.clients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// After a server machine ran: remove it if it ended, else keep its
    /// deadline in the queue.
    fn after_server(&mut self, id: ServerTransactionId) {
        let Some(entry) = self.servers.get_mut(&id) else {
            return;
        };
        if entry.machine.armed().has_ended() {
            if let Some(entry) = self.servers.remove(&id) {
                for key in std::iter::once(&entry.key).chain(entry.ack_alias.as_ref()) {
                    if self.server_keys.get(key) == Some(&id) {
                        self.server_keys.remove(key);
                    }
                }
            }
        } else {
            let deadline = entry.machine.armed().next();
            self.queue
                .schedule(TxRef::Server(id), &mut entry.timer, deadline);
        }
        self.prune();
    }

    fn after_client(&mut self, id: ClientTransactionId) {
        let Some(entry) = self.clients.get_mut(&id) else {
            return;
        };
        if entry.machine.armed().has_ended() {
            if let Some(entry) = self.clients.remove(&id) {
                if self.client_keys.get(&entry.key) == Some(&id) {
                    self.client_keys.remove(&entry.key);
                }
            }
        } else {
            let deadline = entry.machine.armed().next();
            self.queue
                .schedule(TxRef::Client(id), &mut entry.timer, deadline);
        }
        self.prune();
    }

    /// Drops stale entries from the top of the queue so that
    /// `poll_timeout` names a deadline that will do something.
    fn prune(&mut self) {
        while let Some((_, tx, generation)) = self.queue.peek() {
            let live = match tx {
                TxRef::Server(id) => self
                    .servers
                    .get(&id)
                    .is_some_and(|e| e.timer.is_current(generation)),
                TxRef::Client(id) => self
                    .clients
                    .get(&id)
                    .is_some_and(|e| e.timer.is_current(generation)),
            };
            if live {
                break;
            }
            self.queue.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use crate::sip::message::HeaderName;

    /// A `method` request from the UAC whose top Via has `branch`.
    fn from_uac(method: &str, branch: &str) -> Request {
        let via = format!("SIP/2.0/UDP 198.51.100.7:5060;branch={branch}");
        request(method, &via, TO)
    }

    #[test]
    fn same_branch_from_another_sent_by_is_another_transaction() {
        let mut h = Harness::new();
        let a = from_uac("OPTIONS", "z9hG4bKsame");
        let b = request(
            "OPTIONS",
            "SIP/2.0/UDP 198.51.100.8:5060;branch=z9hG4bKsame",
            TO,
        );
        h.request_in(&a, udp(UAC), 0);
        h.request_in(&b, udp("198.51.100.8:5060"), 0);
        assert_eq!(h.layer.len(), 2);
        // ... and a different method with the same branch is too (§17.2.3).
        h.request_in(&from_uac("BYE", "z9hG4bKsame"), udp(UAC), 0);
        h.layer.handle_request(a, udp(UAC), h.at(10));
        assert!(h.events().is_empty(), "a retransmission");
    }

    #[test]
    fn reused_branch_with_another_call_id_or_cseq_is_another_transaction() {
        let mut h = Harness::new();
        let a = from_uac("OPTIONS", "z9hG4bKreused");
        let mut b = a.clone();
        b.headers
            .set(HeaderName::CallId, "another-call@198.51.100.7");
        let mut c = a.clone();
        c.headers.set(HeaderName::CSeq, "2 OPTIONS");
        // Each is a new transaction, with a Request event of its own.
        for req in [&a, &b, &c] {
            h.request_in(req, udp(UAC), 0);
        }
        h.layer.handle_request(a, udp(UAC), h.at(10));
        assert!(
            h.events().is_empty(),
            "a true retransmission is still absorbed"
        );
    }

    #[test]
    fn rfc2543_request_without_cookie_is_matched_and_its_ack_absorbed() {
        let mut h = Harness::new();
        let via = "SIP/2.0/UDP 198.51.100.7:5060";
        let invite = request("INVITE", via, TO);
        let (id, _) = h.request_in(&invite, udp(UAC), 0);
        h.layer.handle_request(invite.clone(), udp(UAC), h.at(500));
        assert!(
            h.events().is_empty(),
            "retransmission matched on the RFC 2543 fields"
        );

        h.layer
            .respond(
                id,
                Response::for_request(&invite, 486, Some("uas9")),
                h.at(600),
            )
            .unwrap();
        h.transmits();
        // RFC 2543 ACK: same R-URI, From tag, Call-ID, CSeq number and top
        // Via; the To tag is the one of our 486.
        let ack = request("ACK", via, "<sip:bob@example.com>;tag=uas9");
        // An ACK with another To tag is not ours.
        let mut other = ack.clone();
        other
            .headers
            .set(HeaderName::To, "<sip:bob@example.com>;tag=nope");
        h.layer.handle_request(other, udp(UAC), h.at(700));
        assert!(matches!(h.events()[..], [TransactionEvent::Ack { .. }]));
        h.layer.handle_request(ack, udp(UAC), h.at(700));
        assert!(h.events().is_empty(), "absorbed by the INVITE transaction");
        assert_eq!(
            h.layer.poll_timeout(),
            Some(h.at(5700)),
            "timer I: G stopped"
        );
        h.run_until(h.at(10_000));
        assert!(h.layer.is_empty());
        assert!(h.layer.server_keys.is_empty(), "the ACK alias went with it");
    }

    #[test]
    fn bare_magic_cookie_branch_uses_rfc2543_matching() {
        let mut h = Harness::new();
        let first = from_uac("OPTIONS", "z9hG4bK");
        let mut second = first.clone();
        second.headers.set(HeaderName::CallId, "call-2@example.com");
        // A bare cookie does not identify a transaction: two Request events.
        h.request_in(&first, udp(UAC), 0);
        h.request_in(&second, udp(UAC), 0);
        h.layer.handle_request(first, udp(UAC), h.at(500));
        assert!(h.events().is_empty());
    }

    #[test]
    fn ack_for_a_2xx_goes_to_the_dialog_layer() {
        let mut h = Harness::new();
        let ack = request(
            "ACK",
            "SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKack2xx",
            TO_TAGGED,
        );
        h.layer.handle_request(ack.clone(), udp(UAC), h.t0);
        let passed = TransactionEvent::Ack {
            request: ack,
            from: udp(UAC),
        };
        assert_eq!(h.events(), vec![passed]);
        assert!(h.layer.is_empty(), "an ACK never makes a transaction");
    }

    #[test]
    fn cancel_is_matched_to_its_invite() {
        let mut h = Harness::new();
        let invite = from_uac("INVITE", "z9hG4bKinv");
        let (invite_id, _) = h.request_in(&invite, udp(UAC), 0);
        let cancel = cancel_for(&invite);
        let (cancel_id, cancels) = h.request_in(&cancel, udp(UAC), 100);
        assert_ne!(cancel_id, invite_id, "the CANCEL has its own transaction");
        assert_eq!(cancels, Some(invite_id));
        // A retransmitted CANCEL is absorbed by its own transaction.
        h.layer.handle_request(cancel.clone(), udp(UAC), h.at(200));
        assert!(h.events().is_empty());

        // The same for RFC 2543 requests.
        let via = "SIP/2.0/UDP 198.51.100.7:5060";
        let mut old = request("INVITE", via, TO);
        old.headers.set(HeaderName::CallId, "old@example.com");
        let (old_id, _) = h.request_in(&old, udp(UAC), 300);
        let (_, cancels) = h.request_in(&cancel_for(&old), udp(UAC), 400);
        assert_eq!(cancels, Some(old_id));
    }

    #[test]
    fn cancel_matching_nothing_has_no_target() {
        let mut h = Harness::new();
        let invite = from_uac("INVITE", "z9hG4bKgone");
        let (_, cancels) = h.request_in(&cancel_for(&invite), udp(UAC), 0);
        assert_eq!(cancels, None);
    }

    #[test]
    fn response_matching_no_client_transaction_is_stray() {
        let (mut h, _, req) = Harness::client("INVITE", VIA_UDP);
        let mut other = response(&req, 200);
        other.headers.set(
            HeaderName::Via,
            "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKunknown",
        );
        h.stray(other, udp(UAS), 10);
        // Same branch, other CSeq method: also not this transaction.
        let mut bye = response(&req, 200);
        bye.headers.set(HeaderName::CSeq, "1 BYE");
        h.stray(bye, udp(UAS), 20);
    }

    #[test]
    fn tcp_client_transactions_never_retransmit_and_time_out_at_64_t1() {
        // RFC 3261 §17.1.1.2 (timer B) and §17.1.2.2 (timer F); timers A
        // and E only run on unreliable transports.
        for method in ["INVITE", "OPTIONS"] {
            let (mut h, id, _) = Harness::client(method, VIA_TCP);
            assert_eq!(h.layer.poll_timeout(), Some(h.at(32_000)), "{method}");
            h.ends_silently_with(40_000, TransactionEvent::Timeout { id });
        }
    }

    #[test]
    fn send_request_refuses_what_cannot_be_a_transaction() {
        let mut h = Harness::new();
        let no_branch = request("OPTIONS", "SIP/2.0/UDP 192.0.2.10:5060", TO);
        assert!(matches!(
            h.layer.send_request(no_branch, udp(UAS), h.t0),
            Err(TransactionError::MissingBranch { .. })
        ));
        let old = request("OPTIONS", "SIP/2.0/UDP 192.0.2.10:5060;branch=abc", TO);
        let err = h.layer.send_request(old, udp(UAS), h.t0).unwrap_err();
        assert!(err.to_string().contains("z9hG4bK"), "{err}");
        let mut wrong_cseq = request("OPTIONS", VIA_UDP, TO);
        wrong_cseq.headers.set(HeaderName::CSeq, "1 INVITE");
        assert!(matches!(
            h.layer.send_request(wrong_cseq, udp(UAS), h.t0),
            Err(TransactionError::BadCSeq { .. })
        ));
        let ok = request("OPTIONS", VIA_UDP, TO);
        let first = h.layer.send_request(ok.clone(), udp(UAS), h.t0).unwrap();
        assert_eq!(
            h.layer.send_request(ok, udp(UAS), h.t0),
            Err(TransactionError::DuplicateBranch {
                method: Method::Options,
                branch: "z9hG4bKclient1".into(),
                existing: first
            })
        );
        assert_eq!(h.layer.len(), 1);
        assert_eq!(h.transmits().len(), 1, "refused requests are not sent");
    }

    #[test]
    fn send_stateless_queues_bytes_as_given() {
        let mut h = Harness::new();
        h.layer.send_stateless(udp(UAC), b"ACK ...".to_vec());
        assert_eq!(
            h.transmits(),
            vec![Transmit {
                to: udp(UAC),
                bytes: b"ACK ...".to_vec()
            }]
        );
        assert!(h.layer.is_empty());
    }

    #[test]
    fn every_transaction_kind_ends_and_nothing_is_left_behind() {
        let mut h = Harness::new();
        // Server INVITE answered 486 and never ACKed, server INVITE
        // accepted, server BYE answered, client INVITE timing out, client
        // OPTIONS answered.
        for (method, branch, status) in [
            ("INVITE", "z9hG4bKs1", 486),
            ("INVITE", "z9hG4bKs2", 200),
            ("BYE", "z9hG4bKs3", 200),
        ] {
            let req = from_uac(method, branch);
            let (id, _) = h.request_in(&req, udp(UAC), 0);
            h.respond(id, &req, status, 10);
        }
        let invite = request("INVITE", VIA_UDP, TO);
        h.layer.send_request(invite, udp(UAS), h.t0).unwrap();
        let opt = request(
            "OPTIONS",
            "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKc2",
            TO,
        );
        h.layer.send_request(opt.clone(), udp(UAS), h.t0).unwrap();
        h.uas_answers(&opt, 200, 50);
        assert_eq!(h.layer.len(), 5);

        h.run_until(h.at(120_000));
        assert!(h.layer.is_empty());
        assert_eq!(h.layer.poll_timeout(), None);
        assert!(h.layer.server_keys.is_empty());
        assert!(h.layer.client_keys.is_empty());
        assert_eq!(h.layer.queue.len(), 0, "no stale timer entries left");
    }
}
