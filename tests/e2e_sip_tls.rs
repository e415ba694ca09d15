//! SIP over TLS end to end (issue 21), on 127.0.242.* and 127.0.243.*:
//! registration over TLS to Kamailio's TLS registrar
//! (tests/peers/kamailio_tls_registrar.sh, a CA of its own) with digest,
//! refused while the box does not trust that CA and accepted once it
//! does, and again after the registrar's connection drops; and a TLS
//! client (rustls) whose OPTIONS the box answers on the connection, with
//! the self-signed certificate it made in its data directory.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::kamailio_tls::start_registrar;
use common::{Gateway, GatewayProcess};
use futures_rustls::rustls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use common::kamailio_tls::REGISTRAR_PORT;

/// An account registering over TLS to the registrar on `ip`; `ca` the
/// `[tls] ca_file`, if any.
fn tls_account(ip: &str, ca: Option<&Path>) -> String {
    let ca = ca.map_or(String::new(), |p| {
        format!("ca_file = \"{}\"\n", p.display())
    });
    format!(
        "[sip]\nt1_ms = 100\n[tls]\n{ca}\n[[account]]\nname = \"cloud\"\n\
         registrar = \"sips:{ip}:{REGISTRAR_PORT}\"\ntransport = \"tls\"\n\
         username = \"alice\"\npassword = \"secret\"\nexpires_s = 60\n\
         keepalive_interval_s = 0\nretry_base_s = 1\nretry_max_s = 2\n"
    )
}

