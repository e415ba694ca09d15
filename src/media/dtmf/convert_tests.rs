//! DTMF conversion between legs, stepped packet by packet: what leaves for
//! the other leg is decoded and checked with the detector or the RFC 4733
//! codec, never compared with the converter's own arithmetic.

use super::convert::{
    AudioFormat, Converted, DetectPath, DtmfConverter, DtmfPath, RenderPath, EVENT_PACKET,
};
use super::rfc4733::TelephoneEvent;
use super::{Digit, DtmfDetector, ToneGenerator};
use crate::media::g711::Law;
use crate::media::rtp::{write_header, RtpHeader};

pub(super) const PCMU: AudioFormat = AudioFormat {
    law: Law::Ulaw,
    payload_type: 0,
};
pub(super) const PCMA: AudioFormat = AudioFormat {
    law: Law::Alaw,
    payload_type: 8,
};

/// One packet out of the converter (the main one or an added one).
#[derive(Clone, Debug)]
pub(super) struct Out {
    pub(super) h: RtpHeader,
    pub(super) bytes: Vec<u8>,
}

impl Out {
    pub(super) fn payload(&self) -> &[u8] {
        &self.bytes[self.h.payload_start..self.h.payload_end]
    }
}

/// Runs `packet` through `c` as the relay does; returns what is sent.
pub(super) fn run(c: &mut DtmfConverter, packet: &[u8]) -> Vec<Out> {
    let mut buf = [0u8; 2048];
    buf[..packet.len()].copy_from_slice(packet);
    let h = RtpHeader::parse(packet).expect("test packet");
    let n = match c.convert(&h, &mut buf) {
        Converted::Absorb => return Vec::new(),
        Converted::Forward(n) => n,
        Converted::Pass => packet.len(),
    };
    c.finish(h.sequence, &mut buf[..n]);
    let mut out = vec![parse(&buf[..n])];
    let mut added = [0u8; EVENT_PACKET];
    let m = c.take_added(&mut added);
    if m > 0 {
        out.push(parse(&added[..m]));
    }
    out
}

fn parse(b: &[u8]) -> Out {
    Out {
        h: RtpHeader::parse(b).expect("converter output is RTP"),
        bytes: b.to_vec(),
    }
}

fn event_packet(seq: u16, ts: u32, marker: bool, ev: TelephoneEvent) -> Vec<u8> {
    let mut p = vec![0u8; 16];
    write_header(&mut p, marker, 101, seq, ts, 0x5eed);
    p[12..].copy_from_slice(&ev.encode().expect("event"));
    p
}

pub(super) fn audio_packet(seq: u16, ts: u32, fmt: AudioFormat, pcm: &[i16]) -> Vec<u8> {
    let mut p = vec![0u8; 12 + pcm.len()];
    write_header(&mut p, false, fmt.payload_type, seq, ts, 0x5eed);
    fmt.law.encode_slice(pcm, &mut p[12..]);
    p
}

/// sipp's dtmf_2833_1.pcap in numbers: digit 1, an update every packet
/// adding 320, the end (2240 = 280 ms) sent three times with one sequence
/// number.
fn sipp_digit_one() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for (i, d) in (0u16..=7).map(|i| (i, i * 320)) {
        let ev = TelephoneEvent {
            event: 1,
            end: i == 7,
            reserved: false,
            volume: 10,
            duration: d,
        };
        let p = event_packet(7984 + i, 13280, i == 0, ev);
        v.push(p.clone());
        if i == 7 {
            v.push(p.clone());
            v.push(p);
        }
    }
    v
}

fn detect_digits(law: Law, packets: &[Out]) -> Vec<(Digit, u64)> {
    let mut det = DtmfDetector::new();
    let mut got = Vec::new();
    for p in packets {
        let mut pcm = vec![0i16; p.payload().len()];
        law.decode_slice(p.payload(), &mut pcm);
        det.push(&pcm, &mut |e| {
            if let Some(end) = e.end_sample {
                got.push((e.digit, end - e.start_sample));
            }
        });
    }
    det.push(&[0; 800], &mut |e| {
        if let Some(end) = e.end_sample {
            got.push((e.digit, end - e.start_sample));
        }
    });
    got
}

