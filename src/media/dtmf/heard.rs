//! The digits one leg sends, noticed once each on their way through the
//! relay, for the call record and the `dtmf` events: RFC 4733 events on
//! the leg's own telephone-event payload type, and tones the in-band
//! detector confirmed (`convert.rs` hands those over). Sans-IO and fixed
//! size: nothing is allocated per packet; the media thread takes what was
//! noticed in batches (`take`).
//!
//! An RFC 4733 event is one digit however many packets carry it: its
//! packets share the RTP timestamp of the event's start (§2.5.1.1, the
//! interim updates of §2.5.1.2), and the final packet is sent three times
//! (§2.5.1.4). So a digit is noticed when an event packet carries a
//! timestamp later than the last event's, or comes from a new SSRC (a new
//! stream starts its own timestamps). Two exceptions keep one key press
//! one digit: a late packet of an earlier event (reordered, an older
//! timestamp) is not new, and a long event's next segment (§2.5.1.3: the
//! previous segment reached the 0xFFFF duration without the E bit, and the
//! same event goes on at a new timestamp) continues the digit.

use super::digit::Digit;
use super::rfc4733::TelephoneEvent;
use crate::media::rtp::RtpHeader;

/// Digits kept between two `take`s (the media thread takes them every
/// 100 ms; a person presses a few per second).
pub const HEARD_MAX: usize = 32;

/// The event an RFC 4733 stream is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Current {
    ssrc: u32,
    timestamp: u32,
    event: u8,
    /// The longest duration seen, and whether an end packet came.
    duration: u16,
    ended: bool,
}

/// The digits from one leg.
#[derive(Clone, Debug, Default)]
pub struct HeardDigits {
    /// The telephone-event payload type the leg sends, if it does RFC 4733.
    events_pt: Option<u8>,
    current: Option<Current>,
    pending: [u8; HEARD_MAX],
    len: usize,
    /// Digits lost because `pending` was full (not taken in time).
    dropped: u32,
}

impl HeardDigits {
    /// The leg's telephone-event payload type from its latest offer or
    /// answer (None: it sends no RFC 4733 events).
    pub fn set_events_pt(&mut self, pt: Option<u8>) {
        self.events_pt = pt;
    }

    /// Looks at an RTP packet from the leg (header `h`, the packet in
    /// `packet`): a telephone-event that starts a new event is noticed.
    pub fn on_packet(&mut self, h: &RtpHeader, packet: &[u8]) {
        if self.events_pt != Some(h.payload_type) {
            return;
        }
        // Packed events (§2.5.1.5) start with the oldest: its block is
        // the one the packet's timestamp belongs to.
        let block = packet
            .get(h.payload_start..h.payload_end.min(h.payload_start + 4))
            .unwrap_or(&[]);
        let Ok(ev) = TelephoneEvent::decode(block) else {
            return;
        };
        let new = match self.current {
            None => true,
            Some(c) if c.ssrc != h.ssrc => true,
            Some(c) => {
                let later = h.timestamp.wrapping_sub(c.timestamp);
                if later == 0 || later >= 0x8000_0000 {
                    // The event under way, or a late packet of an earlier one.
                    if later == 0 {
                        self.update(ev);
                    }
                    return;
                }
                let next_segment = c.event == ev.event && !c.ended && c.duration == u16::MAX;
                !next_segment
            }
        };
        let fresh = Current {
            ssrc: h.ssrc,
            timestamp: h.timestamp,
            event: ev.event,
            duration: ev.duration,
            ended: ev.end,
        };
        self.current = Some(fresh);
        if new {
            if let Some(d) = Digit::from_event_code(ev.event) {
                self.push(d);
            }
        }
    }

    fn update(&mut self, ev: TelephoneEvent) {
        if let Some(c) = self.current.as_mut() {
            c.duration = c.duration.max(ev.duration);
            c.ended |= ev.end;
        }
    }

