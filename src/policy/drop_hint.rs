//! What an admin can do about a source a listener dropped: the advice at
//! the end of a drop log line.

use std::net::IpAddr;

use super::DenyReason;
use crate::config::Side;

/// What the hint is about besides the reason and the source.
#[derive(Clone, Copy, Debug)]
pub struct HintContext<'a> {
    /// The listener that dropped the packet.
    pub listener: &'a str,
    pub side: Side,
    /// The first LAN listener (name, port): where a PBX trunk belongs.
    pub lan: Option<(&'a str, u16)>,
    /// The source is in the listener's allow list, or a peer the gateway
    /// contacted.
    pub listed: bool,
}

/// One sentence for the admin. Only the source address and configured
/// names go into it, nothing a peer sent.
pub fn drop_hint(reason: DenyReason, source: IpAddr, ctx: &HintContext) -> String {
    let l = ctx.listener;
    match reason {
        DenyReason::NotAllowed if ctx.side == Side::Wan && is_local(source) => match ctx.lan {
            Some((lan, port)) => format!(
                "a PBX trunk pointed at the WAN port? PBX trunks belong on the {lan} listener, port {port}"
            ),
            None => "a PBX trunk pointed at the WAN port? PBX trunks belong on a listener with side = \"lan\"".into(),
        },
        DenyReason::NotAllowed => format!(
            "to admit it, add \"{source}\" (or its network) to allow = [...] under the {l} listener"
        ),
        DenyReason::RateLimited if ctx.listed => format!(
            "a listed source over rate_per_s_listed: if it really sends this much, raise rate_per_s_listed (and burst_listed) under the {l} listener"
        ),
        DenyReason::RateLimited => format!(
            "over rate_per_s for sources not in allow: a flood, or a peer that belongs in allow = [...] under the {l} listener (listed sources get rate_per_s_listed)"
        ),
    }
}

/// Addresses a PBX on the customer's network has: RFC 1918 private and
/// RFC 3927 link-local IPv4, RFC 4193 unique-local and link-local IPv6.
fn is_local(ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(reason: DenyReason, source: &str, side: Side, listed: bool) -> String {
        let ctx = HintContext {
            listener: if side == Side::Wan { "wan" } else { "lan" },
            side,
            lan: Some(("lan", 5080)),
            listed,
        };
        drop_hint(reason, source.parse().unwrap(), &ctx)
    }

    #[test]
    fn each_case_says_what_to_do() {
        use DenyReason::*;
        let pbx = "PBX trunks belong on the lan listener, port 5080";
        let rows: &[(DenyReason, &str, Side, bool, &str)] = &[
            (NotAllowed, "192.168.1.10", Side::Wan, false, pbx),
            (NotAllowed, "10.0.0.5", Side::Wan, false, pbx),
            (NotAllowed, "172.31.255.1", Side::Wan, false, pbx),
            (NotAllowed, "::ffff:172.16.0.1", Side::Wan, false, pbx),
            (NotAllowed, "fd12:3456::1", Side::Wan, false, pbx),
            (NotAllowed, "fe80::1", Side::Wan, false, pbx),
            (
                NotAllowed,
                "172.32.0.1",
                Side::Wan,
                false,
                "add \"172.32.0.1\" (or its network) to allow = [...] under the wan listener",
            ),
            (
                NotAllowed,
                "2001:db8::7",
                Side::Wan,
                false,
                "add \"2001:db8::7\" (or its network)",
            ),
            (
                NotAllowed,
                "203.0.113.4",
                Side::Lan,
                false,
                "under the lan listener",
            ),
            (
                RateLimited,
                "198.51.100.7",
                Side::Wan,
                true,
                "raise rate_per_s_listed (and burst_listed) under the wan listener",
            ),
            (
                RateLimited,
                "203.0.113.4",
                Side::Wan,
                false,
                "over rate_per_s for sources not in allow",
            ),
        ];
        for (reason, source, side, listed, expected) in rows {
            let h = hint(*reason, source, *side, *listed);
            assert!(h.contains(expected), "{source}: {h}");
        }
    }

    #[test]
    fn without_a_lan_listener_the_side_is_named() {
        let ctx = HintContext {
            listener: "wan",
            side: Side::Wan,
            lan: None,
            listed: false,
        };
        let h = drop_hint(
            DenyReason::NotAllowed,
            "192.168.1.10".parse().unwrap(),
            &ctx,
        );
        assert!(h.contains("side = \"lan\""), "{h}");
    }
}
