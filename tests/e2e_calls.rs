//! End-to-end call path with real sipp peers on 127.0.0.0/8: a sipp UAC
//! plays the cloud platform, sipp UASes on other loopback addresses play
//! PBX queues; each test runs its own gateway on its own address.

mod common;

use std::time::Duration;

use common::{scenario, sipp, GatewayProcess, SippBackground, SippRun};

const PBX_PORT: &str = "35090";
const T: Duration = Duration::from_secs(60);

fn sc(name: &str) -> String {
    scenario(name).to_str().expect("path").to_string()
}

/// A PBX (sipp UAS) on `ip`, taking `calls` calls.
fn pbx(name: &str, ip: &str, calls: u32, extra: &[&str]) -> SippBackground {
    let s = sc(name);
    let m = calls.to_string();
    let mut args = vec!["-sf", &s, "-i", ip, "-p", PBX_PORT, "-m", &m];
    args.extend_from_slice(extra);
    SippBackground::start(&args)
}

/// The cloud (sipp UAC) on `ip`, calling the gateway's WAN address.
fn cloud(name: &str, ip: &str, gw: &GatewayProcess, calls: u32, extra: &[&str]) -> SippRun {
    let s = sc(name);
    let m = calls.to_string();
    let remote = gw.wan().to_string();
    let mut args = vec![
        "-sf", &s, &remote, "-i", ip, "-p", "35100", "-m", &m, "-l", "1",
    ];
    args.extend_from_slice(extra);
    sipp(&args, T)
}

fn route_toml(name: &str, afid: Option<&str>, targets: &[&str], route_header: &str) -> String {
    let matches = afid
        .map(|a| format!("match = [{{ header = \"X-PH-RetreaverAFID\", equals = \"{a}\" }}]\n"))
        .unwrap_or_default();
    let targets: Vec<String> = targets
        .iter()
        .map(|t| format!("{{ uri = \"{t}\" }}"))
        .collect();
    format!(
        "[[route]]\nname = \"{name}\"\nfrom = \"wan\"\n{matches}targets = [{}]\n\
         headers = [\n  {{ action = \"rename\", from = \"X-PH-RetreaverAFID\", name = \"X-Publisher-ID\" }},\n  \
         {{ action = \"pass\", name = \"X-Campaign-ID\" }},\n  \
         {{ action = \"set\", name = \"X-Route\", value = \"{route_header}\" }},\n  \
         {{ action = \"strip\", name = \"X-PH-RetreaverKey\" }},\n]\n",
        targets.join(", ")
    )
}

fn calls_toml(extra: &str) -> String {
    format!("[sip]\nt1_ms = 100\n[calls]\nfailover_timeout_ms = 1000\n{extra}\n")
}

#[test]
fn calls_are_routed_by_afid_with_mapped_headers() {
    let cfg = format!(
        "{}{}{}",
        calls_toml(""),
        route_toml(
            "queue-a",
            Some("5678"),
            &["sip:queue-a@127.0.60.2:35090"],
            "queue-a"
        ),
        route_toml(
            "queue-b",
            Some("9999"),
            &["sip:queue-b@127.0.60.3:35090"],
            "queue-b"
        ),
    );
    let gw = GatewayProcess::start("127.0.60.1", 35060, &cfg);
    let a = pbx("call_pbx_uas_5678.xml", "127.0.60.2", 1, &[]);
    let b = pbx("call_pbx_uas_9999.xml", "127.0.60.3", 1, &[]);
    let csv = sc("call_afid.csv");
    cloud("call_cloud_uac.xml", "127.0.60.7", &gw, 2, &["-inf", &csv])
        .assert_success("cloud calls with AFID 5678 and 9999");
    a.wait(T)
        .assert_success("queue A got the 5678 call with its headers");
    b.wait(T)
        .assert_success("queue B got the 9999 call with its headers");
    let log = gw.log();
    assert_eq!(log.matches("new call").count(), 2, "{log}");
    assert!(
        log.contains("route=queue-a") && log.contains("route=queue-b"),
        "{log}"
    );
}

