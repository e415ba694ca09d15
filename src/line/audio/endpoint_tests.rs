//! Tests of `LineEndpoint`, stepping time: the RTP it sends for captured
//! frames and key presses, and what it does with what it receives.

use std::time::{Duration, Instant};

use super::{EndpointParams, Frame, JitterSettings, LineEndpoint, FRAME_SAMPLES, G711};
use crate::media::dtmf::rfc4733::TelephoneEvent;
use crate::media::dtmf::{detect_all, Digit, ToneGenerator};
use crate::media::rtp::{write_header, RtpHeader};

const EVENTS_PT: u8 = 101;
const FIRST_TS: u32 = u32::MAX - 1000;

fn params(send_events: bool) -> EndpointParams {
    EndpointParams {
        codec: G711::Ulaw,
        payload_type: 0,
        event_payload_type: Some(EVENTS_PT),
        send_events,
        ssrc: 0x11_22_33_44,
        first_seq: 65_530,
        first_timestamp: FIRST_TS,
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A line stepped a frame at a time; keeps every packet sent with the
/// frame it was sent for.
struct Line {
    ep: LineEndpoint,
    t0: Instant,
    frames: u32,
    sent: Vec<(u32, Vec<u8>)>,
}

impl Line {
    fn new(p: EndpointParams) -> Line {
        let t0 = Instant::now();
        Line {
            ep: LineEndpoint::new(p, JitterSettings::default(), t0),
            t0,
            frames: 0,
            sent: Vec::new(),
        }
    }

    /// The time frame `k` is captured (its end).
    fn at(&self, k: u32) -> Instant {
        self.t0 + ms(20) * (k + 1)
    }

    fn capture(&mut self, frame: &Frame) {
        let k = self.frames;
        let now = self.at(k);
        let sent = &mut self.sent;
        let mut n = 0;
        self.ep.capture(frame, now, &mut |p| {
            sent.push((k, p.to_vec()));
            n += 1;
        });
        assert!(n <= 1, "frame {k}: {n} packets");
        self.frames += 1;
    }

    /// Captures `pcm` frame by frame (a short last frame padded with
    /// silence); `on_frame` runs before each, with its index.
    fn feed(&mut self, pcm: &[i16], mut on_frame: impl FnMut(&mut LineEndpoint, u32, Instant)) {
        for chunk in pcm.chunks(FRAME_SAMPLES) {
            let mut f = [0i16; FRAME_SAMPLES];
            f[..chunk.len()].copy_from_slice(chunk);
            let k = self.frames;
            let at = self.at(k);
            on_frame(&mut self.ep, k, at);
            self.capture(&f);
        }
    }

    fn headers(&self) -> Vec<RtpHeader> {
        self.sent
            .iter()
            .map(|(_, p)| RtpHeader::parse(p).expect("our own RTP parses"))
            .collect()
    }

    /// Each event sent: (digit, timestamp, final duration, end packets,
    /// first frame, all packets).
    fn events(&self) -> Vec<Sent> {
        let mut out: Vec<Sent> = Vec::new();
        for (k, p) in &self.sent {
            let h = RtpHeader::parse(p).expect("parses");
            if h.payload_type != EVENTS_PT {
                continue;
            }
            let e = TelephoneEvent::decode(&p[h.payload_start..h.payload_end]).expect("one block");
            let digit = Digit::from_event_code(e.event).expect("a digit").symbol();
            match out.last_mut().filter(|s| s.timestamp == h.timestamp) {
                Some(s) => {
                    assert!(!h.marker, "only the first packet is marked");
                    assert!(e.duration >= s.duration, "durations never shrink");
                    s.duration = e.duration;
                    s.ends += usize::from(e.end);
                    s.packets += 1;
                    s.last_frame = *k;
                }
                None => {
                    assert!(h.marker, "an event's first packet is marked");
                    out.push(Sent {
                        digit,
                        timestamp: h.timestamp,
                        duration: e.duration,
                        ends: usize::from(e.end),
                        first_frame: *k,
                        last_frame: *k,
                        packets: 1,
                    });
                }
            }
        }
        out
    }

    /// The audio sent, decoded, at its timestamps, with silence where no
    /// audio went out.
    fn audio(&self) -> Vec<i16> {
        let mut pcm = vec![0i16; self.frames as usize * FRAME_SAMPLES];
        for (_, p) in &self.sent {
            let h = RtpHeader::parse(p).expect("parses");
            if h.payload_type == 0 {
                let at = h.timestamp.wrapping_sub(FIRST_TS) as usize;
                G711::Ulaw.decode_slice(
                    &p[h.payload_start..h.payload_end],
                    &mut pcm[at..at + FRAME_SAMPLES],
                );
            }
        }
        pcm
    }
}

#[derive(Debug)]
struct Sent {
    digit: char,
    timestamp: u32,
    duration: u16,
    ends: usize,
    first_frame: u32,
    last_frame: u32,
    packets: usize,
}

fn silence(ms: usize) -> Vec<i16> {
    vec![0; ms * 8]
}

/// A key's tone as a phone puts it on the line (ITU-T Q.23, −10 dBm0 a
/// tone).
fn tone(symbol: char, ms: usize) -> Vec<i16> {
    let digit = Digit::from_symbol(symbol).expect("digit");
    let mut out = Vec::new();
    ToneGenerator::digit(digit, -10.0, ms as u64 * 8).render_into(&mut out);
    out
}

fn assert_near(what: &str, got: u16, want_ms: u64) {
    let want = want_ms as i64 * 8;
    assert!(
        (i64::from(got) - want).abs() <= 160,
        "{what}: {got} samples, want {want} ± 160 (20 ms)"
    );
}

#[test]
fn audio_goes_out_as_continuous_g711_rtp() {
    let p = params(true);
    let mut line = Line::new(p);
    let mut pcm = Vec::new();
    let mut x = 1u32;
    for _ in 0..50 * FRAME_SAMPLES {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        pcm.push((x >> 18) as i16 - 8192);
    }
    line.feed(&pcm, |_, _, _| {});
    // With events on, audio leaves a frame late: the last is still held.
    let hs = line.headers();
    assert_eq!(hs.len(), 49);
    for (i, h) in hs.iter().enumerate() {
        assert_eq!(h.payload_type, 0);
        assert_eq!(h.ssrc, p.ssrc);
        assert_eq!(h.sequence, p.first_seq.wrapping_add(i as u16));
        assert_eq!(h.timestamp, p.first_timestamp.wrapping_add(i as u32 * 160));
        assert_eq!(h.marker, i == 0);
        assert_eq!(h.payload_end - h.payload_start, 160);
    }
    let want: Vec<u8> = pcm[..49 * FRAME_SAMPLES]
        .iter()
        .map(|&s| G711::Ulaw.encode(s))
        .collect();
    let got: Vec<u8> = line
        .sent
        .iter()
        .flat_map(|(_, p)| p[12..].to_vec())
        .collect();
    assert_eq!(got, want);
    let s = line.ep.stats();
    assert_eq!((s.packets_out, s.audio_out, s.events_out), (49, 49, 0));

    // Without events, at once.
    let mut line = Line::new(params(false));
    line.feed(&pcm, |_, _, _| {});
    assert_eq!(line.headers().len(), 50);
}

#[test]
fn a_key_pressed_is_one_event_of_the_time_held_in_place_of_audio() {
    let mut line = Line::new(params(true));
    line.feed(&silence(1000), |ep, k, at| {
        if k == 10 {
            ep.press('5', ms(130), at);
        }
    });
    let ev = line.events();
    assert_eq!(ev.len(), 1, "{ev:?}");
    let e = &ev[0];
    assert_eq!(e.digit, '5');
    assert_near("duration", e.duration, 130);
    assert_eq!(e.ends, 3, "RFC 4733 §2.5.1.4: the end three times");
    // Sent after the wait for its tone (100 ms), on the audio clock.
    assert!(e.first_frame > 10 && e.first_frame <= 17, "{e:?}");
    // One packet a frame throughout (after the first, held back),
    // numbered without holes: the event's packets took the audio's place.
    let hs = line.headers();
    assert_eq!(hs.len(), 49);
    for (i, h) in hs.iter().enumerate() {
        assert_eq!(h.sequence, 65_530u16.wrapping_add(i as u16));
    }
    let s = line.ep.stats();
    assert_eq!((s.digits_keypad, s.digits_in_band), (1, 0));
    assert_eq!(s.events_out as usize, e.packets);
}

#[test]
fn a_digit_in_the_audio_is_sent_once_and_its_audio_replaced() {
    let mut line = Line::new(params(true));
    let mut pcm = silence(200);
    pcm.extend(tone('7', 120));
    pcm.extend(silence(500));
    line.feed(&pcm, |_, _, _| {});
    let ev = line.events();
    assert_eq!(ev.len(), 1, "{ev:?}");
    let e = &ev[0];
    assert_eq!(e.digit, '7');
    assert_near("duration", e.duration, 120);
    assert_eq!(e.ends, 3);
    // Timestamped where the tone began (200 ms in), within a few ms.
    let start = e.timestamp.wrapping_sub(params(true).first_timestamp);
    assert!((1600i64 - i64::from(start)).abs() <= 40, "start {start}");
    // A detector at the far end hears no digit in the audio.
    let audio = line.audio();
    assert!(detect_all(&audio).is_empty(), "{:?}", detect_all(&audio));
    let s = line.ep.stats();
    assert_eq!((s.digits_keypad, s.digits_in_band), (0, 1));
}

#[test]
fn a_detected_tone_leaks_less_than_a_far_end_detector_needs() {
    // Whatever the tone's phase to the frames, what goes out as audio
    // before the detector confirms it is shorter than a receiver may
    // take for a digit, and a detector finds nothing in it.
    let mut worst = 0;
    for offset in (0..160).step_by(10) {
        let mut line = Line::new(params(true));
        let mut pcm = silence(200);
        pcm.extend(vec![0; offset]);
        pcm.extend(tone('1', 100));
        pcm.extend(silence(400));
        line.feed(&pcm, |_, _, _| {});
        assert_eq!(line.events().len(), 1);
        let audio = line.audio();
        assert!(detect_all(&audio).is_empty(), "offset {offset}");
        let leaked = audio.iter().filter(|&&s| s.abs() > 100).count();
        worst = worst.max(leaked);
    }
    // ITU-T Q.24: receivers reject tones under 23 ms (184 samples).
    assert!(worst < 184, "{worst} samples of tone went out as audio");
}

#[test]
fn a_key_both_pressed_and_heard_is_sent_once() {
    // The board's report comes at the end of the tone...
    let mut line = Line::new(params(true));
    let mut pcm = silence(200);
    pcm.extend(tone('3', 150));
    pcm.extend(silence(600));
    line.feed(&pcm, |ep, k, at| {
        if k == 18 {
            ep.press('3', ms(150), at);
        }
    });
    let ev = line.events();
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_near("duration", ev[0].duration, 150);
    let s = line.ep.stats();
    assert_eq!(
        (s.digits_in_band, s.digits_keypad, s.doubles_dropped),
        (1, 0, 1)
    );

    // ...or before the detector has confirmed it (the audio lags).
    let mut line = Line::new(params(true));
    let mut pcm = silence(400);
    pcm.extend(tone('3', 100));
    pcm.extend(silence(600));
    line.feed(&pcm, |ep, k, at| {
        if k == 20 {
            ep.press('3', ms(70), at);
        }
    });
    let ev = line.events();
    assert_eq!(ev.len(), 1, "{ev:?}");
    let s = line.ep.stats();
    assert_eq!(
        (s.digits_in_band, s.digits_keypad, s.doubles_dropped),
        (1, 0, 1)
    );
}

#[test]
fn the_same_key_twice_stays_two_digits() {
    let mut line = Line::new(params(true));
    let mut pcm = silence(200);
    pcm.extend(tone('5', 100));
    pcm.extend(silence(80));
    pcm.extend(tone('5', 100));
    pcm.extend(silence(600));
    // Released at 300 ms and 480 ms.
    line.feed(&pcm, |ep, k, at| {
        if k == 14 || k == 23 {
            ep.press('5', ms(100), at);
        }
    });
    let ev = line.events();
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert!(ev.iter().all(|e| e.digit == '5' && e.ends == 3));
    let s = line.ep.stats();
    assert_eq!(
        (s.digits_in_band, s.digits_keypad, s.doubles_dropped),
        (2, 0, 2)
    );
}

#[test]
fn a_key_pressed_while_another_is_sent_waits_its_turn() {
    let mut line = Line::new(params(true));
    line.feed(&silence(1500), |ep, k, at| match k {
        5 => ep.press('1', ms(200), at),
        7 => ep.press('2', ms(90), at),
        _ => {}
    });
    let ev = line.events();
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!((ev[0].digit, ev[1].digit), ('1', '2'));
    assert_near("first", ev[0].duration, 200);
    assert_near("second", ev[1].duration, 90);
    assert!(ev.iter().all(|e| e.ends == 3));
    // The second starts after the first's last end packet, at least
    // 40 ms after the first's end on the timestamp clock.
    assert!(ev[1].first_frame > ev[0].last_frame);
    let gap = ev[1]
        .timestamp
        .wrapping_sub(ev[0].timestamp.wrapping_add(u32::from(ev[0].duration)));
    assert!((320..2000).contains(&gap), "gap {gap}");
}

#[test]
fn without_events_keys_are_tones_in_the_audio() {
    for p in [
        params(false),
        EndpointParams {
            event_payload_type: None,
            ..params(true)
        },
    ] {
        let mut line = Line::new(p);
        // A key only the board reported (at 300 ms), and a tone in the
        // audio that the board reports too (released at 1 s).
        let mut pcm = silence(880);
        pcm.extend(tone('8', 120));
        pcm.extend(silence(800));
        line.feed(&pcm, |ep, k, at| match k {
            14 => ep.press('9', ms(100), at),
            49 => ep.press('8', ms(120), at),
            _ => {}
        });
        assert!(line.events().is_empty());
        let heard = detect_all(&line.audio());
        let digits: Vec<char> = heard
            .iter()
            .filter(|e| e.end_sample.is_some())
            .map(|e| e.digit.symbol())
            .collect();
        assert_eq!(digits, ['9', '8'], "{heard:?}");
        let nine = heard.iter().find(|e| e.end_sample.is_some()).expect("9");
        let len = nine.end_sample.unwrap_or(0) - nine.start_sample;
        assert!((len as i64 - 800).abs() <= 160, "9 lasts {len} samples");
        let s = line.ep.stats();
        assert_eq!(
            (
                s.events_out,
                s.digits_keypad,
                s.digits_in_band,
                s.doubles_dropped
            ),
            (0, 1, 1, 1)
        );
    }
}

#[test]
fn what_the_far_end_sends_is_played_and_the_rest_counted() {
    let t0 = Instant::now();
    let p = params(true);
    let mut a = LineEndpoint::new(p, JitterSettings::default(), t0);
    let mut b = LineEndpoint::new(
        EndpointParams { ssrc: 0x5151, ..p },
        JitterSettings::default(),
        t0,
    );
    // Noise from A's line plays at B's.
    let mut sent = Vec::new();
    let mut played = Vec::new();
    let mut x = 7u32;
    for k in 0..100u32 {
        let mut f = [0i16; FRAME_SAMPLES];
        for s in f.iter_mut() {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *s = (x >> 19) as i16 - 4096;
        }
        sent.extend_from_slice(&f);
        let now = t0 + ms(20) * (k + 1);
        a.capture(&f, now, &mut |pkt| b.receive(pkt, now + ms(3)));
        let mut out = [0i16; FRAME_SAMPLES];
        b.playout(now + ms(11), &mut out);
        played.extend_from_slice(&out);
    }
    let lag = (0..800)
        .max_by_key(|&l| {
            (0..4000)
                .map(|i| i64::from(sent[i]) * i64::from(played[i + l]))
                .sum::<i64>()
        })
        .unwrap_or(0);
    // 20 ms held back on A (events are on), 20-30 ms in B's buffer.
    assert!((320..=400).contains(&lag), "lag {lag}");
    let err: i64 = (0..4000)
        .map(|i| (i64::from(sent[i]) - i64::from(played[i + lag])).abs())
        .max()
        .unwrap_or(0);
    // G.711's own error at this level is under 2 %.
    assert!(err < 130, "largest difference {err}");

    // A's keys reach B as events, and their sequence numbers are not
    // taken for lost audio.
    // (100 ms: four updates, the end and its two copies.)
    let mut k = 100u32;
    a.press('2', ms(100), t0 + ms(20) * k);
    while k < 150 {
        k += 1;
        let now = t0 + ms(20) * k;
        a.capture(&[0; FRAME_SAMPLES], now, &mut |pkt| b.receive(pkt, now));
        let mut out = [0i16; FRAME_SAMPLES];
        b.playout(now, &mut out);
    }
    let s = b.stats();
    assert_eq!((s.events_in, s.lost), (7, 0), "{s:?}");
    let audio_in = s.audio_in;

    // What is not B's audio: counted, dropped.
    let now = t0 + ms(3000);
    let mut pkt = [0u8; 172];
    write_header(&mut pkt, false, 8, 1, 1, 0x5151);
    b.receive(&pkt, now); // a payload type not agreed
    write_header(&mut pkt, false, EVENTS_PT, 1, 1, 0x5151);
    b.receive(&pkt[..16], now); // the far end's event
    b.receive(&[0x80, 200, 0, 1, 0, 0, 0, 1], now); // RTCP
    b.receive(&[1, 2, 3], now); // not RTP
    write_header(&mut pkt, false, 0, 1, 1, 0x7777);
    b.receive(&pkt, now); // new source
    write_header(&mut pkt, false, 0, 2, 161, p.ssrc);
    b.receive(&pkt, now); // the replaced one
    let s = b.stats();
    assert_eq!(
        (s.foreign, s.events_in, s.malformed, s.old),
        (1, 8, 2, 1),
        "{s:?}"
    );
    assert_eq!(s.audio_in, audio_in + 1);
}

#[test]
fn arbitrary_datagrams_never_panic() {
    let t0 = Instant::now();
    let mut ep = LineEndpoint::new(params(true), JitterSettings::default(), t0);
    let mut rng = fastrand::Rng::with_seed(4733);
    let mut out = [0i16; FRAME_SAMPLES];
    for i in 0..100_000u32 {
        let len = rng.usize(0..300);
        let mut b: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        if len > 1 && rng.bool() {
            // Mostly version 2 and our payload types, to get past parsing.
            b[0] = 0x80 | (b[0] & 0x3f);
            b[1] = (b[1] & 0x80) | [0, EVENTS_PT, 8][rng.usize(0..3)];
        }
        let now = t0 + Duration::from_micros(u64::from(i) * 200);
        ep.receive(&b, now);
        if i % 100 == 0 {
            ep.playout(now, &mut out);
        }
    }
    assert_eq!(ep.stats().packets_in, 100_000);
}
