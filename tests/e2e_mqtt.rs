//! The outbox's MQTT sink against Debian's mosquitto, started by the test
//! on 127.0.208.1 with a configuration of its own (a password file, a
//! persistent store), and a real `mosquitto_sub` subscriber. Events are
//! appended to the gateway's outbox as the event writer does (another
//! connection to the same database: WAL), and must arrive on the right
//! topics, in order, each once while nothing fails, and none lost when the
//! broker is stopped and started again.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use common::{Gateway, GatewayProcess};
use pbxgate::store::{NewEvent, Store};

const BROKER_IP: &str = "127.0.208.1";
const GATEWAY_IP: &str = "127.0.208.2";
const USER: &str = "box17";
const PASSWORD: &str = "s3cret word";
const T: Duration = Duration::from_secs(30);
// Gateways: WAN on 38840, 38850, 38880, 38910, 38920; LAN 20 above each.

/// Calls `f` every 50 ms until it returns something or `timeout` passes.
fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if std::time::Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A mosquitto of the test's own on BROKER_IP:port: users from a password
/// file, sessions kept on disk across its restarts (so the subscriber's
/// queued messages survive, as on a production broker).
struct Broker {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Broker {
    fn start(tag: &str, port: u16) -> Broker {
        Broker::with_tls(tag, port, None)
    }

