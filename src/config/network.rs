//! `[network]`: how the box gets its address. By DHCP (the default, the
//! image's own networkd file on every wired port), or a static address on
//! one interface. pbxgate writes what this says as a systemd-networkd file
//! in the data directory, which the appliance applies (docs/network.md).
//!
//! Only the data is checked here: an interface left out defaults to the
//! board's first network interface, which the gateway knows
//! (`gateway::compile`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::error::ConfigError;

/// DNS servers a static address may list, at most.
pub const MAX_DNS: usize = 8;

/// Where the address comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// A DHCP server on the LAN (and IPv6 router advertisements).
    #[default]
    Dhcp,
    /// `address` on `interface`, with `gateway` and `dns`.
    Static,
}

impl NetworkMode {
    pub fn name(self) -> &'static str {
        match self {
            NetworkMode::Dhcp => "dhcp",
            NetworkMode::Static => "static",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    pub mode: NetworkMode,
    /// The interface the static address goes on, e.g. "eth0"; absent: the
    /// board's first network interface (its `[network] wan`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// The address with its prefix length, e.g. "192.168.1.50/24" or
    /// "2001:db8::50/64". Needed for "static".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The default route's next hop, e.g. "192.168.1.1"; absent: no
    /// default route (the box reaches only its own network).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// Name servers, e.g. ["192.168.1.1"]; empty: none.
    pub dns: Vec<String>,
}

/// An address with its prefix length, as `address` holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IfAddress {
    pub ip: IpAddr,
    pub prefix: u8,
}

impl std::fmt::Display for IfAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.ip, self.prefix)
    }
}

impl IfAddress {
    /// Reads "192.168.1.50/24" or "2001:db8::50/64"; None for anything else.
    pub fn parse(text: &str) -> Option<IfAddress> {
        let (ip, prefix) = text.split_once('/')?;
        let ip: IpAddr = ip.parse().ok()?;
        // Digits only: "+24" and " 24" are not prefix lengths.
        if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let prefix: u8 = prefix.parse().ok()?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        (1..=max)
            .contains(&prefix)
            .then_some(IfAddress { ip, prefix })
    }

    /// Whether `other` is in this address's network.
    pub fn contains(&self, other: IpAddr) -> bool {
        match (self.ip, other) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

/// An address a host may take: not unspecified, loopback, multicast or
/// broadcast.
fn usable(ip: IpAddr) -> Result<(), &'static str> {
    if ip.is_unspecified() {
        return Err("is the unspecified address");
    }
    if ip.is_loopback() {
        return Err("is a loopback address");
    }
    if ip.is_multicast() {
        return Err("is a multicast address");
    }
    if let IpAddr::V4(v4) = ip {
        if v4.is_broadcast() {
            return Err("is the broadcast address");
        }
    }
    Ok(())
}

/// A network interface name as Linux takes it, and as networkd's `Name=`
/// reads it as one name (no glob or list).
pub fn valid_interface(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl NetworkConfig {
    pub fn is_static(&self) -> bool {
        self.mode == NetworkMode::Static
    }

    /// The address, read (after `validate`: Some when static).
    pub fn if_address(&self) -> Option<IfAddress> {
        self.address.as_deref().and_then(IfAddress::parse)
    }

    /// Every field given is checked whatever the mode, so a value kept
    /// for later is a valid one; "static" needs `address`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(name) = &self.interface {
            if !valid_interface(name) {
                return Err(ConfigError::invalid(
                    "network.interface",
                    format!(
                        "\"{name}\" is not a network interface name (1-15 letters, digits, '-', '_' or '.', e.g. eth0)"
                    ),
                ));
            }
        }
        let address = match &self.address {
            None => None,
            Some(text) => {
                let a = IfAddress::parse(text).ok_or_else(|| {
                    ConfigError::invalid(
                        "network.address",
                        format!(
                            "\"{text}\" is not an address with a prefix length, like 192.168.1.50/24"
                        ),
                    )
                })?;
                check_host(text, a)?;
                Some(a)
            }
        };
        if self.is_static() && address.is_none() {
            return Err(ConfigError::invalid(
                "network.address",
                "needed when mode is \"static\" (an address with a prefix length, like 192.168.1.50/24)",
            ));
        }
        if let Some(text) = &self.gateway {
            let ip: IpAddr = text.parse().map_err(|_| {
                ConfigError::invalid(
                    "network.gateway",
                    format!("\"{text}\" is not an IP address, like 192.168.1.1"),
                )
            })?;
            usable(ip).map_err(|why| {
                ConfigError::invalid("network.gateway", format!("\"{text}\" {why}"))
            })?;
            if let Some(a) = address {
                check_gateway(text, ip, a)?;
            }
        }
        if self.dns.len() > MAX_DNS {
            return Err(ConfigError::invalid(
                "network.dns",
                format!("{} servers are more than {MAX_DNS}", self.dns.len()),
            ));
        }
        for (i, text) in self.dns.iter().enumerate() {
            let field = format!("network.dns[{i}]");
            let ip: IpAddr = text.parse().map_err(|_| {
                ConfigError::invalid(
                    field.clone(),
                    format!("\"{text}\" is not an IP address, like 192.168.1.1"),
                )
            })?;
            usable(ip).map_err(|why| ConfigError::invalid(field, format!("\"{text}\" {why}")))?;
        }
        Ok(())
    }
}

