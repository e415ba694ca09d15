//! The SDP side of anchoring a call's media: each leg is offered and
//! answered the gateway's own address and port for that leg, with codecs
//! negotiated across the legs (`media::negotiate`). Pure: bodies in, bodies
//! and media settings out; the B2BUA sends the settings to the media thread.

use std::net::{IpAddr, SocketAddr};

use crate::config::DtmfMode;
use crate::media::dtmf::convert::{AudioFormat, DetectPath, DtmfPath, RenderPath};
use crate::media::dtmf::inject::DigitSink;
use crate::media::g711::Law;
use crate::media::latch::PayloadTypes;
use crate::media::negotiate::{callee_offer, settle, Codec, LegMedia, MediaPlan};
use crate::media::relay::Transcode;
use crate::media::sdp::{Direction, Media, SessionDescription};
use crate::media::srtp::sdes::CryptoAttribute;

use super::srtp::{crypto_of, set_crypto};

/// A SIP answer for a body the gateway cannot anchor: 488 with a reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdpRefusal {
    pub reason: String,
}

fn refuse(reason: impl Into<String>) -> SdpRefusal {
    SdpRefusal {
        reason: reason.into(),
    }
}

/// The first audio stream of a body, with its index.
fn audio(sd: &SessionDescription) -> Option<usize> {
    sd.media
        .iter()
        .position(|m| m.kind == "audio" && m.port != 0)
}

/// The payload types a stream lists (what its sender may send).
fn payload_types(m: &Media) -> PayloadTypes {
    PayloadTypes::of(m.formats.iter().filter_map(|f| f.trim().parse::<u8>().ok()))
}

/// Where the sender of `sd` wants its audio.
fn remote_of(sd: &SessionDescription, i: usize) -> Option<SocketAddr> {
    Some(SocketAddr::new(sd.media_address(i)?, sd.media[i].port))
}

/// An offer received on one leg, rewritten for the other leg.
#[derive(Clone, Debug)]
pub struct RewrittenOffer {
    pub body: Vec<u8>,
    /// The offerer's audio stream as it offered it (to settle the answer).
    pub offered: Media,
    /// Where the offerer wants its audio.
    pub offerer_remote: SocketAddr,
    /// The payload types the offerer may send.
    pub offerer_payload_types: PayloadTypes,
    /// The offerer puts the other side on hold (sendonly or inactive).
    pub hold: bool,
}

/// An offer as received, checked once: its SDP parsed, its first audio
/// stream found, its codecs known to be ones the gateway can anchor. It is
/// then rewritten for each leg it is offered to without being read again.
#[derive(Clone, Debug)]
pub struct ParsedOffer {
    sd: SessionDescription,
    /// The index of the first audio stream in `sd.media`.
    audio: usize,
    /// Where the offerer wants its audio.
    pub offerer_remote: SocketAddr,
    /// The offerer's audio stream as it offered it (to settle the answer).
    pub offered: Media,
    /// The offerer puts the other side on hold (sendonly or inactive).
    pub hold: bool,
}

impl ParsedOffer {
    pub fn parse(body: &[u8]) -> Result<ParsedOffer, SdpRefusal> {
        let sd = SessionDescription::parse(body).map_err(|e| refuse(format!("bad SDP: {e}")))?;
        let audio = audio(&sd).ok_or_else(|| refuse("no audio stream in the offer"))?;
        let offerer_remote =
            remote_of(&sd, audio).ok_or_else(|| refuse("the audio stream has no address"))?;
        let offered = sd.media[audio].clone();
        // Events or not only add telephone-event: the codecs are checked
        // here, once.
        callee_offer(&offered, true).map_err(|e| refuse(e.to_string()))?;
        let hold = matches!(
            sd.direction(audio),
            Direction::SendOnly | Direction::Inactive
        ) || offerer_remote.ip().is_unspecified();
        Ok(ParsedOffer {
            sd,
            audio,
            offerer_remote,
            offered,
            hold,
        })
    }

