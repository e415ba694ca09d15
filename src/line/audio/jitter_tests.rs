//! Tests of the jitter buffer, stepping time: streams with reordering,
//! loss, duplicates, bursty jitter, clock jumps, new sources and wraps,
//! played out every 20 ms as a sound card would.

use std::time::{Duration, Instant};

use super::jitter::{Inserted, JitterBuffer, JitterSettings, JitterStats};
use super::{Frame, FRAME_SAMPLES};
use crate::media::g711::Law;

const F: u32 = FRAME_SAMPLES as u32;
const LAW: Law = Law::Ulaw;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The far end's audio, sample `n` of its stream.
#[derive(Clone, Copy)]
enum Signal {
    /// Noise: every stretch is unique, so where the output came from can
    /// be told exactly.
    Noise,
    /// A 100 Hz tone, voice-like for the concealment, its level rising
    /// slowly (so each period is unique).
    Tone,
}

impl Signal {
    fn at(self, n: u32) -> i16 {
        match self {
            Signal::Noise => {
                let x = n.wrapping_mul(2_654_435_761).rotate_left(13) ^ n;
                (x as i16) / 4
            }
            Signal::Tone => {
                let t = f64::from(n) / 8000.0;
                let level = 4000.0 + f64::from(n % 8000) / 4.0;
                (level * (std::f64::consts::TAU * 100.0 * t).sin()) as i16
            }
        }
    }

    /// What playback should give for sample `n`: the signal through G.711.
    fn heard(self, n: u32) -> i16 {
        LAW.decode(LAW.encode(self.at(n)))
    }
}

#[derive(Clone, Copy, Debug)]
struct Packet {
    /// Arrival, from the start.
    at: Duration,
    ssrc: u32,
    seq: u16,
    ts: u32,
    marker: bool,
}

/// Packet `i` of a clean 20 ms stream: sent when its last sample was
/// captured, arriving 5 ms later.
fn clean(i: u32, seq0: u16, ts0: u32) -> Packet {
    Packet {
        at: ms(20) * (i + 1) + ms(5),
        ssrc: 0x5eed,
        seq: seq0.wrapping_add(i as u16),
        ts: ts0.wrapping_add(i * F),
        marker: i == 0,
    }
}

struct Run {
    out: Vec<i16>,
    /// Per frame: (stats after it, read time).
    trace: Vec<JitterStats>,
    verdicts: Vec<Inserted>,
}

/// Plays `frames` frames, the first read at `phase`, inserting every
/// packet due before each read.
fn run(
    jb: &mut JitterBuffer,
    t0: Instant,
    packets: &[Packet],
    signal: Signal,
    frames: u32,
    phase: Duration,
) -> Run {
    let mut packets = packets.to_vec();
    packets.sort_by_key(|p| p.at);
    let mut next = 0;
    let mut r = Run {
        out: Vec::new(),
        trace: Vec::new(),
        verdicts: Vec::new(),
    };
    for k in 0..frames {
        let read = phase + ms(20) * k;
        while next < packets.len() && packets[next].at <= read {
            let p = packets[next];
            let mut payload = [0u8; FRAME_SAMPLES];
            for (i, b) in payload.iter_mut().enumerate() {
                *b = LAW.encode(signal.at(p.ts.wrapping_add(i as u32)));
            }
            r.verdicts
                .push(jb.insert(p.ssrc, p.seq, p.ts, p.marker, &payload, t0 + p.at));
            next += 1;
        }
        let mut frame: Frame = [0; FRAME_SAMPLES];
        jb.playout(t0 + read, &mut frame);
        r.out.extend_from_slice(&frame);
        r.trace.push(jb.stats());
    }
    r
}

fn buffer(now: Instant) -> JitterBuffer {
    JitterBuffer::new(JitterSettings::default(), LAW, now)
}

/// The output sample index where stream sample `ts0 + first` is played,
/// if the output holds it.
fn find(out: &[i16], signal: Signal, ts: u32) -> Option<usize> {
    let want: Vec<i16> = (0..16).map(|i| signal.heard(ts.wrapping_add(i))).collect();
    out.windows(16).position(|w| w == want.as_slice())
}

