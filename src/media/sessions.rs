//! The sessions one media thread owns: each call's relay and its four
//! sockets, kept in slots so a socket's epoll key (`slot * 4 + index`)
//! finds its session without a lookup by id on the packet path.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

use super::epoll::Epoll;
use super::relay::{LegSide, MediaRelay};

/// One call's media on its thread.
pub(super) struct MediaSession {
    pub(super) id: u64,
    pub(super) relay: MediaRelay,
    /// caller RTP, caller RTCP, callee RTP, callee RTCP.
    pub(super) sockets: [UdpSocket; 4],
    pub(super) timeout_reported: bool,
    /// Which of `sockets` (bit per index) are in the loop's list of
    /// sockets left with data, so a socket flooded turn after turn is
    /// listed once, not once more per turn.
    pub(super) unread: u8,
}

/// Index in `MediaSession::sockets` of a leg's RTP or RTCP socket.
pub(super) fn socket_index(side: LegSide, rtcp: bool) -> usize {
    let base = match side {
        LegSide::Caller => 0,
        LegSide::Callee => 2,
    };
    base + usize::from(rtcp)
}

/// The leg, and whether RTCP, of socket `index`.
pub(super) fn side_of(index: usize) -> (LegSide, bool) {
    let side = if index < 2 {
        LegSide::Caller
    } else {
        LegSide::Callee
    };
    (side, index % 2 == 1)
}

#[derive(Default)]
pub(super) struct Sessions {
    slots: Vec<Option<MediaSession>>,
    free: Vec<usize>,
    by_id: HashMap<u64, usize>,
}

impl Sessions {
    /// The session in `slot` (from an epoll key), if one is there.
    #[inline]
    pub(super) fn in_slot(&mut self, slot: usize) -> Option<&mut MediaSession> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    pub(super) fn get_mut(&mut self, id: u64) -> Option<&mut MediaSession> {
        let slot = *self.by_id.get(&id)?;
        self.in_slot(slot)
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = &mut MediaSession> {
        self.slots.iter_mut().flatten()
    }

    /// Binds the session's sockets (RTP at each local address, RTCP one
    /// port above: RFC 3550 §11) and registers them with `epoll`,
    /// edge-triggered. A reopened id replaces the old session (its sockets
    /// close).
    pub(super) fn open(
        &mut self,
        epoll: &Epoll,
        id: u64,
        caller: SocketAddr,
        callee: SocketAddr,
        relay: MediaRelay,
    ) -> io::Result<()> {
        let bind = |a: SocketAddr, plus: u16| -> io::Result<UdpSocket> {
            let s = UdpSocket::bind(SocketAddr::new(a.ip(), a.port().wrapping_add(plus)))?;
            s.set_nonblocking(true)?;
            Ok(s)
        };
        let sockets = [
            bind(caller, 0)?,
            bind(caller, 1)?,
            bind(callee, 0)?,
            bind(callee, 1)?,
        ];
        if let Some(old) = self.by_id.remove(&id) {
            self.slots[old] = None;
            self.free.push(old);
        }
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        for (k, s) in sockets.iter().enumerate() {
            if let Err(e) = epoll.add(s.as_raw_fd(), (slot * 4 + k) as u64, true) {
                self.free.push(slot);
                return Err(e);
            }
        }
        self.slots[slot] = Some(MediaSession {
            id,
            relay,
            sockets,
            timeout_reported: false,
            unread: 0,
        });
        self.by_id.insert(id, slot);
        Ok(())
    }

    /// Takes session `id` out; its sockets close (and leave the epoll
    /// set) when the caller drops it.
    pub(super) fn close(&mut self, id: u64) -> Option<MediaSession> {
        let slot = self.by_id.remove(&id)?;
        let s = self.slots.get_mut(slot)?.take()?;
        self.free.push(slot);
        Some(s)
    }
}
