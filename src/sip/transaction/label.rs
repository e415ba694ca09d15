//! What a transaction's log lines name it by, and the lines it writes when
//! it starts and ends, alike for the four machines.

use std::fmt::Display;

use tracing::{debug, info};

use crate::sip::message::{Method, Request};
use crate::sip::transport::Peer;

/// Which end of the request a transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// We sent the request: a final response is received.
    Client,
    /// We received it: a final response is sent.
    Server,
}

/// The request's method and Call-ID, copied once: a machine may drop the
/// request after its final response, and its log lines still name the call.
#[derive(Debug)]
pub(crate) struct Label {
    side: Side,
    method: Method,
    call_id: Box<str>,
}

impl Label {
    /// The label of a new transaction for `request`, with the debug line
    /// that says it started; `peer` is where its messages go.
    pub fn started(side: Side, request: &Request, id: impl Display, peer: Peer) -> Self {
        let label = Label {
            side,
            method: request.method.clone(),
            call_id: request.headers.call_id().unwrap_or("").into(),
        };
        let (side, method, call_id) = (label.side_name(), &label.method, label.call_id());
        debug!(%id, %peer, call_id, "{method} {side} transaction started");
        label
    }

    pub fn method(&self) -> &Method {
        &self.method
    }

    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The one info line a transaction leaves when it ends: the final
    /// status it received or sent, if any, and `how` it ended.
    pub fn ended(&self, id: impl Display, final_status: Option<u16>, how: &str) {
        let (side, method, call_id) = (self.side_name(), &self.method, self.call_id());
        let verb = match self.side {
            Side::Client => "received",
            Side::Server => "sent",
        };
        match final_status {
            Some(status) => {
                info!(%id, call_id, "{method} {side} transaction ended: {status} {verb}, {how}")
            }
            None => info!(%id, call_id, "{method} {side} transaction ended: {how}"),
        }
    }

    fn side_name(&self) -> &'static str {
        match self.side {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}
