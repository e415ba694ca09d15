//! Linux `recvmmsg`/`sendmmsg` over fixed, reused arrays: one syscall
//! reads or sends up to `BATCH` datagrams. Everything here is allocated
//! once (a `Box<Batch>` per media thread); a call only fills in pointers and
//! lengths.
//!
//! The arrays hold raw pointers into the same `Batch`, so they are set
//! right before each syscall (never kept across moves) and the type is
//! neither `Send` nor `Sync`.

use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// Datagrams per syscall.
pub const BATCH: usize = 32;

/// Largest datagram relayed; RTP for voice is a few hundred bytes.
pub const PACKET_BUFFER: usize = 2048;

/// The fixed buffers of one media thread.
pub struct Batch {
    pub bufs: [[u8; PACKET_BUFFER]; BATCH],
    /// Bytes received into `bufs[i]`.
    pub lens: [usize; BATCH],
    /// Source of `bufs[i]` as received, then destination when sending.
    addrs: [libc::sockaddr_storage; BATCH],
    addr_lens: [libc::socklen_t; BATCH],
    iov: [libc::iovec; BATCH],
    hdrs: [libc::mmsghdr; BATCH],
    /// For sending: which buffer each queued datagram is in, and its length.
    out: [(u8, u16); BATCH],
    queued: usize,
}

impl Batch {
    /// Allocated once, on the heap (about 70 KB).
    pub fn new() -> Box<Batch> {
        // SAFETY: every field is plain old data (integers, byte arrays,
        // C structs of integers and null pointers), for which all-zero
        // bytes are a valid value.
        unsafe { Box::new(mem::zeroed()) }
    }

    /// Reads up to `BATCH` datagrams without blocking; returns how many
    /// (never 0: no datagram is `WouldBlock`). Sizes go to `lens`,
    /// sources to `source(i)`.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        let whole = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        for i in 0..BATCH {
            self.point(i, i, PACKET_BUFFER, whole);
        }
        // SAFETY: `hdrs` holds BATCH headers whose name and iovec pointers
        // point into `self`, which stays borrowed for the call.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                BATCH as _,
                libc::MSG_DONTWAIT as _,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        if n == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        for i in 0..n {
            self.lens[i] = (self.hdrs[i].msg_len as usize).min(PACKET_BUFFER);
            self.addr_lens[i] = self.hdrs[i].msg_hdr.msg_namelen;
        }
        Ok(n)
    }

    /// Points header `j` at buffer `i` (its first `len` bytes) and at
    /// address slot `i` (`name_len` bytes of it).
    #[inline]
    fn point(&mut self, j: usize, i: usize, len: usize, name_len: libc::socklen_t) {
        self.iov[j] = libc::iovec {
            iov_base: self.bufs[i].as_mut_ptr().cast(),
            iov_len: len,
        };
        let h = &mut self.hdrs[j];
        h.msg_hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
        h.msg_hdr.msg_namelen = name_len;
        h.msg_hdr.msg_iov = &mut self.iov[j];
        h.msg_hdr.msg_iovlen = 1;
        h.msg_hdr.msg_control = std::ptr::null_mut();
        h.msg_hdr.msg_controllen = 0;
        h.msg_hdr.msg_flags = 0;
        h.msg_len = 0;
    }

    /// Where datagram `i` of the last `recv` came from (None for an
    /// address family other than IPv4/IPv6).
    pub fn source(&self, i: usize) -> Option<SocketAddr> {
        from_storage(&self.addrs[i], self.addr_lens[i])
    }

    /// Queues `bufs[i][..len]` for `to`. Buffer `i` must not be queued
    /// twice, and its received source is overwritten.
    pub fn queue(&mut self, i: usize, len: usize, to: SocketAddr) {
        let len = len.min(PACKET_BUFFER);
        self.addr_lens[i] = to_storage(to, &mut self.addrs[i]);
        self.out[self.queued] = (i as u8, len as u16);
        self.queued += 1;
    }

    pub fn queued(&self) -> usize {
        self.queued
    }

    /// The `k`th queued datagram: its bytes and destination.
    pub fn queued_at(&self, k: usize) -> (&[u8], Option<SocketAddr>) {
        let (i, len) = self.out[k];
        let i = usize::from(i);
        (
            &self.bufs[i][..usize::from(len)],
            from_storage(&self.addrs[i], self.addr_lens[i]),
        )
    }

    pub fn clear_queue(&mut self) {
        self.queued = 0;
    }

    /// Sends the queued datagrams with one `sendmmsg` without blocking;
    /// returns how many went (the first ones). The queue is kept: the
    /// caller sends the rest one by one and clears it.
    pub fn send_queued(&mut self, fd: RawFd) -> io::Result<usize> {
        let k = self.queued;
        if k == 0 {
            return Ok(0);
        }
        for j in 0..k {
            let (i, len) = self.out[j];
            let i = usize::from(i);
            self.point(j, i, usize::from(len), self.addr_lens[i]);
        }
        // SAFETY: the first `k` headers point into `self`, borrowed for
        // the call; the kernel only reads them.
        let n =
            unsafe { libc::sendmmsg(fd, self.hdrs.as_mut_ptr(), k as _, libc::MSG_DONTWAIT as _) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

fn from_storage(s: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match i32::from(s.ss_family) {
        libc::AF_INET if len >= mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in,
            // and sockaddr_storage is large and aligned enough for it.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 if len >= mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

fn to_storage(to: SocketAddr, s: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match to {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large and aligned enough for a
            // sockaddr_in; all-zero bytes are a valid sockaddr_in.
            let a = unsafe { &mut *(s as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            *a = unsafe { mem::zeroed() };
            a.sin_family = libc::AF_INET as libc::sa_family_t;
            a.sin_port = v4.port().to_be();
            a.sin_addr.s_addr = u32::from(*v4.ip()).to_be();
            mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(v6) => {
            // SAFETY: as above, for sockaddr_in6.
            let a =
                unsafe { &mut *(s as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            *a = unsafe { mem::zeroed() };
            a.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            a.sin6_port = v6.port().to_be();
            a.sin6_flowinfo = v6.flowinfo();
            a.sin6_addr.s6_addr = v6.ip().octets();
            a.sin6_scope_id = v6.scope_id();
            mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_survive_the_round_trip_through_sockaddr_storage() {
        let mut s: libc::sockaddr_storage = unsafe { mem::zeroed() };
        for a in [
            "127.0.90.1:31000",
            "[2001:db8::1]:5004",
            "[fe80::1%3]:40000",
        ] {
            let a: SocketAddr = a.parse().unwrap();
            let len = to_storage(a, &mut s);
            assert_eq!(from_storage(&s, len), Some(a));
        }
        assert_eq!(from_storage(&s, 4), None, "short length");
    }
}
