//! A listener moved to a new address by a save while a call is up (issue
//! 19: "a changed listener is re-bound and the old socket kept until its
//! calls end"): the call in progress ends normally through the old socket,
//! the next call leaves from the new address, and the old socket is closed
//! once nothing uses it. Addresses 127.0.200.*.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::https::Client;
use common::{GatewayProcess, Sipp};

const NET: &str = "127.0.200";
const T: Duration = Duration::from_secs(60);

fn route(name: &str, afid: &str, pbx: &str) -> String {
    format!(
        "[[route]]\nname = \"{name}\"\nfrom = \"wan\"\n\
         match = [{{ header = \"X-PH-RetreaverAFID\", equals = \"{afid}\" }}]\n\
         targets = [{{ uri = \"sip:{name}@{pbx}:35090\" }}]\n\
         headers = [\n  {{ action = \"rename\", from = \"X-PH-RetreaverAFID\", name = \"X-Publisher-ID\" }},\n  \
         {{ action = \"pass\", name = \"X-Campaign-ID\" }},\n  \
         {{ action = \"set\", name = \"X-Route\", value = \"{name}\" }},\n  \
         {{ action = \"strip\", name = \"X-PH-RetreaverKey\" }},\n]\n\n"
    )
}

fn afid_csv(gw: &GatewayProcess, afid: &str) -> String {
    let path = gw.data_dir.join(format!("afid_{afid}.csv"));
    std::fs::write(&path, format!("SEQUENTIAL\n{afid};\n")).expect("csv");
    path.to_str().expect("path").to_string()
}

/// The gateway on NET.1 (WAN 35060, LAN 35080, page 18443) and a client
/// logged in with a password of its own.
fn start() -> (GatewayProcess, Client) {
    let config = format!(
        "[web]\nbind = \"{NET}.1:18443\"\n\n[sip]\nt1_ms = 100\n\n{}{}",
        route("queue-a", "5678", &format!("{NET}.2")),
        route("queue-b", "9999", &format!("{NET}.3")),
    );
    let gw = GatewayProcess::start(&format!("{NET}.1"), 35060, &config);
    let addr: SocketAddr = format!("{NET}.1:18443").parse().unwrap();
    let admin = common::https::first_login(&gw, addr, "a password of my own");
    (gw, admin)
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < T, "never: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_listener_moved_during_a_call_keeps_the_call_and_takes_the_next_one_from_its_new_address() {
    let (gw, mut admin) = start();

    // Call A, held 8 s, set up through the LAN listener's first address.
    let pbx_a = Sipp::new("call_pbx_uas_5678.xml")
        .on(&format!("{NET}.2"), 35090)
        .start();
    let caller_a = Sipp::new("web_cloud_uac_hold.xml")
        .on(&format!("{NET}.7"), 35100)
        .to(gw.wan())
        .args(&["-inf", &afid_csv(&gw, "5678"), "-d", "8000"])
        .start();
    wait_until("call A answered", || {
        admin.get("/api/v1/status").json()["calls_active"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["answered"] == true))
    });

    // Move the LAN listener from :35080 to :35081 through the API.
    let mut listeners = admin.get("/api/v1/config/listener").json();
    let lan = listeners
        .as_array_mut()
        .expect("an array")
        .iter_mut()
        .find(|l| l["name"] == "lan")
        .expect("the lan listener");
    assert_eq!(lan["bind"], format!("{NET}.1:35080"));
    lan["bind"] = format!("{NET}.1:35081").into();
    let r = admin.put_json("/api/v1/config/listener", &listeners);
    assert_eq!(r.status, 200, "{r:?}");
    let saved = r.json();
    assert_eq!(saved["changed"], serde_json::json!(["listener"]), "{saved}");
    assert_eq!(saved["needs_restart"], serde_json::json!([]), "{saved}");
    gw.wait_for_log_line(&["listener retired", "35080"], Duration::from_secs(5));
    let file = std::fs::read_to_string(gw.data_dir.join("pbxgate.toml")).expect("config");
    assert!(file.contains(&format!("{NET}.1:35081")), "{file}");

    // Call B, after the save: its INVITE leaves from the new address
    // (the PBX checks the Via), while call A is still up.
    let pbx_b = Sipp::new("move_pbx_uas_new_address.xml")
        .on(&format!("{NET}.3"), 35090)
        .start();
    let b = Sipp::new("call_cloud_uac.xml")
        .on(&format!("{NET}.8"), 35100)
        .to(gw.wan())
        .args(&["-inf", &afid_csv(&gw, "9999")])
        .run(T);
    b.assert_success("call B was answered by queue-b");
    pbx_b
        .wait(T)
        .assert_success("queue-b got the INVITE from the new address and the BYE");
    assert!(
        !gw.log().contains("old address of the listener closed"),
        "the old socket closed while call A was up:\n{}",
        gw.log()
    );

    // Call A ends normally: the caller's BYE reaches the PBX through the
    // old socket and its 200 comes back the same way.
    caller_a
        .wait(T)
        .assert_success("call A's caller hung up and got the 200");
    pbx_a
        .wait(T)
        .assert_success("call A's PBX got the BYE on the old address");
    let ended = Instant::now();

    // Nothing uses the old socket now: closed after the linger time.
    gw.wait_for_log_line(
        &["old address of the listener closed", "35080"],
        pbxgate::gateway::RETIRED_LINGER + Duration::from_secs(10),
    );
    assert!(ended.elapsed() >= pbxgate::gateway::RETIRED_LINGER - Duration::from_secs(2));
}
