//! `LineEndpoint`: one call's audio at a local line, sans-IO. The audio
//! thread hands it each captured 20 ms frame, each key the board reports,
//! each datagram from the far end, and asks it for each 20 ms to play; it
//! never reads a clock or touches a device or socket, and allocates
//! nothing after it is made.
//!
//! Sending: a frame is G.711-encoded into one RTP packet (RFC 3550, RFC
//! 3551 §4.5.14: 160 samples, 20 ms), sequence numbers and timestamps
//! continuous from the parameters' first ones, the marker bit on the first
//! packet (the talkspurt's start, RFC 3551 §4.1). Keys go out as `keys.rs`
//! says: an RFC 4733 event packet takes a frame's place while a digit is
//! sent, on the same sequence and timestamp clock (RFC 4733 §2.5.1.2).
//! When events are sent, audio leaves one frame (20 ms) after it was
//! captured, so that a tone's frames before the detector confirmed it are
//! replaced by the event too (`capture` says why).
//!
//! Receiving: the agreed audio payload type goes to the jitter buffer;
//! the far end's telephone-events are counted (the line plays no DTMF to
//! its own phone); anything else is counted and dropped.

use std::time::{Duration, Instant};

use super::jitter::{Inserted, JitterBuffer, JitterSettings};
use super::keys::{Keys, Out};
use super::{Frame, FRAME_SAMPLES, G711};
use crate::media::dtmf::rfc4733::EventPacket;
use crate::media::dtmf::Digit;
use crate::media::rtp::{is_rtcp, write_header, RtpHeader};

/// What the call agreed for the line's RTP.
#[derive(Clone, Copy, Debug)]
pub struct EndpointParams {
    pub codec: G711,
    pub payload_type: u8,
    /// telephone-event payload type agreed in SDP; None = the far end refused events
    pub event_payload_type: Option<u8>,
    /// false when the line's DTMF mode is in-band only: keys stay in the audio, no events
    pub send_events: bool,
    pub ssrc: u32,
    pub first_seq: u16,
    pub first_timestamp: u32,
}

/// Where a digit sent came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigitSource {
    /// The line board reported the key (`press`).
    Keypad,
    /// The in-band detector heard its tone in the captured audio.
    InBand,
}

/// Counters of one endpoint since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// RTP packets sent: audio and events.
    pub packets_out: u64,
    pub audio_out: u64,
    pub events_out: u64,
    /// Datagrams received, whatever they were.
    pub packets_in: u64,
    /// Audio packets taken into the jitter buffer (late ones included).
    pub audio_in: u64,
    /// The far end's telephone-event packets (counted, not played).
    pub events_in: u64,
    /// Not RTP, or RTP that does not parse (RTCP included).
    pub malformed: u64,
    /// RTP of a payload type not agreed.
    pub foreign: u64,
    /// From a replaced SSRC, or a sequence number far off.
    pub old: u64,
    pub duplicate: u64,
    /// Arrived after their time to play.
    pub late: u64,
    /// Never arrived (RFC 3550 §6.4.1 cumulative lost).
    pub lost: u64,
    /// 20 ms frames played with concealed samples.
    pub concealed: u64,
    /// Playout point moved at once (stream start, new source, jump).
    pub resyncs: u64,
    /// RFC 3550 §A.8 interarrival jitter.
    pub jitter: Duration,
    /// The jitter buffer's target delay and the audio buffered now.
    pub jitter_target: Duration,
    pub jitter_depth: Duration,
    /// Digits sent (as events, or as tones written into the audio; in-band
    /// digits also when they stay in the audio as they came).
    pub digits_keypad: u64,
    pub digits_in_band: u64,
    /// One press seen twice and sent once: presses dropped for a
    /// detection, detections dropped for a press.
    pub doubles_dropped: u64,
    /// Digits lost to a full queue (a key held down in a storm of others).
    pub digits_overflow: u64,
}

impl EndpointStats {
    /// Digits sent from one source.
    pub fn digits(&self, source: DigitSource) -> u64 {
        match source {
            DigitSource::Keypad => self.digits_keypad,
            DigitSource::InBand => self.digits_in_band,
        }
    }
}

/// Longest packet written: header and one frame.
const PACKET: usize = 12 + FRAME_SAMPLES;

/// One call's audio at a local line.
pub struct LineEndpoint {
    params: EndpointParams,
    seq: u16,
    /// Timestamp of the next captured frame's first sample.
    ts: u32,
    sent_any: bool,
    /// Audio is sent one frame late (see `capture`), when events are.
    hold: bool,
    held: Option<(Frame, u32)>,
    keys: Keys,
    jitter: JitterBuffer,
    stats: EndpointStats,
}

impl LineEndpoint {
    pub fn new(params: EndpointParams, jitter: JitterSettings, now: Instant) -> LineEndpoint {
        let events = params.send_events && params.event_payload_type.is_some();
        LineEndpoint {
            params,
            seq: params.first_seq,
            ts: params.first_timestamp,
            sent_any: false,
            hold: events,
            held: None,
            keys: Keys::new(events, params.first_timestamp),
            jitter: JitterBuffer::new(jitter, params.codec, now),
            stats: EndpointStats::default(),
        }
    }

