//! Whether the wall clock can be trusted. A board without a battery-backed
//! clock (a Raspberry Pi) starts at the last saved time, or 1970, until
//! NTP has synchronised it; events made before carry `clockSynced: false`.
//! A read of the kernel's state, for the shell (the core is told).

/// The kernel's verdict, on Linux from adjtimex(2) with no changes asked:
/// synced when its status lacks `STA_UNSYNC` (which NTP daemons, chrony
/// and systemd-timesyncd clear once the clock is disciplined) and it does
/// not report `TIME_ERROR`. Elsewhere: false, never known.
pub fn synced() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: a zeroed timex with modes = 0 only reads the state.
        let mut tx: libc::timex = unsafe { std::mem::zeroed() };
        let state = unsafe { libc::adjtimex(&mut tx) };
        state >= 0 && state != libc::TIME_ERROR && tx.status & libc::STA_UNSYNC == 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    /// Only that it answers (the test machine's clock may be either).
    #[test]
    fn the_kernel_answers() {
        let _ = super::synced();
    }
}