/// Asserts the output plays stream samples `ts0 + from .. ts0 + to`
/// exactly, one after another; returns where `from` is played.
fn assert_plays(out: &[i16], signal: Signal, ts0: u32, from: u32, to: u32) -> usize {
    let at = find(out, signal, ts0.wrapping_add(from)).expect("stream sample found in output");
    for n in from..to {
        let i = at + (n - from) as usize;
        assert_eq!(
            out[i],
            signal.heard(ts0.wrapping_add(n)),
            "stream sample {n} at output {i}"
        );
    }
    at
}

#[test]
fn a_clean_stream_plays_exactly_after_the_minimum_delay() {
    let t0 = Instant::now();
    let mut jb = buffer(t0);
    let packets: Vec<Packet> = (0..150).map(|i| clean(i, 1000, 80_000)).collect();
    let r = run(&mut jb, t0, &packets, Signal::Noise, 160, ms(7));
    let at = assert_plays(&r.out, Signal::Noise, 80_000, 0, 149 * F);
    // (Concealment starts once the stream stops, at frame 150.)
    let s = r.trace[148];
    assert_eq!((s.lost, s.late, s.concealed, s.duplicate), (0, 0, 0, 0));
    assert_eq!(s.target, ms(20));
    assert_eq!(s.jitter, Duration::ZERO);
    // Packet 0 arrives at 25 ms; the read that starts playing it comes
    // 20 to 40 ms later.
    let read = ms(7) + ms(20) * (at / FRAME_SAMPLES) as u32;
    let wait = read - ms(25);
    assert!(wait >= ms(20) && wait < ms(40), "{wait:?}");
    assert!(r.trace[100].depth <= ms(45), "{:?}", r.trace[100].depth);
}

#[test]
fn reordered_and_duplicated_packets_are_put_back_in_order() {
    let t0 = Instant::now();
    // Room for the reordering from the start: this is about order.
    let settings = JitterSettings {
        min: ms(60),
        max: ms(200),
    };
    let mut jb = JitterBuffer::new(settings, LAW, t0);
    let mut packets: Vec<Packet> = (0..150).map(|i| clean(i, 7, 0)).collect();
    // Every fifth packet 25 ms late (after the next one), every seventh
    // twice.
    for i in (10..140).step_by(5) {
        packets[i].at += ms(25);
    }
    let dups: Vec<Packet> = (10..140)
        .step_by(7)
        .map(|i| Packet {
            at: packets[i].at + ms(1),
            ..packets[i]
        })
        .collect();
    packets.extend(dups.iter().copied());
    let r = run(&mut jb, t0, &packets, Signal::Noise, 160, ms(13));
    assert_plays(&r.out, Signal::Noise, 0, 0, 149 * F);
    let s = r.trace[150];
    assert_eq!(s.duplicate, dups.len() as u64);
    assert_eq!((s.lost, s.late, s.concealed), (0, 0, 0));
    assert_eq!(
        r.verdicts
            .iter()
            .filter(|v| **v == Inserted::Duplicate)
            .count(),
        dups.len()
    );
}

#[test]
fn a_lost_packet_is_concealed_and_the_output_stays_continuous() {
    let t0 = Instant::now();
    let mut jb = buffer(t0);
    let packets: Vec<Packet> = (0..100)
        .filter(|&i| i != 50)
        .map(|i| clean(i, 0, 0))
        .collect();
    let r = run(&mut jb, t0, &packets, Signal::Tone, 100, ms(9));
    let s = r.trace[97];
    assert_eq!(s.lost, 1);
    assert!(s.concealed >= 1 && s.concealed <= 2, "{s:?}");
    // Where packet 50 should have played: not silence, and no step
    // bigger than the tone's own slope allows (6000·2π·100/8000 ≈ 471
    // a sample) anywhere.
    let at49 = find(&r.out, Signal::Tone, 49 * F).expect("packet 49 played");
    let gap = &r.out[at49 + 160..at49 + 320];
    let level = gap.iter().map(|&s| i64::from(s).abs()).sum::<i64>() / 160;
    assert!(level > 2000, "gap level {level}");
    let worst = r.out[at49 - 400..at49 + 800]
        .windows(2)
        .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
        .max()
        .unwrap_or(0);
    assert!(worst < 900, "largest step {worst}");
    // And the stream after the gap plays as sent.
    assert_plays(&r.out, Signal::Tone, 0, 52 * F, 98 * F);
}

