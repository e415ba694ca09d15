//! Emergency calls from the PBX: past the call limit, the port range and
//! the LAN rate limit.

use super::*;
use crate::test_support::{udp, GATEWAY_LAN};

const TRUNK: &str = "198.51.100.20:5060";
const PSAP: &str = "198.51.100.30:5060";

/// Routes for calls from the PBX: ordinary ones to the trunk, emergency
/// ones to the PSAP gateway; plus route `q` for calls from the platform;
/// and `calls` (lines of `[calls]`).
fn emergency_routes(calls: &str) -> String {
    format!(
        "[calls]\n{calls}\n[emergency]\nroute = 'psap'\n\
         [[route]]\nname='q'\ntargets=[{{ uri='sip:q1@{PBX1}' }}]\n\
         [[route]]\nname='out'\nfrom='lan'\ntargets=[{{ uri='sip:trunk@{TRUNK}' }}]\n\
         [[route]]\nname='psap'\nfrom='lan'\ntargets=[{{ uri='sip:psap@{PSAP}' }}]\n"
    )
}

/// An INVITE `n` from the PBX at `pbx` to `number` (Call-ID `pbx-call-{n}`).
fn pbx_invite(number: &str, pbx: &str, n: u32, sdp: &str) -> String {
    request(
        "INVITE",
        pbx,
        &format!("sip:{number}@{GATEWAY_LAN}"),
        &format!("pbx-call-{n}"),
        "",
        Some(sdp),
    )
}

#[test]
fn at_the_call_limit_an_emergency_call_goes_out_and_an_ordinary_one_gets_503() {
    let calls = format!("{PASSTHROUGH}max_concurrent = 1\n");
    let mut gw = Setup::new(&emergency_routes(&calls)).start();
    let out = gw.receive(&cloud_invite(1), wan(CLOUD));
    assert_eq!(
        out.count(PBX1, "INVITE"),
        1,
        "the first call fills the limit"
    );
    assert_eq!(gw.active_calls(), 1);

    let out = gw.receive(&pbx_invite("5551234", PBX2, 2, &pbx_sdp()), lan(PBX2));
    assert_eq!(out.count(TRUNK, "INVITE"), 0);
    assert_eq!(
        out.count(PBX2, "SIP/2.0 503"),
        1,
        "an ordinary call over the limit is refused"
    );

    let out = gw.receive(&pbx_invite("+1-12", PBX2, 3, &pbx_sdp()), lan(PBX2));
    assert_eq!(out.count(PSAP, "INVITE"), 1, "the emergency call goes out");
    assert_eq!(out.count("", "SIP/2.0 503"), 0);
    assert_eq!(gw.active_calls(), 2, "it counts in active calls");

    let s = gw.call_stats();
    assert_eq!((s.emergency, s.rejected_busy, s.started), (1, 1, 2));
    let records = gw.call_records();
    let e = records
        .iter()
        .find(|r| r.caller_call_id == "pbx-call-3")
        .expect("record");
    assert!(e.emergency);
    assert_eq!(e.route.as_deref(), Some("psap"));
    assert!(records
        .iter()
        .filter(|r| r.caller_call_id != "pbx-call-3")
        .all(|r| !r.emergency));
}

#[test]
fn an_emergency_call_is_not_refused_for_want_of_media_ports() {
    // Room for one call's two port pairs.
    let toml = format!(
        "{}[media]\nport_min = 40000\nport_max = 40003\n",
        emergency_routes("sdp = 'anchor'\n")
    );
    let mut gw = Setup::new(&toml).start();
    let offer = sdp("10.0.0.22:4000", "0", "sendrecv");
    let out = gw.receive(&pbx_invite("5551234", PBX2, 1, &offer), lan(PBX2));
    assert_eq!(
        out.count(TRUNK, "INVITE"),
        1,
        "the first call takes the ports"
    );
    let out = gw.receive(&pbx_invite("5551235", PBX2, 2, &offer), lan(PBX2));
    assert_eq!(out.count("", "SIP/2.0 503"), 1, "no ports: 503");
    let out = gw.receive(&pbx_invite("911", PBX2, 3, &offer), lan(PBX2));
    let psap = out.one(PSAP, "INVITE");
    assert_eq!(psap.body(), offer, "its offer passes unanchored");
}

