//! Q.24 behaviour of the in-band detector on generated signals. Levels are
//! per tone in dBm0; durations in ms at 8 kHz.

use super::classify::HOP;
use super::detector::{detect_all, DtmfDetector, DtmfEvent};
use super::digit::Digit;
use super::tone::{peak_for_dbm0, ToneGenerator};

fn samples(ms: f64) -> u64 {
    (ms * 8.0).round() as u64
}

#[derive(Default)]
struct Signal(Vec<i16>);

impl Signal {
    fn silence(mut self, ms: f64) -> Self {
        let n = self.0.len() + samples(ms) as usize;
        self.0.resize(n, 0);
        self
    }

    fn pad(mut self, n: usize) -> Self {
        self.0.resize(self.0.len() + n, 0);
        self
    }

    fn digit(mut self, d: Digit, dbm0: f64, ms: f64) -> Self {
        ToneGenerator::digit(d, dbm0, samples(ms)).render_into(&mut self.0);
        self
    }

    fn dual(mut self, lo: f64, lo_db: f64, hi: f64, hi_db: f64, ms: f64) -> Self {
        ToneGenerator::dual(lo, lo_db, hi, hi_db, samples(ms)).render_into(&mut self.0);
        self
    }

    /// Adds white Gaussian noise of RMS `rms` (approximated by a sum of 12
    /// uniforms) from a fixed seed.
    fn noise(mut self, rms: f64, seed: u64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        for s in &mut self.0 {
            let g: f64 = (0..12).map(|_| rng.f64()).sum::<f64>() - 6.0;
            let v = f64::from(*s) + g * rms;
            *s = v.round().clamp(-32768.0, 32767.0) as i16;
        }
        self
    }
}

/// Digits started, in order.
fn starts(events: &[DtmfEvent]) -> String {
    events
        .iter()
        .filter(|e| e.end_sample.is_none())
        .map(|e| e.digit.symbol())
        .collect()
}

/// RMS of a pair of tones, both at `dbm0`.
fn pair_rms(lo_db: f64, hi_db: f64) -> f64 {
    let (a, b) = (peak_for_dbm0(lo_db), peak_for_dbm0(hi_db));
    ((a * a + b * b) / 2.0).sqrt()
}

#[test]
fn all_sixteen_digits() {
    for d in Digit::ALL {
        let x = Signal::default()
            .silence(50.0)
            .digit(d, -10.0, 60.0)
            .silence(80.0);
        let ev = detect_all(&x.0);
        assert_eq!(ev.len(), 2, "{d:?}: {ev:?}");
        assert_eq!(ev[0].digit, d);
        assert_eq!(ev[0].end_sample, None);
        assert_eq!(ev[1].digit, d);
        let (s, e) = (ev[1].start_sample, ev[1].end_sample.unwrap_or(0));
        // Tone from 400 to 880: edges within about half a hop.
        assert!((400 - 36..=400 + 36).contains(&s), "{d:?} start {s}");
        assert!((880 - 36..=880 + 36).contains(&e), "{d:?} end {e}");
    }
}

#[test]
fn a_dialled_string() {
    let mut x = Signal::default().silence(30.0);
    for c in "0123456789*#ABCD".chars() {
        let d = Digit::from_symbol(c).expect("digit");
        x = x.digit(d, -7.0, 50.0).silence(50.0);
    }
    let ev = detect_all(&x.0);
    assert_eq!(starts(&ev), "0123456789*#ABCD");
    assert_eq!(ev.len(), 32);
}

#[test]
fn chunking_does_not_matter() {
    let x = Signal::default()
        .silence(13.0)
        .digit(Digit::D7, -12.0, 45.0)
        .silence(41.0)
        .digit(Digit::Hash, -12.0, 70.0)
        .silence(60.0)
        .noise(30.0, 3);
    let whole = detect_all(&x.0);
    let mut det = DtmfDetector::new();
    let mut one_by_one = Vec::new();
    for s in &x.0 {
        det.push(std::slice::from_ref(s), &mut |e| one_by_one.push(e));
    }
    assert_eq!(whole, one_by_one);
    assert_eq!(starts(&whole), "7#");
    assert_eq!(det.samples_seen(), x.0.len() as u64);
}

