//! The web server end to end: a real gateway process, HTTPS from a client
//! that trusts only the certificate in the box's data directory.
//! Addresses 127.0.170.* - 127.0.171.*.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use common::https::{self, Client};
use common::GatewayProcess;

fn start(ip: &str, web_port: u16, web: &str) -> (GatewayProcess, SocketAddr, String) {
    let config = format!("[web]\nbind = \"{ip}:{web_port}\"\n{web}");
    let gw = GatewayProcess::start(ip, 35060, &config);
    gw.wait_for_output("web page:", Duration::from_secs(20));
    let out = gw.stdout();
    let line = out
        .lines()
        .find(|l| l.contains("web page:"))
        .expect("banner line")
        .to_string();
    assert!(
        line.contains(&format!(
            "web page: https://{ip}:{web_port}/ (certificate SHA-256 "
        )),
        "{line}"
    );
    let password = one_time(&out).expect("a one-time password in the banner");
    (gw, format!("{ip}:{web_port}").parse().unwrap(), password)
}

fn one_time(out: &str) -> Option<String> {
    let l = out.lines().find(|l| l.contains("web login: admin / "))?;
    assert!(l.ends_with("(one-time: you will set your own)"), "{l}");
    let rest = l.split("web login: admin / ").nth(1)?;
    Some(rest.split(' ').next()?.to_string())
}

fn from(addr: SocketAddr, gw: &GatewayProcess, source: &str) -> Client {
    let mut c = Client::new(addr, &gw.data_dir);
    c.source = Some(source.parse().unwrap());
    c
}

