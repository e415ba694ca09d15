//! Where to send DNS questions: the nameservers of `/etc/resolv.conf`, or
//! one given explicitly (configuration, tests).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::error::DnsError;
use super::locator::AddressFamilies;

pub const RESOLV_CONF: &str = "/etc/resolv.conf";

/// glibc reads at most three nameservers (MAXNS in resolv.h).
const MAX_NAMESERVERS: usize = 3;

/// How the resolver shell asks: whom, how long to wait for each reply,
/// and how many rounds over the nameservers before giving up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolverConfig {
    /// Asked in order; the next one when a reply does not come in time.
    pub nameservers: Vec<SocketAddr>,
    /// How long to wait for one reply (resolv.conf `options timeout:`).
    pub timeout: Duration,
    /// Rounds over all nameservers (resolv.conf `options attempts:`).
    pub attempts: u32,
    /// Which address records to ask for.
    pub families: AddressFamilies,
}

impl ResolverConfig {
    /// One nameserver, 2 s per try, 2 rounds.
    pub fn with_nameserver(addr: SocketAddr) -> ResolverConfig {
        ResolverConfig {
            nameservers: vec![addr],
            timeout: Duration::from_secs(2),
            attempts: 2,
            families: AddressFamilies::default(),
        }
    }

    /// The system's resolver settings from `/etc/resolv.conf`.
    pub fn from_system() -> Result<ResolverConfig, DnsError> {
        let text = std::fs::read_to_string(RESOLV_CONF).map_err(|e| DnsError::NoNameserver {
            reason: format!("cannot read {RESOLV_CONF}: {e}"),
        })?;
        ResolverConfig::parse_resolv_conf(&text).map_err(|e| match e {
            DnsError::NoNameserver { reason } => DnsError::NoNameserver {
                reason: format!("{RESOLV_CONF}: {reason}"),
            },
            other => other,
        })
    }

    /// Reads resolv.conf text: `nameserver` lines and the `timeout:` and
    /// `attempts:` options, with glibc's defaults (5 s, 2) and limits (30 s,
    /// 5). `search`, `domain` and `ndots` do not apply: SIP domains are
    /// fully qualified.
    pub fn parse_resolv_conf(text: &str) -> Result<ResolverConfig, DnsError> {
        let mut config = ResolverConfig {
            nameservers: Vec::new(),
            timeout: Duration::from_secs(5),
            attempts: 2,
            families: AddressFamilies::default(),
        };
        let mut ignored = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    let Some(word) = words.next() else { continue };
                    // A link-local IPv6 nameserver may carry %interface;
                    // the scope is dropped (such servers are rare on a LAN
                    // box and the IPv4 ones are asked first anyway).
                    let addr = word.split('%').next().unwrap_or(word);
                    match addr.parse::<IpAddr>() {
                        Ok(ip) if config.nameservers.len() < MAX_NAMESERVERS => {
                            config.nameservers.push(SocketAddr::new(ip, 53))
                        }
                        Ok(_) => {}
                        Err(_) => ignored.push(word.to_string()),
                    }
                }
                Some("options") => {
                    for opt in words {
                        if let Some(v) = opt.strip_prefix("timeout:") {
                            if let Ok(n) = v.parse::<u64>() {
                                config.timeout = Duration::from_secs(n.clamp(1, 30));
                            }
                        } else if let Some(v) = opt.strip_prefix("attempts:") {
                            if let Ok(n) = v.parse::<u32>() {
                                config.attempts = n.clamp(1, 5);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if config.nameservers.is_empty() {
            let reason = if ignored.is_empty() {
                "no 'nameserver' line".to_string()
            } else {
                format!(
                    "no usable 'nameserver' line ('{}' is not an IP address)",
                    ignored.join("', '")
                )
            };
            return Err(DnsError::NoNameserver { reason });
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nameservers_and_options() {
        let text = "# generated\nsearch lan\nnameserver 192.0.2.53\n\
                    nameserver fe80::1%eth0\n; comment\nnameserver 2001:db8::53\n\
                    nameserver 198.51.100.53\noptions rotate timeout:1 attempts:3\n";
        let c = ResolverConfig::parse_resolv_conf(text).expect("config");
        assert_eq!(
            c.nameservers,
            [
                "192.0.2.53:53".parse::<SocketAddr>().ok(),
                "[fe80::1]:53".parse().ok(),
                "[2001:db8::53]:53".parse().ok(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
        );
        assert_eq!(c.timeout, Duration::from_secs(1));
        assert_eq!(c.attempts, 3);
    }

    #[test]
    fn defaults_and_limits() {
        let c = ResolverConfig::parse_resolv_conf("nameserver 127.0.0.53\n").expect("config");
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert_eq!(c.attempts, 2);
        let c = ResolverConfig::parse_resolv_conf(
            "nameserver 127.0.0.53\noptions timeout:99 attempts:0",
        )
        .expect("config");
        assert_eq!(c.timeout, Duration::from_secs(30));
        assert_eq!(c.attempts, 1);
    }

    #[test]
    fn no_nameserver_is_an_error_that_says_so() {
        let e = ResolverConfig::parse_resolv_conf("search lan\n").expect_err("no ns");
        assert_eq!(e.to_string(), "no nameserver to ask: no 'nameserver' line");
        let e = ResolverConfig::parse_resolv_conf("nameserver dns.example\n").expect_err("no ns");
        assert_eq!(
            e.to_string(),
            "no nameserver to ask: no usable 'nameserver' line ('dns.example' is not an IP address)"
        );
    }
}