    /// The offer for the leg whose local media address is
    /// `local_ip:local_port` and whose DTMF mode is `dtmf`: our address, the
    /// offerer's codecs plus the other G.711 law and (unless the leg is
    /// in-band only) telephone-event; streams other than the first audio
    /// one are refused (port 0), as RFC 3264 §6 allows.
    #[cfg(test)]
    pub fn rewrite_for(
        &self,
        local_ip: IpAddr,
        local_port: u16,
        dtmf: DtmfMode,
    ) -> Result<RewrittenOffer, SdpRefusal> {
        self.rewrite_with(local_ip, local_port, dtmf, None)
    }

    /// `rewrite_for`, with the gateway's `a=crypto` line for the leg when
    /// it is SRTP (RTP/SAVP), else plain RTP/AVP (`srtp::set_crypto`).
    pub fn rewrite_with(
        &self,
        local_ip: IpAddr,
        local_port: u16,
        dtmf: DtmfMode,
        crypto: Option<&CryptoAttribute>,
    ) -> Result<RewrittenOffer, SdpRefusal> {
        let ours = callee_offer(&self.offered, dtmf != DtmfMode::Inband)
            .map_err(|e| refuse(e.to_string()))?;
        let mut sd = self.sd.clone();
        let i = self.audio;
        let dir = sd.direction(i);
        sd.set_address(local_ip);
        sd.origin.username = "pbxgate".into();
        for (j, m) in sd.media.iter_mut().enumerate() {
            if j != i {
                m.port = 0;
                continue;
            }
            m.port = local_port;
            m.port_count = None;
            m.formats = ours.formats.clone();
            m.attributes.retain(|a| !is_codec_attr(&a.name));
            m.attributes.splice(0..0, ours.attributes.clone());
            m.set_direction(dir);
            set_crypto(m, crypto);
        }
        Ok(RewrittenOffer {
            body: sd.to_bytes(),
            offerer_payload_types: payload_types(&self.offered),
            offered: self.offered.clone(),
            offerer_remote: self.offerer_remote,
            hold: self.hold,
        })
    }
}

/// Rewrites an offer for one leg (`ParsedOffer::rewrite_for`), reading it
/// first: for in-dialog offers, which go to one leg only.
#[cfg(test)]
pub fn rewrite_offer(
    body: &[u8],
    local_ip: IpAddr,
    local_port: u16,
    dtmf: DtmfMode,
) -> Result<RewrittenOffer, SdpRefusal> {
    ParsedOffer::parse(body)?.rewrite_for(local_ip, local_port, dtmf)
}

/// An answer received on one leg, rewritten for the leg that made the
/// offer.
#[derive(Clone, Debug)]
pub struct RewrittenAnswer {
    pub body: Vec<u8>,
    /// Codecs each side settled on: `caller` is the offerer's side here.
    pub plan: MediaPlan,
    /// Where the answerer wants its audio.
    pub answerer_remote: SocketAddr,
    /// The payload types the answerer may send.
    pub answerer_payload_types: PayloadTypes,
    /// The answerer's `a=crypto` line when it answered RTP/SAVP.
    pub answerer_crypto: Option<CryptoAttribute>,
}

/// Rewrites the answer to our offer for the offerer, whose original audio
/// stream is `offered`, whose local media address is `local_ip:port` and
/// whose DTMF mode is `dtmf` (an in-band offerer is not answered
/// telephone-event even if it offered it).
#[cfg(test)]
pub fn rewrite_answer(
    body: &[u8],
    offered: &Media,
    local_ip: IpAddr,
    local_port: u16,
    dtmf: DtmfMode,
) -> Result<RewrittenAnswer, SdpRefusal> {
    rewrite_answer_with(body, offered, local_ip, local_port, dtmf, None)
}