#[test]
fn bursty_jitter_raises_the_delay_and_it_comes_back_down() {
    let t0 = Instant::now();
    let mut jb = buffer(t0);
    let mut rng = fastrand::Rng::with_seed(3550);
    // 2 s clean, 4 s of bursts (a 60-100 ms stall every half second,
    // the packets held up then arriving together), 8 s clean.
    let mut packets = Vec::new();
    let mut stall_until = Duration::ZERO;
    for i in 0..700u32 {
        let mut p = clean(i, 100, 0);
        if (100..300).contains(&i) {
            if i % 25 == 0 {
                stall_until = p.at + ms(rng.u64(60..=100));
            }
            p.at = p.at.max(stall_until) + Duration::from_micros(rng.u64(0..2000));
        }
        packets.push(p);
    }
    let r = run(&mut jb, t0, &packets, Signal::Tone, 700, ms(3));
    let target = |k: usize| r.trace[k].target;
    assert_eq!(target(90), ms(20));
    let peak = (100..300).map(target).max().unwrap_or_default();
    assert!(peak >= ms(80) && peak <= ms(200), "peak {peak:?}");
    // Only the first burst finds the buffer short.
    let late_in_bursts = r.trace[299].late - r.trace[125].late;
    assert!(
        late_in_bursts <= 2,
        "late after the first burst: {late_in_bursts}"
    );
    assert!(r.trace[299].depth >= ms(60), "{:?}", r.trace[299].depth);
    // Back down once the bursts are out of the window.
    assert_eq!(target(690), ms(20));
    assert!(r.trace[690].depth <= ms(45), "{:?}", r.trace[690].depth);
    // Never above the maximum (and a frame being read).
    for s in &r.trace {
        assert!(s.depth <= ms(220), "{s:?}");
    }
    assert!(r.trace[299].jitter > ms(1), "{:?}", r.trace[299]);
}

#[test]
fn never_more_than_the_maximum_is_buffered() {
    let t0 = Instant::now();
    let mut jb = buffer(t0);
    // A far end whose clock runs 10 % fast, then a stall of 600 ms after
    // which everything held up arrives at once.
    let mut packets: Vec<Packet> = (0..300)
        .map(|i| Packet {
            at: ms(18) * (i + 1),
            ..clean(i, 0, 0)
        })
        .collect();
    for p in packets.iter_mut().skip(200).take(40) {
        p.at = ms(18) * 240;
    }
    let r = run(&mut jb, t0, &packets, Signal::Noise, 300, ms(1));
    for s in &r.trace {
        assert!(s.depth <= ms(220), "{s:?}");
    }
    assert!(jb.stats().late > 0);
}

#[test]
fn sequence_numbers_and_timestamps_wrap() {
    let t0 = Instant::now();
    let mut jb = buffer(t0);
    let ts0 = u32::MAX - 40 * F + 7;
    let packets: Vec<Packet> = (0..100).map(|i| clean(i, 65_500, ts0)).collect();
    let r = run(&mut jb, t0, &packets, Signal::Noise, 110, ms(11));
    assert_plays(&r.out, Signal::Noise, ts0, 0, 99 * F);
    let s = r.trace[99];
    assert_eq!((s.lost, s.late, s.concealed, s.resyncs), (0, 0, 0, 1));
}

