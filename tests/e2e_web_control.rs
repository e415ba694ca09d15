//! Live call control through the JSON API with a bearer token (issue 19):
//! a call found in GET /api/v1/status is hung up by its id and both sipp
//! ends get a BYE; unknown ids and bad digits are refused with the
//! documented statuses. Addresses 127.0.197.*.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::https::Client;
use common::{media_pbx, GatewayProcess, Sipp};
use serde_json::json;

const T: Duration = Duration::from_secs(60);

/// A gateway on NET.1 routing every call to the PBX on NET.2, its page on
/// NET.1:8443; returns it with a client holding an API token (made by the
/// admin after setting a password of their own).
fn gateway(net: &str) -> (GatewayProcess, Client) {
    let ip = format!("{net}.1");
    let config = format!(
        "[web]\nbind = \"{ip}:8443\"\n[sip]\nt1_ms = 100\n\
         [[route]]\nname = \"q\"\ntargets = [{{ uri = \"sip:q@{net}.2:35090\" }}]\n"
    );
    let gw = GatewayProcess::start(&ip, 35060, &config);
    let addr: SocketAddr = format!("{ip}:8443").parse().unwrap();
    let mut admin = common::https::first_login(&gw, addr, "a password of my own");
    let r = admin.post_json("/api/v1/tokens", &json!({"name": "control"}));
    assert_eq!(r.status, 201, "{r:?}");
    let token = r.json()["token"].as_str().expect("token").to_string();
    let script = Client::new(addr, &gw.data_dir).with_bearer(&token);
    (gw, script)
}

/// Acceptance 3: hang up by id through the API ends both legs with BYE;
/// transfer and DTMF for an unknown id are 404, digits that cannot be
/// sent are 422.
#[test]
fn a_call_hung_up_through_the_api_ends_both_legs_with_bye() {
    let net = "127.0.197";
    let (gw, mut api) = gateway(net);
    // Both ends stay in the call until the gateway sends them a BYE.
    let pbx = media_pbx("media_pbx_uas.xml", &format!("{net}.2"), 42000, 0).start();
    let caller = Sipp::new("call_cloud_uac_wait_bye.xml")
        .on(&format!("{net}.7"), 35100)
        .to(gw.wan())
        .start();

    let start = Instant::now();
    let call = loop {
        let status = api.get("/api/v1/status");
        assert_eq!(status.status, 200, "{status:?}");
        let status = status.json();
        let answered = status["calls_active"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["answered"] == true).cloned());
        if let Some(c) = answered {
            break c;
        }
        assert!(start.elapsed() < T, "no answered call: {status}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let id = call["id"].as_str().expect("call id").to_string();

    // Refusals while the call is up: they change nothing.
    for (body, field) in [
        (json!({"digits": "12x", "leg": "caller"}), "digits"),
        (json!({"digits": "1".repeat(33), "leg": "callee"}), "digits"),
        (json!({"digits": "12", "leg": "nobody"}), "leg"),
    ] {
        let r = api.post_json(&format!("/api/v1/calls/{id}/dtmf"), &body);
        assert_eq!(r.status, 422, "{body}: {r:?}");
        assert_eq!(r.json()["field"], field, "{body}: {r:?}");
    }
    let unknown = "00000000deadbeef";
    assert_ne!(id, unknown);
    for (what, body) in [
        (
            "transfer",
            json!({"target": format!("sip:201@{net}.9:35090")}),
        ),
        ("dtmf", json!({"digits": "12", "leg": "caller"})),
        ("hangup", json!({})),
    ] {
        let r = api.post_json(&format!("/api/v1/calls/{unknown}/{what}"), &body);
        assert_eq!(r.status, 404, "{what} of an unknown id: {r:?}");
        assert!(r.json()["error"].is_string(), "{r:?}");
    }
    let still = api.get("/api/v1/status").json();
    assert!(
        still["calls_active"]
            .as_array()
            .is_some_and(|a| a.iter().any(|c| c["id"] == id.as_str())),
        "a refused request ended the call: {still}"
    );

    let r = api.post_json(&format!("/api/v1/calls/{id}/hangup"), &json!({}));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json(), json!({"ok": true}));
    caller
        .wait(T)
        .assert_success("the caller got a BYE from the gateway and answered it");
    pbx.wait(T)
        .assert_success("the PBX got a BYE from the gateway and answered it");

    // The call is gone from the running gateway, with the administrator's
    // cause in its history row.
    let start = Instant::now();
    let row = loop {
        let row = api.get(&format!("/api/v1/calls/{id}")).json();
        if row["in_progress"] == false && !row["hangup_cause"].is_null() {
            break row;
        }
        assert!(start.elapsed() < T, "the call is still in progress: {row}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(row["hangup_cause"], "administrator", "{row}");
    let r = api.post_json(&format!("/api/v1/calls/{id}/hangup"), &json!({}));
    assert_eq!(r.status, 404, "a second hang-up of the ended call: {r:?}");
}
