//! Listeners bound or retired after start (a saved configuration moved a
//! listener to a new address, added or removed one): new calls take the
//! new ones, calls in progress finish on the socket they started on.

use crate::sip::transport::ListenerId;

use super::super::addressing::ListenerInfo;
use super::super::leg::Signalling;
use super::B2bua;

impl B2bua {
    pub fn add_listener(&mut self, info: ListenerInfo) -> ListenerId {
        self.addressing.add(info)
    }

    pub fn retire_listener(&mut self, l: ListenerId) {
        self.addressing.retire(l);
    }

    /// Whether a call in progress has a leg on `l`.
    pub fn listener_in_use(&self, l: ListenerId) -> bool {
        self.calls.values().any(|c| {
            c.legs.iter().any(|leg| match &leg.signalling {
                Signalling::Sip(s) => s.dialog.peer.listener == l,
            })
        })
    }
}
