//! Webhook delivery from the outbox with a real gateway and a real HTTPS
//! receiver (tests/common/receiver.rs, its own test CA) on
//! 127.0.205.0/24 (issue 20). The events are appended to the gateway's
//! data-directory store by the test while it runs (WAL: the test is one
//! more writer), so these tests need nothing from the event model: they
//! show that whatever the outbox holds arrives in order, signed, at least
//! once, and never over a certificate that is not trusted.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use common::receiver::{Identity, Receiver, Request, TestCa};
use common::GatewayProcess;
use pbxgate::store::{NewEvent, Store};

const SECRET: &str = "s3cret-for-tests";
const T: Duration = Duration::from_secs(30);

fn temp_file(tag: &str, text: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("pbxgate-wh-{tag}-{}.pem", std::process::id()));
    std::fs::write(&p, text).unwrap();
    p
}

fn webhook(name: &str, url: &str, format: &str, extra: &str) -> String {
    format!(
        "[[webhook]]\nname = \"{name}\"\nurl = \"{url}\"\nformat = \"{format}\"\nsecret = \"{SECRET}\"\ntimeout_ms = 5000\n{extra}\n"
    )
}

/// Call `call`'s `n` events (`{call}-{i}`, i from 1) for `sinks`.
fn events(call: &str, n: usize, sinks: &[&str]) -> Vec<NewEvent> {
    (1..=n)
        .map(|i| {
            let event = ["newCall", "answer", "dtmf", "hangup"][(i - 1) % 4];
            let body = serde_json::json!({
                "event": event,
                "eventId": format!("{call}-{i}"),
                "callId": call,
                "direction": "in",
                "from": "+4930123456",
                "to": "+4989654321",
                "user": ["Alice", "Bob"],
                "seq": i,
            });
            NewEvent {
                event_id: format!("{call}-{i}"),
                call_key: call.into(),
                created: SystemTime::now(),
                body: body.to_string(),
                sinks: sinks.iter().map(|s| s.to_string()).collect(),
            }
        })
        .collect()
}

/// Appends events in the interleaved order calls produce them: the i-th
/// event of each call, then the next i.
fn append(data_dir: &Path, calls: &[Vec<NewEvent>]) {
    let mut store = Store::open(&Store::path_in(data_dir)).unwrap();
    let max = calls.iter().map(|c| c.len()).max().unwrap_or(0);
    for i in 0..max {
        let round: Vec<NewEvent> = calls.iter().filter_map(|c| c.get(i).cloned()).collect();
        store.write_calls_and_events(&[], &round).unwrap();
    }
}

fn pending(data_dir: &Path, sink: &str) -> Vec<pbxgate::store::OutboxEntry> {
    let store = Store::open(&Store::path_in(data_dir)).unwrap();
    store.outbox_pending(sink, 1000).unwrap()
}

/// The signature recomputed here over the exact bytes received.
fn assert_signed(r: &Request) {
    r.assert_signed(SECRET);
}

/// The event id and the (call, index) a request carries, from either
/// format.
fn id_of(r: &Request) -> (String, String, usize) {
    let id = r
        .header("x-pbxgate-event-id")
        .expect("event id")
        .to_string();
    let (call, i) = id.rsplit_once('-').unwrap();
    (id.clone(), call.to_string(), i.parse().unwrap())
}

/// Per call, the indices in the order received never go back (a repeat
/// of the last one is allowed): order per call holds.
fn assert_order_per_call(got: &[Request]) {
    let mut last: HashMap<String, usize> = HashMap::new();
    for r in got {
        let (id, call, i) = id_of(r);
        let prev = last.get(&call).copied().unwrap_or(0);
        assert!(
            i >= prev,
            "{id} arrived after {call}-{prev}: {:?}",
            got.iter().map(|r| id_of(r).0).collect::<Vec<_>>()
        );
        last.insert(call, i);
    }
}

fn unique_ids(got: &[Request]) -> Vec<String> {
    let mut ids: Vec<String> = got.iter().map(|r| id_of(r).0).collect();
    ids.sort();
    ids.dedup();
    ids
}

