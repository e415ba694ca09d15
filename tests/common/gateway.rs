//! A real `pbxgate` process on a loopback address of its own.

use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::process::{poll, wait_child};

/// How to start a gateway: its addresses, its config and how it logs.
/// Tests change what they need with struct update syntax:
/// `Gateway { wan: ..., ..Gateway::new(ip, port) }.start()`.
pub struct Gateway {
    pub ip: IpAddr,
    /// The WAN listener's port; the LAN listener's is 20 above.
    pub wan_port: u16,
    /// TOML before the listeners (sections, routes, more listeners).
    pub config: String,
    /// The WAN listener's table after its name, side and bind.
    pub wan: String,
    /// The LAN listener's table after its name, side and bind.
    pub lan: String,
    /// RUST_LOG of the process.
    pub rust_log: String,
    /// The config file's permission bits.
    pub config_mode: u32,
    /// More environment for the process (HOME and JACK for lines' audio).
    pub env: Vec<(&'static str, String)>,
}

impl Gateway {
    /// A gateway with `wan` on ip:wan_port and `lan` on ip:wan_port+20, no
    /// other config, logging at info.
    pub fn new(ip: &str, wan_port: u16) -> Gateway {
        Gateway {
            ip: ip.parse().expect("test IP"),
            wan_port,
            config: String::new(),
            // Tests play many hosts on 127.0.0.0/8; the default WAN
            // allowlist is 127.0.0.1 only.
            wan: "allow = [\"127.0.0.0/8\"]\n".into(),
            lan: String::new(),
            rust_log: "info".into(),
            // Owner-only, as the gateway writes it (it warns about
            // anything wider).
            config_mode: 0o600,
            env: Vec::new(),
        }
    }

    /// Starts the gateway; waits until it says it listens.
    pub fn start(self) -> GatewayProcess {
        let Gateway {
            ip,
            wan_port,
            config,
            wan,
            lan,
            rust_log,
            config_mode,
            env,
        } = self;
        let lan_port = wan_port + 20;
        let data_dir = std::env::temp_dir().join(format!(
            "pbxgate-e2e-{}-{}-{}",
            std::process::id(),
            ip,
            wan_port
        ));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir).expect("data dir");
        // The web page only where a test asks for it: every gateway on
        // the default 0.0.0.0:8443 would clash.
        let web_off = if config.contains("[web]") {
            ""
        } else {
            "\n[web]\nenabled = false\n"
        };
        let text = format!(
            "{config}{web_off}\n[[listener]]\nname = \"wan\"\nside = \"wan\"\nbind = \"{ip}:{wan_port}\"\n{wan}\n\
             [[listener]]\nname = \"lan\"\nside = \"lan\"\nbind = \"{ip}:{lan_port}\"\n{lan}\n"
        );
        let path = data_dir.join("pbxgate.toml");
        std::fs::write(&path, text).expect("config");
        let mode = std::os::unix::fs::PermissionsExt::from_mode(config_mode);
        std::fs::set_permissions(&path, mode).expect("config mode");
        let child = spawn(&data_dir, &rust_log, &env);
        let mut g = GatewayProcess {
            child,
            ip,
            wan_port,
            lan_port,
            data_dir,
            rust_log,
            env,
            stdout: Arc::new(Mutex::new(String::new())),
        };
        g.capture_output();
        g.wait_for_output("SIP lan:", Duration::from_secs(20));
        g
    }
}

/// A running `pbxgate` with its own data directory and config; killed
/// when dropped (its data directory is kept if the test failed).
pub struct GatewayProcess {
    child: Child,
    pub ip: IpAddr,
    pub wan_port: u16,
    pub lan_port: u16,
    pub data_dir: PathBuf,
    rust_log: String,
    env: Vec<(&'static str, String)>,
    stdout: Arc<Mutex<String>>,
}

/// `pbxgate --data-dir DIR` with its output piped.
fn spawn(data_dir: &std::path::Path, rust_log: &str, env: &[(&'static str, String)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pbxgate"))
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", rust_log)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pbxgate")
}

impl GatewayProcess {
    /// Starts a gateway with `config` on ip:wan_port (WAN) and
    /// ip:wan_port+20 (LAN): `Gateway::new(ip, wan_port).config(config)`.
    pub fn start(ip: &str, wan_port: u16, config: &str) -> GatewayProcess {
        Gateway {
            config: config.into(),
            ..Gateway::new(ip, wan_port)
        }
        .start()
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
            // Appended: a restarted gateway's log follows the first one's.
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log_path)
                .expect("log file");
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
        if poll(timeout, || self.stdout().contains(needle).then_some(())).is_none() {
            panic!(
                "gateway did not print '{needle}' within {timeout:?}; stdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.log()
            );
        }
    }

    /// Waits for a log line holding every one of `needles`; returns it.
    pub fn wait_for_log_line(&self, needles: &[&str], timeout: Duration) -> String {
        let found = poll(timeout, || {
            let log = self.log();
            log.lines()
                .find(|l| needles.iter().all(|n| l.contains(n)))
                .map(str::to_string)
        });
        found.unwrap_or_else(|| {
            panic!(
                "gateway logged no line with {needles:?} within {timeout:?}; stderr:\n{}",
                self.log()
            )
        })
    }

    /// Asserts that the log holds `words`; shows the log if not.
    pub fn assert_logged(&self, words: &str) {
        let log = self.log();
        assert!(log.contains(words), "no {words:?} in the log:\n{log}");
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

    pub fn lan(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.lan_port)
    }

    /// SIGTERM, as systemd stops the service; waits for the process to end.
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        wait_child(&mut self.child, timeout)
    }

    /// SIGKILL: the process ends at once, mid-write, as in a crash.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the gateway (SIGTERM) if it still runs and starts it again on
    /// the same data directory and config; waits until it listens. Its
    /// stdout is the new start's; the log goes on in the same file.
    pub fn restart(&mut self) {
        if self.is_running() {
            self.terminate(Duration::from_secs(10))
                .expect("the gateway stops on SIGTERM");
        }
        self.child = spawn(&self.data_dir, &self.rust_log, &self.env);
        // A buffer of its own: the old process's reader may still be
        // appending its last lines under load.
        self.stdout = Arc::new(Mutex::new(String::new()));
        self.capture_output();
        self.wait_for_output("SIP lan:", Duration::from_secs(20));
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

/// Asserts that a log line holds every one of `parts`.
pub fn assert_has_all(line: &str, parts: &[&str]) {
    for part in parts {
        assert!(line.contains(part), "{part:?} missing from: {line}");
    }
}
