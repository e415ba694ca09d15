//! For the calls and test-call tests: a `WebContext` over a real store in
//! a temporary directory, and a stand-in for the signalling loop that
//! answers control requests as the test says.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::app::{ControlError, ControlRequest, StatusBoard};
use crate::config::Config;
use crate::store::{CallRow, LegMediaRow, Store};
use crate::test_support::{Setup, TestCore};
use crate::web::context::{Identity, WebContext};
use crate::web::http::{Method, Request, Response};

/// What the stand-in loop saw, in order: "hangup ID by WHO",
/// "transfer ID to URI", "dtmf ID caller|callee DIGITS", "test-call wan|lan".
pub type Seen = Arc<Mutex<Vec<String>>>;

/// How the stand-in loop answers call control.
pub type Answer = Arc<dyn Fn(&str) -> Result<(), ControlError> + Send + Sync>;

pub struct Fixture {
    pub ctx: WebContext,
    pub seen: Seen,
    dir: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Fixture {
    /// A context whose loop answers every control request with `answer`
    /// (given the call id), and test calls as a core configured by
    /// `routes` (configuration text) does.
    pub fn new(routes: &str, answer: Answer) -> Fixture {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pbxgate-web-calls-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (tx, rx) = smol::channel::unbounded::<ControlRequest>();
        let seen: Seen = Arc::default();
        let log = seen.clone();
        let routes = routes.to_string();
        std::thread::spawn(move || {
            let core = Setup::new(&routes).start();
            while let Ok(req) = rx.recv_blocking() {
                answer_one(req, &core, &answer, &log);
            }
        });
        Fixture {
            ctx: WebContext {
                status: StatusBoard::default(),
                control: tx,
                config: Arc::new(RwLock::new(Config::default())),
                config_path: dir.join("pbxgate.toml"),
                data_dir: dir.clone(),
                started: Instant::now(),
                version: "test",
                webhook_tester: None,
                updater: None,
            },
            seen,
            dir,
        }
    }

    /// A context whose loop answers every request with success.
    pub fn ok() -> Fixture {
        Fixture::new("", Arc::new(|_| Ok(())))
    }

    /// A context whose loop has gone: every request is 503.
    pub fn without_loop() -> Fixture {
        let f = Fixture::ok();
        f.ctx.control.close();
        f
    }

    pub fn insert(&self, rows: &[CallRow]) {
        let mut s = Store::open(&Store::path_in(&self.dir)).unwrap();
        s.upsert_calls(rows).unwrap();
    }

    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    /// Runs a page or API handler on `req`.
    pub fn run<F, Fut>(&self, req: Request, f: F) -> Response
    where
        F: FnOnce(WebContext, Identity, Request) -> Fut,
        Fut: std::future::Future<Output = Option<Response>>,
    {
        smol::block_on(f(self.ctx.clone(), who(), req)).expect("a handler answers this path")
    }
}

fn answer_one(req: ControlRequest, core: &TestCore, answer: &Answer, log: &Seen) {
    let note = |s: String| log.lock().unwrap().push(s);
    match req {
        ControlRequest::Hangup { call, who, reply } => {
            note(format!("hangup {call} by {who}"));
            let _ = reply.try_send(answer(&call));
        }
        ControlRequest::Transfer {
            call,
            target,
            reply,
            ..
        } => {
            note(format!("transfer {call} to {target}"));
            let _ = reply.try_send(answer(&call));
        }
        ControlRequest::SendDtmf {
            call,
            to_caller,
            digits,
            reply,
            ..
        } => {
            let leg = if to_caller { "caller" } else { "callee" };
            note(format!("dtmf {call} {leg} {digits}"));
            let _ = reply.try_send(answer(&call));
        }
        ControlRequest::TestCall {
            invite,
            from_lan,
            reply,
        } => {
            note(format!(
                "test-call {}",
                if from_lan { "lan" } else { "wan" }
            ));
            let _ = reply.try_send(core.test_call(&invite, from_lan));
        }
        ControlRequest::SaveConfig { .. } | ControlRequest::Restart { .. } => {}
    }
}

pub fn who() -> Identity {
    Identity {
        who: "admin".into(),
        csrf: Some("tok".into()),
    }
}

pub fn request(method: Method, path_and_query: &str, body: &str) -> Request {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let json = body.trim_start().starts_with('{') || body.trim_start().starts_with('[');
    Request {
        method,
        path: path.into(),
        query: form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect(),
        headers: vec![(
            "content-type".into(),
            if json {
                "application/json"
            } else {
                "application/x-www-form-urlencoded"
            }
            .into(),
        )],
        body: body.as_bytes().to_vec(),
        peer: IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

pub fn get(path: &str) -> Request {
    request(Method::Get, path, "")
}

pub fn post(path: &str, body: &str) -> Request {
    request(Method::Post, path, body)
}

pub fn body(r: &Response) -> String {
    String::from_utf8(r.body.clone()).unwrap()
}

pub fn json(r: &Response) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", body(r)))
}

pub fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_714_560_000 + secs) // 2024-05-01T10:40:00Z
}

