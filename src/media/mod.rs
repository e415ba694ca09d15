//! Media: SDP offer/answer, RTP relay, G.711 and DTMF. Sans-IO cores; the
//! relay's hot path allocates nothing per packet.
//!
//! The relay's files import only those listed before them: `leg_crypto`
//! (a leg's SRTP contexts), `relay` (the sans-IO decision per packet), `messages` (commands and events), `epoll`
//! and `mmsg` (syscall wrappers), `sessions` (one thread's calls and their
//! sockets), `epoll_loop` (one media thread's loop, the one place commands
//! are applied), `engine` (the threads, and the API signalling uses).

// The media threads use epoll, eventfd and recvmmsg/sendmmsg. The boards
// pbxgate runs on are Linux (Raspberry Pi OS or Debian on a Pi, x86-64
// Debian), so there is no second, untested path for other systems.
#[cfg(not(target_os = "linux"))]
compile_error!(
    "pbxgate builds for Linux only: its media relay uses epoll, eventfd and recvmmsg/sendmmsg \
     (the supported boards run Raspberry Pi OS or Debian; see docs/media.md)"
);

pub mod dtmf;
pub mod engine;
mod epoll;
mod epoll_loop;
pub mod g711;
pub mod latch;
pub mod leg_crypto;
pub mod messages;
mod mmsg;
pub mod negotiate;
pub mod ports;
pub mod relay;
pub mod rtp;
pub mod sdp;
mod sessions;
pub mod srtp;
