//! Call events in the outbox with a real gateway and sipp peers on
//! 127.0.202.0-127.0.204.255 (issue 20): each call's events are appended
//! to the data directory's outbox for the configured webhook (here one at
//! a closed port, so nothing is taken out), in order, with their fields;
//! a call cut by kill -9 gets its hangup (gatewayRestart) at the next
//! start; a forward and a transfer give sipgate.io's sequences. The
//! outbox is read the way an operator would, read-only.

mod common;

use std::time::{Duration, Instant};

use common::{scenario, GatewayProcess, Scenario, Sipp};
use pbxgate::store::Store;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

const PBX_PORT: u16 = 35090;
const T: Duration = Duration::from_secs(60);

/// Route `queue-a` for AFID 5678 to the PBX on NET.2 (with the header
/// actions call_pbx_uas_5678.xml checks); a webhook `crm`
/// nobody listens at; `X-Campaign-ID` chosen for the events.
fn config(net: &str) -> String {
    format!(
        "[sip]\nt1_ms = 100\n\
         [events]\nheaders = [\"X-Campaign-ID\"]\n\
         [[webhook]]\nname = \"crm\"\nurl = \"http://{net}.9:9/hook\"\nallow_http = true\n\
         [[route]]\nname = \"queue-a\"\nfrom = \"wan\"\n\
         match = [{{ header = \"X-PH-RetreaverAFID\", equals = \"5678\" }}]\n\
         targets = [{{ uri = \"sip:queue-a@{net}.2:{PBX_PORT}\" }}]\n\
         headers = [\n  {{ action = \"rename\", from = \"X-PH-RetreaverAFID\", name = \"X-Publisher-ID\" }},\n  \
         {{ action = \"pass\", name = \"X-Campaign-ID\" }},\n  \
         {{ action = \"set\", name = \"X-Route\", value = \"queue-a\" }},\n  \
         {{ action = \"strip\", name = \"X-PH-RetreaverKey\" }},\n]\n"
    )
}

/// The outbox bodies of sink `crm`, oldest first, read-only.
fn outbox(gw: &GatewayProcess) -> Vec<Value> {
    let path = Store::path_in(&gw.data_dir);
    let Ok(conn) = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return Vec::new();
    };
    let Ok(mut stmt) = conn.prepare("SELECT body FROM outbox WHERE sink = 'crm' ORDER BY seq")
    else {
        return Vec::new();
    };
    let bodies: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .unwrap_or_default();
    bodies
        .iter()
        .map(|b| serde_json::from_str(b).expect("an event body is JSON"))
        .collect()
}

/// Waits until the outbox holds `n` events.
fn wait_for_events(gw: &GatewayProcess, n: usize) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let events = outbox(gw);
        if events.len() >= n {
            return events;
        }
        assert!(
            start.elapsed() < T,
            "{} of {n} events: {events:#?}\n{}",
            events.len(),
            gw.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn names(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap_or("?"))
        .collect()
}

