//! The call history in the data directory with a real gateway and sipp
//! peers on 127.0.160.0/22 (issue 19): a call's row, with its X-PH
//! values, route and cause, is there after a restart; a kill -9 in the
//! middle of a burst of calls leaves a readable database; a damaged file
//! leaves the gateway running, without history.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{GatewayProcess, Scenario, Sipp};
use pbxgate::store::{CallQuery, CallRow, Store, INTERRUPTED};

const PBX_PORT: u16 = 35090;
const T: Duration = Duration::from_secs(60);

/// Route `queue-a` for AFID 5678 to the PBX on NET.2, with the header
/// actions call_pbx_uas_5678.xml checks.
fn config(net: &str) -> String {
    format!(
        "[sip]\nt1_ms = 100\n\
         [[route]]\nname = \"queue-a\"\nfrom = \"wan\"\n\
         match = [{{ header = \"X-PH-RetreaverAFID\", equals = \"5678\" }}]\n\
         targets = [{{ uri = \"sip:queue-a@{net}.2:{PBX_PORT}\" }}]\n\
         headers = [\n  {{ action = \"rename\", from = \"X-PH-RetreaverAFID\", name = \"X-Publisher-ID\" }},\n  \
         {{ action = \"pass\", name = \"X-Campaign-ID\" }},\n  \
         {{ action = \"set\", name = \"X-Route\", value = \"queue-a\" }},\n  \
         {{ action = \"strip\", name = \"X-PH-RetreaverKey\" }},\n]\n"
    )
}

/// The PBX answering AFID 5678 calls on NET.2.
fn pbx(net: &str, calls: u32) -> Sipp {
    Sipp::new("call_pbx_uas_5678.xml")
        .on(&format!("{net}.2"), PBX_PORT)
        .calls(calls)
}

/// The cloud on NET.7 calling with X-PH headers, AFID 5678 on every call
/// (`csv`: a file of its own holding only that AFID).
fn cloud(net: &str, csv: &str) -> Sipp {
    Sipp::new("call_cloud_uac.xml")
        .on(&format!("{net}.7"), 35100)
        .args(&["-inf", csv])
}

/// A CSV for call_cloud_uac.xml with AFID 5678 only, in the data
/// directory (removed with it).
fn afid_5678(gw: &GatewayProcess) -> String {
    let path = gw.data_dir.join("afid_5678.csv");
    std::fs::write(&path, "SEQUENTIAL\n5678;\n").expect("csv");
    path.to_str().expect("path").to_string()
}

fn db(gw: &GatewayProcess) -> PathBuf {
    Store::path_in(&gw.data_dir)
}

fn header<'a>(list: &'a [(String, String)], name: &str) -> Option<&'a str> {
    list.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn a_call_and_its_x_ph_values_are_in_the_history_after_a_restart() {
    let net = "127.0.160";
    let mut gw = GatewayProcess::start(&format!("{net}.1"), 35060, &config(net));
    gw.wait_for_output("history:", Duration::from_secs(5));
    assert!(
        gw.stdout().contains("pbxgate.db (0 call(s)"),
        "{}",
        gw.stdout()
    );
    let csv = afid_5678(&gw);
    Scenario::new(&gw)
        .peer(pbx(net, 1), "the PBX got the call with its mapped headers")
        .caller(cloud(net, &csv).args(&["-l", "1"]), "the cloud's call")
        .timeout(T)
        .run();
    gw.restart();
    gw.wait_for_output("history:", Duration::from_secs(5));
    assert!(
        gw.stdout().contains("pbxgate.db (1 call(s)"),
        "{}",
        gw.stdout()
    );

    let store = Store::open(&db(&gw)).expect("the history opens");
    let found = store
        .search(&CallQuery {
            retreaver_afid: Some("5678".into()),
            ..CallQuery::default()
        })
        .expect("search");
    let [call] = &found[..] else {
        panic!("one call with AFID 5678: {found:?}")
    };
    let CallRow {
        direction,
        route,
        hangup_cause,
        final_status,
        retreaver_uuid,
        retreaver_key,
        retreaver_sid,
        ..
    } = call;
    assert_eq!(direction, "inbound");
    assert_eq!(route.as_deref(), Some("queue-a"));
    assert_eq!(hangup_cause.as_deref(), Some("caller_hangup"));
    assert_eq!(*final_status, Some(200));
    assert!(
        retreaver_uuid
            .as_deref()
            .is_some_and(|u| u.ends_with("-uuid")),
        "{retreaver_uuid:?}"
    );
    assert_eq!(retreaver_key.as_deref(), Some("key-1"));
    assert_eq!(retreaver_sid.as_deref(), Some("sub-7"));
    // Headers in, from the PBX, and out to it.
    assert_eq!(header(&call.x_headers, "X-Campaign-ID"), Some("camp-5678"));
    assert_eq!(header(&call.x_headers, "X-PH-RetreaverAFID"), Some("5678"));
    assert_eq!(
        header(&call.callee_x_headers, "X-Agent"),
        Some("agent-5678")
    );
    assert_eq!(header(&call.headers_out, "X-Publisher-ID"), Some("5678"));
    assert_eq!(header(&call.headers_out, "X-Route"), Some("queue-a"));
    // Both legs' Call-IDs, the times, the media.
    let callee_call_id = call.callee_call_id.as_deref().unwrap_or_default();
    assert!(!call.caller_call_id.is_empty() && !callee_call_id.is_empty());
    assert_ne!(call.caller_call_id, callee_call_id);
    assert!(call
        .target
        .as_deref()
        .unwrap_or_default()
        .contains("queue-a@"));
    let (answered, ended) = (call.answered.expect("answered"), call.ended.expect("ended"));
    assert!(call.started <= answered && answered <= ended);
    let caller_media = call.caller_media.as_ref().expect("caller media");
    assert_eq!(caller_media.codec.as_deref(), Some("PCMU"));
    // The same call by the other criteria a history page searches by.
    let by = |q: CallQuery| {
        let rows = store.search(&q).expect("search");
        rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>()
    };
    let one = vec![call.id.clone()];
    assert_eq!(
        by(CallQuery {
            number: Some("5551230000".into()),
            route: Some("queue-a".into()),
            cause: Some("caller_hangup".into()),
            ..CallQuery::default()
        }),
        one
    );
    assert_eq!(
        by(CallQuery {
            retreaver_uuid: retreaver_uuid.clone(),
            ..CallQuery::default()
        }),
        one
    );
    assert!(gw.is_running());
}

