//! A global allocator that counts every allocation in the process (all
//! threads) while counting is on; each call goes to the system allocator
//! unchanged.
//!
//! Shared by `benches/relay_load.rs` and `tests/media_alloc.rs`, which
//! take it with `#[path]` (a bench and an integration test are crates of
//! their own with no other module in common): including it installs it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

struct Counting;

#[global_allocator]
static GLOBAL: Counting = Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static TRACE: AtomicBool = AtomicBool::new(false);

thread_local! {
    static IN_TRACE: Cell<bool> = const { Cell::new(false) };
}

/// Counts from zero from now on; with `trace`, prints a backtrace of the
/// first few allocations counted, to find where they come from.
pub fn start(trace: bool) {
    TRACE.store(trace, Ordering::SeqCst);
    ALLOCS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
}

/// Stops counting; returns the allocations counted since `start`.
pub fn stop() -> u64 {
    COUNTING.store(false, Ordering::SeqCst);
    ALLOCS.load(Ordering::SeqCst)
}

impl Counting {
    fn count(&self) {
        if !COUNTING.load(Ordering::Relaxed) {
            return;
        }
        let seen = ALLOCS.fetch_add(1, Ordering::Relaxed);
        // The backtrace allocates too: those are skipped by a per-thread
        // flag (and counted, which does not matter once one is seen).
        if TRACE.load(Ordering::Relaxed) && seen < 5 && !IN_TRACE.with(|t| t.replace(true)) {
            eprintln!(
                "allocation on thread {:?}:\n{}",
                std::thread::current().name(),
                std::backtrace::Backtrace::force_capture()
            );
            IN_TRACE.with(|t| t.set(false));
        }
    }
}

// SAFETY: every call is passed to the system allocator unchanged; the
// counting only touches atomics and a thread-local flag.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.count();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}
