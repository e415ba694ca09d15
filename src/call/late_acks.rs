//! ACKs the gateway sent on calls that are over, kept while the callee may
//! still retransmit its 2xx: RFC 3261 §13.2.2.4 asks that every
//! retransmission is ACKed, and the callee retransmits for 64·T1 when an
//! ACK is lost (RFC 6026 §8.4). A call that ends at once (a late 200 after
//! the caller's CANCEL is ACKed and hung up) would otherwise leave its
//! callee retransmitting into silence.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use crate::sip::transport::Peer;

/// Dialogs kept at most; beyond, the oldest goes (a flood of short calls
/// must not grow memory).
const MAX_KEPT: usize = 4096;

type DialogKey = (String, String);

#[derive(Debug, Default)]
pub struct LateAcks {
    by_dialog: HashMap<DialogKey, (Peer, Vec<u8>, Instant)>,
    /// Insertion order, to forget the oldest and the expired.
    order: VecDeque<DialogKey>,
}

impl LateAcks {
    /// Keeps `ack` for dialog (`call_id`, our tag) until `until`.
    pub fn keep(&mut self, dialog: DialogKey, peer: Peer, ack: Vec<u8>, until: Instant) {
        if self.by_dialog.len() >= MAX_KEPT {
            if let Some(oldest) = self.order.pop_front() {
                self.by_dialog.remove(&oldest);
            }
        }
        if self
            .by_dialog
            .insert(dialog.clone(), (peer, ack, until))
            .is_none()
        {
            self.order.push_back(dialog);
        }
    }

    /// The ACK to send again for a 2xx on dialog (`call_id`, `tag`).
    pub fn find(&mut self, call_id: &str, tag: &str, now: Instant) -> Option<(Peer, Vec<u8>)> {
        self.forget_expired(now);
        self.by_dialog
            .get(&(call_id.to_string(), tag.to_string()))
            .map(|(peer, ack, _)| (*peer, ack.clone()))
    }

    fn forget_expired(&mut self, now: Instant) {
        while let Some(first) = self.order.front() {
            match self.by_dialog.get(first) {
                Some((_, _, until)) if *until > now => break,
                _ => {
                    if let Some(k) = self.order.pop_front() {
                        self.by_dialog.remove(&k);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::transport::{ListenerId, Transport};
    use std::time::Duration;

    fn peer() -> Peer {
        Peer {
            listener: ListenerId(1),
            transport: Transport::Udp,
            remote: "10.0.0.21:5060".parse().unwrap(),
            connection: None,
        }
    }

    #[test]
    fn an_ack_is_kept_until_its_time_and_no_longer() {
        let t0 = Instant::now();
        let mut acks = LateAcks::default();
        let key = ("c1@pbxgate".to_string(), "tag1".to_string());
        acks.keep(key, peer(), b"ACK".to_vec(), t0 + Duration::from_secs(32));
        let again = acks.find("c1@pbxgate", "tag1", t0 + Duration::from_secs(31));
        assert_eq!(again, Some((peer(), b"ACK".to_vec())));
        assert_eq!(acks.find("c1@pbxgate", "other", t0), None);
        assert_eq!(
            acks.find("c1@pbxgate", "tag1", t0 + Duration::from_secs(32)),
            None
        );
    }

    #[test]
    fn the_oldest_goes_when_full() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(32);
        let mut acks = LateAcks::default();
        for i in 0..=MAX_KEPT {
            acks.keep((format!("c{i}"), "t".into()), peer(), vec![], later);
        }
        assert!(acks.find("c0", "t", t0).is_none());
        assert!(acks.find(&format!("c{MAX_KEPT}"), "t", t0).is_some());
    }
}