    /// A digit noticed some other way (the in-band detector confirmed it).
    pub fn push(&mut self, d: Digit) {
        match self.pending.get_mut(self.len) {
            Some(slot) => {
                *slot = d.symbol() as u8;
                self.len += 1;
            }
            None => self.dropped += 1,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digits noticed since the last call, in order, as keypad symbols
    /// (0-9, *, #, A-D); empty when none.
    pub fn take(&mut self) -> String {
        let out = self.pending[..self.len]
            .iter()
            .map(|b| char::from(*b))
            .collect();
        self.len = 0;
        out
    }

    /// Digits lost because too many came between two `take`s.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::write_header;

    /// An RFC 4733 packet: `event` at `timestamp`, `duration` so far,
    /// end bit `end`, sequence `seq`, SSRC `ssrc`, payload type `pt`.
    fn event(pt: u8, ssrc: u32, seq: u16, timestamp: u32, ev: (u8, u16, bool)) -> Vec<u8> {
        let mut p = vec![0u8; 16];
        write_header(&mut p, false, pt, seq, timestamp, ssrc);
        let block = TelephoneEvent {
            event: ev.0,
            end: ev.2,
            reserved: false,
            volume: 10,
            duration: ev.1,
        }
        .encode()
        .unwrap();
        p[12..].copy_from_slice(&block);
        p
    }

    fn feed(h: &mut HeardDigits, p: &[u8]) {
        let header = RtpHeader::parse(p).unwrap();
        h.on_packet(&header, p);
    }

    /// The packets of one digit as a sender makes them: updates every
    /// 20 ms, then the end packet three times (§2.5.1.4).
    fn digit_packets(code: u8, seq: u16, ts: u32) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = (0..5u16)
            .map(|i| event(101, 7, seq + i, ts, (code, 160 * (i + 1), false)))
            .collect();
        for _ in 0..3 {
            out.push(event(101, 7, seq + 5, ts, (code, 960, true)));
        }
        out
    }

    #[test]
    fn one_digit_per_event_not_per_packet_or_end_retransmission() {
        let mut h = HeardDigits::default();
        h.set_events_pt(Some(101));
        for (i, code) in [1u8, 11, 11, 10].into_iter().enumerate() {
            let i = i as u16;
            for p in digit_packets(code, 100 + 10 * i, 8000 * u32::from(i)) {
                feed(&mut h, &p);
            }
        }
        // A retransmitted end packet of the first digit, late.
        feed(&mut h, &event(101, 7, 105, 0, (1, 960, true)));
        assert_eq!(h.take(), "1##*", "the same key twice is two events");
        assert!(h.is_empty());
        assert_eq!(h.take(), "");
    }

    #[test]
    fn other_payload_types_and_non_digits_are_not_digits() {
        let mut h = HeardDigits::default();
        feed(&mut h, &event(101, 7, 1, 0, (5, 160, false)));
        assert_eq!(h.take(), "", "no telephone-event type: audio only");
        h.set_events_pt(Some(96));
        feed(&mut h, &event(101, 7, 2, 160, (5, 160, false)));
        feed(&mut h, &event(96, 7, 3, 320, (16, 160, false)));
        let mut short = event(96, 7, 4, 480, (6, 160, false));
        short.truncate(14);
        feed(&mut h, &short);
        assert_eq!(h.take(), "", "flash (16) and a cut payload are no digits");
        feed(&mut h, &event(96, 7, 5, 640, (6, 160, false)));
        assert_eq!(h.take(), "6");
    }

    #[test]
    fn a_new_stream_starts_over_and_a_long_events_segments_are_one_digit() {
        let mut h = HeardDigits::default();
        h.set_events_pt(Some(101));
        // §2.5.1.3: the first segment reaches 0xFFFF without the E bit,
        // the next one goes on at a new timestamp.
        feed(&mut h, &event(101, 7, 1, 1000, (0, 0xFFFF, false)));
        feed(&mut h, &event(101, 7, 2, 1000 + 0xFFFF, (0, 800, false)));
        feed(&mut h, &event(101, 7, 3, 1000 + 0xFFFF, (0, 960, true)));
        assert_eq!(h.take(), "0");
        // A new SSRC whose timestamps start lower: still a new event.
        feed(&mut h, &event(101, 8, 1, 5, (3, 160, false)));
        // Timestamps wrap around 2^32.
        feed(&mut h, &event(101, 8, 2, u32::MAX - 10, (4, 160, true)));
        assert_eq!(h.take(), "3", "an older timestamp is a late packet");
        feed(&mut h, &event(101, 8, 3, 5 + 1600, (4, 160, true)));
        feed(&mut h, &event(101, 9, 1, u32::MAX - 10, (7, 160, true)));
        feed(&mut h, &event(101, 9, 2, 100, (8, 160, true)));
        assert_eq!(h.take(), "478", "past the wrap is later");
    }

    #[test]
    fn too_many_between_takes_are_counted_not_kept() {
        let mut h = HeardDigits::default();
        for _ in 0..HEARD_MAX + 3 {
            h.push(Digit::D9);
        }
        assert_eq!(h.take().len(), HEARD_MAX);
        assert_eq!(h.dropped(), 3);
    }
}
