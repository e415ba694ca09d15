//! A server certificate: a configured one (`[web] cert_file`, `key_file`;
//! `[tls]` the same for SIP), or a self-signed one made at first start and
//! kept in the data directory (`web-cert.pem`, `web-key.pem` owner-only;
//! `sip-cert.pem`, `sip-key.pem`), so the fingerprint a browser or a peer
//! was told to trust stays the same.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use futures_rustls::rustls::pki_types::pem::PemObject;
use futures_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use crate::web::auth::files::write_private;

pub const CERT_FILE: &str = "web-cert.pem";
pub const KEY_FILE: &str = "web-key.pem";
/// The SIP TLS server's, apart from the web page's: either may be
/// replaced by a configured one without the other.
pub const SIP_CERT_FILE: &str = "sip-cert.pem";
pub const SIP_KEY_FILE: &str = "sip-key.pem";

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot read the certificate {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{path} holds no certificate (PEM 'CERTIFICATE')")]
    NoCertificate { path: PathBuf },
    #[error("cannot make a self-signed certificate: {0}")]
    Make(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub struct Loaded {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// SHA-256 of the leaf certificate's DER, as `AB:CD:...`.
    pub fingerprint: String,
    /// Made now (first start).
    pub made: bool,
}

/// The configured pair, or the data directory's (made when missing, with
/// `names` as its subject alternative names).
pub fn load_or_make(
    configured: Option<(&Path, &Path)>,
    data_dir: &Path,
    names: &[String],
) -> Result<Loaded, CertError> {
    load_or_make_as(configured, data_dir, names, (CERT_FILE, KEY_FILE))
}

/// `load_or_make` with the data directory's file names.
pub fn load_or_make_as(
    configured: Option<(&Path, &Path)>,
    data_dir: &Path,
    names: &[String],
    (cert_file, key_file): (&str, &str),
) -> Result<Loaded, CertError> {
    let (cert_path, key_path, may_make) = match configured {
        Some((c, k)) => (c.to_path_buf(), k.to_path_buf(), false),
        None => (data_dir.join(cert_file), data_dir.join(key_file), true),
    };
    let mut made = false;
    if may_make && !cert_path.exists() {
        make(&cert_path, &key_path, names)?;
        made = true;
    }
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |e: futures_rustls::rustls::pki_types::pem::Error| CertError::Read {
            path,
            message: e.to_string(),
        }
    };
    let chain = CertificateDer::pem_file_iter(&cert_path)
        .map_err(read_err(&cert_path))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_err(&cert_path))?;
    let Some(leaf) = chain.first() else {
        return Err(CertError::NoCertificate { path: cert_path });
    };
    let fingerprint = fingerprint(leaf);
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(read_err(&key_path))?;
    Ok(Loaded {
        chain,
        key,
        fingerprint,
        made,
    })
}

pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn make(cert_path: &Path, key_path: &Path, names: &[String]) -> Result<(), CertError> {
    let made = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| CertError::Make(e.to_string()))?;
    // The key first: a certificate without its key would be kept and fail.
    write_private(key_path, &made.signing_key.serialize_pem()).map_err(|source| {
        CertError::Write {
            path: key_path.into(),
            source,
        }
    })?;
    write_private(cert_path, &made.cert.pem()).map_err(|source| CertError::Write {
        path: cert_path.into(),
        source,
    })
}

/// The names a browser may reach the box by: its address(es), loopback,
/// and `localhost`.
pub fn names_for(addresses: &[IpAddr]) -> Vec<String> {
    let mut names: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
    for n in ["127.0.0.1", "::1", "localhost"] {
        if !names.iter().any(|x| x == n) {
            names.push(n.to_string());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_is_made_once_and_its_fingerprint_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("pbxgate-cert-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let names = names_for(&["192.168.1.5".parse().unwrap()]);
        assert_eq!(names, ["192.168.1.5", "127.0.0.1", "::1", "localhost"]);
        let first = load_or_make(None, &dir, &names).unwrap();
        assert!(first.made);
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        let again = load_or_make(None, &dir, &names).unwrap();
        assert!(!again.made);
        assert_eq!(first.fingerprint, again.fingerprint);
        let mode = std::fs::metadata(dir.join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let e = load_or_make(
            Some((&dir.join("none.pem"), &dir.join(KEY_FILE))),
            &dir,
            &names,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("none.pem"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
