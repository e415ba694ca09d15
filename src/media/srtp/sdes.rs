//! SDES keys: the `a=crypto` attribute of RFC 4568, for SRTP (§6, grammar
//! in §9.2). `CryptoAttribute::parse` reads the attribute's value (what
//! follows `a=crypto:`); `to_value` writes one for an offer or answer.
//!
//! The line carries the key in the clear, so SDP with `a=crypto` travels
//! only over TLS, and neither the value nor the parsed key is ever
//! printed: `Debug` redacts the key and no error quotes it.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use thiserror::Error;
use zeroize::Zeroize;

use super::key::{MasterKey, MASTER_LEN};
use super::suite::Suite;

/// The attribute's name, as in `a=crypto:`.
pub const NAME: &str = "crypto";

/// Base64 characters of a 30-byte key and salt (no padding needed).
const INLINE_LEN: usize = MASTER_LEN.div_ceil(3) * 4;

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SdesError {
    #[error("a=crypto has no tag (a decimal number of 1 to 9 digits)")]
    MissingTag,
    #[error("a=crypto tag \"{0}\" is not a decimal number of 1 to 9 digits")]
    BadTag(String),
    #[error("a=crypto has no crypto suite")]
    MissingSuite,
    #[error("crypto suite {0} is not supported (AES_CM_128_HMAC_SHA1_80 and AES_CM_128_HMAC_SHA1_32 are)")]
    UnknownSuite(String),
    #[error("a=crypto has no key parameters (inline:<key||salt>)")]
    MissingKey,
    #[error("key method \"{0}\" is not supported (only inline)")]
    KeyMethod(String),
    #[error("a=crypto lists more than one key, which needs MKI; MKI is not supported")]
    SeveralKeys,
    #[error("the inline key is not valid base64")]
    KeyNotBase64,
    #[error("the inline key is {0} bytes; the suite needs 30 (16-byte key and 14-byte salt)")]
    KeyLength(usize),
    #[error("key lifetime \"{0}\" is not a number or a power of two (2^n)")]
    BadLifetime(String),
    #[error("an MKI (|value:length) is given; MKI is not supported, offer a key without one")]
    Mki,
    #[error("the inline key has more than a lifetime and an MKI after it")]
    TooManyKeyFields,
    #[error("session parameter {0} is not supported")]
    SessionParam(String),
}

/// One `a=crypto` line: a tag, a suite and one master key.
#[derive(Clone, PartialEq, Eq)]
pub struct CryptoAttribute {
    /// Identifies the line; an answer repeats the tag of the offer's line
    /// it accepts (RFC 4568 §7.1.2).
    pub tag: u32,
    pub suite: Suite,
    pub key: MasterKey,
    /// Packets the key may protect, when the line says (`|2^20`). Kept
    /// for the caller: the gateway does not re-key when it runs out.
    pub lifetime: Option<u64>,
    /// The `WSH=` window size hint (RFC 4568 §6.3.6); the replay window
    /// is `REPLAY_WINDOW` whatever it says.
    pub window_hint: Option<u64>,
}

impl CryptoAttribute {
    /// A line for an offer or answer, with a key from the caller's
    /// cryptographic random source.
    pub fn new(tag: u32, suite: Suite, key: MasterKey) -> CryptoAttribute {
        CryptoAttribute {
            tag,
            suite,
            key,
            lifetime: None,
            window_hint: None,
        }
    }

    /// Reads the value of an `a=crypto` attribute:
    /// `tag suite inline:key||salt[|lifetime][|mki:length] [params...]`.
    pub fn parse(value: &str) -> Result<CryptoAttribute, SdesError> {
        // RFC 4568 §9.1: fields are separated by 1*WSP.
        let mut fields = value.split([' ', '\t']).filter(|f| !f.is_empty());
        let tag = fields.next().ok_or(SdesError::MissingTag)?;
        let tag = parse_tag(tag)?;
        let suite = fields.next().ok_or(SdesError::MissingSuite)?;
        let suite =
            Suite::from_name(suite).ok_or_else(|| SdesError::UnknownSuite(printable(suite)))?;
        let key_params = fields.next().ok_or(SdesError::MissingKey)?;
        let (key, lifetime) = parse_key_params(key_params)?;
        let mut attribute = CryptoAttribute {
            tag,
            suite,
            key,
            lifetime,
            window_hint: None,
        };
        for param in fields {
            attribute.session_param(param)?;
        }
        Ok(attribute)
    }

