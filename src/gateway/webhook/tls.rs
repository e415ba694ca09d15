//! Whom a webhook trusts: the public roots (webpki-roots, compiled in, so
//! a box without a CA bundle still checks), plus the certificates of its
//! `ca_file`; or, with `pin_sha256`, exactly one certificate.
//!
//! A pinned webhook accepts the certificate whose SHA-256 is the pin and
//! nothing else, self-signed included, without checking its issuer, name
//! or dates: the pin says more than any of them, and a receiver with a
//! self-signed certificate (the common case for a pin) has none to check.
//! The handshake's signature is still verified against that certificate's
//! key, so a server must hold the pinned certificate's private key.

use std::path::Path;
use std::sync::Arc;

use futures_rustls::rustls;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read ca_file {path}: {reason}")]
    CaFile { path: String, reason: String },
    #[error("ca_file {path} holds no PEM certificate")]
    CaFileEmpty { path: String },
    #[error("TLS setup failed: {0}")]
    Rustls(String),
}

/// ring, as the web page's TLS: it builds for a Raspberry Pi without
/// cmake; deprecated only for lacking post-quantum key exchange.
#[allow(deprecated)]
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client configuration of one webhook.
pub fn client_config(
    ca_file: Option<&Path>,
    pin: Option<[u8; 32]>,
) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Rustls(e.to_string()))?;
    let config = if let Some(pin) = pin {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned { pin, provider }))
            .with_no_client_auth()
    } else {
        let roots = roots(ca_file)?;
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| TlsSetupError::Rustls(e.to_string()))?;
        builder.with_webpki_verifier(verifier).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The public roots (compiled in), plus the certificates of `ca_file`.
pub fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, TlsSetupError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let Some(path) = ca_file else {
        return Ok(roots);
    };
    let shown = path.display().to_string();
    let bad = |e: &dyn std::fmt::Display| TlsSetupError::CaFile {
        path: shown.clone(),
        reason: e.to_string(),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(&e))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(&e))?;
    if certs.is_empty() {
        return Err(TlsSetupError::CaFileEmpty { path: shown });
    }
    for c in certs {
        roots.add(c).map_err(|e| bad(&e))?;
    }
    Ok(roots)
}

/// The SHA-256 of a certificate's DER, as a pin is written.
pub fn fingerprint(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

#[derive(Debug)]
struct Pinned {
    pin: [u8; 32],
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
        if fingerprint(end_entity.as_ref()) == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_that_is_missing_or_empty_is_an_error() {
        let dir = std::env::temp_dir().join(format!("pbxgate-wh-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("none.pem");
        let e = client_config(Some(&missing), None).unwrap_err();
        assert!(e.to_string().starts_with("cannot read ca_file"), "{e}");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = client_config(Some(&empty), None).unwrap_err();
        assert!(e.to_string().contains("holds no PEM certificate"), "{e}");
        assert!(client_config(None, None).is_ok());
        assert!(client_config(None, Some([7; 32])).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
