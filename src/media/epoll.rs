//! The two kernel objects a media thread waits on, as thin wrappers over
//! their syscalls: the epoll set of its sockets, and the eventfd a
//! command's sender writes to so the thread wakes (`EventFdWaker`).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::task::Wake;
use std::time::Duration;

pub(super) struct Epoll(OwnedFd);

impl Epoll {
    pub(super) fn new() -> io::Result<Epoll> {
        // SAFETY: plain syscall; the fd is owned from here on.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a new descriptor nobody else owns.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Registers `fd` for reading; `edge` reports it only when data
    /// arrives, so a drained socket is not polled again on the next wait.
    pub(super) fn add(&self, fd: RawFd, key: u64, edge: bool) -> io::Result<()> {
        let edge = if edge { libc::EPOLLET as u32 } else { 0 };
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32 | edge,
            u64: key,
        };
        // SAFETY: registers a descriptor we own with an event we own.
        if unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits at most `timeout` (rounded up to 1 ms), or not at all when
    /// `poll` is set.
    pub(super) fn wait(
        &self,
        events: &mut [libc::epoll_event],
        timeout: Duration,
        poll: bool,
    ) -> usize {
        let ms = if poll {
            0
        } else {
            timeout.as_millis().clamp(1, 1000) as i32
        };
        // SAFETY: the kernel writes at most events.len() entries.
        let n = unsafe {
            libc::epoll_wait(
                self.0.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                ms,
            )
        };
        n.max(0) as usize
    }
}

/// Wakes the loop from whichever thread sends a command.
pub(super) struct EventFdWaker(OwnedFd);

impl EventFdWaker {
    pub(super) fn new() -> io::Result<Arc<EventFdWaker>> {
        // SAFETY: plain syscall; the fd is owned from here on.
        let efd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if efd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: efd is a new descriptor nobody else owns.
        Ok(Arc::new(EventFdWaker(unsafe { OwnedFd::from_raw_fd(efd) })))
    }

    pub(super) fn fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// Resets the counter, so the next wake is reported again.
    pub(super) fn clear(&self) {
        let mut x = 0u64;
        // SAFETY: reads the eventfd's 8-byte counter into a local.
        unsafe { libc::read(self.0.as_raw_fd(), (&mut x as *mut u64).cast(), 8) };
    }
}

impl Wake for EventFdWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a local to the eventfd we own. A
        // full counter (EAGAIN) already means "wake up".
        unsafe { libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }
}