#[test]
fn a_registrar_from_an_untrusted_ca_is_refused_and_with_its_ca_registration_works_and_survives_a_dropped_connection(
) {
    let ip = "127.0.242.5";
    let registrar = start_registrar(ip, None);
    // Kept for the restart: the script removes its own directory.
    let keep = std::env::temp_dir().join(format!("pbxgate-tls-keep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&keep);
    std::fs::create_dir_all(&keep).unwrap();
    let dir = registrar.ca.parent().unwrap().to_path_buf();
    for f in ["ca.pem", "server.pem", "server.key"] {
        std::fs::copy(dir.join(f), keep.join(f)).unwrap();
    }

    // The public roots only: Kamailio's test CA is not among them.
    let web: std::net::SocketAddr = "127.0.242.1:36443".parse().unwrap();
    let untrusting = GatewayProcess::start(
        "127.0.242.1",
        35060,
        &format!(
            "{}[web]\nbind = \"{web}\"\nmetrics_allow = [\"127.0.0.1\"]\n",
            tls_account(ip, None)
        ),
    );
    untrusting.wait_for_log_line(&["certificate refused"], Duration::from_secs(15));
    // ... and counted, where an operator's monitoring sees it.
    let counted = common::poll(Duration::from_secs(10), || {
        let m = common::https::Client::new(web, &untrusting.data_dir)
            .get("/metrics")
            .body;
        m.lines()
            .find(|l| l.starts_with("pbxgate_tls_certificate_refused_total "))
            .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .filter(|n| *n >= 1)
    });
    assert!(counted.is_some(), "no refused certificate in /metrics");
    assert!(
        registrations(&untrusting.log()) == 0,
        "registered through a refused certificate:\n{}",
        untrusting.log()
    );
    drop(untrusting);

    let mut gw = GatewayProcess::start("127.0.242.2", 35060, &tls_account(ip, Some(&registrar.ca)));
    gw.wait_for_log_line(&["registered"], Duration::from_secs(15));
    assert!(!gw.log().contains("certificate refused"), "{}", gw.log());

    // The registrar goes away and comes back on the same address: the TLS
    // connection that carried the registration drops, and the box
    // registers again on a new one.
    drop(registrar);
    let before = registrations(&gw.log());
    let _again = start_registrar(ip, Some(&keep));
    common::poll(Duration::from_secs(30), || {
        (registrations(&gw.log()) > before).then_some(())
    })
    .unwrap_or_else(|| panic!("not registered again after the drop:\n{}", gw.log()));
    assert!(gw.is_running());
}

/// Registrations granted, as the log reports them.
fn registrations(log: &str) -> usize {
    log.lines()
        .filter(|l| {
            l.contains(" registered") && l.contains("expires=") && !l.contains("un-registered")
        })
        .count()
}

fn client_trusting(cert: &Path) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert).expect("the certificate") {
        roots.add(c.expect("PEM")).expect("a trust anchor");
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

#[test]
fn options_over_tls_are_answered_on_the_connection_with_the_boxs_own_certificate() {
    let ip = "127.0.243.1";
    let tls_port = 35061;
    let mut g = Gateway::new(ip, 35060);
    g.lan = format!("transports = [\"udp\", \"tls\"]\ntls_bind = \"{ip}:{tls_port}\"\n");
    let gw = g.start();
    gw.wait_for_output("tls ", Duration::from_secs(10));
    let cert = gw.data_dir.join("sip-cert.pem");
    assert!(
        cert.exists(),
        "the self-signed certificate is in the data directory"
    );
    let name = ServerName::try_from(ip.to_string()).unwrap();
    let conn = ClientConnection::new(client_trusting(&cert), name).unwrap();
    let tcp = TcpStream::connect((ip, tls_port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let local = tcp.local_addr().unwrap();
    let mut tls = StreamOwned::new(conn, tcp);
    let options = format!(
        "OPTIONS sip:{ip}:{tls_port};transport=tls SIP/2.0\r\n\
         Via: SIP/2.0/TLS {local};branch=z9hG4bK-tls-1\r\n\
         From: <sip:pbx@{ip}>;tag=t1\r\nTo: <sip:{ip}>\r\nCall-ID: tls-options-1\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    tls.write_all(options.as_bytes())
        .expect("the handshake and the request");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("\r\n\r\n") {
        let n = tls.read(&mut buf).expect("an answer on the connection");
        assert!(n > 0, "closed without an answer");
        got.extend_from_slice(&buf[..n]);
    }
    let answer = String::from_utf8_lossy(&got);
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    assert!(answer.contains("Via: SIP/2.0/TLS"), "{answer}");
    assert!(answer.contains("Call-ID: tls-options-1"), "{answer}");
}

/// A TCP connection to `to` from `from` (any port): the flood comes from
/// an address of its own, as a real attacker's would.
fn connect_from(
    from: std::net::Ipv4Addr,
    to: std::net::SocketAddrV4,
) -> std::io::Result<TcpStream> {
    use std::os::fd::FromRawFd;
    fn sockaddr(a: std::net::SocketAddrV4) -> libc::sockaddr_in {
        libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: a.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes(a.ip().octets()),
            },
            sin_zero: [0; 8],
        }
    }
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: a fresh socket; the addresses are valid sockaddr_in values of
    // the length given; the descriptor is owned by the TcpStream made from
    // it (or closed on failure).
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let local = sockaddr(std::net::SocketAddrV4::new(from, 0));
        let remote = sockaddr(to);
        if libc::bind(fd, &local as *const _ as *const libc::sockaddr, len) != 0
            || libc::connect(fd, &remote as *const _ as *const libc::sockaddr, len) != 0
        {
            let e = std::io::Error::last_os_error();
            libc::close(fd);
            return Err(e);
        }
        Ok(TcpStream::from_raw_fd(fd))
    }
}

/// Issue 21's flood: one peer holds 500 TLS connections half-way through
/// the handshake (a ClientHello record header, then nothing); a phone
/// calling over TLS at the same time still gets its call set up within
/// its time without the flood + 1 s.
#[test]
fn a_handshake_flood_from_one_peer_does_not_delay_another_peers_call() {
    use common::baresip::Baresip;
    use common::media_pbx;
    use std::time::Instant;
    let net = "127.0.243";
    let gw_ip = format!("{net}.21");
    let tls_port = 35061;
    let mut g = Gateway::new(&gw_ip, 35060);
    g.config = format!(
        "[sip]\nt1_ms = 100\n[tls]\nhandshake_timeout_ms = 20000\n\
         [[route]]\nname = \"q\"\ntargets = [{{ uri = \"sip:q@{net}.22:35090\" }}]\n"
    );
    g.wan.push_str(&format!(
        "transports = [\"udp\", \"tls\"]\ntls_bind = \"{gw_ip}:{tls_port}\"\n"
    ));
    let gw = g.start();
    let pbx = media_pbx("media_pbx_uas_te.xml", &format!("{net}.22"), 42100, 0)
        .calls(2)
        .start();
    // A phone per call, so that each call needs a handshake of its own.
    let phone = |host: u8, ports: u16| {
        Baresip::new(&format!("{net}.{host}"), 35300)
            .rtp_ports(ports, ports + 19)
            .codecs("PCMU")
            .transport("tls")
            .play(&vec![0i16; 8000 * 30])
            .start()
    };
    let call = |phone: &mut common::baresip::BaresipProcess| {
        let uri = phone.uri("q", &format!("{gw_ip}:{tls_port}"));
        let start = Instant::now();
        phone.dial(&uri);
        phone.wait_event("CALL_ESTABLISHED", Duration::from_secs(20));
        let took = start.elapsed();
        phone.hangup();
        phone.wait_event("CALL_CLOSED", Duration::from_secs(10));
        took
    };
    let baseline = call(&mut phone(27, 46140));

    // The flood: 500 connections from another address, each stopped in the
    // middle of its ClientHello.
    let flooder: std::net::Ipv4Addr = format!("{net}.29").parse().unwrap();
    let target: std::net::SocketAddrV4 = format!("{gw_ip}:{tls_port}").parse().unwrap();
    let mut held = Vec::new();
    for _ in 0..500 {
        match connect_from(flooder, target) {
            Ok(mut s) => {
                // A handshake record of 512 bytes, of which 4 come.
                let _ = s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]);
                held.push(s);
            }
            Err(e) => panic!("flood connection {}: {e}", held.len()),
        }
    }
    let mut second = phone(28, 46160);
    let flooded = call(&mut second);
    // All but the few a source may have in progress were closed at once.
    let mut closed = 0;
    for s in &mut held {
        let _ = s.set_read_timeout(Some(Duration::from_millis(20)));
        match s.read(&mut [0u8; 64]) {
            Ok(0) => closed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => closed += 1,
            _ => {}
        }
    }
    drop(held);
    assert!(
        closed >= 490,
        "{closed} of 500 half-open connections were closed by the handshake limit"
    );
    eprintln!("call set-up took {baseline:?} without the flood, {flooded:?} with it");
    assert!(
        flooded <= baseline + Duration::from_secs(1),
        "the call took {flooded:?} under the flood, {baseline:?} without"
    );
    pbx.wait(Duration::from_secs(30))
        .assert_success("the PBX took both calls");
    // The history says how each leg was carried.
    let store = pbxgate::store::Store::open(&pbxgate::store::Store::path_in(&gw.data_dir))
        .expect("the history");
    let rows = store
        .search(&pbxgate::store::CallQuery::default())
        .expect("search");
    assert_eq!(rows.len(), 2);
    for r in rows {
        assert_eq!(
            (r.caller_transport.as_deref(), r.callee_transport.as_deref()),
            (Some("TLS"), Some("UDP")),
            "{r:#?}"
        );
    }
}

