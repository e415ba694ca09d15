//! Retry delays after failures: exponential, capped, with jitter so that a
//! fleet of boxes behind one outage does not retry in step (RFC 5626 §4.5
//! uses the same shape).

use std::time::Duration;

/// The wait before attempt `failures + 1`: base·2^(failures−1), capped at
/// `max`, then scaled by a random factor in [0.5, 1.0].
pub fn retry_delay(
    failures: u32,
    base: Duration,
    max: Duration,
    rng: &mut fastrand::Rng,
) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    let full = base.saturating_mul(1u32 << exp).min(max);
    full.mul_f64(0.5 + 0.5 * rng.f64())
}

/// When to refresh a registration granted for `granted`: at most half the
/// granted time, and no later than 30 s before it runs out where the grant
/// is long enough for both.
pub fn refresh_delay(granted: Duration) -> Duration {
    let secs = granted.as_secs_f64();
    let delay = if secs > 60.0 {
        secs / 2.0
    } else if secs > 30.0 {
        secs - 30.0
    } else {
        secs / 2.0
    };
    Duration::from_secs_f64(delay.max(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_jitter_in_range() {
        let mut rng = fastrand::Rng::with_seed(1);
        let base = Duration::from_secs(10);
        let max = Duration::from_secs(300);
        for (failures, full) in [
            (1, 10),
            (2, 20),
            (3, 40),
            (4, 80),
            (5, 160),
            (6, 300),
            (7, 300),
            (40, 300),
        ] {
            for _ in 0..50 {
                let d = retry_delay(failures, base, max, &mut rng);
                assert!(
                    d >= Duration::from_secs(full) / 2 && d <= Duration::from_secs(full),
                    "{failures}: {d:?}"
                );
            }
        }
    }

    #[test]
    fn refresh_timing() {
        let s = Duration::from_secs;
        assert_eq!(refresh_delay(s(3600)), s(1800));
        assert_eq!(refresh_delay(s(120)), s(60));
        assert_eq!(refresh_delay(s(50)), s(20));
        assert_eq!(refresh_delay(s(6)), s(3));
        assert_eq!(refresh_delay(s(1)), s(1));
        for g in [61, 100, 600, 3600, 86_400] {
            let d = refresh_delay(s(g));
            assert!(d <= s(g) / 2 && s(g) - d >= s(30), "{g}");
        }
    }
}
