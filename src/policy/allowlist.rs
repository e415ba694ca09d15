//! A set of source networks (CIDR, IPv4 and IPv6), checked on the raw
//! source address of a packet before anything is parsed.

use std::net::IpAddr;

use ipnet::IpNet;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allowlist {
    nets: Vec<IpNet>,
}

impl Allowlist {
    /// Parses entries such as "203.0.113.0/24", "2001:db8::/32" or a bare
    /// address ("198.51.100.7" = /32, "::1" = /128). The error names the
    /// entry and says what is wrong with it.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Allowlist, String> {
        let mut nets = Vec::with_capacity(entries.len());
        for e in entries {
            let e = e.as_ref().trim();
            let net = if e.contains('/') {
                e.parse::<IpNet>().map_err(|_| {
                    format!("'{e}' is not a network in CIDR form (e.g. 203.0.113.0/24)")
                })?
            } else {
                e.parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| format!("'{e}' is not an IP address or CIDR network"))?
            };
            // 203.0.113.7/24 is taken as 203.0.113.0/24: what was meant.
            nets.push(net.trunc());
        }
        Ok(Allowlist { nets })
    }

    /// The default for the WAN side on a fresh start: this host only, so a
    /// local test works and everything else is dropped until configured.
    pub fn loopback_only() -> Allowlist {
        Allowlist::parse(&["127.0.0.1/32", "::1/128"]).unwrap_or_default()
    }

    /// Whether `ip` is admitted. An IPv4-mapped IPv6 address
    /// (::ffff:a.b.c.d, as a dual-stack socket reports IPv4 peers) is
    /// checked as the IPv4 address it is.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The network that admits `ip`, for counters per source prefix.
    pub fn matching(&self, ip: IpAddr) -> Option<IpNet> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.nets.iter().copied().find(|n| n.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    pub fn networks(&self) -> &[IpNet] {
        &self.nets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::ip;

    #[test]
    fn table() {
        let a = Allowlist::parse(&["54.172.60.0/23", "2001:db8:10::/48", "198.51.100.7"]).unwrap();
        let inside = [
            "54.172.60.0",
            "54.172.61.255",
            "198.51.100.7",
            "2001:db8:10::1",
            "2001:db8:10:ffff::1",
            "::ffff:54.172.60.9",
        ];
        let outside = [
            "54.172.62.0",
            "54.172.59.255",
            "198.51.100.8",
            "2001:db8:11::1",
            "::ffff:10.0.0.1",
            "127.0.0.1",
        ];
        for (addrs, admitted) in [(inside, true), (outside, false)] {
            for addr in addrs {
                assert_eq!(a.contains(ip(addr)), admitted, "{addr}");
            }
        }
        assert_eq!(
            a.matching(ip("54.172.61.1")).map(|n| n.to_string()),
            Some("54.172.60.0/23".into())
        );
    }

    #[test]
    fn host_bits_are_dropped_and_errors_name_the_entry() {
        let a = Allowlist::parse(&["203.0.113.77/24"]).unwrap();
        assert!(a.contains(ip("203.0.113.1")));
        let e = Allowlist::parse(&["10.0.0.0/33"]).unwrap_err();
        assert!(e.contains("10.0.0.0/33"), "{e}");
        let e = Allowlist::parse(&["twilio"]).unwrap_err();
        assert!(e.contains("'twilio'"), "{e}");
    }

    #[test]
    fn default_is_this_host_only() {
        let a = Allowlist::loopback_only();
        assert!(a.contains(ip("127.0.0.1")));
        assert!(a.contains(ip("::1")));
        assert!(
            !a.contains(ip("127.0.0.2")),
            "other loopback addresses are other hosts in tests"
        );
        assert!(!a.contains(ip("192.0.2.1")));
        assert!(Allowlist::default().is_empty());
    }
}
