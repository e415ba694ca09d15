//! Sending one event as a sequence of RTP packets (RFC 4733 §2.5.1).
//!
//! Sans-IO: the caller feeds its media clock as RTP timestamps and writes
//! the RTP header itself (sequence number, SSRC, payload type); this only
//! says when a packet is due and what it carries:
//!
//! * every packet of the event carries the event's start timestamp; the
//!   first one has the marker bit;
//! * one update per packetisation interval, the duration growing from
//!   the start (the first goes out one interval after the start, in step
//!   with the audio frames it replaces);
//! * the final packet (E bit) goes out as soon as the end is known and is
//!   sent three times in all, one interval apart, with the same duration
//!   (§2.5.1.4), so that losing one does not lose the end;
//! * past 0xFFFF samples (8.2 s at 8 kHz) the event is cut into segments
//!   (§2.5.1.3): the segment's last packet reports 0xFFFF without the E
//!   bit, also three times, and the next segment carries the timestamp
//!   where the previous one ended, without the marker bit;
//! * an event whose end is only known some time after it happened (an
//!   in-band tone, confirmed over by a detector) is told how far it is
//!   known to last (`heard_until`) and no update reports more, so the
//!   final duration is the largest the receiver sees;
//! * when the next event must start before the final copies are out,
//!   `hurry` makes them all due at once rather than lose them.

use super::{TelephoneEvent, MAX_VOLUME};

/// Longest duration a segment can report.
const MAX_SEGMENT: u64 = 0xFFFF;
/// Transmissions of each final packet.
const FINAL_COPIES: u8 = 3;

/// What to put in one RTP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventPacket {
    pub marker: bool,
    pub timestamp: u32,
    pub payload: TelephoneEvent,
}

#[derive(Clone, Debug)]
pub struct EventSender {
    event: u8,
    volume: u8,
    interval: u64,
    start_ts: u32,
    last_now: u32,
    // Samples since the start, accumulated from timestamp differences so
    // that neither the 32-bit wrap nor the 16-bit duration limits it.
    elapsed: u64,
    seg_start: u64,
    next_due: u64,
    reported: u64,
    sent_any: bool,
    end: Option<u64>,
    // Elapsed samples the event is known to last so far, when its end is
    // confirmed late; updates report no more.
    heard: Option<u64>,
    hurry: bool,
    repeat: Option<(EventPacket, u8)>,
    done: bool,
}

impl EventSender {
    /// An event (`Digit::event_code()` for DTMF) starting at RTP timestamp
    /// `start_ts`, reported every `interval` timestamp units (160 for
    /// 20 ms at 8 kHz; 0 is taken as 1). `volume` is −dBm0, capped at 63.
    pub fn new(event: u8, volume: u8, start_ts: u32, interval: u32) -> EventSender {
        let interval = u64::from(interval.max(1));
        EventSender {
            event,
            volume: volume.min(MAX_VOLUME),
            interval,
            start_ts,
            last_now: start_ts,
            elapsed: 0,
            seg_start: 0,
            next_due: interval,
            reported: 0,
            sent_any: false,
            end: None,
            heard: None,
            hurry: false,
            repeat: None,
            done: false,
        }
    }

    /// The event is known to last at least until `ts`, and its end may lie
    /// anywhere after. From the first call, updates report no more than the
    /// latest such point: a receiver keeps the largest duration it sees, so
    /// an update running ahead of a late-confirmed end would make the
    /// event longer than the final packet says.
    pub fn heard_until(&mut self, ts: u32) {
        let at = self.elapsed_at(ts);
        self.heard = Some(self.heard.map_or(at, |h| h.max(at)));
    }

    /// The next event is about to start (call after `stop`): every packet
    /// still owed (the final one and its copies, RFC 4733 §2.5.1.4) is
    /// due at once, so they all go out before the next event's first
    /// packet instead of an interval apart.
    pub fn hurry(&mut self) {
        self.hurry = true;
    }

    /// The event ended at `end_ts`. Only the first call counts. An end
    /// before what was already reported is taken as that report, since a
    /// duration must never shrink.
    pub fn stop(&mut self, end_ts: u32) {
        if self.end.is_some() {
            return;
        }
        self.end = Some(self.elapsed_at(end_ts).max(self.reported));
    }

    /// `ts` as samples since the start, on the clock `poll` last saw.
    fn elapsed_at(&self, ts: u32) -> u64 {
        let back = i64::from(ts.wrapping_sub(self.last_now) as i32);
        u64::try_from(self.elapsed as i64 + back).unwrap_or(0)
    }