pub(super) fn assert_contiguous(out: &[Out]) {
    for w in out.windows(2) {
        assert_eq!(
            w[1].h.sequence,
            w[0].h.sequence.wrapping_add(1),
            "sequence numbers without holes: {:?}",
            out.iter().map(|o| o.h.sequence).collect::<Vec<_>>()
        );
    }
}

#[test]
fn events_become_a_tone_as_long_as_the_event_where_the_event_was() {
    for fmt in [PCMU, PCMA] {
        let mut c = DtmfConverter::new(DtmfPath {
            render: Some(RenderPath {
                events_in: 101,
                tones_out: fmt,
                also_events: None,
            }),
            detect: None,
        });
        let out: Vec<Out> = sipp_digit_one()
            .iter()
            .flat_map(|p| run(&mut c, p))
            .collect();
        // Duration 0 and the two repeated ends add nothing.
        assert_eq!(out.len(), 7, "one audio packet per update with new samples");
        assert_contiguous(&out);
        assert!(out[0].h.marker && out[1..].iter().all(|o| !o.h.marker));
        let mut ts = 13280u32;
        for o in &out {
            assert_eq!(o.h.payload_type, fmt.payload_type);
            assert_eq!(o.h.ssrc, 0x5eed);
            assert_eq!(o.h.timestamp, ts, "audio timestamps follow the samples");
            ts += o.payload().len() as u32;
        }
        assert_eq!(ts - 13280, 2240, "as long as the event said");
        let digits = detect_digits(fmt.law, &out);
        assert_eq!(digits.len(), 1, "{digits:?}");
        assert_eq!(digits[0].0, Digit::from_symbol('1').expect("digit"));
        assert!(
            (2000..=2400).contains(&digits[0].1),
            "heard for about 280 ms: {digits:?}"
        );
        assert_eq!(c.digits_rendered(), 1);
    }
}

#[test]
fn audio_during_an_event_is_held_back_and_resumes_after_it() {
    let mut c = DtmfConverter::new(DtmfPath {
        render: Some(RenderPath {
            events_in: 101,
            tones_out: PCMU,
            also_events: None,
        }),
        detect: None,
    });
    let silence = [0i16; 160];
    let mut out = run(&mut c, &audio_packet(10, 1000, PCMU, &silence));
    let start = TelephoneEvent {
        event: 9,
        end: false,
        reserved: false,
        volume: 10,
        duration: 160,
    };
    out.extend(run(&mut c, &event_packet(11, 1160, true, start)));
    // Audio overlapping the event is dropped: the tone stands in for it.
    assert!(run(&mut c, &audio_packet(12, 1320, PCMU, &silence)).is_empty());
    let end = TelephoneEvent {
        end: true,
        duration: 320,
        ..start
    };
    out.extend(run(&mut c, &event_packet(13, 1160, false, end)));
    out.extend(run(&mut c, &event_packet(13, 1160, false, end)));
    out.extend(run(&mut c, &audio_packet(14, 1480, PCMU, &silence)));
    assert_eq!(
        out.iter()
            .map(|o| (o.h.payload_type, o.h.timestamp, o.payload().len()))
            .collect::<Vec<_>>(),
        [
            (0, 1000, 160),
            (0, 1160, 160),
            (0, 1320, 160),
            (0, 1480, 160)
        ]
    );
    assert_contiguous(&out);
}