#[test]
fn a_new_source_takes_over_and_the_old_ones_stragglers_are_dropped() {
    let t0 = Instant::now();
    let mut jb = buffer(t0);
    let mut packets: Vec<Packet> = (0..50).map(|i| clean(i, 0, 0)).collect();
    // From 1 s on a new SSRC with its own numbering; one old packet
    // straggles in after the switch.
    for i in 0..50 {
        let mut p = clean(i, 30_000, 9_000_000);
        p.at += ms(1000);
        p.ssrc = 0xbeef;
        packets.push(p);
    }
    packets.push(Packet {
        at: ms(1100),
        ..clean(49, 0, 0)
    });
    let r = run(&mut jb, t0, &packets, Signal::Noise, 110, ms(5));
    assert_plays(&r.out, Signal::Noise, 0, 0, 49 * F);
    assert_plays(&r.out, Signal::Noise, 9_000_000, 32, 49 * F);
    assert!(r.verdicts.contains(&Inserted::OldSource));
    assert_eq!(jb.stats().lost, 0);
}

#[test]
fn a_talkspurt_after_silence_resyncs_on_its_marker() {
    let t0 = Instant::now();
    let mut jb = buffer(t0);
    // 1 s of speech, 2 s of silence (nothing sent), then speech again
    // whose timestamps moved on only 1.9 s: without the marker's resync,
    // every packet would be 100 ms late.
    let mut packets: Vec<Packet> = (0..50).map(|i| clean(i, 0, 0)).collect();
    for i in 0..50 {
        let mut p = clean(50 + i, 0, 0);
        p.at += ms(2000);
        p.ts = (50 + i) * F + 19 * 8000 / 10;
        p.marker = i == 0;
        packets.push(p);
    }
    let r = run(&mut jb, t0, &packets, Signal::Noise, 210, ms(15));
    assert_eq!(jb.stats().late, 0);
    let second = 50 * F + 19 * 8000 / 10;
    let at = assert_plays(&r.out, Signal::Noise, second, 0, 49 * F);
    let read = ms(15) + ms(20) * (at / FRAME_SAMPLES) as u32;
    let wait = read - (ms(20) * 51 + ms(2005));
    assert!(wait >= ms(20) && wait < ms(40), "{wait:?}");
}

#[test]
fn a_timestamp_jump_resyncs_without_a_marker() {
    let t0 = Instant::now();
    let mut jb = buffer(t0);
    let mut packets: Vec<Packet> = (0..50).map(|i| clean(i, 0, 0)).collect();
    for i in 50..100 {
        let mut p = clean(i, 0, 0);
        p.ts = p.ts.wrapping_add(5_000_000);
        packets.push(p);
    }
    let r = run(&mut jb, t0, &packets, Signal::Noise, 110, ms(2));
    assert_plays(&r.out, Signal::Noise, 0, 0, 49 * F);
    // (The first 4 ms after the jump fade in over the concealment of the
    // frame before.)
    assert_plays(&r.out, Signal::Noise, 50 * F + 5_000_000, 32, 49 * F);
    let s = r.trace[100];
    assert_eq!((s.late, s.lost, s.resyncs), (0, 0, 2));
}

#[test]
fn a_restarted_sequence_is_believed_on_its_second_packet() {
    let t0 = Instant::now();
    let mut jb = buffer(t0);
    let mut packets: Vec<Packet> = (0..50).map(|i| clean(i, 0, 0)).collect();
    for i in 50..100 {
        let mut p = clean(i, 0, 0);
        p.seq = (i as u16) + 40_000;
        packets.push(p);
    }
    let r = run(&mut jb, t0, &packets, Signal::Noise, 110, ms(2));
    assert_eq!(
        r.verdicts
            .iter()
            .filter(|v| **v == Inserted::OutOfSequence)
            .count(),
        1
    );
    // The first packet of the new numbering is dropped and concealed.
    assert_plays(&r.out, Signal::Noise, 0, 51 * F + 32, 99 * F);
}

#[test]
fn nothing_received_plays_silence() {
    let t0 = Instant::now();
    let mut jb = buffer(t0);
    let r = run(&mut jb, t0, &[], Signal::Noise, 10, ms(0));
    assert!(r.out.iter().all(|&s| s == 0));
    assert_eq!(
        jb.insert(1, 1, 1, false, &[], t0),
        Inserted::BadLength,
        "empty payload"
    );
    assert_eq!(
        jb.insert(1, 1, 1, false, &[0; 961], t0),
        Inserted::BadLength
    );
}
