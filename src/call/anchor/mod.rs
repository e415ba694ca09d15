//! The media anchor: a call's RTP goes through the gateway, each leg
//! offered and answered the gateway's own address. `MediaAnchor` owns the
//! port range and the commands for the media threads; `CallMedia` is one
//! call's share (its ports, the caller's offer, what is being negotiated);
//! `rewrite` turns bodies into bodies and plans, purely.
//!
//! Commands leave in the order the media thread must apply them: a leg's
//! payload map, transcoding and DTMF paths before its `SetRemote`, because
//! packets held until the address is known are relayed the moment it is.

pub mod rewrite;
pub mod srtp;

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::config::{DtmfMode, MediaConfig, SrtpMode};
use crate::media::dtmf::inject::{DigitSink, Digits, DEFAULT_GAP_MS, DEFAULT_TONE_MS};
use crate::media::latch::SourceRules;
use crate::media::leg_crypto::LegKeys;
use crate::media::messages::MediaCommand;
use crate::media::negotiate::MediaPlan;
use crate::media::ports::PortPool;
use crate::media::relay::{LegSide, Remote};
use crate::media::sdp::Media;
use crate::media::srtp::MasterKey;

use rewrite::{
    digit_sinks, dtmf_paths, payload_maps, rewrite_answer_with, transcodes, ParsedOffer,
};
use srtp::{caller_srtp, crypto_of, settle_answer, settle_reoffer, LegSrtp};

/// Why a call's media cannot be anchored: what the caller is answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 488: the offer cannot be anchored (bad SDP, no G.711).
    Offer(String),
    /// 503: no port pairs left.
    NoPorts,
}

/// One call's media: its two port pairs and what is being negotiated.
#[derive(Debug)]
pub struct CallMedia {
    pub caller_local: SocketAddr,
    pub callee_local: SocketAddr,
    /// The media thread was asked to bind the ports.
    pub opened: bool,
    /// The caller's offer, read once; every target's offer is made from it.
    pub caller_offer: ParsedOffer,
    /// An in-dialog offer relayed from `leg`, awaiting its answer.
    pub pending_offer: Option<(usize, Media)>,
    /// How the caller's leg and the current callee's carry DTMF.
    pub caller_dtmf: DtmfMode,
    pub callee_dtmf: DtmfMode,
    /// How the caller's side and the callee's take the digits the gateway
    /// sends them, from the last answer (None before one).
    pub digit_sinks: [Option<DigitSink>; 2],
    /// Each side's SRTP (caller, callee), None on a plain leg.
    pub srtp: [Option<LegSrtp>; 2],
    /// The keys each side's media thread has (to send them only when they
    /// change).
    applied: [Option<LegKeys>; 2],
}

impl CallMedia {
    /// The DTMF mode of leg `leg` (0: the caller).
    pub fn dtmf_of(&self, leg: usize) -> DtmfMode {
        if leg == 0 {
            self.caller_dtmf
        } else {
            self.callee_dtmf
        }
    }

    /// How `side` takes digits the gateway sends it, once an answer has
    /// settled its media.
    pub fn digit_sink(&self, side: LegSide) -> Option<DigitSink> {
        match side {
            LegSide::Caller => self.digit_sinks[0],
            LegSide::Callee => self.digit_sinks[1],
        }
    }

    fn set_digit_sinks(&mut self, plan: &MediaPlan, offerer: usize, answerer: usize) {
        let (o, a) = digit_sinks(plan, self.dtmf_of(offerer), self.dtmf_of(answerer));
        for (leg, sink) in [(offerer, o), (answerer, a)] {
            let i = usize::from(media_side(leg) == LegSide::Callee);
            self.digit_sinks[i] = Some(sink);
        }
    }

    /// Whether each side (caller, callee) is SRTP as negotiated so far.
    pub fn encrypted(&self) -> [bool; 2] {
        [self.srtp[0].is_some(), self.srtp[1].is_some()]
    }

    fn srtp_of(&mut self, leg: usize) -> &mut Option<LegSrtp> {
        &mut self.srtp[usize::from(media_side(leg) == LegSide::Callee)]
    }

    fn local_of(&self, leg: usize) -> SocketAddr {
        if leg == 0 {
            self.caller_local
        } else {
            self.callee_local
        }
    }
}

