//! RFC 3261 §18.2.1 (stamping `received`) and §18.2.2 (where a response
//! goes), with RFC 3581 `rport`.

use std::net::{IpAddr, SocketAddr};

use super::Peer;
use crate::sip::message::{HeaderName, Request, Rport, Via};

/// Adds `received` to the top Via when its sent-by is not the source IP, and
/// fills an empty `rport` with the source port (RFC 3581 §4). Responses copy
/// the Via, so this is what routes them back through NATs.
pub fn stamp_received(req: &mut Request, from: &Peer) {
    let Some(top) = req.headers.values(&HeaderName::Via).next() else {
        return;
    };
    let Ok(mut via) = Via::parse(top) else {
        return;
    };
    let source_ip = from.remote.ip();
    let mut changed = false;
    if via.host.ip() != Some(source_ip) {
        via.params.set("received", Some(source_ip.to_string()));
        changed = true;
    }
    if via.rport() == Rport::Requested {
        via.params
            .set("rport", Some(from.remote.port().to_string()));
        // RFC 3581 §4: rport implies received, even when the host matched.
        via.params.set("received", Some(source_ip.to_string()));
        changed = true;
    }
    if changed {
        req.headers.remove_first_value(&HeaderName::Via);
        req.headers.push_front(HeaderName::Via, via.to_string());
    }
}

/// Where a response to a request that arrived from `from` with top Via `via`
/// goes. The IP is always the one the request came from (the `received`
/// value the gateway stamped): it never sends to a third address that a Via
/// names, so it cannot be used to reflect traffic, and `maddr` is ignored.
/// Over TCP the same connection is reused.
pub fn response_target(from: &Peer, via: Option<&Via>) -> Peer {
    if from.transport.is_reliable() {
        return *from;
    }
    let ip: IpAddr = from.remote.ip();
    let port = match via {
        None => from.remote.port(),
        Some(v) => match v.rport() {
            Rport::Value(p) => p,
            Rport::Requested => from.remote.port(),
            Rport::Absent => v.port.unwrap_or(5060),
        },
    };
    Peer {
        remote: SocketAddr::new(ip, port),
        ..*from
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{Method, Uri};
    use crate::sip::transport::{ListenerId, Transport};

    fn peer(addr: &str, t: Transport) -> Peer {
        Peer {
            listener: ListenerId(0),
            transport: t,
            remote: addr.parse().unwrap(),
            connection: None,
        }
    }

    /// The top Via of a request with `via`, after it arrived from `from`.
    fn stamped(via: &str, from: &Peer) -> Via {
        let mut r = Request::new(Method::Options, Uri::parse("sip:a@b").unwrap());
        r.headers.push(HeaderName::Via, via);
        stamp_received(&mut r, from);
        r.headers.top_via().unwrap()
    }

    #[test]
    fn stamps_received_and_rport() {
        let from = peer("127.0.0.9:40000", Transport::Udp);
        let via = stamped(
            "SIP/2.0/UDP host.example.com:5062;branch=z9hG4bKa;rport",
            &from,
        );
        assert_eq!(via.received(), Some("127.0.0.9"));
        assert_eq!(via.rport(), Rport::Value(40000));
        assert_eq!(
            response_target(&from, Some(&via)).remote,
            "127.0.0.9:40000".parse().unwrap()
        );
    }

    #[test]
    fn without_rport_uses_sent_by_port_on_source_ip() {
        let from = peer("127.0.0.9:40000", Transport::Udp);
        let via = stamped("SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKa", &from);
        assert_eq!(via.received(), Some("127.0.0.9"));
        assert_eq!(
            response_target(&from, Some(&via)).remote,
            "127.0.0.9:5070".parse().unwrap()
        );
        let via = Via::parse("SIP/2.0/UDP 127.0.0.9;branch=z9hG4bKa").unwrap();
        assert_eq!(response_target(&from, Some(&via)).remote.port(), 5060);
    }

    #[test]
    fn tcp_reuses_the_connection() {
        let mut from = peer("127.0.0.9:40000", Transport::Tcp);
        from.connection = Some(crate::sip::transport::ConnectionId(7));
        let via = Via::parse("SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bKa").unwrap();
        assert_eq!(response_target(&from, Some(&via)), from);
    }
}
