//! Issue 20's acceptance end to end: real sipp calls through a real
//! gateway process, their events delivered from the outbox to a real
//! HTTPS receiver (tests/common/receiver.rs, a test CA of its own given to
//! the gateway as the webhooks' `ca_file`), on 127.0.210.0-127.0.213.255.
//! Both formats at once (a `json` and a `sipgate` webhook, each with a
//! secret); every request's signature is checked over the exact bytes
//! received; a gateway killed with kill -9 while the receiver refuses
//! connections delivers every event exactly once after its restart.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use common::receiver::{Receiver, Request, TestCa};
use common::{scenario, GatewayProcess, Scenario, Sipp};
use serde_json::Value;

const SECRET: &str = "acceptance-secret";
const PBX_PORT: u16 = 35090;
const RX_PORT: u16 = 9443;
const T: Duration = Duration::from_secs(60);

fn temp_file(tag: &str, text: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("pbxgate-acc-{tag}-{}.pem", std::process::id()));
    std::fs::write(&p, text).unwrap();
    p
}

/// The two receivers of a test: `json` on NET.8, `sipgate` on NET.9, each
/// with a certificate of `ca` for its address.
struct Receivers {
    json: Receiver,
    form: Receiver,
    ca_file: PathBuf,
}

impl Receivers {
    fn start(net: &str) -> Receivers {
        let ca = TestCa::new();
        let ca_file = temp_file(net, ca.pem());
        let at = |host: &str| {
            let ip = format!("{net}.{host}");
            Receiver::start(
                format!("{ip}:{RX_PORT}").parse().unwrap(),
                Some(ca.issue(&ip)),
            )
        };
        Receivers {
            json: at("8"),
            form: at("9"),
            ca_file,
        }
    }

    /// `[[webhook]]` tables for both: `crm` (json) and `push` (sipgate).
    fn config(&self, net: &str) -> String {
        let hook = |name: &str, host: &str, format: &str| {
            format!(
                "[[webhook]]\nname = \"{name}\"\nurl = \"https://{net}.{host}:{RX_PORT}/events\"\n\
                 format = \"{format}\"\nsecret = \"{SECRET}\"\nca_file = \"{}\"\ntimeout_ms = 5000\n",
                self.ca_file.display()
            )
        };
        [hook("crm", "8", "json"), hook("push", "9", "sipgate")].concat()
    }

    /// Waits until both got `n` events; checks every request's signature
    /// and that both got the same events (by id, in the same order), each
    /// in its format with the same fields; returns the JSON events.
    fn wait_for(&self, n: usize) -> Vec<Value> {
        let json = self.json.wait_for(n, T);
        let form = self.form.wait_for(n, T);
        assert_eq!(json.len(), n, "json receiver: {:#?}", bodies(&json));
        assert_eq!(form.len(), n, "sipgate receiver: {:#?}", bodies(&form));
        for r in self.json.requests().iter().chain(&self.form.requests()) {
            assert_eq!(r.method, "POST");
            assert_eq!(r.path, "/events");
            assert_signed(r);
        }
        let events: Vec<Value> = json
            .iter()
            .map(|r| {
                assert_eq!(r.header("content-type"), Some("application/json"));
                let v: Value = serde_json::from_slice(&r.body).expect("a JSON body");
                assert_eq!(
                    v["id"].as_str(),
                    r.header("x-pbxgate-event-id"),
                    "the header names the body's event"
                );
                v
            })
            .collect();
        for (e, r) in events.iter().zip(&form) {
            assert_eq!(
                r.header("content-type"),
                Some("application/x-www-form-urlencoded")
            );
            assert_eq!(r.header("x-pbxgate-event-id"), e["id"].as_str());
            let mut got: Vec<(String, String)> = form_urlencoded::parse(&r.body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let mut want = as_form(e);
            got.sort();
            want.sort();
            assert_eq!(got, want, "the sipgate form of {e:#}");
        }
        events
    }
}

impl Drop for Receivers {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_file);
    }
}

