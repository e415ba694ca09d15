//! SDES-SRTP offers the caller's listener does not allow are answered 488
//! with the reason before any target is called or port taken.

use super::*;

/// The platform's INVITE with an RTP/SAVP offer (one SDES line).
fn savp_invite() -> String {
    let body = cloud_sdp().replace("RTP/AVP", "RTP/SAVP")
        + "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";
    request(
        "INVITE",
        CLOUD,
        &format!("sip:+18885550000@{GATEWAY_WAN}"),
        "cloud-srtp-1",
        "",
        Some(&body),
    )
}

/// The one final answer to the caller, and that nothing else happened.
fn refused(out: &Step) -> String {
    assert_eq!(
        out.summary().len(),
        1,
        "only the answer: {:?}",
        out.summary()
    );
    let r = out.one(CLOUD, "SIP/2.0 488").response();
    r.reason.clone()
}

#[test]
fn an_srtp_offer_on_a_listener_without_srtp_is_refused_488() {
    let mut gw = route_q("").start();
    let out = gw.receive(&savp_invite(), wan(CLOUD));
    let reason = refused(&out);
    assert!(
        reason.contains("SRTP not enabled on this listener"),
        "{reason}"
    );
}

#[test]
fn an_srtp_offer_over_udp_is_refused_even_where_srtp_is_on() {
    let mut gw = Setup::with_listeners(&format!(
        "[calls]\n[[route]]\nname='q'\ntargets=[{{ uri='sip:q1@{PBX1}' }}]\n\
         [[listener]]\nname='wan'\nside='wan'\nbind='{GATEWAY_WAN}'\nallow=['0.0.0.0/0']\n\
         transports=['udp', 'tls']\nsrtp='offer'\n\
         [[listener]]\nname='lan'\nside='lan'\nbind='10.0.0.1:5080'\nallow=['0.0.0.0/0']\n"
    ))
    .start();
    let out = gw.receive(&savp_invite(), wan(CLOUD));
    let reason = refused(&out);
    assert!(reason.contains("only over TLS"), "{reason}");
}
