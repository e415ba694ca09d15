//! Turning received telephone-event packets into one start and one end per
//! digit (RFC 4733 §2.5.2), whatever the network did to them.
//!
//! An event is identified by its RTP timestamp, not by the marker bit:
//! the marked first packet may be lost, and any packet of a new timestamp
//! starts the digit. The end is reported on the first packet with the E
//! bit; its two retransmissions and any late update for that timestamp are
//! dropped. If all end packets are lost, the next event (or a call to
//! `finish`) ends the digit with the last duration seen. A segment of a
//! long event (§2.5.1.3: same event, timestamp advanced by the previous
//! segment's duration, no marker) continues the digit rather than
//! starting a new one. Packets whose timestamp is a little older than the
//! current event's, or whose sequence number is a little older than the
//! newest seen, were reordered behind later ones and are dropped.

use super::{Rfc4733Error, TelephoneEvent};
use crate::media::dtmf::digit::Digit;

/// A digit as received: once at its start (`duration: None`), once at its
/// end with the total duration in timestamp units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceivedDigit {
    pub digit: Digit,
    /// RTP timestamp of the digit's start (of its first segment).
    pub timestamp: u32,
    pub duration: Option<u64>,
}

// How far behind the newest packet a packet may be and still be taken for
// a straggler. Further back it is more likely a restarted stream (new
// sequence and timestamp bases), which must not leave the receiver deaf.
const MAX_REORDER_PACKETS: u16 = 100;
const MAX_REORDER_TIMESTAMP: i32 = 4 * 0xFFFF;

#[derive(Clone, Copy, Debug)]
struct Current {
    digit: Digit,
    start_ts: u32,
    seg_ts: u32,
    // Durations of the segments before the current one.
    before: u64,
    seg_duration: u16,
    ended: bool,
}

#[derive(Clone, Debug, Default)]
pub struct EventReceiver {
    current: Option<Current>,
    last_seq: Option<u16>,
}

impl EventReceiver {
    pub fn new() -> EventReceiver {
        EventReceiver::default()
    }

    /// One received packet of the telephone-event payload type. Events
    /// that are not DTMF digits (flash, tones) are ignored here.
    pub fn receive(
        &mut self,
        marker: bool,
        seq: u16,
        timestamp: u32,
        payload: &[u8],
        out: &mut impl FnMut(ReceivedDigit),
    ) -> Result<(), Rfc4733Error> {
        let blocks = TelephoneEvent::decode_all(payload)?;
        if let Some(last) = self.last_seq {
            if (1..=MAX_REORDER_PACKETS).contains(&last.wrapping_sub(seq)) {
                return Ok(());
            }
        }
        self.last_seq = Some(seq);
        // Packed events (§2.5.1.5) follow each other without a gap: each
        // starts where the previous one's duration ends.
        let mut ts = timestamp;
        for (i, ev) in blocks.enumerate() {
            self.block(marker && i == 0, ts, ev, out);
            ts = ts.wrapping_add(u32::from(ev.duration));
        }
        Ok(())
    }

    /// Ends a digit whose end packets never came (e.g. the stream stopped).
    pub fn finish(&mut self, out: &mut impl FnMut(ReceivedDigit)) {
        if let Some(c) = &mut self.current {
            if !c.ended {
                c.ended = true;
                out(end_of(c));
            }
        }
    }

    fn block(
        &mut self,
        marker: bool,
        ts: u32,
        ev: TelephoneEvent,
        out: &mut impl FnMut(ReceivedDigit),
    ) {
        let Some(digit) = Digit::from_event_code(ev.event) else {
            return;
        };
        if let Some(c) = &mut self.current {
            let ahead = ts.wrapping_sub(c.seg_ts) as i32;
            if (-MAX_REORDER_TIMESTAMP..0).contains(&ahead) {
                return;
            }
            if ahead == 0 && c.digit == digit {
                if !c.ended {
                    c.seg_duration = c.seg_duration.max(ev.duration);
                    if ev.end {
                        c.ended = true;
                        out(end_of(c));
                    }
                }
                return;
            }
            let continues = !marker
                && !c.ended
                && c.digit == digit
                && (ahead == i32::from(c.seg_duration) || ahead == 0xFFFF);
            if continues {
                c.before += ahead as u64;
                c.seg_ts = ts;
                c.seg_duration = ev.duration;
                if ev.end {
                    c.ended = true;
                    out(end_of(c));
                }
                return;
            }
        }
        self.finish(out);
        let c = Current {
            digit,
            start_ts: ts,
            seg_ts: ts,
            before: 0,
            seg_duration: ev.duration,
            ended: ev.end,
        };
        out(ReceivedDigit {
            digit,
            timestamp: ts,
            duration: None,
        });
        if c.ended {
            out(end_of(&c));
        }
        self.current = Some(c);
    }
}

