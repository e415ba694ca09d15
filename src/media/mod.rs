//! Media: SDP offer/answer, RTP relay, G.711 and DTMF. Sans-IO cores; the
//! relay's hot path allocates nothing per packet.

pub mod dtmf;
pub mod engine;
#[cfg(target_os = "linux")]
mod epoll_loop;
pub mod g711;
pub mod latch;
#[cfg(target_os = "linux")]
mod mmsg;
pub mod negotiate;
pub mod ports;
pub mod relay;
pub mod rtp;
pub mod sdp;
