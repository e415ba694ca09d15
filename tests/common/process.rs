//! Other real programs the tests start, and waiting for things to happen.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Calls `f` every 20 ms until it returns something or `timeout` passes.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(t) = f() {
            return Some(t);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits up to `timeout` for `child` to end by itself.
pub fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    poll(timeout, || child.try_wait().ok().flatten())
}

/// A child process that is ended and reaped when dropped, whatever the
/// test did.
pub struct KillOnDrop {
    child: Child,
    signal: i32,
}

impl KillOnDrop {
    /// Ended with SIGKILL.
    pub fn new(child: Child) -> KillOnDrop {
        KillOnDrop {
            child,
            signal: libc::SIGKILL,
        }
    }

    /// Ended with SIGTERM, for a child that stops others on its way out.
    pub fn term(child: Child) -> KillOnDrop {
        KillOnDrop {
            child,
            signal: libc::SIGTERM,
        }
    }

    /// The exit status, if the child has ended already.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.exited().is_none() {
            // SAFETY: kill(2) on our own child's pid, not yet reaped.
            unsafe { libc::kill(self.child.id() as i32, self.signal) };
        }
        let _ = self.child.wait();
    }
}

/// dnsmasq in the foreground on `listen`:`port`, serving only what
/// `records` (more dnsmasq options) say. Debian's dnsmasq-base, installed
/// by tests/run.sh, lives in /usr/sbin.
pub fn start_dnsmasq(listen: &str, port: u16, records: &[String]) -> KillOnDrop {
    let binary = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/sbin/dnsmasq"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("dnsmasq");
    let child = Command::new(binary)
        .args([
            "--no-daemon",
            "--conf-file=/dev/null",
            "--pid-file=",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
        ])
        .arg(format!("--listen-address={listen}"))
        .arg(format!("--port={port}"))
        .args(records)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start dnsmasq ({e}); install Debian's dnsmasq-base (tests/run.sh does)")
        });
    KillOnDrop::new(child)
}

/// Runs one of the checkers in tests/peers with python3; asserts that it
/// passed, with its output in the message.
pub fn python3(script: &str, args: &[&str], what: &str) {
    let out = Command::new("python3")
        .arg(
            Path::new(super::MANIFEST_DIR)
                .join("tests/peers")
                .join(script),
        )
        .args(args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{what}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
