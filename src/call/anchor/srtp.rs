//! SDES-SRTP on anchored legs (RFC 4568 keys for RFC 3711): what an offer
//! or answer says about a leg's media protection, and the `a=crypto` line
//! the gateway puts in its own offers and answers. Each leg has its own
//! keys: the gateway decrypts what one leg sends and encrypts it again for
//! the other, or relays it plain to a leg that is not SRTP.
//!
//! Pure: keys come in from the caller's random source (the B2BUA's
//! `IdGenerator`), nothing here logs a key.

use crate::config::SrtpMode;
use crate::media::leg_crypto::LegKeys;
use crate::media::sdp::{Attribute, Media};
use crate::media::srtp::sdes::{CryptoAttribute, NAME};
use crate::media::srtp::{MasterKey, Suite};

/// The profile of SRTP with SDES (RFC 3711 §7, RFC 4568 §3.1.4).
const SAVP: &str = "RTP/SAVP";
const AVP: &str = "RTP/AVP";

/// The tag of the line the gateway offers (RFC 4568 §9.1: any 1-9 digit
/// number; one line, so 1).
const OFFER_TAG: u32 = 1;

/// What a stream says about SRTP: None for plain RTP (RTP/AVP, or any
/// profile without SAVP, left as it was); for RTP/SAVP the first
/// `a=crypto` line the gateway can use (RFC 4568 §7.1.1: the answerer
/// picks one of the offered lines). Err: RTP/SAVP with no usable line, or
/// a secure profile other than SDES (DTLS-SRTP, SAVPF).
pub fn crypto_of(m: &Media) -> Result<Option<CryptoAttribute>, String> {
    if !m.proto.eq_ignore_ascii_case(SAVP) {
        if m.proto.to_ascii_uppercase().contains("SAVP") {
            return Err(format!(
                "media profile {} is not supported (RTP/SAVP with a=crypto is)",
                m.proto
            ));
        }
        return Ok(None);
    }
    let mut first_error = None;
    for a in m
        .attributes
        .iter()
        .filter(|a| a.name.eq_ignore_ascii_case(NAME))
    {
        match CryptoAttribute::parse(a.value.as_deref().unwrap_or("")) {
            Ok(c) => return Ok(Some(c)),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(match first_error {
        // The error names the field, never the key (`SdesError`).
        Some(e) => format!("no usable a=crypto line in the RTP/SAVP stream ({e})"),
        None => "RTP/SAVP without an a=crypto line (only SDES keys are supported)".into(),
    })
}

/// Sets the stream's profile for the leg it goes to: RTP/SAVP with the
/// gateway's `crypto` line, or plain RTP/AVP. The other leg's lines never
/// pass: each leg has keys of its own.
pub fn set_crypto(m: &mut Media, crypto: Option<&CryptoAttribute>) {
    m.attributes.retain(|a| !a.name.eq_ignore_ascii_case(NAME));
    match crypto {
        Some(c) => {
            m.proto = SAVP.into();
            m.attributes.push(Attribute {
                name: NAME.into(),
                value: Some(c.to_value()),
            });
        }
        None if m.proto.eq_ignore_ascii_case(SAVP) => m.proto = AVP.into(),
        None => {}
    }
}

/// One leg's SRTP as negotiated so far.
#[derive(Clone, Debug)]
pub struct LegSrtp {
    /// The leg's setting (the listener's for the caller, the target's or
    /// account's for a callee).
    pub mode: SrtpMode,
    /// The tag and suite of the line in force (the peer's offered line
    /// the gateway answered, or the gateway's own offered line).
    pub tag: u32,
    pub suite: Suite,
    /// The gateway's key toward the leg.
    pub ours: MasterKey,
    /// The peer's key, once its offer or answer gave it.
    pub theirs: Option<MasterKey>,
}

impl LegSrtp {
    /// The leg's SRTP from the peer's offered line, answered with `ours`.
    pub fn answering(mode: SrtpMode, offered: CryptoAttribute, ours: MasterKey) -> LegSrtp {
        LegSrtp {
            mode,
            tag: offered.tag,
            suite: offered.suite,
            ours,
            theirs: Some(offered.key.clone()),
        }
    }

    /// The leg's SRTP as the gateway offers it: its first suite, 80-bit
    /// tags (RFC 4568 §6.2.1, the one every SDES peer supports).
    pub fn offering(mode: SrtpMode, ours: MasterKey) -> LegSrtp {
        LegSrtp {
            mode,
            tag: OFFER_TAG,
            suite: Suite::AesCm128HmacSha1_80,
            ours,
            theirs: None,
        }
    }

    /// The gateway's `a=crypto` line toward the leg.
    pub fn line(&self) -> CryptoAttribute {
        CryptoAttribute::new(self.tag, self.suite, self.ours.clone())
    }

    /// What the media thread needs, once both keys are known.
    pub fn keys(&self) -> Option<LegKeys> {
        Some(LegKeys {
            suite: self.suite,
            ours: self.ours.clone(),
            theirs: self.theirs.clone()?,
        })
    }

    /// The peer's answer to the gateway's line: the same tag and suite
    /// (RFC 4568 §7.1.2), its own key.
    pub fn take_answer(&mut self, answered: CryptoAttribute) -> Result<(), String> {
        if answered.tag != self.tag || answered.suite != self.suite {
            return Err(format!(
                "the answer's a=crypto (tag {}, {}) is not the line offered (tag {}, {})",
                answered.tag, answered.suite, self.tag, self.suite
            ));
        }
        self.theirs = Some(answered.key.clone());
        Ok(())
    }

    /// A new offer from the peer (re-INVITE, UPDATE): its line, possibly
    /// with a new key (RFC 4568 §7.1.4), replaces the one in force; the
    /// gateway keeps its own key.
    pub fn take_offer(&mut self, offered: CryptoAttribute) {
        self.tag = offered.tag;
        self.suite = offered.suite;
        self.theirs = Some(offered.key.clone());
    }
}

/// The caller's SRTP from its offer and the listener's setting; `tls`:
/// the INVITE came over TLS. Err: the 488 reason.
pub fn caller_srtp(
    offered: &Media,
    mode: SrtpMode,
    tls: bool,
    ours: MasterKey,
) -> Result<Option<LegSrtp>, String> {
    let crypto = match crypto_of(offered) {
        Ok(c) => c,
        Err(_) if mode == SrtpMode::Off => return Err(not_enabled()),
        Err(e) => return Err(e),
    };
    match (mode, crypto) {
        (SrtpMode::Off, Some(_)) => Err(not_enabled()),
        (_, Some(_)) if !tls => Err(
            "RTP/SAVP offered over a transport other than TLS: SDES keys travel only over TLS"
                .into(),
        ),
        (_, Some(c)) => Ok(Some(LegSrtp::answering(mode, c, ours))),
        (SrtpMode::Require, None) => Err(
            "SRTP required on this listener (srtp = \"require\"); the offer is plain RTP".into(),
        ),
        (_, None) => Ok(None),
    }
}

fn not_enabled() -> String {
    "SRTP not enabled on this listener (RTP/SAVP offered, srtp = \"off\")".into()
}

/// Settles leg `leg`'s SRTP with the peer's answer, whose stream said
/// `answered` (from `crypto_of`); `initial`: the answer to the INVITE,
/// where a leg in `offer` mode may fall back to plain RTP. Err: the call
/// cannot go on with this answer.
pub fn settle_answer(
    leg: &mut Option<LegSrtp>,
    answered: Option<CryptoAttribute>,
    initial: bool,
) -> Result<(), String> {
    match (leg.as_mut(), answered) {
        (Some(l), Some(c)) => l.take_answer(c),
        (Some(l), None) if initial && l.mode != SrtpMode::Require => {
            *leg = None;
            Ok(())
        }
        (Some(l), None) if l.mode == SrtpMode::Require => {
            Err("the answer is plain RTP, and the leg has srtp = \"require\"".into())
        }
        (Some(_), None) => {
            Err("the answer drops SRTP; a call's media protection cannot change".into())
        }
        (None, Some(_)) => Err("the answer is RTP/SAVP to a plain RTP offer".into()),
        (None, None) => Ok(()),
    }
}

/// Takes a re-offer's SRTP on the offerer's leg: the same protection as
/// before, with the offerer's key possibly new.
pub fn settle_reoffer(
    leg: &mut Option<LegSrtp>,
    offered: Option<CryptoAttribute>,
) -> Result<(), String> {
    match (leg.as_mut(), offered) {
        // The gateway's key stays; with another suite it would protect
        // under the same session keys again (both suites derive alike).
        (Some(l), Some(c)) if c.suite != l.suite => Err(format!(
            "the offer changes the crypto suite from {} to {}; not supported in a call",
            l.suite, c.suite
        )),
        (Some(l), Some(c)) => {
            l.take_offer(c);
            Ok(())
        }
        (None, None) => Ok(()),
        (Some(_), None) => {
            Err("the offer drops SRTP; a call's media protection cannot change".into())
        }
        (None, Some(_)) => {
            Err("the offer adds SRTP; a call's media protection cannot change".into())
        }
    }
}
