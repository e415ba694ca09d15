//! The states of the two non-INVITE machines. RFC 3261 gives the client
//! (§17.1.2.2, Figure 6) and the server (§17.2.2, Figure 8) the same four.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NonInviteState {
    /// The request is out (client) or in (server); no response yet.
    Trying,
    /// A provisional response was received (client) or sent (server).
    Proceeding,
    /// The final response is in (client) or out (server); its timer (K or
    /// J) absorbs retransmissions.
    Completed,
    Terminated,
}
