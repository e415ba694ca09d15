//! The box's network settings as the appliance applies them, and its
//! addresses as the status shows them. Pure: the gateway writes the file
//! (`gateway::network`), the web page runs `ip` (docs/network.md).
//!
//! - `NetworkPlan::resolve`: `[network]` with the board's default
//!   interface filled in.
//! - `render`: a static address as a systemd-networkd `.network` file.
//!   pbxgate keeps it at `<data_dir>/network/10-pbxgate.network`; the
//!   image's `pbxgate-network.service` copies it to
//!   `/run/systemd/network/`, where its name sorts before the image's
//!   `20-wired.network` (DHCP), so it wins for its interface. DHCP mode is
//!   no file at all.
//! - `parse_ip_addr`: `ip -j addr show` read into interfaces and addresses,
//!   each static (valid forever) or from DHCP (a lease: a finite lifetime).

use std::fmt::Write as _;
use std::net::IpAddr;

use serde::Deserialize;

use crate::config::{ConfigError, IfAddress, NetworkConfig, NetworkMode};

/// The folder of the data directory that holds networkd files.
pub const NETWORK_DIR: &str = "network";
/// The file a static address is written to.
pub const NETWORK_FILE: &str = "10-pbxgate.network";

/// What the box's network should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkPlan {
    /// The image's own DHCP on every wired port: no file of pbxgate's.
    Dhcp,
    Static(StaticAddress),
}

/// A static address on one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticAddress {
    pub interface: String,
    pub address: IfAddress,
    pub gateway: Option<IpAddr>,
    pub dns: Vec<IpAddr>,
}

impl NetworkPlan {
    /// `[network]` (checked by `Config::validate`) with the interface
    /// defaulted to `board_interface`, the board's first network interface.
    pub fn resolve(
        config: &NetworkConfig,
        board_interface: Option<&str>,
    ) -> Result<NetworkPlan, ConfigError> {
        if config.mode == NetworkMode::Dhcp {
            return Ok(NetworkPlan::Dhcp);
        }
        let address = config.if_address().ok_or_else(|| {
            ConfigError::invalid(
                "network.address",
                "needed when mode is \"static\" (an address with a prefix length, like 192.168.1.50/24)",
            )
        })?;
        let interface = match (&config.interface, board_interface) {
            (Some(name), _) => name.clone(),
            (None, Some(name)) => name.to_string(),
            (None, None) => {
                return Err(ConfigError::invalid(
                    "network.interface",
                    "not set and no board selected; set interface = \"eth0\" (the System page lists the box's interfaces)",
                ))
            }
        };
        let ip = |field: String, text: &str| -> Result<IpAddr, ConfigError> {
            text.parse().map_err(|_| {
                ConfigError::invalid(field, format!("\"{text}\" is not an IP address"))
            })
        };
        let gateway = match &config.gateway {
            Some(text) => Some(ip("network.gateway".into(), text)?),
            None => None,
        };
        let dns = config
            .dns
            .iter()
            .enumerate()
            .map(|(i, text)| ip(format!("network.dns[{i}]"), text))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(NetworkPlan::Static(StaticAddress {
            interface,
            address,
            gateway,
            dns,
        }))
    }

    /// The file's content; None for DHCP (the file is removed).
    pub fn file(&self) -> Option<String> {
        match self {
            NetworkPlan::Dhcp => None,
            NetworkPlan::Static(s) => Some(render(s)),
        }
    }

    /// One line for the log and the start banner.
    pub fn summary(&self) -> String {
        match self {
            NetworkPlan::Dhcp => "DHCP on every wired port".into(),
            NetworkPlan::Static(s) => {
                let mut out = format!("static {} on {}", s.address, s.interface);
                if let Some(g) = s.gateway {
                    let _ = write!(out, ", gateway {g}");
                }
                if !s.dns.is_empty() {
                    let list: Vec<String> = s.dns.iter().map(IpAddr::to_string).collect();
                    let _ = write!(out, ", DNS {}", list.join(" "));
                }
                out
            }
        }
    }
}

/// A static address as a systemd-networkd `.network` file. Every value
/// was parsed (addresses are written in their canonical form; the
/// interface name has no space, glob or line break), so nothing in it can
/// reach another key.
pub fn render(s: &StaticAddress) -> String {
    let mut out = String::from(
        "# Written by pbxgate from [network] in its configuration (mode = \"static\").\n\
         # pbxgate replaces it at every save of [network] and removes it for DHCP:\n\
         # change the configuration (the web page's Network page), not this file.\n",
    );
    let _ = write!(out, "[Match]\nName={}\n\n[Network]\nDHCP=no\n", s.interface);
    let _ = writeln!(out, "Address={}", s.address);
    if let Some(g) = s.gateway {
        let _ = writeln!(out, "Gateway={g}");
    }
    for d in &s.dns {
        let _ = writeln!(out, "DNS={d}");
    }
    out
}