#[test]
fn a_kill_during_a_burst_of_calls_leaves_a_readable_history() {
    let net = "127.0.161";
    let mut gw = GatewayProcess::start(&format!("{net}.1"), 35060, &config(net));
    let csv = afid_5678(&gw);
    let pbx = pbx(net, 10_000).start();
    let cloud = cloud(net, &csv)
        .to(gw.wan())
        .calls(10_000)
        .args(&["-r", "40", "-l", "100"])
        .start();
    // Calls are being written: kill the gateway in the middle of it.
    let start = Instant::now();
    let seen = loop {
        let n = Store::open(&db(&gw))
            .and_then(|s| s.count_calls())
            .unwrap_or(0);
        if n >= 30 {
            break n;
        }
        assert!(start.elapsed() < T, "only {n} calls written:\n{}", gw.log());
        std::thread::sleep(Duration::from_millis(50));
    };
    gw.kill();
    // No more calls: what the restart finds open is what the kill cut.
    drop((cloud, pbx));
    let store = Store::open(&db(&gw)).expect("the history opens after kill -9");
    let kept = store.count_calls().expect("count");
    assert!(kept >= seen, "{kept} calls after the kill, {seen} before");
    drop(store);

    // The next start keeps the history and closes the calls the kill cut.
    gw.restart();
    gw.wait_for_output("history:", Duration::from_secs(5));
    let out = gw.stdout();
    assert!(!out.contains("not kept"), "{out}");
    let store = Store::open(&db(&gw)).expect("the history opens");
    let all = store
        .search(&CallQuery {
            limit: 1000,
            ..CallQuery::default()
        })
        .expect("search");
    assert!(all.len() as u64 >= seen);
    let open: Vec<&CallRow> = all
        .iter()
        .filter(|r| r.ended.is_none() && r.hangup_cause.as_deref() != Some(INTERRUPTED))
        .collect();
    assert!(
        open.is_empty(),
        "calls still open after the restart: {open:?}"
    );
}

#[test]
fn a_damaged_history_leaves_the_gateway_running_without_one() {
    let net = "127.0.162";
    let mut gw = GatewayProcess::start(&format!("{net}.1"), 35060, &config(net));
    gw.terminate(Duration::from_secs(10)).expect("stops");
    for name in ["pbxgate.db-wal", "pbxgate.db-shm"] {
        let _ = std::fs::remove_file(gw.data_dir.join(name));
    }
    std::fs::write(db(&gw), "not a database\n".repeat(200)).expect("overwrite");
    gw.restart();
    gw.wait_for_output("history:", Duration::from_secs(5));
    let out = gw.stdout();
    assert!(
        out.contains("history: not kept:")
            && out.contains("is not a pbxgate database or is damaged"),
        "{out}"
    );
    gw.wait_for_log_line(&["the call history is not kept", "pbxgate.db"], T);
    // Calls go on.
    let csv = afid_5678(&gw);
    Scenario::new(&gw)
        .peer(pbx(net, 1), "the PBX got the call")
        .caller(cloud(net, &csv).args(&["-l", "1"]), "the cloud's call")
        .timeout(T)
        .run();
    assert!(gw.is_running());
}
