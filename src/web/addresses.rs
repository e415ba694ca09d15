//! The box's addresses for the System page and `GET
//! /api/v1/system/network`: per interface, each address and whether it is
//! static or from DHCP, read from `ip -j addr show` (iproute2, in the
//! image). Without `ip` the addresses come from the OS (getifaddrs) and
//! the answer says that where they come from is not known.

use std::ffi::CStr;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;

use serde_json::{json, Value};

use crate::app::network::{parse_ip_addr, AddressOrigin, Interface, InterfaceAddress};
use crate::web::html::esc;

/// Where `ip` is looked for: the PATH first (the appliance's unit has
/// the sbin folders in it), then where distributions put it (a user's
/// PATH on Debian has no sbin).
pub const IP_PROGRAMS: &[&str] = &["ip", "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"];

/// The interfaces and their addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addresses {
    pub interfaces: Vec<Interface>,
    /// Why static and DHCP cannot be told apart here (no `ip`, or it
    /// failed); None when `ip` answered.
    pub unavailable: Option<String>,
}

/// Reads the addresses on the blocking pool (`ip` is a process).
pub async fn read() -> Addresses {
    smol::unblock(|| read_with(IP_PROGRAMS)).await
}

/// Runs the first of `programs` that exists as `ip -j addr show`.
pub fn read_with(programs: &[&str]) -> Addresses {
    let mut why = format!(
        "ip (iproute2) is not installed here ({} not found): whether each address is static or from DHCP is not known",
        programs.first().copied().unwrap_or("ip")
    );
    for program in programs {
        match Command::new(program).args(["-j", "addr", "show"]).output() {
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => {
                why = format!("{program} -j addr show could not run: {e}");
                break;
            }
            Ok(out) if !out.status.success() => {
                why = format!(
                    "{program} -j addr show failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                break;
            }
            Ok(out) => match parse_ip_addr(&String::from_utf8_lossy(&out.stdout)) {
                Ok(interfaces) => {
                    return Addresses {
                        interfaces,
                        unavailable: None,
                    }
                }
                Err(e) => {
                    why = e;
                    break;
                }
            },
        }
    }
    Addresses {
        interfaces: from_os(),
        unavailable: Some(why),
    }
}

impl Addresses {
    /// For the API: `{"interfaces": [{"name", "state", "addresses":
    /// [{"address", "prefix_len", "origin", "valid_s"}]}], "unavailable"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "interfaces": self.interfaces.iter().map(|i| json!({
                "name": i.name,
                "state": i.state,
                "addresses": i.addresses.iter().map(address_json).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "unavailable": self.unavailable,
        })
    }

    /// Every address, one row each: `(interface, address)`.
    pub fn flat(&self) -> impl Iterator<Item = (&str, &InterfaceAddress)> {
        self.interfaces
            .iter()
            .flat_map(|i| i.addresses.iter().map(move |a| (i.name.as_str(), a)))
    }

    /// The System page's table (`table#addresses`, a row per address with
    /// `data-origin`), and `#addresses-unavailable` when `ip` did not answer.
    pub fn html(&self, configured: &str) -> String {
        let mut s = format!(
            r#"<section id="network"><h2>Network addresses</h2><p id="network-configured">Configured: {} (the <a href="/config/network">Network</a> page).</p>"#,
            esc(configured)
        );
        if let Some(why) = &self.unavailable {
            s.push_str(&format!(
                r#"<p class="notice" id="addresses-unavailable">{}</p>"#,
                esc(why)
            ));
        }
        s.push_str(
            r#"<table id="addresses"><thead><tr><th>Interface</th><th>Address</th><th>From</th><th>Valid for</th></tr></thead><tbody>"#,
        );
        for (name, a) in self.flat() {
            let origin = a.origin.map_or("", AddressOrigin::name);
            let shown = match a.origin {
                Some(AddressOrigin::Static) => "static",
                Some(AddressOrigin::Dhcp) => "DHCP",
                Some(AddressOrigin::LinkLocal) => "link-local",
                None => "not known",
            };
            let valid = match a.valid_s {
                Some(s) => format!("{s} s"),
                None if a.origin.is_some() => "forever".into(),
                None => String::new(),
            };
            s.push_str(&format!(
                r#"<tr data-origin="{origin}"><td>{}</td><td>{}/{}</td><td>{shown}</td><td>{valid}</td></tr>"#,
                esc(name),
                esc(&a.address.to_string()),
                a.prefix
            ));
        }
        s.push_str("</tbody></table></section>");
        s
    }
}

fn address_json(a: &InterfaceAddress) -> Value {
    json!({
        "address": a.address.to_string(),
        "prefix_len": a.prefix,
        "origin": a.origin.map(AddressOrigin::name),
        "valid_s": a.valid_s,
    })
}

