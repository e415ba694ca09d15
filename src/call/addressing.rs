//! Where calls go and which of the gateway's addresses they use: the
//! listener a call leaves on (the other side from where it came in), the
//! address peers see there (public address behind NAT), and the address of
//! a target host (names resolved by the shell's DNS).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use tracing::info;

use crate::config::Side;
use crate::sip::message::{Host, SipUri};
use crate::sip::transport::{ListenerId, Transport};

#[derive(Clone, Debug)]
pub struct ListenerInfo {
    pub name: String,
    pub side: Side,
    pub advertised: SocketAddr,
    /// Configured public address (NAT): replaces `advertised`'s IP.
    pub public: Option<IpAddr>,
    /// The TLS port, when the listener serves TLS (`tls_bind`).
    pub tls_port: Option<u16>,
    /// SRTP on the calls that arrive on the listener (its `srtp`).
    pub srtp: crate::config::SrtpMode,
}

/// Listener ids from here on are local lines (`app::lines`): each line is
/// an in-process far end with an id of its own, never a socket.
pub const LINE_LISTENER_BASE: u16 = 0xFF00;

/// A local line as a far end: where the B2BUA's requests to it go.
#[derive(Clone, Debug)]
struct LineEnd {
    name: String,
    host: String,
    info: ListenerInfo,
    /// The line's own address (its Via and Contact).
    address: SocketAddr,
}

#[derive(Debug)]
pub struct Addressing {
    /// By `ListenerId`. A listener re-bound or removed by a saved
    /// configuration keeps its place (its calls go on on it) and is
    /// retired: no new call leaves from it.
    listeners: Vec<ListenerInfo>,
    retired: Vec<bool>,
    /// Per listener, a public IP a registrar reported (NAT).
    learned_public: Vec<Option<IpAddr>>,
    /// Addresses of target hosts that are names, filled by the shell.
    resolved: HashMap<String, Vec<SocketAddr>>,
    /// By `ListenerId` minus `LINE_LISTENER_BASE`.
    lines: Vec<LineEnd>,
}

impl Addressing {
    pub fn new(listeners: Vec<ListenerInfo>) -> Addressing {
        Addressing {
            retired: vec![false; listeners.len()],
            listeners,
            learned_public: Vec::new(),
            resolved: HashMap::new(),
            lines: Vec::new(),
        }
    }

    fn info(&self, l: ListenerId) -> Option<&ListenerInfo> {
        match l.0.checked_sub(LINE_LISTENER_BASE) {
            Some(i) => self.lines.get(usize::from(i)).map(|e| &e.info),
            None => self.listeners.get(l.0 as usize),
        }
    }

    /// A local line, reached in-process at `address` (its own SIP and RTP
    /// address on the box): calls from it count as LAN calls, and the
    /// anchor's port for it is on `address`'s IP. `host` is the host of
    /// the URIs that name it.
    pub fn add_line(&mut self, name: &str, host: &str, address: SocketAddr) -> ListenerId {
        let id = ListenerId(LINE_LISTENER_BASE + self.lines.len() as u16);
        self.lines.push(LineEnd {
            name: name.to_string(),
            host: host.to_ascii_lowercase(),
            info: ListenerInfo {
                name: format!("line:{name}"),
                side: Side::Lan,
                advertised: SocketAddr::new(address.ip(), 5060),
                public: None,
                tls_port: None,
                srtp: crate::config::SrtpMode::Off,
            },
            address,
        });
        id
    }

    /// The line listener `l` stands for, by name.
    pub fn line_of(&self, l: ListenerId) -> Option<&str> {
        let i = l.0.checked_sub(LINE_LISTENER_BASE)?;
        self.lines.get(usize::from(i)).map(|e| e.name.as_str())
    }