    /// True once the last copy of the final packet has been handed out.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The packet due at `now_ts`, if any. Call it at least once per
    /// interval (e.g. on every outgoing audio frame); a late call sends
    /// one packet with the current duration, not the missed backlog.
    pub fn poll(&mut self, now_ts: u32) -> Option<EventPacket> {
        let delta = now_ts.wrapping_sub(self.last_now);
        if (delta as i32) > 0 {
            self.elapsed += u64::from(delta);
            self.last_now = now_ts;
        }
        if self.done {
            return None;
        }
        let due = self.hurry || self.elapsed >= self.next_due;
        if let Some((pkt, left)) = self.repeat {
            if !due {
                return None;
            }
            if left > 1 {
                self.repeat = Some((pkt, left - 1));
            } else {
                self.repeat = None;
                if pkt.payload.end {
                    self.done = true;
                } else {
                    self.seg_start += MAX_SEGMENT;
                }
            }
            self.schedule();
            return Some(EventPacket {
                marker: false,
                ..pkt
            });
        }
        let seg_ts = self.start_ts.wrapping_add(self.seg_start as u32);
        if let Some(end) = self.end {
            let d = end.saturating_sub(self.seg_start);
            if d <= MAX_SEGMENT && (self.elapsed >= end || self.hurry) {
                return Some(self.final_packet(seg_ts, d, true));
            }
        }
        if !due {
            return None;
        }
        let known = self.heard.map_or(self.elapsed, |h| h.min(self.elapsed));
        let now = self.end.map_or(known, |e| e.min(self.elapsed));
        let d = now.saturating_sub(self.seg_start);
        if d >= MAX_SEGMENT {
            return Some(self.final_packet(seg_ts, MAX_SEGMENT, false));
        }
        self.schedule();
        Some(self.packet(seg_ts, d, false))
    }

    fn final_packet(&mut self, ts: u32, duration: u64, end: bool) -> EventPacket {
        let pkt = self.packet(ts, duration, end);
        self.repeat = Some((pkt, FINAL_COPIES - 1));
        self.schedule();
        pkt
    }

    fn packet(&mut self, timestamp: u32, duration: u64, end: bool) -> EventPacket {
        let marker = !self.sent_any;
        self.sent_any = true;
        self.reported = self.seg_start + duration;
        EventPacket {
            marker,
            timestamp,
            payload: TelephoneEvent {
                event: self.event,
                end,
                reserved: false,
                volume: self.volume,
                duration: u16::try_from(duration).unwrap_or(u16::MAX),
            },
        }
    }