fn bodies(got: &[Request]) -> Vec<String> {
    got.iter().map(Request::body_text).collect()
}

/// The form pairs a JSON event must become, as docs/events.md says
/// sipgate.io's format is made: top-level fields as text, arrays as
/// repeated `name[]`, nested objects as `parent_child`.
fn as_form(e: &Value) -> Vec<(String, String)> {
    fn scalar(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    let mut pairs = Vec::new();
    for (k, v) in e.as_object().expect("an event is an object") {
        match v {
            Value::Array(items) => pairs.extend(
                items
                    .iter()
                    .filter_map(scalar)
                    .map(|s| (format!("{k}[]"), s)),
            ),
            Value::Object(fields) => pairs.extend(
                fields
                    .iter()
                    .filter_map(|(f, v)| scalar(v).map(|s| (format!("{k}_{f}"), s))),
            ),
            other => pairs.extend(scalar(other).map(|s| (k.clone(), s))),
        }
    }
    pairs
}

/// HMAC-SHA256(secret, timestamp + "." + raw body) as `v1=<hex>`,
/// recomputed over the exact bytes received; the timestamp is recent.
fn assert_signed(r: &Request) {
    r.assert_signed(SECRET);
}

/// The header actions call_pbx_uas_5678.xml and the call_* PBXes check.
fn header_actions(route: &str) -> String {
    format!(
        "headers = [\n  {{ action = \"rename\", from = \"X-PH-RetreaverAFID\", name = \"X-Publisher-ID\" }},\n  \
         {{ action = \"pass\", name = \"X-Campaign-ID\" }},\n  \
         {{ action = \"set\", name = \"X-Route\", value = \"{route}\" }},\n  \
         {{ action = \"strip\", name = \"X-PH-RetreaverKey\" }},\n]\n"
    )
}

/// Route `queue-a` for AFID 5678 to the PBX on NET.2.
fn queue_route(net: &str) -> String {
    format!(
        "[sip]\nt1_ms = 100\n[events]\nheaders = [\"X-Campaign-ID\"]\n\
         [[route]]\nname = \"queue-a\"\nfrom = \"wan\"\n\
         match = [{{ header = \"X-PH-RetreaverAFID\", equals = \"5678\" }}]\n\
         targets = [{{ uri = \"sip:queue-a@{net}.2:{PBX_PORT}\" }}]\n{}",
        header_actions("queue-a")
    )
}

/// Route `q` (any call) to the PBX on NET.2.
fn any_route(net: &str) -> String {
    format!(
        "[sip]\nt1_ms = 100\n[[route]]\nname = \"q\"\nfrom = \"wan\"\n\
         targets = [{{ uri = \"sip:q@{net}.2:{PBX_PORT}\" }}]\n{}",
        header_actions("q")
    )
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn names(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| s(&e["event"])).collect()
}

#[test]
fn a_sipp_calls_events_reach_the_receiver_signed_in_both_formats() {
    let net = "127.0.210";
    let rx = Receivers::start(net);
    let config = format!("{}{}", rx.config(net), queue_route(net));
    let gw = GatewayProcess::start(&format!("{net}.1"), 35060, &config);
    let csv = gw.data_dir.join("afid_5678.csv");
    std::fs::write(&csv, "SEQUENTIAL\n5678;\n").unwrap();
    Scenario::new(&gw)
        .peer(
            Sipp::new("call_pbx_uas_5678.xml").on(&format!("{net}.2"), PBX_PORT),
            "the PBX answered with X-Agent",
        )
        .caller(
            Sipp::new("call_cloud_uac.xml")
                .on(&format!("{net}.7"), 35100)
                .args(&["-inf", csv.to_str().unwrap(), "-l", "1"]),
            "the cloud's call",
        )
        .timeout(T)
        .run();
    let events = rx.wait_for(3);
    assert_eq!(
        names(&events),
        ["newCall", "answer", "hangup"],
        "{events:#?}"
    );
    let call_id = s(&events[0]["callId"]);
    assert!(!call_id.is_empty());
    let mut ids = HashSet::new();
    for e in &events {
        assert!(
            ids.insert(s(&e["id"]).to_string()),
            "unique ids: {events:#?}"
        );
        assert_eq!(e["callId"], call_id, "{e:#}");
        assert_eq!(e["direction"], "in");
        assert!(s(&e["from"]).contains("sip:+15551230000@"), "{e:#}");
        assert!(s(&e["to"]).contains("sip:+18885550000@"), "{e:#}");
        assert_eq!(e["route"], "queue-a");
        assert_eq!(e["xph"]["afid"], "5678", "{e:#}");
        assert!(s(&e["xph"]["uuid"]).ends_with("-uuid"), "{e:#}");
        assert_eq!(e["xph"]["sid"], "sub-7", "{e:#}");
        assert_eq!(e["headers"]["X-Campaign-ID"], "camp-5678", "{e:#}");
        assert!(s(&e["timestamp"]).ends_with('Z'));
    }
    assert!(events[0].get("DialSipHeader_X-Agent").is_none());
    for e in &events[1..] {
        assert_eq!(e["DialSipHeader_X-Agent"], "agent-5678", "{e:#}");
    }
    let hangup = &events[2];
    assert_eq!(hangup["cause"], "normalClearing");
    assert!(hangup["duration"].is_u64(), "{hangup:#}");
    assert!(events[0].get("duration").is_none() && events[1].get("duration").is_none());
    // The same in the form: the fields a sipgate.io receiver reads.
    let form = rx.form.accepted();
    let pairs: Vec<HashMap<String, String>> = form
        .iter()
        .map(|r| form_urlencoded::parse(&r.body).into_owned().collect())
        .collect();
    assert_eq!(pairs[0]["event"], "newCall");
    assert_eq!(pairs[1]["DialSipHeader_X-Agent"], "agent-5678");
    assert_eq!(pairs[2]["event"], "hangup");
    assert_eq!(pairs[2]["xph_afid"], "5678");
    assert_eq!(pairs[2]["callId"], call_id);
    assert_eq!(pairs[2]["duration"], hangup["duration"].to_string());
}

/// `(event, callId, origCallId, diversion, cause)` of each event.
fn story(events: &[Value]) -> Vec<[String; 5]> {
    events
        .iter()
        .map(|e| {
            ["event", "callId", "origCallId", "diversion", "cause"].map(|k| s(&e[k]).to_string())
        })
        .collect()
}

fn row(event: &str, call: &str, orig: &str, diversion: &str, cause: &str) -> [String; 5] {
    [event, call, orig, diversion, cause].map(str::to_string)
}

#[test]
fn a_forwarded_calls_events_carry_orig_call_id_and_diversion_at_the_receiver() {
    let net = "127.0.211";
    let rx = Receivers::start(net);
    let config = format!("{}{}", rx.config(net), any_route(net));
    let gw = GatewayProcess::start(&format!("{net}.1"), 35060, &config);
    let csv = scenario("call_afid.csv");
    Scenario::new(&gw)
        .peer(
            Sipp::new("call_pbx_uas_302.xml")
                .on(&format!("{net}.2"), PBX_PORT)
                .key("fwd_to", format!("{net}.4:{PBX_PORT}")),
            "the PBX's 302 was ACKed",
        )
        .peer(
            Sipp::new("call_pbx_uas_forward_target.xml").on(&format!("{net}.4"), PBX_PORT),
            "the forward target got the call",
        )
        .caller(
            Sipp::new("call_cloud_uac.xml")
                .on(&format!("{net}.7"), 35100)
                .args(&["-l", "1", "-inf", csv.to_str().unwrap()]),
            "the call completes at the forward target",
        )
        .timeout(T)
        .run();
    let events = rx.wait_for(5);
    let st = story(&events);
    let (a, b) = (st[0][1].clone(), st[2][1].clone());
    assert_ne!(a, b);
    let from = format!("sip:q@{net}.2:{PBX_PORT}");
    assert_eq!(
        st,
        [
            row("newCall", &a, "", "", ""),
            row("hangup", &a, "", "", "forwarded"),
            row("newCall", &b, &a, &from, ""),
            row("answer", &b, &a, &from, ""),
            row("hangup", &b, &a, &from, "normalClearing"),
        ],
        "{events:#?}"
    );
    // In the form too (wait_for compared every field; shown here plainly).
    let form = rx.form.accepted();
    let new_b: HashMap<String, String> =
        form_urlencoded::parse(&form[2].body).into_owned().collect();
    assert_eq!(new_b["origCallId"], a);
    assert_eq!(new_b["diversion"], from);
}

#[test]
fn a_transferred_calls_events_carry_orig_call_id_and_diversion_at_the_receiver() {
    let net = "127.0.212";
    let rx = Receivers::start(net);
    let config = format!("{}{}", rx.config(net), any_route(net));
    let gw = GatewayProcess::start(&format!("{net}.1"), 35060, &config);
    Scenario::new(&gw)
        .peer(
            Sipp::new("call_pbx_uas_refer.xml")
                .on(&format!("{net}.2"), PBX_PORT)
                .key("refer_to", format!("{net}.4:{PBX_PORT}")),
            "the PBX got 202 and the NOTIFYs",
        )
        .peer(
            Sipp::new("call_pbx_uas_transfer_target.xml").on(&format!("{net}.4"), PBX_PORT),
            "the transfer target got the call and the caller's BYE",
        )
        .caller(
            Sipp::new("call_cloud_uac_transfer.xml")
                .on(&format!("{net}.7"), 35100)
                .args(&["-l", "1"]),
            "the caller is moved to the transfer target and hangs up there",
        )
        .timeout(T)
        .run();
    let events = rx.wait_for(6);
    let st = story(&events);
    let (a, b) = (st[0][1].clone(), st[2][1].clone());
    assert_ne!(a, b);
    let from = format!("sip:q@{net}.2:{PBX_PORT}");
    assert_eq!(
        st,
        [
            row("newCall", &a, "", "", ""),
            row("answer", &a, "", "", ""),
            row("newCall", &b, &a, &from, ""),
            row("answer", &b, &a, &from, ""),
            row("hangup", &a, "", "", "normalClearing"),
            row("hangup", &b, &a, &from, "normalClearing"),
        ],
        "{events:#?}"
    );
    assert_eq!(events[4]["causeDetail"], "transferred");
    let form = rx.form.accepted();
    let new_b: HashMap<String, String> =
        form_urlencoded::parse(&form[2].body).into_owned().collect();
    assert_eq!(new_b["origCallId"], a);
    assert_eq!(new_b["diversion"], from);
}

#[test]
fn kill_9_while_the_receiver_refuses_delivers_each_event_once_and_the_cut_calls_hangup() {
    let net = "127.0.213";
    // Not started yet: nothing listens at the webhook's address, so every
    // attempt is a refused connection and nothing is ever in flight.
    let ca = TestCa::new();
    let ca_file = temp_file(net, ca.pem());
    let rx_addr = format!("{net}.8:{RX_PORT}");
    let config = format!(
        "[[webhook]]\nname = \"crm\"\nurl = \"https://{rx_addr}/events\"\nformat = \"json\"\n\
         secret = \"{SECRET}\"\nca_file = \"{}\"\ntimeout_ms = 5000\n{}",
        ca_file.display(),
        queue_route(net)
    );
    let mut gw = GatewayProcess::start(&format!("{net}.1"), 35060, &config);
    let csv = gw.data_dir.join("afid_5678.csv");
    std::fs::write(&csv, "SEQUENTIAL\n5678;\n").unwrap();
    // Ten completed calls, one after the other.
    Scenario::new(&gw)
        .peer(
            Sipp::new("call_pbx_uas_5678.xml")
                .on(&format!("{net}.2"), PBX_PORT)
                .calls(10),
            "the PBX answered ten calls",
        )
        .caller(
            Sipp::new("call_cloud_uac.xml")
                .on(&format!("{net}.7"), 35100)
                .calls(10)
                .args(&["-inf", csv.to_str().unwrap(), "-l", "1"]),
            "ten calls",
        )
        .timeout(T)
        .run();
    // One call in progress: both ends wait for the other to hang up.
    let pbx = Sipp::new("call_pbx_uas_bye.xml")
        .on(&format!("{net}.2"), PBX_PORT)
        .args(&["-d", "120000"])
        .start();
    let cloud = Sipp::new("call_cloud_uac_wait_bye.xml")
        .to(gw.wan())
        .on(&format!("{net}.7"), 35101)
        .start();
    // Its answer is in the outbox (32 events wait for the sink) before the
    // kill.
    let store = pbxgate::store::Store::path_in(&gw.data_dir);
    let waiting = || -> i64 {
        rusqlite::Connection::open_with_flags(&store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| {
                c.query_row("SELECT count(*) FROM outbox WHERE sink = 'crm'", [], |r| {
                    r.get(0)
                })
            })
            .unwrap_or(0)
    };
    let end = std::time::Instant::now() + T;
    while waiting() < 32 && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(waiting(), 32, "{}", gw.log());
    gw.wait_for_log_line(&["webhook delivery failed", "cannot connect"], T);
    gw.kill();
    drop((cloud, pbx));
    gw.restart();
    let rx = Receiver::start(
        rx_addr.parse().unwrap(),
        Some(ca.issue(&format!("{net}.8"))),
    );
    let got = rx.wait_for(33, T);
    assert_eq!(got.len(), 33, "{:#?}", bodies(&got));
    // Anything more would have come by now: the sender is idle.
    std::thread::sleep(Duration::from_secs(2));
    let all = rx.requests();
    all.iter().for_each(assert_signed);
    let events: Vec<Value> = all
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let ids: HashSet<&str> = events.iter().map(|e| s(&e["id"])).collect();
    assert_eq!(
        (all.len(), ids.len()),
        (33, 33),
        "each event id exactly once: {:#?}",
        bodies(&all)
    );
    // In order per call: newCall, answer, hangup for each of the 11.
    let mut per_call: HashMap<&str, Vec<&str>> = HashMap::new();
    for e in &events {
        per_call
            .entry(s(&e["callId"]))
            .or_default()
            .push(s(&e["event"]));
    }
    assert_eq!(per_call.len(), 11, "{per_call:#?}");
    for (call, seq) in &per_call {
        assert_eq!(seq, &["newCall", "answer", "hangup"], "call {call}");
    }
    // The cut call's hangup came from the restart.
    let restart: Vec<&Value> = events
        .iter()
        .filter(|e| e["causeDetail"] == "gatewayRestart")
        .collect();
    assert_eq!(restart.len(), 1, "{events:#?}");
    let cut = restart[0];
    assert_eq!(cut["event"], "hangup");
    assert_eq!(cut["cause"], "normalClearing");
    assert!(cut.get("duration").is_none(), "{cut:#}");
    assert_eq!(
        events.last().unwrap()["id"],
        cut["id"],
        "appended at the start, after everything before the kill"
    );
    let completed = events
        .iter()
        .filter(|e| e["event"] == "hangup" && e["causeDetail"] == "caller_hangup")
        .count();
    assert_eq!(completed, 10, "{events:#?}");
    let _ = std::fs::remove_file(ca_file);
}
