//! Timing of the RFC 4733 events made from in-band tones, stepped packet
//! by packet: keyed digits (40, 50 and 100 ms, 40 ms pauses) at realistic
//! levels and at random offsets to the 20 ms packet grid go through the
//! converter as the relay drives it, and the events that leave are read
//! back from the wire bytes: each as long as its tone (±10 ms), three end
//! packets with one timestamp and duration, all out before the next
//! event's first packet, no update longer than the final duration, one
//! stream of sequence numbers.

use super::convert::{AudioFormat, DetectPath, DtmfConverter, DtmfPath};
use super::convert_tests::{assert_contiguous, audio_packet, run, Out, PCMA, PCMU};
use super::rfc4733::TelephoneEvent;
use super::{Digit, ToneGenerator};

/// Telephone-event payload type the receiving leg negotiated.
const EVENTS_OUT: u8 = 101;
/// ±10 ms at 8 kHz: how far a final duration may be from the tone.
const DURATION_TOLERANCE: i64 = 80;
/// How far an event's timestamp may be from the tone's onset (5 ms).
const ONSET_TOLERANCE: i64 = 40;
/// First sequence number and timestamp: both wrap during a run.
const SEQ0: u16 = 65_500;
const TS0: u32 = u32::MAX - 4_000;

/// One keyed tone: where it starts (samples from the stream's start) and
/// how long it is.
#[derive(Clone, Copy, Debug)]
struct Tone {
    digit: Digit,
    onset: u64,
    samples: u64,
}

/// A line's audio: `lead` samples of quiet, then each digit (`ms`) at
/// `low`/`high` dBm0 per tone followed by a 40 ms pause, then 300 ms of
/// quiet; white noise of RMS `noise` (fixed seed) over all of it.
fn keyed(
    digits: &[(Digit, u64)],
    lead: u64,
    low: f64,
    high: f64,
    noise: f64,
    seed: u64,
) -> (Vec<i16>, Vec<Tone>) {
    let mut pcm = vec![0i16; lead as usize];
    let mut tones = Vec::new();
    for &(digit, ms) in digits {
        let (lo_hz, hi_hz) = digit.frequencies();
        let samples = ms * 8;
        tones.push(Tone {
            digit,
            onset: pcm.len() as u64,
            samples,
        });
        ToneGenerator::dual(f64::from(lo_hz), low, f64::from(hi_hz), high, samples)
            .render_into(&mut pcm);
        pcm.resize(pcm.len() + 40 * 8, 0);
    }
    pcm.resize(pcm.len() + 300 * 8, 0);
    let mut rng = fastrand::Rng::with_seed(seed);
    for s in &mut pcm {
        // Sum of 12 uniforms: near-Gaussian, unit variance.
        let g: f64 = (0..12).map(|_| rng.f64()).sum::<f64>() - 6.0;
        *s = (f64::from(*s) + g * noise).round().clamp(-32768.0, 32767.0) as i16;
    }
    (pcm, tones)
}

/// The audio in 20 ms packets through a converter that detects digits in
/// `fmt` and sends them as events (audio replaced, or kept for `both`).
fn convert(pcm: &[i16], fmt: AudioFormat, keep_audio: bool) -> Vec<Out> {
    let mut c = DtmfConverter::new(DtmfPath {
        render: None,
        detect: Some(DetectPath {
            audio_in: fmt,
            events_out: EVENTS_OUT,
            keep_audio,
        }),
    });
    pcm.chunks(160)
        .enumerate()
        .flat_map(|(i, frame)| {
            let seq = SEQ0.wrapping_add(i as u16);
            let ts = TS0.wrapping_add(160 * i as u32);
            run(&mut c, &audio_packet(seq, ts, fmt, frame))
        })
        .collect()
}

/// The packets of one event as they left, in order.
#[derive(Debug)]
struct Event {
    timestamp: u32,
    packets: Vec<(bool, TelephoneEvent)>,
}

/// Event packets grouped by event (timestamp); fails if an event's
/// packets are interleaved with another's or come back after it.
fn events(out: &[Out]) -> Vec<Event> {
    let mut events: Vec<Event> = Vec::new();
    for o in out.iter().filter(|o| o.h.payload_type == EVENTS_OUT) {
        let ev = TelephoneEvent::decode(o.payload()).expect("one event block");
        match events.last_mut() {
            Some(e) if e.timestamp == o.h.timestamp => e.packets.push((o.h.marker, ev)),
            _ => {
                assert!(
                    events.iter().all(|e| e.timestamp != o.h.timestamp),
                    "a packet of the event at {} after the next event began: {events:?}",
                    o.h.timestamp
                );
                events.push(Event {
                    timestamp: o.h.timestamp,
                    packets: vec![(o.h.marker, ev)],
                });
            }
        }
    }
    events
}

