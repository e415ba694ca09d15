//! Codec negotiation across the two legs (RFC 3264 offer/answer, twice):
//! the callee is offered what the caller offered plus what the gateway can
//! transcode to; once the callee answers, the caller's answer is chosen so
//! that both legs get a codec they accept, transcoding PCMU↔PCMA when they
//! settled on different laws.

use super::sdp::{Attribute, Media};

/// Payload types of the static G.711 formats (RFC 3551).
pub const PCMU: u8 = 0;
pub const PCMA: u8 = 8;
/// The dynamic payload type the gateway uses for telephone-event when it
/// adds one itself.
pub const DEFAULT_TELEPHONE_EVENT_PT: u8 = 101;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Pcmu,
    Pcma,
}

impl Codec {
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => PCMU,
            Codec::Pcma => PCMA,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    fn other(self) -> Codec {
        match self {
            Codec::Pcmu => Codec::Pcma,
            Codec::Pcma => Codec::Pcmu,
        }
    }
}

/// What one leg settled on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LegMedia {
    pub codec: Codec,
    /// The leg's payload type for `codec` (static: 0 or 8).
    pub payload_type: u8,
    /// The leg's telephone-event payload type, if it does RFC 4733.
    pub telephone_event: Option<u8>,
}

/// How media crosses the gateway for a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaPlan {
    pub caller: LegMedia,
    pub callee: LegMedia,
}

impl MediaPlan {
    /// The two legs use different G.711 laws: every audio payload is
    /// translated.
    pub fn transcodes(&self) -> bool {
        self.caller.codec != self.callee.codec
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    #[error("the offer has no audio codec the gateway handles (PCMU or PCMA)")]
    NoCommonCodec,
    #[error("the answer chose no codec the gateway offered")]
    AnswerOutsideOffer,
}

fn g711_in(m: &Media) -> Vec<Codec> {
    // In the order offered: the first is the peer's preference.
    m.formats
        .iter()
        .filter_map(|f| f.parse::<u8>().ok())
        .filter_map(|pt| {
            let maps = m.rtpmaps();
            let map = maps.iter().find(|r| r.payload_type == pt)?;
            if map.clock_rate != 8000 {
                return None;
            }
            if map.encoding.eq_ignore_ascii_case("PCMU") {
                Some(Codec::Pcmu)
            } else if map.encoding.eq_ignore_ascii_case("PCMA") {
                Some(Codec::Pcma)
            } else {
                None
            }
        })
        .collect()
}

fn telephone_event_in(m: &Media) -> Option<u8> {
    m.payload_type_of("telephone-event", 8000)
}

/// The audio formats to offer the callee, from the caller's offer: the
/// caller's G.711 laws in its order, then the other law (which the gateway
/// transcodes to), then, `with_events`, telephone-event (the caller's
/// number, or 101: the gateway converts between events and tones).
pub fn callee_offer(caller: &Media, with_events: bool) -> Result<CalleeOffer, NegotiationError> {
    let mut laws = g711_in(caller);
    if laws.is_empty() {
        return Err(NegotiationError::NoCommonCodec);
    }
    laws.dedup();
    let first = laws[0];
    if !laws.contains(&first.other()) {
        laws.push(first.other());
    }
    let te = telephone_event_in(caller).unwrap_or(DEFAULT_TELEPHONE_EVENT_PT);
    let mut formats: Vec<String> = laws.iter().map(|c| c.payload_type().to_string()).collect();
    if with_events {
        formats.push(te.to_string());
    }
    let attr = |name: &str, value: String| Attribute {
        name: name.into(),
        value: Some(value),
    };
    let mut attributes: Vec<Attribute> = laws
        .iter()
        .map(|c| attr("rtpmap", format!("{} {}/8000", c.payload_type(), c.name())))
        .collect();
    if with_events {
        attributes.push(attr("rtpmap", format!("{te} telephone-event/8000")));
        attributes.push(attr("fmtp", format!("{te} 0-15")));
    }
    Ok(CalleeOffer {
        formats,
        attributes,
    })
}

/// The m= formats and the rtpmap/fmtp attributes of the callee's offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalleeOffer {
    pub formats: Vec<String>,
    pub attributes: Vec<Attribute>,
}

