//! Shared helpers for the transaction tests: peers, messages, and a layer
//! driven on a fake clock.

use std::time::{Duration, Instant};

use crate::sip::message::{parse_message, Framing, HeaderName, Request, Response, SipMessage};
use crate::sip::transport::{ConnectionId, ListenerId, Peer, Transmit, Transport};

use super::{
    ClientTransactionId, ServerTransactionId, TimerConfig, TransactionEvent, TransactionLayer,
};

pub fn udp(addr: &str) -> Peer {
    Peer {
        listener: ListenerId(0),
        transport: Transport::Udp,
        remote: addr.parse().unwrap(),
        connection: None,
    }
}

pub fn tcp(addr: &str) -> Peer {
    Peer {
        listener: ListenerId(0),
        transport: Transport::Tcp,
        remote: addr.parse().unwrap(),
        connection: Some(ConnectionId(1)),
    }
}

pub fn parse(bytes: &[u8]) -> SipMessage {
    parse_message(bytes, Framing::Datagram).unwrap()
}

pub fn parse_request(bytes: &[u8]) -> Request {
    match parse(bytes) {
        SipMessage::Request(r) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

pub fn parse_response(bytes: &[u8]) -> Response {
    match parse(bytes) {
        SipMessage::Response(r) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}

/// A request as text (`\n` line ends are made CRLF), parsed as received.
pub fn request_text(text: &str) -> Request {
    parse_request(text.replace('\n', "\r\n").as_bytes())
}

/// A request with the given method, top Via and To, CSeq 1.
pub fn request(method: &str, via: &str, to: &str) -> Request {
    request_text(&format!(
        "{method} sip:bob@example.com SIP/2.0\n\
         Via: {via}\n\
         Max-Forwards: 70\n\
         Route: <sip:proxy.example.com;lr>\n\
         From: \"Alice\" <sip:alice@example.com>;tag=a1\n\
         To: {to}\n\
         Call-ID: call-1@example.com\n\
         CSeq: 1 {method}\n\n"
    ))
}

/// An INVITE as a proxy passes it on: three Via values (two in one
/// header line), two Routes, Max-Forwards below 70, and a body.
pub fn proxied_invite() -> Request {
    request_text(
        "INVITE sip:bob@example.com SIP/2.0\n\
         Via: SIP/2.0/UDP gw:5060;branch=z9hG4bKabc, SIP/2.0/UDP p:5060;branch=z9hG4bKp\n\
         Via: SIP/2.0/UDP q:5060;branch=z9hG4bKq\n\
         Max-Forwards: 69\n\
         Route: <sip:proxy1;lr>\n\
         Route: <sip:proxy2;lr>\n\
         From: <sip:alice@example.com>;tag=a1\n\
         To: <sip:bob@example.com>\n\
         Call-ID: call-1\n\
         CSeq: 314 INVITE\n\
         Content-Type: application/sdp\n\
         Content-Length: 5\n\n\
         v=0\n",
    )
}

/// Top Vias of the requests the layer under test sends.
pub const VIA_UDP: &str = "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKclient1";
pub const VIA_TCP: &str = "SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bKclient1";
pub const TO: &str = "<sip:bob@example.com>";
/// The To of an in-dialog request, and of the ACK for a response tagged b1.
pub const TO_TAGGED: &str = "<sip:bob@example.com>;tag=b1";

/// The far end of the client transactions under test.
pub const UAS: &str = "203.0.113.5:5060";
/// The far end of the server transactions under test, and its top Vias.
pub const UAC: &str = "198.51.100.7:5060";
pub const UAC_VIA_UDP: &str = "SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKuac1";
pub const UAC_VIA_TCP: &str = "SIP/2.0/TCP 198.51.100.7:5060;branch=z9hG4bKuac1";

/// `addr` over the transport a top Via names: TCP for `/TCP`, else UDP.
pub fn peer(via: &str, addr: &str) -> Peer {
    if via.contains("/TCP") {
        tcp(addr)
    } else {
        udp(addr)
    }
}

/// A response to `req` with a To tag on anything above 100.
pub fn response(req: &Request, status: u16) -> Response {
    Response::for_request(req, status, Some("b1"))
}

/// The event that hands `response` to the TU for client transaction `id`.
pub fn passed_up(id: ClientTransactionId, response: &Response) -> TransactionEvent {
    TransactionEvent::Response {
        id,
        response: response.clone(),
    }
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A layer and a fake clock starting at `t0`.
pub struct Harness {
    pub layer: TransactionLayer,
    pub t0: Instant,
}

impl Harness {
    pub fn new() -> Self {
        Harness {
            layer: TransactionLayer::new(TimerConfig::default()),
            t0: Instant::now(),
        }
    }

    /// A harness with one client transaction: a `method` request with top
    /// Via `via`, sent to the UAS over the Via's transport. Checks that
    /// exactly that request went out.
    pub fn client(method: &str, via: &str) -> (Harness, ClientTransactionId, Request) {
        let mut h = Harness::new();
        let req = request(method, via, TO);
        let to = peer(via, UAS);
        let id = h.layer.send_request(req.clone(), to, h.t0).unwrap();
        let sent = vec![Transmit {
            to,
            bytes: req.to_bytes(),
        }];
        assert_eq!(h.transmits(), sent);
        (h, id, req)
    }

    /// A harness with one server transaction: a `method` request with top
    /// Via `via` and To `to`, received from the UAC over the Via's
    /// transport at `t0`.
    pub fn server(method: &str, via: &str, to: &str) -> (Harness, ServerTransactionId, Request) {
        let mut h = Harness::new();
        let req = request(method, via, to);
        let (id, cancels) = h.request_in(&req, peer(via, UAC), 0);
        assert_eq!(cancels, None);
        (h, id, req)
    }

    /// The UAS answers `req` with `status` at `millis`, over the transport
    /// of the request's top Via; returns the response.
    pub fn uas_answers(&mut self, req: &Request, status: u16, millis: u64) -> Response {
        let via = req.headers.get(&HeaderName::Via).unwrap_or("");
        let answer = response(req, status);
        self.layer
            .handle_response(answer.clone(), peer(via, UAS), self.at(millis));
        answer
    }

    /// `req` arrives from `from` at `millis` and opens a server transaction.
    /// Checks the one Request event it raises; returns the new transaction
    /// and the INVITE transaction it cancels, if any.
    pub fn request_in(
        &mut self,
        req: &Request,
        from: Peer,
        millis: u64,
    ) -> (ServerTransactionId, Option<ServerTransactionId>) {
        self.layer
            .handle_request(req.clone(), from, self.at(millis));
        match &self.events()[..] {
            [TransactionEvent::Request {
                id,
                request,
                from: f,
                cancels,
            }] if request == req && *f == from => (*id, *cancels),
            other => panic!("expected one Request event for {req:?}, got {other:?}"),
        }
    }

    /// The status of each Response event so far; any other event fails.
    pub fn statuses(&mut self) -> Vec<u16> {
        self.events()
            .iter()
            .map(|e| match e {
                TransactionEvent::Response { response, .. } => response.status,
                other => panic!("unexpected event {other:?}"),
            })
            .collect()
    }

    /// The TU answers server transaction `id` (for `req`) with `status` at
    /// `millis`; the layer must take it.
    pub fn respond(&mut self, id: ServerTransactionId, req: &Request, status: u16, millis: u64) {
        let at = self.at(millis);
        if let Err(e) = self.layer.respond(id, response(req, status), at) {
            panic!("{status} for {id} refused: {e}");
        }
    }

    /// The statuses of the responses transmitted since the last look.
    pub fn sent_statuses(&mut self) -> Vec<u16> {
        let sent = self.transmits();
        sent.iter()
            .map(|t| parse_response(&t.bytes).status)
            .collect()
    }

    /// `response` arrives from `from` at `millis`, matches no client
    /// transaction, and is handed up as a StrayResponse.
    pub fn stray(&mut self, response: Response, from: Peer, millis: u64) {
        let at = self.at(millis);
        self.layer.handle_response(response.clone(), from, at);
        let stray = TransactionEvent::StrayResponse { response, from };
        assert_eq!(self.events(), vec![stray]);
    }

    /// Runs every timer up to `until_ms`; checks that each transmit was
    /// `bytes` to `to`, and returns their times in ms after `t0`.
    pub fn resends_until(&mut self, until_ms: u64, bytes: &[u8], to: Peer) -> Vec<u64> {
        let sent = self.run_until(self.at(until_ms));
        assert!(sent.iter().all(|(_, t)| t.bytes == bytes && t.to == to));
        sent.into_iter().map(|(t, _)| t).collect()
    }

    /// Runs every timer up to `until_ms` and checks that nothing more was
    /// sent, that `event` was the one event, and that no transaction is left.
    pub fn ends_silently_with(&mut self, until_ms: u64, event: TransactionEvent) {
        assert!(self.run_times(self.at(until_ms)).is_empty());
        assert_eq!(self.events(), vec![event]);
        assert!(self.layer.is_empty());
    }

    pub fn at(&self, millis: u64) -> Instant {
        self.t0 + ms(millis)
    }

    pub fn transmits(&mut self) -> Vec<Transmit> {
        std::iter::from_fn(|| self.layer.poll_transmit()).collect()
    }

    pub fn events(&mut self) -> Vec<TransactionEvent> {
        std::iter::from_fn(|| self.layer.poll_event()).collect()
    }

    /// Runs every timer up to `until` the way the shell would (waking at
    /// each `poll_timeout`), and returns the times, in ms after `t0`, at
    /// which something was transmitted, with what.
    pub fn run_until(&mut self, until: Instant) -> Vec<(u64, Transmit)> {
        let mut sent = Vec::new();
        while let Some(at) = self.layer.poll_timeout() {
            if at > until {
                break;
            }
            self.layer.handle_timeout(at);
            let elapsed = (at - self.t0).as_millis() as u64;
            for t in self.transmits() {
                sent.push((elapsed, t));
            }
        }
        sent
    }

    /// The ms times of the transmits `run_until` reports.
    pub fn run_times(&mut self, until: Instant) -> Vec<u64> {
        self.run_until(until).into_iter().map(|(t, _)| t).collect()
    }
}
