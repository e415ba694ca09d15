//! Acceptance tests of the G.711 module: tables against the rules, codes
//! against the standard's quantisation, and everything against Python's
//! `audioop` as an independent second implementation.

mod api;
mod audioop;
mod quantisation;
mod tables;

/// Every 16-bit linear sample, ascending.
fn all_samples() -> impl Iterator<Item = i16> {
    i16::MIN..=i16::MAX
}

/// Every 8-bit code.
fn all_codes() -> impl Iterator<Item = u8> {
    0..=u8::MAX
}
