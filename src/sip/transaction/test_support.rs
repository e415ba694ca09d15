//! Shared helpers for the transaction tests: peers, messages, and a layer
//! driven on a fake clock.

use std::time::{Duration, Instant};

use crate::sip::message::{parse_message, Framing, Request, Response, SipMessage};
use crate::sip::transport::{ConnectionId, ListenerId, Peer, Transmit, Transport};

use super::{TimerConfig, TransactionEvent, TransactionLayer};

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

pub const VIA_UDP: &str = "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKclient1";
pub const VIA_TCP: &str = "SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bKclient1";
pub const TO: &str = "<sip:bob@example.com>";

/// A response to `req` with a To tag on anything above 100.
pub fn response(req: &Request, status: u16) -> Response {
    Response::for_request(req, status, Some("b1"))
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
