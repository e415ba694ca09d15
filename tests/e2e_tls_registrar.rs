//! The TLS registrar of issue 21's tests, on 127.0.251.*: Kamailio with
//! its tls module (tests/peers/kamailio_tls_registrar.sh), a test CA and a
//! server certificate for its loopback address that the script makes.
//! Here a plain rustls client shows the peer is what the gateway's TLS
//! registration test will need: the certificate verifies against the
//! script's CA and only for the registrar's own address, and REGISTER
//! over the connection gets a digest challenge, then 200 with the right
//! credentials.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_rustls::rustls;
use pbxgate::sip::auth::{response, Algorithm, DigestInput};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

const IP: &str = "127.0.251.5";
use common::kamailio_tls::{start_registrar, REGISTRAR_PORT as PORT};

fn client_config(ca: &Path) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(ca).expect("the script's CA"))
        .expect("CA certificate");
    // ring, as the gateway's own TLS (deprecated only for lacking
    // post-quantum key exchange).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A TLS connection to the registrar, expecting the certificate to be
/// for `name`; the handshake's error if it is refused.
fn connect(
    config: &Arc<ClientConfig>,
    name: &str,
) -> Result<StreamOwned<ClientConnection, TcpStream>, rustls::Error> {
    let ip: IpAddr = name.parse().expect("IP");
    let conn = ClientConnection::new(config.clone(), ServerName::from(ip)).expect("client");
    let tcp = TcpStream::connect((IP, PORT)).expect("TCP to the registrar");
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut tls = StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
            let inner = e
                .get_ref()
                .and_then(|i| i.downcast_ref::<rustls::Error>())
                .cloned();
            return Err(inner.unwrap_or_else(|| panic!("handshake IO: {e}")));
        }
    }
    Ok(tls)
}

/// One SIP response read from the stream (no body: Content-Length 0).
fn read_response(tls: &mut impl Read) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    let end = Instant::now() + Duration::from_secs(5);
    while !got.ends_with(b"\r\n\r\n") && Instant::now() < end {
        match tls.read(&mut byte) {
            Ok(1) => got.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn register(cseq: u32, authorization: Option<&str>) -> String {
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "REGISTER sip:{IP} SIP/2.0\r\n\
         Via: SIP/2.0/TLS 127.0.251.7:5061;branch=z9hG4bK-tls-{cseq};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@{IP}>;tag=tls1\r\n\
         To: <sip:alice@{IP}>\r\n\
         Call-ID: tls-registrar-test\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:alice@127.0.251.7:5061;transport=tls>\r\n\
         Expires: 60\r\n\
         {auth}Content-Length: 0\r\n\r\n"
    )
}

/// `name="value"` (or `name=value`) from a challenge header.
fn param<'a>(header: &'a str, name: &str) -> &'a str {
    let at = header
        .find(&format!("{name}="))
        .unwrap_or_else(|| panic!("no {name} in {header}"));
    let rest = &header[at + name.len() + 1..];
    match rest.strip_prefix('"') {
        Some(q) => &q[..q.find('"').expect("closing quote")],
        None => rest.split([',', '\r']).next().unwrap_or("").trim(),
    }
}

#[test]
fn kamailio_tls_registrar_is_trusted_for_its_address_and_challenges_register() {
    let registrar = start_registrar(IP, None);
    let config = client_config(&registrar.ca);

    // The certificate is for the registrar's IP only: another expected
    // name is refused, by the name check and not by the chain.
    let wrong = connect(&config, "127.0.251.6").err();
    assert!(
        matches!(
            wrong,
            Some(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                    | rustls::CertificateError::NotValidForNameContext { .. }
            ))
        ),
        "a certificate for {IP} offered as 127.0.251.6: {wrong:?}"
    );
    // A client that trusts another CA refuses it too.
    let other_ca = common::receiver::TestCa::new();
    let other_path =
        std::env::temp_dir().join(format!("pbxgate-tls-other-ca-{}.pem", std::process::id()));
    std::fs::write(&other_path, other_ca.pem()).expect("CA file");
    let untrusted = connect(&client_config(&other_path), IP).err();
    let _ = std::fs::remove_file(&other_path);
    assert!(
        matches!(
            untrusted,
            Some(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            ))
        ),
        "a certificate from a CA the client does not trust: {untrusted:?}"
    );

    // Trusting the script's CA and expecting its IP: accepted.
    let mut tls = connect(&config, IP).expect("handshake with the script's CA and the right name");
    tls.write_all(register(1, None).as_bytes())
        .expect("REGISTER");
    let challenge = read_response(&mut tls);
    assert!(
        challenge.starts_with("SIP/2.0 401"),
        "REGISTER without credentials: {challenge}"
    );
    let www = challenge
        .lines()
        .find(|l| l.starts_with("WWW-Authenticate: Digest "))
        .unwrap_or_else(|| panic!("a digest challenge: {challenge}"));
    assert_eq!(param(www, "realm"), "kamailio.test");
    assert_eq!(param(www, "algorithm"), "MD5");

    // The same connection with the answer to the challenge: registered.
    let nonce = param(www, "nonce");
    let uri = format!("sip:{IP}");
    let digest = response(&DigestInput {
        algorithm: Algorithm::parse("MD5").expect("MD5"),
        username: "alice",
        realm: "kamailio.test",
        password: "secret",
        nonce,
        method: "REGISTER",
        uri: &uri,
        qop_auth: Some(("c0ffee", 1)),
    })
    .expect("digest");
    let authorization = format!(
        "Digest username=\"alice\", realm=\"kamailio.test\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{digest}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c0ffee\""
    );
    tls.write_all(register(2, Some(&authorization)).as_bytes())
        .expect("REGISTER with credentials");
    let ok = read_response(&mut tls);
    assert!(
        ok.starts_with("SIP/2.0 200"),
        "REGISTER with credentials: {ok}"
    );
    assert!(ok.contains("expires="), "the binding is listed: {ok}");
}
