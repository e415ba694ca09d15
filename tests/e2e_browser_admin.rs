//! The administrator's first steps in a real browser (issue 19): the first
//! login with the one-time password, a wrong allow-list entry refused at
//! its field, and "Test a call" naming the route a real sipp call then
//! takes. Each test starts a real gateway, runs one browser scenario from
//! tests/browser/scenarios/ and checks afterwards what the box did.
//! Addresses 127.0.190.* - 127.0.194.*.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::browser::{scenario, screenshots};
use common::https::Client;
use common::{GatewayProcess, Scenario, Sipp};

const WEB_PORT: u16 = 18443;
const PBX_PORT: u16 = 35090;
const NEW_PASSWORD: &str = "a password of my own";

/// Starts a gateway on `ip` with the web page on ip:WEB_PORT and `config`
/// (which may add keys to `[web]` with `web`); returns it, the page's
/// address and the one-time password the banner printed.
fn start(ip: &str, web: &str, config: &str) -> (GatewayProcess, SocketAddr, String) {
    let config = format!("[web]\nbind = \"{ip}:{WEB_PORT}\"\n{web}\n{config}");
    let gw = GatewayProcess::start(ip, 35060, &config);
    // The banner's lines come one by one: wait for the password's own.
    gw.wait_for_output("web login: admin / ", Duration::from_secs(20));
    let out = gw.stdout();
    let line = out
        .lines()
        .find(|l| l.contains("web login: admin / "))
        .unwrap_or_else(|| panic!("no one-time password in the banner:\n{out}"));
    let one_time = line
        .split("web login: admin / ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .expect("the password after the user")
        .to_string();
    let addr = format!("{ip}:{WEB_PORT}").parse().unwrap();
    healthy(addr, &gw);
    (gw, addr, one_time)
}

fn healthy(addr: SocketAddr, gw: &GatewayProcess) {
    let mut c = Client::new(addr, &gw.data_dir);
    for _ in 0..50 {
        if c.get("/healthz").status == 200 {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("/healthz never answered 200:\n{}", gw.log());
}

/// A client connecting from `source` (the browser connects from
/// 127.0.0.1, so the login limit of one does not touch the other).
fn client_from(addr: SocketAddr, gw: &GatewayProcess, source: &str) -> Client {
    let mut c = Client::new(addr, &gw.data_dir);
    c.source = Some(source.parse().unwrap());
    c
}

/// Logs in with the one-time password and sets NEW_PASSWORD over HTTPS,
/// as an administrator would have done before the scenario's page.
fn set_first_password(addr: SocketAddr, gw: &GatewayProcess, one_time: &str, source: &str) {
    let mut c = client_from(addr, gw, source);
    let r = c.log_in("admin", one_time);
    assert_eq!(r.header("location"), Some("/first-password"), "{r:?}");
    let r = c.post_form(
        "/first-password",
        &[("password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)],
    );
    assert_eq!((r.status, r.header("location")), (303, Some("/")), "{r:?}");
}

fn url(addr: SocketAddr) -> String {
    format!("https://{addr}")
}

/// Acceptance 1: in the browser the one-time password logs in once and
/// leads only to "Set your password"; a wrong password is refused; after
/// `login_failures` failures the browser's address gets "Too many failed
/// logins" even with the right password. Afterwards, from other
/// addresses: the one-time password no longer logs in, the password the
/// browser set does, and the browser's address is still limited.
#[test]
fn first_login_one_time_password_forced_change_wrong_password_and_the_limit() {
    let ip = "127.0.190.1";
    let failures = 4;
    let (gw, addr, one_time) = start(ip, &format!("login_failures = {failures}\n"), "");
    let _ = std::fs::remove_file(screenshots().join("login.png"));
    let out = scenario(
        "first_login",
        &[
            ("PBXGATE_URL", &url(addr)),
            ("PBXGATE_USER", "admin"),
            ("PBXGATE_ONE_TIME", &one_time),
            ("PBXGATE_PASSWORD", NEW_PASSWORD),
            ("PBXGATE_LOGIN_FAILURES", &failures.to_string()),
        ],
    );
    eprintln!("{out}");
    assert!(screenshots().join("login.png").exists());

    // The one-time password worked once.
    let mut again = client_from(addr, &gw, "127.0.190.2");
    let r = again.log_in("admin", &one_time);
    assert_eq!(r.status, 401, "the one-time password logs in again: {r:?}");
    // The browser set the password that logs in now.
    let mut me = client_from(addr, &gw, "127.0.190.3");
    let r = me.log_in("admin", NEW_PASSWORD);
    assert_eq!((r.status, r.header("location")), (303, Some("/")), "{r:?}");
    assert_eq!(me.get("/api/v1/status").status, 200);
    // The browser's address (127.0.0.1) is limited, the others are not.
    let mut browser = client_from(addr, &gw, "127.0.0.1");
    let r = browser.log_in("admin", NEW_PASSWORD);
    assert_eq!(r.status, 429, "{r:?}");
}

/// Acceptance 2: an invalid CIDR typed into a listener's allow list in
/// the browser comes back with the error at that field, and the config
/// file keeps every byte; a valid change from the same page is saved.
#[test]
fn an_invalid_cidr_in_the_allow_list_is_named_at_its_field_and_nothing_is_saved() {
    let ip = "127.0.191.1";
    let (gw, addr, one_time) = start(ip, "", "");
    set_first_password(addr, &gw, &one_time, "127.0.191.2");
    let file = gw.data_dir.join("pbxgate.toml");
    let before = std::fs::read(&file).expect("config file");
    let _ = std::fs::remove_file(screenshots().join("allow-cidr-error.png"));
    let env = |step: &'static str| {
        vec![
            ("PBXGATE_URL", url(addr)),
            ("PBXGATE_USER", "admin".to_string()),
            ("PBXGATE_PASSWORD", NEW_PASSWORD.to_string()),
            ("ALLOW_CIDR_STEP", step.to_string()),
        ]
    };
    let run = |step: &'static str| {
        let env = env(step);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        eprintln!("{}", scenario("allow_cidr", &env));
    };

    run("invalid");
    let after = std::fs::read(&file).expect("config file");
    assert!(
        before == after,
        "the refused save changed the file:\n{}",
        String::from_utf8_lossy(&after)
    );
    assert!(screenshots().join("allow-cidr-error.png").exists());

    run("valid");
    let saved = std::fs::read_to_string(&file).expect("config file");
    assert!(
        saved.contains("192.0.2.0/24"),
        "the valid change is not in the file:\n{saved}"
    );
    assert!(
        !saved.contains("10.0.0.0/33"),
        "the refused entry got in:\n{saved}"
    );
    let mut c = client_from(addr, &gw, "127.0.191.3");
    assert_eq!(c.log_in("admin", NEW_PASSWORD).status, 303);
    let config = c.get("/api/v1/config").json();
    let text = config.to_string();
    assert!(text.contains("192.0.2.0/24"), "{text}");
}

/// Two routes for the cloud's calls: `queue-b` (AFID 9999, a PBX on NET.3
/// that is not there) first, `queue-a` (AFID 5678, the PBX on NET.2 that
/// call_pbx_uas_5678.xml plays) second, with the header actions that
/// scenario checks.
fn two_routes(net: &str) -> String {
    let route = |name: &str, afid: &str, host: &str| {
        format!(
            "[[route]]\nname = \"{name}\"\nfrom = \"wan\"\n\
             match = [{{ header = \"X-PH-RetreaverAFID\", equals = \"{afid}\" }}]\n\
             targets = [{{ uri = \"sip:{name}@{net}.{host}:{PBX_PORT}\" }}]\n\
             headers = [\n  {{ action = \"rename\", from = \"X-PH-RetreaverAFID\", name = \"X-Publisher-ID\" }},\n  \
             {{ action = \"pass\", name = \"X-Campaign-ID\" }},\n  \
             {{ action = \"set\", name = \"X-Route\", value = \"{name}\" }},\n  \
             {{ action = \"strip\", name = \"X-PH-RetreaverKey\" }},\n]\n"
        )
    };
    format!(
        "[sip]\nt1_ms = 100\n{}{}",
        route("queue-b", "9999", "3"),
        route("queue-a", "5678", "2")
    )
}

/// The INVITE call_cloud_uac.xml sends from CLOUD:35100 with Call-ID
/// CALL_ID and AFID 5678 (the X-PH headers as Retreaver sends them).
fn cloud_invite(gw: &GatewayProcess, cloud: &str, call_id: &str) -> String {
    let wan = gw.wan();
    let sdp = format!(
        "v=0\r\no=cloud 1 1 IN IP4 {cloud}\r\ns=-\r\nc=IN IP4 {cloud}\r\nt=0 0\r\n\
         m=audio 6000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"
    );
    format!(
        "INVITE sip:+18885550000@{wan} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {cloud}:35100;branch=z9hG4bK-bA-1\r\n\
         From: \"Cloud Caller\" <sip:+15551230000@{cloud}:35100>;tag=bA-1\r\n\
         To: <sip:+18885550000@{wan}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:cloud@{cloud}:35100>\r\n\
         Max-Forwards: 70\r\n\
         X-PH-RetreaverUUID: {call_id}-uuid\r\n\
         X-PH-RetreaverKey: key-1\r\n\
         X-PH-RetreaverAFID: 5678\r\n\
         X-PH-RetreaverSID: sub-7\r\n\
         X-Campaign-ID: camp-5678\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

/// Acceptance 3: "Test a call" with a pasted Retreaver INVITE names the
/// route (the second one, matched on X-PH-RetreaverAFID) and why the first
/// did not match; then the real call with the same headers reaches the
/// PBX of that route, and the log and the history name the same route.
#[test]
fn test_a_call_names_the_route_the_real_call_then_takes() {
    let net = "127.0.192";
    let (gw, addr, one_time) = start(&format!("{net}.1"), "", &two_routes(net));
    set_first_password(addr, &gw, &one_time, &format!("{net}.5"));
    let cloud = format!("{net}.7");
    // sipp's -cid_str with no % in it: the real call has this very Call-ID,
    // so its X-PH-RetreaverUUID is the pasted one too.
    let call_id = "bA-test-call-1";
    let invite = cloud_invite(&gw, &cloud, call_id);
    let _ = std::fs::remove_file(screenshots().join("test-call.png"));
    let out = scenario(
        "test_call",
        &[
            ("PBXGATE_URL", &url(addr)),
            ("PBXGATE_USER", "admin"),
            ("PBXGATE_PASSWORD", NEW_PASSWORD),
            ("PBXGATE_INVITE", &invite),
        ],
    );
    eprintln!("{out}");
    let shown = out
        .lines()
        .find_map(|l| l.strip_prefix("route-taken: "))
        .unwrap_or_else(|| panic!("the scenario printed no route:\n{out}"))
        .trim()
        .to_string();
    assert_eq!(shown, "queue-a");
    // The headers the page says the PBX gets are those its scenario checks.
    let headers = out
        .lines()
        .find_map(|l| l.strip_prefix("headers to the PBX: "))
        .unwrap_or_default();
    for h in [
        "X-Route: queue-a",
        "X-Publisher-ID: 5678",
        "X-Campaign-ID: camp-5678",
    ] {
        assert!(headers.contains(h), "{h} not among {headers:?}");
    }
    assert!(!headers.contains("X-PH-RetreaverKey"), "{headers:?}");
    let skipped = out
        .lines()
        .find_map(|l| l.strip_prefix("not matched: "))
        .unwrap_or_default();
    assert!(
        skipped.contains("queue-b") && skipped.contains("not equal to '9999'"),
        "the first route and why it did not match: {skipped:?}"
    );
    assert!(screenshots().join("test-call.png").exists());

    // The real call, with the same headers: the PBX of queue-a answers it
    // (call_pbx_uas_5678.xml checks X-Route: queue-a and the mapping);
    // queue-b's PBX on NET.3 does not exist, so a call sent there fails.
    let csv = gw.data_dir.join("afid_5678.csv");
    std::fs::write(&csv, "SEQUENTIAL\n5678;\n").expect("csv");
    Scenario::new(&gw)
        .peer(
            Sipp::new("call_pbx_uas_5678.xml").on(&format!("{net}.2"), PBX_PORT),
            "the PBX of queue-a got the call with queue-a's headers",
        )
        .caller(
            Sipp::new("call_cloud_uac.xml").on(&cloud, 35100).args(&[
                "-inf",
                csv.to_str().expect("path"),
                "-cid_str",
                call_id,
            ]),
            "the cloud's call",
        )
        .timeout(Duration::from_secs(60))
        .run();
    let line = gw.wait_for_log_line(&["new call", &cloud], Duration::from_secs(5));
    eprintln!("{line}");
    assert!(
        line.contains(&format!("route={shown}")),
        "the log names another route: {line}"
    );

    let mut c = client_from(addr, &gw, &format!("{net}.6"));
    assert_eq!(c.log_in("admin", NEW_PASSWORD).status, 303);
    // The row is updated as the call ends: wait for its final status.
    let mut found = serde_json::Value::Null;
    for _ in 0..50 {
        found = c.get(&format!("/api/v1/calls?uuid={call_id}-uuid")).json();
        if found["calls"][0]["final_status"] == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let calls = found["calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 1, "{found}");
    assert_eq!(calls[0]["route"], shown.as_str(), "{found}");
    assert_eq!(calls[0]["caller_call_id"], call_id, "{found}");
    assert_eq!(calls[0]["final_status"], 200, "{found}");
    assert_eq!(calls[0]["retreaver_afid"], "5678", "{found}");
}

/// System page: the backup without passwords is downloaded in the browser
/// (it holds no password but is otherwise the file), and a backup file
/// chosen in the restore form is checked, saved and applied.
#[test]
fn a_backup_is_downloaded_without_passwords_and_a_chosen_file_is_restored() {
    let ip = "127.0.193.1";
    let users =
        "[inbound_auth]\nusers = [{ username = \"retreaver\", password = \"s3cret-inbound\" }]\n";
    let (gw, addr, one_time) = start(ip, "", users);
    set_first_password(addr, &gw, &one_time, "127.0.193.2");
    let file = gw.data_dir.join("pbxgate.toml");
    let current = std::fs::read_to_string(&file).expect("config file");
    assert!(current.contains("s3cret-inbound"), "{current}");
    let restore = gw.data_dir.join("restore-me.toml");
    assert!(!current.contains("[emergency]"), "{current}");
    let wanted = format!("{current}\n[emergency]\nnumbers = [\"911\", \"933\"]\n");
    std::fs::write(&restore, &wanted).expect("restore file");
    let backup = gw.data_dir.join("downloaded.toml");
    let env = [
        ("PBXGATE_URL", url(addr)),
        ("PBXGATE_USER", "admin".to_string()),
        ("PBXGATE_PASSWORD", NEW_PASSWORD.to_string()),
        ("BACKUP_OUT", backup.to_str().unwrap().to_string()),
        ("RESTORE_FILE", restore.to_str().unwrap().to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    eprintln!("{}", scenario("backup_restore", &env));

    let downloaded = std::fs::read_to_string(&backup).expect("the download");
    assert!(downloaded.contains("retreaver"), "{downloaded}");
    assert!(!downloaded.contains("s3cret-inbound"), "{downloaded}");
    let saved = std::fs::read_to_string(&file).expect("config file");
    assert!(
        saved.contains("\"933\""),
        "the restored file is not saved:\n{saved}"
    );
    assert!(
        saved.contains("s3cret-inbound"),
        "the password was lost:\n{saved}"
    );
    let mut c = client_from(addr, &gw, "127.0.193.3");
    assert_eq!(c.log_in("admin", NEW_PASSWORD).status, 303);
    let emergency = c.get("/api/v1/config/emergency").json();
    assert_eq!(
        emergency["numbers"],
        serde_json::json!(["911", "933"]),
        "{emergency}"
    );
}
