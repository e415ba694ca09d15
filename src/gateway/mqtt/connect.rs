//! A connection to the broker: TCP, and TLS over it for `mqtts://`
//! (rustls with the public roots and `mqtt.ca_file`).

use std::path::Path;
use std::sync::Arc;

use futures_lite::{AsyncRead, AsyncWrite};
use futures_rustls::rustls::pki_types::pem::PemObject;
use futures_rustls::rustls::pki_types::{CertificateDer, ServerName};
use futures_rustls::rustls::{self, ClientConfig, RootCertStore};
use futures_rustls::TlsConnector;
use smol::net::TcpStream;

use crate::config::BrokerAddress;

pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// The TLS settings of an `mqtts://` broker, made once at start.
pub fn tls_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("mqtt.ca_file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "mqtt.ca_file {}: no certificate in it",
                path.display()
            ));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| format!("mqtt.ca_file {}: {e}", path.display()))?;
        }
    }
    // ring, as the web page: it builds for a Pi without cmake; deprecated
    // only for lacking post-quantum key exchange.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Opens a connection to `broker`, with TLS when `tls` is given (the
/// caller bounds its time).
pub async fn open(
    broker: &BrokerAddress,
    tls: Option<&Arc<ClientConfig>>,
) -> Result<Box<dyn Stream>, String> {
    let addr = (broker.host.as_str(), broker.port);
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    // Publishes are small and each waits for its ack: send at once.
    let _ = tcp.set_nodelay(true);
    let Some(config) = tls else {
        return Ok(Box::new(tcp));
    };
    let name = ServerName::try_from(broker.host.clone()).map_err(|e| {
        format!(
            "'{}' cannot be checked against a certificate: {e}",
            broker.host
        )
    })?;
    let stream = TlsConnector::from(config.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS: {e}"))?;
    Ok(Box::new(stream))
}