    /// A target URI that names a line (`NAME.line.invalid`): its listener
    /// and address.
    pub fn line_target(&self, uri: &SipUri) -> Option<(ListenerId, SocketAddr)> {
        let Host::Domain(host) = &uri.host else {
            return None;
        };
        let host = host.to_ascii_lowercase();
        self.lines.iter().enumerate().find_map(|(i, e)| {
            (e.host == host).then(|| (ListenerId(LINE_LISTENER_BASE + i as u16), e.address))
        })
    }

    /// The side listener `l` faces (an unknown one counts as WAN: trusted
    /// least).
    /// The `srtp` setting of listener `l`, for the calls arriving on it.
    pub fn srtp_of(&self, l: ListenerId) -> crate::config::SrtpMode {
        self.info(l).map(|i| i.srtp).unwrap_or_default()
    }

    pub fn side_of(&self, l: ListenerId) -> Side {
        self.info(l).map(|i| i.side).unwrap_or(Side::Wan)
    }

    /// Our address on listener `l` as peers see it: the configured public
    /// address, else one a registrar reported, else the bound one.
    pub fn advertised(&self, l: ListenerId) -> SocketAddr {
        let Some(info) = self.info(l) else {
            return SocketAddr::from(([127, 0, 0, 1], 5060));
        };
        let learned = self.learned_public.get(l.0 as usize).copied().flatten();
        match info.public.or(learned) {
            Some(ip) => SocketAddr::new(ip, info.advertised.port()),
            None => info.advertised,
        }
    }

    /// `advertised`, with the TLS port for a TLS leg: Via and Contact of a
    /// TLS leg name the address TLS is served on.
    pub fn advertised_for(&self, l: ListenerId, transport: Transport) -> SocketAddr {
        let a = self.advertised(l);
        match (transport, self.info(l).and_then(|i| i.tls_port)) {
            (Transport::Tls, Some(port)) => SocketAddr::new(a.ip(), port),
            _ => a,
        }
    }

    /// The public IP a registrar reported for listener `l` (None: forget
    /// it). New calls on that listener advertise it; calls under way keep
    /// what they were set up with.
    pub fn set_learned_public(&mut self, l: ListenerId, ip: Option<IpAddr>) {
        let i = l.0 as usize;
        // The address we are bound to is no news: not behind NAT.
        let ip = ip.filter(|ip| {
            !ip.is_unspecified()
                && self
                    .listeners
                    .get(i)
                    .is_some_and(|x| x.advertised.ip() != *ip)
        });
        if self.learned_public.len() <= i {
            self.learned_public.resize(i + 1, None);
        }
        if self.learned_public[i] != ip {
            if let (Some(ip), Some(info)) = (ip, self.listeners.get(i)) {
                if info.public.is_none() {
                    info!(listener = %info.name, address = %ip, "calls on this listener now advertise the public address the registrar reports");
                }
            }
            self.learned_public[i] = ip;
        }
    }

    /// A listener bound after start (a saved configuration added it or
    /// moved it to a new address): its id is the next free one.
    pub fn add(&mut self, info: ListenerInfo) -> ListenerId {
        self.listeners.push(info);
        self.retired.push(false);
        ListenerId((self.listeners.len() - 1) as u16)
    }

    /// No new call leaves from `l`; calls on it go on.
    pub fn retire(&mut self, l: ListenerId) {
        if let Some(r) = self.retired.get_mut(l.0 as usize) {
            *r = true;
        }
    }

    /// The listener a call that came in on `caller_side` leaves from: the
    /// other side, of the same IP family as the destination when possible.
    pub fn listener_for(&self, caller_side: Side, dest: IpAddr) -> Option<ListenerId> {
        let other = match caller_side {
            Side::Wan => Side::Lan,
            Side::Lan => Side::Wan,
        };
        let candidates = || {
            self.listeners.iter().enumerate().filter(move |(i, l)| {
                l.side == other && !self.retired.get(*i).copied().unwrap_or(false)
            })
        };
        candidates()
            .find(|(_, l)| l.advertised.is_ipv4() == dest.is_ipv4())
            .or_else(|| candidates().next())
            .map(|(i, _)| ListenerId(i as u16))
    }

