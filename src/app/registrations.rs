//! The endpoint's registration clients and the client transactions they
//! own, so that responses and timeouts reach the client that sent the request.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use tracing::warn;

use crate::sip::registration::{Purpose, RegistrationClient, RegistrationStatus};
use crate::sip::transaction::{ClientTransactionId, TransactionLayer};
use crate::sip::transport::{ListenerId, Peer};

struct Slot {
    client: RegistrationClient,
    listener: ListenerId,
}

#[derive(Default)]
pub struct Registrations {
    slots: Vec<Slot>,
    owners: HashMap<ClientTransactionId, (usize, Purpose)>,
}

impl Registrations {
    pub fn add(&mut self, client: RegistrationClient, listener: ListenerId) -> usize {
        self.slots.push(Slot { client, listener });
        self.slots.len() - 1
    }

    pub fn client_mut(&mut self, index: usize) -> Option<&mut RegistrationClient> {
        self.slots.get_mut(index).map(|s| &mut s.client)
    }

    /// Per registration, its listener and the public IP its registrar
    /// sees (configured or learned), if known.
    pub fn public_addresses(&self) -> impl Iterator<Item = (ListenerId, Option<IpAddr>)> + '_ {
        self.slots
            .iter()
            .map(|s| (s.listener, s.client.status().public_address.map(|a| a.ip())))
    }

    pub fn statuses(&self) -> Vec<RegistrationStatus> {
        self.slots.iter().map(|s| s.client.status()).collect()
    }

    /// Starts a client transaction for every request the clients queued.
    pub fn pump(&mut self, transactions: &mut TransactionLayer, now: Instant) {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if let Some(remote) = slot.client.poll_crlf_ping() {
                let to = Peer {
                    listener: slot.listener,
                    transport: crate::sip::transport::Transport::Tcp,
                    remote,
                    connection: None,
                };
                transactions.send_stateless(to, b"\r\n\r\n".to_vec());
            }
            while let Some(out) = slot.client.poll_request() {
                let to = Peer {
                    listener: slot.listener,
                    transport: out.transport,
                    remote: out.to,
                    connection: None,
                };
                match transactions.send_request(out.request, to, now) {
                    Ok(id) => {
                        self.owners.insert(id, (i, out.purpose));
                    }
                    Err(e) => {
                        // Treated as unanswered, so the client backs off and
                        // tries again instead of waiting for ever.
                        warn!(account = slot.client.account(), error = %e, "could not send");
                        slot.client.handle_transaction_timeout(out.purpose, now);
                    }
                }
            }
        }
    }

    /// Gives a response to the client that owns the transaction. Returns
    /// false when no registration owns it.
    pub fn handle_response(
        &mut self,
        id: ClientTransactionId,
        response: &crate::sip::message::Response,
        now: Instant,
    ) -> bool {
        let Some(&(i, purpose)) = self.owners.get(&id) else {
            return false;
        };
        if response.status >= 200 {
            self.owners.remove(&id);
        }
        if let Some(slot) = self.slots.get_mut(i) {
            slot.client.handle_response(purpose, response, now);
        }
        true
    }

    pub fn handle_transaction_timeout(&mut self, id: ClientTransactionId, now: Instant) -> bool {
        let Some((i, purpose)) = self.owners.remove(&id) else {
            return false;
        };
        if let Some(slot) = self.slots.get_mut(i) {
            slot.client.handle_transaction_timeout(purpose, now);
        }
        true
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        for slot in &mut self.slots {
            if slot.client.poll_timeout().is_some_and(|t| t <= now) {
                slot.client.handle_timeout(now);
            }
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|s| s.client.poll_timeout())
            .min()
    }

    pub fn pong_received(&mut self, remote: std::net::SocketAddr, now: Instant) {
        for slot in &mut self.slots {
            slot.client.pong_received(remote, now);
        }
    }

    pub fn poll_close_connection(&mut self) -> Option<std::net::SocketAddr> {
        self.slots
            .iter_mut()
            .find_map(|s| s.client.poll_close_connection())
    }

    pub fn connection_lost(&mut self, remote: std::net::SocketAddr, now: Instant) {
        for slot in &mut self.slots {
            slot.client.connection_lost(remote, now);
        }
    }

    /// Un-registers every account; returns how many un-REGISTERs were sent.
    pub fn stop_all(&mut self, now: Instant) -> usize {
        self.slots
            .iter_mut()
            .filter_map(|s| s.client.stop(now).then_some(()))
            .count()
    }

    /// Whether an un-REGISTER is still waiting for its answer.
    pub fn unregistering(&self) -> bool {
        self.owners.values().any(|(_, p)| *p == Purpose::Unregister)
    }
}
