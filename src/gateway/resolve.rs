//! Finding a registrar's addresses and the local address to reach it from.
//!
//! Interim: names are resolved with the system resolver (A/AAAA). RFC 3263
//! SRV lookup and failover ordering replace this with the DNS module.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};

use crate::sip::message::{Host, SipUri};
use crate::sip::transport::Transport;

/// The addresses of `uri`, in the order to try them.
pub async fn targets(uri: &SipUri, transport: Transport) -> Result<Vec<SocketAddr>, String> {
    let default_port = if uri.secure { 5061 } else { 5060 };
    let port = uri.port.unwrap_or(default_port);
    let _ = transport;
    match &uri.host {
        Host::Ipv4(a) => Ok(vec![SocketAddr::new(IpAddr::V4(*a), port)]),
        Host::Ipv6(a) => Ok(vec![SocketAddr::new(IpAddr::V6(*a), port)]),
        Host::Domain(name) => {
            let name = name.clone();
            let found = smol::unblock(move || {
                (name.as_str(), port)
                    .to_socket_addrs()
                    .map(|it| it.collect::<Vec<_>>())
                    .map_err(|e| format!("cannot resolve {name}: {e}"))
            })
            .await?;
            if found.is_empty() {
                return Err(format!("{} has no address", uri.host));
            }
            Ok(found)
        }
    }
}

/// The address requests to `target` leave from: the listener's own address
/// when it is bound to one, else the address the kernel routes from.
pub fn local_address(listener: SocketAddr, target: SocketAddr) -> SocketAddr {
    if !listener.ip().is_unspecified() {
        return listener;
    }
    let probe_bind: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse().unwrap_or(listener)
    } else {
        "[::]:0".parse().unwrap_or(listener)
    };
    let ip = UdpSocket::bind(probe_bind)
        .and_then(|s| {
            s.connect(target)?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(listener.ip());
    SocketAddr::new(ip, listener.port())
}
