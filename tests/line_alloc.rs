//! A line's audio endpoint allocates nothing per frame or packet: the
//! sans-IO core (`pbxgate::line::audio::LineEndpoint`) is driven as the
//! audio thread drives it, a capture, a receive and a playout every
//! 20 ms, with key presses, in-band digits, reordering and loss, while a
//! counting global allocator counts every allocation in the process. Its
//! own test binary, so the allocator (`benches/common/counting_alloc.rs`)
//! is only here. The test fails on a single allocation in the window.
//!
//! `PBXGATE_ALLOC_TRACE=1` prints a backtrace of the first few.

use std::time::{Duration, Instant};

use pbxgate::line::audio::{
    EndpointParams, Frame, JitterSettings, LineEndpoint, FRAME_SAMPLES, G711,
};
use pbxgate::media::dtmf::{Digit, ToneGenerator};

#[path = "../benches/common/counting_alloc.rs"]
mod counting_alloc;

fn params(ssrc: u32, send_events: bool) -> EndpointParams {
    EndpointParams {
        codec: G711::Ulaw,
        payload_type: 0,
        event_payload_type: Some(101),
        send_events,
        ssrc,
        first_seq: 100,
        first_timestamp: 1000,
    }
}

/// Two endpoints talking to each other for `frames` frames from frame
/// `from`: A's packets reach B with some reordering and loss, keys are
/// pressed on A and digits sounded in its audio.
fn talk(a: &mut LineEndpoint, b: &mut LineEndpoint, t0: Instant, from: u32, frames: u32) {
    let mut held: [([u8; 172], usize); 1] = [([0; 172], 0); 1];
    let mut noise = 1u32;
    let mut tone: Option<ToneGenerator> = None;
    for k in from..from + frames {
        let now = t0 + Duration::from_millis(20) * (k + 1);
        let mut f: Frame = [0; FRAME_SAMPLES];
        for s in f.iter_mut() {
            noise = noise.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *s = (noise >> 22) as i16 - 512;
        }
        match k % 100 {
            // A key only the board reports.
            20 => a.press('4', Duration::from_millis(120), now),
            // A key in the audio, reported too.
            50 => tone = Some(ToneGenerator::digit(Digit::D7, -10.0, 960)),
            56 => a.press('7', Duration::from_millis(120), now),
            _ => {}
        }
        if let Some(g) = tone.as_mut() {
            g.fill(&mut f);
        }
        // Every 7th packet held back one frame (reordered), every 23rd lost.
        let mut out = [([0u8; 172], 0usize); 1];
        a.capture(&f, now, &mut |p| {
            out[0].0[..p.len()].copy_from_slice(p);
            out[0].1 = p.len();
        });
        let (pkt, len) = out[0];
        if held[0].1 > 0 {
            b.receive(&held[0].0[..held[0].1], now);
            held[0].1 = 0;
        }
        if len > 0 && k % 23 != 0 {
            if k % 7 == 0 {
                held[0] = (pkt, len);
            } else {
                b.receive(&pkt[..len], now + Duration::from_millis(u64::from(k % 5)));
            }
        }
        let mut play: Frame = [0; FRAME_SAMPLES];
        b.playout(now + Duration::from_millis(7), &mut play);
        a.playout(now + Duration::from_millis(7), &mut play);
    }
}

#[test]
fn the_line_endpoint_allocates_nothing_per_frame() {
    for send_events in [true, false] {
        let t0 = Instant::now();
        let settings = JitterSettings::default();
        let mut a = LineEndpoint::new(params(1, send_events), settings, t0);
        let mut b = LineEndpoint::new(params(2, send_events), settings, t0);
        // Warm-up: one second.
        talk(&mut a, &mut b, t0, 0, 50);
        counting_alloc::start(std::env::var_os("PBXGATE_ALLOC_TRACE").is_some());
        // Five seconds of call.
        talk(&mut a, &mut b, t0, 50, 250);
        let allocs = counting_alloc::stop();
        assert_eq!(allocs, 0, "allocations with send_events={send_events}");
        // The window did what it should: digits went, packets were lost
        // and concealed.
        let sa = a.stats();
        let sb = b.stats();
        assert!(sa.digits_keypad >= 2 && sa.digits_in_band >= 2, "{sa:?}");
        assert!(sb.lost > 0 && sb.concealed > 0, "{sb:?}");
    }
}
