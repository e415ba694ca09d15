//! `pbxgate health-check`: whether the system just booted works, and what
//! to do about it (docs/updates.md). It passes when every SIP listener
//! answers an OPTIONS from this box (or, for one with TCP, takes a
//! connection), the web page answers `/healthz` 200 over HTTPS (the
//! signalling loop runs, so the gateway loaded its configuration), and the
//! configuration file loads here too: all within `[update]
//! health_timeout_s`. Then the booted slot is marked good. A slot an
//! update just installed that does not pass makes the box reboot; the boot
//! loader gives it `boot_attempts` boots and then brings the old slot
//! back by itself.
//!
//! It is a subcommand of the same binary rather than a script: the new
//! slot checks itself with its own reading of the configuration (listener
//! addresses, the web certificate), and the image needs no curl or sipp.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_rustls::rustls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use sha2::{Digest, Sha256};

use crate::app::{Slots, UpdateError, Updater};
use crate::config::{Config, ConfigStore, TransportName};

/// The slot a bundle was installed into and not yet confirmed, in the data
/// directory: written by the web page's update, read at the next boot.
pub const PENDING_FILE: &str = "update-pending";

/// One try of each probe waits at most this.
const PROBE_WAIT: Duration = Duration::from_secs(2);
/// Between tries.
const RETRY_EVERY: Duration = Duration::from_secs(2);

/// What the check decided, after `decide`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Mark the booted slot good; `other_bad`: the update in the other
    /// slot failed (the boot loader came back here): mark it bad.
    MarkGood { other_bad: bool },
    /// A new slot failed: reboot; the boot loader counts its tries.
    Reboot,
    /// Failed, but there is no update to undo: leave the flags alone.
    Leave { other_bad: bool },
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Said before it is done (`run`'s `tell`).
        let back = "; the update in the other slot did not pass: marking it bad";
        match self {
            Action::MarkGood { other_bad } => write!(
                f,
                "marking the booted slot good{}",
                if *other_bad { back } else { "" }
            ),
            Action::Reboot => write!(
                f,
                "the updated slot failed its health check: rebooting (the boot loader goes back to the old slot once its boot attempts are used)"
            ),
            Action::Leave { other_bad } => write!(
                f,
                "no update to undo: leaving the slot flags as they are{}",
                if *other_bad { back } else { "" }
            ),
        }
    }
}

/// The decision, from the check's result, the booted slot and the slot an
/// update went to (`pending`), if one is waiting to be confirmed.
pub fn decide(passed: bool, booted: &str, pending: Option<&str>) -> Action {
    let came_back = pending.is_some_and(|p| p != booted);
    match (passed, pending) {
        (true, _) => Action::MarkGood {
            other_bad: came_back,
        },
        (false, Some(p)) if p == booted => Action::Reboot,
        (false, _) => Action::Leave {
            other_bad: came_back,
        },
    }
}

/// The outcome of one try of every probe: what failed, in words.
pub fn probe(config: &Config, data_dir: &Path) -> Vec<String> {
    let mut failed = Vec::new();
    for l in &config.listeners {
        if let Err(e) = sip_answers(l.bind, &l.transports) {
            failed.push(format!("SIP listener '{}' ({}): {e}", l.name, l.bind));
        }
    }
    if config.web.enabled {
        let cert = config
            .web
            .cert_file
            .clone()
            .unwrap_or_else(|| data_dir.join(crate::gateway::web::cert::CERT_FILE));
        if let Err(e) = web_answers(config.web.bind, &cert) {
            failed.push(format!("web page ({}): {e}", config.web.bind));
        }
    }
    failed
}

/// What the check found.
#[derive(Debug)]
pub struct Report {
    pub passed: bool,
    /// Why it did not pass (the last try's failures).
    pub failures: Vec<String>,
    pub took: Duration,
}

/// Tries the probes until they all pass or `timeout` has gone by.
pub fn check(store: &ConfigStore, data_dir: &Path, timeout: Duration) -> Report {
    let start = Instant::now();
    loop {
        let failures = match store.check() {
            Ok(c) => probe(&c.config, data_dir),
            Err(e) => vec![format!("configuration: {e}")],
        };
        if failures.is_empty() || start.elapsed() + RETRY_EVERY >= timeout {
            return Report {
                passed: failures.is_empty(),
                failures,
                took: start.elapsed(),
            };
        }
        std::thread::sleep(RETRY_EVERY);
    }
}

