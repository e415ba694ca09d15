//! A test HTTPS receiver for webhooks: rustls on std threads, a test CA
//! of its own (rcgen), every request recorded with its headers and exact
//! body. It can answer slowly or with an error status; "refusing
//! connections" is a receiver not started yet (nothing listens).
//!
//! ```ignore
//! let ca = receiver::TestCa::new();
//! let r = receiver::Receiver::start("127.0.205.9:9443".parse().unwrap(), ca.issue("127.0.205.9"));
//! r.set_delay(Duration::from_secs(2));
//! let got = r.wait_for(10, Duration::from_secs(20));
//! ```

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_rustls::rustls;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate authority made for one test.
pub struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
}

/// A server certificate and its key.
#[derive(Clone)]
pub struct Identity {
    pub cert: CertificateDer<'static>,
    key: Vec<u8>,
}

impl Identity {
    /// A self-signed certificate for `ip` (for a pin).
    pub fn self_signed(ip: &str) -> Identity {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![ip.to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        Identity {
            cert: cert.der().clone(),
            key: key.serialize_der(),
        }
    }

    /// The certificate's SHA-256 in hex, as `pin_sha256` is written.
    pub fn sha256_hex(&self) -> String {
        use sha2::Digest;
        sha2::Sha256::digest(self.cert.as_ref())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl TestCa {
    pub fn new() -> TestCa {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "pbxgate test CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// The CA certificate, PEM (a webhook's `ca_file`).
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A server certificate for `ip`, signed by this CA.
    pub fn issue(&self, ip: &str) -> Identity {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![ip.to_string()]).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Identity {
            cert: cert.der().clone(),
            key: key.serialize_der(),
        }
    }
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The status it was answered with.
    pub status: u16,
    /// When its body was read, before any delay.
    pub received: std::time::SystemTime,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The gateway's signature, byte for byte: `X-Pbxgate-Signature:
    /// v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>` over the exact
    /// bytes received, with a timestamp of this attempt (under 2 minutes
    /// old).
    pub fn assert_signed(&self, secret: &str) {
        use hmac::{Hmac, Mac};
        let ts = self
            .header("x-pbxgate-timestamp")
            .expect("timestamp header");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let t: u64 = ts.parse().unwrap();
        assert!(t <= now && now - t < 120, "timestamp {t} vs now {now}");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(ts.as_bytes());
        mac.update(b".");
        mac.update(&self.body);
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            self.header("x-pbxgate-signature"),
            Some(format!("v1={hex}").as_str()),
            "signature of {}",
            self.body_text()
        );
    }
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Request>>,
    delay: Mutex<Duration>,
    status: Mutex<u16>,
    /// The answer's body ("ok" unless set).
    body: Mutex<Option<String>>,
    stop: AtomicBool,
    /// TLS handshakes that failed (e.g. the client refused our certificate).
    handshake_failures: Mutex<u32>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Receiver {
    /// Listens on `addr` with `identity` (`None`: plain HTTP).
    pub fn start(addr: SocketAddr, identity: Option<Identity>) -> Receiver {
        let listener = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        let shared = Arc::new(Shared::default());
        *shared.status.lock().unwrap() = 200;
        let tls = identity.map(|id| {
            #[allow(deprecated)]
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            Arc::new(
                rustls::ServerConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_no_client_auth()
                    .with_single_cert(
                        vec![id.cert.clone()],
                        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(id.key.clone())),
                    )
                    .unwrap(),
            )
        });
        let s = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (s, tls) = (s.clone(), tls.clone());
                std::thread::spawn(move || serve(conn, tls, s));
            }
        });
        Receiver { addr, shared }
    }

    /// Answers each request after `d`.
    pub fn set_delay(&self, d: Duration) {
        *self.shared.delay.lock().unwrap() = d;
    }

    /// Answers with `status` from now on.
    pub fn set_status(&self, status: u16) {
        *self.shared.status.lock().unwrap() = status;
    }

    /// Answers with `body` (as JSON) from now on.
    pub fn set_json_body(&self, body: &str) {
        *self.shared.body.lock().unwrap() = Some(body.to_string());
    }

    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Answered with a 2xx.
    pub fn accepted(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }

    pub fn handshake_failures(&self) -> u32 {
        *self.shared.handshake_failures.lock().unwrap()
    }

    /// Waits until `n` requests were accepted; returns them.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Request> {
        let end = Instant::now() + timeout;
        loop {
            let got = self.accepted();
            if got.len() >= n || Instant::now() > end {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

fn serve(conn: TcpStream, tls: Option<Arc<rustls::ServerConfig>>, s: Arc<Shared>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    match tls {
        None => requests(conn, &s),
        Some(cfg) => {
            let Ok(server) = rustls::ServerConnection::new(cfg) else {
                return;
            };
            let mut stream = rustls::StreamOwned::new(server, conn);
            while stream.conn.is_handshaking() {
                if stream.conn.complete_io(&mut stream.sock).is_err() {
                    *s.handshake_failures.lock().unwrap() += 1;
                    return;
                }
            }
            requests(stream, &s)
        }
    }
}

/// Reads requests off one connection until it closes.
fn requests(mut io: impl Read + Write, s: &Shared) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if s.stop.load(Ordering::Relaxed) {
            return;
        }
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            match io.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or("").split(' ');
        let method = first.next().unwrap_or("").to_string();
        let path = first.next().unwrap_or("").to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let start = head_end + 4;
        while buf.len() < start + len {
            match io.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = buf[start..start + len].to_vec();
        buf.drain(..start + len);
        let received = std::time::SystemTime::now();
        let delay = *s.delay.lock().unwrap();
        std::thread::sleep(delay);
        let status = *s.status.lock().unwrap();
        // Recorded when answered: a client that gave up or died before the
        // answer was written still counts as received.
        s.requests.lock().unwrap().push(Request {
            method,
            path,
            headers,
            body,
            status,
            received,
        });
        let answer = match s.body.lock().unwrap().clone() {
            Some(json) => format!(
                "HTTP/1.1 {status} Answer\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
                json.len()
            ),
            None => format!("HTTP/1.1 {status} Answer\r\nContent-Length: 2\r\n\r\nok"),
        };
        if io.write_all(answer.as_bytes()).is_err() || io.flush().is_err() {
            return;
        }
    }
}
