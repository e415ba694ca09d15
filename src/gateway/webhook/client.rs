//! One webhook's connection: TCP (smol), TLS (futures-rustls) unless the
//! URL is http://, HTTP/1.1 POSTs one at a time, the connection kept for
//! the next one while the receiver allows it. Every step is bounded by the
//! webhook's `timeout_ms`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use futures_rustls::rustls;
use futures_rustls::TlsConnector;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;

use super::http::{self, Answer, AnswerError, Target};

trait Stream: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Stream for T {}

/// Why a delivery attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("certificate refused: {0}")]
    Certificate(String),
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    #[error("no answer within {0} ms ({1})")]
    Timeout(u64, &'static str),
    #[error("connection failed: {0}")]
    Io(String),
    #[error(transparent)]
    Answer(#[from] AnswerError),
    #[error("'{host}' is not a valid TLS server name")]
    ServerName { host: String },
}

impl DeliveryError {
    /// A certificate that is not trusted: counted apart and logged at warn,
    /// since it may be an attack rather than an outage.
    pub fn is_certificate(&self) -> bool {
        matches!(self, DeliveryError::Certificate(_))
    }
}

pub struct Client {
    target: Target,
    tls: Option<Arc<ClientConfig>>,
    timeout: Duration,
    conn: Option<Box<dyn Stream>>,
}

impl Client {
    /// `tls` is required for an https:// target.
    pub fn new(target: Target, tls: Option<Arc<ClientConfig>>, timeout: Duration) -> Client {
        Client {
            target,
            tls,
            timeout,
            conn: None,
        }
    }

    /// POSTs one request and reads the answer. A kept connection that the
    /// receiver closed meanwhile is replaced once.
    pub async fn post(
        &mut self,
        content_type: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<Answer, DeliveryError> {
        let request = http::post(&self.target, content_type, headers, body);
        if let Some(conn) = self.conn.take() {
            match self.exchange(conn, &request).await {
                Ok(a) => return Ok(a),
                // A stale kept connection: a closed socket or a reset. A
                // timeout or a bad answer is the receiver's, not retried.
                Err(DeliveryError::Io(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let conn = self.connect().await?;
        self.exchange(conn, &request).await
    }

    async fn exchange(
        &mut self,
        mut conn: Box<dyn Stream>,
        request: &[u8],
    ) -> Result<Answer, DeliveryError> {
        let ms = self.timeout.as_millis() as u64;
        let io = |e: std::io::Error| DeliveryError::Io(e.to_string());
        within(self.timeout, DeliveryError::Timeout(ms, "sending"), async {
            conn.write_all(request).await.map_err(io)?;
            conn.flush().await.map_err(io)
        })
        .await?;
        let mut buf: Vec<u8> = Vec::with_capacity(1024);
        let mut chunk = [0u8; 4096];
        let answer = within(
            self.timeout,
            DeliveryError::Timeout(ms, "waiting for the answer"),
            async {
                loop {
                    let n = conn.read(&mut chunk).await.map_err(io)?;
                    if n == 0 && buf.is_empty() {
                        return Err(DeliveryError::Io("closed without an answer".into()));
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(a) = http::parse_answer(&buf, n == 0)? {
                        return Ok(a);
                    }
                }
            },
        )
        .await?;
        if answer.keep_alive {
            self.conn = Some(conn);
        }
        Ok(answer)
    }

    async fn connect(&self) -> Result<Box<dyn Stream>, DeliveryError> {
        let ms = self.timeout.as_millis() as u64;
        let t = &self.target;
        let addrs = within(
            self.timeout,
            DeliveryError::Timeout(ms, "resolving"),
            async {
                smol::net::resolve((t.host.as_str(), t.port))
                    .await
                    .map_err(|e| DeliveryError::Resolve {
                        host: t.host.clone(),
                        reason: e.to_string(),
                    })
            },
        )
        .await?;
        let mut last = DeliveryError::Resolve {
            host: t.host.clone(),
            reason: "no address".into(),
        };
        let mut tcp = None;
        for addr in addrs {
            let r = within(
                self.timeout,
                DeliveryError::Timeout(ms, "connecting"),
                async {
                    smol::net::TcpStream::connect(addr)
                        .await
                        .map_err(|e| DeliveryError::Connect {
                            addr: addr.to_string(),
                            reason: e.to_string(),
                        })
                },
            )
            .await;
            match r {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let Some(tcp) = tcp else { return Err(last) };
        let _ = tcp.set_nodelay(true);
        let Some(config) = self.tls.clone().filter(|_| t.tls) else {
            return Ok(Box::new(tcp));
        };
        let name = ServerName::try_from(t.host.clone()).map_err(|_| DeliveryError::ServerName {
            host: t.host.clone(),
        })?;
        let tls = within(
            self.timeout,
            DeliveryError::Timeout(ms, "TLS handshake"),
            async {
                TlsConnector::from(config)
                    .connect(name, tcp)
                    .await
                    .map_err(tls_error)
            },
        )
        .await?;
        Ok(Box::new(tls))
    }
}

/// A handshake failure, with a refused certificate told apart.
fn tls_error(e: std::io::Error) -> DeliveryError {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(c)) => DeliveryError::Certificate(format!("{c:?}")),
        Some(other) => DeliveryError::Tls(other.to_string()),
        None => DeliveryError::Io(e.to_string()),
    }
}

async fn within<T>(
    limit: Duration,
    on_timeout: DeliveryError,
    f: impl Future<Output = Result<T, DeliveryError>>,
) -> Result<T, DeliveryError> {
    futures_lite::future::or(f, async {
        smol::Timer::after(limit).await;
        Err(on_timeout)
    })
    .await
}