/// Runs the check and acts on it through `updater`; returns the action
/// taken. `timeout`: `[update] health_timeout_s` unless given. `tell`
/// hears the outcome and the decision before it is acted on (once the box
/// reboots there may be no time left to say why).
pub fn run(
    store: &ConfigStore,
    data_dir: &Path,
    updater: &dyn Updater,
    timeout: Option<Duration>,
    tell: &mut dyn FnMut(&Report, &Action),
) -> Result<(Report, Action), UpdateError> {
    let (configured, attempts) = match store.check() {
        Ok(c) => (
            Duration::from_secs(u64::from(c.config.update.health_timeout_s)),
            c.config.update.boot_attempts,
        ),
        Err(_) => (Duration::from_secs(120), 1),
    };
    let timeout = timeout.unwrap_or(configured);
    // Before anything can fail: the boot loader's count for the next
    // update (a box without grub-editenv still checks itself).
    if let Err(e) = updater.set_boot_attempts(attempts) {
        tracing::warn!("health check: boot attempts not set: {e}");
    }
    let report = check(store, data_dir, timeout);
    let slots: Slots = updater.slots()?;
    let booted = slots
        .booted()
        .map(|s| s.name.clone())
        .ok_or_else(|| UpdateError::Failed("RAUC reports no booted slot".into()))?;
    let pending_path = pending_path(data_dir);
    let pending = std::fs::read_to_string(&pending_path)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let action = decide(report.passed, &booted, pending.as_deref());
    tell(&report, &action);
    match &action {
        Action::MarkGood { other_bad } | Action::Leave { other_bad } => {
            if matches!(action, Action::MarkGood { .. }) {
                updater.mark_booted(true)?;
            }
            if *other_bad {
                updater.mark_other_bad()?;
            }
            if pending.is_some() {
                let _ = std::fs::remove_file(&pending_path);
            }
        }
        Action::Reboot => updater.reboot()?,
    }
    Ok((report, action))
}

pub fn pending_path(data_dir: &Path) -> PathBuf {
    data_dir.join(PENDING_FILE)
}

/// Where this box reaches a socket bound to `bind`: the unspecified
/// address is reached on loopback.
fn reachable(bind: SocketAddr) -> SocketAddr {
    let ip = match bind.ip() {
        IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, bind.port())
}

/// An OPTIONS over UDP answered with any response (a 403 is an answer: the
/// listener runs), else a TCP connection taken.
fn sip_answers(bind: SocketAddr, transports: &[TransportName]) -> Result<(), String> {
    let to = reachable(bind);
    let mut why = Vec::new();
    if transports.contains(&TransportName::Udp) {
        match options_over_udp(to) {
            Ok(()) => return Ok(()),
            Err(e) => why.push(format!("UDP: {e}")),
        }
    }
    if transports.contains(&TransportName::Tcp) {
        match TcpStream::connect_timeout(&to, PROBE_WAIT) {
            Ok(_) => return Ok(()),
            Err(e) => why.push(format!("TCP: {e}")),
        }
    }
    if why.is_empty() {
        // TLS only: taken as SIP TLS is taken, a connection.
        return TcpStream::connect_timeout(&to, PROBE_WAIT)
            .map(|_| ())
            .map_err(|e| e.to_string());
    }
    Err(why.join("; "))
}

