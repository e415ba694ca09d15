//! Issue 20's routing hook end to end, on 127.0.240.* and 127.0.241.*: a real sipp call
//! into a real gateway whose route names a hook served by a real HTTPS
//! receiver (a test CA of its own, given as `hook_ca_file`). A hook that
//! answers with a target sends the call there with the hook's header; a
//! hook that stays silent past `hook_timeout_ms` leaves the route's own
//! target, whose INVITE arrives within the timeout + 500 ms of the hook
//! request (read from sipp's message trace).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::receiver::{Receiver, Request, TestCa};
use common::{GatewayProcess, Scenario, Sipp};
use pbxgate::store::{CallQuery, CallRow, Store};
use serde_json::Value;

const SECRET: &str = "hook-secret";
const PBX_PORT: u16 = 35090;
const HOOK_PORT: u16 = 9443;
const T: Duration = Duration::from_secs(60);

struct Hook {
    rx: Receiver,
    ca_file: PathBuf,
    net: &'static str,
}

impl Hook {
    /// The hook's receiver on NET.8 for the test on `net`.
    fn start(net: &'static str) -> Hook {
        let tag = net.replace('.', "-");
        let ca = TestCa::new();
        let ca_file =
            std::env::temp_dir().join(format!("pbxgate-hook-{tag}-{}.pem", std::process::id()));
        std::fs::write(&ca_file, ca.pem()).unwrap();
        let ip = format!("{net}.8");
        let rx = Receiver::start(
            format!("{ip}:{HOOK_PORT}").parse().unwrap(),
            Some(ca.issue(&ip)),
        );
        Hook { rx, ca_file, net }
    }

    /// Route `hooked`: the hook, then the route's target on NET.2.
    fn config(&self, timeout_ms: u64) -> String {
        let net = self.net;
        format!(
            "[sip]\nt1_ms = 100\n[[route]]\nname = \"hooked\"\nfrom = \"wan\"\n\
             hook = \"https://{net}.8:{HOOK_PORT}/route\"\nhook_secret = \"{SECRET}\"\n\
             hook_ca_file = \"{}\"\nhook_timeout_ms = {timeout_ms}\n\
             targets = [{{ uri = \"sip:route@{net}.2:{PBX_PORT}\" }}]\n\
             headers = [{{ action = \"set\", name = \"X-Route\", value = \"hooked\" }}]\n",
            self.ca_file.display()
        )
    }

    /// The one request the hook got: signed, the call's newCall fields.
    fn the_request(&self) -> (Request, Value) {
        // Recorded when answered: a slow hook's after its delay.
        self.rx.wait_for(1, T);
        let got = self.rx.requests();
        assert_eq!(got.len(), 1, "one hook request per call");
        let r = got[0].clone();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/route"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_signed(&r);
        let body: Value = serde_json::from_slice(&r.body).expect("JSON");
        assert_eq!(body["event"], "newCall", "{body:#}");
        assert_eq!(body["direction"], "in");
        assert_eq!(body["route"], "hooked");
        assert!(
            body["from"].as_str().unwrap_or("").contains("+15551230000"),
            "{body:#}"
        );
        (r, body)
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_file);
    }
}

/// HMAC-SHA256(secret, timestamp + "." + body), as webhooks are signed.
fn assert_signed(r: &Request) {
    r.assert_signed(SECRET);
}

fn caller(gw: &GatewayProcess, net: &str) -> Sipp {
    let csv = gw.data_dir.join("afid.csv");
    std::fs::write(&csv, "SEQUENTIAL\n5678;\n").unwrap();
    Sipp::new("call_cloud_uac.xml")
        .on(&format!("{net}.7"), 35100)
        .to(gw.wan())
        .args(&["-inf", csv.to_str().unwrap()])
}

/// The gateway's history row of the one call.
fn the_call(gw: &GatewayProcess) -> CallRow {
    let store = Store::open(&Store::path_in(&gw.data_dir)).expect("the history opens");
    let rows = store.search(&CallQuery::default()).expect("search");
    assert_eq!(rows.len(), 1, "{rows:#?}");
    rows.into_iter().next().unwrap()
}