/// The caller's leg is 0 and its media side the caller's; every other leg
/// is a callee's.
pub fn media_side(leg: usize) -> LegSide {
    if leg == 0 {
        LegSide::Caller
    } else {
        LegSide::Callee
    }
}

/// The codecs an answer settled on, for the call record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Codecs {
    pub caller: &'static str,
    pub callee: &'static str,
}

#[derive(Debug)]
pub struct MediaAnchor {
    ports: Option<PortPool>,
    sources: SourceRules,
    timeout: Duration,
    out: VecDeque<MediaCommand>,
}

impl MediaAnchor {
    pub fn new(media: &MediaConfig) -> MediaAnchor {
        MediaAnchor {
            ports: PortPool::new(media.port_min, media.port_max).ok(),
            sources: SourceRules::from_config(media),
            timeout: Duration::from_secs(media.timeout_s),
            out: VecDeque::new(),
        }
    }

    /// New calls take `media`'s source rules and timeout; calls in
    /// progress keep theirs. The port range is the one the anchor started
    /// with (a new range takes a restart).
    pub fn set_rules(&mut self, media: &MediaConfig) {
        self.sources = SourceRules::from_config(media);
        self.timeout = Duration::from_secs(media.timeout_s);
    }

    /// Fewer than the two port pairs a call needs are free.
    pub fn ports_short(&self) -> bool {
        self.ports
            .as_ref()
            .is_none_or(|p| p.capacity().saturating_sub(p.in_use()) < 2)
    }

    /// A new call's media: the caller's offer is checked (so an unusable
    /// one is refused before any target is called) and two port pairs are
    /// taken, the caller's on `caller_ip`.
    #[cfg(test)]
    pub fn start(
        &mut self,
        offer: &[u8],
        caller_ip: IpAddr,
        caller_dtmf: DtmfMode,
    ) -> Result<CallMedia, Refusal> {
        let key = MasterKey::from_bytes(&[0; crate::media::srtp::MASTER_LEN]);
        self.start_with(offer, caller_ip, caller_dtmf, (SrtpMode::Off, false, key))
    }

    /// `start`, with the caller's SRTP: its listener's setting, whether
    /// the INVITE came over TLS, and the gateway's fresh key for the leg
    /// (from the caller's random source). An RTP/SAVP offer is answered
    /// with the offered line's tag and `key` (RFC 4568 §7.1.2).
    pub fn start_with(
        &mut self,
        offer: &[u8],
        caller_ip: IpAddr,
        caller_dtmf: DtmfMode,
        (srtp, tls, key): (SrtpMode, bool, MasterKey),
    ) -> Result<CallMedia, Refusal> {
        let caller_offer = ParsedOffer::parse(offer).map_err(|r| Refusal::Offer(r.reason))?;
        let caller_srtp =
            caller_srtp(&caller_offer.offered, srtp, tls, key).map_err(Refusal::Offer)?;
        let pool = self.ports.as_mut().ok_or(Refusal::NoPorts)?;
        let caller_port = pool.allocate().ok_or(Refusal::NoPorts)?;
        let Some(callee_port) = pool.allocate() else {
            pool.release(caller_port);
            return Err(Refusal::NoPorts);
        };
        Ok(CallMedia {
            caller_local: SocketAddr::new(caller_ip, caller_port),
            // The callee side's address is known with the first target.
            callee_local: SocketAddr::new(caller_ip, callee_port),
            opened: false,
            caller_offer,
            pending_offer: None,
            caller_dtmf,
            callee_dtmf: DtmfMode::Auto,
            digit_sinks: [None; 2],
            srtp: [caller_srtp, None],
            applied: [None, None],
        })
    }

    /// The caller's offer as the callee leg sent from `local_ip` gets it;
    /// the first one opens the call's media session.
    #[cfg(test)]
    pub fn offer_to_callee(
        &mut self,
        session: u64,
        m: &mut CallMedia,
        local_ip: IpAddr,
        dtmf: DtmfMode,
    ) -> Result<Vec<u8>, String> {
        self.offer_to_callee_with(session, m, local_ip, dtmf, None)
    }

