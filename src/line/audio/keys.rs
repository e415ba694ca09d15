//! The line's digits on their way out: key presses the line board reports
//! and tones the in-band detector hears in the captured audio, sent once
//! each as RFC 4733 events (or, when the line sends no events, kept in or
//! written into the audio).
//!
//! One press, one digit. A phone's keypad both reports the key to the
//! board and puts its tone on the line, so the same press usually arrives
//! twice: as audio (confirmed by the detector ~35 ms into the tone) and as
//! the board's DIGIT line (on release, with the time held). The two are
//! matched by digit and time: a detection and a press of the same key
//! whose spans overlap, give or take [`SLACK`] (the capture path and the
//! serial line lag by different amounts), are one press, and each can
//! match only one of the other, so "55" stays two digits. The detection
//! wins when both are there: it is sent as it happens, at the tone's own
//! timestamp. A press waits [`GRACE`] for its tone to be confirmed before
//! it is sent on its own; a detection that matches a press already sent is
//! dropped. Both kinds of double are counted.
//!
//! Events (RFC 4733 §2.5.1, by the media layer's `EventSender`): one
//! packet per 20 ms frame, in place of that frame's audio, so the far end
//! never gets the tone and the event for the same 20 ms; a press's event
//! starts on the next frame and lasts the time held; a detection's starts
//! where the tone began and reports only as far as the tone has been
//! heard. The first ~35 ms of a tone, before it is confirmed, cannot be
//! taken back and have gone out as audio (as in the relay's own
//! detection). The end is sent three times (§2.5.1.4); audio stays
//! replaced until the last copy is out. A digit that comes while another
//! is sent waits its turn (at most [`QUEUE`]), at least [`MIN_GAP`] after
//! the previous one ends.
//!
//! No events (DTMF in-band only, or the far end refused them): detected
//! tones simply stay in the audio; a press with no tone in the audio gets
//! one written over the captured audio (ITU-T Q.23 pair, at least 40 ms
//! as Q.24 receivers need).

use std::time::{Duration, Instant};

use heapless::Deque;

use super::{Frame, FRAME_SAMPLES};
use crate::media::dtmf::rfc4733::{EventPacket, EventSender};
use crate::media::dtmf::{Digit, DtmfDetector, DtmfEvent, ToneGenerator};

/// How far apart a press and a detection may lie and still be one press.
pub const SLACK: Duration = Duration::from_millis(100);
/// How long a press waits for the detector to confirm its tone.
pub const GRACE: Duration = Duration::from_millis(100);
/// Digits waiting to be sent.
pub const QUEUE: usize = 16;
/// Least pause between two digits sent (ITU-T Q.24: 40 ms).
pub const MIN_GAP: u32 = 320;
/// Shortest tone written into the audio (ITU-T Q.24: 40 ms).
const MIN_TONE: u64 = 320;
/// Volume (−dBm0) of events and tones.
const VOLUME: u8 = 10;
/// Remembered detections, pending presses and sent presses, each.
const RECENT: usize = 8;
/// Nanoseconds per sample at 8 kHz.
const SAMPLE_NS: u64 = 125_000;

/// What the endpoint sends for one captured frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Out {
    /// The frame's audio (possibly with a tone written into it).
    Audio,
    /// This event packet instead of the audio.
    Event(EventPacket),
    /// Nothing: a digit is being sent and no packet of it is due.
    Nothing,
}

/// Digit counts by source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct KeyStats {
    pub keypad: u64,
    pub in_band: u64,
    /// Presses dropped because the detector had the same press.
    pub keypad_doubles: u64,
    /// Detections dropped because the same press came from the keypad.
    pub in_band_doubles: u64,
    /// Digits lost to a full queue.
    pub overflow: u64,
}

#[derive(Clone, Copy, Debug)]
struct Span {
    digit: Digit,
    start: Instant,
    /// None while the tone lasts.
    end: Option<Instant>,
    /// Matched with one of the other kind.
    matched: bool,
}

impl Span {
    fn overlaps(&self, other: &Span, now: Instant) -> bool {
        let (a0, a1) = (self.start, self.end.unwrap_or(now));
        let (b0, b1) = (other.start, other.end.unwrap_or(now));
        self.digit == other.digit && a0 <= b1 + SLACK && b0 <= a1 + SLACK
    }
}

/// A fixed ring of the last few spans of one kind.
#[derive(Clone, Copy, Debug, Default)]
struct Recent {
    spans: [Option<Span>; RECENT],
    next: usize,
}

impl Recent {
    fn push(&mut self, s: Span) -> usize {
        let at = self.next;
        self.spans[at] = Some(s);
        self.next = (at + 1) % RECENT;
        at
    }

    /// The first unmatched span overlapping `s`, marked matched.
    fn take_match(&mut self, s: &Span, now: Instant) -> bool {
        for slot in self.spans.iter_mut().flatten() {
            if !slot.matched && slot.overlaps(s, now) {
                slot.matched = true;
                return true;
            }
        }
        false
    }
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    span: Span,
    held: u32,
    decide_at: Instant,
}