/// The interfaces and addresses the OS reports (getifaddrs), in its order,
/// where they come from not known.
pub fn from_os() -> Vec<Interface> {
    let mut out: Vec<Interface> = Vec::new();
    for (name, address, prefix) in host_addresses() {
        let a = InterfaceAddress {
            address,
            prefix,
            origin: None,
            valid_s: None,
        };
        match out.iter_mut().find(|i| i.name == name) {
            Some(i) => i.addresses.push(a),
            None => out.push(Interface {
                name,
                state: String::new(),
                addresses: vec![a],
            }),
        }
    }
    out
}

/// The host's interfaces, addresses and prefix lengths, from the OS
/// (getifaddrs).
pub fn host_addresses() -> Vec<(String, IpAddr, u8)> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes the head of a list it allocates; it is
    // freed below with freeifaddrs and not used after.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut p = head;
    while !p.is_null() {
        // SAFETY: p is a node of the list getifaddrs made, not yet freed.
        let ifa = unsafe { &*p };
        p = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string of the list, and
        // ifa_addr points to a sockaddr whose family says its real type.
        let (name, family) = unsafe {
            (
                CStr::from_ptr(ifa.ifa_name).to_string_lossy().into_owned(),
                i32::from((*ifa.ifa_addr).sa_family),
            )
        };
        let mask = ifa.ifa_netmask;
        let (addr, prefix) = match family {
            libc::AF_INET => {
                // SAFETY: AF_INET: the sockaddr is a sockaddr_in, and so
                // is the netmask when there is one.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                let bits = if mask.is_null() {
                    32
                } else {
                    // SAFETY: as above, a sockaddr_in of the same node.
                    let m = unsafe { &*(mask as *const libc::sockaddr_in) };
                    u32::from_be(m.sin_addr.s_addr).count_ones()
                };
                (
                    IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))),
                    bits,
                )
            }
            libc::AF_INET6 => {
                // SAFETY: AF_INET6: the sockaddr is a sockaddr_in6, and so
                // is the netmask when there is one.
                let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                let bits = if mask.is_null() {
                    128
                } else {
                    // SAFETY: as above, a sockaddr_in6 of the same node.
                    let m = unsafe { &*(mask as *const libc::sockaddr_in6) };
                    u128::from_be_bytes(m.sin6_addr.s6_addr).count_ones()
                };
                (IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)), bits)
            }
            _ => continue,
        };
        out.push((name, addr, u8::try_from(prefix).unwrap_or(128)));
    }
    // SAFETY: head came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_ip_the_os_addresses_are_listed_and_the_page_says_why() {
        let a = read_with(&["/nonexistent/pbxgate-test/ip"]);
        let why = a.unavailable.clone().expect("unavailable");
        assert!(
            why.starts_with(
                "ip (iproute2) is not installed here (/nonexistent/pbxgate-test/ip not found)"
            ),
            "{why}"
        );
        let lo = a
            .flat()
            .find(|(_, x)| x.address == IpAddr::V4(Ipv4Addr::LOCALHOST))
            .map(|(_, x)| x.clone())
            .expect("127.0.0.1 from the OS");
        assert_eq!((lo.prefix, lo.origin), (8, None));
        let html = a.html("DHCP on every wired port");
        assert!(
            html.contains(
                r#"<p class="notice" id="addresses-unavailable">ip (iproute2) is not installed"#
            ),
            "{html}"
        );
        assert!(html.contains(r#"<tr data-origin=""><td>lo</td><td>127.0.0.1/8</td><td>not known</td><td></td></tr>"#), "{html}");
        assert!(html.contains("Configured: DHCP on every wired port"));
        let j = a.to_json();
        assert!(j["unavailable"]
            .as_str()
            .unwrap()
            .starts_with("ip (iproute2)"));
    }

    #[test]
    fn a_program_that_fails_is_named() {
        // `false` exists and exits 1 without output.
        let a = read_with(&["false"]);
        let why = a.unavailable.expect("unavailable");
        assert!(why.starts_with("false -j addr show failed ("), "{why}");
    }

    /// On a host with iproute2 (the test machines, the image): loopback
    /// is static, valid forever.
    #[test]
    fn ip_tells_loopback_is_static() {
        let a = read_with(IP_PROGRAMS);
        if let Some(why) = &a.unavailable {
            assert!(
                why.starts_with("ip (iproute2) is not installed here"),
                "{why}"
            );
            return;
        }
        let lo = a
            .flat()
            .find(|(_, x)| x.address == IpAddr::V4(Ipv4Addr::LOCALHOST))
            .map(|(_, x)| x.clone())
            .expect("127.0.0.1");
        assert_eq!(
            (lo.prefix, lo.origin, lo.valid_s),
            (8, Some(AddressOrigin::Static), None)
        );
        let j = a.to_json();
        let lo = j["interfaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == "lo")
            .expect("lo");
        assert_eq!(lo["addresses"][0]["origin"], "static");
        assert_eq!(lo["addresses"][0]["prefix_len"], 8);
        assert!(a
            .html("x")
            .contains(r#"<tr data-origin="static"><td>lo</td><td>127.0.0.1/8</td><td>static</td><td>forever</td></tr>"#));
    }
}
