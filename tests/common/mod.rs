//! Helpers for end-to-end tests: a real gateway process on a loopback
//! address of its own, and real sipp peers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// A running `pbxgate` with its own data directory and config.
pub struct GatewayProcess {
    child: Child,
    pub ip: IpAddr,
    pub wan_port: u16,
    pub lan_port: u16,
    pub data_dir: PathBuf,
    stdout: Arc<Mutex<String>>,
}

impl GatewayProcess {
    /// Starts the gateway with `wan` on ip:wan_port and `lan` on
    /// ip:wan_port+20, plus any extra TOML. Waits until it says it listens.
    pub fn start(ip: &str, wan_port: u16, extra_toml: &str) -> GatewayProcess {
        // Tests play many hosts on 127.0.0.0/8; the default WAN allowlist
        // is 127.0.0.1 only.
        Self::start_with_wan(ip, wan_port, extra_toml, "allow = [\"127.0.0.0/8\"]\n")
    }

    /// As `start`, with `wan_toml` added to the WAN listener's table.
    pub fn start_with_wan(
        ip: &str,
        wan_port: u16,
        extra_toml: &str,
        wan_toml: &str,
    ) -> GatewayProcess {
        Self::start_full(ip, wan_port, extra_toml, wan_toml, "", "info", 0o600)
    }

    /// As `start_with_wan`, logging at `rust_log` (RUST_LOG).
    pub fn start_logging(
        ip: &str,
        wan_port: u16,
        extra_toml: &str,
        wan_toml: &str,
        rust_log: &str,
    ) -> GatewayProcess {
        Self::start_full(ip, wan_port, extra_toml, wan_toml, "", rust_log, 0o600)
    }

    /// As `start`, with the config file written with `mode` (the others
    /// are owner-only, as the gateway writes it).
    pub fn start_with_config_mode(
        ip: &str,
        wan_port: u16,
        extra_toml: &str,
        mode: u32,
    ) -> GatewayProcess {
        Self::start_full(
            ip,
            wan_port,
            extra_toml,
            "allow = [\"127.0.0.0/8\"]\n",
            "",
            "info",
            mode,
        )
    }

    /// As `start_with_wan`, with `lan_toml` added to the LAN listener's table.
    pub fn start_with_listeners(
        ip: &str,
        wan_port: u16,
        extra_toml: &str,
        wan_toml: &str,
        lan_toml: &str,
    ) -> GatewayProcess {
        Self::start_full(ip, wan_port, extra_toml, wan_toml, lan_toml, "info", 0o600)
    }

    fn start_full(
        ip: &str,
        wan_port: u16,
        extra_toml: &str,
        wan_toml: &str,
        lan_toml: &str,
        rust_log: &str,
        config_mode: u32,
    ) -> GatewayProcess {
        let ip: IpAddr = ip.parse().expect("test IP");
        let lan_port = wan_port + 20;
        let data_dir = std::env::temp_dir().join(format!(
            "pbxgate-e2e-{}-{}-{}",
            std::process::id(),
            ip,
            wan_port
        ));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir).expect("data dir");
        let config = format!(
            "{extra_toml}\n[[listener]]\nname = \"wan\"\nside = \"wan\"\nbind = \"{ip}:{wan_port}\"\n{wan_toml}\n\
             [[listener]]\nname = \"lan\"\nside = \"lan\"\nbind = \"{ip}:{lan_port}\"\n{lan_toml}\n"
        );
        let path = data_dir.join("pbxgate.toml");
        std::fs::write(&path, config).expect("config");
        // Owner-only unless a test says otherwise, as the gateway writes it
        // (it warns about anything wider).
        let mode = std::os::unix::fs::PermissionsExt::from_mode(config_mode);
        std::fs::set_permissions(&path, mode).expect("config mode");
        let child = Command::new(env!("CARGO_BIN_EXE_pbxgate"))
            .arg("--data-dir")
            .arg(&data_dir)
            .env("RUST_LOG", rust_log)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pbxgate");
        let mut g = GatewayProcess {
            child,
            ip,
            wan_port,
            lan_port,
            data_dir,
            stdout: Arc::new(Mutex::new(String::new())),
        };
        g.capture_output();
        g.wait_for_output("SIP lan:", Duration::from_secs(20));
        g
    }

    fn capture_output(&mut self) {
        let out = self.child.stdout.take().expect("stdout");
        let buf = self.stdout.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let mut b = buf.lock().unwrap();
                b.push_str(&line);
                b.push('\n');
            }
        });
        let err = self.child.stderr.take().expect("stderr");
        let log_path = self.data_dir.join("stderr.log");
        std::thread::spawn(move || {
            let mut f = std::fs::File::create(log_path).expect("log file");
            let mut r = BufReader::new(err);
            let mut chunk = [0u8; 8192];
            while let Ok(n) = r.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let _ = std::io::Write::write_all(&mut f, &chunk[..n]);
            }
        });
    }

    pub fn wait_for_output(&self, needle: &str, timeout: Duration) {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.stdout().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "gateway did not print '{needle}' within {timeout:?}; stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.log()
        );
    }

    /// Waits for a log line holding every one of `needles`; returns it.
    pub fn wait_for_log_line(&self, needles: &[&str], timeout: Duration) -> String {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            let log = self.log();
            if let Some(line) = log.lines().find(|l| needles.iter().all(|n| l.contains(n))) {
                return line.to_string();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "gateway logged no line with {needles:?} within {timeout:?}; stderr:\n{}",
            self.log()
        );
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// What the gateway logged (stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("stderr.log")).unwrap_or_default()
    }

    pub fn wan(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.wan_port)
    }

    /// SIGTERM, as systemd stops the service; waits for the process to end.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        } else {
            eprintln!("gateway log kept in {}", self.data_dir.display());
        }
    }
}

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