/// `valid_life_time` of an address that never expires.
pub const FOREVER: u64 = 4_294_967_295;

/// Where an address comes from, as its lifetime tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressOrigin {
    /// Valid forever: configured (a static address, loopback).
    Static,
    /// A finite lifetime: a DHCP lease (or an IPv6 address from a router's
    /// advertisement, which lasts as a lease does).
    Dhcp,
    /// Link scope: fe80::/10 or 169.254/16, made by the host itself.
    LinkLocal,
}

impl AddressOrigin {
    pub fn name(self) -> &'static str {
        match self {
            AddressOrigin::Static => "static",
            AddressOrigin::Dhcp => "dhcp",
            AddressOrigin::LinkLocal => "link-local",
        }
    }
}

/// One address of an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceAddress {
    pub address: IpAddr,
    pub prefix: u8,
    /// None when `ip` did not say (no lifetime given).
    pub origin: Option<AddressOrigin>,
    /// Seconds the address stays valid; None for forever.
    pub valid_s: Option<u64>,
}

/// An interface and its addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    /// The kernel's operational state: "UP", "DOWN", "UNKNOWN" (loopback).
    pub state: String,
    pub addresses: Vec<InterfaceAddress>,
}

#[derive(Deserialize)]
struct IpLink {
    ifname: String,
    #[serde(default)]
    operstate: Option<String>,
    #[serde(default)]
    addr_info: Vec<IpAddrInfo>,
}

#[derive(Deserialize)]
struct IpAddrInfo {
    #[serde(default)]
    local: Option<String>,
    #[serde(default)]
    prefixlen: Option<u8>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    valid_life_time: Option<u64>,
}

