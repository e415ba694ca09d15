//! Local lines: the serial protocol to the line board (sans-IO codec and
//! framer, the box's serial shell), the board simulator, and board files.
//! `audio` is a line's call audio: G.711 RTP, jitter buffer, keys.

pub mod audio;
pub mod board;
pub mod framer;
pub mod protocol;
pub mod serial;
pub mod sim;
pub mod sim_io;
