//! End-to-end registration and digest authentication against real peers:
//! sipp as a challenging registrar, Kamailio as a SHA-256 registrar, and
//! sipp / a raw-socket client as callers challenged by the gateway.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    md5_registrar, python3, start_dnsmasq, GatewayProcess, KillOnDrop, Sipp, SippBackground,
    SippRun,
};

fn account(registrar: &str, extra: &str) -> String {
    format!(
        "[sip]\nt1_ms = 100\n\n[[account]]\nname = \"cloud\"\nregistrar = \"{registrar}\"\n\
         username = \"alice\"\npassword = \"secret\"\nexpires_s = 60\nkeepalive_interval_s = 0\n\
         retry_base_s = 1\nretry_max_s = 2\n{extra}\n"
    )
}

/// sipp playing a registrar that answers 423 (Min-Expires: 120), then 200.
fn registrar_423(ip: &str, transport: &str) -> SippBackground {
    Sipp::new("registrar_423_uas.xml")
        .transport(transport)
        .on(ip, 35160)
        .start()
}

/// Waits until the gateway's log says it registered.
fn registered(gw: &GatewayProcess, timeout: Duration) {
    gw.wait_for_log_line(&["registered"], timeout);
}

#[test]
fn registers_with_md5_refreshes_learns_its_address_and_unregisters() {
    // The registrar tells the gateway it sees it at 127.0.10.250:45999
    // (a pretend NAT): refreshes must carry that address.
    let registrar = md5_registrar("127.0.20.1", 4, 2, ("127.0.10.250", 45999)).start();
    let mut gw = GatewayProcess::start("127.0.21.1", 35060, &account("sip:127.0.20.1:35160", ""));
    registered(&gw, Duration::from_secs(10));
    // Two refreshes at half of the 4 s grant, then a clean stop.
    std::thread::sleep(Duration::from_secs(7));
    let status = gw
        .terminate(Duration::from_secs(10))
        .expect("gateway stops on SIGTERM");
    assert!(status.success(), "{status:?}");
    gw.assert_logged("un-registered");
    registrar
        .wait(Duration::from_secs(20))
        .assert_success("sipp registrar (MD5 challenge, refreshes, learned address, un-REGISTER)");
}

#[test]
fn interval_too_brief_is_retried_with_min_expires() {
    let registrar = registrar_423("127.0.20.2", "u1");
    let gw = GatewayProcess::start("127.0.21.2", 35060, &account("sip:127.0.20.2:35160", ""));
    registrar
        .wait(Duration::from_secs(20))
        .assert_success("sipp registrar answering 423 then 200");
    registered(&gw, Duration::from_secs(5));
}

#[test]
fn recovers_after_the_registrar_was_down() {
    // Nothing listens at first: the REGISTER times out (timer F = 64·T1 =
    // 6.4 s with T1 = 100 ms), the gateway backs off and tries again.
    let gw = GatewayProcess::start("127.0.21.3", 35060, &account("sip:127.0.20.3:35160", ""));
    gw.wait_for_log_line(&["registration failed"], Duration::from_secs(15));
    gw.assert_logged("no answer from the registrar at 127.0.20.3:35160");
    registrar_423("127.0.20.3", "u1")
        .wait(Duration::from_secs(30))
        .assert_success("registrar reached after it came up");
    registered(&gw, Duration::from_secs(5));
}

/// Kamailio as a registrar that challenges with SHA-256 (sipp 3.6 only
/// verifies MD5).
#[test]
fn registers_with_sha256_to_kamailio() {
    let script = Path::new(common::MANIFEST_DIR).join("tests/peers/kamailio_registrar.sh");
    let mut kamailio = Command::new("bash")
        .arg(&script)
        .args(["127.0.30.1", "35170", "SHA-256", "alice", "secret"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kamailio_registrar.sh");
    let err = kamailio.stderr.take().unwrap();
    // SIGTERM: the script's trap stops kamailio.
    let _stop = KillOnDrop::term(kamailio);
    let ready = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            if line.contains("kamailio_registrar: ready") {
                return true;
            }
        }
        false
    });
    let waited = Instant::now();
    while !ready.is_finished() && waited.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        ready.is_finished() && ready.join().unwrap_or(false),
        "kamailio did not start"
    );
    let mut gw = GatewayProcess::start("127.0.21.4", 35060, &account("sip:127.0.30.1:35170", ""));
    registered(&gw, Duration::from_secs(10));
    assert!(
        gw.log().contains("algorithm=SHA-256"),
        "Kamailio challenged with SHA-256:\n{}",
        gw.log()
    );
    assert!(gw
        .terminate(Duration::from_secs(10))
        .is_some_and(|s| s.success()));
    gw.assert_logged("un-registered");
    gw.assert_logged("status=200");
}