#[derive(Clone, Copy, Debug)]
enum Length {
    /// Samples, known (a press).
    Fixed(u32),
    /// Still sounding in the captured audio (a detection): ends when the
    /// detector says so.
    Live,
}

#[derive(Clone, Copy, Debug)]
struct Job {
    digit: Digit,
    length: Length,
    /// Timestamp the digit began at (a detection's tone start; a press
    /// starts when its turn comes).
    start_ts: Option<u32>,
}

#[derive(Clone, Debug)]
struct Sending {
    sender: Option<EventSender>,
    tone: Option<ToneGenerator>,
    /// Ends with the detector's digit; `shift` moves the detector's
    /// timestamps to where the event was started.
    live: bool,
    shift: u32,
    end_ts: Option<u32>,
}

pub(super) struct Keys {
    events: bool,
    detector: DtmfDetector,
    /// Timestamp of the detector's sample 0.
    first_ts: u32,
    detections: Recent,
    /// The detection being heard (its slot in `detections`), if any.
    hearing: Option<usize>,
    /// Whether the detection being heard is being sent.
    hearing_sent: bool,
    sent_presses: Recent,
    pending: [Option<Pending>; RECENT],
    queue: Deque<Job, QUEUE>,
    current: Option<Sending>,
    not_before: Option<u32>,
    pub(super) stats: KeyStats,
}

impl Keys {
    /// `events`: digits go out as RFC 4733 events; otherwise as tones.
    /// `first_ts`: the timestamp of the first captured sample.
    pub(super) fn new(events: bool, first_ts: u32) -> Keys {
        Keys {
            events,
            detector: DtmfDetector::new(),
            first_ts,
            detections: Recent::default(),
            hearing: None,
            hearing_sent: false,
            sent_presses: Recent::default(),
            pending: [None; RECENT],
            queue: Deque::new(),
            current: None,
            not_before: None,
            stats: KeyStats::default(),
        }
    }

    /// A key released at `now` after `held`.
    pub(super) fn press(&mut self, digit: Digit, held: Duration, now: Instant) {
        let span = Span {
            digit,
            start: now.checked_sub(held).unwrap_or(now),
            end: Some(now),
            matched: false,
        };
        if self.detections.take_match(&span, now) {
            self.stats.keypad_doubles += 1;
            return;
        }
        let held = u32::try_from(held.as_nanos() / u128::from(SAMPLE_NS)).unwrap_or(u32::MAX);
        let pending = Pending {
            span,
            held,
            decide_at: now + GRACE,
        };
        match self.pending.iter_mut().find(|p| p.is_none()) {
            Some(slot) => *slot = Some(pending),
            None => self.stats.overflow += 1,
        }
    }

    /// One captured frame, ending at `now`, starting at timestamp `ts`:
    /// says what to send for it, and writes a generated tone into it when
    /// digits go as tones.
    pub(super) fn step(&mut self, frame: &mut Frame, ts: u32, now: Instant) -> Out {
        let mut heard: heapless::Vec<DtmfEvent, 4> = heapless::Vec::new();
        self.detector.push(frame, &mut |e| {
            // A 20 ms frame completes at most three windows, so at most
            // an end and a start each.
            let _ = heard.push(e);
        });
        let seen = self.detector.samples_seen();
        let instant = |sample: u64| {
            now.checked_sub(Duration::from_nanos(
                seen.saturating_sub(sample).saturating_mul(SAMPLE_NS),
            ))
            .unwrap_or(now)
        };
        for e in heard {
            let at = instant(e.start_sample);
            match e.end_sample {
                None => self.detected(e.digit, at, self.sample_ts(e.start_sample), now),
                Some(end) => self.tone_ended(instant(end), self.sample_ts(end)),
            }
        }
        self.decide_presses(now);
        let now_ts = ts.wrapping_add(FRAME_SAMPLES as u32);
        if let (Some(cur), Some(heard)) = (self.current.as_mut(), self.detector.heard_until()) {
            if cur.live {
                if let Some(s) = cur.sender.as_mut() {
                    s.heard_until(
                        self.first_ts
                            .wrapping_add(heard as u32)
                            .wrapping_add(cur.shift),
                    );
                }
            }
        }
        if self.current.is_none() {
            self.start_next(ts);
        }
        let Some(cur) = self.current.as_mut() else {
            return Out::Audio;
        };
        if let Some(s) = cur.sender.as_mut() {
            let p = s.poll(now_ts);
            if s.is_done() {
                self.not_before = cur.end_ts.map(|e| e.wrapping_add(MIN_GAP));
                self.current = None;
            }
            p.map_or(Out::Nothing, Out::Event)
        } else if let Some(g) = cur.tone.as_mut() {
            g.fill(frame);
            if g.remaining() == 0 {
                self.not_before = cur.end_ts.map(|e| e.wrapping_add(MIN_GAP));
                self.current = None;
            }
            Out::Audio
        } else {
            self.current = None;
            Out::Audio
        }
    }