    /// `offer_to_callee`, with the callee leg's SRTP: its setting and the
    /// gateway's fresh key for it (None: plain RTP).
    pub fn offer_to_callee_with(
        &mut self,
        session: u64,
        m: &mut CallMedia,
        local_ip: IpAddr,
        dtmf: DtmfMode,
        srtp: Option<(SrtpMode, MasterKey)>,
    ) -> Result<Vec<u8>, String> {
        m.callee_local = SocketAddr::new(local_ip, m.callee_local.port());
        m.callee_dtmf = dtmf;
        // A new target, a new key: each callee leg has its own.
        m.srtp[1] = srtp
            .filter(|(mode, _)| *mode != SrtpMode::Off)
            .map(|(mode, key)| LegSrtp::offering(mode, key));
        let line = m.srtp[1].as_ref().map(LegSrtp::line);
        let offer = m
            .caller_offer
            .rewrite_with(local_ip, m.callee_local.port(), dtmf, line.as_ref())
            .map_err(|r| r.reason)?;
        if !m.opened {
            m.opened = true;
            self.out.push_back(MediaCommand::Open {
                session,
                caller_local: m.caller_local,
                callee_local: m.callee_local,
                timeout: self.timeout,
                sources: self.sources.clone(),
            });
            self.push_srtp(session, m, LegSide::Caller);
            self.out.push_back(MediaCommand::SetRemote {
                session,
                side: LegSide::Caller,
                remote: Remote {
                    signalled: offer.offerer_remote,
                    payload_types: offer.offerer_payload_types,
                },
            });
        }
        Ok(offer.body)
    }

    /// The callee's answer as the caller gets it, after telling the media
    /// thread how to relay (plan, then the callee's address).
    pub fn answer(
        &mut self,
        session: u64,
        m: &mut CallMedia,
        body: &[u8],
    ) -> Result<(Vec<u8>, Codecs), String> {
        let (caller_dtmf, callee_dtmf) = (m.caller_dtmf, m.callee_dtmf);
        let line = m.srtp[0].as_ref().map(LegSrtp::line);
        let a = rewrite_answer_with(
            body,
            &m.caller_offer.offered,
            m.caller_local.ip(),
            m.caller_local.port(),
            caller_dtmf,
            line.as_ref(),
        )
        .map_err(|r| r.reason)?;
        settle_answer(&mut m.srtp[1], a.answerer_crypto.clone(), true)?;
        m.set_digit_sinks(&a.plan, 0, 1);
        self.push_plan(
            session,
            &a.plan,
            (LegSide::Caller, caller_dtmf),
            (LegSide::Callee, callee_dtmf),
        );
        self.push_srtp(session, m, LegSide::Callee);
        self.out.push_back(MediaCommand::SetRemote {
            session,
            side: LegSide::Callee,
            remote: Remote {
                signalled: a.answerer_remote,
                payload_types: a.answerer_payload_types,
            },
        });
        let codecs = Codecs {
            caller: a.plan.caller.codec.name(),
            callee: a.plan.callee.codec.name(),
        };
        Ok((a.body, codecs))
    }

    /// Rewrites an in-dialog offer from leg `from` for leg `to` (re-INVITE,
    /// UPDATE: hold, resume, a new address).
    pub fn offer(
        &mut self,
        session: u64,
        m: &mut CallMedia,
        (from, to): (usize, usize),
        body: &mut Vec<u8>,
    ) -> Result<(), String> {
        let local = m.local_of(to);
        let parsed = ParsedOffer::parse(body).map_err(|r| r.reason)?;
        settle_reoffer(m.srtp_of(from), crypto_of(&parsed.offered)?)?;
        let line = m.srtp_of(to).as_ref().map(LegSrtp::line);
        let offer = parsed
            .rewrite_with(local.ip(), local.port(), m.dtmf_of(to), line.as_ref())
            .map_err(|r| r.reason)?;
        *body = offer.body;
        m.pending_offer = Some((from, offer.offered));
        self.push_srtp(session, m, media_side(from));
        self.out.push_back(MediaCommand::SetRemote {
            session,
            side: media_side(from),
            remote: Remote {
                signalled: offer.offerer_remote,
                payload_types: offer.offerer_payload_types,
            },
        });
        self.out.push_back(MediaCommand::SetHold {
            session,
            hold: offer.hold,
        });
        Ok(())
    }

