//! End-to-end admission with a real gateway and raw UDP peers on
//! 127.0.120.0 - 127.0.129.255: an `either` listener never locks out its
//! listed platform, and drops are logged once per source.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{assert_has_all, Gateway};
use pbxgate::sip::auth::{Challenge, DigestClient};
use pbxgate::sip::message::{parse_message, Framing, HeaderName, Method, SipMessage};

/// A peer on its own loopback address, sending requests one at a time.
struct Peer {
    sock: UdpSocket,
    local: SocketAddr,
    next: u32,
}

/// What came back for one request: the status and, for 401, the challenge.
#[derive(Debug)]
struct Answer {
    status: u16,
    challenge: Option<Challenge>,
}

const DIALLED: &str = "+18885550000";

impl Peer {
    fn new(ip: &str) -> Peer {
        let sock = UdpSocket::bind((ip, 0)).expect("bind");
        let local = sock.local_addr().expect("addr");
        Peer {
            sock,
            local,
            next: 1,
        }
    }

    /// Sends an INVITE (with `authorization`, if any) and waits for its
    /// final response; ACKs it. `None`: nothing within `wait`.
    fn invite(
        &mut self,
        to: SocketAddr,
        authorization: Option<&str>,
        wait: Duration,
    ) -> Option<Answer> {
        let n = self.next;
        self.next += 1;
        let local = self.local;
        let auth = authorization
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let call_id = format!("adm-{n}-{}@{}", local.port(), local.ip());
        let branch = format!("z9hG4bKadm{n}x{}", local.port());
        let head = |method: &str, to_tag: &str| {
            format!(
                "{method} sip:{DIALLED}@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch}\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:platform@{local}>;tag=p{n}\r\n\
                 To: <sip:{DIALLED}@{to}>{to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {n} {method}\r\n"
            )
        };
        let msg = format!(
            "{}Contact: <sip:platform@{local}>\r\n{auth}Content-Length: 0\r\n\r\n",
            head("INVITE", "")
        );
        self.sock.send_to(msg.as_bytes(), to).expect("send");
        let end = Instant::now() + wait;
        let mut buf = [0u8; 8192];
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.sock.set_read_timeout(Some(left)).expect("timeout");
            let len = self.sock.recv(&mut buf).ok()?;
            let Ok(SipMessage::Response(r)) = parse_message(&buf[..len], Framing::Datagram) else {
                continue;
            };
            // Retransmissions of earlier answers and provisionals pass by.
            if r.headers.call_id() != Some(call_id.as_str()) || r.status < 200 {
                continue;
            }
            let to_tag = r
                .headers
                .to_tag()
                .map(|t| format!(";tag={t}"))
                .unwrap_or_default();
            // RFC 3261 §17.1.1.3: the ACK for a non-2xx final stops its
            // retransmission.
            let ack = format!("{}Content-Length: 0\r\n\r\n", head("ACK", &to_tag));
            self.sock.send_to(ack.as_bytes(), to).expect("send ACK");
            let challenge = r
                .headers
                .get(&HeaderName::WwwAuthenticate)
                .and_then(|v| Challenge::parse(v).ok());
            return Some(Answer {
                status: r.status,
                challenge,
            });
        }
    }

    /// Gets a challenge from `to`, answers it with a wrong password: 403.
    fn fail_digest(&mut self, to: SocketAddr) {
        let a = self.invite(to, None, WAIT).expect("a challenge");
        assert_eq!(a.status, 401, "{}: challenged", self.local);
        let auth = wrong_password(&a.challenge.expect("WWW-Authenticate"), to);
        let a = self.invite(to, Some(&auth), WAIT).expect("an answer");
        assert_eq!(a.status, 403, "{}: a wrong password", self.local);
    }

    /// Five wrong passwords at `to` (the default max_failures is 5): then
    /// not even a challenge comes back (`what` says why).
    fn get_blocked(&mut self, to: SocketAddr, what: &str) {
        for _ in 0..5 {
            self.fail_digest(to);
        }
        let after = self.invite(to, None, Duration::from_secs(2));
        assert!(after.is_none(), "{what}: {after:?}");
    }
}

const WAIT: Duration = Duration::from_secs(5);

/// A TCP connection from `local` (std cannot bind before connecting).
fn tcp_from(local: &str, to: SocketAddr) -> std::net::TcpStream {
    use std::os::fd::FromRawFd;
    let local: std::net::Ipv4Addr = local.parse().expect("IPv4");
    let SocketAddr::V4(to) = to else {
        panic!("IPv4 only")
    };
    let sin = |ip: std::net::Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: a fresh socket, addresses that live across the calls, and the
    // descriptor handed to exactly one owner.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket");
        let a = sin(local, 0);
        let b = sin(*to.ip(), to.port());
        let stream = std::net::TcpStream::from_raw_fd(fd);
        assert_eq!(
            libc::bind(fd, (&a as *const libc::sockaddr_in).cast(), len),
            0,
            "bind"
        );
        assert_eq!(
            libc::connect(fd, (&b as *const libc::sockaddr_in).cast(), len),
            0,
            "connect"
        );
        stream
    }
}

fn wrong_password(c: &Challenge, to: SocketAddr) -> String {
    DigestClient::new()
        .authorize(
            c,
            "alice",
            "not-the-password",
            &Method::Invite,
            &format!("sip:{DIALLED}@{to}"),
            "0a4f113b",
        )
        .expect("authorize")
        .to_header_value()
}

