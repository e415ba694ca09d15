//! Firmware updates against a real gateway process (docs/updates.md):
//! `pbxgate health-check` passes while the gateway's SIP listeners and web
//! page answer and fails, naming what, once it is gone; a bundle upload
//! goes through the HTTPS server as a stream, after the login and the
//! CSRF header are checked, and is removed whatever the outcome. This host
//! has no RAUC service, so a checked bundle is not installed here (the
//! image's qemu test installs one for real). Addresses 127.0.236.*.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use common::https::{first_login, Client};
use common::GatewayProcess;

const IP: &str = "127.0.236.1";
const WEB_PORT: u16 = 28443;

fn health_check(data_dir: &Path, timeout_s: u32) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pbxgate"))
        .args(["health-check", "--data-dir"])
        .arg(data_dir)
        .args(["--timeout", &timeout_s.to_string()])
        .output()
        .expect("pbxgate health-check");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn uploads_left(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("update-upload-"))
        .collect()
}

#[test]
fn health_check_and_streamed_upload_against_a_real_gateway() {
    let web: SocketAddr = format!("{IP}:{WEB_PORT}").parse().unwrap();
    let mut gw = GatewayProcess::start(IP, 36060, &format!("[web]\nbind = \"{web}\"\n"));
    let mut admin = first_login(&gw, web, "a long enough new password 7");

    let (passed, out, err) = health_check(&gw.data_dir, 30);
    assert!(passed, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("pbxgate health-check: passed in "), "{out}");

    // No login: refused before the body is read.
    // Over the 1 MiB any other request may carry: only a stream takes it.
    let bundle = vec![0x5au8; 2 << 20];
    let small = vec![0x5au8; 1000];
    let r = Client::new(web, &gw.data_dir).send(
        "POST",
        "/api/v1/system/update",
        Some(("application/octet-stream", small.clone())),
    );
    assert_eq!(r.status, 401, "{r:?}");
    // A session without the CSRF header.
    let csrf = admin.csrf.take();
    let r = admin.send(
        "POST",
        "/api/v1/system/update",
        Some(("application/octet-stream", small)),
    );
    assert_eq!(r.status, 403, "{r:?}");
    admin.csrf = csrf;
    // Logged in: streamed to the data directory, then RAUC is asked,
    // which this host has not.
    let r = admin.send(
        "POST",
        "/api/v1/system/update",
        Some(("application/octet-stream", bundle)),
    );
    assert_eq!(r.status, 503, "{r:?}");
    let e = r.json()["error"].as_str().unwrap().to_string();
    assert!(
        e.starts_with("no RAUC on this system: updates need the appliance image"),
        "{e}"
    );
    // Too big by its Content-Length: answered without reading it.
    let raw = format!(
        "POST /api/v1/system/update HTTP/1.1\r\nHost: {web}\r\nConnection: close\r\nCookie: {}\r\nX-CSRF-Token: {}\r\nContent-Length: {}\r\n\r\nxx",
        admin_cookie(&admin),
        admin.csrf.clone().unwrap(),
        600u64 << 20
    );
    let answer = String::from_utf8_lossy(&admin.exchange(raw.as_bytes()).unwrap()).into_owned();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("the update bundle is over 512 MiB"),
        "{answer}"
    );
    assert!(
        uploads_left(&gw.data_dir).is_empty(),
        "{:?}",
        uploads_left(&gw.data_dir)
    );
    let r = admin.get("/api/v1/system/slots");
    assert_eq!(r.status, 503, "{r:?}");
    let page = admin.get("/system");
    assert!(page.body.contains(r#"id="form-update""#), "{}", page.body);

    gw.kill();
    let (passed, _, err) = health_check(&gw.data_dir, 3);
    assert!(!passed);
    assert!(
        err.contains("SIP listener 'wan' (127.0.236.1:36060)"),
        "{err}"
    );
    assert!(err.contains("SIP listener 'lan'"), "{err}");
    assert!(err.contains("web page (127.0.236.1:28443)"), "{err}");
    assert!(err.contains("pbxgate health-check: failed after "), "{err}");
}

/// The session cookie the client holds, as it sends it.
fn admin_cookie(c: &Client) -> String {
    c.cookie_header().expect("logged in")
}
