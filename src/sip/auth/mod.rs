//! SIP digest authentication (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760),
//! client and server, sans-IO: no clock reads and no randomness of its own.
//! The caller passes `now_secs` and the client nonce, so every test can fix
//! them.
//!
//! - [`Challenge`]: a `WWW-Authenticate` / `Proxy-Authenticate` value.
//! - [`Credentials`]: an `Authorization` / `Proxy-Authorization` value.
//! - [`DigestClient`]: answers challenges (registration, outbound calls),
//!   counting nonce uses per realm.
//! - [`DigestServer`]: challenges WAN peers with stateless HMAC-bound nonces
//!   and verifies their answers, refusing replayed nonce counts.
//!
//! ```
//! use pbxgate::sip::auth::{Algorithm, DigestClient, DigestServer, ServerConfig, DigestVerdict};
//! use pbxgate::sip::message::{Method, Uri};
//!
//! let mut server = DigestServer::new([7; 32], ServerConfig::default());
//! let challenge = server.challenge("pbxgate", 1_000, false, Algorithm::Sha256);
//!
//! let mut client = DigestClient::new();
//! let uri = "sip:+15551234567@gw.example.net";
//! let credentials = client
//!     .authorize(&challenge, "alice", "s3cret", &Method::Invite, uri, "c0ffee")
//!     .unwrap();
//!
//! let request_uri = Uri::parse(uri).unwrap();
//! let verdict = server.verify(
//!     &credentials,
//!     "pbxgate",
//!     &Method::Invite,
//!     &request_uri,
//!     |user| (user == "alice").then(|| "s3cret".to_string()),
//!     1_010,
//! );
//! assert_eq!(verdict, DigestVerdict::Ok { username: "alice".into() });
//! ```

mod algorithm;
mod auth_params;
mod challenge;
mod client;
mod credentials;
mod digest;
mod server;

pub use algorithm::Algorithm;
pub use challenge::{challenges, credentials_header, Challenge, Qop};
pub use client::{can_answer, choose, pick_challenge, DigestClient};
pub use credentials::Credentials;
pub use digest::{response, DigestInput};
pub use server::{DigestServer, DigestVerdict, RejectReason, ServerConfig};

/// Why a challenge or credentials value could not be read, or why the client
/// cannot answer a challenge. Parameters are named as they appear on the wire.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the header value is empty; expected 'Digest' followed by parameters")]
    Empty,
    #[error("authentication scheme '{scheme}' is not supported; only Digest is")]
    NotDigest { scheme: String },
    #[error("the Digest value has no parameters")]
    NoParams,
    #[error("the Digest value lacks the required parameter '{param}'")]
    MissingParam { param: &'static str },
    #[error("more than {max} parameters; this is not a Digest value a server would send")]
    TooManyParams { max: usize },
    #[error("parameter '{param}' appears more than once")]
    DuplicateParam { param: String },
    #[error("parameter '{param}' has an unterminated quoted string (missing closing '\"')")]
    UnterminatedQuote { param: String },
    #[error("parameter '{param}' is malformed: {detail}")]
    MalformedParam { param: String, detail: &'static str },
    #[error("expected a parameter name but found '{found}'")]
    ExpectedParamName { found: String },
    #[error(
        "algorithm '{value}' is not supported; use MD5, MD5-sess, SHA-256, SHA-256-sess, \
         SHA-512-256 or SHA-512-256-sess"
    )]
    UnknownAlgorithm { value: String },
    #[error("nc '{value}' is not a nonce count of 8 hexadecimal digits")]
    InvalidNonceCount { value: String },
    #[error(
        "the challenge offers qop \"{offered}\" but only qop=auth can be answered \
         (auth-int needs the body hash, which is not supported)"
    )]
    UnsupportedQop { offered: String },
    #[error("algorithm {algorithm} needs a client nonce, so the challenge must offer qop=auth")]
    SessionWithoutQop { algorithm: Algorithm },
    #[error("the client nonce (cnonce) is empty; pass a random value")]
    EmptyCnonce,
    #[error("nonce count for this nonce is exhausted; a new challenge is needed")]
    NonceCountExhausted,
}
