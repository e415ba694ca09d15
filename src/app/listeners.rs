//! Listeners bound or retired while the gateway runs: a saved
//! configuration that moves a listener to a new address gets a new socket
//! (a new `ListenerId`) for new calls, while the calls on the old one
//! finish there; the shell closes the old socket once nothing uses it.

use crate::call::ListenerInfo;
use crate::policy::Admission;
use crate::sip::transport::ListenerId;

use super::Core;

impl Core {
    /// A listener the shell has just bound, with its admission rules.
    /// Its id is the next free one; the shell tags its sockets with it.
    pub fn add_listener(&mut self, info: ListenerInfo, admission: Admission) -> ListenerId {
        self.listener_sides.push(info.side);
        self.listener_names.push(info.name.clone());
        self.admission.push(admission);
        self.calls.add_listener(info)
    }

    /// No new call leaves from `l` (it was moved or removed); calls on it
    /// go on, and requests that still reach it are handled as before.
    pub fn retire_listener(&mut self, l: ListenerId) {
        self.retired_listeners.insert(l.0);
        self.calls.retire_listener(l);
    }

    /// Whether anything still needs listener `l`'s sockets: a call with a
    /// leg on it, or a registration made through it.
    pub fn listener_in_use(&self, l: ListenerId) -> bool {
        self.calls.listener_in_use(l) || self.registrations.public_addresses().any(|(r, _)| r == l)
    }

    pub fn listener_retired(&self, l: ListenerId) -> bool {
        self.retired_listeners.contains(&l.0)
    }
}
