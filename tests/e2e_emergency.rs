//! Emergency numbers end to end (issue 17, item 7): with the call limit
//! reached and the PBX over its LAN rate limit, a real sipp PBX still
//! reaches the emergency target by dialling 112, and the same call to an
//! ordinary number does not get through. Addresses 127.0.130.*.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{assert_has_all, Gateway, Sipp};

const GW: &str = "127.0.130.1";
const PSAP: &str = "127.0.130.5";
const TRUNK: &str = "127.0.130.6";
/// The flooding PBX: its datagrams are over the rate limit.
const PBX: &str = "127.0.130.7";
const HOLD_PBX: &str = "127.0.130.8";
const HOLD_CLOUD: &str = "127.0.130.9";
/// Another PBX on the LAN, not flooding.
const QUIET_PBX: &str = "127.0.130.10";
const T: Duration = Duration::from_secs(60);

/// Sends junk from `ip` to `to` 50 times a second until dropped.
struct Flood {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Flood {
    fn start(ip: &str, to: SocketAddr) -> Flood {
        let sock = UdpSocket::bind((ip, 0)).expect("bind flood socket");
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut sent = 0;
            while !s.load(Ordering::Relaxed) {
                let _ = sock.send_to(b"flood\r\n\r\n", to);
                sent += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            sent
        });
        Flood {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().map_or(0, |t| t.join().unwrap_or(0))
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One INVITE to `number` from `from_ip`; the first answer within `wait`.
fn raw_invite(from_ip: &str, to: SocketAddr, number: &str, wait: Duration) -> Option<String> {
    let sock = UdpSocket::bind((from_ip, 0)).expect("bind");
    let local = sock.local_addr().expect("addr");
    let msg = format!(
        "INVITE sip:{number}@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKquiet{p}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:202@{local}>;tag=q1\r\nTo: <sip:{number}@{to}>\r\n\
         Call-ID: quiet-{p}@{from_ip}\r\nCSeq: 1 INVITE\r\nContact: <sip:202@{local}>\r\n\
         Content-Length: 0\r\n\r\n",
        p = local.port()
    );
    sock.send_to(msg.as_bytes(), to).expect("send");
    let end = Instant::now() + wait;
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        sock.set_read_timeout(Some(end - Instant::now() + Duration::from_millis(1)))
            .expect("timeout");
        let Ok(n) = sock.recv(&mut buf) else {
            return None;
        };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        // 100 Trying is not an answer.
        if !text.starts_with("SIP/2.0 1") {
            return Some(text);
        }
    }
    None
}

/// Counts datagrams arriving at `addr` until dropped (a target that must
/// stay silent).
fn listen(addr: &str) -> (Arc<AtomicBool>, std::thread::JoinHandle<usize>) {
    let sock = UdpSocket::bind(addr).expect("bind trunk");
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let t = std::thread::spawn(move || {
        let mut got = 0;
        let mut buf = [0u8; 4096];
        while !s.load(Ordering::Relaxed) {
            if sock.recv(&mut buf).is_ok() {
                got += 1;
            }
        }
        got
    });
    (stop, t)
}

#[test]
fn a_call_to_112_passes_the_call_limit_and_the_rate_limit() {
    let cfg = format!(
        "[calls]\nmax_concurrent = 1\n\
         [media]\nport_min = 36000\nport_max = 36019\n\
         [emergency]\nroute = \"psap\"\n\
         [[route]]\nname = \"in\"\nfrom = \"wan\"\ntargets = [{{ uri = \"sip:ext@{HOLD_PBX}:35090\" }}]\n\
         [[route]]\nname = \"out\"\nfrom = \"lan\"\ntargets = [{{ uri = \"sip:trunk@{TRUNK}:35090\" }}]\n\
         [[route]]\nname = \"psap\"\nfrom = \"lan\"\ntargets = [{{ uri = \"sip:psap@{PSAP}:35090\" }}]\n"
    );
    let gw = Gateway {
        config: cfg,
        lan: "rate_per_s = 1\nburst = 1\nrate_per_s_listed = 1\nburst_listed = 1\n".into(),
        ..Gateway::new(GW, 35060)
    }
    .start();
    let lan = gw.lan();

    // A call from the cloud fills the limit and stays up.
    let _hold_pbx = Sipp::new("call_pbx_uas_bye.xml")
        .on(HOLD_PBX, 35090)
        .args(&["-d", "60000"])
        .start();
    let _hold_cloud = Sipp::new("call_cloud_uac_wait_bye.xml")
        .to(gw.wan())
        .on(HOLD_CLOUD, 35100)
        .start();
    gw.wait_for_log_line(&["new call", "route=in"], Duration::from_secs(10));
    let answer = raw_invite(QUIET_PBX, lan, "5551234", Duration::from_secs(3));
    assert!(
        answer
            .as_deref()
            .is_some_and(|a| a.starts_with("SIP/2.0 503")),
        "the limit is reached: an ordinary call from a quiet PBX gets 503, got {answer:?}"
    );

    // The PBX goes over its rate limit and stays there.
    let flood = Flood::start(PBX, lan);
    std::thread::sleep(Duration::from_millis(300));
    let (trunk_stop, trunk) = listen(&format!("{TRUNK}:35090"));

    // The flooding PBX dials `number` from PBX:`port`.
    let dial = |number: &str, port: u16| {
        Sipp::new("call_pbx_uac_dial.xml")
            .to(lan)
            .on(PBX, port)
            .args(&["-s", number])
    };
    let ordinary = dial("5551234", 35100).run(Duration::from_secs(6));
    assert_ne!(
        ordinary.code,
        Some(0),
        "an ordinary call from the flooding PBX must not get through:\n{}",
        ordinary.stdout
    );

    let psap = Sipp::new("call_pbx_uas_bye.xml")
        .on(PSAP, 35090)
        .args(&["-d", "500"])
        .start();
    dial("112", 35101)
        .run(T)
        .assert_success("the PBX's call to 112 completes while it floods the gateway");
    psap.wait(T)
        .assert_success("the emergency target answered the call and hung up");
    let flooded = flood.stop();
    trunk_stop.store(true, Ordering::Relaxed);
    let reached_trunk = trunk.join().expect("listener");
    assert!(flooded > 100, "the flood ran ({flooded} datagrams)");
    assert_eq!(
        reached_trunk, 0,
        "the ordinary call never reached its target"
    );

    let line = gw.wait_for_log_line(&["emergency call", "route=psap"], Duration::from_secs(5));
    assert_has_all(
        &line,
        &[
            "WARN",
            "number=112",
            "caller=sip:201@127.0.130.7:35101",
            "target=sip:psap@127.0.130.5:35090",
        ],
    );
    gw.wait_for_log_line(
        &[
            "emergency call admitted over the concurrent-call limit",
            "number=112",
        ],
        Duration::from_secs(1),
    );
    let log = gw.log();
    assert!(!log.contains("route=out"), "{log}");
    assert_eq!(log.matches("new call").count(), 2, "{log}");
}

#[test]
fn check_config_warns_when_no_route_carries_the_emergency_numbers() {
    let dir = std::env::temp_dir().join(format!("pbxgate-e2e-emergency-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let wan_route =
        "[[route]]\nname = \"in\"\ntargets = [{ uri = \"sip:q@127.0.130.20:35090\" }]\n";
    let lan_route = "[[route]]\nname = \"out\"\nfrom = \"lan\"\n\
                     match = [{ dialled = true, prefix = \"+1\" }]\n\
                     targets = [{ uri = \"sip:trunk@127.0.130.21:35090\" }]\n";
    // (description, config, words of the warning; None = no warning)
    let rows: [(&str, String, Option<&str>); 4] = [
        (
            "numbers set, only a WAN route",
            format!("[emergency]\nnumbers = [\"112\", \"911\"]\n{wan_route}"),
            Some("no route carries a call from the LAN to 112, 911"),
        ),
        (
            "a LAN route for +1 numbers only",
            format!("[emergency]\nnumbers = [\"112\", \"911\"]\n{wan_route}{lan_route}"),
            Some("no route carries a call from the LAN to 112, 911"),
        ),
        (
            "the LAN route is the emergency route",
            format!("[emergency]\nnumbers = [\"112\"]\nroute = \"out\"\n{wan_route}{lan_route}"),
            None,
        ),
        (
            "no numbers",
            format!("[emergency]\nnumbers = []\n{wan_route}"),
            None,
        ),
    ];
    for (what, text, warning) in rows {
        let path = dir.join("pbxgate.toml");
        std::fs::write(&path, &text).expect("config");
        // Owner-only, or the mode is warned about too.
        let owner_only = std::os::unix::fs::PermissionsExt::from_mode(0o600);
        std::fs::set_permissions(&path, owner_only).expect("mode");
        let out = Command::new(env!("CARGO_BIN_EXE_pbxgate"))
            .arg("--config")
            .arg(&path)
            .arg("--check-config")
            .output()
            .expect("run pbxgate");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{what}: {stderr}");
        match warning {
            Some(words) => {
                let line = stderr
                    .lines()
                    .find(|l| l.contains("warning: emergency.numbers:"))
                    .unwrap_or_else(|| panic!("{what}: no warning in: {stderr}"));
                assert!(line.contains(words), "{what}: {line}");
                assert!(
                    line.contains("emergency.route"),
                    "{what}: says what to do: {line}"
                );
            }
            None => assert!(!stderr.contains("warning"), "{what}: {stderr}"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
