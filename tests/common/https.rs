//! A small HTTPS client for the web page's end-to-end tests: rustls (ring)
//! over a std TcpStream, no async runtime. It trusts exactly the
//! certificate the box keeps in its data directory (pinned), keeps the
//! session cookie, and sends the session's CSRF token on POST/PUT/DELETE.
//!
//! ```ignore
//! let mut c = https::Client::login(gw.web(), &gw.data_dir, "admin", "my password");
//! let r = c.post_json("/api/v1/tokens", &serde_json::json!({"name": "ci"}));
//! assert_eq!(r.status, 201);
//! ```

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_rustls::rustls;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

#[derive(Debug)]
struct Pinned {
    der: Vec<u8>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.der.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("not the box's certificate".into()))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

pub struct Client {
    pub addr: SocketAddr,
    /// The local address to connect from (None: any).
    pub source: Option<IpAddr>,
    tls: Arc<rustls::ClientConfig>,
    cookie: Option<String>,
    pub csrf: Option<String>,
    pub bearer: Option<String>,
}

impl Client {
    /// A client without a session, trusting the certificate in `data_dir`.
    pub fn new(addr: SocketAddr, data_dir: &Path) -> Client {
        let pem = data_dir.join("web-cert.pem");
        let der = CertificateDer::from_pem_file(&pem)
            .unwrap_or_else(|e| panic!("{}: {e}", pem.display()))
            .to_vec();
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned { der, provider }))
            .with_no_client_auth();
        Client {
            addr,
            source: None,
            tls: Arc::new(tls),
            cookie: None,
            csrf: None,
            bearer: None,
        }
    }

    /// Logs in (asserting it worked) and learns the session's CSRF token
    /// from the page the login leads to.
    pub fn login(addr: SocketAddr, data_dir: &Path, user: &str, password: &str) -> Client {
        let mut c = Client::new(addr, data_dir);
        let r = c.log_in(user, password);
        assert_eq!(r.status, 303, "login: {r:?}");
        c
    }

    /// POST /login; on success keeps the cookie and the CSRF token.
    pub fn log_in(&mut self, user: &str, password: &str) -> Response {
        let r = self.post_form("/login", &[("user", user), ("password", password)]);
        if let Some(set) = r.header("set-cookie") {
            self.cookie = set.split(';').next().map(str::to_string);
            let next = r.header("location").unwrap_or("/").to_string();
            let page = self.get(&next);
            self.csrf = csrf_in(&page.body);
        }
        r
    }

    /// The session cookie as the client sends it (`name=value`).
    pub fn cookie_header(&self) -> Option<String> {
        self.cookie.clone()
    }

    pub fn with_bearer(mut self, token: &str) -> Client {
        self.bearer = Some(token.to_string());
        self
    }

    pub fn get(&mut self, path: &str) -> Response {
        self.send("GET", path, None)
    }

    pub fn delete(&mut self, path: &str) -> Response {
        self.send("DELETE", path, None)
    }

    /// A form post; the CSRF token goes in the `csrf` field.
    pub fn post_form(&mut self, path: &str, pairs: &[(&str, &str)]) -> Response {
        let mut s = form_urlencoded::Serializer::new(String::new());
        s.extend_pairs(pairs);
        if let Some(t) = &self.csrf {
            s.append_pair("csrf", t);
        }
        let body = s.finish();
        self.send(
            "POST",
            path,
            Some(("application/x-www-form-urlencoded", body.into_bytes())),
        )
    }

    pub fn post_json(&mut self, path: &str, v: &serde_json::Value) -> Response {
        self.send(
            "POST",
            path,
            Some(("application/json", v.to_string().into_bytes())),
        )
    }

    pub fn put_json(&mut self, path: &str, v: &serde_json::Value) -> Response {
        self.send(
            "PUT",
            path,
            Some(("application/json", v.to_string().into_bytes())),
        )
    }

    /// Any request; `body` is (content type, bytes). Adds the cookie, the
    /// CSRF header on a state change, and the bearer token when set.
    pub fn send(&mut self, method: &str, path: &str, body: Option<(&str, Vec<u8>)>) -> Response {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if let Some(c) = &self.cookie {
            head.push_str(&format!("Cookie: {c}\r\n"));
        }
        if let Some(t) = &self.bearer {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        if method != "GET" {
            if let Some(t) = &self.csrf {
                head.push_str(&format!("X-CSRF-Token: {t}\r\n"));
            }
        }
        let body = match body {
            Some((kind, bytes)) => {
                head.push_str(&format!("Content-Type: {kind}\r\n"));
                bytes
            }
            None => Vec::new(),
        };
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut raw = head.into_bytes();
        raw.extend_from_slice(&body);
        let answer = self
            .exchange(&raw)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        parse(&answer).unwrap_or_else(|| panic!("{method} {path}: bad answer {answer:?}"))
    }

    /// Connects, sends, reads to the end.
    pub fn exchange(&self, raw: &[u8]) -> std::io::Result<Vec<u8>> {
        let tcp = connect(self.addr, self.source)?;
        let name = ServerName::IpAddress(self.addr.ip().into());
        let conn =
            rustls::ClientConnection::new(self.tls.clone(), name).map_err(std::io::Error::other)?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        tls.write_all(raw)?;
        tls.flush()?;
        let mut out = Vec::new();
        match tls.read_to_end(&mut out) {
            Ok(_) => Ok(out),
            // The server may close without close_notify after the answer.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => Ok(out),
            Err(e) => Err(e),
        }
    }
}

