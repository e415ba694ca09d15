//! Digits the gateway sends itself, stepped packet by packet through the
//! converter of the direction they go in: what leaves is read back with
//! the RFC 4733 codec, the receiver and the detector, never compared with
//! the injection's own arithmetic.

use super::convert::{DetectPath, DtmfConverter, DtmfPath};
use super::convert_tests::{assert_contiguous, audio_packet, run, Out, PCMA};
use super::inject::{DigitSink, Digits, DigitsError, DEFAULT_GAP_MS, DEFAULT_TONE_MS};
use super::rfc4733::{EventReceiver, TelephoneEvent};
use super::{Digit, DtmfDetector};
use crate::media::g711::Law;
use crate::media::rtp::write_header;

/// The other leg's stream the digits ride on: PCMA, 20 ms packets, from
/// sequence 1000 and timestamp 5000, SSRC 0x5eed (`audio_packet`).
const SEQ0: u16 = 1000;
const TS0: u32 = 5000;
const SSRC: u32 = 0x5eed;

fn to_cloud() -> DigitSink {
    DigitSink {
        law: Law::Alaw,
        audio_pt: 8,
        events: Some(101),
        tones: false,
    }
}

fn to_analog() -> DigitSink {
    DigitSink {
        law: Law::Ulaw,
        audio_pt: 0,
        events: None,
        tones: true,
    }
}

/// Quiet speech-band noise, not silence, so that replaced audio shows.
fn murmur(k: usize) -> Vec<i16> {
    (0..160)
        .map(|i| (((i * 7 + k * 13) % 23) as i16 - 11) * 20)
        .collect()
}

/// `packets` 20 ms audio packets of the source through `c`: what leaves.
fn stream(c: &mut DtmfConverter, packets: usize) -> Vec<Out> {
    (0..packets)
        .flat_map(|k| {
            let p = audio_packet(SEQ0 + k as u16, TS0 + 160 * k as u32, PCMA, &murmur(k));
            run(c, &p)
        })
        .collect()
}

fn sending(sink: DigitSink, digits: &str) -> DtmfConverter {
    let mut c = DtmfConverter::new(DtmfPath::default());
    let d = Digits::parse(digits).expect("digits");
    let n = c.send_digits(sink, d.as_slice(), DEFAULT_TONE_MS, DEFAULT_GAP_MS);
    assert_eq!(n, d.as_slice().len());
    c
}

fn events(out: &[Out], pt: u8) -> Vec<(bool, u32, TelephoneEvent)> {
    out.iter()
        .filter(|o| o.h.payload_type == pt)
        .map(|o| {
            let ev = TelephoneEvent::decode(o.payload()).expect("one event block");
            (o.h.marker, o.h.timestamp, ev)
        })
        .collect()
}

/// The digits and their durations as the RFC 4733 receiver makes them out.
fn received(out: &[Out], pt: u8) -> Vec<(Digit, u32, u64)> {
    let mut rx = EventReceiver::new();
    let mut got = Vec::new();
    for o in out.iter().filter(|o| o.h.payload_type == pt) {
        rx.receive(
            o.h.marker,
            o.h.sequence,
            o.h.timestamp,
            o.payload(),
            &mut |d| {
                if let Some(len) = d.duration {
                    got.push((d.digit, d.timestamp, len));
                }
            },
        )
        .expect("well-formed events");
    }
    got
}

/// The digits the Q.24 detector hears in the audio that leaves (PCMU and
/// PCMA alike, each in its law), with their lengths in samples.
fn heard(out: &[Out]) -> Vec<(Digit, u64)> {
    let mut det = DtmfDetector::new();
    let mut got = Vec::new();
    let mut push = |det: &mut DtmfDetector, pcm: &[i16]| {
        det.push(pcm, &mut |e| {
            if let Some(end) = e.end_sample {
                got.push((e.digit, end - e.start_sample));
            }
        })
    };
    for o in out {
        let law = match o.h.payload_type {
            0 => Law::Ulaw,
            8 => Law::Alaw,
            _ => continue,
        };
        let mut pcm = vec![0i16; o.payload().len()];
        law.decode_slice(o.payload(), &mut pcm);
        push(&mut det, &pcm);
    }
    push(&mut det, &[0; 800]);
    got
}

