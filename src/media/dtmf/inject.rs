//! Digits the gateway sends itself to one leg of a call (an administrator's
//! request), sans-IO and in place on the packets relayed to that leg from
//! the other one, which give the digits their stream: its SSRC, its
//! sequence numbers and its clock (RFC 4733 §2.5.1.2: an event's timestamp
//! is on the audio's clock).
//!
//! `Injection` is the queue of one direction, kept by that direction's
//! `DtmfConverter` (created for it when the direction had none). Each digit
//! starts on the first audio packet the other leg sends once the digit's
//! turn has come, lasts `tone_ms`, and the next one starts no sooner than
//! `gap_ms` after its end, on a packet boundary. A leg that takes events
//! gets them in place of the audio packets the digit covers (one event
//! packet per audio packet, so no sequence number is added or lost): marked
//! first packet, one duration update per packet, the end sent three times
//! (§2.5.1.4). A leg that takes tones gets the digit written into its audio
//! in its own law; a `both` leg gets tones and, added after each packet,
//! the events. The other leg's own packets that are not audio (its events,
//! comfort noise) are dropped while a digit sounds, so the two do not
//! overlap.
//!
//! Digits need the other leg's packets to ride on: a leg that sends nothing
//! (silence suppression, on hold) holds them up until it sends again.

use super::digit::Digit;
use super::rfc4733::{EventPacket, EventSender, BLOCK_LEN};
use super::tone::ToneGenerator;
use crate::media::g711::Law;
use crate::media::rtp::{write_header, RtpHeader};

/// Most digits one request may carry.
pub const MAX_DIGITS: usize = 32;
/// Digits waiting at once: a second request may be queued behind a first.
const QUEUE: usize = 2 * MAX_DIGITS;
/// How long each digit lasts, unless the request says otherwise.
pub const DEFAULT_TONE_MS: u16 = 100;
/// The pause between two digits, unless the request says otherwise.
pub const DEFAULT_GAP_MS: u16 = 70;
/// Bounds on a digit's length and pause. ITU-T Q.24 receivers must accept
/// 40 ms of tone and of pause; above two seconds a digit is no longer a
/// key press.
pub const MIN_MS: u16 = 40;
pub const MAX_MS: u16 = 2000;
/// Samples per millisecond on the 8 kHz clock of G.711 and telephone-event.
const PER_MS: u32 = 8;
/// Volume (−dBm0) of the digits sent: the pair's power in tones, the
/// volume field in events.
const VOLUME: u8 = 10;
/// Length of an event packet: fixed header and one block.
pub const EVENT_LEN: usize = 12 + BLOCK_LEN;
/// Most samples written into one packet.
const MAX_SAMPLES: usize = 1000;

/// How the leg digits are sent to takes them, from its negotiated media
/// and its DTMF mode (`call::anchor::rewrite::digit_sink`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigitSink {
    /// The leg's audio: its law and payload type. Tones are written in it.
    pub law: Law,
    pub audio_pt: u8,
    /// Its telephone-event payload type, when it takes RFC 4733 events.
    pub events: Option<u8>,
    /// Tones go in its audio as well as events (`both`). A leg without
    /// events always gets tones.
    pub tones: bool,
}

impl DigitSink {
    fn wants_tones(&self) -> bool {
        self.tones || self.events.is_none()
    }
}

/// Why a string is not digits the gateway can send.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DigitsError {
    #[error("no digits to send")]
    Empty,
    #[error("'{ch}' (character {at}) is not a DTMF digit: use 0-9, *, #, A-D")]
    NotADigit { ch: char, at: usize },
    #[error("{0} digits are too many: at most {MAX_DIGITS} at once")]
    TooMany(usize),
}

/// Up to `MAX_DIGITS` digits, in fixed room (a media command carries it).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Digits {
    list: [Digit; MAX_DIGITS],
    len: usize,
}

