//! Kamailio as a TLS registrar (tests/peers/kamailio_tls_registrar.sh):
//! digest auth for alice/secret (MD5), a test CA of its own and a server
//! certificate for its loopback address.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::KillOnDrop;

pub const REGISTRAR_PORT: u16 = 35161;

/// Kamailio on TLS, stopped when dropped; `dir` holds its CA (`ca.pem`)
/// and certificate.
pub struct TlsRegistrar {
    _process: KillOnDrop,
    pub ca: PathBuf,
}

/// Starts the registrar on `ip`, with a new CA, or with the files of
/// `keep` (a copy of an earlier run's directory) when given.
pub fn start_registrar(ip: &str, keep: Option<&Path>) -> TlsRegistrar {
    let peers = Path::new(super::MANIFEST_DIR).join("tests/peers");
    let mut cmd = Command::new("bash");
    match keep {
        None => cmd.arg(peers.join("kamailio_tls_registrar.sh")),
        Some(dir) => cmd
            .env("TLS_DIR", dir)
            .arg(peers.join("kamailio_registrar.sh")),
    };
    let mut child = cmd
        .args([ip, &REGISTRAR_PORT.to_string(), "MD5", "alice", "secret"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the Kamailio TLS registrar");
    let err = child.stderr.take().unwrap();
    let process = KillOnDrop::term(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if let Some(ca) = line.strip_prefix("kamailio_registrar: ready tls ca=") {
                let _ = tx.send(Ok(PathBuf::from(ca)));
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        let _ = tx.send(Err(seen));
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(Ok(ca)) => TlsRegistrar {
            _process: process,
            ca,
        },
        Ok(Err(log)) => panic!("the TLS registrar ended before it was ready:\n{log}"),
        Err(_) => panic!("the TLS registrar was not ready within 20 s"),
    }
}
