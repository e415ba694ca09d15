//! systemd's service notification protocol (sd_notify): `READY=1` once the
//! listeners are bound, `WATCHDOG=1` while the signalling loop turns, and
//! `STOPPING=1` on the way out. The appliance's unit is `Type=notify` with
//! `WatchdogSec=`, so a loop that stops turning gets the process killed and
//! restarted rather than left answering nothing.
//!
//! Outside systemd (no `NOTIFY_SOCKET`) every call does nothing.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::app::{Health, StatusBoard};

/// How long a loop that has not turned yet counts as starting rather than
/// stuck: the first turn comes within milliseconds of the start.
const START_GRACE: Duration = Duration::from_secs(30);

/// Where systemd listens, and how often it wants to hear from us.
#[derive(Clone, Debug)]
pub struct Notifier {
    socket: Target,
    /// Half of `WATCHDOG_USEC`, when systemd's watchdog is on for us.
    ping_every: Option<Duration>,
}

#[derive(Clone, Debug)]
enum Target {
    Path(PathBuf),
    /// Linux's abstract namespace (`@name` in `NOTIFY_SOCKET`).
    Abstract(Vec<u8>),
}

impl Notifier {
    /// From systemd's environment; None when not started by systemd with
    /// `Type=notify` (or `NotifyAccess=`).
    pub fn from_env() -> Option<Notifier> {
        let socket = std::env::var_os("NOTIFY_SOCKET")?;
        let watchdog_usec = std::env::var("WATCHDOG_USEC").ok();
        let watchdog_pid = std::env::var("WATCHDOG_PID").ok();
        Notifier::new(
            socket.as_encoded_bytes(),
            watchdog_usec.as_deref(),
            watchdog_pid.as_deref(),
            std::process::id(),
        )
    }

    /// `socket`: `NOTIFY_SOCKET`'s bytes; `watchdog_usec`/`watchdog_pid`:
    /// the variables of the same names; `pid`: this process. A watchdog
    /// meant for another process (`WATCHDOG_PID`) or a value that is not a
    /// number leaves the watchdog off (with a warning).
    pub fn new(
        socket: &[u8],
        watchdog_usec: Option<&str>,
        watchdog_pid: Option<&str>,
        pid: u32,
    ) -> Option<Notifier> {
        let socket = match socket {
            [] => return None,
            [b'@', name @ ..] => Target::Abstract(name.to_vec()),
            path => Target::Path(PathBuf::from(String::from_utf8_lossy(path).into_owned())),
        };
        let for_us = watchdog_pid.is_none_or(|p| p.trim() == pid.to_string());
        let ping_every = match watchdog_usec.map(|u| u.trim().parse::<u64>()) {
            None => None,
            Some(Ok(0)) => None,
            Some(Ok(usec)) if for_us => Some(Duration::from_micros(usec) / 2),
            Some(Ok(_)) => None,
            Some(Err(_)) => {
                tracing::warn!(
                    value = ?watchdog_usec,
                    "systemd's WATCHDOG_USEC is not a number of microseconds: the watchdog is not fed"
                );
                None
            }
        };
        Some(Notifier { socket, ping_every })
    }

    /// How often the watchdog wants a ping (None: no watchdog).
    pub fn ping_every(&self) -> Option<Duration> {
        self.ping_every
    }

