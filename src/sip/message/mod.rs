//! SIP messages: framing, headers, URIs and the typed headers the gateway
//! reads. Parsing is strict where RFC 3261 is, and every rejection says why.

mod cseq;
mod error;
mod header;
mod method;
mod name_addr;
mod params;
mod parse;
mod request;
mod response;
mod scan;
mod status;
mod stream;
mod uri;
mod validate;
mod via;

pub use cseq::CSeq;
pub use error::{ParseError, ReplyContext};
pub use header::{split_list, Header, HeaderName, Headers};
pub use method::{is_token, is_token_char, Method};
pub use name_addr::NameAddr;
pub use params::Params;
pub use parse::{parse_message, Framing, MAX_MESSAGE_SIZE};
pub use request::Request;
pub use response::Response;
pub use status::reason_phrase;
pub use stream::{StreamFramer, StreamItem};
pub use uri::{Host, SipUri, Uri};
pub use via::{Rport, Via, MAGIC_COOKIE};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SipMessage {
    Request(Request),
    Response(Response),
}

impl SipMessage {
    pub fn headers(&self) -> &Headers {
        match self {
            SipMessage::Request(r) => &r.headers,
            SipMessage::Response(r) => &r.headers,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            SipMessage::Request(r) => r.to_bytes(),
            SipMessage::Response(r) => r.to_bytes(),
        }
    }
}

/// Typed access to the headers every message has. A received message has
/// passed validation, so these succeed on it; on a message being built they
/// report what is missing.
impl Headers {
    pub fn call_id(&self) -> Option<&str> {
        self.get(&HeaderName::CallId)
    }

    pub fn cseq(&self) -> Result<CSeq, String> {
        CSeq::parse(self.get(&HeaderName::CSeq).ok_or("missing CSeq header")?)
    }

    pub fn top_via(&self) -> Result<Via, String> {
        Via::parse(
            self.values(&HeaderName::Via)
                .next()
                .ok_or("missing Via header")?,
        )
    }

    pub fn from_addr(&self) -> Result<NameAddr, String> {
        NameAddr::parse(
            self.get(&HeaderName::From).ok_or("missing From header")?,
            "From",
        )
    }

    pub fn to_addr(&self) -> Result<NameAddr, String> {
        NameAddr::parse(self.get(&HeaderName::To).ok_or("missing To header")?, "To")
    }

    pub fn from_tag(&self) -> Option<String> {
        self.from_addr().ok()?.tag().map(str::to_string)
    }

    pub fn to_tag(&self) -> Option<String> {
        self.to_addr().ok()?.tag().map(str::to_string)
    }
}