/// A TCP connection from `source` (any when None), with read timeouts.
pub fn connect(addr: SocketAddr, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let tcp = match source {
        None => TcpStream::connect_timeout(&addr, Duration::from_secs(5))?,
        // std cannot bind a stream before connecting; libc can.
        Some(ip) => bind_connect(ip, addr)?,
    };
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok(tcp)
}

fn bind_connect(source: IpAddr, addr: SocketAddr) -> std::io::Result<TcpStream> {
    use std::os::fd::FromRawFd;
    let family = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain socket calls on a descriptor this function owns; it is
    // handed to TcpStream (which closes it) or closed on error.
    unsafe {
        let fd = libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let stream = TcpStream::from_raw_fd(fd);
        let (src, len) = sockaddr(SocketAddr::new(source, 0));
        if libc::bind(fd, &src as *const _ as *const libc::sockaddr, len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let (dst, len) = sockaddr(addr);
        if libc::connect(fd, &dst as *const _ as *const libc::sockaddr, len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(stream)
    }
}

fn sockaddr(a: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; zeroed is a valid value.
    let mut s: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match a {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in fits in sockaddr_storage.
            unsafe { std::ptr::write(&mut s as *mut _ as *mut libc::sockaddr_in, sin) };
            (
                s,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: sockaddr_in6 fits in sockaddr_storage.
            unsafe { std::ptr::write(&mut s as *mut _ as *mut libc::sockaddr_in6, sin6) };
            (
                s,
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    }
}

/// The CSRF token a page's forms carry.
pub fn csrf_in(page: &str) -> Option<String> {
    let at = page.find(r#"name="csrf" value=""#)? + r#"name="csrf" value=""#.len();
    let rest = &page[at..];
    Some(rest[..rest.find('"')?].to_string())
}

fn parse(raw: &[u8]) -> Option<Response> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        unchunk(body)?
    } else {
        body.to_string()
    };
    Some(Response {
        status,
        headers,
        body,
    })
}

fn unchunk(mut s: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = s.split_once("\r\n")?;
        let n = usize::from_str_radix(size.trim(), 16).ok()?;
        if n == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..n)?);
        s = rest.get(n + 2..)?;
    }
}

/// A gateway that has just started with its web page on `addr`: reads the
/// one-time password from its banner, logs in with it (retrying while the
/// server comes up) and sets `password`. Returns the logged-in client.
pub fn first_login(gw: &super::GatewayProcess, addr: SocketAddr, password: &str) -> Client {
    gw.wait_for_output("web login: admin / ", Duration::from_secs(20));
    let one_time = gw
        .stdout()
        .lines()
        .find_map(|l| l.split("web login: admin / ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .expect("a one-time password in the banner")
        .to_string();
    let mut admin = Client::new(addr, &gw.data_dir);
    let mut r = admin.log_in("admin", &one_time);
    for _ in 0..50 {
        if r.status == 303 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        r = admin.log_in("admin", &one_time);
    }
    assert_eq!(r.header("location"), Some("/first-password"), "{r:?}");
    let r = admin.post_form(
        "/first-password",
        &[("password", password), ("confirm", password)],
    );
    assert_eq!(r.status, 303, "{r:?}");
    admin
}
