//! The HTTPS shell of the web page: binds `[web] bind`, checks each TCP
//! peer against `[web] allow` before a byte of TLS (a refused peer's
//! connection is closed unanswered), runs TLS (rustls, ring) and HTTP/1.1
//! (trillium-http), turns each request into a `web::Request` for
//! `web::serve`, and writes the `web::Response` back.

pub(crate) mod cert;
mod idle;

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_rustls::rustls::{self, ServerConfig};
use futures_rustls::TlsAcceptor;
use smol::Async;
use trillium_http::{HttpConfig, HttpContext};

use crate::web::auth::{Auth, AuthError};
use crate::web::{self, WebContext};

use super::Gateway;

pub use cert::CertError;

/// A request body larger than this is answered 413.
const BODY_MAX: u64 = 1024 * 1024;
/// A request head (line and headers) larger than this is refused.
const HEAD_MAX: usize = 16 * 1024;
/// A TLS handshake must finish within this.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);
/// A connection that moves no bytes this long is closed.
const IDLE_LIMIT: Duration = Duration::from_secs(30);
/// No connection lives longer than this (a browser opens another).
const CONNECTION_LIMIT: Duration = Duration::from_secs(600);
/// Connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum WebStartError {
    #[error("cannot bind the web page's address {addr}: {source}; change web.bind in the config (or set web.enabled = false)")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error("the web certificate and key do not go together: {0}")]
    Tls(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

/// The web server, bound and ready to run.
pub struct WebServer {
    listener: Async<TcpListener>,
    tls: TlsAcceptor,
    auth: Auth,
    ctx: WebContext,
    /// `https://ADDRESS:PORT/` for the banner.
    pub url: String,
    /// SHA-256 of the certificate, `AB:CD:...`.
    pub fingerprint: String,
    /// The admin's one-time password when this start made one.
    pub one_time_password: Option<String>,
}

/// `pbxgate reset-password`: a new one-time password for `admin`.
pub fn reset_password(data_dir: &std::path::Path) -> Result<String, AuthError> {
    crate::web::auth::reset_password(data_dir)
}

/// Binds the web server of `gateway` (None with `[web] enabled = false`):
/// its certificate, users and tokens are read (or made) now, so a problem
/// is a start error.
pub fn start(
    gateway: &Gateway,
    data_dir: PathBuf,
    config_path: PathBuf,
) -> Result<Option<WebServer>, WebStartError> {
    let config = gateway.compiled.config.web.clone();
    if !config.enabled {
        return Ok(None);
    }
    let std_listener = TcpListener::bind(config.bind).map_err(|source| WebStartError::Bind {
        addr: config.bind,
        source,
    })?;
    let listener = Async::new(std_listener).map_err(|source| WebStartError::Bind {
        addr: config.bind,
        source,
    })?;
    let bound = listener.get_ref().local_addr().unwrap_or(config.bind);
    let shown = super::advertised_address(bound);
    let mut addresses: Vec<IpAddr> = vec![shown.ip()];
    if !bound.ip().is_unspecified() {
        addresses.push(bound.ip());
    }
    let configured = match (&config.cert_file, &config.key_file) {
        (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
        _ => None,
    };
    let loaded = cert::load_or_make(configured, &data_dir, &cert::names_for(&addresses))?;
    if loaded.made {
        tracing::info!(fingerprint = %loaded.fingerprint, "web: made a self-signed certificate in the data directory");
    }
    // ring, not aws-lc-rs: it builds for a Raspberry Pi without cmake. Its
    // provider is marked deprecated only for lacking post-quantum key
    // exchange, which a LAN page does not need yet.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| WebStartError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(loaded.chain, loaded.key)
        .map_err(|e| WebStartError::Tls(e.to_string()))?;
    let (auth, one_time_password) = Auth::open(&data_dir)?;
    let host = match shown.ip() {
        IpAddr::V6(a) => format!("[{a}]"),
        IpAddr::V4(a) => a.to_string(),
    };
    let ctx = WebContext {
        status: gateway.status(),
        control: gateway.control(),
        config: gateway.shared_config(),
        config_path,
        data_dir,
        started: Instant::now(),
        version: env!("CARGO_PKG_VERSION"),
        webhook_tester: Some(super::webhook::tester()),
        updater: Some(super::update::system_updater()),
    };
    Ok(Some(WebServer {
        listener,
        tls: TlsAcceptor::from(Arc::new(tls)),
        auth,
        ctx,
        url: format!("https://{host}:{}/", shown.port()),
        fingerprint: loaded.fingerprint,
        one_time_password,
    }))
}

impl WebServer {
    /// Accepts connections until the process ends.
    pub async fn run(self) {
        let http = Arc::new(
            HttpContext::new().with_config(
                HttpConfig::default()
                    .with_received_body_max_len(BODY_MAX)
                    .with_head_max_len(HEAD_MAX),
            ),
        );
        let open = Arc::new(AtomicUsize::new(0));
        loop {
            let (stream, peer) = match self.listener.accept().await {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "web: accept failed");
                    smol::Timer::after(Duration::from_millis(100)).await;
                    continue;
                }
            };
            // Before TLS: a source outside `[web] allow` learns nothing,
            // not even that this is a TLS server. The list is read live.
            if !allowed(&self.ctx, peer.ip()) {
                tracing::debug!(%peer, "web: source not in web.allow; closed");
                drop(stream);
                continue;
            }
            if open.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
                tracing::warn!(%peer, "web: {MAX_CONNECTIONS} connections open; closed");
                continue;
            }
            // An answer leaves as a head and a body; with Nagle's
            // algorithm the body waits for the client's delayed ACK
            // (40 ms on Linux), which capped a connection at 25 answers/s.
            if let Err(e) = stream.get_ref().set_nodelay(true) {
                tracing::debug!(%peer, error = %e, "web: TCP_NODELAY not set");
            }
            open.fetch_add(1, Ordering::Relaxed);
            let guard = Open(open.clone());
            let (tls, http, ctx, auth) = (
                self.tls.clone(),
                http.clone(),
                self.ctx.clone(),
                self.auth.clone(),
            );
            smol::spawn(async move {
                let _guard = guard;
                // The address as the allow list saw it: an IPv4 client of a
                // dual-stack socket is itself, not ::ffff:a.b.c.d, for the
                // login limit and `metrics_allow` too.
                let served = connection(stream, unmapped(peer.ip()), tls, http, ctx, auth);
                let limit = async {
                    smol::Timer::after(CONNECTION_LIMIT).await;
                };
                futures_lite::future::or(served, limit).await;
            })
            .detach();
        }
    }
}

struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn allowed(ctx: &WebContext, ip: IpAddr) -> bool {
    let ip = unmapped(ip);
    match ctx.config().web.allow_nets() {
        Ok(nets) => nets.iter().any(|n| n.contains(&ip)),
        // The configuration in force was validated; refuse if not.
        Err(_) => false,
    }
}

async fn connection(
    stream: Async<std::net::TcpStream>,
    peer: IpAddr,
    tls: TlsAcceptor,
    http: Arc<HttpContext>,
    ctx: WebContext,
    auth: Auth,
) {
    let handshake = async { Some(tls.accept(stream).await) };
    let timeout = async {
        smol::Timer::after(HANDSHAKE_LIMIT).await;
        None
    };
    let stream = match futures_lite::future::or(handshake, timeout).await {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            tracing::debug!(%peer, error = %e, "web: TLS handshake failed");
            return;
        }
        None => {
            tracing::debug!(%peer, "web: TLS handshake too slow");
            return;
        }
    };
    let transport = idle::Idle::new(stream, IDLE_LIMIT);
    let result = http
        .run(transport, move |mut conn| {
            let (ctx, auth) = (ctx.clone(), auth.clone());
            async move {
                let head = request_head(&conn, peer);
                let resp = if web::serve::is_upload(&head) {
                    // A firmware bundle: streamed to the data directory
                    // after the login is checked, never held in memory.
                    let body = conn
                        .request_body()
                        .with_max_len(web::api::update::UPLOAD_MAX);
                    web::serve::serve_upload(&ctx, &auth, head, body, Instant::now()).await
                } else {
                    let (req, refused) = request(&mut conn, head).await;
                    match refused {
                        Some(r) => r,
                        None => web::serve(&ctx, &auth, req, Instant::now()).await,
                    }
                };
                respond(&mut conn, resp);
                conn
            }
        })
        .await;
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "web: connection ended");
    }
}

/// The request's line and headers, its body not read yet.
fn request_head<T>(conn: &trillium_http::Conn<T>, peer: IpAddr) -> web::Request
where
    T: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin + Send + Sync + 'static,
{
    let method = match conn.method() {
        trillium_http::Method::Get | trillium_http::Method::Head => web::Method::Get,
        trillium_http::Method::Post => web::Method::Post,
        trillium_http::Method::Put => web::Method::Put,
        trillium_http::Method::Delete => web::Method::Delete,
        _ => web::Method::Other,
    };
    let headers = conn
        .request_headers()
        .iter()
        .filter_map(|(name, values)| {
            Some((
                name.to_string().to_ascii_lowercase(),
                values.as_str()?.to_string(),
            ))
        })
        .collect();
    let query = form_urlencoded::parse(conn.querystring().as_bytes())
        .into_owned()
        .collect();
    web::Request {
        method,
        path: conn.path().to_string(),
        query,
        headers,
        body: Vec::new(),
        peer,
    }
}

/// The request as the handlers see it, or the answer when its body cannot
/// be read.
async fn request<T>(
    conn: &mut trillium_http::Conn<T>,
    mut req: web::Request,
) -> (web::Request, Option<web::Response>)
where
    T: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin + Send + Sync + 'static,
{
    let refused = match conn.request_body().read_bytes().await {
        Ok(body) => {
            req.body = body;
            None
        }
        Err(trillium_http::Error::ReceivedBodyTooLong(max)) => Some(web::Response::text(
            413,
            format!("the request body is over {max} bytes\n"),
        )),
        Err(e) => Some(web::Response::text(
            400,
            format!("cannot read the request body: {e}\n"),
        )),
    };
    (req, refused)
}

fn respond<T>(conn: &mut trillium_http::Conn<T>, resp: web::Response)
where
    T: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin + Send + Sync + 'static,
{
    conn.set_status(resp.status);
    for (name, value) in resp.headers {
        conn.response_headers_mut().append(name, value);
    }
    conn.set_response_body(resp.body);
}
