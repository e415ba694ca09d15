//! The gateway under a `Type=notify` unit with `WatchdogSec=` (the
//! appliance's pbxgate.service): it tells the socket in `NOTIFY_SOCKET`
//! READY=1 once it listens, feeds the watchdog at half of `WATCHDOG_USEC`
//! while its loop turns, and says STOPPING=1 on SIGTERM. The socket here
//! plays systemd's part. Addresses 127.0.237.*.

mod common;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::Gateway;

fn recv(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let len = sock
        .recv(&mut buf)
        .expect("a notification within the timeout");
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

#[test]
fn ready_after_listening_then_watchdog_pings_then_stopping() {
    let path = std::env::temp_dir().join(format!("pbxgate-notify-e2e-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();

    let mut g = Gateway::new("127.0.237.1", 25060);
    g.env = vec![
        ("NOTIFY_SOCKET", path.display().to_string()),
        // Pings every 200 ms.
        ("WATCHDOG_USEC", "400000".into()),
    ];
    let mut gw = g.start();

    let ready = recv(&sock);
    assert!(
        ready.starts_with("READY=1\nSTATUS=pbxgate "),
        "first notification: {ready:?}"
    );
    // READY=1 comes after the banner, so the listeners are bound by then.
    assert!(gw.stdout().contains("SIP lan:"), "{}", gw.stdout());

    let t0 = Instant::now();
    for _ in 0..5 {
        assert_eq!(recv(&sock), "WATCHDOG=1");
    }
    let spent = t0.elapsed();
    // Five pings at 200 ms apart: not all at once, not seconds apart.
    assert!(
        spent >= Duration::from_millis(600) && spent < Duration::from_secs(5),
        "five pings took {spent:?}"
    );

    gw.terminate(Duration::from_secs(10))
        .expect("the gateway stops on SIGTERM");
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut rest = Vec::new();
    let mut buf = [0u8; 512];
    while let Ok(len) = sock.recv(&mut buf) {
        rest.push(String::from_utf8_lossy(&buf[..len]).into_owned());
    }
    // The watchdog thread may still ping until the process exits.
    assert!(
        rest.iter().any(|n| n == "STOPPING=1"),
        "after SIGTERM: {rest:?}"
    );
    let _ = std::fs::remove_file(&path);
}
