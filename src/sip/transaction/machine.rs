//! What the layer asks of every transaction machine, whatever its kind, and
//! the enum that holds one side's machine of either kind. The layer fires
//! their timers through `ServerMachine` and `ClientMachine` (in `mod.rs`).

use super::armed::Armed;

/// What the layer reads alike from all four kinds after each step.
pub(crate) trait Machine {
    /// Its timers: when its `handle_timeout` next has something to do,
    /// and whether it has ended.
    fn armed(&self) -> &Armed;
}

/// One side's machine (client or server): INVITE or non-INVITE, the two
/// kinds RFC 3261 §17 tells apart.
#[derive(Debug)]
pub(crate) enum Kind<I, N> {
    Invite(I),
    NonInvite(N),
}

impl<I: Machine, N: Machine> Machine for Kind<I, N> {
    fn armed(&self) -> &Armed {
        match self {
            Kind::Invite(m) => m.armed(),
            Kind::NonInvite(m) => m.armed(),
        }
    }
}
