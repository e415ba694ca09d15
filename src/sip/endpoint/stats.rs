//! Counters the status page and the logs read.

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointStats {
    pub requests_received: u64,
    pub responses_received: u64,
    pub keepalives: u64,
    /// Malformed requests answered with 400/505.
    pub rejected_answered: u64,
    /// Malformed or unanswerable messages dropped.
    pub dropped_malformed: u64,
    pub options_answered: u64,
    pub invites_answered: u64,
    /// Requests ignored because their source failed authentication too often.
    pub dropped_blocked: u64,
    /// Datagrams over a LAN listener's rate limit processed anyway: an
    /// INVITE to an emergency number, or a message of an emergency call.
    pub emergency_exempt: u64,
}
