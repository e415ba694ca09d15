//! A clocked sound device for tests: jackd's dummy backend (no sound card
//! needed) behind ALSA's `jack` PCM (libasound2-plugins), with ALSA's `file`
//! plugin on top so a test chooses what the line captures (`infile`, a raw
//! file read in place of the captured samples while jack gives the clock)
//! and gets what the line played (`file`, a raw copy of what was written).
//!
//! Two process-wide settings select the server and the PCMs: JACK reads
//! `JACK_DEFAULT_SERVER` and ALSA reads `~/.asoundrc`. A test that drives
//! `LineAudio` in its own process therefore runs in a child of its own
//! ([`own_process`]), with a temporary HOME and a server name of its own;
//! a test that starts a gateway passes [`AlsaHome::env`] to it.
//!
//! ```ignore
//! #[test]
//! fn something() {
//!     if jack::own_process("something") { return; }
//!     let jackd = Jackd::start(8_000, 160);
//!     let mut home = AlsaHome::from_env();
//!     let (capture, playback) = home.line("l1", &input, &output);
//!     // ... LineAudio::spawn("l1", AudioDevices { capture, playback }, ..)
//! }
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::process::poll;

/// Set in the child that [`own_process`] starts.
const CHILD: &str = "PBXGATE_JACK_CHILD";