    /// Sends one notification (`KEY=value` lines).
    pub fn send(&self, state: &str) -> io::Result<()> {
        let sock = UnixDatagram::unbound()?;
        let addr = match &self.socket {
            Target::Path(p) => SocketAddr::from_pathname(p)?,
            Target::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt;
                SocketAddr::from_abstract_name(name)?
            }
        };
        let sent = sock.send_to_addr(state.as_bytes(), &addr)?;
        if sent != state.len() {
            return Err(io::Error::other("the notification was cut short"));
        }
        Ok(())
    }

    /// `READY=1` with a status line systemctl shows.
    pub fn ready(&self, status: &str) {
        let status = status.replace('\n', " ");
        if let Err(e) = self.send(&format!("READY=1\nSTATUS={status}")) {
            tracing::warn!(error = %e, "cannot tell systemd the gateway is ready");
        }
    }

    pub fn stopping(&self) {
        let _ = self.send("STOPPING=1");
    }

    /// Feeds systemd's watchdog from a thread of its own for as long as the
    /// signalling loop turns (the status board's heartbeat): a stuck loop
    /// stops the pings and systemd restarts the service.
    pub fn start_watchdog(&self, status: StatusBoard) {
        let Some(every) = self.ping_every else {
            return;
        };
        let notifier = self.clone();
        let started = Instant::now();
        let spawned = std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || {
                let mut silent_logged = false;
                loop {
                    std::thread::sleep(every);
                    let now = Instant::now();
                    let health = status.health(now);
                    if feeds_watchdog(&health, now.saturating_duration_since(started)) {
                        silent_logged = false;
                        if let Err(e) = notifier.send("WATCHDOG=1") {
                            tracing::warn!(error = %e, "cannot feed systemd's watchdog");
                        }
                    } else if !silent_logged {
                        silent_logged = true;
                        tracing::error!(
                            ?health,
                            "the gateway is not healthy: systemd's watchdog is no longer fed and will restart it"
                        );
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the watchdog thread: systemd will restart the gateway");
        }
    }
}

/// Whether the watchdog gets its ping: the loop turns and the media threads
/// run, or the loop has not had its first turn yet shortly after the start.
pub fn feeds_watchdog(health: &Health, since_start: Duration) -> bool {
    match health {
        Health::Ok => true,
        Health::Starting => since_start < START_GRACE,
        Health::LoopSilent(_) | Health::MediaStopped => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_forms() {
        assert!(Notifier::new(b"", None, None, 1).is_none());
        let n = Notifier::new(b"/run/systemd/notify", Some("30000000"), None, 7).unwrap();
        assert_eq!(n.ping_every(), Some(Duration::from_secs(15)));
        let n = Notifier::new(b"@abstract", Some("30000000"), Some("7"), 7).unwrap();
        assert!(matches!(n.socket, Target::Abstract(ref a) if a == b"abstract"));
        assert_eq!(n.ping_every(), Some(Duration::from_secs(15)));
        // Another process's watchdog, none, zero, or nonsense: no pings.
        let other = Notifier::new(b"/s", Some("30000000"), Some("8"), 7).unwrap();
        assert_eq!(other.ping_every(), None);
        assert_eq!(
            Notifier::new(b"/s", None, None, 7).unwrap().ping_every(),
            None
        );
        assert_eq!(
            Notifier::new(b"/s", Some("0"), None, 7)
                .unwrap()
                .ping_every(),
            None
        );
        assert_eq!(
            Notifier::new(b"/s", Some("soon"), None, 7)
                .unwrap()
                .ping_every(),
            None
        );
    }

    #[test]
    fn a_silent_loop_or_stopped_media_starves_the_watchdog() {
        let early = Duration::from_secs(1);
        let late = START_GRACE + Duration::from_secs(1);
        assert!(feeds_watchdog(&Health::Ok, late));
        assert!(feeds_watchdog(&Health::Starting, early));
        assert!(!feeds_watchdog(&Health::Starting, late));
        assert!(!feeds_watchdog(
            &Health::LoopSilent(Duration::from_secs(2)),
            early
        ));
        assert!(!feeds_watchdog(&Health::MediaStopped, early));
    }

    #[test]
    fn notifications_reach_a_listening_socket() {
        let path = std::env::temp_dir().join(format!(
            "pbxgate-notify-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let _ = std::fs::remove_file(&path);
        let listener = UnixDatagram::bind(&path).unwrap();
        listener
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let n =
            Notifier::new(path.as_os_str().as_encoded_bytes(), Some("200000"), None, 1).unwrap();
        n.ready("SIP on 0.0.0.0:5060\nweb on :8443");
        let mut buf = [0u8; 256];
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(
            &buf[..len],
            b"READY=1\nSTATUS=SIP on 0.0.0.0:5060 web on :8443"
        );

        let status = StatusBoard::default();
        status.beat(Instant::now(), true);
        n.start_watchdog(status.clone());
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"WATCHDOG=1");
        // The loop stops turning: after the heartbeat limit no more pings.
        std::thread::sleep(crate::app::HEARTBEAT_LIMIT + Duration::from_millis(300));
        while listener.recv(&mut buf).is_ok() {
            // Drain what was sent while the beat was fresh, until the
            // socket stays quiet for a whole read timeout.
            listener
                .set_read_timeout(Some(Duration::from_millis(600)))
                .unwrap();
        }
        // Beating again brings the pings back.
        listener
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let beats = std::thread::spawn(move || {
            for _ in 0..20 {
                status.beat(Instant::now(), true);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"WATCHDOG=1");
        beats.join().unwrap();
        let _ = std::fs::remove_file(&path);
    }
}
