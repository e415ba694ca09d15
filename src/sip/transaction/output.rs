//! The queues the state machines write into and the TU drains with
//! `poll_transmit` and `poll_event`.

use std::collections::VecDeque;

use crate::sip::transport::{Peer, Transmit};

use super::event::TransactionEvent;

#[derive(Debug, Default)]
pub(crate) struct Outputs {
    pub transmits: VecDeque<Transmit>,
    pub events: VecDeque<TransactionEvent>,
}

impl Outputs {
    pub fn send(&mut self, to: Peer, bytes: Vec<u8>) {
        self.transmits.push_back(Transmit { to, bytes });
    }

    pub fn event(&mut self, event: TransactionEvent) {
        self.events.push_back(event);
    }
}