/// Runs the calling test again in a child process with a temporary HOME and
/// a JACK server name of its own, and asserts that it passed. Returns true
/// in the parent (the test is done), false in the child (run the body).
/// `test` is the test function's name.
pub fn own_process(test: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return false;
    }
    let home = std::env::temp_dir().join(format!("pbxgate-jack-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).expect("temp HOME");
    // jackd registers a server name machine-wide in a table of 8, and frees
    // a crashed server's entry only when a server of the same name starts:
    // names with a pid in them would fill the table for good. The lock
    // below keeps two runs of one test from meeting.
    let server = format!("pbxgate-{}", &test[..test.len().min(24)]);
    // One clocked test at a time on the machine: the audio threads and the
    // jack servers are real-time work, and tests in parallel (or another
    // test binary's) would starve them and fail on timing, not on audio.
    let lock =
        std::fs::File::create(std::env::temp_dir().join("pbxgate-jack.lock")).expect("lock file");
    // SAFETY: flock(2) on a descriptor we own; released when `lock` closes.
    unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
    let status = Command::new(std::env::current_exe().expect("test binary"))
        .args([test, "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD, "1")
        .env("HOME", &home)
        .env("JACK_DEFAULT_SERVER", &server)
        // Never let libjack start a server of its own when ours is down.
        .env("JACK_NO_START_SERVER", "1")
        .status()
        .expect("run the test in its own process");
    drop(lock);
    if status.success() {
        let _ = std::fs::remove_dir_all(&home);
    }
    assert!(
        status.success(),
        "{test} failed in its own process ({status}); its HOME (asoundrc, jackd.log) is kept in {}",
        home.display()
    );
    true
}

/// A jackd with the dummy backend, named after `JACK_DEFAULT_SERVER`;
/// stopped when dropped.
pub struct Jackd {
    name: String,
    rate: u32,
    period: u32,
    log: PathBuf,
    child: Option<Child>,
}

impl Jackd {
    /// Starts the server of this process (`JACK_DEFAULT_SERVER`) at `rate`
    /// with `period` frames, and waits until clients can connect.
    pub fn start(rate: u32, period: u32) -> Jackd {
        let name =
            std::env::var("JACK_DEFAULT_SERVER").expect("JACK_DEFAULT_SERVER (run in own_process)");
        Jackd::named(&name, rate, period, &home())
    }

    /// Starts a server called `name` (a gateway under test gets it through
    /// [`AlsaHome::env`]), logging to `log_dir`/jackd.log. Use a fixed name
    /// (see [`own_process`]: jackd's machine-wide table has 8 entries).
    pub fn named(name: &str, rate: u32, period: u32, log_dir: &Path) -> Jackd {
        let mut j = Jackd {
            name: name.to_string(),
            rate,
            period,
            log: log_dir.join("jackd.log"),
            child: None,
        };
        j.run();
        j
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn run(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("jackd.log");
        let mut command = Command::new("jackd");
        // SAFETY: prctl(2) between fork and exec, async-signal-safe. A test
        // process that dies (a crash in it, a failed assertion's abort)
        // takes its server with it: jackd allows few servers per machine.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command
            .args(["--no-realtime", "-n", &self.name, "-d", "dummy"])
            .args(["-r", &self.rate.to_string(), "-p", &self.period.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start jackd (Debian package jackd2)");
        self.child = Some(child);
        let up = poll(Duration::from_secs(10), || {
            Command::new("jack_lsp")
                .args(["-s", &self.name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .ok()
                .filter(|s| s.success())
        });
        assert!(
            up.is_some(),
            "jackd {} did not come up (see {})",
            self.name,
            self.log.display()
        );
    }

    /// Kills the server the hard way (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again after [`kill`](Self::kill), same name and settings.
    pub fn restart(&mut self) {
        self.kill();
        self.run();
    }
}

impl Drop for Jackd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid, not yet reaped.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            if super::process::wait_child(&mut c, Duration::from_secs(3)).is_none() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

/// This process's HOME (the temporary one of [`own_process`]).
pub fn home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").expect("HOME"))
}

/// The `~/.asoundrc` of a temporary HOME, written again on every change
/// (before the first PCM is opened: ALSA reads it once per process).
pub struct AlsaHome {
    dir: PathBuf,
    conf: String,
}

impl AlsaHome {
    /// The asoundrc of this process's HOME.
    pub fn from_env() -> AlsaHome {
        AlsaHome::in_dir(&home())
    }

    /// The asoundrc in `dir`, which becomes the HOME of whatever is started
    /// with [`env`](Self::env).
    pub fn in_dir(dir: &Path) -> AlsaHome {
        let h = AlsaHome {
            dir: dir.to_path_buf(),
            conf: String::from("# written by tests/common/jack.rs\n"),
        };
        h.write();
        h
    }

    fn write(&self) {
        std::fs::write(self.dir.join(".asoundrc"), &self.conf).expect("write .asoundrc");
    }

    fn add(&mut self, text: &str) {
        self.conf.push_str(text);
        self.write();
    }

    /// The bare `jack` PCM `NAME_jack` with `channels` ports: float samples
    /// at the server's rate, nothing else offered.
    fn jack(&mut self, name: &str, channels: usize) -> String {
        let pcm = format!("{name}_jack");
        let ports = |dir: &str| {
            (0..channels)
                .map(|i| format!("{i} system:{dir}_{}", i + 1))
                .collect::<Vec<_>>()
                .join(" ")
        };
        self.add(&format!(
            "pcm.{pcm} {{\n    type jack\n    name \"{pcm}\"\n    playback_ports {{ {} }}\n    capture_ports {{ {} }}\n}}\n",
            ports("playback"),
            ports("capture")
        ));
        pcm
    }

    /// `file` plugin PCMs over `slave`: capture reads `capture_from`
    /// (raw, in the format the application agreed), playback copies what is
    /// written to `playback_to`. Returns (capture, playback) PCM names.
    fn files(
        &mut self,
        name: &str,
        slave: &str,
        capture_from: &Path,
        playback_to: &Path,
    ) -> (String, String) {
        let capture = format!("{name}_capture");
        let playback = format!("{name}_playback");
        self.add(&format!(
            "pcm.{capture} {{\n    type file\n    slave.pcm \"{slave}\"\n    file \"/dev/null\"\n    infile \"{}\"\n    format \"raw\"\n}}\n\
             pcm.{playback} {{\n    type file\n    slave.pcm \"{slave}\"\n    file \"{}\"\n    format \"raw\"\n}}\n",
            capture_from.display(),
            playback_to.display()
        ));
        (capture, playback)
    }

    /// A line's PCMs as a board would give them: a `plug` over one jack port,
    /// so the line gets 8 kHz mono S16 whatever the server runs at. Capture
    /// samples come from `capture_from` (raw S16LE, 8 kHz mono), playback is
    /// copied to `playback_to` (the same format). Returns (capture, playback).
    pub fn line(
        &mut self,
        name: &str,
        capture_from: &Path,
        playback_to: &Path,
    ) -> (String, String) {
        let jack = self.jack(name, 1);
        let plug = format!("{name}_plug");
        self.add(&format!(
            "pcm.{plug} {{\n    type plug\n    slave.pcm \"{jack}\"\n}}\n"
        ));
        self.files(name, &plug, capture_from, playback_to)
    }

    /// A line's PCMs with no clock at all: a `plug` over ALSA's `null`
    /// PCM, which takes and gives frames as fast as they are asked for
    /// (capture reads `capture_from`, then silence). Returns (capture,
    /// playback).
    pub fn line_without_clock(
        &mut self,
        name: &str,
        capture_from: &Path,
        playback_to: &Path,
    ) -> (String, String) {
        let plug = format!("{name}_null");
        self.add(&format!(
            "pcm.{plug} {{\n    type plug\n    slave.pcm {{ type null }}\n}}\n"
        ));
        self.files(name, &plug, capture_from, playback_to)
    }

    /// A line's PCMs straight on the `jack` PCM with `channels` ports: FLOAT
    /// only, at the server's rate, so the line must convert and resample.
    /// The files hold interleaved float32 LE at the server's rate.
    pub fn line_raw_jack(
        &mut self,
        name: &str,
        channels: usize,
        capture_from: &Path,
        playback_to: &Path,
    ) -> (String, String) {
        let jack = self.jack(name, channels);
        self.files(name, &jack, capture_from, playback_to)
    }

    /// The environment for a process that should see these PCMs and the
    /// server `jackd`: HOME, JACK_DEFAULT_SERVER, JACK_NO_START_SERVER.
    pub fn env(&self, jackd: &Jackd) -> Vec<(&'static str, String)> {
        vec![
            ("HOME", self.dir.display().to_string()),
            ("JACK_DEFAULT_SERVER", jackd.name().to_string()),
            ("JACK_NO_START_SERVER", "1".to_string()),
        ]
    }
}
