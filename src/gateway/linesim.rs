//! `pbxgate linesim`: the line-board simulator's shell lives in
//! `line::sim_io`; the command line reaches it through the gateway layer,
//! which runs the shells of the layers below (tests/layering.py).

pub use crate::line::sim_io::{run, SimError, SimPort};
