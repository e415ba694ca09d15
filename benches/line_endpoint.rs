//! CPU time of one local line's call audio, per second of call, on one
//! core (CPU time of this thread, not wall time: the machine is shared).
//!
//! A line-call second is 50 × `capture` (G.711 encode, the in-band DTMF
//! detector, RTP out) + 50 × `receive` (RTP parse, decode into the jitter
//! buffer) + 50 × `playout` (jitter buffer read, concealment). Two
//! endpoints talk: A's packets go to B. Rows: a clean network; one with
//! 5 % loss and reordering (concealment and steering at work); and the
//! clean one with a key pressed every second (event packets).
//!
//! Run: `cargo bench --bench line_endpoint`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use pbxgate::line::audio::{
    EndpointParams, Frame, JitterSettings, LineEndpoint, FRAME_SAMPLES, G711,
};

mod common;
use common::measure;

fn params(ssrc: u32) -> EndpointParams {
    EndpointParams {
        codec: G711::Ulaw,
        payload_type: 0,
        event_payload_type: Some(101),
        send_events: true,
        ssrc,
        first_seq: 0,
        first_timestamp: 0,
    }
}

struct Call {
    a: LineEndpoint,
    b: LineEndpoint,
    t0: Instant,
    k: u32,
    noise: u32,
    /// One packet held back (reordering), if any.
    held: ([u8; 172], usize),
}

impl Call {
    fn new() -> Call {
        let t0 = Instant::now();
        Call {
            a: LineEndpoint::new(params(1), JitterSettings::default(), t0),
            b: LineEndpoint::new(params(2), JitterSettings::default(), t0),
            t0,
            k: 0,
            noise: 1,
            held: ([0; 172], 0),
        }
    }

    /// One second of call: 50 captures on A, 50 receives and playouts on B.
    fn second(&mut self, lossy: bool, keys: bool) {
        for _ in 0..50 {
            let k = self.k;
            self.k += 1;
            let now = self.t0 + Duration::from_millis(20) * (k + 1);
            let mut f: Frame = [0; FRAME_SAMPLES];
            for s in f.iter_mut() {
                self.noise = self
                    .noise
                    .wrapping_mul(1_664_525)
                    .wrapping_add(1_013_904_223);
                *s = (self.noise >> 20) as i16 - 2048;
            }
            if keys && k % 50 == 10 {
                self.a.press('5', Duration::from_millis(100), now);
            }
            let mut pkt = ([0u8; 172], 0usize);
            self.a.capture(black_box(&f), now, &mut |p| {
                pkt.0[..p.len()].copy_from_slice(p);
                pkt.1 = p.len();
            });
            let (bytes, len) = pkt;
            if lossy && self.held.1 > 0 {
                self.b.receive(&self.held.0[..self.held.1], now);
                self.held.1 = 0;
            }
            match (lossy, k % 20) {
                (true, 3) => {}
                (true, 11) => self.held = (bytes, len),
                _ => self.b.receive(&bytes[..len], now),
            }
            let mut out: Frame = [0; FRAME_SAMPLES];
            self.b.playout(now + Duration::from_millis(7), &mut out);
            black_box(&out);
        }
    }
}

fn main() {
    let budget = Duration::from_millis(400);
    println!(
        "line endpoint: CPU per line-call second (50 × capture + 50 × receive + 50 × playout)"
    );
    for (name, lossy, keys) in [
        ("clean", false, false),
        ("5% loss+reorder", true, false),
        ("key every second", false, true),
    ] {
        let mut call = Call::new();
        let ns = measure(budget, 1, || call.second(lossy, keys));
        let s = call.b.stats();
        println!(
            "  {name:<18} {:>8.1} µs per call-second  ({:.3} % of a core; {:.0} lines per core)  lost={} concealed={} events_out={}",
            ns / 1e3,
            ns / 1e9 * 100.0,
            1e9 / ns,
            s.lost,
            s.concealed,
            call.a.stats().events_out,
        );
    }
}
