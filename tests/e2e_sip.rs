//! End-to-end: the real gateway binary against real sipp peers and raw
//! sockets on loopback (each test on its own 127.0.10.x "host").

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::{GatewayProcess, KillOnDrop, Sipp, SippRun};

/// A gateway on `ip` with the default config, and sipp playing `scenario`
/// from local_ip:local_port to its WAN side: `calls` calls over
/// `transport` (u1, t1), with `extra` options; sipp must succeed (`what`).
fn sipp_to_gateway(
    ip: &str,
    (scenario, transport, calls): (&str, &str, u32),
    (local_ip, local_port): (&str, u16),
    extra: &[&str],
    what: &str,
) -> SippRun {
    let gw = GatewayProcess::start(ip, 35060, "");
    let run = Sipp::new(scenario)
        .to(gw.wan())
        .on(local_ip, local_port)
        .transport(transport)
        .calls(calls)
        .args(extra)
        .run(Duration::from_secs(120));
    run.assert_success(what);
    run
}

#[test]
fn options_answered_over_udp() {
    sipp_to_gateway(
        "127.0.10.1",
        ("options_uac.xml", "u1", 5),
        ("127.0.11.1", 36001),
        &["-r", "50"],
        "OPTIONS over UDP",
    );
}

#[test]
fn options_answered_over_tcp() {
    sipp_to_gateway(
        "127.0.10.2",
        ("options_uac.xml", "t1", 5),
        ("127.0.11.2", 36002),
        &["-r", "50"],
        "OPTIONS over TCP",
    );
}

/// sipp prints, per message of the scenario, a Retrans column; the sum
/// across a lossy run shows that retransmissions did the recovering.
fn total_retransmissions(sipp_stdout: &str) -> u64 {
    // Lines look like: "  OPTIONS ---------->  100  12  0" (messages, retrans, timeouts)
    // or "  200 <----------  100  7  0  0" (messages, retrans, timeouts, unexpected).
    let mut total = 0;
    let last_screen = sipp_stdout.rsplit("Messages  Retrans").next().unwrap_or("");
    for line in last_screen.lines() {
        if !(line.contains("---->") || line.contains("<----")) {
            continue;
        }
        let after = line.rsplit(['>', '-']).next().unwrap_or("");
        let nums: Vec<u64> = after
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        if nums.len() >= 2 {
            total += nums[1];
        }
    }
    total
}

/// sipp's `scenario` from local_ip:local_port to a gateway on `ip`: 100
/// transactions over UDP with 10 % of sipp's messages lost, at most
/// `limit` at once; all complete, and retransmissions did the recovering.
fn lossy(ip: &str, scenario: &str, (local_ip, local_port): (&str, u16), limit: &str, what: &str) {
    let run = sipp_to_gateway(
        ip,
        (scenario, "u1", 100),
        (local_ip, local_port),
        &["-r", "25", "-l", limit, "-lost", "10"],
        what,
    );
    let retrans = total_retransmissions(&run.stdout);
    assert!(
        retrans > 0,
        "with 10 % loss some messages must have been retransmitted:\n{}",
        run.stdout
    );
}

#[test]
fn lossy_options_complete_thanks_to_retransmissions() {
    lossy(
        "127.0.10.3",
        "options_uac.xml",
        ("127.0.11.3", 36003),
        "20",
        "100 OPTIONS with 10 % loss",
    );
}

#[test]
fn lossy_invites_complete_thanks_to_retransmissions() {
    lossy(
        "127.0.10.4",
        "invite_480_uac.xml",
        ("127.0.11.4", 36004),
        "150",
        "100 INVITE transactions with 10 % loss",
    );
}

#[test]
fn invite_gets_final_response_from_sipp_view() {
    sipp_to_gateway(
        "127.0.10.5",
        ("invite_480_uac.xml", "u1", 3),
        ("127.0.11.5", 36005),
        &["-r", "10"],
        "INVITE answered 480 and ACKed",
    );
}

