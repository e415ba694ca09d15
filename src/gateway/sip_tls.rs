//! The SIP TLS endpoint's set-up (docs/tls.md): the server certificate
//! (configured, or self-signed in the data directory like the web page's),
//! whom the box trusts when it connects (the public roots and `[tls]
//! ca_file`), its optional client certificate, and the handshake limits.
//! Made only when the configuration uses TLS somewhere.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_rustls::rustls;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{Config, TransportName};
use crate::sip::transport::tls::TlsEndpoint;

use super::web::cert;
use super::webhook::tls::{provider, roots};

/// What the start-up banner says of TLS.
pub struct TlsSummary {
    pub fingerprint: String,
    pub made: bool,
}

/// Whether anything in `config` speaks TLS: a listener, an account, a
/// route target.
pub fn uses_tls(config: &Config, router: &crate::routing::Router) -> bool {
    config
        .listeners
        .iter()
        .any(|l| l.transports.contains(&TransportName::Tls))
        || config
            .accounts
            .iter()
            .any(|a| a.transport == TransportName::Tls)
        || router
            .routes()
            .flat_map(|r| r.targets.iter())
            .any(|t| t.transport == TransportName::Tls)
}

pub fn endpoint(
    config: &Config,
    data_dir: &Path,
    addresses: &[IpAddr],
) -> Result<(Arc<TlsEndpoint>, TlsSummary), String> {
    let t = &config.tls;
    let configured = match (&t.cert_file, &t.key_file) {
        (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
        _ => None,
    };
    let loaded = cert::load_or_make_as(
        configured,
        data_dir,
        &cert::names_for(addresses),
        (cert::SIP_CERT_FILE, cert::SIP_KEY_FILE),
    )
    .map_err(|e| format!("SIP TLS: {e}"))?;
    let summary = TlsSummary {
        fingerprint: loaded.fingerprint.clone(),
        made: loaded.made,
    };
    let provider = provider();
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("SIP TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(loaded.chain, loaded.key)
        .map_err(|e| format!("SIP TLS: the certificate and key do not go together: {e}"))?;
    let roots = roots(t.ca_file.as_deref()).map_err(|e| format!("SIP TLS: {e}"))?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("SIP TLS: {e}"))?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("SIP TLS: {e}"))?
        .with_webpki_verifier(verifier);
    let client = match (&t.client_cert_file, &t.client_key_file) {
        (Some(c), Some(k)) => {
            let (chain, key) = client_identity(c, k)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("SIP TLS: tls.client_cert_file: {e}"))?
        }
        _ => builder.with_no_client_auth(),
    };
    let endpoint = TlsEndpoint::new(
        Arc::new(server),
        Arc::new(client),
        Duration::from_millis(t.handshake_timeout_ms),
        t.max_handshakes_per_source,
        t.max_handshakes,
    );
    Ok((Arc::new(endpoint), summary))
}

fn client_identity(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("SIP TLS: tls.client_cert_file {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "SIP TLS: tls.client_cert_file {} holds no certificate",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("SIP TLS: tls.client_key_file {}: {e}", key.display()))?;
    Ok((chain, key))
}
