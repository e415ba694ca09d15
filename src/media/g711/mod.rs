//! G.711 µ-law and A-law (ITU-T G.711): encode, decode and direct
//! PCMU↔PCMA translation by lookup tables.
//!
//! The coding rules live once, as plain `const fn`s, in `reference.rs`; the
//! tables in `tables.rs` are computed from them at compile time, and the
//! public functions are single lookups. Encoding follows ITU-T G.191's
//! reference software bit for bit (negative samples mirrored by one's
//! complement); decoding gives the middle of each quantisation interval.
//! `docs/media.md` says how this is verified and how it relates to Python's
//! `audioop` / Sun's `g711.c`.

mod law;
mod reference;
mod sample;
mod slice;
mod tables;

pub use law::Law;
pub use reference::{
    alaw_decode_reference, alaw_encode_reference, ulaw_decode_reference, ulaw_encode_reference,
};
pub use sample::{alaw_decode, alaw_encode, alaw_to_ulaw, ulaw_decode, ulaw_encode, ulaw_to_alaw};
pub use slice::{
    decode_alaw, decode_ulaw, encode_alaw, encode_ulaw, transcode_alaw_to_ulaw,
    transcode_ulaw_to_alaw,
};

#[cfg(test)]
mod tests;