#[test]
fn events_arrive_in_order_signed_in_both_formats() {
    let ca = TestCa::new();
    let ca_file = temp_file("order-ca", ca.pem());
    let json_rx = Receiver::start(
        "127.0.205.2:9443".parse().unwrap(),
        Some(ca.issue("127.0.205.2")),
    );
    let form_rx = Receiver::start(
        "127.0.205.3:9443".parse().unwrap(),
        Some(ca.issue("127.0.205.3")),
    );
    let extra = format!("ca_file = \"{}\"", ca_file.display());
    let config = [
        webhook("crm", "https://127.0.205.2:9443/hook?x=1", "json", &extra),
        webhook("push", "https://127.0.205.3:9443/", "sipgate", &extra),
    ]
    .concat();
    let gw = GatewayProcess::start("127.0.205.1", 5060, &config);
    let calls: Vec<Vec<NewEvent>> = ["a", "b", "c"]
        .iter()
        .map(|c| events(c, 4, &["crm", "push"]))
        .collect();
    append(&gw.data_dir, &calls);

    let got = json_rx.wait_for(12, T);
    assert_eq!(got.len(), 12, "json receiver got {got:?}");
    // One at a time, oldest first: the outbox's order exactly.
    let ids: Vec<String> = got.iter().map(|r| id_of(r).0).collect();
    assert_eq!(
        ids,
        ["a-1", "b-1", "c-1", "a-2", "b-2", "c-2", "a-3", "b-3", "c-3", "a-4", "b-4", "c-4"]
    );
    let by_id: HashMap<String, String> = calls
        .iter()
        .flatten()
        .map(|e| (e.event_id.clone(), e.body.clone()))
        .collect();
    for r in &got {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/hook?x=1");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("host"), Some("127.0.205.2:9443"));
        // The outbox's JSON byte for byte.
        assert_eq!(r.body_text(), by_id[&id_of(r).0]);
        assert_signed(r);
    }

    let got = form_rx.wait_for(12, T);
    assert_eq!(got.len(), 12);
    let ids2: Vec<String> = got.iter().map(|r| id_of(r).0).collect();
    assert_eq!(ids2, ids);
    for r in &got {
        assert_eq!(
            r.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_signed(r);
        let pairs: Vec<(String, String)> = form_urlencoded::parse(&r.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let (id, call, _) = id_of(r);
        assert!(pairs.contains(&("eventId".into(), id.clone())), "{pairs:?}");
        assert!(pairs.contains(&("callId".into(), call)), "{pairs:?}");
        assert!(pairs.contains(&("from".into(), "+4930123456".into())));
        let users: Vec<&str> = pairs
            .iter()
            .filter(|(k, _)| k == "user[]")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(users, ["Alice", "Bob"]);
    }
    // Acknowledged entries are removed.
    let end = Instant::now() + Duration::from_secs(5);
    while (!pending(&gw.data_dir, "crm").is_empty() || !pending(&gw.data_dir, "push").is_empty())
        && Instant::now() < end
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(pending(&gw.data_dir, "crm").is_empty());
    assert!(pending(&gw.data_dir, "push").is_empty());
    let _ = std::fs::remove_file(ca_file);
}

#[test]
fn refused_connections_keep_events_until_the_receiver_is_up() {
    let ca = TestCa::new();
    let ca_file = temp_file("refused-ca", ca.pem());
    let config = webhook(
        "crm",
        "https://127.0.205.12:9443/",
        "json",
        &format!("ca_file = \"{}\"", ca_file.display()),
    );
    let gw = GatewayProcess::start("127.0.205.11", 5060, &config);
    let calls: Vec<Vec<NewEvent>> = ["p", "q"].iter().map(|c| events(c, 3, &["crm"])).collect();
    append(&gw.data_dir, &calls);
    // Nothing listens: connections are refused, the events stay, the
    // failures are noted on them.
    std::thread::sleep(Duration::from_secs(3));
    let waiting = pending(&gw.data_dir, "crm");
    assert_eq!(waiting.len(), 6);
    assert!(waiting[0].attempts >= 1, "{waiting:?}");
    gw.wait_for_log_line(&["webhook delivery failed", "cannot connect"], T);

    let rx = Receiver::start(
        "127.0.205.12:9443".parse().unwrap(),
        Some(ca.issue("127.0.205.12")),
    );
    // The back-off is at most a few seconds after three failures.
    let got = rx.wait_for(6, T);
    std::thread::sleep(Duration::from_millis(500));
    let got_all = rx.requests();
    assert_eq!(got.len(), 6);
    // Nothing was in flight: each exactly once, in the order written.
    let ids: Vec<String> = got_all.iter().map(|r| id_of(r).0).collect();
    assert_eq!(ids, ["p-1", "q-1", "p-2", "q-2", "p-3", "q-3"]);
    got_all.iter().for_each(assert_signed);
    let _ = std::fs::remove_file(ca_file);
}

#[test]
fn kill_9_during_slow_deliveries_loses_nothing_and_repeats_are_identical() {
    let ca = TestCa::new();
    let ca_file = temp_file("kill-ca", ca.pem());
    let rx = Receiver::start(
        "127.0.205.22:9443".parse().unwrap(),
        Some(ca.issue("127.0.205.22")),
    );
    rx.set_delay(Duration::from_secs(2));
    let config = webhook(
        "crm",
        "https://127.0.205.22:9443/",
        "sipgate",
        &format!("ca_file = \"{}\"", ca_file.display()),
    );
    let mut gw = GatewayProcess::start("127.0.205.21", 5060, &config);
    let calls: Vec<Vec<NewEvent>> = ["k", "m"].iter().map(|c| events(c, 3, &["crm"])).collect();
    append(&gw.data_dir, &calls);
    // Two answered, the third waiting on the slow receiver: kill -9.
    let first = rx.wait_for(2, T);
    assert_eq!(first.len(), 2);
    std::thread::sleep(Duration::from_millis(700));
    gw.kill();
    // The request in flight is answered to nobody (and recorded).
    std::thread::sleep(Duration::from_millis(2000));
    let before_restart = rx.requests().len();
    assert!(
        pending(&gw.data_dir, "crm").len() >= 6 - before_restart,
        "nothing acknowledged that was not answered"
    );
    gw.restart();
    let end = Instant::now() + Duration::from_secs(40);
    while unique_ids(&rx.requests()).len() < 6 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    let got = rx.requests();
    assert_eq!(
        unique_ids(&got),
        ["k-1", "k-2", "k-3", "m-1", "m-2", "m-3"],
        "every event at least once"
    );
    // A repeat has the same id and body (its signature is made anew).
    let mut bodies: HashMap<String, Vec<u8>> = HashMap::new();
    for r in &got {
        let id = id_of(r).0;
        if let Some(b) = bodies.get(&id) {
            assert_eq!(b, &r.body, "repeat of {id} differs");
        }
        bodies.insert(id, r.body.clone());
        assert_signed(r);
    }
    assert!(
        got.len() > 6,
        "the request cut by kill -9 is sent again: {}",
        got.len()
    );
    assert_order_per_call(&got);
    let end = Instant::now() + Duration::from_secs(10);
    while !pending(&gw.data_dir, "crm").is_empty() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(pending(&gw.data_dir, "crm").is_empty());
    let _ = std::fs::remove_file(ca_file);
}

#[test]
fn a_certificate_from_another_ca_is_refused_and_counted() {
    let ours = TestCa::new();
    let theirs = TestCa::new();
    let ca_file = temp_file("wrong-ca", ours.pem());
    let rx = Receiver::start(
        "127.0.205.32:9443".parse().unwrap(),
        Some(theirs.issue("127.0.205.32")),
    );
    let config = webhook(
        "crm",
        "https://127.0.205.32:9443/",
        "json",
        &format!("ca_file = \"{}\"", ca_file.display()),
    );
    let gw = GatewayProcess::start("127.0.205.31", 5060, &config);
    append(&gw.data_dir, &[events("w", 2, &["crm"])]);
    let line = gw.wait_for_log_line(&["certificate refused", "crm"], T);
    assert!(line.contains("WARN"), "{line}");
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        rx.requests().is_empty(),
        "nothing is sent over an untrusted certificate"
    );
    assert!(rx.handshake_failures() >= 1);
    let waiting = pending(&gw.data_dir, "crm");
    assert_eq!(waiting.len(), 2);
    assert!(waiting[0].attempts >= 1);
    let _ = std::fs::remove_file(ca_file);
}

#[test]
fn a_pinned_self_signed_certificate_is_accepted_and_another_is_not() {
    let pinned = Identity::self_signed("127.0.205.42");
    let other = Identity::self_signed("127.0.205.43");
    let good = Receiver::start("127.0.205.42:9443".parse().unwrap(), Some(pinned.clone()));
    let bad = Receiver::start("127.0.205.43:9443".parse().unwrap(), Some(other));
    let pin = pinned.sha256_hex();
    let pin_line = format!("pin_sha256 = \"{pin}\"");
    let config = [
        webhook("good", "https://127.0.205.42:9443/", "json", &pin_line),
        webhook("bad", "https://127.0.205.43:9443/", "json", &pin_line),
    ]
    .concat();
    let gw = GatewayProcess::start("127.0.205.41", 5060, &config);
    append(&gw.data_dir, &[events("s", 2, &["good", "bad"])]);
    let got = good.wait_for(2, T);
    assert_eq!(got.len(), 2);
    got.iter().for_each(assert_signed);
    gw.wait_for_log_line(&["certificate refused", "bad"], T);
    assert!(bad.requests().is_empty());
    assert_eq!(pending(&gw.data_dir, "bad").len(), 2);
}

#[test]
fn the_test_button_sends_a_test_event_and_shows_the_answer() {
    use common::https::Client;
    let ca = TestCa::new();
    let ca_file = temp_file("button-ca", ca.pem());
    let rx = Receiver::start(
        "127.0.205.52:9443".parse().unwrap(),
        Some(ca.issue("127.0.205.52")),
    );
    let config = format!(
        "[web]\nbind = \"127.0.205.51:18443\"\n{}",
        webhook(
            "crm",
            "https://127.0.205.52:9443/",
            "json",
            &format!("ca_file = \"{}\"", ca_file.display()),
        )
    );
    let gw = GatewayProcess::start("127.0.205.51", 5060, &config);
    gw.wait_for_output("web login: admin / ", T);
    let out = gw.stdout();
    let one_time = out
        .split("web login: admin / ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap()
        .to_string();
    let addr = "127.0.205.51:18443".parse().unwrap();
    let client = || {
        let mut c = Client::new(addr, &gw.data_dir);
        c.source = Some("127.0.205.53".parse().unwrap());
        c
    };
    let mut first = client();
    first.log_in("admin", &one_time);
    let new = "webhook tester password";
    let r = first.post_form("/first-password", &[("password", new), ("confirm", new)]);
    assert_eq!(r.status, 303, "{r:?}");
    let mut c = client();
    assert_eq!(c.log_in("admin", new).status, 303);

    let r = c.post_json("/api/v1/webhooks/crm/test", &serde_json::json!({}));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json(), serde_json::json!({"status": 200, "body": "ok"}));
    let got = rx.requests();
    assert_eq!(got.len(), 1);
    let v: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(v["event"], "test");
    assert_eq!(v["eventId"].as_str(), got[0].header("x-pbxgate-event-id"));
    assert_signed(&got[0]);
    // What the receiver said, not a guess: an error status is shown too.
    rx.set_status(503);
    let r = c.post_json("/api/v1/webhooks/crm/test", &serde_json::json!({}));
    assert_eq!(r.json()["status"], 503);
    assert_eq!(
        c.post_json("/api/v1/webhooks/nope/test", &serde_json::json!({}))
            .status,
        404
    );
    // The page's button.
    rx.set_status(204);
    let page = c.get("/config/events");
    assert!(
        page.body.contains("id=\"test-webhook-crm\""),
        "{}",
        page.body
    );
    let r = c.post_form("/config/events/test", &[("name", "crm")]);
    assert_eq!(r.status, 200);
    assert!(
        r.body
            .contains("crm answered <strong class=\"status\">204</strong> (delivered)"),
        "{}",
        r.body
    );
    assert_eq!(
        rx.requests().len(),
        3,
        "200, 503 and 204; none for an unknown name"
    );
    // Not through the outbox.
    assert!(pending(&gw.data_dir, "crm").is_empty());
    let _ = std::fs::remove_file(ca_file);
}