fn options_over_udp(to: SocketAddr) -> Result<(), String> {
    let local: SocketAddr = match to {
        SocketAddr::V4(_) => (Ipv4Addr::LOCALHOST, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::LOCALHOST, 0).into(),
    };
    let sock = UdpSocket::bind(local).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(PROBE_WAIT))
        .map_err(|e| e.to_string())?;
    let me = sock.local_addr().map_err(|e| e.to_string())?;
    let n = fastrand::u64(..);
    let host = match to.ip() {
        IpAddr::V6(a) => format!("[{a}]"),
        IpAddr::V4(a) => a.to_string(),
    };
    let me_host = match me.ip() {
        IpAddr::V6(a) => format!("[{a}]"),
        IpAddr::V4(a) => a.to_string(),
    };
    // RFC 3261 §11: OPTIONS asks what a UA supports; any final response
    // shows the listener is up. Branch with the §8.1.1.7 magic cookie.
    let msg = format!(
        "OPTIONS sip:{host}:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {me_host}:{mport};branch=z9hG4bKhc{n:x};rport\r\nMax-Forwards: 70\r\nFrom: <sip:health-check@{me_host}>;tag=hc{n:x}\r\nTo: <sip:{host}:{port}>\r\nCall-ID: hc{n:x}@{me_host}\r\nCSeq: 1 OPTIONS\r\nUser-Agent: pbxgate-health-check\r\nContent-Length: 0\r\n\r\n",
        port = to.port(),
        mport = me.port(),
    );
    sock.send_to(msg.as_bytes(), to)
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + PROBE_WAIT;
    while Instant::now() < deadline {
        match sock.recv_from(&mut buf) {
            Ok((len, from)) if from == to && buf[..len].starts_with(b"SIP/2.0 ") => {
                // A 100 Trying is not final; OPTIONS gets no 1xx here,
                // but wait on for a final one if it did.
                if !buf[..len].starts_with(b"SIP/2.0 1") {
                    return Ok(());
                }
            }
            Ok(_) => continue,
            Err(e) => return Err(format!("no answer to OPTIONS ({e})")),
        }
    }
    Err("no answer to OPTIONS".into())
}