/// Off-frequency pairs: for every digit, each tone alone and both together
/// moved by the given percentage.
fn detects_with_offset(d: Digit, lo_pct: f64, hi_pct: f64) -> bool {
    let (lo, hi) = d.frequencies();
    let lo = f64::from(lo) * (1.0 + lo_pct / 100.0);
    let hi = f64::from(hi) * (1.0 + hi_pct / 100.0);
    let x = Signal::default()
        .silence(20.0)
        .dual(lo, -10.0, hi, -10.0, 100.0)
        .silence(60.0);
    starts(&detect_all(&x.0)) == d.symbol().to_string()
}

#[test]
fn frequency_within_1_5_percent_detects() {
    let cases = [
        (1.5, 0.0),
        (-1.5, 0.0),
        (0.0, 1.5),
        (0.0, -1.5),
        (1.5, 1.5),
        (-1.5, -1.5),
        (1.5, -1.5),
        (-1.5, 1.5),
    ];
    for d in Digit::ALL {
        for (lo, hi) in cases {
            assert!(detects_with_offset(d, lo, hi), "{d:?} low {lo}% high {hi}%");
        }
    }
}

#[test]
fn frequency_beyond_3_5_percent_rejects() {
    let cases = [(3.5, 0.0), (-3.5, 0.0), (0.0, 3.5), (0.0, -3.5)];
    for d in Digit::ALL {
        for (lo, hi) in cases {
            let x = {
                let (l, h) = d.frequencies();
                Signal::default()
                    .silence(20.0)
                    .dual(
                        f64::from(l) * (1.0 + lo / 100.0),
                        -10.0,
                        f64::from(h) * (1.0 + hi / 100.0),
                        -10.0,
                        100.0,
                    )
                    .silence(60.0)
            };
            let ev = detect_all(&x.0);
            assert!(ev.is_empty(), "{d:?} low {lo}% high {hi}%: {ev:?}");
        }
    }
}

#[test]
fn frequency_further_off_never_detects_the_digit() {
    // Between 3.5 % and 15 % the pair must not be read as its digit; past
    // that it may reach a neighbouring frequency and become another digit.
    for d in Digit::ALL {
        for step in 0..24 {
            let pct = 3.5 + 0.5 * f64::from(step);
            for (lo, hi) in [(pct, 0.0), (-pct, 0.0), (0.0, pct), (0.0, -pct)] {
                assert!(!detects_with_offset(d, lo, hi), "{d:?} {lo}% {hi}%");
            }
        }
    }
}

fn detects_with_twist(d: Digit, lo_db: f64, hi_db: f64, lo_pct: f64, hi_pct: f64) -> bool {
    let (lo, hi) = d.frequencies();
    let x = Signal::default()
        .silence(20.0)
        .dual(
            f64::from(lo) * (1.0 + lo_pct / 100.0),
            lo_db,
            f64::from(hi) * (1.0 + hi_pct / 100.0),
            hi_db,
            100.0,
        )
        .silence(60.0);
    let ev = detect_all(&x.0);
    assert!(
        ev.is_empty() || starts(&ev) == d.symbol().to_string(),
        "{ev:?}"
    );
    !ev.is_empty()
}

#[test]
fn twist_plus_4_and_minus_8_detect() {
    // Twist = level(high) − level(low); tried at the nominal frequencies
    // and with both tones 1.5 % off, where the measurement is hardest.
    for d in Digit::ALL {
        for (lo_db, hi_db) in [
            (-14.0, -10.0),
            (-6.0, -14.0),
            (-25.0, -21.0),
            (-10.0, -18.0),
        ] {
            for (lp, hp) in [(0.0, 0.0), (1.5, -1.5), (-1.5, 1.5), (1.5, 1.5)] {
                assert!(
                    detects_with_twist(d, lo_db, hi_db, lp, hp),
                    "{d:?} low {lo_db} high {hi_db} offsets {lp}/{hp}"
                );
            }
        }
    }
}