#[test]
fn either_listener_admits_its_listed_platform_after_digest_failures_and_blocks_a_stranger() {
    // `wan` admits its listed platform or whoever authenticates; `carrier`
    // (another WAN port) makes everyone authenticate. No route: an admitted
    // call ends in 480, a blocked one in silence.
    let platform_ip = "127.0.121.5";
    let extra = "[inbound_auth]\nusers = [{ username = \"alice\", password = \"secret\" }]\n\
                 [[listener]]\nname = \"carrier\"\nside = \"wan\"\nbind = \"127.0.120.1:35070\"\n\
                 admit = \"digest\"\n";
    let gw = Gateway {
        config: extra.into(),
        wan: format!("admit = \"either\"\nallow = [\"{platform_ip}/32\"]\n"),
        ..Gateway::new("127.0.120.1", 35060)
    }
    .start();
    let either = gw.wan();
    let carrier: SocketAddr = "127.0.120.1:35070".parse().unwrap();

    let mut platform = Peer::new(platform_ip);
    // Five wrong passwords where the platform's address is challenged (the
    // `digest` listener) ...
    platform.get_blocked(carrier, "blocked on the digest listener, as before");
    // ... and five INVITEs with wrong credentials on the `either` listener,
    // which does not check them for a listed source.
    let c = Challenge::new("pbxgate", "00", pbxgate::sip::auth::Algorithm::Md5);
    for _ in 0..5 {
        let a = platform.invite(either, Some(&wrong_password(&c, either)), WAIT);
        assert_eq!(a.map(|a| a.status), Some(480), "listed: not challenged");
    }
    // Then a call without credentials: admitted.
    let a = platform.invite(either, None, WAIT);
    assert_eq!(
        a.map(|a| a.status),
        Some(480),
        "the listed platform is admitted without a challenge\n{}",
        gw.log()
    );

    // The same from an unlisted source: blocked.
    let mut stranger = Peer::new("127.0.122.5");
    stranger.get_blocked(either, "an unlisted source is blocked after five failures");
    let log = gw.log();
    assert!(
        log.contains("too many authentication failures") && log.contains("127.0.122.5"),
        "{log}"
    );
}

#[test]
fn a_hundred_drops_from_one_source_make_one_log_line() {
    let listed = "127.0.124.7";
    let gw = Gateway {
        config: "[log]\ncounters_interval_s = 10\n".into(),
        // A listed limit below the strangers' one is lifted to it: set both.
        wan: format!(
            "allow = [\"{listed}/32\"]\nrate_per_s = 1\nburst = 2\nrate_per_s_listed = 1\nburst_listed = 2\n"
        ),
        ..Gateway::new("127.0.124.1", 35060)
    }
    .start();
    let wan = gw.wan();
    let scanner = UdpSocket::bind(("127.0.125.9", 0)).expect("bind");
    for i in 0..100 {
        let junk = format!("OPTIONS sip:probe{i}@{wan} SIP/2.0\r\n\r\n");
        scanner.send_to(junk.as_bytes(), wan).expect("send");
    }
    // The listed source's first requests are answered, so the hundred sent
    // before them on the same socket have been seen; beyond its burst it is
    // rate-limited.
    let mut platform = Peer::new(listed);
    assert_eq!(
        platform.invite(wan, None, WAIT).map(|a| a.status),
        Some(480)
    );
    for _ in 0..5 {
        let _ = platform.invite(wan, None, Duration::from_millis(100));
    }
    let rate_line = gw.wait_for_log_line(
        &["dropped by admission", "source=127.0.124.7"],
        Duration::from_secs(5),
    );
    assert_has_all(
        &rate_line,
        &[
            "reason=\"over rate_per_s_listed\"",
            "raise rate_per_s_listed",
        ],
    );

    let log = gw.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("by admission") && l.contains("source=127.0.125.9"))
        .collect();
    assert_eq!(lines.len(), 1, "one line for a hundred drops:\n{log}");
    let line = lines[0];
    assert_has_all(
        line,
        &[
            " INFO ",
            "dropped by admission",
            "listener=\"wan\"",
            "reason=\"not in allow list\"",
            "packets=1",
            "add \"127.0.125.9\" (or its network) to allow = [...] under the wan listener",
        ],
    );
    // A TCP connection from a source not allowed: logged the same way, and
    // closed.
    let mut tcp = tcp_from("127.0.125.10", wan);
    std::io::Write::write_all(
        &mut tcp,
        format!("OPTIONS sip:{wan} SIP/2.0\r\nContent-Length: 0\r\n\r\n").as_bytes(),
    )
    .expect("write");
    tcp.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut buf = [0u8; 64];
    assert_eq!(
        std::io::Read::read(&mut tcp, &mut buf).ok(),
        Some(0),
        "the gateway closed the connection"
    );
    let tcp_line = gw.wait_for_log_line(
        &[
            "dropped by admission",
            "transport=TCP",
            "reason=\"not in allow list\"",
        ],
        WAIT,
    );
    assert!(tcp_line.contains("source=127.0.125.10"), "{tcp_line}");

    // The counters come by themselves every counters_interval_s.
    let counters = gw.wait_for_log_line(
        &["admission counters", "listener=\"wan\""],
        Duration::from_secs(15),
    );
    // The hundred datagrams and the TCP message.
    assert_has_all(
        &counters,
        &["dropped_not_allowed=101", "dropped_rate_limited_listed="],
    );
    gw.wait_for_log_line(&["call counters", "no_route="], Duration::from_secs(2));
    gw.wait_for_log_line(&["media counters"], Duration::from_secs(2));
}