    /// The listener a call from a local line leaves from: a line is on
    /// neither side, so the listener whose address shares the longest
    /// prefix with the destination (the PBX on the LAN's subnet, the cloud
    /// by the WAN's), the WAN one when that does not tell.
    pub fn listener_toward(&self, dest: IpAddr) -> Option<ListenerId> {
        let common = |a: IpAddr| match (a, dest) {
            (IpAddr::V4(a), IpAddr::V4(d)) => (u32::from(a) ^ u32::from(d)).leading_zeros(),
            (IpAddr::V6(a), IpAddr::V6(d)) => (u128::from(a) ^ u128::from(d)).leading_zeros(),
            _ => 0,
        };
        self.listeners
            .iter()
            .enumerate()
            .filter(|(i, l)| {
                !self.retired.get(*i).copied().unwrap_or(false)
                    && l.advertised.is_ipv4() == dest.is_ipv4()
            })
            .max_by_key(|(i, l)| {
                (
                    common(l.advertised.ip()),
                    l.side == Side::Wan,
                    usize::MAX - i,
                )
            })
            .map(|(i, _)| ListenerId(i as u16))
    }

    /// The addresses a target host name resolves to (from the shell's DNS).
    pub fn set_resolved(&mut self, host: &str, addrs: Vec<SocketAddr>) {
        self.resolved.insert(host.to_ascii_lowercase(), addrs);
    }

    /// Where a request to `uri` goes: its IP, or the first address its host
    /// name resolved to; None while a name is not resolved.
    #[cfg(test)]
    pub fn address_of(&self, uri: &SipUri) -> Option<SocketAddr> {
        self.address_for(uri, Transport::Udp)
    }