#[test]
fn cancel_before_answer_ends_in_487_and_cancels_the_pbx() {
    let cfg = format!(
        "{}{}",
        calls_toml(""),
        route_toml("ring", None, &["sip:ring@127.0.61.2:35090"], "ring")
    );
    let gw = GatewayProcess::start("127.0.61.1", 35060, &cfg);
    let p = pbx("call_pbx_uas_ring.xml", "127.0.61.2", 1, &[]);
    cloud("call_cloud_uac_cancel.xml", "127.0.61.7", &gw, 1, &[])
        .assert_success("caller CANCELs and gets 487");
    p.wait(T)
        .assert_success("PBX got the CANCEL and answered 487");
}

#[test]
fn bye_from_the_pbx_hangs_up_the_caller() {
    let cfg = format!(
        "{}{}",
        calls_toml(""),
        route_toml("q", None, &["sip:q@127.0.62.2:35090"], "q")
    );
    let gw = GatewayProcess::start("127.0.62.1", 35060, &cfg);
    let p = pbx("call_pbx_uas_bye.xml", "127.0.62.2", 1, &[]);
    cloud("call_cloud_uac_wait_bye.xml", "127.0.62.7", &gw, 1, &[])
        .assert_success("the caller gets the PBX's BYE");
    p.wait(T).assert_success("the PBX's BYE was answered");
}

#[test]
fn re_invite_is_relayed_both_ways() {
    let cfg = format!(
        "{}{}",
        calls_toml(""),
        route_toml("q", None, &["sip:q@127.0.63.2:35090"], "q")
    );
    let gw = GatewayProcess::start("127.0.63.1", 35060, &cfg);
    let p = pbx("call_pbx_uas_reinvite.xml", "127.0.63.2", 1, &[]);
    cloud("call_cloud_uac_reinvite.xml", "127.0.63.7", &gw, 1, &[])
        .assert_success("the caller's re-INVITE (hold) is answered by the PBX");
    p.wait(T).assert_success("the PBX got the re-INVITE");
}

#[test]
fn dead_first_target_fails_over_to_the_second() {
    // Nothing listens on 127.0.64.9: the INVITE goes unanswered.
    let cfg = format!(
        "{}{}",
        calls_toml(""),
        route_toml(
            "queue-a",
            None,
            &["sip:dead@127.0.64.9:35090", "sip:queue-a@127.0.64.2:35090"],
            "queue-a"
        )
    );
    let gw = GatewayProcess::start("127.0.64.1", 35060, &cfg);
    let p = pbx("call_pbx_uas_5678.xml", "127.0.64.2", 1, &[]);
    let csv = sc("call_afid.csv");
    cloud("call_cloud_uac.xml", "127.0.64.7", &gw, 1, &["-inf", &csv])
        .assert_success("the call completes on the second target");
    p.wait(T).assert_success("the second target took the call");
    assert!(gw.log().contains("failing over"), "{}", gw.log());
}

#[test]
fn busy_pbx_answer_goes_back_as_486() {
    let cfg = format!(
        "{}{}",
        calls_toml(""),
        route_toml(
            "q",
            None,
            &["sip:q@127.0.65.2:35090", "sip:never@127.0.65.3:35090"],
            "q"
        )
    );
    let gw = GatewayProcess::start("127.0.65.1", 35060, &cfg);
    let p = pbx("call_pbx_uas_486.xml", "127.0.65.2", 1, &[]);
    cloud("call_cloud_uac_486.xml", "127.0.65.7", &gw, 1, &[])
        .assert_success("the caller gets 486, not a failover");
    p.wait(T).assert_success("the PBX's 486 was ACKed");
    let log = gw.log();
    assert!(log.contains("status=486"), "{log}");
}

#[test]
fn call_over_the_concurrent_limit_gets_503() {
    let cfg = format!(
        "{}{}",
        calls_toml("max_concurrent = 1\nretry_after_s = 7"),
        route_toml("q", None, &["sip:q@127.0.66.2:35090"], "q")
    );
    let gw = GatewayProcess::start("127.0.66.1", 35060, &cfg);
    let p = pbx("call_pbx_uas_bye.xml", "127.0.66.2", 1, &["-d", "4000"]);
    // The first call holds the only slot.
    let first = {
        let s = sc("call_cloud_uac_wait_bye.xml");
        let remote = gw.wan().to_string();
        SippBackground::start(&[
            "-sf",
            &s,
            &remote,
            "-i",
            "127.0.66.7",
            "-p",
            "35100",
            "-m",
            "1",
        ])
    };
    std::thread::sleep(Duration::from_millis(800));
    cloud("call_cloud_uac_503.xml", "127.0.66.8", &gw, 1, &[])
        .assert_success("the second call gets 503 with Retry-After");
    first
        .wait(T)
        .assert_success("the first call was not disturbed");
    p.wait(T).assert_success("the PBX saw one call only");
    assert!(gw.log().contains("concurrent-call limit"), "{}", gw.log());
}