    fn sample_ts(&self, sample: u64) -> u32 {
        self.first_ts.wrapping_add(sample as u32)
    }

    /// The detector confirmed `digit`, its tone begun at `at` (`ts`).
    fn detected(&mut self, digit: Digit, at: Instant, ts: u32, now: Instant) {
        let mut span = Span {
            digit,
            start: at,
            end: None,
            matched: false,
        };
        // A press still waiting for its tone: this is it; the press goes.
        let mut double = false;
        for slot in self.pending.iter_mut() {
            if slot.is_some_and(|p| p.span.overlaps(&span, now)) {
                *slot = None;
                self.stats.keypad_doubles += 1;
                span.matched = true;
                break;
            }
        }
        // A press already sent (or queued) for it: this one goes.
        if !span.matched && self.sent_presses.take_match(&span, now) {
            span.matched = true;
            double = true;
        }
        self.hearing = Some(self.detections.push(span));
        self.hearing_sent = false;
        if double {
            self.stats.in_band_doubles += 1;
            return;
        }
        self.stats.in_band += 1;
        if !self.events {
            // The tone is in the audio, which is what goes out.
            return;
        }
        self.hearing_sent = true;
        self.enqueue(Job {
            digit,
            length: Length::Live,
            start_ts: Some(ts),
        });
    }

    /// The detector's digit stopped at `at` (timestamp `ts`).
    fn tone_ended(&mut self, at: Instant, ts: u32) {
        if let Some(i) = self.hearing.take() {
            if let Some(s) = self.detections.spans[i].as_mut() {
                s.end = Some(at);
            }
        }
        if !std::mem::take(&mut self.hearing_sent) {
            return;
        }
        if let Some(cur) = self.current.as_mut().filter(|c| c.live) {
            cur.live = false;
            let end = ts.wrapping_add(cur.shift);
            cur.end_ts = Some(end);
            if let Some(s) = cur.sender.as_mut() {
                s.stop(end);
            }
            return;
        }
        // Still waiting its turn: it now has a length.
        if let Some(job) = self
            .queue
            .iter_mut()
            .rev()
            .find(|j| matches!(j.length, Length::Live))
        {
            let start = job.start_ts.unwrap_or(ts);
            job.length = Length::Fixed(ts.wrapping_sub(start));
            job.start_ts = None;
        }
    }

    fn decide_presses(&mut self, now: Instant) {
        for i in 0..RECENT {
            let Some(p) = self.pending[i] else { continue };
            if p.decide_at > now {
                continue;
            }
            self.pending[i] = None;
            if self.detections.take_match(&p.span, now) {
                self.stats.keypad_doubles += 1;
                continue;
            }
            let mut span = p.span;
            span.matched = false;
            self.sent_presses.push(span);
            self.stats.keypad += 1;
            let held = if self.events {
                p.held
            } else {
                p.held.max(MIN_TONE as u32)
            };
            self.enqueue(Job {
                digit: p.span.digit,
                length: Length::Fixed(held),
                start_ts: None,
            });
        }
    }

    fn enqueue(&mut self, job: Job) {
        if self.queue.push_back(job).is_err() {
            self.stats.overflow += 1;
        }
    }

    /// Starts the next digit at frame timestamp `ts` if its turn has come.
    fn start_next(&mut self, ts: u32) {
        if let Some(at) = self.not_before {
            if (at.wrapping_sub(ts) as i32) > 0 {
                return;
            }
            self.not_before = None;
        }
        let Some(job) = self.queue.pop_front() else {
            return;
        };
        // A detection sent as it happens keeps its own start; one that
        // waited starts now, moved by `shift`.
        let start = match job.start_ts {
            Some(s) if (ts.wrapping_sub(s) as i32) < 2 * MIN_GAP as i32 => s,
            _ => ts,
        };
        let shift = match (job.length, job.start_ts) {
            (Length::Live, Some(s)) => start.wrapping_sub(s),
            _ => 0,
        };
        let live = matches!(job.length, Length::Live);
        let end_ts = match job.length {
            Length::Fixed(n) => Some(start.wrapping_add(n)),
            Length::Live => None,
        };
        let mut sending = Sending {
            sender: None,
            tone: None,
            live,
            shift,
            end_ts,
        };
        if self.events {
            let mut s =
                EventSender::new(job.digit.event_code(), VOLUME, start, FRAME_SAMPLES as u32);
            if let Some(end) = end_ts {
                s.stop(end);
            }
            sending.sender = Some(s);
        } else if let Length::Fixed(n) = job.length {
            // Volume is the pair's power; each tone gets half of it.
            sending.tone = Some(ToneGenerator::digit(
                job.digit,
                -f64::from(VOLUME) - 3.0,
                u64::from(n),
            ));
        }
        self.current = Some(sending);
    }
}
