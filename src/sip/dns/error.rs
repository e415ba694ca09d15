//! Why server location failed, in words a person can act on.

/// Errors of RFC 3263 server location and of the DNS shell.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("cannot locate a SIP server for a {scheme}: URI (only sip: and sips: are located)")]
    UnsupportedScheme { scheme: String },

    #[error("transport={transport} in {uri} is not supported (udp, tcp and tls are)")]
    UnsupportedTransport { uri: String, transport: String },

    #[error("{uri} asks for UDP, but a sips: URI must be reached over TLS (RFC 3261 §26.2.2)")]
    SipsOverUdp { uri: String },

    #[error("'{name}' is not a usable DNS name: {reason}")]
    InvalidName { name: String, reason: String },

    #[error("DNS name '{name}' does not exist (NXDOMAIN)")]
    NoSuchName { name: String },

    #[error("DNS name '{name}' has no A or AAAA records")]
    NoAddresses { name: String },

    #[error(
        "SRV '{name}' says the service is decidedly not available there (target \".\", RFC 2782)"
    )]
    ServiceNotAvailable { name: String },

    #[error("DNS lookup failed for {query}: {reason}")]
    LookupFailed { query: String, reason: String },

    #[error("none of the SRV targets of '{name}' resolved to an address: {details}")]
    NoUsableTargets { name: String, details: String },

    #[error("no nameserver to ask: {reason}")]
    NoNameserver { reason: String },

    #[error("DNS socket error: {reason}")]
    Io { reason: String },
}