pub fn scenario(name: &str) -> PathBuf {
    Path::new(MANIFEST_DIR).join("tests/sipp").join(name)
}

/// A sipp running in the background (a registrar, a UAS), collected later.
pub struct SippBackground {
    child: Child,
    work: PathBuf,
}

impl SippBackground {
    pub fn start(args: &[&str]) -> SippBackground {
        let work = std::env::temp_dir().join(format!(
            "pbxgate-sipp-bg-{}-{}",
            std::process::id(),
            fastrand_suffix()
        ));
        std::fs::create_dir_all(&work).expect("sipp dir");
        let child = Command::new("sipp")
            .args(args)
            .args(["-nostdin", "-timeout", "90s", "-timeout_error"])
            .current_dir(&work)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(work.join("stdout")).expect("file"))
            .stderr(std::fs::File::create(work.join("stderr")).expect("file"))
            .spawn()
            .expect("sipp must be installed (tests/run.sh installs sip-tester)");
        // Let it bind before the gateway sends to it.
        std::thread::sleep(Duration::from_millis(300));
        SippBackground { child, work }
    }

    /// Waits for sipp to end by itself.
    pub fn wait(mut self, timeout: Duration) -> SippRun {
        let end = Instant::now() + timeout;
        let code = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break status.code();
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stdout = std::fs::read_to_string(self.work.join("stdout")).unwrap_or_default();
        let stderr = std::fs::read_to_string(self.work.join("stderr")).unwrap_or_default();
        SippRun {
            code,
            stdout,
            stderr,
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

/// Runs sipp to completion (killed after `timeout`).
pub fn sipp(args: &[&str], timeout: Duration) -> SippRun {
    let work = std::env::temp_dir().join(format!(
        "pbxgate-sipp-{}-{}",
        std::process::id(),
        fastrand_suffix()
    ));
    std::fs::create_dir_all(&work).expect("sipp dir");
    let mut child = Command::new("sipp")
        .args(args)
        .args(["-nostdin", "-timeout", "90s", "-timeout_error"])
        .current_dir(&work)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp must be installed (tests/run.sh installs sip-tester)");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let end = Instant::now() + timeout;
    let code = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status.code();
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let run = SippRun {
        code,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    };
    let _ = std::fs::remove_dir_all(&work);
    run
}

fn fastrand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// RTP packets (UDP payloads) of a pcap file (Ethernet or raw IPv4 frames).
pub fn pcap_rtp(path: &str) -> Vec<Vec<u8>> {
    let d = std::fs::read(path).expect("sipp's pcap (tests/run.sh installs sip-tester)");
    let link = u32::from_le_bytes([d[20], d[21], d[22], d[23]]);
    let mut off = 24;
    let mut out = Vec::new();
    while off + 16 <= d.len() {
        let incl = u32::from_le_bytes([d[off + 8], d[off + 9], d[off + 10], d[off + 11]]) as usize;
        let frame = &d[off + 16..off + 16 + incl];
        off += 16 + incl;
        let ip = if link == 1 { &frame[14..] } else { frame };
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        out.push(ip[ihl + 8..].to_vec());
    }
    out
}