    /// Rewrites the answer (from leg `answerer`) to an offer relayed from
    /// leg `offerer`.
    pub fn reanswer(
        &mut self,
        session: u64,
        m: &mut CallMedia,
        (offerer, answerer): (usize, usize),
        body: &[u8],
    ) -> Result<Vec<u8>, String> {
        let Some((from, offered)) = m.pending_offer.take() else {
            return Err("an answer with no offer pending".into());
        };
        if from != offerer {
            return Err("the answer does not match the pending offer".into());
        }
        let local = m.local_of(offerer);
        let modes = (m.dtmf_of(offerer), m.dtmf_of(answerer));
        let line = m.srtp_of(offerer).as_ref().map(LegSrtp::line);
        let a = rewrite_answer_with(
            body,
            &offered,
            local.ip(),
            local.port(),
            modes.0,
            line.as_ref(),
        )
        .map_err(|r| r.reason)?;
        settle_answer(m.srtp_of(answerer), a.answerer_crypto.clone(), false)?;
        m.set_digit_sinks(&a.plan, offerer, answerer);
        // The plan first, as in `answer`.
        self.push_plan(
            session,
            &a.plan,
            (media_side(offerer), modes.0),
            (media_side(answerer), modes.1),
        );
        self.push_srtp(session, m, media_side(answerer));
        self.out.push_back(MediaCommand::SetRemote {
            session,
            side: media_side(answerer),
            remote: Remote {
                signalled: a.answerer_remote,
                payload_types: a.answerer_payload_types,
            },
        });
        Ok(a.body)
    }

    /// The call is over: its session closes and its ports are free.
    pub fn finish(&mut self, session: u64, m: &CallMedia) {
        if m.opened {
            self.out.push_back(MediaCommand::Close { session });
        }
        if let Some(p) = self.ports.as_mut() {
            p.release(m.caller_local.port());
            p.release(m.callee_local.port());
        }
    }

    /// Sends `digits` to side `to` of call `session`, as its last answer
    /// says it takes them. False when no answer has settled its media yet.
    pub fn send_digits(
        &mut self,
        session: u64,
        m: &CallMedia,
        to: LegSide,
        digits: Digits,
    ) -> bool {
        let Some(sink) = m.digit_sink(to) else {
            return false;
        };
        self.out.push_back(MediaCommand::SendDigits {
            session,
            to,
            sink,
            digits,
            tone_ms: DEFAULT_TONE_MS,
            gap_ms: DEFAULT_GAP_MS,
        });
        true
    }

    /// The next command for the media threads.
    pub fn poll_command(&mut self) -> Option<MediaCommand> {
        self.out.pop_front()
    }

    /// Tells the media thread `side`'s SRTP keys when they changed (new
    /// keys, or SRTP dropped after an `offer` leg answered plain RTP).
    /// Before the side's `SetRemote`: held packets are opened with them.
    fn push_srtp(&mut self, session: u64, m: &mut CallMedia, side: LegSide) {
        let i = usize::from(side == LegSide::Callee);
        let keys = m.srtp[i].as_ref().and_then(LegSrtp::keys);
        if keys != m.applied[i] {
            m.applied[i] = keys.clone();
            self.out.push_back(MediaCommand::SetSrtp {
                session,
                side,
                keys,
            });
        }
    }

    /// How packets change between the legs under `plan` (its `caller` is
    /// the offerer's side); each side comes with its leg's DTMF mode.
    fn push_plan(
        &mut self,
        session: u64,
        plan: &MediaPlan,
        (offerer, offerer_dtmf): (LegSide, DtmfMode),
        (answerer, answerer_dtmf): (LegSide, DtmfMode),
    ) {
        let (map_o, map_a) = payload_maps(plan);
        let (tc_o, tc_a) = transcodes(plan);
        let (dtmf_o, dtmf_a) = dtmf_paths(plan, offerer_dtmf, answerer_dtmf);
        // `plan.caller` is the offerer's side.
        let (te_o, te_a) = (plan.caller.telephone_event, plan.callee.telephone_event);
        for (side, map, transcode, path, events_in) in [
            (offerer, map_o, tc_o, dtmf_o, te_o),
            (answerer, map_a, tc_a, dtmf_a, te_a),
        ] {
            self.out
                .push_back(MediaCommand::SetPayloadMap { session, side, map });
            self.out.push_back(MediaCommand::SetTranscode {
                session,
                side,
                transcode,
            });
            self.out.push_back(MediaCommand::SetDtmf {
                session,
                side,
                path,
                events_in,
            });
        }
    }
}