#[test]
fn a_calls_events_are_in_the_outbox_in_order_with_their_fields() {
    let net = "127.0.202";
    let mut gw = GatewayProcess::start(&format!("{net}.1"), 35060, &config(net));
    let csv = gw.data_dir.join("afid_5678.csv");
    std::fs::write(&csv, "SEQUENTIAL\n5678;\n").expect("csv");
    Scenario::new(&gw)
        .peer(
            Sipp::new("call_pbx_uas_5678.xml")
                .on(&format!("{net}.2"), PBX_PORT)
                .calls(1),
            "the PBX answered",
        )
        .caller(
            Sipp::new("call_cloud_uac.xml")
                .on(&format!("{net}.7"), 35100)
                .args(&["-inf", csv.to_str().expect("path"), "-l", "1"]),
            "the cloud's call",
        )
        .timeout(T)
        .run();
    let events = wait_for_events(&gw, 3);
    assert_eq!(
        names(&events),
        ["newCall", "answer", "hangup"],
        "{events:#?}"
    );
    let call_id = events[0]["callId"].as_str().expect("callId");
    let mut ids = std::collections::HashSet::new();
    for e in &events {
        assert_eq!(e["callId"], call_id);
        assert_eq!(e["direction"], "in");
        assert_eq!(e["route"], "queue-a");
        assert_eq!(e["xph"]["afid"], "5678");
        assert_eq!(e["headers"]["X-Campaign-ID"], "camp-5678", "{e:#}");
        assert_eq!(e["emergency"], false);
        assert!(e["clockSynced"].is_boolean());
        assert!(e["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert!(e["callerCallId"].as_str().is_some_and(|c| !c.is_empty()));
        assert!(e["from"].as_str().is_some_and(|f| f.contains("5551230000")));
        let id = e["id"].as_str().expect("id");
        assert_eq!(id.len(), 32);
        assert!(ids.insert(id.to_string()), "ids are unique");
    }
    let (answer, hangup) = (&events[1], &events[2]);
    assert!(answer["calleeCallId"]
        .as_str()
        .is_some_and(|c| !c.is_empty()));
    assert_eq!(answer["DialSipHeader_X-Agent"], "agent-5678", "{answer:#}");
    assert_eq!(answer["answeringNumber"], "queue-a");
    assert_eq!(answer["user"], serde_json::json!(["queue-a"]));
    assert_eq!(hangup["cause"], "normalClearing");
    assert_eq!(hangup["causeDetail"], "caller_hangup");
    assert!(hangup["duration"].is_u64(), "{hangup:#}");
    assert!(gw.is_running());
}

#[test]
fn a_call_cut_by_kill_9_gets_its_hangup_at_the_next_start() {
    let net = "127.0.204";
    let mut gw = GatewayProcess::start(&format!("{net}.1"), 35060, &config(net));
    // Both ends wait for the other to hang up: the call stays up.
    let pbx = Sipp::new("call_pbx_uas_bye.xml")
        .on(&format!("{net}.2"), PBX_PORT)
        .args(&["-d", "120000"])
        .start();
    let cloud = Sipp::new("call_cloud_uac_wait_bye.xml")
        .to(gw.wan())
        .on(&format!("{net}.7"), 35100)
        .start();
    let before = wait_for_events(&gw, 2);
    assert_eq!(names(&before), ["newCall", "answer"], "{before:#?}");
    gw.kill();
    drop((cloud, pbx));
    gw.restart();
    gw.wait_for_output("history:", Duration::from_secs(5));
    let after = wait_for_events(&gw, 3);
    assert_eq!(names(&after), ["newCall", "answer", "hangup"], "{after:#?}");
    assert_eq!(
        after[..2],
        before[..],
        "the events before the kill, unchanged"
    );
    let hangup = &after[2];
    assert_eq!(hangup["callId"], before[0]["callId"]);
    assert_eq!(hangup["cause"], "normalClearing");
    assert_eq!(hangup["causeDetail"], "gatewayRestart");
    assert!(hangup.get("duration").is_none(), "{hangup:#}");
    // A second start owes nothing more.
    gw.restart();
    gw.wait_for_output("history:", Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(outbox(&gw).len(), 3);
}

/// Route `q` (any call) to `sip:q@PBX:35090`, with the header actions
/// the call_* scenarios expect, and the webhook `crm` at a closed port.
fn forward_config(pbx: &str) -> String {
    format!(
        "[sip]\nt1_ms = 100\n\
         [[webhook]]\nname = \"crm\"\nurl = \"http://127.0.203.99:9/hook\"\nallow_http = true\n\
         [[route]]\nname = \"q\"\nfrom = \"wan\"\n\
         targets = [{{ uri = \"sip:q@{pbx}:{PBX_PORT}\" }}]\n\
         headers = [\n  {{ action = \"rename\", from = \"X-PH-RetreaverAFID\", name = \"X-Publisher-ID\" }},\n  \
         {{ action = \"pass\", name = \"X-Campaign-ID\" }},\n  \
         {{ action = \"set\", name = \"X-Route\", value = \"q\" }},\n  \
         {{ action = \"strip\", name = \"X-PH-RetreaverKey\" }},\n]\n"
    )
}

/// `(event, callId, origCallId, diversion, cause)` of each event.
fn story(events: &[Value]) -> Vec<(String, String, String, String, String)> {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    events
        .iter()
        .map(|e| {
            (
                s(&e["event"]),
                s(&e["callId"]),
                s(&e["origCallId"]),
                s(&e["diversion"]),
                s(&e["cause"]),
            )
        })
        .collect()
}

#[test]
fn a_followed_302_gives_hangup_forwarded_and_a_new_call_from_it() {
    let gw = GatewayProcess::start("127.0.203.1", 35060, &forward_config("127.0.203.2"));
    let csv = scenario("call_afid.csv");
    Scenario::new(&gw)
        .peer(
            Sipp::new("call_pbx_uas_302.xml")
                .on("127.0.203.2", PBX_PORT)
                .key("fwd_to", "127.0.203.4:35090"),
            "the PBX's 302 was ACKed",
        )
        .peer(
            Sipp::new("call_pbx_uas_forward_target.xml").on("127.0.203.4", PBX_PORT),
            "the forward target got the call",
        )
        .caller(
            Sipp::new("call_cloud_uac.xml")
                .on("127.0.203.7", 35100)
                .args(&["-l", "1", "-inf", csv.to_str().expect("path")]),
            "the call completes at the forward target",
        )
        .timeout(T)
        .run();
    let events = wait_for_events(&gw, 5);
    let st = story(&events);
    let (a, b) = (st[0].1.clone(), st[2].1.clone());
    assert_ne!(a, b);
    let from = "sip:q@127.0.203.2:35090".to_string();
    let none = String::new;
    assert_eq!(
        st,
        [
            ("newCall".into(), a.clone(), none(), none(), none()),
            (
                "hangup".into(),
                a.clone(),
                none(),
                none(),
                "forwarded".into()
            ),
            ("newCall".into(), b.clone(), a.clone(), from.clone(), none()),
            ("answer".into(), b.clone(), a.clone(), from.clone(), none()),
            ("hangup".into(), b, a, from, "normalClearing".into()),
        ],
        "{events:#?}"
    );
    assert_eq!(events[1]["status"], 302);
    assert_eq!(events[0]["callerCallId"], events[2]["callerCallId"]);
}

#[test]
fn a_refer_gives_the_new_call_then_the_transferors_hangup() {
    let gw = GatewayProcess::start("127.0.203.11", 35060, &forward_config("127.0.203.12"));
    Scenario::new(&gw)
        .peer(
            Sipp::new("call_pbx_uas_refer.xml")
                .on("127.0.203.12", PBX_PORT)
                .key("refer_to", "127.0.203.14:35090"),
            "the PBX got 202 and the NOTIFYs",
        )
        .peer(
            Sipp::new("call_pbx_uas_transfer_target.xml").on("127.0.203.14", PBX_PORT),
            "the transfer target got the call and the caller's BYE",
        )
        .caller(
            Sipp::new("call_cloud_uac_transfer.xml")
                .on("127.0.203.17", 35100)
                .args(&["-l", "1"]),
            "the caller is moved to the transfer target and hangs up there",
        )
        .timeout(T)
        .run();
    let events = wait_for_events(&gw, 6);
    let st = story(&events);
    let (a, b) = (st[0].1.clone(), st[2].1.clone());
    assert_ne!(a, b);
    let from = "sip:q@127.0.203.12:35090".to_string();
    let none = String::new;
    assert_eq!(
        st,
        [
            ("newCall".into(), a.clone(), none(), none(), none()),
            ("answer".into(), a.clone(), none(), none(), none()),
            ("newCall".into(), b.clone(), a.clone(), from.clone(), none()),
            ("answer".into(), b.clone(), a.clone(), from.clone(), none()),
            (
                "hangup".into(),
                a.clone(),
                none(),
                none(),
                "normalClearing".into()
            ),
            ("hangup".into(), b, a, from, "normalClearing".into()),
        ],
        "{events:#?}"
    );
    assert_eq!(events[4]["causeDetail"], "transferred");
}