#[test]
fn digits_to_an_events_leg_replace_its_audio_with_marked_events_and_three_ends() {
    let mut c = sending(to_cloud(), "1#");
    let out = stream(&mut c, 30);
    assert_eq!(out.len(), 30, "one packet out per packet in");
    assert_contiguous(&out);
    assert!(out.iter().all(|o| o.h.ssrc == SSRC), "the stream's SSRC");
    let ev = events(&out, 101);
    let one: Vec<_> = ev.iter().filter(|e| e.2.event == 1).collect();
    let hash: Vec<_> = ev.iter().filter(|e| e.2.event == 11).collect();
    assert_eq!(one.len() + hash.len(), ev.len(), "only the two digits");
    for (digit, start) in [(&one, TS0), (&hash, TS0 + 9 * 160)] {
        assert!(digit.iter().all(|e| e.1 == start), "the event's start");
        let marks: Vec<bool> = digit.iter().map(|e| e.0).collect();
        assert_eq!(marks, [true, false, false, false, false, false, false]);
        let durations: Vec<(bool, u16)> = digit.iter().map(|e| (e.2.end, e.2.duration)).collect();
        assert_eq!(
            durations,
            [
                (false, 160),
                (false, 320),
                (false, 480),
                (false, 640),
                (true, 800),
                (true, 800),
                (true, 800)
            ],
            "an update each packet, 100 ms, the end three times"
        );
        assert!(digit.iter().all(|e| e.2.volume == 10));
    }
    // The first digit took packets 0-6; 7 and 8 are the pause (the second
    // starts at 9: 80 ms after the first's end, the 70 ms rounded up to
    // the packets); after 15 the source's audio goes on.
    let audio: Vec<usize> = (0..out.len())
        .filter(|&k| out[k].h.payload_type == 8)
        .collect();
    assert_eq!(audio, [7, 8].into_iter().chain(16..30).collect::<Vec<_>>());
    let want = audio_packet(SEQ0 + 7, TS0 + 7 * 160, PCMA, &murmur(7));
    assert_eq!(out[7].bytes, want, "audio in the pause passes untouched");
    assert_eq!(
        received(&out, 101),
        [(Digit::D1, TS0, 800), (Digit::Hash, TS0 + 1440, 800)],
        "the receiver makes out both digits, 100 ms each"
    );
    assert_eq!(c.digits_pending(), 0);
}

#[test]
fn digits_to_an_inband_leg_are_tones_in_its_law_that_the_detector_reads_back() {
    let all = "0123456789*#ABCD";
    let mut c = sending(to_analog(), all);
    let out = stream(&mut c, 16 * 9 + 5);
    assert_eq!(out.len(), 16 * 9 + 5);
    assert_contiguous(&out);
    let got = heard(&out);
    let digits: String = got.iter().map(|(d, _)| d.symbol()).collect();
    assert_eq!(digits, all);
    for (d, len) in &got {
        // 100 ms, within the detector's ±6 ms.
        assert!((752..=848).contains(len), "{d:?}: {len} samples");
    }
    // Packets under a digit are PCMU at the stream's timestamps; the
    // pauses are the source's PCMA.
    for (k, o) in out.iter().enumerate() {
        assert_eq!(o.h.timestamp, TS0 + 160 * k as u32);
        let in_digit = k < 16 * 9 && k % 9 < 5;
        assert_eq!(o.h.payload_type, if in_digit { 0 } else { 8 }, "packet {k}");
    }
}

#[test]
fn a_both_leg_gets_tones_and_the_events_added_beside_them() {
    let sink = DigitSink {
        events: Some(96),
        tones: true,
        ..to_analog()
    };
    let mut c = sending(sink, "73");
    let out = stream(&mut c, 24);
    // Seven events per digit added to 24 packets.
    assert_eq!(out.len(), 24 + 14);
    assert_contiguous(&out);
    assert_eq!(
        heard(&out).iter().map(|(d, _)| *d).collect::<Vec<_>>(),
        [Digit::D7, Digit::D3]
    );
    assert_eq!(
        received(&out, 96),
        [(Digit::D7, TS0, 800), (Digit::D3, TS0 + 1440, 800)]
    );
    // Each event follows the packet it was made on.
    for w in out.windows(2).filter(|w| w[1].h.payload_type == 96) {
        assert_ne!(w[0].h.payload_type, 96, "one event per packet");
    }
}