/// `rewrite_answer`, answering the offerer with the gateway's `crypto`
/// line when its leg is SRTP.
pub fn rewrite_answer_with(
    body: &[u8],
    offered: &Media,
    local_ip: IpAddr,
    local_port: u16,
    dtmf: DtmfMode,
    crypto: Option<&CryptoAttribute>,
) -> Result<RewrittenAnswer, SdpRefusal> {
    let mut sd = SessionDescription::parse(body)
        .map_err(|e| refuse(format!("bad SDP in the answer: {e}")))?;
    let i = audio(&sd).ok_or_else(|| refuse("the answer accepts no audio stream"))?;
    let answerer_remote =
        remote_of(&sd, i).ok_or_else(|| refuse("the answer's audio stream has no address"))?;
    let mut plan = settle(offered, &sd.media[i]).map_err(|e| refuse(e.to_string()))?;
    let answerer_payload_types = payload_types(&sd.media[i]);
    let answerer_crypto = crypto_of(&sd.media[i]).map_err(refuse)?;
    if dtmf == DtmfMode::Inband {
        plan.caller.telephone_event = None;
    }
    let dir = sd.direction(i);
    sd.set_address(local_ip);
    sd.origin.username = "pbxgate".into();
    let m = &mut sd.media[i];
    m.port = local_port;
    m.port_count = None;
    // Answer the offerer with its own payload numbers (RFC 3264 §6.1).
    let mut formats = vec![plan.caller.payload_type.to_string()];
    let mut attrs = Vec::new();
    for a in offered.attributes.iter().filter(|a| is_codec_attr(&a.name)) {
        let pt = a
            .value
            .as_deref()
            .and_then(|v| v.split(' ').next())
            .and_then(|p| p.parse::<u8>().ok());
        let wanted = pt == Some(plan.caller.payload_type)
            || (pt.is_some() && pt == plan.caller.telephone_event);
        if wanted {
            attrs.push(a.clone());
        }
    }
    if let Some(te) = plan.caller.telephone_event {
        formats.push(te.to_string());
    }
    m.formats = formats;
    m.attributes.retain(|a| !is_codec_attr(&a.name));
    m.attributes.splice(0..0, attrs);
    m.set_direction(dir);
    set_crypto(m, crypto);
    Ok(RewrittenAnswer {
        body: sd.to_bytes(),
        plan,
        answerer_remote,
        answerer_payload_types,
        answerer_crypto,
    })
}

fn is_codec_attr(name: &str) -> bool {
    name.eq_ignore_ascii_case("rtpmap") || name.eq_ignore_ascii_case("fmtp")
}

/// The transcoding of each direction under `plan`: (from the offerer's
/// side, from the answerer's side); None both ways when the laws agree.
pub fn transcodes(plan: &MediaPlan) -> (Option<Transcode>, Option<Transcode>) {
    if !plan.transcodes() {
        return (None, None);
    }
    let t = |from: &crate::media::negotiate::LegMedia, to: &crate::media::negotiate::LegMedia| {
        Transcode {
            from_pt: from.payload_type,
            from: law(from.codec),
            to_pt: to.payload_type,
        }
    };
    (
        Some(t(&plan.caller, &plan.callee)),
        Some(t(&plan.callee, &plan.caller)),
    )
}

/// The DTMF conversions of each direction under `plan`, given the DTMF
/// modes of the offerer's leg and the answerer's: (on packets from the
/// offerer, on packets from the answerer).
pub fn dtmf_paths(plan: &MediaPlan, offerer: DtmfMode, answerer: DtmfMode) -> (DtmfPath, DtmfPath) {
    (
        dtmf_path(&plan.caller, &plan.callee, answerer),
        dtmf_path(&plan.callee, &plan.caller, offerer),
    )
}

