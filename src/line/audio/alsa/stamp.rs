//! Receiving RTP with the kernel's arrival time (SO_TIMESTAMPNS), so the
//! jitter buffer measures the network's jitter and not our thread's: the
//! audio thread may read a packet up to a period after it came (it was
//! opening a device, or writing to one, or not scheduled), and a call's
//! first packets wait while the devices open.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Asks the kernel to stamp each datagram on arrival.
pub fn enable(socket: &UdpSocket) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt(2) on our own descriptor with an int option.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// One datagram: its length, its source, and when it arrived on our clock
/// (`now` when the kernel gave no stamp). Non-blocking like the socket.
pub fn recv(
    socket: &UdpSocket,
    buf: &mut [u8],
    now: Instant,
) -> io::Result<(usize, SocketAddr, Instant)> {
    // SAFETY: all-zero is a valid sockaddr_storage and msghdr.
    let mut addr: libc::sockaddr_storage = unsafe { zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // u64s keep the control buffer aligned for cmsghdr.
    let mut control = [0u64; 8];
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_name = (&mut addr as *mut libc::sockaddr_storage).cast();
    msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of::<[u64; 8]>() as _;
    // SAFETY: recvmsg(2) into buffers that outlive the call, sizes given.
    let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let from = to_socket_addr(&addr)
        .ok_or_else(|| io::Error::other("datagram from an unknown address family"))?;
    let mut arrived = now;
    // SAFETY: walking the control messages the kernel wrote, with its macros.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                arrived = on_our_clock(ts, now);
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((n as usize, from, arrived))
}

/// The kernel stamps with the wall clock; `Instant` is monotonic. How long
/// ago the packet came is the same on both (a wall-clock step between the
/// two reads aside, which only clamps to `now`).
fn on_our_clock(ts: libc::timespec, now: Instant) -> Instant {
    let stamp = UNIX_EPOCH
        + Duration::new(
            ts.tv_sec.max(0) as u64,
            ts.tv_nsec.clamp(0, 999_999_999) as u32,
        );
    match SystemTime::now().duration_since(stamp) {
        Ok(ago) if ago < Duration::from_secs(1) => now.checked_sub(ago).unwrap_or(now),
        _ => now,
    }
}

fn to_socket_addr(a: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(a.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says it is a sockaddr_in.
            let v4: &libc::sockaddr_in = unsafe { &*(a as *const libc::sockaddr_storage).cast() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)),
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says it is a sockaddr_in6.
            let v6: &libc::sockaddr_in6 = unsafe { &*(a as *const libc::sockaddr_storage).cast() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(v6.sin6_addr.s6_addr),
                u16::from_be(v6.sin6_port),
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packet_that_waited_is_stamped_when_it_came() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        enable(&rx).unwrap();
        // Linux turns receive stamping on for the machine through deferred
        // work when the first socket asks for it; until then a packet gets
        // the time it is read. Give it a moment, as a line's first call does.
        std::thread::sleep(Duration::from_millis(100));
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.send_to(b"hello", rx.local_addr().unwrap()).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let now = Instant::now();
        let mut buf = [0u8; 64];
        let (n, from, at) = recv(&rx, &mut buf, now).unwrap();
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(from, tx.local_addr().unwrap());
        let waited = now.duration_since(at);
        assert!(
            waited >= Duration::from_millis(45),
            "stamped {waited:?} before now"
        );
        assert!(
            recv(&rx, &mut buf, now).is_err(),
            "nothing more: WouldBlock"
        );
    }
}
