//! Finding a registrar's addresses (RFC 3263: SRV, then A/AAAA, through
//! the DNS module) and the local address to reach it from.

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};

use crate::sip::dns::{Resolver, ResolverConfig};
use crate::sip::message::{Host, SipUri, Uri};
use crate::sip::transport::Transport;

/// The addresses of `uri` for `transport`, in the order to try them.
pub async fn targets(
    uri: &SipUri,
    transport: Transport,
    nameservers: &[SocketAddr],
) -> Result<Vec<SocketAddr>, String> {
    let mut uri = uri.clone();
    if transport.is_stream() && uri.params.value("transport").is_none() && !uri.secure {
        let t = transport.via_token().to_ascii_lowercase();
        uri.params.set("transport", Some(t));
    }
    let config = match nameservers.first() {
        Some(first) => {
            let mut c = ResolverConfig::with_nameserver(*first);
            c.nameservers = nameservers.to_vec();
            Ok(c)
        }
        None => ResolverConfig::from_system(),
    };
    match config {
        Ok(config) => {
            let list = Resolver::new(config)
                .locate(&Uri::Sip(uri.clone()))
                .await
                .map_err(|e| e.to_string())?;
            let found: Vec<SocketAddr> = list
                .targets()
                .iter()
                .filter(|t| t.transport == transport)
                .map(|t| t.addr)
                .collect();
            if found.is_empty() {
                return Err(format!("{} has no {transport} target", uri.host));
            }
            Ok(found)
        }
        // No usable resolv.conf: the system resolver still knows /etc/hosts.
        Err(_) => {
            let tls = uri.secure || transport == Transport::Tls;
            let port = uri.port.unwrap_or(if tls { 5061 } else { 5060 });
            let name = match &uri.host {
                Host::Domain(d) => d.clone(),
                other => other.to_string().trim_matches(['[', ']']).to_string(),
            };
            smol::unblock(move || {
                (name.as_str(), port)
                    .to_socket_addrs()
                    .map(|it| it.collect::<Vec<_>>())
                    .map_err(|e| format!("cannot resolve {name}: {e}"))
            })
            .await
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

/// Keeps the addresses of a call target's host name fresh: looked up at
/// start, then every 5 minutes (every 30 s while it fails).
pub async fn call_target_loop(
    host: String,
    dns: crate::config::DnsConfig,
    tx: smol::channel::Sender<super::Inbound>,
    tls: Option<std::sync::Arc<crate::sip::transport::tls::TlsEndpoint>>,
) {
    let uri = match Host::parse(&host) {
        Ok(h) => SipUri::new(h, None),
        Err(e) => {
            tracing::warn!(%host, error = %e, "call target host cannot be looked up");
            return;
        }
    };
    loop {
        let wait = match targets(&uri, Transport::Udp, &dns.nameservers).await {
            Ok(addrs) => {
                tracing::debug!(%host, ?addrs, "call target resolved");
                // A TLS target's certificate must be for the name the
                // route gives (RFC 5922 §4).
                if let Some(tls) = &tls {
                    for a in &addrs {
                        tls.expect_name(*a, &host);
                    }
                }
                let msg = super::Inbound::CallTargetAddresses {
                    host: host.clone(),
                    addrs,
                };
                if tx.send(msg).await.is_err() {
                    return;
                }
                std::time::Duration::from_secs(300)
            }
            Err(e) => {
                tracing::warn!(%host, error = %e, "cannot resolve a call target; calls to it fail over");
                std::time::Duration::from_secs(30)
            }
        };
        smol::Timer::after(wait).await;
    }
}