    /// RFC 4568 §6.3. A parameter the gateway does not implement refuses
    /// the line (§6.3.7: unknown mandatory parameters make it invalid);
    /// the offerer's other lines may still be taken.
    fn session_param(&mut self, param: &str) -> Result<(), SdesError> {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        match name {
            // §6.3.6: a hint only.
            "WSH" => {
                let n = value
                    .parse()
                    .map_err(|_| SdesError::SessionParam(printable(param)))?;
                self.window_hint = Some(n);
                Ok(())
            }
            // §6.3.4: the order of FEC and SRTP matters only with FEC,
            // which the gateway does not use.
            "FEC_ORDER" => Ok(()),
            // §6.3.7: a leading dash marks an optional parameter.
            _ if name.starts_with('-') => Ok(()),
            // KDR (§6.3.1), UNENCRYPTED_SRTP/SRTCP, UNAUTHENTICATED_SRTP
            // (§6.3.2, §6.3.3), FEC_KEY (§6.3.5) and anything unknown.
            _ => Err(SdesError::SessionParam(printable(name))),
        }
    }

    /// The attribute's value, `tag suite inline:key||salt`, to put after
    /// `a=crypto:`. It holds the key: send it only over TLS, never log it.
    pub fn to_value(&self) -> String {
        let mut raw = [0u8; MASTER_LEN];
        self.key.write_to(&mut raw);
        let mut b64 = [0u8; INLINE_LEN];
        let n = STANDARD
            .encode_slice(raw, &mut b64)
            .expect("40 bytes hold 30 in base64");
        raw.zeroize();
        let inline = std::str::from_utf8(&b64[..n]).expect("base64 is ASCII");
        let value = format!("{} {} inline:{}", self.tag, self.suite.name(), inline);
        b64.zeroize();
        value
    }
}

impl fmt::Debug for CryptoAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CryptoAttribute")
            .field("tag", &self.tag)
            .field("suite", &self.suite)
            .field("key", &self.key)
            .field("lifetime", &self.lifetime)
            .field("window_hint", &self.window_hint)
            .finish()
    }
}

fn parse_tag(tag: &str) -> Result<u32, SdesError> {
    // §9.1: tag = 1*9DIGIT.
    if tag.is_empty() || tag.len() > 9 || !tag.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SdesError::BadTag(printable(tag)));
    }
    tag.parse().map_err(|_| SdesError::BadTag(printable(tag)))
}

/// `inline:<key||salt>[|lifetime][|mki:length]` (§6.1), one key only.
fn parse_key_params(params: &str) -> Result<(MasterKey, Option<u64>), SdesError> {
    if params.contains(';') {
        return Err(SdesError::SeveralKeys);
    }
    let (method, info) = params.split_once(':').unwrap_or((params, ""));
    if method != "inline" {
        return Err(SdesError::KeyMethod(printable(method)));
    }
    let mut parts = info.split('|');
    let key = decode_key(parts.next().unwrap_or(""))?;
    let (first, second) = (parts.next(), parts.next());
    if parts.next().is_some() {
        return Err(SdesError::TooManyKeyFields);
    }
    // Both optional; the MKI is the one with a colon, and comes last.
    let (lifetime, mki) = match (first, second) {
        (Some(only), None) if only.contains(':') => (None, Some(only)),
        pair => pair,
    };
    let lifetime = lifetime.map(parse_lifetime).transpose()?;
    if mki.is_some() {
        return Err(SdesError::Mki);
    }
    Ok((key, lifetime))
}

fn decode_key(b64: &str) -> Result<MasterKey, SdesError> {
    // Decoded into a stack buffer a little larger than a key, so a longer
    // one is measured and refused and nothing is left on the heap.
    let mut buf = [0u8; MASTER_LEN + 6];
    if b64.len() > (buf.len() / 3) * 4 {
        return Err(SdesError::KeyLength(b64.len() / 4 * 3));
    }
    let n = STANDARD
        .decode_slice(b64, &mut buf)
        .map_err(|_| SdesError::KeyNotBase64)?;
    if n != MASTER_LEN {
        buf.zeroize();
        return Err(SdesError::KeyLength(n));
    }
    let mut raw = [0u8; MASTER_LEN];
    raw.copy_from_slice(&buf[..MASTER_LEN]);
    let key = MasterKey::from_bytes(&raw);
    raw.zeroize();
    buf.zeroize();
    Ok(key)
}

/// `2^n` or a decimal number (§6.1).
fn parse_lifetime(s: &str) -> Result<u64, SdesError> {
    let bad = || SdesError::BadLifetime(printable(s));
    if let Some(exp) = s.strip_prefix("2^") {
        let exp: u32 = digits(exp).ok_or_else(bad)?;
        1u64.checked_shl(exp).filter(|_| exp < 64).ok_or_else(bad)
    } else {
        digits(s).ok_or_else(bad)
    }
}

fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A field quoted in an error: at most 40 characters, printable ASCII.
fn printable(s: &str) -> String {
    s.chars()
        .take(40)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}
