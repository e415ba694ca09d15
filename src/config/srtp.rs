//! `srtp = "off" | "offer" | "require"`: whether a leg's media is SRTP
//! (RFC 3711) with SDES keys (RFC 4568), on a listener for the calls that
//! arrive on it and on accounts and route targets for the calls the
//! gateway places.

use serde::{Deserialize, Serialize};

/// The message of every refusal of `offer`/`require` without TLS: SDES
/// puts the keys in the SDP, so SIP in clear would give them away
/// (RFC 4568 §8.3).
pub const SDES_NEEDS_TLS: &str = "SDES keys travel only over TLS";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SrtpMode {
    /// Plain RTP (RTP/AVP); an SRTP offer is refused with 488.
    #[default]
    Off,
    /// SRTP when the peer offers or accepts it, plain RTP otherwise.
    Offer,
    /// SRTP only: a plain offer or answer is refused.
    Require,
}

impl SrtpMode {
    pub fn is_default(&self) -> bool {
        *self == SrtpMode::Off
    }

    pub fn name(self) -> &'static str {
        match self {
            SrtpMode::Off => "off",
            SrtpMode::Offer => "offer",
            SrtpMode::Require => "require",
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn listener(transports: &str, srtp: &str) -> Result<Config, String> {
        Config::from_toml(&format!(
            "[[listener]]\nname='wan'\nside='wan'\nbind='127.0.0.1:5060'\n\
             transports={transports}\nsrtp='{srtp}'\n"
        ))
    }

    fn account(extra: &str) -> Result<Config, String> {
        Config::from_toml(&format!(
            "[[account]]\nname='sw'\nregistrar='sip:example.com'\nusername='alice'\n\
             password='x'\n{extra}"
        ))
    }

    #[test]
    fn offer_and_require_without_tls_are_refused_at_the_field() {
        for mode in ["offer", "require"] {
            let e = listener("['udp', 'tcp']", mode).unwrap_err();
            assert!(e.contains("listener[0].srtp"), "{e}");
            assert!(e.contains("SDES keys travel only over TLS"), "{e}");
            listener("['udp', 'tls']", mode).expect("with tls");
            let e = account(&format!("srtp='{mode}'\n")).unwrap_err();
            assert!(e.contains("account[0].srtp"), "{e}");
            assert!(e.contains("SDES keys travel only over TLS"), "{e}");
            account(&format!("srtp='{mode}'\ntransport='tls'\n")).expect("tls");
        }
        listener("['udp']", "off").expect("off needs nothing");
        let sips =
            "[[account]]\nname='sw'\nregistrar='sips:example.com'\nusername='a'\nsrtp='offer'\n";
        Config::from_toml(sips).expect("a sips: registrar is TLS");
        let e = listener("['tls']", "sometimes").unwrap_err();
        assert!(e.contains("sometimes"), "{e}");
    }
}