#[test]
fn the_sources_own_events_during_a_digit_are_dropped_and_leave_no_hole() {
    let mut c = sending(to_cloud(), "5");
    let mut out = Vec::new();
    let mut seq = SEQ0;
    for k in 0..10u32 {
        let p = audio_packet(seq, TS0 + 160 * k, PCMA, &murmur(k as usize));
        out.extend(run(&mut c, &p));
        seq += 1;
        if k == 2 {
            // The caller presses 9 while the gateway sends 5.
            let mut e = vec![0u8; 16];
            write_header(&mut e, true, 101, seq, TS0 + 320, SSRC);
            let ev = TelephoneEvent {
                event: 9,
                end: false,
                reserved: false,
                volume: 10,
                duration: 160,
            };
            e[12..].copy_from_slice(&ev.encode().unwrap());
            assert!(run(&mut c, &e).is_empty(), "dropped");
            seq += 1;
        }
    }
    assert_eq!(out.len(), 10);
    assert_contiguous(&out);
    assert!(events(&out, 101).iter().all(|e| e.2.event == 5));
    // Once the digit is over, the source's packets pass again.
    let e = audio_packet(seq, TS0 + 1600, PCMA, &murmur(10));
    assert_eq!(run(&mut c, &e).len(), 1);
}

#[test]
fn digits_wait_for_the_source_to_send_and_the_detector_path_resumes_after() {
    let mut c = DtmfConverter::new(DtmfPath {
        render: None,
        detect: Some(DetectPath {
            audio_in: PCMA,
            events_out: 101,
            keep_audio: false,
        }),
    });
    // Nothing sent yet: the digit waits.
    let d = Digits::parse("2").unwrap();
    c.send_digits(to_cloud(), d.as_slice(), 100, 70);
    assert_eq!(c.digits_pending(), 1);
    let out = stream(&mut c, 8);
    assert_eq!(received(&out, 101), [(Digit::D2, TS0, 800)]);
    assert_eq!(c.digits_pending(), 0);
    // Then a real tone from the source is detected and sent as before.
    let mut tone = Vec::new();
    super::ToneGenerator::digit(Digit::D4, -10.0, 1600).render_into(&mut tone);
    let mut out = Vec::new();
    for k in 0..20usize {
        let pcm: Vec<i16> = tone
            .get(k * 160..(k + 1) * 160)
            .map_or(vec![0; 160], |s| s.to_vec());
        let p = audio_packet(SEQ0 + 8 + k as u16, TS0 + 160 * (8 + k as u32), PCMA, &pcm);
        out.extend(run(&mut c, &p));
    }
    let got = received(&out, 101);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, Digit::D4);
}

#[test]
fn tone_and_pause_lengths_are_the_requests_within_bounds() {
    let mut c = DtmfConverter::new(DtmfPath::default());
    let d = Digits::parse("11").unwrap();
    // 10 ms is raised to the 40 ms a Q.24 receiver must take.
    c.send_digits(to_cloud(), d.as_slice(), 200, 10);
    let out = stream(&mut c, 30);
    let got = received(&out, 101);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].2, 1600, "200 ms");
    let pause = got[1].1 - (got[0].1 + 1600);
    assert!((320..=480).contains(&pause), "{pause} samples");
}

#[test]
fn digits_are_parsed_as_typed_and_refused_by_name() {
    let d = Digits::parse("12*#abcD").unwrap();
    assert_eq!(d.to_string(), "12*#ABCD");
    assert_eq!(format!("{d:?}"), "Digits(\"12*#ABCD\")");
    assert_eq!(Digits::parse(""), Err(DigitsError::Empty));
    let e = Digits::parse("12e4").unwrap_err();
    assert_eq!(e, DigitsError::NotADigit { ch: 'e', at: 3 });
    assert_eq!(
        e.to_string(),
        "'e' (character 3) is not a DTMF digit: use 0-9, *, #, A-D"
    );
    assert!(Digits::parse(&"1".repeat(32)).is_ok());
    let e = Digits::parse(&"1".repeat(33)).unwrap_err();
    assert_eq!(e.to_string(), "33 digits are too many: at most 32 at once");
}

#[test]
fn a_second_request_queues_behind_the_first_until_the_queue_is_full() {
    let mut c = DtmfConverter::new(DtmfPath::default());
    let d = Digits::parse(&"9".repeat(32)).unwrap();
    assert_eq!(c.send_digits(to_analog(), d.as_slice(), 100, 70), 32);
    assert_eq!(c.send_digits(to_analog(), d.as_slice(), 100, 70), 32);
    assert_eq!(c.send_digits(to_analog(), d.as_slice(), 100, 70), 0);
    assert_eq!(c.digits_pending(), 64);
    stream(&mut c, 1);
    assert_eq!(c.digits_pending(), 64, "one sounding, 63 waiting");
}
