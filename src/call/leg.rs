//! One leg of a call: the dialog with one far end and what is under way
//! on it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::sip::auth::DigestClient;
use crate::sip::message::{Request, Response};
use crate::sip::transaction::{ClientTransactionId, ServerTransactionId};
use crate::sip::transport::Transport;

use super::dialog::Dialog;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegState {
    /// Our INVITE is out, no dialog yet (callee legs only).
    Calling,
    /// A provisional response with a tag arrived.
    Early,
    /// Answered (2xx).
    Confirmed,
    /// Over: BYE sent or received, or the INVITE failed.
    Terminated,
}

/// A 2xx to an INVITE we answered, retransmitted until the ACK comes
/// (RFC 3261 §13.3.1.4): T1, doubling up to T2, for 64·T1 at most.
#[derive(Clone, Debug)]
pub struct Pending2xx {
    pub server: ServerTransactionId,
    pub response: Response,
    pub cseq: u32,
    pub interval: Duration,
    pub next: Instant,
    pub give_up: Instant,
}

/// Credentials a callee leg answers challenges with (never derived from
/// the target URI: only what the route or account configures).
#[derive(Clone, Debug)]
pub struct LegCredentials {
    pub username: String,
    pub password: String,
}

/// One leg of a call: where it stands in the call flow (common to every
/// kind of far end) and how the gateway signals to that far end.
///
/// The kinds are an enum rather than a trait because the call flow has a
/// handful of points that differ per kind (start a callee, answer or fail
/// the caller, cancel, hang up) and many that are the same; a `match` at
/// those points keeps the flow readable in one place. Today every leg is a
/// SIP dialog; a local line (an FXS port signalled over the serial line
/// board, its audio through ALSA) becomes `Signalling::Line` with the local
/// lines issue: docs/architecture.md, "Where a local line plugs in".
#[derive(Debug)]
pub struct Leg {
    pub state: LegState,
    /// A final response went to the caller (caller leg): answered or
    /// failed, so nothing more is owed to it but the dialog's requests.
    pub final_sent: bool,
    /// The callee said anything at all (callee legs).
    pub heard_from: bool,
    /// A provisional response arrived, so a CANCEL may be sent (RFC 3261
    /// §9.1).
    pub provisional: bool,
    /// The caller cancelled: CANCEL as soon as allowed, ACK+BYE a late 2xx.
    pub cancel_pending: bool,
    /// Given up on (failover): a late answer is ACKed and hung up.
    pub abandoned: bool,
    /// The target this leg was sent to (callee legs), as the record shows.
    pub target: Option<String>,
    pub signalling: Signalling,
}

/// How the gateway talks to a leg's far end.
#[derive(Debug)]
pub enum Signalling {
    Sip(Box<SipLeg>),
}

/// A leg whose far end speaks SIP: the dialog and what is under way on it.
#[derive(Debug)]
pub struct SipLeg {
    pub dialog: Dialog,
    /// Our advertised address on this leg's listener (Via, Contact).
    pub local: SocketAddr,
    pub transport: Transport,
    /// Caller leg: the INVITE that opened the call. Callee leg: the last
    /// INVITE we sent (re-sent with credentials after a challenge).
    pub invite: Request,
    pub invite_server: Option<ServerTransactionId>,
    pub invite_client: Option<ClientTransactionId>,
    pub pending_2xx: Option<Pending2xx>,
    /// When this leg's ACK arrives, ACK `(leg, cseq)` with its body.
    pub ack_owed: Option<(usize, u32)>,
    /// Our last ACK for a 2xx, re-sent when the 2xx is retransmitted.
    pub last_ack: Option<Vec<u8>>,
    pub credentials: Option<LegCredentials>,
    pub digest: DigestClient,
    pub auth_attempts: u32,
    /// A re-INVITE or UPDATE we sent on this leg has no final yet (§14.1:
    /// a second one is answered 491).
    pub offer_in_flight: bool,
}

impl Leg {
    /// A SIP leg: the caller's (with its INVITE) or a callee's (with the
    /// INVITE to send).
    pub fn new_sip(
        dialog: Dialog,
        local: SocketAddr,
        transport: Transport,
        invite: Request,
    ) -> Self {
        Leg {
            state: LegState::Calling,
            final_sent: false,
            heard_from: false,
            provisional: false,
            cancel_pending: false,
            abandoned: false,
            target: None,
            signalling: Signalling::Sip(Box::new(SipLeg {
                dialog,
                local,
                transport,
                invite,
                invite_server: None,
                invite_client: None,
                pending_2xx: None,
                ack_owed: None,
                last_ack: None,
                credentials: None,
                digest: DigestClient::new(),
                auth_attempts: 0,
                offer_in_flight: false,
            })),
        }
    }

    pub fn is_live(&self) -> bool {
        self.state != LegState::Terminated
    }

    /// The SIP side of a leg. Every leg is SIP today; the SIP call flow
    /// calls this, and a line leg (later) makes it an `Option`, so that
    /// the compiler shows each place the flow must handle a line.
    pub fn sip(&self) -> &SipLeg {
        match &self.signalling {
            Signalling::Sip(s) => s,
        }
    }

    pub fn sip_mut(&mut self) -> &mut SipLeg {
        match &mut self.signalling {
            Signalling::Sip(s) => s,
        }
    }
}

impl SipLeg {
    /// The Contact we put on requests and responses of this leg.
    pub fn contact(&self) -> String {
        match self.transport {
            Transport::Udp => format!("<sip:pbxgate@{}>", self.local),
            Transport::Tcp => format!("<sip:pbxgate@{};transport=tcp>", self.local),
            Transport::Tls => format!("<sip:pbxgate@{};transport=tls>", self.local),
        }
    }

    /// A fresh top Via for a request we send on this leg.
    pub fn via(&self, branch: &str) -> String {
        format!(
            "SIP/2.0/{} {};branch={branch};rport",
            self.transport.via_token(),
            self.local
        )
    }
}