impl Digits {
    /// Keypad symbols as typed: 0-9, *, #, A-D (letters in either case).
    pub fn parse(text: &str) -> Result<Digits, DigitsError> {
        let mut d = Digits {
            list: [Digit::D0; MAX_DIGITS],
            len: 0,
        };
        for (i, ch) in text.chars().enumerate() {
            let digit = Digit::from_symbol(ch).ok_or(DigitsError::NotADigit { ch, at: i + 1 })?;
            if let Some(slot) = d.list.get_mut(i) {
                *slot = digit;
            }
            d.len = i + 1;
        }
        match d.len {
            0 => Err(DigitsError::Empty),
            n if n > MAX_DIGITS => Err(DigitsError::TooMany(n)),
            _ => Ok(d),
        }
    }

    pub fn as_slice(&self) -> &[Digit] {
        &self.list[..self.len]
    }
}

impl std::fmt::Display for Digits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_slice()
            .iter()
            .try_for_each(|d| write!(f, "{}", d.symbol()))
    }
}

impl std::fmt::Debug for Digits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Digits(\"{self}\")")
    }
}

/// What becomes of a packet from the other leg.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Injected {
    /// Not the injection's business (or audio kept under added events):
    /// converted and relayed as usual.
    Pass,
    /// Rewritten into this many bytes of the buffer; send as is.
    Forward(usize),
    /// Covered by a digit: nothing to send for it.
    Absorb,
}

/// The digit being sent.
#[derive(Clone, Debug)]
struct Sounding {
    sink: DigitSink,
    /// Its end on the stream's clock.
    end: u32,
    events: Option<EventSender>,
    tone: Option<ToneGenerator>,
}

impl Sounding {
    fn is_over(&self) -> bool {
        self.events.as_ref().is_none_or(EventSender::is_done)
            && self.tone.as_ref().is_none_or(|t| t.remaining() == 0)
    }
}

/// The digits queued for one direction and the one sounding.
#[derive(Clone, Debug)]
pub(super) struct Injection {
    sink: DigitSink,
    queue: [Digit; QUEUE],
    head: usize,
    len: usize,
    tone: u32,
    gap: u32,
    current: Option<Sounding>,
    /// No digit starts before this timestamp (the pause after the last).
    not_before: Option<u32>,
}

impl Injection {
    pub(super) fn new(sink: DigitSink) -> Injection {
        Injection {
            sink,
            queue: [Digit::D0; QUEUE],
            head: 0,
            len: 0,
            tone: u32::from(DEFAULT_TONE_MS) * PER_MS,
            gap: u32::from(DEFAULT_GAP_MS) * PER_MS,
            current: None,
            not_before: None,
        }
    }

    /// Queues `digits` after those waiting, to be sent as `sink` takes
    /// them, each `tone_ms` long with `gap_ms` between (both kept within
    /// `MIN_MS..=MAX_MS`; they and the sink apply to every digit not yet
    /// started). Returns how many were queued: fewer when the queue is
    /// full.
    pub(super) fn push(
        &mut self,
        sink: DigitSink,
        digits: &[Digit],
        tone_ms: u16,
        gap_ms: u16,
    ) -> usize {
        self.sink = sink;
        self.tone = u32::from(tone_ms.clamp(MIN_MS, MAX_MS)) * PER_MS;
        self.gap = u32::from(gap_ms.clamp(MIN_MS, MAX_MS)) * PER_MS;
        let mut queued = 0;
        for &d in digits {
            if self.len == QUEUE {
                break;
            }
            self.queue[(self.head + self.len) % QUEUE] = d;
            self.len += 1;
            queued += 1;
        }
        queued
    }

    /// Nothing queued and nothing sounding.
    pub(super) fn is_idle(&self) -> bool {
        self.len == 0 && self.current.is_none()
    }

    /// Digits not yet finished (queued, and the one sounding).
    pub(super) fn pending(&self) -> usize {
        self.len + usize::from(self.current.is_some())
    }

