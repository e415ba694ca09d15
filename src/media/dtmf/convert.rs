//! DTMF crossing between legs that carry it differently, sans-IO and in
//! place on RTP packets: RFC 4733 events from one leg rendered as tones in
//! the other leg's audio, and tones found in one leg's audio sent to the
//! other as RFC 4733 events.
//!
//! One `DtmfConverter` per direction (packets from one leg to the other).
//! It keeps the stream one stream: the source's SSRC, its timestamps for
//! audio, the event timestamp for events (RFC 4733 §2.5.1.2), and sequence
//! numbers without holes where it absorbs or adds packets.
//!
//! Rendering (events → tones). Each event packet becomes an audio packet
//! holding the samples its duration adds to what was already rendered, at
//! `timestamp = event timestamp + samples rendered`, so the tone is as long
//! as the event and sits where the event said. Repeated end packets and
//! updates that add nothing are absorbed; the source's own audio during the
//! event is absorbed too (it would overlap the tone). An event whose end
//! never arrives stops when audio more than [`STALE_EVENT`] samples past it
//! shows up.
//!
//! Detection (tones → events). The source's audio is decoded and fed to
//! the Q.24 detector; a confirmed digit starts an `EventSender` at the
//! timestamp where the tone began, and each later audio packet of the
//! source carries that sender's due packet instead of (or, for a `both`
//! leg, besides) its audio. The first ~40 ms of a tone, before it is
//! confirmed, cannot be taken back and go through as audio. End packets
//! ride on the audio that follows the tone, one per packet, so a source
//! that stops sending at the end of a digit delays them.
//!
//! The detector confirms a tone's end ~40 ms after it (six windows
//! without it), so updates report only as far as the tone has been heard
//! and the final duration is the tone's measured length, not the packets
//! that ran while the end was being confirmed. A digit that follows
//! closely (a 40 ms pause) can be confirmed before the previous one's
//! three end packets (RFC 4733 §2.5.1.4) are out: those are then owed and
//! sent at once, ahead of the new event's first packet, two per audio
//! packet where the audio is replaced (one in its place, one added) and
//! one where it is kept; the new event's first packet waits its turn.

use super::detector::{DtmfDetector, DtmfEvent};
use super::digit::Digit;
use super::heard::HeardDigits;
use super::inject::{DigitSink, Injected, Injection};
use super::rfc4733::{EventPacket, EventSender, TelephoneEvent};
use super::tone::ToneGenerator;
use crate::media::g711::Law;
use crate::media::rtp::{set_sequence, write_header, RtpHeader};

/// Samples of audio past the rendered part of an event after which an
/// event without an end is taken as over (200 ms).
pub const STALE_EVENT: u32 = 1600;
/// Most samples rendered from one event packet (an update every 125 ms at
/// most; longer gaps are lost time, not a longer packet).
pub const MAX_RENDER: usize = 1000;
/// Volume (−dBm0) of events made from detected tones.
pub const DETECTED_VOLUME: u8 = 10;
/// Length of a generated event packet (fixed header and one block), also
/// the most a converter adds next to a packet.
pub const EVENT_PACKET: usize = 16;
/// Most event packets owed at once by digits that ended as the next one
/// started: a digit owes at most its three final packets (and three for a
/// segment boundary, §2.5.1.3), and at most two digits can be owing.
const OWED: usize = 12;

/// The receiving leg's G.711 audio: its law and payload type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioFormat {
    pub law: Law,
    pub payload_type: u8,
}

/// How digits cross in one direction; built by signalling from the
/// negotiated media and each leg's DTMF mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DtmfPath {
    /// Render the source's events (this payload type) as tones.
    pub render: Option<RenderPath>,
    /// Detect tones in the source's audio and send them as events.
    pub detect: Option<DetectPath>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenderPath {
    /// The source's telephone-event payload type.
    pub events_in: u8,
    /// The receiver's audio, which the tones are written in.
    pub tones_out: AudioFormat,
    /// The receiver also takes the events (`both`): they go on,
    /// renumbered to this payload type, next to the tones.
    pub also_events: Option<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DetectPath {
    /// The source's audio, which is listened to.
    pub audio_in: AudioFormat,
    /// The receiver's telephone-event payload type.
    pub events_out: u8,
    /// The receiver also keeps the tones in its audio (`both`); otherwise
    /// audio is replaced by events while a digit lasts.
    pub keep_audio: bool,
}

impl DtmfPath {
    pub fn is_empty(&self) -> bool {
        self.render.is_none() && self.detect.is_none()
    }
}

/// What became of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Converted {
    /// Not DTMF business: the relay rewrites it as usual.
    Pass,
    /// Rewritten into this many bytes of the buffer; send as is.
    Forward(usize),
    /// Nothing to send for it.
    Absorb,
}