/// Digits from the leg `from` to the leg `to`, which is in mode `to_mode`.
fn dtmf_path(from: &LegMedia, to: &LegMedia, to_mode: DtmfMode) -> DtmfPath {
    let audio = |l: &LegMedia| AudioFormat {
        law: law(l.codec),
        payload_type: l.payload_type,
    };
    // What the receiving leg takes: events where it negotiated them, and
    // tones where it has no events or asked for both.
    let to_events = match to_mode {
        DtmfMode::Inband => None,
        _ => to.telephone_event,
    };
    let to_tones = to_events.is_none() || to_mode == DtmfMode::Both;
    match from.telephone_event {
        // The source sends events: render them when the receiver needs
        // tones; events alone are only renumbered (`payload_maps`).
        Some(events_in) => DtmfPath {
            render: to_tones.then_some(RenderPath {
                events_in,
                tones_out: audio(to),
                also_events: to_events,
            }),
            detect: None,
        },
        // The source has tones only: listen when the receiver takes events.
        None => DtmfPath {
            render: None,
            detect: to_events.map(|events_out| DetectPath {
                audio_in: audio(from),
                events_out,
                keep_audio: to_tones,
            }),
        },
    }
}

/// How each side takes the digits the gateway itself sends it under
/// `plan`, given the DTMF modes of the offerer's leg and the answerer's:
/// (the offerer's side, the answerer's side). As `dtmf_path` sends a leg
/// digits: events where it negotiated them and is not `inband`, tones
/// where it has no events or is `both`.
pub fn digit_sinks(
    plan: &MediaPlan,
    offerer: DtmfMode,
    answerer: DtmfMode,
) -> (DigitSink, DigitSink) {
    let sink = |leg: &LegMedia, mode: DtmfMode| {
        let events = match mode {
            DtmfMode::Inband => None,
            _ => leg.telephone_event,
        };
        DigitSink {
            law: law(leg.codec),
            audio_pt: leg.payload_type,
            events,
            tones: events.is_none() || mode == DtmfMode::Both,
        }
    };
    (sink(&plan.caller, offerer), sink(&plan.callee, answerer))
}

fn law(c: Codec) -> Law {
    match c {
        Codec::Pcmu => Law::Ulaw,
        Codec::Pcma => Law::Alaw,
    }
}

/// Payload-type pairs (from, to) rewritten on one direction's packets.
pub type PayloadMap = Vec<(u8, u8)>;

