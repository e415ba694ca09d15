//! sipp, the real SIP peer of the end-to-end tests (Debian package
//! sip-tester; tests/run.sh installs it), with the scenarios of tests/sipp.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::process::wait_child;

/// The path of a scenario file of tests/sipp.
pub fn scenario(name: &str) -> PathBuf {
    Path::new(super::MANIFEST_DIR).join("tests/sipp").join(name)
}

/// One sipp command line: a scenario of tests/sipp, where sipp binds,
/// where it sends (for a caller), how many calls, and any other options.
#[derive(Clone, Debug)]
pub struct Sipp {
    file: String,
    remote: Option<String>,
    calls: u32,
    args: Vec<String>,
}

impl Sipp {
    /// `name` from tests/sipp, one call (`-m 1`) unless told otherwise.
    pub fn new(name: &str) -> Sipp {
        Sipp {
            file: scenario(name).to_str().expect("path").to_string(),
            remote: None,
            calls: 1,
            args: Vec::new(),
        }
    }

    /// Signalling on ip:port (`-i`, `-p`).
    pub fn on(self, ip: &str, port: u16) -> Sipp {
        self.arg("-i").arg(ip).arg("-p").arg(port)
    }

    /// Where a caller sends its requests.
    pub fn to(mut self, remote: impl ToString) -> Sipp {
        self.remote = Some(remote.to_string());
        self
    }

    /// How many calls sipp makes or takes before it ends (`-m`).
    pub fn calls(mut self, n: u32) -> Sipp {
        self.calls = n;
        self
    }

    /// sipp's own RTP on ip:port (`-mi`, `-mp`).
    pub fn media(self, ip: &str, port: u16) -> Sipp {
        self.arg("-mi").arg(ip).arg("-mp").arg(port)
    }

    /// The transport (`-t`: u1, t1).
    pub fn transport(self, t: &str) -> Sipp {
        self.arg("-t").arg(t)
    }

    /// `[name]` in the scenario's messages reads `value` (`-key`).
    pub fn key(self, name: &str, value: impl ToString) -> Sipp {
        self.arg("-key").arg(name).arg(value)
    }

    /// Any other option.
    pub fn arg(mut self, a: impl ToString) -> Sipp {
        self.args.push(a.to_string());
        self
    }

    pub fn args(self, args: &[&str]) -> Sipp {
        args.iter().fold(self, |s, a| s.arg(a))
    }

    pub fn remote(&self) -> Option<&str> {
        self.remote.as_deref()
    }

    fn command_line(&self) -> Vec<String> {
        let mut line = vec!["-sf".to_string(), self.file.clone()];
        line.extend(self.remote.clone());
        line.extend(["-m".to_string(), self.calls.to_string()]);
        line.extend(self.args.iter().cloned());
        line
    }

    /// Runs sipp to its end (killed after `timeout`).
    pub fn run(self, timeout: Duration) -> SippRun {
        SippBackground::spawn(&self.command_line()).wait(timeout)
    }

    /// Starts sipp in the background (a registrar, a UAS), to be waited
    /// for later; returns once it has had time to bind.
    pub fn start(self) -> SippBackground {
        let bg = SippBackground::spawn(&self.command_line());
        std::thread::sleep(Duration::from_millis(300));
        bg
    }

    /// Runs sipp to its end on a thread of its own, while the test does
    /// something else.
    pub fn spawn(self, timeout: Duration) -> JoinHandle<SippRun> {
        std::thread::spawn(move || self.run(timeout))
    }
}

/// How a sipp run ended: its exit code (None: killed at the timeout) and
/// what it printed.
pub struct SippRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl SippRun {
    pub fn assert_success(&self, what: &str) {
        assert_eq!(
            self.code,
            Some(0),
            "{what}: sipp failed (exit {:?})\nstdout:\n{}\nstderr:\n{}",
            self.code,
            tail(&self.stdout, 4000),
            tail(&self.stderr, 4000)
        );
    }
}

fn tail(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// A running sipp, collected with `wait`; killed if dropped before.
pub struct SippBackground {
    child: Child,
    work: PathBuf,
}

impl SippBackground {
    fn spawn(args: &[String]) -> SippBackground {
        static N: AtomicU64 = AtomicU64::new(0);
        let work = std::env::temp_dir().join(format!(
            "pbxgate-sipp-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&work).expect("sipp dir");
        let child = Command::new("sipp")
            .args(args)
            .args(["-nostdin", "-timeout", "90s", "-timeout_error"])
            // Message traces (-trace_msg) stamp local time: UTC makes them
            // comparable with the test's clock.
            .env("TZ", "UTC")
            .current_dir(&work)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(work.join("stdout")).expect("file"))
            .stderr(std::fs::File::create(work.join("stderr")).expect("file"))
            .spawn()
            .expect("sipp must be installed (tests/run.sh installs sip-tester)");
        SippBackground { child, work }
    }

    /// Waits for sipp to end by itself (killed after `timeout`).
    pub fn wait(mut self, timeout: Duration) -> SippRun {
        let status = wait_child(&mut self.child, timeout);
        if status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let read = |name: &str| {
            let bytes = std::fs::read(self.work.join(name)).unwrap_or_default();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        SippRun {
            code: status.and_then(|s| s.code()),
            stdout: read("stdout"),
            stderr: read("stderr"),
        }
    }
}

impl Drop for SippBackground {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.work);
    }
}