#[test]
fn twist_beyond_limits_rejects() {
    // Limits are +5 dB and −9 dB; +6 dB and −10 dB must fail everywhere.
    for d in Digit::ALL {
        for (lo_db, hi_db) in [(-16.0, -10.0), (-6.0, -16.0), (-20.0, -10.0), (-5.0, -20.0)] {
            for (lp, hp) in [(0.0, 0.0), (1.5, -1.5), (-1.5, 1.5)] {
                assert!(
                    !detects_with_twist(d, lo_db, hi_db, lp, hp),
                    "{d:?} low {lo_db} high {hi_db} offsets {lp}/{hp}"
                );
            }
        }
    }
}

/// Runs a tone of `ms` at every alignment to the analysis hop.
fn detections_at_all_alignments(d: Digit, ms: f64) -> Vec<usize> {
    (0..HOP)
        .step_by(3)
        .map(|pad| {
            let x = Signal::default()
                .pad(pad)
                .silence(20.0)
                .digit(d, -10.0, ms)
                .silence(60.0);
            starts(&detect_all(&x.0)).len()
        })
        .collect()
}

#[test]
fn forty_ms_tones_always_detect() {
    for d in Digit::ALL {
        let n = detections_at_all_alignments(d, 40.0);
        assert!(n.iter().all(|&k| k == 1), "{d:?}: {n:?}");
    }
}

#[test]
fn short_tones_never_detect() {
    for d in Digit::ALL {
        for ms in [10.0, 20.0, 25.0, 28.0] {
            let n = detections_at_all_alignments(d, ms);
            assert!(n.iter().all(|&k| k == 0), "{d:?} {ms} ms: {n:?}");
        }
    }
}

/// Two tones separated by a gap of `gap_ms`, at every hop alignment;
/// returns the distinct digit strings seen.
fn with_gap(a: Digit, b: Digit, gap_ms: f64) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for pad in (0..HOP).step_by(3) {
        let x = Signal::default()
            .pad(pad)
            .silence(20.0)
            .digit(a, -10.0, 60.0)
            .silence(gap_ms)
            .digit(b, -10.0, 60.0)
            .silence(80.0);
        let ev = detect_all(&x.0);
        // Every start has its end.
        assert_eq!(ev.len(), 2 * starts(&ev).len(), "{ev:?}");
        let s = starts(&ev);
        if !seen.contains(&s) {
            seen.push(s);
        }
    }
    seen
}

#[test]
fn forty_ms_pause_separates_digits() {
    assert_eq!(with_gap(Digit::D5, Digit::D5, 40.0), ["55"]);
    assert_eq!(with_gap(Digit::D1, Digit::D9, 40.0), ["19"]);
    assert_eq!(with_gap(Digit::Star, Digit::D0, 40.0), ["*0"]);
}

#[test]
fn short_gaps_bridge_equal_digits() {
    // Documented rule: a gap of up to 22 ms between equal digits is one
    // digit (this includes Q.24's 10 ms interruptions); different digits
    // are two whatever the gap.
    for gap in [5.0, 10.0, 20.0] {
        assert_eq!(with_gap(Digit::D5, Digit::D5, gap), ["5"], "{gap} ms");
        assert_eq!(with_gap(Digit::D3, Digit::D6, gap), ["36"], "{gap} ms");
    }
    assert_eq!(with_gap(Digit::D2, Digit::D8, 0.0), ["28"]);
}