fn inbound_auth() -> &'static str {
    "[inbound_auth]\nusers = [{ username = \"alice\", password = \"secret\" }]\n"
}

fn digest_invite(
    gw: &GatewayProcess,
    local_ip: &str,
    port: u16,
    password: &str,
    expect: &str,
) -> SippRun {
    let target = gw.wan().to_string();
    let auth_uri = format!("1000@{target}");
    Sipp::new("uac_digest_invite.xml")
        .to(target)
        .transport("u1")
        .on(local_ip, port)
        .args(&["-s", "1000", "-au", "alice", "-ap", password])
        .args(&["-auth_uri", &auth_uri])
        .key("expect_code", expect)
        .run(Duration::from_secs(60))
}

#[test]
fn callers_are_challenged_admitted_or_refused() {
    let gw = GatewayProcess::start("127.0.21.5", 35060, inbound_auth());
    // No credentials → 401 (inside the scenario); right ones → through
    // (480: no routing yet); wrong ones → 403.
    digest_invite(&gw, "127.0.22.5", 36201, "secret", "480").assert_success("right credentials");
    digest_invite(&gw, "127.0.22.6", 36202, "wrong", "403").assert_success("wrong credentials");
    // The same Authorization sent twice: the second is a replay.
    python3(
        "digest_replay.py",
        &[
            "127.0.21.5",
            "35060",
            "alice",
            "secret",
            "--bind",
            "127.0.22.7",
        ],
        "replayed nonce-count must be refused",
    );
}

#[test]
fn registers_over_tcp() {
    let registrar = registrar_423("127.0.20.8", "t1");
    let gw = GatewayProcess::start(
        "127.0.21.8",
        35060,
        &account("sip:127.0.20.8:35160", "transport = \"tcp\""),
    );
    registrar
        .wait(Duration::from_secs(20))
        .assert_success("sipp registrar over TCP");
    registered(&gw, Duration::from_secs(5));
    gw.assert_logged("transport=tcp");
    // sipp has ended and closed the connection: the gateway notices that
    // its binding is unreachable and registers again.
    gw.wait_for_log_line(
        &["connection to the registrar closed; registering again"],
        Duration::from_secs(5),
    );
}

/// The registrar's name resolves through SRV (dnsmasq on loopback) to two
/// targets; the preferred one is dead, so the REGISTER times out there and
/// the gateway fails over to the second (RFC 3263 §4.3).
#[test]
fn registrar_found_by_srv_with_failover_to_the_next_target() {
    let records = [
        "--local=/reg.test/",
        "--srv-host=_sip._udp.reg.test,dead.reg.test,35160,10,0",
        "--srv-host=_sip._udp.reg.test,live.reg.test,35160,20,0",
        "--host-record=dead.reg.test,127.0.40.1",
        "--host-record=live.reg.test,127.0.40.2",
    ]
    .map(String::from);
    let _dns = start_dnsmasq("127.0.53.2", 5399, &records);
    std::thread::sleep(Duration::from_millis(500));
    let registrar = registrar_423("127.0.40.2", "u1");
    let gw = GatewayProcess::start(
        "127.0.21.6",
        35060,
        &format!(
            "[dns]\nnameservers = [\"127.0.53.2:5399\"]\n\n{}",
            account("sip:reg.test", "")
        ),
    );
    registrar
        .wait(Duration::from_secs(40))
        .assert_success("registrar reached through SRV failover");
    registered(&gw, Duration::from_secs(5));
    assert!(
        gw.log().contains("127.0.40.2:35160"),
        "registered through the second SRV target:\n{}",
        gw.log()
    );
}