/// `GET /healthz` over HTTPS answered 200, from a server holding the web
/// page's certificate (pinned: it is self-signed on most boxes).
fn web_answers(bind: SocketAddr, cert: &Path) -> Result<(), String> {
    let der = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cannot read {}: {e}", cert.display()))?
        .next()
        .ok_or_else(|| format!("{} holds no certificate", cert.display()))?
        .map_err(|e| format!("cannot read {}: {e}", cert.display()))?;
    let pin: [u8; 32] = Sha256::digest(der.as_ref()).into();
    let config =
        crate::gateway::webhook::tls::client_config(None, Some(pin)).map_err(|e| e.to_string())?;
    let to = reachable(bind);
    let tcp = TcpStream::connect_timeout(&to, PROBE_WAIT).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(PROBE_WAIT))
        .map_err(|e| e.to_string())?;
    tcp.set_write_timeout(Some(PROBE_WAIT))
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost")
        .map_err(|e| e.to_string())?
        .to_owned();
    let conn =
        rustls::ClientConnection::new(Arc::clone(&config), name).map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("TLS: {e}"))?;
    let mut head = [0u8; 64];
    let mut got = 0;
    while got < 12 {
        match tls.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(format!("TLS: {e}")),
        }
    }
    let line = String::from_utf8_lossy(&head[..got]);
    if line.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!(
            "/healthz answered {}",
            line.lines().next().unwrap_or("nothing")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_slot_is_confirmed_or_rebooted_and_a_rollback_marks_the_update_bad() {
        // No update waiting: pass marks good; a failure leaves the flags
        // (nothing to go back to, and a reboot would not help).
        assert_eq!(
            decide(true, "rootfs.0", None),
            Action::MarkGood { other_bad: false }
        );
        assert_eq!(
            decide(false, "rootfs.0", None),
            Action::Leave { other_bad: false }
        );
        // The update's slot is booted: pass confirms it, failure reboots.
        assert_eq!(
            decide(true, "rootfs.1", Some("rootfs.1")),
            Action::MarkGood { other_bad: false }
        );
        assert_eq!(decide(false, "rootfs.1", Some("rootfs.1")), Action::Reboot);
        // The boot loader came back to the old slot: the update is bad.
        assert_eq!(
            decide(true, "rootfs.0", Some("rootfs.1")),
            Action::MarkGood { other_bad: true }
        );
        assert_eq!(
            decide(false, "rootfs.0", Some("rootfs.1")),
            Action::Leave { other_bad: true }
        );
    }

    /// An updater that writes down what is asked of it, in one list with
    /// what the check tells.
    struct Recorder<'a> {
        booted: &'static str,
        log: &'a std::sync::Mutex<Vec<String>>,
    }

    impl Recorder<'_> {
        fn note(&self, what: &str) {
            self.log.lock().unwrap().push(what.to_string());
        }
    }

    impl Updater for Recorder<'_> {
        fn check(&self, _: &Path) -> Result<crate::app::BundleInfo, UpdateError> {
            Err(UpdateError::Failed("not here".into()))
        }
        fn install(&self, _: &Path) -> Result<(), UpdateError> {
            Err(UpdateError::Failed("not here".into()))
        }
        fn slots(&self) -> Result<Slots, UpdateError> {
            let slot = |name: &str, boot: &str| crate::app::SlotInfo {
                name: name.into(),
                bootname: Some(boot.into()),
                booted: name == self.booted,
                good: Some(true),
                version: None,
                installed: None,
            };
            Ok(Slots {
                compatible: "pbxgate-x86-gateway".into(),
                primary: Some(self.booted.into()),
                slots: vec![slot("rootfs.0", "A"), slot("rootfs.1", "B")],
            })
        }
        fn mark_booted(&self, good: bool) -> Result<(), UpdateError> {
            self.note(if good { "mark good" } else { "mark bad" });
            Ok(())
        }
        fn mark_other_bad(&self) -> Result<(), UpdateError> {
            self.note("mark other bad");
            Ok(())
        }
        fn set_boot_attempts(&self, attempts: u8) -> Result<(), UpdateError> {
            self.note(&format!("attempts {attempts}"));
            Ok(())
        }
        fn reboot(&self) -> Result<(), UpdateError> {
            self.note("reboot");
            Ok(())
        }
    }

    #[test]
    fn the_outcome_is_told_before_the_box_reboots_or_is_marked() {
        let dir = std::env::temp_dir().join(format!("pbxgate-health-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // A configuration that does not load fails the check at once.
        std::fs::write(dir.join("pbxgate.toml"), "[update\n").unwrap();
        std::fs::write(pending_path(&dir), "rootfs.1\n").unwrap();
        let store = ConfigStore::in_data_dir(&dir);
        let log = std::sync::Mutex::new(Vec::new());
        let updater = Recorder {
            booted: "rootfs.1",
            log: &log,
        };
        let mut tell = |r: &Report, a: &Action| {
            log.lock().unwrap().push(format!("tell {} {a:?}", r.passed));
        };
        let (report, action) = run(
            &store,
            &dir,
            &updater,
            Some(Duration::from_secs(1)),
            &mut tell,
        )
        .unwrap();
        assert_eq!(action, Action::Reboot);
        assert!(
            report
                .failures
                .iter()
                .any(|f| f.starts_with("configuration: ")),
            "{:?}",
            report.failures
        );
        // Default boot attempts (the file did not load), the decision
        // told, then the reboot; the pending update stays for the next boot.
        assert_eq!(
            *log.lock().unwrap(),
            ["attempts 1", "tell false Reboot", "reboot"]
        );
        assert!(pending_path(&dir).exists());

        // The old slot booted (the boot loader came back): told, then the
        // update's slot is marked bad and the pending file goes.
        std::fs::write(dir.join("pbxgate.toml"), "").unwrap();
        log.lock().unwrap().clear();
        let updater = Recorder {
            booted: "rootfs.0",
            log: &log,
        };
        let mut tell = |r: &Report, a: &Action| {
            log.lock().unwrap().push(format!("tell {} {a:?}", r.passed));
        };
        let (_, action) = run(
            &store,
            &dir,
            &updater,
            Some(Duration::from_secs(1)),
            &mut tell,
        )
        .unwrap();
        let passed = matches!(action, Action::MarkGood { other_bad: true });
        let failed = matches!(action, Action::Leave { other_bad: true });
        assert!(passed || failed, "{action:?}");
        let log = log.lock().unwrap();
        assert_eq!(log[0], "attempts 1");
        assert!(log[1].starts_with("tell "), "{log:?}");
        assert_eq!(log.last().map(String::as_str), Some("mark other bad"));
        assert!(!pending_path(&dir).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn nothing_listening_fails_with_the_reason() {
        let free = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = free.local_addr().unwrap();
        drop(free);
        let e = sip_answers(addr, &[TransportName::Udp]).unwrap_err();
        assert!(e.contains("UDP"), "{e}");
        assert_eq!(
            reachable("0.0.0.0:5080".parse().unwrap()),
            "127.0.0.1:5080".parse().unwrap()
        );
    }
}