#[test]
fn a_302_from_the_pbx_is_followed_with_a_diversion() {
    let cfg = format!(
        "{}{}",
        calls_toml(""),
        route_toml("q", None, &["sip:q@127.0.67.2:35090"], "q")
    );
    let gw = GatewayProcess::start("127.0.67.1", 35060, &cfg);
    let p = pbx(
        "call_pbx_uas_302.xml",
        "127.0.67.2",
        1,
        &["-key", "fwd_to", "127.0.67.4:35090"],
    );
    let target = pbx("call_pbx_uas_forward_target.xml", "127.0.67.4", 1, &[]);
    let csv = sc("call_afid.csv");
    cloud("call_cloud_uac.xml", "127.0.67.7", &gw, 1, &["-inf", &csv])
        .assert_success("the call completes at the forward target");
    p.wait(T).assert_success("the PBX's 302 was ACKed");
    target
        .wait(T)
        .assert_success("the forward target got the call with Diversion");
    assert!(
        gw.log().contains("callee forwarded the call"),
        "{}",
        gw.log()
    );
}

#[test]
fn a_refer_from_the_pbx_moves_the_caller() {
    let cfg = format!(
        "{}{}",
        calls_toml(""),
        route_toml("q", None, &["sip:q@127.0.68.2:35090"], "q")
    );
    let gw = GatewayProcess::start("127.0.68.1", 35060, &cfg);
    let p = pbx(
        "call_pbx_uas_refer.xml",
        "127.0.68.2",
        1,
        &["-key", "refer_to", "127.0.68.4:35090"],
    );
    let target = pbx("call_pbx_uas_transfer_target.xml", "127.0.68.4", 1, &[]);
    cloud("call_cloud_uac_transfer.xml", "127.0.68.7", &gw, 1, &[])
        .assert_success("the caller is re-INVITEd to the transfer target and hangs up there");
    p.wait(T).assert_success("the PBX got 202 and the NOTIFYs");
    target
        .wait(T)
        .assert_success("the transfer target got the call and the caller's BYE");
    assert!(
        gw.log().contains("callee transfers the caller"),
        "{}",
        gw.log()
    );
}

/// Issue 3's last item: the far end challenges the outbound INVITE with
/// 407; the gateway answers with the target's credentials (never derived
/// from the URI) and the call completes.
#[test]
fn outbound_call_answers_a_407_with_the_targets_credentials() {
    let cfg = format!(
        "{}[[route]]\nname = \"to-buyer\"\nfrom = \"lan\"\n\
         targets = [{{ uri = \"sip:+18885551234@127.0.69.5:35090\", username = \"pbxgate\", password = \"s3cret\", \
         headers = [\"X-Campaign-ID: 1234\", \"X-Buyer: acme\"] }}]\n",
        calls_toml("")
    );
    let gw = GatewayProcess::start("127.0.69.1", 35060, &cfg);
    let log_dir = std::env::temp_dir().join(format!("pbxgate-407-{}", std::process::id()));
    std::fs::create_dir_all(&log_dir).expect("dir");
    let digest_log = log_dir.join("digest.log");
    let dl = digest_log.to_str().expect("path").to_string();
    let buyer = pbx(
        "call_cloud_uas_407_headers.xml",
        "127.0.69.5",
        1,
        &[
            "-key",
            "auth_user",
            "pbxgate",
            "-trace_logs",
            "-log_file",
            &dl,
        ],
    );
    let s = sc("call_pbx_uac_outbound.xml");
    let lan = format!("127.0.69.1:{}", gw.lan_port);
    sipp(
        &[
            "-sf",
            &s,
            &lan,
            "-i",
            "127.0.69.7",
            "-p",
            "35100",
            "-m",
            "1",
        ],
        T,
    )
    .assert_success("the PBX's outbound call completes");
    buyer
        .wait(T)
        .assert_success("the buyer challenged with 407 and got the extra headers");
    let check = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/peers/verify_digest_log.py"
        ))
        .args([&dl, "pbxgate", "s3cret"])
        .output()
        .expect("python3");
    assert!(
        check.status.success(),
        "digest check failed: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let _ = std::fs::remove_dir_all(&log_dir);
}