    // Updates stay on the event's own interval grid however late a poll
    // comes, so the receiver sees regular durations.
    fn schedule(&mut self) {
        self.next_due = (self.elapsed / self.interval + 1) * self.interval;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls every `step` from `start` (exclusive) while not done, stopping
    /// the event at `stop_at` samples; returns (elapsed, packet) pairs.
    fn drive(s: &mut EventSender, start: u32, step: u32, stop_at: u32) -> Vec<(u32, EventPacket)> {
        let mut out = Vec::new();
        let mut t = 0u32;
        while !s.is_done() && t < 1_000_000 {
            t += step;
            if t >= stop_at {
                s.stop(start.wrapping_add(stop_at));
            }
            if let Some(p) = s.poll(start.wrapping_add(t)) {
                out.push((t, p));
            }
        }
        out
    }

    fn summary(p: &[(u32, EventPacket)]) -> Vec<(bool, u32, bool, u16)> {
        p.iter()
            .map(|(_, p)| (p.marker, p.timestamp, p.payload.end, p.payload.duration))
            .collect()
    }

    #[test]
    fn digit_of_110_ms() {
        let mut s = EventSender::new(5, 10, 1000, 160);
        let p = drive(&mut s, 1000, 160, 880);
        assert_eq!(
            summary(&p),
            [
                (true, 1000, false, 160),
                (false, 1000, false, 320),
                (false, 1000, false, 480),
                (false, 1000, false, 640),
                (false, 1000, false, 800),
                (false, 1000, true, 880),
                (false, 1000, true, 880),
                (false, 1000, true, 880),
            ]
        );
        assert!(p
            .iter()
            .all(|(_, p)| p.payload.event == 5 && p.payload.volume == 10));
        // The three end packets go out one interval apart.
        let times: Vec<u32> = p.iter().map(|(t, _)| *t).collect();
        assert_eq!(&times[5..], [960, 1120, 1280]);
        assert_eq!(s.poll(99_999), None);
    }

    #[test]
    fn event_shorter_than_an_interval() {
        let mut s = EventSender::new(11, 63, 7, 160);
        s.stop(7 + 100);
        let first = s.poll(7 + 100).expect("end packet");
        assert!(first.marker && first.payload.end && first.payload.duration == 100);
        assert_eq!(s.poll(7 + 150), None);
        let second = s.poll(7 + 160).expect("copy");
        assert!(!second.marker && second.payload.end && second.payload.duration == 100);
        assert!(s.poll(7 + 320).is_some());
        assert!(s.is_done());
    }

    #[test]
    fn late_polls_send_the_current_duration() {
        let mut s = EventSender::new(1, 0, 0, 160);
        assert_eq!(s.poll(100), None);
        let p = s.poll(530).expect("first");
        assert!(p.marker && p.payload.duration == 530);
        assert_eq!(s.poll(600), None);
        assert_eq!(s.poll(640).map(|p| p.payload.duration), Some(640));
    }

    #[test]
    fn long_events_are_segmented_across_the_timestamp_wrap() {
        let start = u32::MAX - 1000;
        let mut s = EventSender::new(0, 10, start, 160);
        let total = 150_000u32;
        let p = drive(&mut s, start, 160, total);
        let seg2 = start.wrapping_add(0xffff);
        let seg3 = start.wrapping_add(2 * 0xffff);
        // Only the very first packet is marked.
        assert_eq!(p.iter().filter(|(_, p)| p.marker).count(), 1);
        let by_ts = |ts: u32| p.iter().filter(move |(_, p)| p.timestamp == ts);
        for (ts, last) in [(start, 0xffffu16), (seg2, 0xffff)] {
            let durations: Vec<u16> = by_ts(ts).map(|(_, p)| p.payload.duration).collect();
            assert!(durations.windows(2).all(|w| w[0] <= w[1]));
            assert_eq!(durations[durations.len() - 3..], [last; 3]);
            assert!(by_ts(ts).all(|(_, p)| !p.payload.end));
        }
        let ends: Vec<_> = by_ts(seg3).filter(|(_, p)| p.payload.end).collect();
        assert_eq!(ends.len(), 3);
        let want = (u64::from(total) - 2 * 0xffff) as u16;
        assert!(ends.iter().all(|(_, p)| p.payload.duration == want));
        assert_eq!(
            p.len(),
            p.iter()
                .map(|(t, _)| t)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        );
    }

    #[test]
    fn updates_report_only_what_was_heard() {
        // An in-band tone from 0 whose end (at 300) is confirmed at 600:
        // heard up to 100 by 160, 250 by 320, 300 by 480 and after.
        let mut s = EventSender::new(4, 10, 0, 160);
        let mut sent = Vec::new();
        for (now, heard) in [(160u32, 100u32), (320, 250), (480, 300), (640, 300)] {
            s.heard_until(heard);
            if now == 640 {
                s.stop(300);
            }
            sent.extend(s.poll(now));
        }
        let durations: Vec<(bool, u16)> = sent
            .iter()
            .map(|p| (p.payload.end, p.payload.duration))
            .collect();
        assert_eq!(
            durations,
            [(false, 100), (false, 250), (false, 300), (true, 300)]
        );
        // A later, smaller report changes nothing.
        s.heard_until(50);
        assert_eq!(s.poll(800).map(|p| p.payload.duration), Some(300));
    }

    /// Event `event` (volume 10) from timestamp 0, an update every 160:
    /// its first update polled at `first`, then stopped at `stop`.
    fn stopped(event: u8, first: u32, stop: u32) -> EventSender {
        let mut s = EventSender::new(event, 10, 0, 160);
        assert!(s.poll(first).is_some());
        s.stop(stop);
        s
    }

    #[test]
    fn hurried_final_copies_go_out_at_once() {
        let mut s = stopped(2, 160, 200);
        let first = s.poll(320).expect("end");
        assert!(first.payload.end && first.payload.duration == 200);
        assert_eq!(s.poll(330), None, "a copy waits for its interval");
        s.hurry();
        assert_eq!(s.poll(330), Some(first));
        assert_eq!(s.poll(330), Some(first));
        assert!(s.is_done());
        assert_eq!(s.poll(330), None);
        // Hurried before its end went out: all three at once.
        let mut s = stopped(2, 160, 250);
        s.hurry();
        let three: Vec<_> = (0..4).filter_map(|_| s.poll(260)).collect();
        assert_eq!(three.len(), 3);
        assert!(three
            .iter()
            .all(|p| p.payload.end && p.payload.duration == 250 && !p.marker));
    }

    #[test]
    fn stop_never_shrinks_a_reported_duration() {
        let mut s = stopped(3, 480, 300);
        let p = s.poll(500).expect("end");
        assert!(p.payload.end && p.payload.duration == 480);
    }
}