fn healthy(c: &mut Client) {
    for _ in 0..50 {
        if c.get("/healthz").status == 200 {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("/healthz never answered 200");
}

#[test]
fn login_first_password_csrf_tokens_metrics_and_the_limit() {
    let (gw, addr, one_time) = start("127.0.170.1", 18443, "");
    let mut anon = from(addr, &gw, "127.0.170.2");
    healthy(&mut anon);
    let r = anon.get("/healthz");
    assert_eq!(r.body, "ok\n");
    assert_eq!(r.header("x-frame-options"), Some("DENY"));

    // Without a session every API endpoint answers 401.
    for path in [
        "/api/v1/status",
        "/api/v1/tokens",
        "/api/v1/calls",
        "/api/v1/config",
        "/api/v1/system",
    ] {
        let r = anon.get(path);
        assert_eq!(r.status, 401, "{path}: {r:?}");
        assert!(r.json()["error"].is_string());
    }
    assert_eq!(
        anon.post_json("/api/v1/tokens", &serde_json::json!({"name": "x"}))
            .status,
        401
    );
    assert_eq!(anon.delete("/api/v1/tokens/x").status, 401);
    assert_eq!(anon.get("/").header("location"), Some("/login"));
    let r = anon.get("/metrics");
    assert_eq!(r.status, 401);

    // A wrong password is refused.
    let r = anon.log_in("admin", "not the password");
    assert_eq!(r.status, 401);
    assert!(r.header("set-cookie").is_none());

    // The one-time password leads only to /first-password.
    let mut admin = from(addr, &gw, "127.0.170.3");
    let r = admin.log_in("admin", &one_time);
    assert_eq!(r.header("location"), Some("/first-password"), "{r:?}");
    assert!(admin.csrf.is_some(), "the form carries the CSRF token");
    assert_eq!(admin.get("/").header("location"), Some("/first-password"));
    assert_eq!(admin.get("/api/v1/status").status, 403);
    let r = admin.post_form(
        "/first-password",
        &[("password", &one_time), ("confirm", &one_time)],
    );
    assert_eq!(r.status, 422, "the one-time password cannot be kept");
    let new = "a password of my own";
    let r = admin.post_form("/first-password", &[("password", new), ("confirm", new)]);
    assert_eq!((r.status, r.header("location")), (303, Some("/")), "{r:?}");
    let page = admin.get("/");
    assert_eq!(page.status, 200);
    for id in [
        "id=\"registrations\"",
        "id=\"calls-active\"",
        "id=\"counters\"",
        "id=\"version\"",
    ] {
        assert!(page.body.contains(id), "{id}");
    }
    assert_eq!(admin.get("/assets/status.js").status, 200);

    // The one-time password worked once.
    let mut again = from(addr, &gw, "127.0.170.4");
    assert_eq!(again.log_in("admin", &one_time).status, 401);
    let mut me = from(addr, &gw, "127.0.170.4");
    assert_eq!(me.log_in("admin", new).header("location"), Some("/"));
    let status = me.get("/api/v1/status").json();
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(status["admission"].as_array().unwrap().len(), 2);

    // A session's POST without the CSRF token is refused.
    let csrf = me.csrf.take();
    let r = me.post_json("/api/v1/tokens", &serde_json::json!({"name": "prometheus"}));
    assert_eq!(r.status, 403, "{r:?}");
    let r = me.post_form("/logout", &[]);
    assert_eq!(r.status, 403);
    me.csrf = csrf;

    // A token made through the API reads /metrics.
    let r = me.post_json("/api/v1/tokens", &serde_json::json!({"name": "prometheus"}));
    assert_eq!(r.status, 201, "{r:?}");
    let token = r.json()["token"].as_str().unwrap().to_string();
    let stored = std::fs::read_to_string(gw.data_dir.join("web-tokens.toml")).unwrap();
    assert!(!stored.contains(&token[5..]), "only a hash is stored");
    let mut scraper = from(addr, &gw, "127.0.170.5").with_bearer(&token);
    let r = scraper.get("/metrics");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("pbxgate_calls_active"), "{}", r.body);
    assert_eq!(scraper.get("/api/v1/status").status, 200);
    assert_eq!(
        scraper.get("/").status,
        303,
        "a token is not a browser session"
    );
    let r = me.get("/api/v1/tokens").json();
    assert_eq!(r["tokens"][0]["name"], "prometheus");

    // Five failures from one source, then 429 with Retry-After.
    let mut guesser = from(addr, &gw, "127.0.170.6");
    for _ in 0..5 {
        assert_eq!(guesser.log_in("admin", "guess guess").status, 401);
    }
    let r = guesser.log_in("admin", new);
    assert_eq!(r.status, 429, "{r:?}");
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() > 60);
    assert_eq!(
        from(addr, &gw, "127.0.170.7").log_in("admin", new).status,
        303,
        "other sources still log in"
    );

    // `pbxgate reset-password` on the console reaches the running box.
    let out = Command::new(env!("CARGO_BIN_EXE_pbxgate"))
        .args(["reset-password", "--data-dir"])
        .arg(&gw.data_dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8_lossy(&out.stdout);
    let reset = self::one_time(&printed).expect("printed");
    // The users file's mtime has whole-second resolution on some systems.
    std::thread::sleep(Duration::from_millis(1100));
    let mut after = from(addr, &gw, "127.0.170.8");
    assert_eq!(
        after.log_in("admin", &reset).header("location"),
        Some("/first-password")
    );
    assert_eq!(me.get("/").status, 303, "the reset ended the old sessions");
}

#[test]
fn a_source_outside_the_allow_list_gets_nothing() {
    // The issue's own example: only 127.0.0.1 may connect, 127.0.0.2 gets
    // nothing (the box listens on 127.0.171.1; the sources are the test's).
    let (gw, addr, _) = start("127.0.171.1", 18443, "allow = [\"127.0.0.1/32\"]\n");
    let mut inside = from(addr, &gw, "127.0.0.1");
    healthy(&mut inside);
    let outside: IpAddr = "127.0.0.2".parse().unwrap();
    let mut tcp = https::connect(addr, Some(outside)).expect("the TCP connect itself succeeds");
    // A TLS 1.2 ClientHello's record header and a few bytes: whatever
    // comes, the box must answer nothing.
    let _ = tcp.write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00]);
    let mut buf = [0u8; 64];
    match tcp.read(&mut buf) {
        Ok(n) => assert_eq!(n, 0, "answered {:?}", &buf[..n]),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
            "{e}"
        ),
    }
    let c = from(addr, &gw, "127.0.0.2");
    let tried = c.exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(tried.is_err(), "{tried:?}");
}

