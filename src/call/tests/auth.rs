//! A target that challenges (401/407): the INVITE goes again with the
//! route target's credentials, once; a second challenge fails the call.

use super::*;
use crate::sip::auth::{Algorithm, Credentials, DigestServer, DigestVerdict, ServerConfig};
use crate::sip::message::Method;
use crate::test_support::{udp, GATEWAY_LAN};

/// A trunk on the WAN side that wants digest credentials.
const TRUNK: &str = "198.51.100.20:5060";
const REALM: &str = "trunk.example";

/// A core with an outbound route from the PBX to the trunk, with the
/// trunk's credentials `pbxgate` / `s3cret`.
fn outbound() -> TestCore {
    Setup::new(&format!(
        "[calls]\n{PASSTHROUGH}\n[[route]]\nname='out'\nfrom='lan'\n\
         targets=[{{ uri='sip:+18885551234@{TRUNK}', username='pbxgate', password='s3cret' }}]\n"
    ))
    .start()
}

/// The PBX's call out; the INVITE that reaches the trunk.
fn call_out(gw: &mut TestCore) -> Sent {
    let invite = request(
        "INVITE",
        PBX2,
        &format!("sip:+18885551234@{GATEWAY_LAN}"),
        "pbx-call-1",
        "",
        Some(&pbx_sdp()),
    );
    gw.receive(&invite, lan(PBX2)).one(TRUNK, "INVITE").clone()
}

/// The header a challenge of `status` comes in, and the one answering it.
fn headers(status: u16) -> (HeaderName, HeaderName) {
    match status {
        407 => (
            HeaderName::ProxyAuthenticate,
            HeaderName::ProxyAuthorization,
        ),
        _ => (HeaderName::WwwAuthenticate, HeaderName::Authorization),
    }
}

/// The trunk's challenge (`status`) to `invite`.
fn challenge(trunk: &mut DigestServer, invite: &Sent, status: u16) -> Response {
    let c = trunk.challenge(REALM, 0, false, Algorithm::Md5);
    let mut r = answer(invite, status, "trunk", None);
    r.headers.push(headers(status).0, c.to_header_value());
    r
}

/// The trunk challenges `invite`; the INVITE the core sends again.
fn challenged(gw: &mut TestCore, trunk: &mut DigestServer, invite: &Sent, status: u16) -> Sent {
    let out = gw.receive(&challenge(trunk, invite, status), udp(0, TRUNK));
    // RFC 3261 §17.1.1.3: the challenge is ACKed; the PBX hears nothing.
    out.one(TRUNK, "ACK");
    assert_eq!(out.count(PBX2, ""), 0, "{out:?}");
    out.one(TRUNK, "INVITE").clone()
}

/// What the trunk makes of the credentials `invite` carries for a
/// challenge of `status`.
fn verify(trunk: &mut DigestServer, invite: &Sent, status: u16) -> DigestVerdict {
    let value = invite
        .header(&headers(status).1)
        .unwrap_or_else(|| panic!("no credentials: {}", invite.line));
    let creds = Credentials::parse(value).expect("credentials");
    let password = |user: &str| (user == "pbxgate").then(|| "s3cret".to_string());
    let uri = &invite.request().uri;
    trunk.verify(&creds, REALM, &Method::Invite, uri, password, 0)
}

#[test]
fn a_407_is_answered_with_the_route_targets_credentials() {
    let mut gw = outbound();
    let mut trunk = DigestServer::new([9; 32], ServerConfig::default());
    let first = call_out(&mut gw);
    assert_eq!(first.header(&HeaderName::ProxyAuthorization), None);
    let again = challenged(&mut gw, &mut trunk, &first, 407);
    let ok = DigestVerdict::Ok {
        username: "pbxgate".into(),
    };
    assert_eq!(verify(&mut trunk, &again, 407), ok);
    // The same dialog, the next CSeq, a new transaction.
    let (h0, h1) = (&first.request().headers, &again.request().headers);
    assert_eq!(h1.call_id(), h0.call_id());
    assert_eq!(h1.from_tag(), h0.from_tag());
    assert_eq!(h1.cseq().unwrap().seq, h0.cseq().unwrap().seq + 1);
    assert_ne!(
        h1.top_via().unwrap().branch(),
        h0.top_via().unwrap().branch()
    );

    let out = gw.receive(
        &answer(&again, 200, "trunk", Some(&cloud_sdp())),
        udp(0, TRUNK),
    );
    out.one(PBX2, "SIP/2.0 200");
}

#[test]
fn a_second_challenge_after_credentials_fails_the_call_with_403() {
    let mut gw = outbound();
    let mut trunk = DigestServer::new([9; 32], ServerConfig::default());
    let first = call_out(&mut gw);
    let again = challenged(&mut gw, &mut trunk, &first, 401);
    assert!(matches!(
        verify(&mut trunk, &again, 401),
        DigestVerdict::Ok { .. }
    ));
    // Refused all the same (a fresh nonce, not stale): no third try.
    let out = gw.receive(&challenge(&mut trunk, &again, 401), udp(0, TRUNK));
    assert_eq!(out.count(TRUNK, "INVITE"), 0, "{out:?}");
    let refused = out.one(PBX2, "SIP/2.0 403");
    assert_eq!(
        refused.line,
        "SIP/2.0 403 Forbidden (the target asks for credentials the route does not have)"
    );
}