/// A finished inbound Retreaver call with headers each way and media.
pub fn finished(id: &str, started: u64) -> CallRow {
    CallRow {
        id: id.into(),
        direction: "inbound".into(),
        caller_call_id: format!("{id}@cloud"),
        callee_call_id: Some(format!("{id}@gw")),
        from: "sip:+15551230000@203.0.113.7".into(),
        to: "sip:+18885550000@198.51.100.1".into(),
        route: Some("publisher-5678".into()),
        target: Some("sip:sales@192.168.1.10".into()),
        emergency: false,
        retreaver_uuid: Some(format!("{id}-uuid")),
        retreaver_key: Some("key-1".into()),
        retreaver_afid: Some("5678".into()),
        retreaver_sid: Some("sub-9".into()),
        diversion: None,
        x_headers: vec![
            ("X-PH-RetreaverUUID".into(), format!("{id}-uuid")),
            ("X-PH-RetreaverAFID".into(), "5678".into()),
        ],
        callee_x_headers: vec![("X-Queue-Result".into(), "answered".into())],
        headers_out: vec![("X-Publisher-ID".into(), "5678".into())],
        started: at(started),
        answered: Some(at(started + 2)),
        ended: Some(at(started + 65)),
        final_status: Some(200),
        hangup_cause: Some("caller_hangup".into()),
        hook: None,
        dtmf_caller: String::new(),
        dtmf_callee: String::new(),
        caller_transport: None,
        callee_transport: None,
        caller_srtp: false,
        callee_srtp: false,
        caller_media: Some(LegMediaRow {
            codec: Some("PCMU".into()),
            packets: 3150,
            bytes: 541_800,
            lost: 3,
            jitter: 12,
            source: Some("203.0.113.7:41000".into()),
            source_learned: true,
            dtmf_detected: 2,
            ..LegMediaRow::default()
        }),
        callee_media: Some(LegMediaRow {
            codec: Some("PCMA".into()),
            packets: 3149,
            source: Some("192.168.1.10:10000".into()),
            dtmf_rendered: 2,
            ..LegMediaRow::default()
        }),
    }
}

/// Call `id` in progress in the running gateway (answered, not ended), as
/// the status snapshot lists it.
pub fn set_live(ctx: &WebContext, ids: &[&str]) {
    use crate::app::view::{CallDirection, CallRecord, CallStats};
    let records = ids
        .iter()
        .map(|id| CallRecord {
            id: id.to_string(),
            direction: CallDirection::Inbound,
            caller_call_id: format!("{id}@cloud"),
            callee_call_id: Some(format!("{id}@gw")),
            from: "sip:+15551230000@203.0.113.7".into(),
            to: "sip:+18885550000@198.51.100.1".into(),
            route: Some("publisher-5678".into()),
            emergency: false,
            target: Some("sip:sales@192.168.1.10".into()),
            retreaver_uuid: None,
            retreaver_key: None,
            retreaver_afid: None,
            retreaver_sid: None,
            x_headers: Vec::new(),
            callee_x_headers: Vec::new(),
            headers_out: Vec::new(),
            diversion: None,
            started: at(0),
            answered: Some(at(1)),
            ended: None,
            final_status: Some(200),
            hangup_cause: None,
            hook: None,
            caller_transport: None,
            callee_transport: None,
            media: None,
            media_session: None,
            dtmf_caller: String::new(),
            dtmf_callee: String::new(),
        })
        .collect();
    ctx.status.update_calls(records, CallStats::default());
}

/// A call still going: answered, no end.
pub fn in_progress(id: &str, started: u64) -> CallRow {
    CallRow {
        ended: None,
        hangup_cause: None,
        hook: None,
        dtmf_caller: String::new(),
        dtmf_callee: String::new(),
        caller_transport: None,
        callee_transport: None,
        caller_srtp: false,
        callee_srtp: false,
        caller_media: None,
        callee_media: None,
        ..finished(id, started)
    }
}