/// Settles both legs once the callee answered our offer: the callee's
/// first G.711 choice stands; the caller gets the same law when it offered
/// it, else the other one (and the gateway transcodes).
pub fn settle(caller_offer: &Media, callee_answer: &Media) -> Result<MediaPlan, NegotiationError> {
    let callee_codec = *g711_in(callee_answer)
        .first()
        .ok_or(NegotiationError::AnswerOutsideOffer)?;
    let caller_laws = g711_in(caller_offer);
    let caller_codec = if caller_laws.contains(&callee_codec) {
        callee_codec
    } else {
        *caller_laws.first().ok_or(NegotiationError::NoCommonCodec)?
    };
    Ok(MediaPlan {
        caller: LegMedia {
            codec: caller_codec,
            payload_type: caller_codec.payload_type(),
            telephone_event: telephone_event_in(caller_offer),
        },
        callee: LegMedia {
            codec: callee_codec,
            payload_type: callee_codec.payload_type(),
            telephone_event: telephone_event_in(callee_answer),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::sdp::SessionDescription;

    fn media(formats: &str, attrs: &str) -> Media {
        let body = format!(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP {formats}\r\n{attrs}"
        );
        SessionDescription::parse(body.as_bytes())
            .expect("sdp")
            .media
            .remove(0)
    }

    #[test]
    fn the_callee_is_offered_the_callers_codecs_and_what_the_gateway_adds() {
        type Row<'a> = (
            &'a str,
            &'a str,
            &'a str,
            Result<Vec<&'a str>, NegotiationError>,
        );
        let te = "a=rtpmap:101 telephone-event/8000\r\n";
        let rows: &[Row] = &[
            (
                "Twilio: PCMU + events",
                "0 101",
                te,
                Ok(vec!["0", "8", "101"]),
            ),
            ("PCMA only: PCMU added", "8", "", Ok(vec!["8", "0", "101"])),
            (
                "both laws, caller's order kept",
                "8 0 101",
                te,
                Ok(vec!["8", "0", "101"]),
            ),
            (
                "events on another number",
                "0 96",
                "a=rtpmap:96 telephone-event/8000\r\n",
                Ok(vec!["0", "8", "96"]),
            ),
            (
                "G.729 is not ours, dropped",
                "18 0",
                "",
                Ok(vec!["0", "8", "101"]),
            ),
            (
                "no G.711 at all",
                "18 9",
                "",
                Err(NegotiationError::NoCommonCodec),
            ),
            (
                "PCMU at 16 kHz is not G.711",
                "97",
                "a=rtpmap:97 PCMU/16000\r\n",
                Err(NegotiationError::NoCommonCodec),
            ),
        ];
        for (what, formats, attrs, expected) in rows {
            let got = callee_offer(&media(formats, attrs), true).map(|o| o.formats);
            let expected = expected
                .clone()
                .map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
            assert_eq!(got, expected, "{what}");
        }
        let offer = callee_offer(&media("8", ""), true).unwrap();
        let values: Vec<(&str, &str)> = offer
            .attributes
            .iter()
            .map(|a| (a.name.as_str(), a.value.as_deref().unwrap_or("")))
            .collect();
        assert!(values.contains(&("rtpmap", "0 PCMU/8000")));
        assert!(values.contains(&("fmtp", "101 0-15")));
    }

    #[test]
    fn both_legs_settle_on_a_codec_they_accept() {
        let te = "a=rtpmap:101 telephone-event/8000\r\n";
        type Row<'a> = (
            &'a str,
            (&'a str, &'a str),
            (&'a str, &'a str),
            Result<(Codec, Codec, bool), NegotiationError>,
        );
        let rows: &[Row] = &[
            (
                "same law, no transcoding",
                ("0 101", te),
                ("0 101", te),
                Ok((Codec::Pcmu, Codec::Pcmu, false)),
            ),
            (
                "PBX only takes PCMA",
                ("0 101", te),
                ("8", ""),
                Ok((Codec::Pcmu, Codec::Pcma, true)),
            ),
            (
                "caller offered both, callee chose PCMA",
                ("0 8", ""),
                ("8", ""),
                Ok((Codec::Pcma, Codec::Pcma, false)),
            ),
            (
                "answer outside the offer",
                ("0", ""),
                ("18", ""),
                Err(NegotiationError::AnswerOutsideOffer),
            ),
        ];
        for (what, (cf, ca), (af, aa), expected) in rows {
            let got = settle(&media(cf, ca), &media(af, aa))
                .map(|p| (p.caller.codec, p.callee.codec, p.transcodes()));
            assert_eq!(&got, expected, "{what}");
        }
        let plan = settle(&media("0 101", te), &media("8", "")).unwrap();
        assert_eq!(plan.caller.telephone_event, Some(101));
        assert_eq!(plan.callee.telephone_event, None, "an in-band-only PBX");
    }
}
