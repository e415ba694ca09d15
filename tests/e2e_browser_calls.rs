//! Calls seen and steered from the web page in a real browser (issue 19):
//! the status page during a live sipp call and a registration, the call in
//! the history after a restart, and a route added in the browser taking
//! the next call while a call with RTP goes on through the save.
//! Addresses 127.0.195.* - 127.0.196.*.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::browser::{scenario, screenshots};
use common::https::Client;
use common::{md5_registrar, media_pbx, GatewayProcess, Scenario, Sipp};
use pbxgate::media::rtp::write_header;

const T: Duration = Duration::from_secs(60);
const PASSWORD: &str = "a password of my own";

/// Starts a gateway on IP with `config` and its page on IP:8443, sets the
/// admin's own password (the one-time one from the banner is not kept);
/// returns the gateway, the page's address and a logged-in client.
fn gateway_with_page(ip: &str, config: &str) -> (GatewayProcess, SocketAddr, Client) {
    let config = format!("[web]\nbind = \"{ip}:8443\"\n{config}");
    let gw = GatewayProcess::start(ip, 35060, &config);
    let addr: SocketAddr = format!("{ip}:8443").parse().unwrap();
    let admin = common::https::first_login(&gw, addr, PASSWORD);
    (gw, addr, admin)
}

/// What the browser scenarios read to reach the page and log in.
fn page_env(addr: SocketAddr) -> Vec<(&'static str, String)> {
    vec![
        ("PBXGATE_URL", format!("https://{addr}")),
        ("PBXGATE_USER", "admin".into()),
        ("PBXGATE_PASSWORD", PASSWORD.into()),
    ]
}