#[test]
fn an_event_whose_end_is_lost_stops_blocking_audio() {
    let mut c = DtmfConverter::new(DtmfPath {
        render: Some(RenderPath {
            events_in: 101,
            tones_out: PCMA,
            also_events: None,
        }),
        detect: None,
    });
    let ev = TelephoneEvent {
        event: 3,
        end: false,
        reserved: false,
        volume: 10,
        duration: 400,
    };
    assert_eq!(run(&mut c, &event_packet(1, 8000, true, ev)).len(), 1);
    let silence = [0i16; 160];
    assert!(run(&mut c, &audio_packet(2, 8400, PCMA, &silence)).is_empty());
    // 250 ms after the last rendered sample: the event is over.
    let out = run(&mut c, &audio_packet(3, 10_400, PCMA, &silence));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].h.sequence, 2, "the dropped packet leaves no hole");
}

#[test]
fn a_leg_taking_both_gets_the_tone_and_the_event_renumbered() {
    let mut c = DtmfConverter::new(DtmfPath {
        render: Some(RenderPath {
            events_in: 101,
            tones_out: PCMU,
            also_events: Some(96),
        }),
        detect: None,
    });
    let out: Vec<Out> = sipp_digit_one()
        .iter()
        .flat_map(|p| run(&mut c, p))
        .collect();
    // The repeated end packets keep their one sequence number, as sent.
    let mut distinct = out.clone();
    distinct.dedup_by_key(|o| o.h.sequence);
    assert_eq!(distinct.len(), out.len() - 2);
    assert_contiguous(&distinct);
    let events: Vec<TelephoneEvent> = out
        .iter()
        .filter(|o| o.h.payload_type == 96)
        .map(|o| TelephoneEvent::decode(o.payload()).expect("event"))
        .collect();
    assert_eq!(events.len(), 10, "every event packet goes on");
    assert_eq!(events.iter().filter(|e| e.end).count(), 3);
    assert!(out
        .iter()
        .filter(|o| o.h.payload_type == 96)
        .all(|o| o.h.timestamp == 13280));
    let audio: Vec<Out> = out.into_iter().filter(|o| o.h.payload_type == 0).collect();
    assert_eq!(audio.iter().map(|o| o.payload().len()).sum::<usize>(), 2240);
    assert_eq!(detect_digits(Law::Ulaw, &audio).len(), 1);
}

/// 8 kHz audio: `lead` ms of silence, `digit` for `tone` ms, silence to
/// `total` ms; cut in 20 ms packets from sequence 100, timestamp 5000.
fn tone_packets(fmt: AudioFormat, digit: char, lead: u64, tone: u64, total: u64) -> Vec<Vec<u8>> {
    let mut pcm = vec![0i16; (total * 8) as usize];
    let d = Digit::from_symbol(digit).expect("digit");
    let mut g = ToneGenerator::digit(d, -10.0, tone * 8);
    g.fill(&mut pcm[(lead * 8) as usize..]);
    pcm.chunks(160)
        .enumerate()
        .map(|(i, c)| audio_packet(100 + i as u16, 5000 + 160 * i as u32, fmt, c))
        .collect()
}