    /// Takes the RTP packet at the start of `buf` (parsed as `h`) from the
    /// other leg; the rest of `buf` is room to grow into. An event packet
    /// to send right after it goes into `added`, whose length is returned
    /// beside the verdict (0: none).
    pub(super) fn step(
        &mut self,
        h: &RtpHeader,
        buf: &mut [u8],
        added: &mut [u8],
    ) -> (Injected, usize) {
        // The relay only anchors G.711 with its static payload types
        // (RFC 3551 §6), one byte a sample: anything else (the leg's
        // events, comfort noise) does not carry the clock.
        let audio = h.payload_type == 0 || h.payload_type == 8;
        let n = h
            .payload_end
            .saturating_sub(h.payload_start)
            .min(MAX_SAMPLES);
        if !audio || n == 0 {
            let verdict = match self.current {
                Some(_) => Injected::Absorb,
                None => Injected::Pass,
            };
            return (verdict, 0);
        }
        if self.current.is_none() && !self.start(h.timestamp, n as u32) {
            return (Injected::Pass, 0);
        }
        let Some(cur) = self.current.as_mut() else {
            return (Injected::Pass, 0);
        };
        let now = h.timestamp.wrapping_add(n as u32);
        let event = cur.events.as_mut().and_then(|s| {
            if (now.wrapping_sub(cur.end) as i32) >= 0 {
                s.stop(cur.end);
            }
            s.poll(now)
        });
        let sink = cur.sink;
        let tone = match cur.tone.as_mut() {
            Some(g) if g.remaining() > 0 => {
                let mut pcm = [0i16; MAX_SAMPLES];
                // The tone's last packet ends in silence.
                g.fill(&mut pcm[..n]);
                match (
                    write_header(
                        buf,
                        h.marker,
                        sink.audio_pt,
                        h.sequence,
                        h.timestamp,
                        h.ssrc,
                    ),
                    buf.get_mut(12..12 + n),
                ) {
                    (Some(_), Some(out)) => {
                        sink.law.encode_slice(&pcm[..n], out);
                        Some(12 + n)
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        let done = cur.is_over();
        if done {
            self.not_before = Some(cur.end.wrapping_add(self.gap));
            self.current = None;
        }
        let pt = sink.events.unwrap_or(0);
        match (tone, event) {
            (Some(len), Some(p)) => (Injected::Forward(len), write_event(added, p, pt, h)),
            (Some(len), None) => (Injected::Forward(len), 0),
            // `both`, the tone over: the final copies go beside the audio;
            // events only: in place of it.
            (None, Some(p)) if sink.wants_tones() => (Injected::Pass, write_event(added, p, pt, h)),
            (None, Some(p)) => match write_event(buf, p, pt, h) {
                0 => (Injected::Absorb, 0),
                len => (Injected::Forward(len), 0),
            },
            (None, None) if sink.wants_tones() || done => (Injected::Pass, 0),
            // Between two updates (packets shorter than the first): the
            // audio stays replaced.
            (None, None) => (Injected::Absorb, 0),
        }
    }

    /// Starts the next digit at `ts` if one waits and its turn has come;
    /// `interval` is the packet length, the events' update interval.
    fn start(&mut self, ts: u32, interval: u32) -> bool {
        if self.len == 0 {
            return false;
        }
        if let Some(at) = self.not_before {
            // Still in the pause; a wait longer than the pause means the
            // stream's clock jumped (a new source), and the digit goes now.
            let wait = at.wrapping_sub(ts) as i32;
            if wait > 0 && wait <= self.gap as i32 {
                return false;
            }
        }
        let digit = self.queue[self.head];
        self.head = (self.head + 1) % QUEUE;
        self.len -= 1;
        let sink = self.sink;
        self.current = Some(Sounding {
            sink,
            end: ts.wrapping_add(self.tone),
            events: sink
                .events
                .map(|_| EventSender::new(digit.event_code(), VOLUME, ts, interval)),
            // Volume is the pair's power; each tone gets half of it.
            tone: sink.wants_tones().then(|| {
                ToneGenerator::digit(digit, -f64::from(VOLUME) - 3.0, u64::from(self.tone))
            }),
        });
        true
    }
}

/// Writes event packet `p` (payload type `pt`) on the stream of `h` into
/// `out`; its length, 0 when it does not fit. The sequence number is `h`'s:
/// the converter renumbers what it sends.
fn write_event(out: &mut [u8], p: EventPacket, pt: u8, h: &RtpHeader) -> usize {
    let Ok(block) = p.payload.encode() else {
        return 0;
    };
    let (Some(_), Some(body)) = (
        write_header(out, p.marker, pt, h.sequence, p.timestamp, h.ssrc),
        out.get_mut(12..EVENT_LEN),
    ) else {
        return 0;
    };
    body.copy_from_slice(&block);
    EVENT_LEN
}