/// `[network]` through the API of a real gateway: a static address is
/// written as the networkd file in the data directory (the appliance
/// applies it; here nothing does), a bad one is refused naming the field
/// and writes nothing, a restart leaves the file as it is, DHCP removes
/// it. The addresses are TEST-NET-1's, only ever written to the file.
#[test]
fn a_static_address_saved_through_the_api_is_the_data_directory_s_networkd_file() {
    let (gw, addr, _) = start("127.0.171.20", 18463, "");
    let out = gw.stdout();
    let banner = out
        .lines()
        .find(|l| l.contains("network: "))
        .expect("a network line in the banner");
    assert!(
        banner.contains("network: DHCP on every wired port; not the appliance image"),
        "{banner}"
    );
    let mut gw = gw;
    let mut admin = https::first_login(&gw, addr, "a password of my own 23");
    let file = gw.data_dir.join("network").join("10-pbxgate.network");
    assert!(!file.exists());

    let put = |c: &mut Client, v: serde_json::Value| c.put_json("/api/v1/config/network", &v);
    let r = put(
        &mut admin,
        serde_json::json!({
            "mode": "static", "interface": "eth0", "address": "192.0.2.50/24",
            "gateway": "192.0.2.1", "dns": ["192.0.2.53", "2001:db8::53"],
        }),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.json(),
        serde_json::json!({"changed": ["network"], "needs_restart": []})
    );
    let text = std::fs::read_to_string(&file).expect("the networkd file");
    let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        body,
        [
            "[Match]",
            "Name=eth0",
            "",
            "[Network]",
            "DHCP=no",
            "Address=192.0.2.50/24",
            "Gateway=192.0.2.1",
            "DNS=192.0.2.53",
            "DNS=2001:db8::53",
        ]
    );
    let saved = gw.log();
    assert!(
        saved.contains("network: static 192.0.2.50/24 on eth0, gateway 192.0.2.1"),
        "{saved}"
    );
    let status = admin.get("/api/v1/system/network").json();
    assert_eq!(status["mode"], "static");
    assert_eq!(status["file"], file.display().to_string());
    assert!(status["interfaces"].is_array(), "{status}");

    // A bad address: refused naming the field, the file as it was.
    let before = std::fs::metadata(&file).unwrap().modified().unwrap();
    let r = put(
        &mut admin,
        serde_json::json!({"mode": "static", "interface": "eth0", "address": "192.0.2.300/24"}),
    );
    assert_eq!(r.status, 422, "{r:?}");
    assert_eq!(r.json()["field"], "network.address");
    assert_eq!(
        r.json()["error"],
        "\"192.0.2.300/24\" is not an address with a prefix length, like 192.168.1.50/24"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    let r = put(&mut admin, serde_json::json!({"mode": "fixed"}));
    assert_eq!(
        (r.status, r.json()["field"].clone()),
        (400, "network.mode".into())
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        before
    );

    // A restart writes the same file again only if it differs: untouched,
    // so the appliance does not reconfigure the port at every start.
    std::thread::sleep(Duration::from_millis(20));
    gw.restart();
    gw.wait_for_output("network: ", Duration::from_secs(20));
    let out = gw.stdout();
    assert!(
        out.contains(&format!(
            "network: static 192.0.2.50/24 on eth0, gateway 192.0.2.1, DNS 192.0.2.53 2001:db8::53, in {}",
            file.display()
        )),
        "{out}"
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        before
    );

    // Back to DHCP: the file is gone, so the image's own DHCP file applies.
    let mut admin = Client::login(addr, &gw.data_dir, "admin", "a password of my own 23");
    let r = put(&mut admin, serde_json::json!({"mode": "dhcp"}));
    assert_eq!(r.status, 200, "{r:?}");
    assert!(!file.exists());
    let status = admin.get("/api/v1/system/network").json();
    assert_eq!(
        (status["mode"].clone(), status["file"].clone()),
        ("dhcp".into(), serde_json::Value::Null)
    );
}