#[test]
fn a_tone_in_the_audio_becomes_rfc4733_events_in_its_place() {
    let mut c = DtmfConverter::new(DtmfPath {
        render: None,
        detect: Some(DetectPath {
            audio_in: PCMA,
            events_out: 101,
            keep_audio: false,
        }),
    });
    let out: Vec<Out> = tone_packets(PCMA, '5', 200, 120, 600)
        .iter()
        .flat_map(|p| run(&mut c, p))
        .collect();
    assert_contiguous(&out);
    let events: Vec<(bool, u32, TelephoneEvent)> = out
        .iter()
        .filter(|o| o.h.payload_type == 101)
        .map(|o| {
            (
                o.h.marker,
                o.h.timestamp,
                TelephoneEvent::decode(o.payload()).expect("event"),
            )
        })
        .collect();
    assert!(!events.is_empty(), "events sent");
    let (_, ts, _) = events[0];
    assert!(events[0].0, "the first event packet has the marker");
    assert!(events.iter().skip(1).all(|e| !e.0 && e.1 == ts));
    // The tone began 200 ms in: timestamp 5000 + 1600, within a window.
    assert!((6_550..=6_650).contains(&ts), "event timestamp {ts}");
    assert!(events.iter().all(|e| e.2.event == 5 && e.2.volume == 10));
    let ends: Vec<&TelephoneEvent> = events.iter().map(|e| &e.2).filter(|e| e.end).collect();
    assert_eq!(ends.len(), 3, "three end packets");
    assert!(ends.iter().all(|e| e.duration == ends[0].duration));
    // Within the detector's edges (a window and a hop at each end).
    assert!(
        (800..=1120).contains(&ends[0].duration),
        "120 ms tone: {}",
        ends[0].duration
    );
    let durations: Vec<u16> = events.iter().map(|e| e.2.duration).collect();
    assert!(durations.windows(2).all(|w| w[0] <= w[1]), "{durations:?}");
    // Audio before the tone was confirmed and after the end packets flows.
    let audio: Vec<&Out> = out.iter().filter(|o| o.h.payload_type == 8).collect();
    assert!(audio.len() >= 20, "audio resumes after the digit");
    assert_eq!(c.digits_detected(), 1);
}

#[test]
fn a_both_leg_keeps_the_tone_and_gets_events_next_to_it() {
    let mut c = DtmfConverter::new(DtmfPath {
        render: None,
        detect: Some(DetectPath {
            audio_in: PCMU,
            events_out: 96,
            keep_audio: true,
        }),
    });
    let sent = tone_packets(PCMU, '#', 100, 200, 500);
    let out: Vec<Out> = sent.iter().flat_map(|p| run(&mut c, p)).collect();
    assert_contiguous(&out);
    let audio: Vec<&Out> = out.iter().filter(|o| o.h.payload_type == 0).collect();
    assert_eq!(audio.len(), sent.len(), "no audio dropped");
    for (a, s) in audio.iter().zip(&sent) {
        assert_eq!(a.payload(), &s[12..], "audio untouched");
    }
    let events: Vec<TelephoneEvent> = out
        .iter()
        .filter(|o| o.h.payload_type == 96)
        .map(|o| TelephoneEvent::decode(o.payload()).expect("event"))
        .collect();
    assert!(events.iter().all(|e| e.event == 11), "# is event 11");
    assert_eq!(events.iter().filter(|e| e.end).count(), 3);
}

#[test]
fn speech_like_noise_and_non_dtmf_events_produce_nothing() {
    let mut c = DtmfConverter::new(DtmfPath {
        render: Some(RenderPath {
            events_in: 101,
            tones_out: PCMU,
            also_events: None,
        }),
        detect: Some(DetectPath {
            audio_in: PCMU,
            events_out: 101,
            keep_audio: false,
        }),
    });
    // Event 16 (flash) has no tone; a malformed event payload neither.
    let flash = TelephoneEvent {
        event: 16,
        end: false,
        reserved: false,
        volume: 10,
        duration: 800,
    };
    assert!(run(&mut c, &event_packet(1, 0, true, flash)).is_empty());
    let mut short = event_packet(2, 0, false, flash);
    short.truncate(14);
    assert!(run(&mut c, &short).is_empty());
    // A single 1 kHz tone is not a digit: audio passes as it was.
    let pcm: Vec<i16> = (0..160)
        .map(|i| (8000.0 * (std::f64::consts::TAU * 1000.0 * i as f64 / 8000.0).sin()) as i16)
        .collect();
    for k in 0..20u16 {
        let p = audio_packet(3 + k, 160 * u32::from(k), PCMU, &pcm);
        let out = run(&mut c, &p);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].bytes[12..], p[12..]);
        assert_eq!(out[0].h.sequence, 1 + k, "numbered after the two dropped");
    }
    assert_eq!(c.digits_detected(), 0);
}