/// A core whose listeners admit as `listeners` (TOML) says.
fn admitting(listeners: &str) -> TestCore {
    Setup::with_listeners(&format!("{}{listeners}", emergency_routes(PASSTHROUGH))).start()
}

/// A core whose LAN listener admits 1 packet/s per source.
fn rate_limited() -> TestCore {
    admitting(&format!(
        "[[listener]]\nname='wan'\nside='wan'\nbind='{GATEWAY_WAN}'\nallow=['0.0.0.0/0']\n\
         [[listener]]\nname='lan'\nside='lan'\nbind='{GATEWAY_LAN}'\nrate_per_s=1\nburst=1\nrate_per_s_listed=1\nburst_listed=1\n"
    ))
}

#[test]
fn over_the_lan_rate_limit_only_emergency_calls_pass_and_stay_up() {
    let mut gw = rate_limited();
    // The PBX floods: its one token goes to the first packet.
    for _ in 0..20 {
        gw.receive("junk\r\n\r\n", lan(PBX2));
    }
    let out = gw.receive(&pbx_invite("5551234", PBX2, 1, &pbx_sdp()), lan(PBX2));
    assert!(out.is_empty(), "an ordinary INVITE is dropped: {out:?}");

    let invite = pbx_invite("112", PBX2, 2, &pbx_sdp());
    let out = gw.receive(&invite, lan(PBX2));
    let to_psap = out.one(PSAP, "INVITE");
    let ok = answer(to_psap, 200, "psap1", Some(&cloud_sdp()));
    let out = gw.receive(&ok, udp(0, PSAP));
    let to_pbx = out.one(PBX2, "SIP/2.0 200");
    // Still flooding: the PBX's ACK is a message of the emergency call.
    let ack = FarEnd::caller(&invite, to_pbx).ack(to_pbx);
    gw.receive("junk\r\n\r\n", lan(PBX2));
    let out = gw.receive(&ack, lan(PBX2));
    assert_eq!(
        out.count(PSAP, "ACK"),
        1,
        "the ACK passes the limit: {out:?}"
    );
    assert_eq!(gw.stats().emergency_exempt, 2);
    // A message of an ordinary call is still dropped.
    let out = gw.receive(&ack.replace("pbx-call-2", "pbx-call-1"), lan(PBX2));
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(gw.stats().emergency_exempt, 2);
}

#[test]
fn a_source_outside_the_lan_allowlist_gets_no_exemption() {
    let mut gw = rate_limited();
    let stranger = "203.0.113.9:5060";
    // The first gets its 403; then the refusals themselves are limited.
    gw.receive("junk\r\n\r\n", lan(stranger));
    let out = gw.receive(&pbx_invite("112", stranger, 1, &pbx_sdp()), lan(stranger));
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(gw.stats().emergency_exempt, 0);
    // A WAN source gets no exemption either: emergency calls come from the PBX.
    let cloud = |n: u32| cloud_invite(n).replace("+18885550000@", "112@");
    let mut wan_limited = admitting(&format!(
        "[[listener]]\nname='wan'\nside='wan'\nbind='{GATEWAY_WAN}'\nallow=['0.0.0.0/0']\n\
         rate_per_s=1\nburst=1\nrate_per_s_listed=1\nburst_listed=1\n\
         [[listener]]\nname='lan'\nside='lan'\nbind='{GATEWAY_LAN}'\n"
    ));
    let out = wan_limited.receive(&cloud(1), wan(CLOUD));
    assert_eq!(out.count(PBX1, "INVITE"), 1);
    let out = wan_limited.receive(&cloud(2), wan(CLOUD));
    assert!(out.is_empty(), "over the WAN limit: dropped: {out:?}");
    assert_eq!(wan_limited.stats().emergency_exempt, 0);
}