/// Every property the issue asks of the events made from `tones`; returns
/// each event's final duration minus its tone's length, in samples.
fn check(out: &[Out], tones: &[Tone], what: &str) -> Vec<i64> {
    assert_contiguous(out);
    let events = events(out);
    assert_eq!(
        events.len(),
        tones.len(),
        "{what}: one event per tone: {events:?}"
    );
    let mut errors = Vec::new();
    for (e, t) in events.iter().zip(tones) {
        let what = format!("{what}, {:?} at {}", t.digit, t.onset);
        let p = &e.packets;
        assert!(
            p.iter().all(|(_, b)| b.event == t.digit.event_code()),
            "{what}: {p:?}"
        );
        assert!(p[0].0, "{what}: the first packet has the marker");
        assert!(p[1..].iter().all(|(m, _)| !m), "{what}: one marker: {p:?}");
        // RFC 4733 §2.5.1.4: the final packet three times, nothing after.
        assert!(p.len() >= 3, "{what}: {p:?}");
        let (updates, ends) = p.split_at(p.len() - 3);
        assert!(
            ends.iter()
                .all(|(_, b)| b.end && b.duration == ends[0].1.duration),
            "{what}: three identical end packets last: {p:?}"
        );
        assert!(updates.iter().all(|(_, b)| !b.end), "{what}: {p:?}");
        let last = i64::from(ends[0].1.duration);
        assert!(
            p.windows(2).all(|w| w[0].1.duration <= w[1].1.duration),
            "{what}: durations never shrink: {p:?}"
        );
        assert!(
            updates.iter().all(|(_, b)| i64::from(b.duration) <= last),
            "{what}: no update beyond the final duration: {p:?}"
        );
        let error = last - t.samples as i64;
        assert!(
            error.abs() <= DURATION_TOLERANCE,
            "{what}: final duration {last} for a tone of {} samples",
            t.samples
        );
        let onset = i64::from(e.timestamp.wrapping_sub(TS0.wrapping_add(t.onset as u32)) as i32);
        assert!(
            onset.abs() <= ONSET_TOLERANCE,
            "{what}: event timestamp {onset} samples from the tone's onset"
        );
        errors.push(error);
    }
    errors
}

const MODES: [(AudioFormat, bool, &str); 4] = [
    (PCMU, false, "PCMU, audio replaced"),
    (PCMA, false, "PCMA, audio replaced"),
    (PCMU, true, "PCMU, audio kept"),
    (PCMA, true, "PCMA, audio kept"),
];

#[test]
fn digits_of_40_50_and_100_ms_with_40_ms_pauses_are_events_as_long_as_the_tones() {
    let mut worst = (0i64, 0i64);
    for seed in 0..24u64 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut lengths = [40u64, 50, 100];
        rng.shuffle(&mut lengths);
        let digits: Vec<(Digit, u64)> = lengths
            .iter()
            .map(|&ms| (Digit::ALL[rng.usize(..Digit::ALL.len())], ms))
            .collect();
        // Anywhere on the 20 ms grid; a keypad's pair between −4 and
        // −20 dBm0 per tone, the high tone up to 3 dB stronger (Q.23
        // keypads tilt towards it), over a quiet line (−60 dBm0).
        let lead = 400 + rng.u64(..160);
        let low = -4.0 - 16.0 * rng.f64();
        let high = low + 3.0 * rng.f64();
        let (pcm, tones) = keyed(&digits, lead, low, high, 20.0, seed);
        for (fmt, keep, mode) in MODES {
            let what = format!("seed {seed}, {mode}, lead {lead}, {low:.1}/{high:.1} dBm0");
            for e in check(&convert(&pcm, fmt, keep), &tones, &what) {
                worst = (worst.0.min(e), worst.1.max(e));
            }
        }
    }
    println!("final duration − tone length: {worst:?} samples");
}

#[test]
fn a_run_of_digits_keyed_back_to_back_gets_every_end_in_before_the_next_digit() {
    let run_of = |s: &str| -> Vec<(Digit, u64)> {
        s.chars()
            .map(|c| (Digit::from_symbol(c).expect("digit"), 40))
            .collect()
    };
    // Sixteen different digits, then the same digit four times (a 40 ms
    // pause separates equal digits too), at the shortest Q.24 timing.
    for digits in [run_of("0123456789*#ABCD"), run_of("5555")] {
        for lead in (0..160).step_by(20) {
            let (pcm, tones) = keyed(&digits, 320 + lead, -10.0, -8.0, 20.0, lead);
            for (fmt, keep, mode) in MODES {
                let out = convert(&pcm, fmt, keep);
                check(&out, &tones, &format!("{mode}, lead {lead}"));
            }
        }
    }
}