#[derive(Clone, Debug)]
struct Rendering {
    timestamp: u32,
    event: u8,
    tone: ToneGenerator,
    rendered: u32,
    ended: bool,
}

#[derive(Clone, Debug)]
struct Detecting {
    path: DetectPath,
    detector: DtmfDetector,
    sender: Option<EventSender>,
    owed: Owed,
}

/// Packets of ended digits that must go out before the current one's,
/// oldest first; fixed room, nothing allocated per packet.
#[derive(Clone, Debug, Default)]
struct Owed {
    packets: [Option<EventPacket>; OWED],
    len: usize,
}

impl Owed {
    fn push(&mut self, p: EventPacket) {
        // Cannot fill up (see `OWED`); were it to, the newest copy is the
        // one to lose, as the earlier ones carry the same content.
        if let Some(slot) = self.packets.get_mut(self.len) {
            *slot = Some(p);
            self.len += 1;
        }
    }

    fn pop(&mut self) -> Option<EventPacket> {
        if self.len == 0 {
            return None;
        }
        let first = self.packets[0].take();
        self.packets[..self.len].rotate_left(1);
        self.len -= 1;
        first
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The converter of one direction.
#[derive(Clone, Debug)]
pub struct DtmfConverter {
    render: Option<RenderPath>,
    rendering: Option<Rendering>,
    detecting: Option<Box<Detecting>>,
    /// Added to every sequence number leaving, so absorbed and added
    /// packets leave no holes or doubles.
    seq_delta: u16,
    last_seq: Option<u16>,
    extra: [u8; EVENT_PACKET],
    extra_len: usize,
    /// Digits the gateway sends itself in this direction (`inject.rs`),
    /// made by the first request.
    injecting: Option<Box<Injection>>,
    /// Digits seen, either way (for the call record and logs).
    digits_rendered: u32,
    digits_detected: u32,
    /// Digits confirmed by the detector since `drain_detected` (at most
    /// one or two per packet: a digit takes 40 ms to confirm).
    detected_new: [Option<Digit>; 4],
}

impl DtmfConverter {
    pub fn new(path: DtmfPath) -> DtmfConverter {
        DtmfConverter {
            render: path.render,
            rendering: None,
            detecting: path.detect.map(|p| {
                Box::new(Detecting {
                    path: p,
                    detector: DtmfDetector::new(),
                    sender: None,
                    owed: Owed::default(),
                })
            }),
            seq_delta: 0,
            last_seq: None,
            extra: [0; EVENT_PACKET],
            extra_len: 0,
            injecting: None,
            digits_rendered: 0,
            digits_detected: 0,
            detected_new: [None; 4],
        }
    }

    pub fn digits_rendered(&self) -> u32 {
        self.digits_rendered
    }

    pub fn digits_detected(&self) -> u32 {
        self.digits_detected
    }

    /// Hands the digits the detector confirmed since the last call to
    /// `into`, oldest first.
    pub fn drain_detected(&mut self, into: &mut HeardDigits) {
        for d in self.detected_new.iter_mut() {
            match d.take() {
                Some(digit) => into.push(digit),
                None => break,
            }
        }
    }

    /// A new path (a new offer/answer) for the packets from now on: a
    /// conversion under way is dropped, but the numbering of the stream,
    /// the counters and the digits the gateway is sending go on, so the
    /// receiver sees one stream across the change.
    pub fn set_path(&mut self, path: DtmfPath) {
        let fresh = DtmfConverter::new(path);
        self.render = fresh.render;
        self.rendering = None;
        self.detecting = fresh.detecting;
    }

    /// Queues `digits` to be sent in this direction as `sink` takes them
    /// (`inject.rs`), each `tone_ms` long with `gap_ms` between; returns
    /// how many were queued (fewer when the queue is full).
    pub fn send_digits(
        &mut self,
        sink: DigitSink,
        digits: &[Digit],
        tone_ms: u16,
        gap_ms: u16,
    ) -> usize {
        self.injecting
            .get_or_insert_with(|| Box::new(Injection::new(sink)))
            .push(sink, digits, tone_ms, gap_ms)
    }

    /// Digits the gateway has still to send in this direction.
    pub fn digits_pending(&self) -> usize {
        self.injecting.as_ref().map_or(0, |i| i.pending())
    }

    /// Converts the RTP packet at the start of `buf` (already parsed as
    /// `h`) in place; the rest of `buf` is room to grow into. Call
    /// `finish` on whatever is then sent.
    pub fn convert(&mut self, h: &RtpHeader, buf: &mut [u8]) -> Converted {
        self.extra_len = 0;
        if let Some(inj) = self.injecting.as_mut().filter(|i| !i.is_idle()) {
            let (verdict, added) = inj.step(h, buf, &mut self.extra);
            self.extra_len = added;
            match verdict {
                Injected::Forward(n) => return Converted::Forward(n),
                Injected::Absorb => return self.absorb(h.sequence),
                // Audio kept beside an injected event: nothing else is
                // done to it (the event holds the added slot).
                Injected::Pass if added > 0 => return Converted::Pass,
                Injected::Pass => {}
            }
        }
        if let Some(r) = self.render {
            if h.payload_type == r.events_in {
                return self.render_event(r, h, buf);
            }
            if let Some(cur) = &self.rendering {
                if !cur.ended {
                    let past = h
                        .timestamp
                        .wrapping_sub(cur.timestamp.wrapping_add(cur.rendered));
                    if (past as i32) > STALE_EVENT as i32 {
                        self.rendering = None;
                    } else {
                        return self.absorb(h.sequence);
                    }
                }
            }
        }
        match self.detecting.as_mut() {
            Some(d) if h.payload_type == d.path.audio_in.payload_type => {
                let keep = d.path.keep_audio;
                match self.detect(h, buf) {
                    Some(n) => Converted::Forward(n),
                    None if !keep && self.digit_sounding() => self.absorb(h.sequence),
                    None => Converted::Pass,
                }
            }
            _ => Converted::Pass,
        }
    }

    /// Renumbers the packet about to be sent (`buf`, sequence `seq` as
    /// received) and the packet added after it, if any (`take_added`).
    pub fn finish(&mut self, seq: u16, buf: &mut [u8]) {
        if self.newer(seq) {
            self.last_seq = Some(seq);
        }
        let out = seq.wrapping_add(self.seq_delta);
        if self.seq_delta != 0 {
            set_sequence(buf, out);
        }
        if self.extra_len > 0 {
            self.seq_delta = self.seq_delta.wrapping_add(1);
            set_sequence(&mut self.extra[..self.extra_len], out.wrapping_add(1));
        }
    }

    /// The packet to send right after the one just finished (an event next
    /// to audio for a `both` leg), copied into `out`; its length, 0 if none.
    pub fn take_added(&mut self, out: &mut [u8]) -> usize {
        let n = std::mem::take(&mut self.extra_len);
        match out.get_mut(..n) {
            Some(dst) => {
                dst.copy_from_slice(&self.extra[..n]);
                n
            }
            None => 0,
        }
    }

    fn newer(&self, seq: u16) -> bool {
        self.last_seq
            .is_none_or(|last| seq != last && seq.wrapping_sub(last) < 0x8000)
    }

    /// A packet is dropped: later ones move down by one, unless it was a
    /// copy of one already counted (RFC 4733 end packets repeat their
    /// sequence number).
    fn absorb(&mut self, seq: u16) -> Converted {
        if self.newer(seq) {
            self.last_seq = Some(seq);
            self.seq_delta = self.seq_delta.wrapping_sub(1);
        }
        Converted::Absorb
    }

    fn digit_sounding(&self) -> bool {
        self.detecting
            .as_ref()
            .is_some_and(|d| !d.owed.is_empty() || d.sender.as_ref().is_some_and(|s| !s.is_done()))
    }

    fn render_event(&mut self, r: RenderPath, h: &RtpHeader, buf: &mut [u8]) -> Converted {
        let Ok(ev) = TelephoneEvent::decode(
            buf.get(h.payload_start..h.payload_end.min(h.payload_start + 4))
                .unwrap_or(&[]),
        ) else {
            return self.absorb(h.sequence);
        };
        let Some(digit) = Digit::from_event_code(ev.event) else {
            // Not a DTMF event (flash, tones): nothing to render.
            return self.absorb(h.sequence);
        };
        let same = self
            .rendering
            .as_ref()
            .is_some_and(|c| c.timestamp == h.timestamp && c.event == ev.event);
        if !same {
            self.rendering = Some(Rendering {
                timestamp: h.timestamp,
                event: ev.event,
                // Volume is the pair's power; each tone gets half of it.
                tone: ToneGenerator::digit(digit, -f64::from(ev.volume.min(40)) - 3.0, u64::MAX),
                rendered: 0,
                ended: false,
            });
            self.digits_rendered += 1;
        }
        if let Some(also) = r.also_events {
            // The event goes on too, as a clean single-block packet.
            write_header(
                &mut self.extra,
                h.marker,
                also,
                h.sequence,
                h.timestamp,
                h.ssrc,
            );
            if let Ok(block) = ev.encode() {
                self.extra[12..16].copy_from_slice(&block);
            }
        }
        let Some(cur) = self.rendering.as_mut() else {
            return Converted::Pass;
        };
        if cur.ended {
            return self.event_without_tone(r, h, buf);
        }
        let want = u32::from(ev.duration).saturating_sub(cur.rendered) as usize;
        let n = want.min(MAX_RENDER).min(buf.len().saturating_sub(12));
        cur.ended = ev.end;
        if n == 0 {
            return self.event_without_tone(r, h, buf);
        }
        let mut pcm = [0i16; MAX_RENDER];
        cur.tone.fill(&mut pcm[..n]);
        let ts = cur.timestamp.wrapping_add(cur.rendered);
        let marker = cur.rendered == 0;
        cur.rendered += n as u32;
        let fmt = r.tones_out;
        write_header(buf, marker, fmt.payload_type, h.sequence, ts, h.ssrc);
        fmt.law.encode_slice(&pcm[..n], &mut buf[12..12 + n]);
        if r.also_events.is_some() {
            self.extra_len = EVENT_PACKET;
        }
        Converted::Forward(12 + n)
    }

    /// An event packet that adds no tone: a `both` receiver still gets it
    /// as an event, anyone else nothing.
    fn event_without_tone(&mut self, r: RenderPath, h: &RtpHeader, buf: &mut [u8]) -> Converted {
        match (r.also_events, buf.get_mut(..EVENT_PACKET)) {
            (Some(_), Some(out)) => {
                out.copy_from_slice(&self.extra);
                Converted::Forward(EVENT_PACKET)
            }
            _ => self.absorb(h.sequence),
        }
    }

    /// Feeds the audio to the detector and writes the event packets due:
    /// where audio is replaced, the first into `buf` (its length is
    /// returned) and a second, if owed, into `self.extra`; where audio is
    /// kept, one into `self.extra`.
    fn detect(&mut self, h: &RtpHeader, buf: &mut [u8]) -> Option<usize> {
        let d = self.detecting.as_mut()?;
        let payload = buf.get(h.payload_start..h.payload_end)?;
        let mut pcm = [0i16; MAX_RENDER];
        let n = payload.len().min(MAX_RENDER);
        d.path
            .audio_in
            .law
            .decode_slice(&payload[..n], &mut pcm[..n]);
        // Sample index → RTP timestamp, anchored on this packet so lost
        // packets do not shift later events.
        let base = h.timestamp.wrapping_sub(d.detector.samples_seen() as u32);
        let ts = |sample: u64| base.wrapping_add(sample as u32);
        let now = h.timestamp.wrapping_add(n as u32);
        let interval = (n as u32).max(1);
        let Detecting {
            detector,
            sender,
            owed,
            ..
        } = &mut **d;
        let detected_new = &mut self.detected_new;
        let mut started = 0;
        detector.push(&pcm[..n], &mut |e: DtmfEvent| match e.end_sample {
            Some(end) => {
                if let Some(s) = sender.as_mut() {
                    s.stop(ts(end));
                }
            }
            None => {
                if let Some(mut prev) = sender.take() {
                    // Ended by this digit or just before it: whatever it
                    // still owes goes first, at once.
                    prev.stop(ts(e.start_sample));
                    prev.hurry();
                    for _ in 0..OWED {
                        match prev.poll(now) {
                            Some(p) => owed.push(p),
                            None => break,
                        }
                    }
                }
                *sender = Some(EventSender::new(
                    e.digit.event_code(),
                    DETECTED_VOLUME,
                    ts(e.start_sample),
                    interval,
                ));
                if let Some(slot) = detected_new.iter_mut().find(|s| s.is_none()) {
                    *slot = Some(e.digit);
                }
                started += 1;
            }
        });
        self.digits_detected += started;
        if let (Some(s), Some(heard)) = (sender.as_mut(), detector.heard_until()) {
            s.heard_until(ts(heard));
        }
        let keep = d.path.keep_audio;
        let events_out = d.path.events_out;
        let mut polled = false;
        let mut next = || {
            if let Some(p) = d.owed.pop() {
                return Some(p);
            }
            if std::mem::replace(&mut polled, true) {
                return None;
            }
            let s = d.sender.as_mut()?;
            let p = s.poll(now);
            if s.is_done() {
                d.sender = None;
            }
            p
        };
        let write = |out: &mut [u8], p: EventPacket| -> Option<usize> {
            let block = p.payload.encode().ok()?;
            write_header(out, p.marker, events_out, h.sequence, p.timestamp, h.ssrc)?;
            out.get_mut(12..EVENT_PACKET)?.copy_from_slice(&block);
            Some(EVENT_PACKET)
        };
        if keep {
            if let Some(p) = next() {
                self.extra_len = write(&mut self.extra, p).unwrap_or(0);
            }
            return None;
        }
        let first = write(buf, next()?)?;
        if let Some(p) = next() {
            self.extra_len = write(&mut self.extra, p).unwrap_or(0);
        }
        Some(first)
    }
}