fn run_scenario(name: &str, env: &[(&'static str, String)]) -> String {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = scenario(name, &env);
    println!("{out}");
    out
}

/// Polls GET /api/v1/status until `pick` finds what it wants in it.
fn wait_status<R>(
    client: &mut Client,
    what: &str,
    mut pick: impl FnMut(&serde_json::Value) -> Option<R>,
) -> R {
    let start = Instant::now();
    loop {
        let status = client.get("/api/v1/status").json();
        if let Some(r) = pick(&status) {
            return r;
        }
        assert!(start.elapsed() < T, "{what}: never in the status: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A CSV for the cloud scenarios with this AFID only, in the data
/// directory (removed with it).
fn afid_csv(gw: &GatewayProcess, afid: &str) -> String {
    let path = gw.data_dir.join(format!("afid_{afid}.csv"));
    std::fs::write(&path, format!("SEQUENTIAL\n{afid};\n")).expect("csv");
    path.to_str().expect("path").to_string()
}

/// Route `queue-a` for AFID 5678 to the PBX on NET.2 with the header
/// actions call_pbx_uas_5678.xml checks, and the account registering at
/// the registrar on NET.5.
fn status_config(net: &str) -> String {
    format!(
        "[sip]\nt1_ms = 100\n\n\
         [[account]]\nname = \"cloud\"\nregistrar = \"sip:{net}.5:35160\"\n\
         username = \"alice\"\npassword = \"secret\"\nexpires_s = 30\nkeepalive_interval_s = 0\n\
         retry_base_s = 1\nretry_max_s = 2\n\n\
         [[route]]\nname = \"queue-a\"\nfrom = \"wan\"\n\
         match = [{{ header = \"X-PH-RetreaverAFID\", equals = \"5678\" }}]\n\
         targets = [{{ uri = \"sip:queue-a@{net}.2:35090\" }}]\n\
         headers = [\n  {{ action = \"rename\", from = \"X-PH-RetreaverAFID\", name = \"X-Publisher-ID\" }},\n  \
         {{ action = \"pass\", name = \"X-Campaign-ID\" }},\n  \
         {{ action = \"set\", name = \"X-Route\", value = \"queue-a\" }},\n  \
         {{ action = \"strip\", name = \"X-PH-RetreaverKey\" }},\n]\n"
    )
}

/// Acceptance 1: the status page shows the registration and the live call
/// with both legs (screenshot `status.png` while it is up); after the call
/// and a restart the call is in the history, with its X-PH values, on
/// /calls and on the call's own page.
#[test]
fn the_status_page_shows_a_live_call_and_the_history_keeps_it_after_a_restart() {
    let net = "127.0.195";
    let registrar =
        md5_registrar(&format!("{net}.5"), 30, 0, (&format!("{net}.250"), 45999)).start();
    let (mut gw, addr, mut admin) = gateway_with_page(&format!("{net}.1"), &status_config(net));
    wait_status(&mut admin, "the registration", |s| {
        (s["registrations"][0]["state"] == "registered").then_some(())
    });

    let pbx = Sipp::new("call_pbx_uas_5678.xml")
        .on(&format!("{net}.2"), 35090)
        .start();
    let caller = Sipp::new("web_cloud_uac_hold.xml")
        .on(&format!("{net}.7"), 35100)
        .to(gw.wan())
        .args(&["-inf", &afid_csv(&gw, "5678"), "-d", "15000"])
        .start();
    let call = wait_status(&mut admin, "the answered call", |s| {
        s["calls_active"]
            .as_array()?
            .iter()
            .find(|c| c["answered"] == true)
            .cloned()
    });
    let id = call["id"].as_str().expect("call id").to_string();
    let caller_call_id = call["caller_call_id"]
        .as_str()
        .expect("caller leg")
        .to_string();
    let callee_call_id = call["callee_call_id"]
        .as_str()
        .expect("callee leg")
        .to_string();
    let mut env = page_env(addr);
    env.extend([
        ("ACCOUNT", "cloud".to_string()),
        ("CALL_ID", id.clone()),
        ("CALLER_CALL_ID", caller_call_id.clone()),
        ("CALLEE_CALL_ID", callee_call_id.clone()),
        ("ROUTE", "queue-a".into()),
        ("TARGET", format!("sip:queue-a@{net}.2:35090")),
    ]);
    run_scenario("status_call", &env);
    assert!(screenshots().join("status.png").exists());
    // The browser looked while the call was up: it is still up now.
    let still = admin.get("/api/v1/status").json();
    assert!(
        still["calls_active"]
            .as_array()
            .is_some_and(|a| a.iter().any(|c| c["id"] == id.as_str())),
        "the call ended before the browser was done: {still}"
    );

    caller
        .wait(T)
        .assert_success("the cloud held the call, then hung up");
    pbx.wait(T)
        .assert_success("the PBX got the call with its mapped headers and the BYE");

    gw.restart();
    registrar
        .wait(T)
        .assert_success("the registrar saw the registration and the un-REGISTER at the restart");
    gw.wait_for_output("history:", Duration::from_secs(5));
    assert!(
        gw.stdout().contains("pbxgate.db (1 call(s)"),
        "{}",
        gw.stdout()
    );
    // The same call, by the same id, read back from the restarted gateway.
    let mut after = Client::login(addr, &gw.data_dir, "admin", PASSWORD);
    let row = after.get(&format!("/api/v1/calls/{id}")).json();
    assert_eq!(row["in_progress"], false, "{row}");
    assert_eq!(row["hangup_cause"], "caller_hangup", "{row}");
    let mut env = page_env(addr);
    env.extend([
        ("CALL_ID", id),
        ("CALLER_CALL_ID", caller_call_id.clone()),
        ("CALLEE_CALL_ID", callee_call_id),
        // call_cloud_uac's UUID is its Call-ID and "-uuid".
        ("UUID", format!("{caller_call_id}-uuid")),
        ("AFID", "5678".into()),
        ("ROUTE", "queue-a".into()),
    ]);
    run_scenario("history_after_restart", &env);
    assert!(screenshots().join("call.png").exists());
}

/// Sends a PCMU packet every 20 ms from `sock` to `to` until `stop`;
/// returns how many it sent.
fn send_rtp(sock: &UdpSocket, to: SocketAddr, ssrc: u32, stop: Arc<AtomicBool>) -> JoinHandle<u32> {
    let sock = sock.try_clone().expect("socket");
    std::thread::spawn(move || {
        let mut n = 0u32;
        let start = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let mut p = vec![0xffu8; 172];
            write_header(&mut p, n == 0, 0, n as u16, n.wrapping_mul(160), ssrc);
            let _ = sock.send_to(&p, to);
            n += 1;
            // Paced on the clock, not on the sleeps, so a busy machine
            // does not slow the stream down.
            let next = start + Duration::from_millis(20 * u64::from(n));
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
        n
    })
}

/// When each packet arrived on `sock`, until `stop`.
fn arrivals(sock: &UdpSocket, stop: Arc<AtomicBool>) -> JoinHandle<Vec<Instant>> {
    let sock = sock.try_clone().expect("socket");
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    std::thread::spawn(move || {
        let mut at = Vec::new();
        let mut buf = [0u8; 2048];
        while !stop.load(Ordering::Relaxed) {
            if sock.recv_from(&mut buf).is_ok() {
                at.push(Instant::now());
            }
        }
        at
    })
}

/// The longest silence between `from` and the last packet, and how many
/// packets came after `from`.
fn after(at: &[Instant], from: Instant) -> (Duration, usize) {
    let later: Vec<Instant> = at.iter().copied().filter(|t| *t >= from).collect();
    let mut gap = Duration::ZERO;
    let mut prev = from;
    for t in &later {
        gap = gap.max(t.duration_since(prev));
        prev = *t;
    }
    (gap, later.len())
}

/// Acceptance 2: a route added in the browser takes the very next call,
/// without a restart, while a call in progress during the save keeps its
/// media both ways and ends normally.
#[test]
fn a_route_added_in_the_browser_takes_the_next_call_while_a_call_keeps_its_media() {
    let net = "127.0.196";
    // Calls without X-PH-RetreaverAFID go to the PBX on NET.2; nothing
    // takes a call with one until the browser adds a route.
    let config = format!(
        "[sip]\nt1_ms = 100\n[media]\nport_min = 30000\nport_max = 30999\n\
         [[route]]\nname = \"old\"\n\
         match = [{{ header = \"X-PH-RetreaverAFID\", absent = true }}]\n\
         targets = [{{ uri = \"sip:old@{net}.2:35090\" }}]\n"
    );
    let (gw, addr, mut admin) = gateway_with_page(&format!("{net}.1"), &config);

    // The call in progress: the test owns both ends' RTP sockets, where
    // the SDPs say (the cloud's at NET.7:40000, the PBX's at NET.2:42000).
    let cloud_rtp = UdpSocket::bind(format!("{net}.7:40000")).expect("cloud RTP socket");
    let pbx_rtp = UdpSocket::bind(format!("{net}.2:42000")).expect("PBX RTP socket");
    let old_pbx = media_pbx("media_pbx_uas.xml", &format!("{net}.2"), 42000, 0).start();
    let long_call = Sipp::new("media_cloud_uac_at.xml")
        .on(&format!("{net}.7"), 35100)
        .to(gw.wan())
        .args(&["-d", "30000"])
        .key("sdp_ip", format!("{net}.7"))
        .key("sdp_port", 40000)
        .key("pt", 0)
        .start();
    let call = wait_status(&mut admin, "the long call answered", |s| {
        s["calls_active"]
            .as_array()?
            .iter()
            .find(|c| c["answered"] == true)
            .cloned()
    });
    assert_eq!(call["route"], "old", "{call}");
    // The gateway's ports: the first pair of the range for the caller's
    // leg, the next for the callee's.
    let stop = Arc::new(AtomicBool::new(false));
    let to_pbx = arrivals(&pbx_rtp, stop.clone());
    let to_cloud = arrivals(&cloud_rtp, stop.clone());
    let from_cloud = send_rtp(
        &cloud_rtp,
        format!("{net}.1:30000").parse().unwrap(),
        0x0c10d,
        stop.clone(),
    );
    let from_pbx = send_rtp(
        &pbx_rtp,
        format!("{net}.1:30002").parse().unwrap(),
        0x0b0b,
        stop.clone(),
    );
    std::thread::sleep(Duration::from_secs(1));

    let mut env = page_env(addr);
    env.extend([
        ("ROUTE", "afid-9999".to_string()),
        ("MATCH_HEADER", "X-PH-RetreaverAFID".into()),
        ("MATCH_EQUALS", "9999".into()),
        ("TARGET", format!("sip:new@{net}.3:35090")),
    ]);
    run_scenario("route_live", &env);
    let saved = Instant::now();
    assert!(screenshots().join("route_saved.png").exists());

    // The very next call, AFID 9999, reaches the new route's PBX on NET.3.
    Scenario::new(&gw)
        .peer(
            media_pbx("media_pbx_uas.xml", &format!("{net}.3"), 42000, 0),
            "the new route's PBX answered the call and got the BYE",
        )
        .caller(
            Sipp::new("call_cloud_uac.xml")
                .on(&format!("{net}.8"), 35100)
                .args(&["-inf", &afid_csv(&gw, "9999")]),
            "the call with AFID 9999 was answered",
        )
        .timeout(T)
        .run();
    std::thread::sleep(Duration::from_secs(1));
    let checked = Instant::now();
    let still = admin.get("/api/v1/status").json();
    assert!(
        still["calls_active"]
            .as_array()
            .is_some_and(|a| a.iter().any(|c| c["id"] == call["id"])),
        "the long call ended before the checks: {still}"
    );
    stop.store(true, Ordering::Relaxed);
    let (sent_cloud, sent_pbx) = (from_cloud.join().unwrap(), from_pbx.join().unwrap());
    let (at_pbx, at_cloud) = (to_pbx.join().unwrap(), to_cloud.join().unwrap());

    long_call
        .wait(T)
        .assert_success("the call in progress during the save ended normally (BYE, 200)");
    old_pbx
        .wait(T)
        .assert_success("the old route's PBX kept the call until the caller's BYE");
    // Its media went on through the save and after it, both ways.
    for (what, at, sent) in [
        ("cloud -> PBX", &at_pbx, sent_cloud),
        ("PBX -> cloud", &at_cloud, sent_pbx),
    ] {
        let (gap, n) = after(at, saved);
        let expected = (checked - saved).as_millis() / 20;
        assert!(
            n as u128 >= expected * 8 / 10,
            "{what}: {n} packets after the save, {expected} expected ({} of {sent} in all)",
            at.len()
        );
        assert!(
            gap < Duration::from_millis(500),
            "{what}: a {gap:?} silence after the save"
        );
        assert!(
            at.len() as u32 + 50 >= sent,
            "{what}: {} of {sent} packets relayed",
            at.len()
        );
    }
    // The history names the new route for the new call.
    let rows = admin.get("/api/v1/calls?route=afid-9999").json();
    let rows = rows["calls"].as_array().expect("calls").clone();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["retreaver_afid"], "9999");
    let saved_file = std::fs::read_to_string(gw.data_dir.join("pbxgate.toml")).expect("config");
    assert!(saved_file.contains("afid-9999"), "{saved_file}");
}