fn invite(branch: &str, call_id: &str, local: &str) -> String {
    format!(
        "INVITE sip:+18882223333@127.0.10.6:35060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:caller@example.net>;tag=abc\r\n\
         To: <sip:+18882223333@127.0.10.6>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:caller@{local}>\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

fn ack_for(branch: &str, call_id: &str, local: &str, to_tag: &str) -> String {
    format!(
        "ACK sip:+18882223333@127.0.10.6:35060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:caller@example.net>;tag=abc\r\n\
         To: <sip:+18882223333@127.0.10.6>;tag={to_tag}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 ACK\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// Final responses received on `sock` until `until` passes.
fn finals_until(sock: &UdpSocket, until: Instant) -> Vec<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match sock.recv(&mut buf) {
            Ok(n) => {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                if !text.starts_with("SIP/2.0 1") {
                    got.push(text);
                }
            }
            Err(_) => break,
        }
    }
    got
}

fn first_final(sock: &UdpSocket, timeout: Duration) -> String {
    let mut buf = [0u8; 65536];
    sock.set_read_timeout(Some(timeout)).unwrap();
    loop {
        let n = sock.recv(&mut buf).expect("a final response");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !text.starts_with("SIP/2.0 1") {
            return text;
        }
    }
}

fn to_tag(response: &str) -> String {
    response
        .lines()
        .find(|l| l.starts_with("To:"))
        .and_then(|l| l.split("tag=").nth(1))
        .map(|t| t.trim().to_string())
        .expect("final response carries a To tag")
}

#[test]
fn ack_is_absorbed_and_stops_retransmission() {
    let gw = GatewayProcess::start("127.0.10.6", 35060, "");
    let sock = UdpSocket::bind("127.0.12.6:0").unwrap();
    sock.connect(gw.wan()).unwrap();
    let local = sock.local_addr().unwrap().to_string();

    // Without an ACK, timer G retransmits the 480 (at 0.5 s and 1.5 s):
    // this is what the ACK must stop, and shows the check below can fail.
    sock.send(invite("z9hG4bKnoack1", "noack-1", &local).as_bytes())
        .unwrap();
    let finals = finals_until(&sock, Instant::now() + Duration::from_millis(2500));
    assert!(
        finals.len() >= 2,
        "480 must be retransmitted while un-ACKed, got {}",
        finals.len()
    );
    assert!(finals[0].starts_with("SIP/2.0 480"), "{}", finals[0]);
    let tag = to_tag(&finals[0]);
    sock.send(ack_for("z9hG4bKnoack1", "noack-1", &local, &tag).as_bytes())
        .unwrap();

    // With the ACK sent as soon as the 480 arrives, no 480 follows it.
    sock.send(invite("z9hG4bKack2", "ack-2", &local).as_bytes())
        .unwrap();
    let first = first_final(&sock, Duration::from_secs(5));
    assert!(first.starts_with("SIP/2.0 480"), "{first}");
    assert!(first.contains("Call-ID: ack-2"), "{first}");
    let tag = to_tag(&first);
    sock.send(ack_for("z9hG4bKack2", "ack-2", &local, &tag).as_bytes())
        .unwrap();
    let after_ack = finals_until(&sock, Instant::now() + Duration::from_millis(2500));
    assert!(
        after_ack.is_empty(),
        "no retransmission after the ACK, got {after_ack:?}"
    );
}

#[test]
fn tcp_crlf_ping_gets_pong_and_bad_framing_gets_400_then_close() {
    use std::io::{Read, Write};
    let gw = GatewayProcess::start("127.0.10.7", 35060, "");
    let mut s = std::net::TcpStream::connect(gw.wan()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"\r\n\r\n").unwrap();
    let mut pong = [0u8; 2];
    s.read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"\r\n", "RFC 5626 pong");

    let local = s.local_addr().unwrap();
    let no_length = format!(
        "OPTIONS sip:127.0.10.7:35060 SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bKtcp1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:t@example.net>;tag=1\r\nTo: <sip:127.0.10.7>\r\n\
         Call-ID: tcp-no-length\r\nCSeq: 1 OPTIONS\r\n\r\n"
    );
    s.write_all(no_length.as_bytes()).unwrap();
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all); // the gateway closes after answering
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("SIP/2.0 400 "), "{text}");
    let status_line = text.lines().next().unwrap_or_default();
    assert!(
        status_line.contains("Content-Length"),
        "reason names the problem: {status_line}"
    );
}