/// Payload-type rewrites for packets from the offerer's side and from the
/// answerer's side under `plan` (telephone-event renumbering).
pub fn payload_maps(plan: &MediaPlan) -> (PayloadMap, PayloadMap) {
    let mut from_caller = Vec::new();
    let mut from_callee = Vec::new();
    if let (Some(a), Some(b)) = (plan.caller.telephone_event, plan.callee.telephone_event) {
        if a != b {
            from_caller.push((a, b));
            from_callee.push((b, a));
        }
    }
    (from_caller, from_callee)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOUD_OFFER: &str = "v=0\r\no=root 1 1 IN IP4 198.51.100.7\r\ns=call\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
m=audio 20000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n\
m=video 20002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";

    /// The cloud's offer sent to a PBX at 10.0.0.1:30000, answered with
    /// `pbx_answer`, rewritten for the cloud at 192.0.2.1:20100.
    fn cloud_call_answered_with(pbx_answer: &str) -> RewrittenAnswer {
        let offer = rewrite_offer(
            CLOUD_OFFER.as_bytes(),
            "10.0.0.1".parse().unwrap(),
            30000,
            DtmfMode::Auto,
        )
        .unwrap();
        rewrite_answer(
            pbx_answer.as_bytes(),
            &offer.offered,
            "192.0.2.1".parse().unwrap(),
            20100,
            DtmfMode::Auto,
        )
        .unwrap()
    }

    #[test]
    fn the_callee_gets_our_address_and_the_codecs_we_can_serve() {
        let o = rewrite_offer(
            CLOUD_OFFER.as_bytes(),
            "10.0.0.1".parse().unwrap(),
            30000,
            DtmfMode::Auto,
        )
        .unwrap();
        let text = String::from_utf8(o.body).unwrap();
        assert!(text.contains("c=IN IP4 10.0.0.1\r\n"), "{text}");
        assert!(text.contains("m=audio 30000 RTP/AVP 0 8 101\r\n"), "{text}");
        assert!(
            text.contains("a=rtpmap:8 PCMA/8000\r\n") && text.contains("a=ptime:20\r\n"),
            "{text}"
        );
        assert!(
            text.contains("m=video 0 RTP/AVP 96\r\n"),
            "video refused: {text}"
        );
        assert!(
            !text.contains("198.51.100.7"),
            "no trace of the caller's address: {text}"
        );
        assert_eq!(o.offerer_remote, "198.51.100.7:20000".parse().unwrap());
        assert!(!o.hold);
        let hold = CLOUD_OFFER.replace("a=sendrecv", "a=sendonly");
        assert!(
            rewrite_offer(
                hold.as_bytes(),
                "10.0.0.1".parse().unwrap(),
                30000,
                DtmfMode::Auto
            )
            .unwrap()
            .hold
        );
    }

    #[test]
    fn the_caller_gets_an_answer_in_its_own_terms() {
        // The PBX only takes PCMA and has no telephone-event.
        let a = cloud_call_answered_with(
            "v=0\r\no=pbx 5 5 IN IP4 10.0.0.21\r\ns=-\r\nc=IN IP4 10.0.0.21\r\nt=0 0\r\nm=audio 40000 RTP/AVP 8\r\na=sendrecv\r\nm=video 0 RTP/AVP 96\r\n",
        );
        assert_eq!(
            (a.plan.caller.codec, a.plan.callee.codec),
            (Codec::Pcmu, Codec::Pcma)
        );
        assert!(a.plan.transcodes());
        assert_eq!(a.answerer_remote, "10.0.0.21:40000".parse().unwrap());
        let text = String::from_utf8(a.body).unwrap();
        assert!(text.contains("c=IN IP4 192.0.2.1\r\n"), "{text}");
        assert!(text.contains("m=audio 20100 RTP/AVP 0 101\r\n"), "{text}");
        assert!(
            text.contains("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"),
            "{text}"
        );
        assert!(!text.contains("PCMA"), "{text}");
    }

    #[test]
    fn unusable_bodies_are_refused_with_a_reason() {
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let rows = [
            ("garbage", "bad SDP"),
            ("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\n", "no audio"),
            ("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 RTP/AVP 18\r\n", "PCMU or PCMA"),
        ];
        for (body, words) in rows {
            let e = rewrite_offer(body.as_bytes(), ip, 30000, DtmfMode::Auto).unwrap_err();
            assert!(e.reason.contains(words), "{body}: {}", e.reason);
        }
    }

    #[test]
    fn telephone_events_are_renumbered_only_when_both_sides_have_them() {
        let a = cloud_call_answered_with(
            "v=0\r\no=pbx 5 5 IN IP4 10.0.0.21\r\ns=-\r\nc=IN IP4 10.0.0.21\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 96\r\na=rtpmap:96 telephone-event/8000\r\n",
        );
        assert_eq!(payload_maps(&a.plan), (vec![(101, 96)], vec![(96, 101)]));
    }

    #[test]
    fn dtmf_crosses_between_legs_that_carry_it_differently() {
        use crate::media::negotiate::LegMedia;
        let leg = |codec, te| LegMedia {
            codec,
            payload_type: match codec {
                Codec::Pcmu => 0,
                Codec::Pcma => 8,
            },
            telephone_event: te,
        };
        let cloud = leg(Codec::Pcmu, Some(101));
        let analog = leg(Codec::Pcma, None);
        let pbx_te = leg(Codec::Pcmu, Some(96));
        let plan = |caller, callee| MediaPlan { caller, callee };
        let ulaw = AudioFormat {
            law: Law::Ulaw,
            payload_type: 0,
        };
        let alaw = AudioFormat {
            law: Law::Alaw,
            payload_type: 8,
        };
        use DtmfMode::*;
        // Cloud events ↔ a leg without telephone-event: tones one way,
        // detection the other.
        let (from_cloud, from_analog) = dtmf_paths(&plan(cloud, analog), Auto, Auto);
        assert_eq!(
            from_cloud.render,
            Some(RenderPath {
                events_in: 101,
                tones_out: alaw,
                also_events: None
            })
        );
        assert_eq!(from_cloud.detect, None);
        assert_eq!(
            from_analog.detect,
            Some(DetectPath {
                audio_in: alaw,
                events_out: 101,
                keep_audio: false
            })
        );
        // Both sides with events: nothing to convert (renumbering only).
        let (a, b) = dtmf_paths(&plan(cloud, pbx_te), Auto, Rfc4733);
        assert!(a.is_empty() && b.is_empty());
        // A leg set to `both` gets tones and events; its own events are
        // used as they are.
        let (a, b) = dtmf_paths(&plan(cloud, pbx_te), Auto, Both);
        assert_eq!(
            a.render,
            Some(RenderPath {
                events_in: 101,
                tones_out: ulaw,
                also_events: Some(96)
            })
        );
        assert!(b.is_empty());
        // `inband` ignores telephone-event even where it was negotiated.
        let (a, b) = dtmf_paths(&plan(cloud, pbx_te), Auto, Inband);
        assert_eq!(a.render.map(|r| r.also_events), Some(None));
        assert_eq!(b.detect, None, "the cloud leg's events: nothing to detect");
        // Two legs without events: tones pass as audio.
        let (a, b) = dtmf_paths(&plan(analog, analog), Auto, Auto);
        assert!(a.is_empty() && b.is_empty());
    }

    #[test]
    fn digits_the_gateway_sends_go_as_each_leg_takes_them() {
        let cloud = LegMedia {
            codec: Codec::Pcma,
            payload_type: 8,
            telephone_event: Some(101),
        };
        let analog = LegMedia {
            codec: Codec::Pcmu,
            payload_type: 0,
            telephone_event: None,
        };
        let plan = MediaPlan {
            caller: cloud,
            callee: analog,
        };
        let (to_cloud, to_analog) = digit_sinks(&plan, DtmfMode::Auto, DtmfMode::Auto);
        assert_eq!(
            to_cloud,
            DigitSink {
                law: Law::Alaw,
                audio_pt: 8,
                events: Some(101),
                tones: false
            }
        );
        assert_eq!(
            to_analog,
            DigitSink {
                law: Law::Ulaw,
                audio_pt: 0,
                events: None,
                tones: true
            }
        );
        let (both, _) = digit_sinks(&plan, DtmfMode::Both, DtmfMode::Auto);
        assert_eq!((both.events, both.tones), (Some(101), true));
        let (inband, _) = digit_sinks(&plan, DtmfMode::Inband, DtmfMode::Auto);
        assert_eq!((inband.events, inband.tones), (None, true));
    }

    #[test]
    fn an_inband_leg_is_neither_offered_nor_answered_telephone_event() {
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let o = rewrite_offer(CLOUD_OFFER.as_bytes(), ip, 30000, DtmfMode::Inband).unwrap();
        let text = String::from_utf8(o.body).unwrap();
        assert!(text.contains("m=audio 30000 RTP/AVP 0 8\r\n"), "{text}");
        assert!(!text.contains("telephone-event"), "{text}");
        let pbx = "v=0\r\no=pbx 5 5 IN IP4 10.0.0.21\r\ns=-\r\nc=IN IP4 10.0.0.21\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 96\r\na=rtpmap:96 telephone-event/8000\r\n";
        let a = rewrite_answer(pbx.as_bytes(), &o.offered, ip, 20100, DtmfMode::Inband).unwrap();
        let text = String::from_utf8(a.body).unwrap();
        assert!(text.contains("m=audio 20100 RTP/AVP 0\r\n"), "{text}");
        assert_eq!(a.plan.caller.telephone_event, None);
    }
}