/// A registrar found by name (RFC 3263: `_sips._tcp` SRV, then A) whose
/// certificate, from a trusted CA, is for its IP address only: the name
/// the box was given is not on it, so the box refuses it.
#[test]
fn a_certificate_without_the_registrars_name_is_refused_though_its_ca_is_trusted() {
    let ip = "127.0.242.15";
    let registrar = start_registrar(ip, None);
    let records = [
        "--local=/tls.test/",
        &format!("--srv-host=_sips._tcp.reg.tls.test,host.tls.test,{REGISTRAR_PORT},10,0"),
        &format!("--host-record=host.tls.test,{ip}"),
        &format!("--host-record=reg.tls.test,{ip}"),
    ]
    .map(String::from);
    let _dns = common::start_dnsmasq("127.0.242.53", 5399, &records);
    std::thread::sleep(Duration::from_millis(500));
    let config = format!(
        "[sip]\nt1_ms = 100\n[dns]\nnameservers = [\"127.0.242.53:5399\"]\n\
         [tls]\nca_file = \"{}\"\n[[account]]\nname = \"cloud\"\n\
         registrar = \"sips:reg.tls.test\"\ntransport = \"tls\"\n\
         username = \"alice\"\npassword = \"secret\"\nexpires_s = 60\n\
         keepalive_interval_s = 0\nretry_base_s = 1\nretry_max_s = 2\n",
        registrar.ca.display()
    );
    let gw = GatewayProcess::start("127.0.242.16", 35060, &config);
    let line = gw.wait_for_log_line(&["certificate refused"], Duration::from_secs(15));
    assert!(line.contains("NotValidForName"), "{line}");
    assert_eq!(registrations(&gw.log()), 0, "{}", gw.log());
}