    /// Where a request to `uri` over `transport` goes: TLS defaults to
    /// port 5061 (RFC 3261 §26.2.2), and a name's looked-up port (for UDP)
    /// is not TLS's.
    pub fn address_for(&self, uri: &SipUri, transport: Transport) -> Option<SocketAddr> {
        let tls = transport == Transport::Tls || uri.secure;
        let port = uri.port.unwrap_or(if tls { 5061 } else { 5060 });
        match &uri.host {
            Host::Domain(n) => self
                .resolved
                .get(&n.to_ascii_lowercase())
                .and_then(|v| v.first())
                .map(|a| {
                    if uri.port.is_some() || tls {
                        SocketAddr::new(a.ip(), port)
                    } else {
                        *a
                    }
                }),
            other => other.ip().map(|ip| SocketAddr::new(ip, port)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::Uri;

    fn addressing() -> Addressing {
        let l = |name: &str, side, addr: &str, public: Option<&str>| ListenerInfo {
            name: name.into(),
            side,
            advertised: addr.parse().expect("addr"),
            public: public.map(|p| p.parse().expect("ip")),
            tls_port: None,
            srtp: Default::default(),
        };
        Addressing::new(vec![
            l("wan", Side::Wan, "192.0.2.10:5060", None),
            l("lan", Side::Lan, "10.0.0.1:5080", None),
            l("lan6", Side::Lan, "[fd00::1]:5080", None),
            l("wan-nat", Side::Wan, "10.0.0.1:5062", Some("198.51.100.20")),
        ])
    }

    fn sip(s: &str) -> SipUri {
        match Uri::parse(s) {
            Ok(Uri::Sip(u)) => u,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn calls_leave_on_the_other_side_in_the_destinations_family() {
        let mut a = addressing();
        let v4: IpAddr = "10.0.0.21".parse().expect("ip");
        let v6: IpAddr = "fd00::21".parse().expect("ip");
        assert_eq!(a.listener_for(Side::Wan, v4), Some(ListenerId(1)));
        assert_eq!(a.listener_for(Side::Wan, v6), Some(ListenerId(2)));
        assert_eq!(a.listener_for(Side::Lan, v4), Some(ListenerId(0)));
        // Moved to a new address: new calls leave from the new one.
        let moved = a.add(ListenerInfo {
            name: "lan-v4".into(),
            side: Side::Lan,
            advertised: "10.0.0.9:5080".parse().unwrap(),
            public: None,
            tls_port: None,
            srtp: Default::default(),
        });
        a.retire(ListenerId(1));
        assert_eq!(a.listener_for(Side::Wan, v4), Some(moved));
        assert_eq!(a.side_of(ListenerId(1)), Side::Lan);
        assert_eq!(
            a.side_of(ListenerId(9)),
            Side::Wan,
            "unknown: the wary side"
        );
    }

    #[test]
    fn a_lines_calls_leave_toward_the_destination_and_lines_are_found_by_host() {
        let mut a = addressing();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // lan and wan-nat are both bound on 10.0.0.1: a tie goes to the WAN.
        assert_eq!(a.listener_toward(ip("10.0.0.20")), Some(ListenerId(3)));
        a.retire(ListenerId(3));
        assert_eq!(
            a.listener_toward(ip("10.0.0.20")),
            Some(ListenerId(1)),
            "the PBX's subnet"
        );
        assert_eq!(a.listener_toward(ip("203.0.113.5")), Some(ListenerId(0)));
        assert_eq!(a.listener_toward(ip("fd00::9")), Some(ListenerId(2)));
        let l = a.add_line(
            "kitchen",
            "kitchen.line.invalid",
            "127.0.0.1:41000".parse().unwrap(),
        );
        assert_eq!(l, ListenerId(LINE_LISTENER_BASE));
        assert_eq!(a.line_of(l), Some("kitchen"));
        assert_eq!(a.side_of(l), Side::Lan);
        assert_eq!(a.advertised(l).ip(), ip("127.0.0.1"));
        assert_eq!(
            a.line_target(&sip("sip:201@Kitchen.line.invalid")),
            Some((l, "127.0.0.1:41000".parse().unwrap()))
        );
        assert_eq!(a.line_target(&sip("sip:201@kitchen.example.com")), None);
        assert_eq!(a.line_of(ListenerId(1)), None);
    }

    #[test]
    fn the_advertised_address_is_the_public_one_behind_nat() {
        let mut a = addressing();
        let at = |a: &Addressing, l: u16| a.advertised(ListenerId(l)).to_string();
        assert_eq!(at(&a, 3), "198.51.100.20:5062");
        assert_eq!(at(&a, 0), "192.0.2.10:5060");
        // What a registrar reports is used until it says otherwise; the
        // bound address or 0.0.0.0 is no news.
        for (reported, advertised) in [
            ("203.0.113.9", "203.0.113.9:5060"),
            ("192.0.2.10", "192.0.2.10:5060"),
            ("0.0.0.0", "192.0.2.10:5060"),
        ] {
            a.set_learned_public(ListenerId(0), reported.parse().ok());
            assert_eq!(at(&a, 0), advertised, "reported {reported}");
        }
    }

    #[test]
    fn names_are_found_once_the_shell_resolved_them() {
        let mut a = addressing();
        assert_eq!(
            a.address_of(&sip("sip:q@10.0.0.21")),
            Some("10.0.0.21:5060".parse().unwrap())
        );
        assert_eq!(a.address_of(&sip("sip:q@pbx.lan:5070")), None);
        a.set_resolved("PBX.lan", vec!["10.0.0.30:5062".parse().unwrap()]);
        // The URI's port wins over the resolved one (an SRV answer's).
        assert_eq!(
            a.address_of(&sip("sip:q@pbx.lan:5070")),
            Some("10.0.0.30:5070".parse().unwrap())
        );
        assert_eq!(
            a.address_of(&sip("sip:q@pbx.lan")),
            Some("10.0.0.30:5062".parse().unwrap())
        );
    }
}