    /// One 20 ms frame captured from the line at `now`: calls `send` with each RTP packet to send
    /// (audio, or event packets while a digit is being sent; never both for the same 20 ms).
    pub fn capture(&mut self, frame: &Frame, now: Instant, send: &mut dyn FnMut(&[u8])) {
        let mut pcm = *frame;
        let ts = self.ts;
        self.ts = ts.wrapping_add(FRAME_SAMPLES as u32);
        let out = self.keys.step(&mut pcm, ts, now);
        // With events, audio goes out a frame late: the detector confirms
        // a tone 31-37 ms into it, and the frame held back is replaced by
        // the event too, so at most ~17 ms of the tone reach the far end
        // as audio (under the 23 ms ITU-T Q.24 receivers must reject).
        // Sent at once, up to 37 ms would: enough for a far-end detector
        // to hear the digit that the event also carries.
        let audio = if self.hold {
            self.held.replace((pcm, ts))
        } else {
            Some((pcm, ts))
        };
        let mut buf = [0u8; PACKET];
        let len = match out {
            Out::Audio => {
                let Some((pcm, ts)) = audio else { return };
                let marker = !self.sent_any;
                write_header(
                    &mut buf,
                    marker,
                    self.params.payload_type,
                    self.seq,
                    ts,
                    self.params.ssrc,
                );
                self.params.codec.encode_slice(&pcm, &mut buf[12..]);
                self.stats.audio_out += 1;
                PACKET
            }
            Out::Event(p) => match self.write_event(&mut buf, p) {
                Some(n) => {
                    self.stats.events_out += 1;
                    n
                }
                None => return,
            },
            Out::Nothing => return,
        };
        self.sent_any = true;
        self.seq = self.seq.wrapping_add(1);
        self.stats.packets_out += 1;
        send(&buf[..len]);
    }

    fn write_event(&self, buf: &mut [u8; PACKET], p: EventPacket) -> Option<usize> {
        let pt = self.params.event_payload_type?;
        let block = p.payload.encode().ok()?;
        write_header(buf, p.marker, pt, self.seq, p.timestamp, self.params.ssrc)?;
        buf[12..16].copy_from_slice(&block);
        Some(16)
    }

    /// A key released on the line board after `held` (DIGIT d ms): sent as an RFC 4733 event of
    /// that duration unless the in-band detector already sent the same key for the same press.
    /// A character that is no DTMF key is ignored.
    pub fn press(&mut self, digit: char, held: Duration, now: Instant) {
        if let Some(d) = Digit::from_symbol(digit) {
            self.keys.press(d, held, now);
        }
    }

    /// An RTP packet from the far end (anything not our payload types, malformed, or from an
    /// old SSRC/sequence is counted and dropped, never a panic).
    pub fn receive(&mut self, packet: &[u8], now: Instant) {
        self.stats.packets_in += 1;
        if is_rtcp(packet) {
            self.stats.malformed += 1;
            return;
        }
        let Ok(h) = RtpHeader::parse(packet) else {
            self.stats.malformed += 1;
            return;
        };
        if Some(h.payload_type) == self.params.event_payload_type {
            // Events share the audio's sequence numbers (RFC 4733 §2.1).
            self.jitter.note_sequence(h.ssrc, h.sequence);
            self.stats.events_in += 1;
            return;
        }
        if h.payload_type != self.params.payload_type {
            self.stats.foreign += 1;
            return;
        }
        let payload = packet.get(h.payload_start..h.payload_end).unwrap_or(&[]);
        match self
            .jitter
            .insert(h.ssrc, h.sequence, h.timestamp, h.marker, payload, now)
        {
            Inserted::Buffered | Inserted::Late => self.stats.audio_in += 1,
            Inserted::Duplicate => {}
            Inserted::OldSource | Inserted::OutOfSequence => self.stats.old += 1,
            Inserted::BadLength => self.stats.malformed += 1,
        }
    }

    /// The next 20 ms for playback: from the jitter buffer, PLC when a packet is missing,
    /// silence when there is nothing to conceal.
    pub fn playout(&mut self, now: Instant, out: &mut Frame) {
        self.jitter.playout(now, out);
    }

    /// Packets in/out, late, lost, concealed, jitter buffer depth, digits sent per source.
    pub fn stats(&self) -> EndpointStats {
        let j = self.jitter.stats();
        let k = self.keys.stats;
        EndpointStats {
            duplicate: j.duplicate,
            late: j.late,
            lost: j.lost,
            concealed: j.concealed,
            resyncs: j.resyncs,
            jitter: j.jitter,
            jitter_target: j.target,
            jitter_depth: j.depth,
            digits_keypad: k.keypad,
            digits_in_band: k.in_band,
            doubles_dropped: k.keypad_doubles + k.in_band_doubles,
            digits_overflow: k.overflow,
            ..self.stats
        }
    }
}
