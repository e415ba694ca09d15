//! What unit tests across the crate share to drive the sans-IO core by
//! stepping time: draining its outputs by kind, and (as the tests grow)
//! the peers and messages they feed it. Also the check of a refused
//! configuration, and bytes for never-panic tests. Test-only: the layering
//! check lets it import any module, and lets only test code import it.

use std::net::SocketAddr;

use crate::app::{Core, Output};
use crate::media::messages::MediaCommand;
use crate::sip::transport::Transmit;

mod noise;
mod refusal;

pub use noise::noise;
pub use refusal::assert_refused;

/// One step's outputs, by kind, each in the order the core queued it.
#[derive(Debug, Default)]
pub struct Outputs {
    pub closes: Vec<SocketAddr>,
    pub media: Vec<MediaCommand>,
    pub transmits: Vec<Transmit>,
}

/// Takes everything the core has queued.
pub fn drain(core: &mut Core) -> Outputs {
    let mut out = Outputs::default();
    while let Some(o) = core.poll_output() {
        match o {
            Output::CloseConnection(a) => out.closes.push(a),
            Output::Media(c) => out.media.push(c),
            Output::Transmit(t) => out.transmits.push(t),
        }
    }
    out
}