/// Sends one INVITE from `from_ip` over UDP and returns what came back
/// within `wait` (None: nothing).
fn raw_invite(from_ip: &str, to: std::net::SocketAddr, wait: Duration) -> Option<String> {
    let sock = std::net::UdpSocket::bind((from_ip, 0)).expect("bind");
    let local = sock.local_addr().expect("addr");
    let msg = format!(
        "INVITE sip:+18885550000@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKscan{}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:scanner@{local}>;tag=s1\r\nTo: <sip:+18885550000@{to}>\r\n\
         Call-ID: scan-{}@{from_ip}\r\nCSeq: 1 INVITE\r\nContact: <sip:scanner@{local}>\r\n\
         X-PH-RetreaverAFID: 5678\r\nContent-Length: 0\r\n\r\n",
        local.port(),
        local.port()
    );
    sock.send_to(msg.as_bytes(), to).expect("send");
    sock.set_read_timeout(Some(wait)).expect("timeout");
    let mut buf = [0u8; 4096];
    sock.recv(&mut buf)
        .ok()
        .map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn sources_outside_the_allowlist_are_dropped_and_counted() {
    let cfg = format!(
        "{}{}",
        calls_toml(""),
        route_toml(
            "queue-a",
            None,
            &["sip:queue-a@127.0.70.2:35090"],
            "queue-a"
        )
    );
    // The WAN default action is drop; only the cloud's address is listed.
    let mut gw =
        GatewayProcess::start_with_wan("127.0.70.1", 35060, &cfg, "allow = [\"127.0.70.7/32\"]\n");
    let p = pbx("call_pbx_uas_5678.xml", "127.0.70.2", 1, &[]);
    for scanner in ["127.0.70.8", "127.0.71.9"] {
        assert_eq!(
            raw_invite(scanner, gw.wan(), Duration::from_millis(1500)),
            None,
            "a source outside the allowlist gets nothing back"
        );
    }
    // The listed cloud still gets through, to the PBX.
    let csv = sc("call_afid.csv");
    cloud("call_cloud_uac.xml", "127.0.70.7", &gw, 1, &["-inf", &csv])
        .assert_success("the listed cloud address is admitted");
    p.wait(T)
        .assert_success("the PBX got exactly the admitted call");
    gw.terminate(Duration::from_secs(10));
    let log = gw.log();
    assert_eq!(
        log.matches("new call").count(),
        1,
        "only the admitted call reached the B2BUA\n{log}"
    );
    assert!(log.contains("dropped_not_allowed=2"), "{log}");
    assert!(
        log.contains("127.0.70.0/24=1") && log.contains("127.0.71.0/24=1"),
        "denied sources are counted per prefix\n{log}"
    );
}

#[test]
fn sources_outside_the_allowlist_are_rejected_with_403_when_configured() {
    let cfg = format!(
        "{}{}",
        calls_toml(""),
        route_toml(
            "queue-a",
            None,
            &["sip:queue-a@127.0.72.2:35090"],
            "queue-a"
        )
    );
    let mut gw = GatewayProcess::start_with_wan(
        "127.0.72.1",
        35060,
        &cfg,
        "allow = [\"127.0.72.7/32\"]\non_deny = \"reject\"\n",
    );
    cloud("call_cloud_uac_403.xml", "127.0.72.8", &gw, 1, &[])
        .assert_success("a source outside the allowlist gets 403");
    let answer = raw_invite("127.0.72.9", gw.wan(), Duration::from_secs(3)).unwrap_or_default();
    assert!(
        answer.starts_with("SIP/2.0 403 Forbidden (source address not allowed)"),
        "{answer}"
    );
    gw.terminate(Duration::from_secs(10));
    let log = gw.log();
    assert!(!log.contains("new call"), "{log}");
    // Every packet is counted: two INVITEs and sipp's ACK for its 403.
    let rejected: u64 = log
        .split("rejected_not_allowed=")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(rejected >= 3, "rejected packets counted: {rejected}\n{log}");
}
