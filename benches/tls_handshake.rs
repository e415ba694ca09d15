//! TLS handshakes per second on one core, the box's side only: a full
//! TLS 1.3 handshake (no resumption) with the certificate the box makes
//! for itself (rcgen's default, ECDSA P-256) over rustls with the ring
//! provider, as the SIP TLS listener runs it. Client and server run in
//! memory in this thread; only the server's steps are timed (thread CPU
//! time, so a shared machine's load does not count), which is what a
//! peer opening connections costs the box. For scale, the same figure for
//! the client (what the box spends per connection it opens) is printed
//! beside it.
//!
//! Run: `cargo bench --bench tls_handshake`.

use std::sync::Arc;
use std::time::Duration;

use futures_rustls::rustls;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConnection, RootCertStore, ServerConnection};

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn configs() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let made =
        rcgen::generate_simple_self_signed(vec!["192.0.2.10".to_string()]).expect("a certificate");
    let cert: CertificateDer<'static> = made.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    let server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

/// One handshake; returns (server CPU, client CPU).
fn handshake(
    server: &Arc<rustls::ServerConfig>,
    client: &Arc<rustls::ClientConfig>,
) -> (Duration, Duration) {
    let name = ServerName::try_from("192.0.2.10").unwrap();
    let mut c = ClientConnection::new(client.clone(), name).unwrap();
    let mut s_cpu = Duration::ZERO;
    let mut c_cpu = Duration::ZERO;
    let t = thread_cpu();
    let mut s = ServerConnection::new(server.clone()).unwrap();
    s_cpu += thread_cpu() - t;
    let mut buf = Vec::with_capacity(8192);
    for _ in 0..10 {
        if !c.is_handshaking() && !s.is_handshaking() {
            break;
        }
        let t = thread_cpu();
        buf.clear();
        while c.wants_write() {
            c.write_tls(&mut buf).unwrap();
        }
        c_cpu += thread_cpu() - t;
        let t = thread_cpu();
        let mut rd = &buf[..];
        while !rd.is_empty() {
            s.read_tls(&mut rd).unwrap();
        }
        s.process_new_packets().expect("server side");
        let mut out = Vec::with_capacity(8192);
        while s.wants_write() {
            s.write_tls(&mut out).unwrap();
        }
        s_cpu += thread_cpu() - t;
        let t = thread_cpu();
        let mut rd = &out[..];
        while !rd.is_empty() {
            c.read_tls(&mut rd).unwrap();
        }
        c.process_new_packets().expect("client side");
        c_cpu += thread_cpu() - t;
    }
    assert!(
        !s.is_handshaking() && !c.is_handshaking(),
        "the handshake completed"
    );
    (s_cpu, c_cpu)
}

fn main() {
    let (server, client) = configs();
    let mut best = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        let (mut s, mut c, mut n) = (Duration::ZERO, Duration::ZERO, 0u32);
        while s + c < Duration::from_millis(400) {
            let (a, b) = handshake(&server, &client);
            s += a;
            c += b;
            n += 1;
        }
        best.0 = best.0.min(s.as_nanos() as f64 / n as f64);
        best.1 = best.1.min(c.as_nanos() as f64 / n as f64);
    }
    println!("TLS 1.3 full handshake, ECDSA P-256 certificate, rustls + ring, CPU of one core:");
    println!(
        "  box as server: {:>8.0} µs/handshake  ({:>6.0} handshakes/s)",
        best.0 / 1000.0,
        1e9 / best.0
    );
    println!(
        "  box as client: {:>8.0} µs/handshake  ({:>6.0} handshakes/s)",
        best.1 / 1000.0,
        1e9 / best.1
    );
}
