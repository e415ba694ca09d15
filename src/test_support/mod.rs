//! What unit tests across the crate share to drive the sans-IO core by
//! stepping time: a core built from configuration text (`Setup`), fed
//! datagrams from named peers at the time the test moved it to
//! (`TestCore`), what left it in order with the messages parsed (`Step`),
//! the messages peers send (`messages`) and their SDP (`sdp`); also the
//! check of a refused configuration, and bytes for never-panic tests.
//! Test-only: the layering check lets it import any module, and lets only
//! test code import it.

mod messages;
mod noise;
mod reconfig;
mod refusal;
mod sdp;
mod setup;
mod step;
mod stepping;

pub use crate::app::HookCall;
/// The RAUC shell, for the update API's tests over the real `rauc` tool.
pub use crate::gateway::update::Rauc;
/// A configuration checked and compiled as a start or a save does it, with
/// options (a board, a build's ALSA support).
pub use crate::gateway::{compile_with, Options as CompileOptions};
pub use messages::{answer, cancel, request, FarEnd};
pub use noise::noise;
pub use reconfig::reconfiguration;
pub use refusal::assert_refused;
pub use sdp::{audio, sdp};
pub use setup::{lan, udp, wan, Setup, GATEWAY_LAN, GATEWAY_WAN};
pub use step::{Sent, Step};
pub use stepping::TestCore;
