//! The SIP endpoint core, sans-IO: bytes in, bytes out. It parses, answers
//! malformed requests statelessly, stamps Via, runs the transaction layer
//! and gives each new request to the transaction user. Until the call path
//! lands, the transaction user is `InterimUas`: OPTIONS answered for
//! monitors, INVITE answered with a clean 480.

mod capabilities;
mod interim_uas;
mod stats;

pub use capabilities::{precheck, ACCEPT, ALLOW, SUPPORTED};
pub use stats::EndpointStats;

use std::time::Instant;

use tracing::{debug, info};

use crate::sip::message::{parse_message, Framing, HeaderName, ParseError, Response, SipMessage};
use crate::sip::transaction::{TimerConfig, TransactionEvent, TransactionLayer};
use crate::sip::transport::{response_target, stamp_received, Peer, Transmit};

#[derive(Clone, Debug)]
pub struct EndpointConfig {
    pub user_agent: String,
    pub timers: TimerConfig,
}

pub struct Endpoint {
    transactions: TransactionLayer,
    rng: fastrand::Rng,
    stats: EndpointStats,
    user_agent: String,
}

impl Endpoint {
    /// `seed` feeds the random source for tags, so tests can fix it.
    pub fn new(config: EndpointConfig, seed: u64) -> Self {
        Endpoint {
            transactions: TransactionLayer::new(config.timers),
            rng: fastrand::Rng::with_seed(seed),
            stats: EndpointStats::default(),
            user_agent: config.user_agent,
        }
    }

    /// One UDP datagram.
    pub fn handle_datagram(&mut self, bytes: &[u8], from: Peer, now: Instant) {
        self.handle_bytes(bytes, Framing::Datagram, from, now);
    }

    /// One message cut from a TCP stream by `StreamFramer`.
    pub fn handle_stream_message(&mut self, bytes: &[u8], from: Peer, now: Instant) {
        self.handle_bytes(bytes, Framing::Stream, from, now);
    }

    /// A keep-alive (CRLF ping) seen by a transport.
    pub fn note_keepalive(&mut self) {
        self.stats.keepalives += 1;
    }

    fn handle_bytes(&mut self, bytes: &[u8], framing: Framing, from: Peer, now: Instant) {
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            // RFC 5626 CRLF keep-alive over UDP: nothing to parse or answer.
            self.stats.keepalives += 1;
            return;
        }
        match parse_message(bytes, framing) {
            Ok(SipMessage::Request(mut req)) => {
                self.stats.requests_received += 1;
                debug!(peer = %from, "received request:\n{}", String::from_utf8_lossy(bytes));
                stamp_received(&mut req, &from);
                self.transactions.handle_request(req, from, now);
            }
            Ok(SipMessage::Response(resp)) => {
                self.stats.responses_received += 1;
                debug!(peer = %from, "received response:\n{}", String::from_utf8_lossy(bytes));
                self.transactions.handle_response(resp, from, now);
            }
            Err(e) => self.handle_parse_error(&e, from),
        }
        self.drain_events(now);
    }

    /// Answers a message that failed to parse when it can be answered
    /// (400/505 with a reason phrase that names the problem), else drops
    /// and counts it.
    pub fn handle_parse_error(&mut self, err: &ParseError, from: Peer) {
        let tag = self.new_tag();
        match err.answer(&tag) {
            Some((mut resp, ctx)) => {
                self.stats.rejected_answered += 1;
                info!(peer = %from, status = resp.status, reason = %err.reason, "rejected malformed request");
                resp.headers
                    .push(HeaderName::Server, self.user_agent.as_str());
                let to = response_target(&from, ctx.top_via.as_ref());
                self.transactions.send_stateless(to, resp.to_bytes());
            }
            None => {
                self.stats.dropped_malformed += 1;
                debug!(peer = %from, reason = %err.reason, "dropped unanswerable message");
            }
        }
    }

    fn drain_events(&mut self, now: Instant) {
        while let Some(event) = self.transactions.poll_event() {
            match event {
                TransactionEvent::Request {
                    id,
                    request,
                    from,
                    cancels,
                } => {
                    let tag = self.new_tag();
                    let mut resp: Response =
                        interim_uas::answer(&request, cancels.is_some(), &tag, &mut self.stats);
                    resp.headers
                        .push(HeaderName::Server, self.user_agent.as_str());
                    // The transaction layer logs the outcome at info.
                    debug!(
                        peer = %from,
                        method = %request.method,
                        call_id = request.headers.call_id().unwrap_or_default(),
                        status = resp.status,
                        "answering request"
                    );
                    if let Err(e) = self.transactions.respond(id, resp, now) {
                        debug!(error = %e, "could not answer request");
                    }
                }
                TransactionEvent::Ack { request, from } => {
                    debug!(peer = %from, call_id = request.headers.call_id().unwrap_or_default(), "ACK outside a transaction ignored: no dialogs yet");
                }
                other => debug!(event = ?other, "transaction event with no user yet"),
            }
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.transactions.handle_timeout(now);
        self.drain_events(now);
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transactions.poll_transmit()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.transactions.poll_timeout()
    }

    pub fn stats(&self) -> &EndpointStats {
        &self.stats
    }

    pub fn live_transactions(&self) -> usize {
        self.transactions.len()
    }

    fn new_tag(&mut self) -> String {
        format!("{:016x}", self.rng.u64(..))
    }
}