#[test]
fn level_limits() {
    // Operate range taken: −25 dBm0 to 0 dBm0 per tone, with margin below.
    // A pair at 0 dBm0 each peaks 6 dB over the 16-bit (and G.711) overload
    // point, so the generator clips it, as a codec would; still detected.
    for d in Digit::ALL {
        for db in [0.0, -3.0, -10.0, -20.0, -25.0, -30.0, -34.0] {
            let x = Signal::default()
                .silence(20.0)
                .digit(d, db, 60.0)
                .silence(60.0);
            assert_eq!(
                starts(&detect_all(&x.0)),
                d.symbol().to_string(),
                "{d:?} {db}"
            );
        }
        // −25 dBm0 with −8 dB twist: the weak tone at −33 dBm0.
        assert!(detects_with_twist(d, -25.0, -33.0, 0.0, 0.0), "{d:?}");
        for db in [-37.0, -40.0, -45.0, -55.0] {
            let x = Signal::default()
                .silence(20.0)
                .digit(d, db, 60.0)
                .silence(60.0);
            assert!(detect_all(&x.0).is_empty(), "{d:?} {db}");
        }
    }
}

#[test]
fn detects_in_white_noise() {
    // SNR = power of the pair / power of the noise over the whole band.
    let snr_db = 10.0;
    for (i, d) in Digit::ALL.into_iter().enumerate() {
        for db in [-10.0, -20.0] {
            let rms = pair_rms(db, db) / 10f64.powf(snr_db / 20.0);
            let x = Signal::default()
                .silence(100.0)
                .digit(d, db, 60.0)
                .silence(100.0)
                .digit(d, db, 60.0)
                .silence(100.0)
                .noise(rms, 100 + i as u64);
            let ev = detect_all(&x.0);
            let want: String = [d.symbol(); 2].iter().collect();
            assert_eq!(starts(&ev), want, "{d:?} {db} dBm0: {ev:?}");
        }
    }
}

#[test]
fn noise_alone_never_detects() {
    // 20 s of white noise at each of six levels, from far below the floor
    // to loud (RMS 6000 ≈ −8 dBm0).
    for (i, rms) in [10.0, 100.0, 300.0, 1000.0, 3000.0, 6000.0]
        .into_iter()
        .enumerate()
    {
        let x = Signal::default().silence(20_000.0).noise(rms, 7 + i as u64);
        let ev = detect_all(&x.0);
        assert!(ev.is_empty(), "rms {rms}: {ev:?}");
    }
}

/// The edges an RFC 4733 event is cut from: every digit at three levels,
/// two lengths and every alignment to the 52-sample hop. Measured: start
/// −30…+32, end −33…+31, length −46…+42 samples.
#[test]
fn edges_are_the_tones_own_at_every_alignment() {
    let (mut start, mut end, mut len) = ((0i64, 0i64), (0i64, 0i64), (0i64, 0i64));
    let widen = |r: &mut (i64, i64), v: i64| *r = (r.0.min(v), r.1.max(v));
    for dbm0 in [0.0, -10.0, -25.0] {
        for d in Digit::ALL {
            for ms in [40u64, 100] {
                for lead in 0..HOP {
                    let x = Signal::default()
                        .pad(400 + lead)
                        .digit(d, dbm0, ms as f64)
                        .silence(80.0);
                    let ev = detect_all(&x.0);
                    assert_eq!(ev.len(), 2, "{d:?} {dbm0} dBm0 {ms} ms +{lead}: {ev:?}");
                    let on = 400 + lead as i64;
                    let off = on + 8 * ms as i64;
                    let (s, e) = (
                        ev[1].start_sample as i64,
                        ev[1].end_sample.unwrap_or(0) as i64,
                    );
                    widen(&mut start, s - on);
                    widen(&mut end, e - off);
                    widen(&mut len, (e - s) - (off - on));
                }
            }
        }
    }
    // Half a hop (26), plus slack for the beat between the two tones,
    // which moves a quarter's power by ±15 %.
    let within = |r: (i64, i64), lim: i64| -lim <= r.0 && r.1 <= lim;
    assert!(within(start, 36), "start off by {start:?}");
    assert!(within(end, 36), "end off by {end:?}");
    // 6 ms: well inside the 10 ms an event's duration may be off by.
    assert!(within(len, 48), "length off by {len:?}");
}
