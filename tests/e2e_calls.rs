//! End-to-end call path with real sipp peers on 127.0.0.0/8: a sipp UAC
//! plays the cloud platform, sipp UASes on other loopback addresses play
//! PBX queues; each test runs its own gateway on its own address.

mod common;

use std::time::Duration;

use common::{python3, scenario, Gateway, GatewayProcess, Scenario, Sipp};

const PBX_PORT: u16 = 35090;
const T: Duration = Duration::from_secs(60);

/// A PBX (sipp UAS) on ip:35090.
fn pbx(name: &str, ip: &str) -> Sipp {
    Sipp::new(name).on(ip, PBX_PORT)
}

/// The cloud (sipp UAC) on ip:35100, one call at a time.
fn cloud(name: &str, ip: &str) -> Sipp {
    Sipp::new(name).on(ip, 35100).args(&["-l", "1"])
}

/// The cloud's call with X-PH-RetreaverAFID 5678, then 9999, from the CSV.
fn cloud_afid(ip: &str) -> Sipp {
    let csv = scenario("call_afid.csv");
    cloud("call_cloud_uac.xml", ip).args(&["-inf", csv.to_str().expect("path")])
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

/// A gateway on NET.1 whose route `name` (without a match) sends calls
/// to `targets`, with `calls` added to its [calls] section.
fn gateway(net: &str, calls: &str, name: &str, targets: &[&str]) -> GatewayProcess {
    let cfg = calls_toml(calls) + &route_toml(name, None, targets, name);
    GatewayProcess::start(&format!("{net}.1"), 35060, &cfg)
}

/// One call from the cloud on NET.7 (`cloud`) to the PBX on NET.2 (`pbx`)
/// through a gateway on NET.1 with one route, `route`, to the PBX; each
/// sipp must end as its scenario expects (the words say what that shows).
fn call(net: &str, route: &str, pbx: (&str, &str), cloud: (&str, &str)) -> GatewayProcess {
    let target = format!("sip:{route}@{net}.2:35090");
    let caller = self::cloud(cloud.0, &format!("{net}.7"));
    call_to(net, route, &[&target], pbx, (caller, cloud.1))
}

/// The same with the route's `targets` and the `caller` given.
fn call_to(
    net: &str,
    route: &str,
    targets: &[&str],
    pbx: (&str, &str),
    caller: (Sipp, &str),
) -> GatewayProcess {
    let gw = gateway(net, "", route, targets);
    Scenario::new(&gw)
        .peer(self::pbx(pbx.0, &format!("{net}.2")), pbx.1)
        .caller(caller.0, caller.1)
        .run();
    gw
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
    Scenario::new(&gw)
        .peer(
            pbx("call_pbx_uas_5678.xml", "127.0.60.2"),
            "queue A got the 5678 call with its headers",
        )
        .peer(
            pbx("call_pbx_uas_9999.xml", "127.0.60.3"),
            "queue B got the 9999 call with its headers",
        )
        .caller(
            cloud_afid("127.0.60.7").calls(2),
            "cloud calls with AFID 5678 and 9999",
        )
        .run();
    let log = gw.log();
    assert_eq!(log.matches("new call").count(), 2, "{log}");
    assert!(
        log.contains("route=queue-a") && log.contains("route=queue-b"),
        "{log}"
    );
}

#[test]
fn cancel_before_answer_ends_in_487_and_cancels_the_pbx() {
    call(
        "127.0.61",
        "ring",
        (
            "call_pbx_uas_ring.xml",
            "PBX got the CANCEL and answered 487",
        ),
        ("call_cloud_uac_cancel.xml", "caller CANCELs and gets 487"),
    );
}

#[test]
fn bye_from_the_pbx_hangs_up_the_caller() {
    call(
        "127.0.62",
        "q",
        ("call_pbx_uas_bye.xml", "the PBX's BYE was answered"),
        (
            "call_cloud_uac_wait_bye.xml",
            "the caller gets the PBX's BYE",
        ),
    );
}

#[test]
fn re_invite_is_relayed_both_ways() {
    call(
        "127.0.63",
        "q",
        ("call_pbx_uas_reinvite.xml", "the PBX got the re-INVITE"),
        (
            "call_cloud_uac_reinvite.xml",
            "the caller's re-INVITE (hold) is answered by the PBX",
        ),
    );
}

#[test]
fn dead_first_target_fails_over_to_the_second() {
    // Nothing listens on 127.0.64.9: the INVITE goes unanswered.
    call_to(
        "127.0.64",
        "queue-a",
        &["sip:dead@127.0.64.9:35090", "sip:queue-a@127.0.64.2:35090"],
        ("call_pbx_uas_5678.xml", "the second target took the call"),
        (
            cloud_afid("127.0.64.7"),
            "the call completes on the second target",
        ),
    )
    .assert_logged("failing over");
}

#[test]
fn busy_pbx_answer_goes_back_as_486() {
    let caller = cloud("call_cloud_uac_486.xml", "127.0.65.7");
    call_to(
        "127.0.65",
        "q",
        &["sip:q@127.0.65.2:35090", "sip:never@127.0.65.3:35090"],
        ("call_pbx_uas_486.xml", "the PBX's 486 was ACKed"),
        (caller, "the caller gets 486, not a failover"),
    )
    .assert_logged("status=486");
}

#[test]
fn call_over_the_concurrent_limit_gets_503() {
    let gw = gateway(
        "127.0.66",
        "max_concurrent = 1\nretry_after_s = 7",
        "q",
        &["sip:q@127.0.66.2:35090"],
    );
    let p = pbx("call_pbx_uas_bye.xml", "127.0.66.2")
        .args(&["-d", "4000"])
        .start();
    // The first call holds the only slot.
    let first = Sipp::new("call_cloud_uac_wait_bye.xml")
        .to(gw.wan())
        .on("127.0.66.7", 35100)
        .start();
    std::thread::sleep(Duration::from_millis(800));
    cloud("call_cloud_uac_503.xml", "127.0.66.8")
        .to(gw.wan())
        .run(T)
        .assert_success("the second call gets 503 with Retry-After");
    first
        .wait(T)
        .assert_success("the first call was not disturbed");
    p.wait(T).assert_success("the PBX saw one call only");
    gw.assert_logged("concurrent-call limit");
}

#[test]
fn a_302_from_the_pbx_is_followed_with_a_diversion() {
    let gw = gateway("127.0.67", "", "q", &["sip:q@127.0.67.2:35090"]);
    let pbx_302 = pbx("call_pbx_uas_302.xml", "127.0.67.2").key("fwd_to", "127.0.67.4:35090");
    Scenario::new(&gw)
        .peer(pbx_302, "the PBX's 302 was ACKed")
        .peer(
            pbx("call_pbx_uas_forward_target.xml", "127.0.67.4"),
            "the forward target got the call with Diversion",
        )
        .caller(
            cloud_afid("127.0.67.7"),
            "the call completes at the forward target",
        )
        .run();
    gw.assert_logged("callee forwarded the call");
}

#[test]
fn a_refer_from_the_pbx_moves_the_caller() {
    let gw = gateway("127.0.68", "", "q", &["sip:q@127.0.68.2:35090"]);
    let refer = pbx("call_pbx_uas_refer.xml", "127.0.68.2").key("refer_to", "127.0.68.4:35090");
    let target = pbx("call_pbx_uas_transfer_target.xml", "127.0.68.4");
    Scenario::new(&gw)
        .peer(refer, "the PBX got 202 and the NOTIFYs")
        .peer(
            target,
            "the transfer target got the call and the caller's BYE",
        )
        .caller(
            cloud("call_cloud_uac_transfer.xml", "127.0.68.7"),
            "the caller is re-INVITEd to the transfer target and hangs up there",
        )
        .run();
    gw.assert_logged("callee transfers the caller");
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
    let dl = digest_log.to_str().expect("path");
    Scenario::new(&gw)
        .peer(
            pbx("call_cloud_uas_407_headers.xml", "127.0.69.5")
                .key("auth_user", "pbxgate")
                .args(&["-trace_logs", "-log_file", dl]),
            "the buyer challenged with 407 and got the extra headers",
        )
        .caller(
            Sipp::new("call_pbx_uac_outbound.xml")
                .to(gw.lan())
                .on("127.0.69.7", 35100),
            "the PBX's outbound call completes",
        )
        .run();
    python3(
        "verify_digest_log.py",
        &[dl, "pbxgate", "s3cret"],
        "digest check failed",
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

/// A gateway on NET.1 with one route to NET.2 whose WAN listener admits
/// NET.7 only, plus `wan` (what to do with the others).
fn allowlisted_gateway(net: &str, wan: &str) -> GatewayProcess {
    let cfg = calls_toml("")
        + &route_toml(
            "queue-a",
            None,
            &[&format!("sip:queue-a@{net}.2:35090")],
            "queue-a",
        );
    Gateway {
        config: cfg,
        wan: format!("allow = [\"{net}.7/32\"]\n{wan}"),
        ..Gateway::new(&format!("{net}.1"), 35060)
    }
    .start()
}

#[test]
fn sources_outside_the_allowlist_are_dropped_and_counted() {
    // The WAN default action is drop; only the cloud's address is listed.
    let mut gw = allowlisted_gateway("127.0.70", "");
    let p = pbx("call_pbx_uas_5678.xml", "127.0.70.2").start();
    for scanner in ["127.0.70.8", "127.0.71.9"] {
        assert_eq!(
            raw_invite(scanner, gw.wan(), Duration::from_millis(1500)),
            None,
            "a source outside the allowlist gets nothing back"
        );
    }
    // The listed cloud still gets through, to the PBX.
    cloud_afid("127.0.70.7")
        .to(gw.wan())
        .run(T)
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
    let mut gw = allowlisted_gateway("127.0.72", "on_deny = \"reject\"\n");
    Scenario::new(&gw)
        .caller(
            cloud("call_cloud_uac_403.xml", "127.0.72.8"),
            "a source outside the allowlist gets 403",
        )
        .run();
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