/// Reads the output of `ip -j addr show`. Entries `ip` prints without an
/// address (a link's bare addr_info) are skipped.
pub fn parse_ip_addr(json: &str) -> Result<Vec<Interface>, String> {
    let links: Vec<IpLink> = serde_json::from_str(json)
        .map_err(|e| format!("the output of `ip -j addr show` does not read: {e}"))?;
    Ok(links
        .into_iter()
        .map(|l| Interface {
            name: l.ifname,
            state: l.operstate.unwrap_or_default(),
            addresses: l
                .addr_info
                .into_iter()
                .filter_map(|a| {
                    let address: IpAddr = a.local.as_deref()?.parse().ok()?;
                    let origin = match (a.scope.as_deref(), a.valid_life_time) {
                        (Some("link"), _) => Some(AddressOrigin::LinkLocal),
                        (_, Some(FOREVER)) => Some(AddressOrigin::Static),
                        (_, Some(_)) => Some(AddressOrigin::Dhcp),
                        (_, None) => None,
                    };
                    Some(InterfaceAddress {
                        address,
                        prefix: a
                            .prefixlen
                            .unwrap_or(if address.is_ipv4() { 32 } else { 128 }),
                        origin,
                        valid_s: a.valid_life_time.filter(|&t| t != FOREVER),
                    })
                })
                .collect(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn network(toml: &str) -> NetworkConfig {
        Config::from_toml(&format!("[network]\n{toml}"))
            .unwrap_or_else(|e| panic!("{e}"))
            .network
    }

    #[test]
    fn dhcp_is_no_file() {
        let plan = NetworkPlan::resolve(&network("mode = \"dhcp\"\n"), Some("eth0")).unwrap();
        assert_eq!(plan, NetworkPlan::Dhcp);
        assert_eq!(plan.file(), None);
        // What a static address would need is kept, but not written.
        let kept = network("mode = \"dhcp\"\naddress = \"10.0.0.5/24\"\ninterface = \"eth1\"\n");
        assert_eq!(NetworkPlan::resolve(&kept, None).unwrap().file(), None);
    }

    #[test]
    fn a_static_address_is_rendered_for_networkd() {
        let c = network(
            "mode = \"static\"\ninterface = \"enp1s0\"\naddress = \"192.168.1.50/24\"\n\
             gateway = \"192.168.1.1\"\ndns = [\"192.168.1.1\", \"2001:DB8:0::53\"]\n",
        );
        let plan = NetworkPlan::resolve(&c, Some("eth0")).unwrap();
        let file = plan.file().unwrap();
        let body: Vec<&str> = file.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            body,
            [
                "[Match]",
                "Name=enp1s0",
                "",
                "[Network]",
                "DHCP=no",
                "Address=192.168.1.50/24",
                "Gateway=192.168.1.1",
                "DNS=192.168.1.1",
                // Canonical form, as parsed.
                "DNS=2001:db8::53",
            ]
        );
        assert!(file.starts_with("# Written by pbxgate"), "{file}");
        assert_eq!(
            plan.summary(),
            "static 192.168.1.50/24 on enp1s0, gateway 192.168.1.1, DNS 192.168.1.1 2001:db8::53"
        );
    }

    #[test]
    fn without_gateway_or_dns_only_the_address() {
        let c = network("mode = \"static\"\naddress = \"2001:db8::50/64\"\n");
        let file = NetworkPlan::resolve(&c, Some("eth0"))
            .unwrap()
            .file()
            .unwrap();
        assert!(
            file.contains("Name=eth0\n"),
            "the board's interface: {file}"
        );
        assert!(
            file.ends_with("[Network]\nDHCP=no\nAddress=2001:db8::50/64\n"),
            "{file}"
        );
        assert!(
            !file.contains("Gateway=") && !file.contains("DNS="),
            "{file}"
        );
    }

    #[test]
    fn the_interface_defaults_to_the_board_s_else_it_is_needed() {
        let c = network("mode = \"static\"\naddress = \"10.0.0.5/24\"\n");
        match NetworkPlan::resolve(&c, Some("enp1s0")).unwrap() {
            NetworkPlan::Static(s) => assert_eq!(s.interface, "enp1s0"),
            other => panic!("{other:?}"),
        }
        let e = NetworkPlan::resolve(&c, None).unwrap_err().to_string();
        assert!(
            e.starts_with("network.interface: not set and no board selected; set interface = "),
            "{e}"
        );
        // The file's own interface wins over the board's.
        let c = network("mode = \"static\"\naddress = \"10.0.0.5/24\"\ninterface = \"eth1\"\n");
        match NetworkPlan::resolve(&c, Some("eth0")).unwrap() {
            NetworkPlan::Static(s) => assert_eq!(s.interface, "eth1"),
            other => panic!("{other:?}"),
        }
    }

    /// As iproute2 6.1 prints it (Debian bookworm, the image's): loopback,
    /// a port with a DHCP lease, IPv6 by router advertisement and
    /// link-local, a port with a static address, a port that is down.
    const IP_J: &str = r#"[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host","label":"lo","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"::1","prefixlen":128,"scope":"host","valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":2,"ifname":"enp0s2","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"fq_codel","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"52:54:00:12:34:56","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet","local":"10.0.2.15","prefixlen":24,"metric":1024,"broadcast":"10.0.2.255","scope":"global","dynamic":true,"label":"enp0s2","valid_life_time":86397,"preferred_life_time":86397},{"family":"inet6","local":"fec0::5054:ff:fe12:3456","prefixlen":64,"scope":"site","dynamic":true,"mngtmpaddr":true,"noprefixroute":true,"valid_life_time":86394,"preferred_life_time":14394},{"family":"inet6","local":"fe80::5054:ff:fe12:3456","prefixlen":64,"scope":"link","valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":3,"ifname":"enp0s3","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"operstate":"UP","addr_info":[{"family":"inet","local":"192.168.1.50","prefixlen":24,"broadcast":"192.168.1.255","scope":"global","label":"enp0s3","valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":4,"ifname":"enp0s4","flags":["BROADCAST","MULTICAST"],"operstate":"DOWN","addr_info":[]}]"#;

    #[test]
    fn ip_s_json_tells_static_from_dhcp() {
        let list = parse_ip_addr(IP_J).unwrap();
        let names: Vec<&str> = list.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["lo", "enp0s2", "enp0s3", "enp0s4"]);
        let row = |i: &Interface| -> Vec<String> {
            i.addresses
                .iter()
                .map(|a| {
                    format!(
                        "{}/{} {} {:?}",
                        a.address,
                        a.prefix,
                        a.origin.map_or("?", AddressOrigin::name),
                        a.valid_s
                    )
                })
                .collect()
        };
        assert_eq!(
            row(&list[0]),
            ["127.0.0.1/8 static None", "::1/128 static None"]
        );
        assert_eq!(
            row(&list[1]),
            [
                "10.0.2.15/24 dhcp Some(86397)",
                "fec0::5054:ff:fe12:3456/64 dhcp Some(86394)",
                "fe80::5054:ff:fe12:3456/64 link-local None",
            ]
        );
        assert_eq!(row(&list[2]), ["192.168.1.50/24 static None"]);
        assert_eq!(
            (list[3].state.as_str(), list[3].addresses.len()),
            ("DOWN", 0)
        );
        assert_eq!(list[1].state, "UP");
    }

    #[test]
    fn output_that_does_not_read_is_an_error_not_a_panic() {
        for bad in [
            "",
            "not json",
            "{\"ifname\": \"x\"}",
            "[{\"addr_info\": []}]",
        ] {
            let e = parse_ip_addr(bad).unwrap_err();
            assert!(
                e.starts_with("the output of `ip -j addr show` does not read"),
                "{e}"
            );
        }
        // An address that is not one is skipped, not fatal.
        let list = parse_ip_addr(
            r#"[{"ifname":"x","addr_info":[{"local":"nope","prefixlen":8},{"local":"10.0.0.1"}]}]"#,
        )
        .unwrap();
        assert_eq!(list[0].addresses.len(), 1);
        assert_eq!(list[0].addresses[0].prefix, 32);
        assert_eq!(list[0].addresses[0].origin, None);
    }
}