/// The address is one a host may have on its network: for IPv4 below /31,
/// not the network's first (its own) or last (broadcast) address.
fn check_host(text: &str, a: IfAddress) -> Result<(), ConfigError> {
    let bad = |why: &str| ConfigError::invalid("network.address", format!("\"{text}\" {why}"));
    usable(a.ip).map_err(bad)?;
    if let IpAddr::V4(v4) = a.ip {
        if a.prefix <= 30 {
            let host_bits = u32::MAX >> a.prefix;
            let host = u32::from(v4) & host_bits;
            if host == 0 {
                return Err(bad(
                    "is the network's own address, not a host's (the host part is all zeros)",
                ));
            }
            if host == host_bits {
                return Err(bad("is the network's broadcast address, not a host's"));
            }
        }
    }
    Ok(())
}

/// The gateway is of the address's family, not the address itself, and
/// for IPv4 on its network (IPv6 gateways are often link-local, fe80::1).
fn check_gateway(text: &str, ip: IpAddr, a: IfAddress) -> Result<(), ConfigError> {
    let bad = |why: String| ConfigError::invalid("network.gateway", why);
    if ip.is_ipv4() != a.ip.is_ipv4() {
        return Err(bad(format!(
            "\"{text}\" is {} and network.address is {}: use a gateway of the address's family",
            family(ip),
            family(a.ip)
        )));
    }
    if ip == a.ip {
        return Err(bad(format!("\"{text}\" is the box's own address")));
    }
    if ip.is_ipv4() && !a.contains(ip) {
        return Err(bad(format!(
            "\"{text}\" is not in the network of network.address {a}: the box could not reach it"
        )));
    }
    Ok(())
}

fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn load(section: &str) -> Result<Config, String> {
        Config::from_toml(&format!("[network]\n{section}"))
    }

    #[test]
    fn dhcp_is_the_default_and_needs_nothing() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.network, NetworkConfig::default());
        assert_eq!(c.network.mode, NetworkMode::Dhcp);
        load("mode = \"dhcp\"\n").unwrap();
    }

    #[test]
    fn a_static_address_with_gateway_and_dns() {
        let c = load(
            "mode = \"static\"\ninterface = \"eth0\"\naddress = \"192.168.1.50/24\"\n\
             gateway = \"192.168.1.1\"\ndns = [\"192.168.1.1\", \"2001:db8::53\"]\n",
        )
        .unwrap();
        assert!(c.network.is_static());
        assert_eq!(
            c.network.if_address(),
            Some(IfAddress {
                ip: "192.168.1.50".parse().unwrap(),
                prefix: 24
            })
        );
        // IPv6, a link-local gateway outside the prefix, no interface (the
        // board's default is the gateway's business).
        load("mode = \"static\"\naddress = \"2001:db8:1::50/64\"\ngateway = \"fe80::1\"\n")
            .unwrap();
        // A /31 and a /32 have no network or broadcast address to refuse.
        load("mode = \"static\"\naddress = \"10.0.0.0/31\"\n").unwrap();
        load("mode = \"static\"\naddress = \"10.0.0.7/32\"\n").unwrap();
    }

    #[test]
    fn each_bad_value_is_named_with_the_fix() {
        for (section, expected) in [
            (
                "mode = \"static\"\naddress = \"192.168.1.300/24\"\n",
                "network.address: \"192.168.1.300/24\" is not an address with a prefix length, like 192.168.1.50/24",
            ),
            (
                "mode = \"static\"\naddress = \"192.168.1.50\"\n",
                "network.address: \"192.168.1.50\" is not an address with a prefix length",
            ),
            (
                "mode = \"static\"\naddress = \"192.168.1.50/33\"\n",
                "network.address: \"192.168.1.50/33\" is not an address",
            ),
            (
                "mode = \"static\"\naddress = \"192.168.1.50/+4\"\n",
                "network.address: \"192.168.1.50/+4\" is not an address",
            ),
            (
                "mode = \"static\"\naddress = \"192.168.1.0/24\"\n",
                "network.address: \"192.168.1.0/24\" is the network's own address",
            ),
            (
                "mode = \"static\"\naddress = \"192.168.1.255/24\"\n",
                "network.address: \"192.168.1.255/24\" is the network's broadcast address",
            ),
            (
                "mode = \"static\"\naddress = \"127.0.0.2/8\"\n",
                "network.address: \"127.0.0.2/8\" is a loopback address",
            ),
            (
                "mode = \"static\"\n",
                "network.address: needed when mode is \"static\"",
            ),
            (
                "mode = \"static\"\naddress = \"192.168.1.50/24\"\ngateway = \"192.168.2.1\"\n",
                "network.gateway: \"192.168.2.1\" is not in the network of network.address 192.168.1.50/24",
            ),
            (
                "mode = \"static\"\naddress = \"192.168.1.50/24\"\ngateway = \"192.168.1.50\"\n",
                "network.gateway: \"192.168.1.50\" is the box's own address",
            ),
            (
                "mode = \"static\"\naddress = \"192.168.1.50/24\"\ngateway = \"fe80::1\"\n",
                "network.gateway: \"fe80::1\" is IPv6 and network.address is IPv4",
            ),
            (
                "mode = \"static\"\naddress = \"192.168.1.50/24\"\ngateway = \"gw.local\"\n",
                "network.gateway: \"gw.local\" is not an IP address",
            ),
            (
                "dns = [\"192.168.1.1\", \"dns.example\"]\n",
                "network.dns[1]: \"dns.example\" is not an IP address",
            ),
            (
                "dns = [\"0.0.0.0\"]\n",
                "network.dns[0]: \"0.0.0.0\" is the unspecified address",
            ),
            (
                "interface = \"eth0 eth1\"\n",
                "network.interface: \"eth0 eth1\" is not a network interface name",
            ),
            (
                "interface = \"en*\"\n",
                "network.interface: \"en*\" is not a network interface name",
            ),
            (
                "interface = \"averyveryverylongname\"\n",
                "network.interface: \"averyveryverylongname\" is not",
            ),
            // Kept for later in DHCP mode, but still a value that must read.
            (
                "mode = \"dhcp\"\naddress = \"10.1.2.3/40\"\n",
                "network.address: \"10.1.2.3/40\" is not",
            ),
        ] {
            let e = load(section).unwrap_err();
            assert!(e.starts_with(expected), "{section}: {e}");
        }
        let many: Vec<String> = (1..=9).map(|i| format!("\"10.0.0.{i}\"")).collect();
        let e = load(&format!("dns = [{}]\n", many.join(", "))).unwrap_err();
        assert!(
            e.starts_with("network.dns: 9 servers are more than 8"),
            "{e}"
        );
        let e = load("mode = \"manual\"\n").unwrap_err();
        assert!(e.contains("manual") && e.contains("dhcp"), "{e}");
    }

    #[test]
    fn containment_by_prefix() {
        let a = IfAddress::parse("10.1.2.3/8").unwrap();
        assert!(a.contains("10.255.0.1".parse().unwrap()));
        assert!(!a.contains("11.0.0.1".parse().unwrap()));
        let a = IfAddress::parse("2001:db8::1/32").unwrap();
        assert!(a.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!a.contains("2001:db9::1".parse().unwrap()));
        assert!(!a.contains("10.0.0.1".parse().unwrap()));
        let a = IfAddress::parse("10.1.2.3/32").unwrap();
        assert!(a.contains("10.1.2.3".parse().unwrap()));
        assert!(!a.contains("10.1.2.4".parse().unwrap()));
        assert_eq!(a.to_string(), "10.1.2.3/32");
    }
}