    /// Also a TLS listener on `tls_port`, its certificate for BROKER_IP
    /// from a CA of the test's own (`ca.pem` in the broker's directory).
    fn with_tls(tag: &str, port: u16, tls_port: Option<u16>) -> Broker {
        let dir = std::env::temp_dir().join(format!("pbxgate-mqtt-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // Started as root, mosquitto runs as its own user: it must write
        // its sessions and log here.
        let open = std::os::unix::fs::PermissionsExt::from_mode(0o777);
        std::fs::set_permissions(&dir, open).unwrap();
        let passwd = dir.join("passwd");
        let ok = Command::new("mosquitto_passwd")
            .args(["-b", "-c"])
            .arg(&passwd)
            .args([USER, PASSWORD])
            .status()
            .expect("mosquitto_passwd (Debian package mosquitto)");
        assert!(ok.success());
        let ok = Command::new("mosquitto_passwd")
            .args(["-b"])
            .arg(&passwd)
            .args(["watcher", "w"])
            .status()
            .unwrap();
        assert!(ok.success());
        let mut conf = format!(
            "listener {port} {BROKER_IP}\nallow_anonymous false\npassword_file {}\n\
             persistence true\npersistence_location {}/\nlog_dest file {}\n",
            passwd.display(),
            dir.display(),
            dir.join("broker.log").display()
        );
        if let Some(tls_port) = tls_port {
            make_certificates(&dir);
            conf.push_str(&format!(
                "listener {tls_port} {BROKER_IP}\ncertfile {d}/server.pem\nkeyfile {d}/server-key.pem\n",
                d = dir.display()
            ));
        }
        std::fs::write(dir.join("mosquitto.conf"), conf).unwrap();
        let mut b = Broker {
            dir,
            port,
            child: None,
        };
        b.up();
        b
    }

    fn up(&mut self) {
        let child = Command::new(mosquitto())
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto");
        self.child = Some(child);
        let addr = format!("{BROKER_IP}:{}", self.port);
        poll(T, || std::net::TcpStream::connect(&addr).ok()).expect("mosquitto listens");
    }

    /// SIGTERM: mosquitto writes its sessions to disk and ends.
    fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("mqtt://{BROKER_IP}:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// ca.pem, and server.pem + server-key.pem for BROKER_IP signed by it.
fn make_certificates(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![BROKER_IP.to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server-key.pem"), key.serialize_pem()).unwrap();
    // mosquitto reads them as its own user.
    let readable = std::os::unix::fs::PermissionsExt::from_mode(0o644);
    std::fs::set_permissions(dir.join("server-key.pem"), readable).unwrap();
}

fn mosquitto() -> &'static str {
    if Path::new("/usr/sbin/mosquitto").exists() {
        "/usr/sbin/mosquitto"
    } else {
        "mosquitto"
    }
}

/// `mosquitto_sub -v -t 'pbxgate/#'` with a session the broker keeps
/// (QoS 1, fixed client id, not clean): what it printed, a line a message.
struct Subscriber {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Subscriber {
    fn start(broker: &Broker) -> Subscriber {
        let mut child = Command::new("mosquitto_sub")
            .args(["-h", BROKER_IP, "-p", &broker.port.to_string()])
            .args([
                "-u",
                "watcher",
                "-P",
                "w",
                "-i",
                "e2e-watcher",
                "-c",
                "-q",
                "1",
            ])
            .args(["-v", "-t", "pbxgate/#"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub (Debian package mosquitto-clients)");
        let out = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(l);
            }
        });
        let s = Subscriber { child, lines };
        // Subscribed once a probe comes back.
        let got = poll(T, || {
            let _ = Command::new("mosquitto_pub")
                .args(["-h", BROKER_IP, "-p", &broker.port.to_string()])
                .args(["-u", "watcher", "-P", "w", "-t", "pbxgate/probe", "-m", "p"])
                .status();
            std::thread::sleep(Duration::from_millis(200));
            s.lines()
                .iter()
                .any(|l| l.starts_with("pbxgate/probe"))
                .then_some(())
        });
        got.expect("the subscriber gets messages");
        s
    }

    /// (topic, payload) of each message but the probes, in arrival order.
    fn events(&self) -> Vec<(String, String)> {
        self.lines()
            .iter()
            .filter(|l| !l.starts_with("pbxgate/probe"))
            .filter_map(|l| l.split_once(' '))
            .map(|(t, p)| (t.to_string(), p.to_string()))
            .collect()
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// What arrived once `n` distinct events have (repeats are allowed:
    /// QoS 1 is at least once).
    fn wait_for(&self, n: usize) -> Vec<(String, String)> {
        poll(T, || {
            let e = self.events();
            let mut distinct = ids(&e);
            distinct.sort();
            distinct.dedup();
            (distinct.len() >= n).then_some(e)
        })
        .unwrap_or_else(|| panic!("fewer than {n} events arrived: {:#?}", self.events()))
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A call's event as the event writer appends it: its JSON body, for the
/// gateway's webhooks (none here) and "mqtt".
fn event(id: &str, call: &str, name: &str) -> NewEvent {
    let body = if name == "registration" {
        format!(r#"{{"event":"registration","eventId":"{id}","state":"up"}}"#)
    } else {
        format!(r#"{{"event":"{name}","eventId":"{id}","callId":"{call}"}}"#)
    };
    NewEvent {
        event_id: id.into(),
        call_key: if name == "registration" {
            "registration".into()
        } else {
            call.into()
        },
        created: SystemTime::now(),
        body,
        sinks: vec!["mqtt".into()],
    }
}

fn append(gw: &GatewayProcess, events: &[NewEvent]) {
    let mut store = Store::open(&Store::path_in(&gw.data_dir)).unwrap();
    store.write_calls_and_events(&[], events).unwrap();
}

fn depth(gw: &GatewayProcess) -> u64 {
    let store = Store::open(&Store::path_in(&gw.data_dir)).unwrap();
    store
        .outbox_backlog()
        .unwrap()
        .iter()
        .filter(|b| b.sink == "mqtt")
        .map(|b| b.depth)
        .sum()
}

fn gateway(broker: &Broker, wan_port: u16, login: &str) -> GatewayProcess {
    Gateway {
        config: format!(
            "[mqtt]\nurl = \"{}\"\n{login}box_id = \"shop-17\"\nkeepalive_s = 5\n\n\
             [web]\nbind = \"{GATEWAY_IP}:{}\"\nmetrics_allow = [\"127.0.0.1\"]\n",
            broker.url(),
            wan_port + 1000
        ),
        rust_log: "info,pbxgate=debug".into(),
        ..Gateway::new(GATEWAY_IP, wan_port)
    }
    .start()
}

fn login() -> String {
    format!("username = \"{USER}\"\npassword = \"{PASSWORD}\"\n")
}

/// The event ids of `got` in order.
fn ids(got: &[(String, String)]) -> Vec<String> {
    got.iter()
        .map(|(_, p)| {
            let v: serde_json::Value = serde_json::from_str(p).expect("JSON payload");
            v["eventId"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn events_reach_the_broker_on_their_topics_in_order_and_survive_a_broker_restart() {
    let mut broker = Broker::start("order", 38830);
    let sub = Subscriber::start(&broker);
    let mut gw = gateway(&broker, 38840, &login());
    gw.wait_for_output("mqtt:   mqtt://127.0.208.1:38830 as box shop-17", T);
    gw.wait_for_log_line(&["mqtt: connected", "shop-17"], T);

    // Appended while the gateway runs, a call with an awkward Call-ID.
    let first = [
        event("e1", "c1", "newCall"),
        event("e2", "c1", "answer"),
        event("e3", "reg", "registration"),
        event("e4", "c1", "dtmf"),
        event("e5", "c1", "hangup"),
        event("e6", "a/b+c#d", "newCall"),
    ];
    append(&gw, &first);
    let got = sub.wait_for(6);
    let topics: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        topics,
        [
            "pbxgate/shop-17/calls/c1/newCall",
            "pbxgate/shop-17/calls/c1/answer",
            "pbxgate/shop-17/registration",
            "pbxgate/shop-17/calls/c1/dtmf",
            "pbxgate/shop-17/calls/c1/hangup",
            "pbxgate/shop-17/calls/a_b_c_d/newCall",
        ]
    );
    // The payload is the event's JSON as stored, byte for byte.
    assert_eq!(got[0].1, first[0].body);
    assert_eq!(ids(&got), ["e1", "e2", "e3", "e4", "e5", "e6"]);
    // Acknowledged on PUBACK: nothing left for "mqtt".
    poll(T, || (depth(&gw) == 0).then_some(())).expect("the outbox is emptied");
    // The sink's figures reach /metrics (read from the scraper's address).
    let web: std::net::SocketAddr = format!("{GATEWAY_IP}:{}", 38840 + 1000).parse().unwrap();
    let metrics = poll(T, || {
        let m = common::https::Client::new(web, &gw.data_dir)
            .get("/metrics")
            .body;
        m.contains("pbxgate_events_delivered_total{sink=\"mqtt\"} 6")
            .then_some(m)
    });
    assert!(metrics.is_some(), "no delivered count for mqtt in /metrics");

    // The broker goes away: events wait in the outbox.
    broker.down();
    let during: Vec<NewEvent> = (7..=26)
        .map(|i| event(&format!("e{i}"), &format!("c{}", i % 3), "hangup"))
        .collect();
    append(&gw, &during);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(depth(&gw), 20, "kept while the broker is down");
    // ...and go once it is back, none lost, in order.
    broker.up();
    let got = sub.wait_for(26);
    poll(T, || (depth(&gw) == 0).then_some(())).expect("the outbox is emptied");
    let got_ids = ids(&got);
    let want: Vec<String> = (1..=26).map(|i| format!("e{i}")).collect();
    // At least once: a repeat is allowed, but the first arrivals are in
    // order and none is missing.
    let mut firsts: Vec<String> = Vec::new();
    for id in &got_ids {
        if !firsts.contains(id) {
            firsts.push(id.clone());
        }
    }
    assert_eq!(firsts, want, "{got_ids:?}");

    // Appended while the gateway is stopped: sent at its next start.
    gw.kill();
    append(&gw, &[event("e27", "c9", "newCall")]);
    gw.restart();
    let got = sub.wait_for(27);
    assert_eq!(ids(&got).last().map(String::as_str), Some("e27"));
    assert_eq!(got.last().unwrap().0, "pbxgate/shop-17/calls/c9/newCall");
}

#[test]
fn a_wrong_password_is_refused_logged_and_loses_nothing() {
    let broker = Broker::start("auth", 38831);
    let gw = gateway(
        &broker,
        38850,
        &format!("username = \"{USER}\"\npassword = \"wrong\"\n"),
    );
    append(&gw, &[event("x1", "c1", "newCall")]);
    let line = gw.wait_for_log_line(&["mqtt:", "refused"], T);
    assert!(
        line.contains("mqtt.username") && line.contains("mqtt.password"),
        "{line}"
    );
    assert_eq!(depth(&gw), 1, "kept for when the password is right");
}

/// Reads one MQTT packet (fixed header, remaining length, body) from `s`.
fn read_packet(s: &mut std::net::TcpStream) -> Vec<u8> {
    use std::io::Read;
    let mut head = [0u8; 1];
    s.read_exact(&mut head).unwrap();
    let (mut len, mut shift) = (0usize, 0);
    loop {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        len |= ((b[0] & 0x7F) as usize) << shift;
        if b[0] & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    let mut out = vec![head[0]];
    out.extend(body);
    out
}

/// The outbox entry goes only on PUBACK: a broker that takes the PUBLISH
/// but never acknowledges it, then drops the connection, gets it again
/// (the same body) on the next connection, and only its PUBACK empties
/// the outbox. A broker of the test's own: mosquitto always acknowledges.
#[test]
fn an_event_is_acknowledged_only_by_puback_and_sent_again_without_one() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind((BROKER_IP, 38832)).unwrap();
    let gw = Gateway {
        config: format!(
            "[mqtt]\nurl = \"mqtt://{BROKER_IP}:38832\"\nbox_id = \"b1\"\nkeepalive_s = 60\n"
        ),
        ..Gateway::new(GATEWAY_IP, 38880)
    }
    .start();
    let publish_of = |s: &mut std::net::TcpStream| {
        let connect = read_packet(s);
        assert_eq!(connect[0], 0x10, "CONNECT first");
        s.write_all(&[0x20, 2, 0, 0]).unwrap();
        let p = read_packet(s);
        assert_eq!(p[0] & 0xF6, 0x32, "a QoS 1 PUBLISH: {p:?}");
        p
    };
    let (mut first, _) = listener.accept().unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    append(&gw, &[event("k1", "c1", "hangup")]);
    let p1 = publish_of(&mut first);
    let body = event("k1", "c1", "hangup").body;
    assert!(p1.ends_with(body.as_bytes()));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        depth(&gw),
        1,
        "published but not acknowledged: still pending"
    );
    drop(first);
    let (mut second, _) = listener.accept().unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let p2 = publish_of(&mut second);
    assert!(p2.ends_with(body.as_bytes()), "the same event again");
    // PUBACK with the packet id that follows the topic (§3.4).
    let topic_len = u16::from_be_bytes([p2[1], p2[2]]) as usize;
    let pkid = [p2[3 + topic_len], p2[4 + topic_len]];
    second.write_all(&[0x40, 2, pkid[0], pkid[1]]).unwrap();
    poll(T, || (depth(&gw) == 0).then_some(())).expect("acknowledged by PUBACK");
}

/// `mqtts://`: the broker's certificate from the CA in `mqtt.ca_file` is
/// taken and events arrive; without that CA the certificate is refused
/// (logged) and the event stays in the outbox.
#[test]
fn mqtts_checks_the_brokers_certificate() {
    let broker = Broker::with_tls("tls", 38833, Some(38834));
    let sub = Subscriber::start(&broker);
    let ca = broker.dir.join("ca.pem");
    let tls = |wan_port: u16, ca_line: &str| {
        Gateway {
            config: format!(
                "[mqtt]\nurl = \"mqtts://{BROKER_IP}:38834\"\n{}box_id = \"tls-{wan_port}\"\n{ca_line}",
                login()
            ),
            ..Gateway::new(GATEWAY_IP, wan_port)
        }
        .start()
    };
    let good = tls(38910, &format!("ca_file = \"{}\"\n", ca.display()));
    append(&good, &[event("t1", "c1", "newCall")]);
    let got = sub.wait_for(1);
    assert_eq!(got[0].0, "pbxgate/tls-38910/calls/c1/newCall");
    poll(T, || (depth(&good) == 0).then_some(())).expect("acknowledged");

    let wrong = tls(38920, "");
    append(&wrong, &[event("t2", "c2", "newCall")]);
    let line = wrong.wait_for_log_line(&["mqtt: cannot connect: TLS"], T);
    assert!(line.contains("certificate"), "{line}");
    assert_eq!(depth(&wrong), 1, "never sent over an unchecked connection");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(ids(&sub.events()), ["t1"]);
}