#[test]
fn a_hook_answering_with_a_target_sends_the_call_there_with_its_header() {
    let net = "127.0.240";
    let hook = Hook::start(net);
    hook.rx.set_json_body(&format!(
        r#"{{"targets":[{{"uri":"sip:buyer7@{net}.3:{PBX_PORT}"}}],
            "headers":[{{"name":"X-Hook-Choice","value":"buyer-7"}}],"note":"ignored"}}"#
    ));
    // Nothing listens on the route's own target (NET.2): a call sent
    // there would fail and so would the caller's scenario.
    let gw = GatewayProcess::start(&format!("{net}.1"), 35060, &hook.config(1500));
    Scenario::new(&gw)
        .peer(
            Sipp::new("hook_pbx_uas_chosen.xml").on(&format!("{net}.3"), PBX_PORT),
            "the extension the hook chose got the call with the hook's header",
        )
        .caller(caller(&gw, net), "the cloud's call")
        .timeout(T)
        .run();
    let (_, body) = hook.the_request();
    let row = the_call(&gw);
    assert_eq!(
        body["callerCallId"].as_str(),
        Some(row.caller_call_id.as_str())
    );
    assert_eq!(row.hook.as_deref(), Some("targets: 1, headers: 1"));
    assert_eq!(
        row.target.as_deref(),
        Some(format!("sip:buyer7@{net}.3:{PBX_PORT}").as_str())
    );
    assert_eq!(row.final_status, Some(200));
    assert!(row
        .headers_out
        .contains(&("X-Hook-Choice".to_string(), "buyer-7".to_string())));
}

#[test]
fn a_silent_hook_falls_back_to_the_routes_target_within_the_timeout() {
    let net = "127.0.241";
    let hook = Hook::start(net);
    // Answers (with a target) only long after the timeout.
    hook.rx.set_delay(Duration::from_secs(4));
    hook.rx.set_json_body(&format!(
        r#"{{"targets":[{{"uri":"sip:late@{net}.3:{PBX_PORT}"}}]}}"#
    ));
    let timeout_ms = 1000;
    let gw = GatewayProcess::start(&format!("{net}.1"), 35060, &hook.config(timeout_ms));
    let trace = gw.data_dir.join("route-pbx-messages.log");
    Scenario::new(&gw)
        .peer(
            Sipp::new("hook_pbx_uas_route.xml")
                .on(&format!("{net}.2"), PBX_PORT)
                .args(&["-trace_msg", "-message_file", trace.to_str().unwrap()]),
            "the route's own target got the call, without the hook's header",
        )
        .caller(caller(&gw, net), "the cloud's call")
        .timeout(T)
        .run();
    let (request, _) = hook.the_request();
    let invite_at = first_message_time(&trace);
    let waited = invite_at
        .duration_since(request.received)
        .unwrap_or_else(|e| panic!("the INVITE came {:?} before the hook request", e.duration()));
    assert!(
        waited <= Duration::from_millis(timeout_ms + 500),
        "the fallback INVITE came {waited:?} after the hook request"
    );
    assert!(
        waited >= Duration::from_millis(timeout_ms / 2),
        "the call did not wait for the hook: {waited:?}"
    );
    let row = the_call(&gw);
    assert_eq!(row.hook.as_deref(), Some("timeout"));
    assert_eq!(
        row.target.as_deref(),
        Some(format!("sip:route@{net}.2:{PBX_PORT}").as_str())
    );
    assert_eq!(row.final_status, Some(200));
}

/// When sipp's message trace says its first message arrived: the line
/// `----- 2026-12-06 11:55:37.508438` (UTC: the tests run sipp with TZ=UTC).
fn first_message_time(trace: &Path) -> SystemTime {
    let text = std::fs::read_to_string(trace).expect("sipp's message trace");
    let line = text
        .lines()
        .find(|l| l.starts_with("-----"))
        .expect("a message in the trace");
    let stamp = line.trim_start_matches('-').trim();
    let (date, time) = stamp.split_once(' ').expect("date and time");
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (hms, micros) = time.split_once('.').expect("microseconds");
    let t: Vec<u64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    let days = days_from_civil(d[0], d[1], d[2]);
    let secs = days as u64 * 86_400 + t[0] * 3600 + t[1] * 60 + t[2];
    UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros.parse().unwrap())
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[test]
fn the_civil_day_count_is_right() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    assert_eq!(days_from_civil(2026, 12, 6), 20_793);
}