#[test]
fn idle_tcp_connection_is_closed() {
    use std::io::Read;
    // The listener section is appended by the harness; the idle timeout is
    // set through a listener of its own on another port.
    let gw = GatewayProcess::start(
        "127.0.10.8",
        35060,
        "[[listener]]\nname = \"idle\"\nside = \"wan\"\nbind = \"127.0.10.8:35099\"\n\
         transports = [\"tcp\"]\ntcp_idle_timeout_s = 5\n",
    );
    let mut s = std::net::TcpStream::connect("127.0.10.8:35099").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 16];
    let n = s
        .read(&mut buf)
        .expect("the gateway closes, it does not reset or hang");
    let waited = start.elapsed();
    assert_eq!(n, 0, "EOF expected");
    assert!(
        waited >= Duration::from_secs(4),
        "closed too early: {waited:?}"
    );
    // The log line is written as the connection closes; give the writer
    // a moment on a loaded machine.
    gw.wait_for_log_line(&["closing idle TCP connection"], Duration::from_secs(10));
}

#[test]
fn default_configuration_starts_with_cargo_run_release_and_answers_options() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let data = std::env::temp_dir().join(format!("pbxgate-default-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let mut child = Command::new(env!("CARGO"))
        .args(["run", "--release", "--quiet", "--", "--data-dir"])
        .arg(&data)
        .current_dir(common::MANIFEST_DIR)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cargo run --release");
    let mut out = child.stdout.take().unwrap();
    let child = KillOnDrop::new(child);
    // The banner comes back through a channel; the thread reads on to the
    // end, as a terminal or a supervisor would keep the pipe open.
    let (banner_tx, banner_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let mut buf = [0u8; 1024];
        let mut sent = false;
        loop {
            match out.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    text.push_str(&String::from_utf8_lossy(&buf[..n]));
                    if !sent && text.contains("web page:") {
                        sent = true;
                        let _ = banner_tx.send(text.clone());
                    }
                }
            }
        }
        if !sent {
            let _ = banner_tx.send(text);
        }
    });
    let banner = banner_rx
        .recv_timeout(Duration::from_secs(600))
        .expect("the banner within 10 minutes (a release build)");
    assert!(
        banner.contains("SIP wan: udp 0.0.0.0:5060, tcp 0.0.0.0:5060"),
        "{banner}"
    );
    assert!(
        banner.contains("SIP lan: udp 0.0.0.0:5080, tcp 0.0.0.0:5080"),
        "{banner}"
    );
    assert!(
        banner.contains("written now with the built-in defaults"),
        "{banner}"
    );
    assert!(data.join("pbxgate.toml").exists());

    Sipp::new("options_uac.xml")
        .to("127.0.0.1:5060")
        .on("127.0.0.1", 36009)
        .transport("u1")
        .run(Duration::from_secs(60))
        .assert_success("OPTIONS to the default configuration");
    drop(child);
    let _ = std::fs::remove_dir_all(&data);
}

/// A gateway whose standard output is closed once the first banner line
/// was read (a script that wanted only that) runs on and answers.
#[test]
fn a_closed_standard_output_does_not_stop_the_gateway() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let data = std::env::temp_dir().join(format!("pbxgate-stdout-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("pbxgate.toml"),
        "[web]\nenabled = false\n[[listener]]\nname = \"wan\"\nside = \"wan\"\n\
         bind = \"127.0.10.9:35060\"\n[[listener]]\nname = \"lan\"\nside = \"lan\"\n\
         bind = \"127.0.10.9:35080\"\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pbxgate"))
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the gateway");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped here: the rest of the banner meets a closed pipe.
    assert!(first.starts_with("pbxgate "), "{first}");
    let child = KillOnDrop::new(child);
    std::thread::sleep(Duration::from_millis(500));
    Sipp::new("options_uac.xml")
        // The LAN side admits loopback sources by default.
        .to("127.0.10.9:35080")
        .on("127.0.10.9", 36010)
        .transport("u1")
        .run(Duration::from_secs(60))
        .assert_success("OPTIONS after stdout was closed");
    drop(child);
    let _ = std::fs::remove_dir_all(&data);
}
