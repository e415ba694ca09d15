//! What the CPU-time benchmarks share: the CPU time of the measuring thread
//! (not wall time: the machine is shared) and a best-of-five loop. Each
//! bench is a crate of its own and takes this with `mod common;`.

use std::time::Duration;

/// CPU time this thread has run.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Runs `f` in batches of `batch` calls (more than one where a call is
/// short beside reading the clock) until at least `budget` of CPU time was
/// spent; returns CPU nanoseconds per call, best of 5 rounds.
pub fn measure(budget: Duration, batch: u64, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = thread_cpu();
        let mut n = 0u64;
        while thread_cpu() - start < budget {
            for _ in 0..batch {
                f();
            }
            n += batch;
        }
        best = best.min((thread_cpu() - start).as_nanos() as f64 / n as f64);
    }
    best
}