#[cfg(test)]
mod srtp_tests;

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=cloud 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\n\
                         t=0 0\r\nm=audio 20000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n";
    const ANSWER: &str = "v=0\r\no=pbx 1 1 IN IP4 10.0.0.21\r\ns=-\r\nc=IN IP4 10.0.0.21\r\n\
                          t=0 0\r\nm=audio 30000 RTP/AVP 0\r\n";

    fn anchor(port_max: u16) -> MediaAnchor {
        MediaAnchor::new(&MediaConfig {
            port_min: 40000,
            port_max,
            ..MediaConfig::default()
        })
    }

    /// An anchor with one call started from `OFFER` on 192.0.2.1.
    fn started() -> (MediaAnchor, CallMedia) {
        let mut a = anchor(40007);
        let m = a
            .start(
                OFFER.as_bytes(),
                "192.0.2.1".parse().unwrap(),
                DtmfMode::Auto,
            )
            .expect("start");
        (a, m)
    }

    fn commands(a: &mut MediaAnchor) -> Vec<MediaCommand> {
        std::iter::from_fn(|| a.poll_command()).collect()
    }

    #[test]
    fn a_call_takes_two_port_pairs_and_gives_them_back() {
        let mut a = anchor(40007);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let m1 = a
            .start(OFFER.as_bytes(), ip, DtmfMode::Auto)
            .expect("first");
        let m2 = a
            .start(OFFER.as_bytes(), ip, DtmfMode::Auto)
            .expect("second");
        assert!(a.ports_short());
        assert_eq!(
            a.start(OFFER.as_bytes(), ip, DtmfMode::Auto).unwrap_err(),
            Refusal::NoPorts
        );
        a.finish(1, &m1);
        assert!(!a.ports_short());
        assert!(
            commands(&mut a).is_empty(),
            "never opened: nothing to close"
        );
        let _ = m2;
        let e = a.start(b"v=0\r\n", ip, DtmfMode::Auto).unwrap_err();
        assert!(matches!(e, Refusal::Offer(_)), "{e:?}");
    }

    #[test]
    fn every_target_gets_the_offer_from_the_one_parsed_and_the_first_opens() {
        let (mut a, mut m) = started();
        let first = a
            .offer_to_callee(7, &mut m, "10.0.0.1".parse().unwrap(), DtmfMode::Auto)
            .expect("offer");
        let text = String::from_utf8(first).unwrap();
        assert!(text.contains("c=IN IP4 10.0.0.1"), "{text}");
        assert!(
            text.contains(&format!("m=audio {} ", m.callee_local.port())),
            "{text}"
        );
        let cmds = commands(&mut a);
        assert!(matches!(cmds[0], MediaCommand::Open { session: 7, .. }));
        assert!(matches!(
            cmds[1],
            MediaCommand::SetRemote {
                side: LegSide::Caller,
                ..
            }
        ));
        // A second target (failover) gets a fresh offer; the session is open.
        let second = a
            .offer_to_callee(7, &mut m, "10.0.0.1".parse().unwrap(), DtmfMode::Inband)
            .expect("offer");
        assert!(!String::from_utf8(second)
            .unwrap()
            .contains("telephone-event"));
        assert!(commands(&mut a).is_empty());
    }

    #[test]
    fn the_answers_plan_goes_before_the_callees_address() {
        let (mut a, mut m) = started();
        a.offer_to_callee(3, &mut m, "10.0.0.1".parse().unwrap(), DtmfMode::Auto)
            .expect("offer");
        commands(&mut a);
        let (body, codecs) = a.answer(3, &mut m, ANSWER.as_bytes()).expect("answer");
        assert_eq!(
            codecs,
            Codecs {
                caller: "PCMA",
                callee: "PCMU"
            }
        );
        assert!(String::from_utf8(body)
            .unwrap()
            .contains("c=IN IP4 192.0.2.1"));
        let cmds = commands(&mut a);
        let last = cmds.last().expect("commands");
        assert!(
            matches!(
                last,
                MediaCommand::SetRemote {
                    side: LegSide::Callee,
                    ..
                }
            ),
            "{cmds:?}"
        );
        assert!(cmds
            .iter()
            .any(|c| matches!(c, MediaCommand::SetTranscode { .. })));
        a.finish(3, &m);
        assert_eq!(commands(&mut a), vec![MediaCommand::Close { session: 3 }]);
    }
}