fn end_of(c: &Current) -> ReceivedDigit {
    ReceivedDigit {
        digit: c.digit,
        timestamp: c.start_ts,
        duration: Some(c.before + u64::from(c.seg_duration)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::EventSender;
    use super::*;

    /// Packets of a digit from the sender: (marker, ts, payload bytes).
    fn sent(event: u8, start: u32, len: u32) -> Vec<(bool, u32, [u8; 4])> {
        let mut s = EventSender::new(event, 10, start, 160);
        let mut out = Vec::new();
        let mut t = 0u32;
        while !s.is_done() {
            t += 160;
            if t >= len {
                s.stop(start.wrapping_add(len));
            }
            if let Some(p) = s.poll(start.wrapping_add(t)) {
                out.push((p.marker, p.timestamp, p.payload.encode().expect("encode")));
            }
        }
        out
    }

    fn feed(r: &mut EventReceiver, pkts: &[(bool, u32, [u8; 4])], seq0: u16) -> Vec<ReceivedDigit> {
        let mut got = Vec::new();
        for (i, (m, ts, p)) in pkts.iter().enumerate() {
            let seq = seq0.wrapping_add(i as u16);
            r.receive(*m, seq, *ts, p, &mut |d| got.push(d))
                .expect("valid");
        }
        got
    }

    fn start(digit: Digit, timestamp: u32) -> ReceivedDigit {
        ReceivedDigit {
            digit,
            timestamp,
            duration: None,
        }
    }

    fn end(digit: Digit, timestamp: u32, d: u64) -> ReceivedDigit {
        ReceivedDigit {
            digit,
            timestamp,
            duration: Some(d),
        }
    }

    /// A whole digit as the receiver reports it: its start, then its end.
    fn digit(digit: Digit, timestamp: u32, d: u64) -> [ReceivedDigit; 2] {
        [start(digit, timestamp), end(digit, timestamp, d)]
    }

    #[test]
    fn one_start_one_end_despite_three_end_packets() {
        let mut r = EventReceiver::new();
        let got = feed(&mut r, &sent(9, 5000, 880), 65530);
        assert_eq!(got, digit(Digit::D9, 5000, 880));
    }

    #[test]
    fn duplicated_packets_change_nothing() {
        let pkts = sent(4, 0, 400);
        let doubled: Vec<_> = pkts.iter().flat_map(|p| [*p, *p]).collect();
        let mut r = EventReceiver::new();
        // Network duplicates carry the same sequence number.
        let mut got = Vec::new();
        for (i, (m, ts, p)) in doubled.iter().enumerate() {
            r.receive(*m, (i / 2) as u16, *ts, p, &mut |d| got.push(d))
                .expect("valid");
        }
        assert_eq!(got, digit(Digit::D4, 0, 400));
    }

    #[test]
    fn lost_first_packets() {
        let pkts = sent(12, 100, 800);
        let mut r = EventReceiver::new();
        let got = feed(&mut r, &pkts[2..], 0);
        assert_eq!(got, digit(Digit::A, 100, 800));
        // Only an end packet survives: start and end at once.
        let mut r = EventReceiver::new();
        let got = feed(&mut r, &pkts[pkts.len() - 1..], 0);
        assert_eq!(got, digit(Digit::A, 100, 800));
    }

    #[test]
    fn lost_end_packets_end_at_the_next_digit() {
        let mut first = sent(1, 0, 640);
        first.retain(|(_, _, p)| p[1] & 0x80 == 0);
        let second = sent(2, 2000, 480);
        let mut r = EventReceiver::new();
        let mut got = feed(&mut r, &first, 10);
        got.extend(feed(&mut r, &second, 10 + first.len() as u16));
        assert_eq!(
            got,
            [digit(Digit::D1, 0, 480), digit(Digit::D2, 2000, 480)].concat()
        );
        let mut r = EventReceiver::new();
        let mut got = feed(&mut r, &first, 0);
        r.finish(&mut |d| got.push(d));
        r.finish(&mut |d| got.push(d));
        assert_eq!(got, digit(Digit::D1, 0, 480));
    }

    #[test]
    fn the_same_digit_twice() {
        let mut pkts = sent(5, 0, 480);
        pkts.extend(sent(5, 1200, 480));
        let mut r = EventReceiver::new();
        let got = feed(&mut r, &pkts, 0);
        assert_eq!(
            got,
            [digit(Digit::D5, 0, 480), digit(Digit::D5, 1200, 480)].concat()
        );
    }

    #[test]
    fn reordered_stragglers_are_dropped() {
        let a = sent(7, 0, 480);
        let b = sent(8, 1000, 480);
        let mut r = EventReceiver::new();
        let mut got = feed(&mut r, &a[..2], 0);
        got.extend(feed(&mut r, &b[..1], 10));
        // An update of the first digit arriving after the second started:
        // older timestamp, and an older sequence number.
        got.extend(feed(&mut r, &a[2..3], 2));
        let mut late = Vec::new();
        r.receive(false, 11, a[2].1, &a[2].2, &mut |d| late.push(d))
            .expect("valid");
        assert!(late.is_empty());
        assert_eq!(
            got,
            [
                start(Digit::D7, 0),
                end(Digit::D7, 0, 320),
                start(Digit::D8, 1000)
            ]
        );
    }

    #[test]
    fn a_restarted_stream_is_heard() {
        let mut r = EventReceiver::new();
        let mut got = feed(&mut r, &sent(1, 3_000_000_000, 320), 40_000);
        // New sequence and timestamp bases, both far "behind" the old ones.
        got.extend(feed(&mut r, &sent(2, 1_000, 320), 7));
        assert_eq!(
            got,
            [
                digit(Digit::D1, 3_000_000_000, 320),
                digit(Digit::D2, 1_000, 320)
            ]
            .concat()
        );
    }

    #[test]
    fn a_segmented_long_digit_is_one_digit() {
        let start_ts = u32::MAX - 500;
        let pkts = sent(0, start_ts, 150_000);
        let mut r = EventReceiver::new();
        let got = feed(&mut r, &pkts, 0);
        assert_eq!(got, digit(Digit::D0, start_ts, 150_000));
        // Even if every 0xFFFF packet of the first segment is lost.
        let lossy: Vec<_> = pkts
            .iter()
            .filter(|(_, ts, p)| !(*ts == start_ts && p[2..] == [0xff, 0xff]))
            .copied()
            .collect();
        let mut r = EventReceiver::new();
        let got = feed(&mut r, &lossy, 0);
        assert_eq!(got, digit(Digit::D0, start_ts, 150_000));
    }

    #[test]
    fn packed_events_and_other_events() {
        let mut r = EventReceiver::new();
        let mut got = Vec::new();
        // '3' for 400 then '#' for 160 so far, in one packet.
        let payload = [3u8, 0x8a, 0x01, 0x90, 11, 0x0a, 0x00, 0xa0];
        r.receive(true, 1, 8000, &payload, &mut |d| got.push(d))
            .expect("valid");
        // Flash (16) is not a digit.
        r.receive(true, 2, 9000, &[16, 0x80, 0, 160], &mut |d| got.push(d))
            .expect("valid");
        assert_eq!(
            got,
            [
                start(Digit::D3, 8000),
                end(Digit::D3, 8000, 400),
                start(Digit::Hash, 8400),
            ]
        );
        assert_eq!(
            r.receive(false, 3, 0, &[1, 2, 3], &mut |_| {}),
            Err(Rfc4733Error::Length(3))
        );
    }
}
