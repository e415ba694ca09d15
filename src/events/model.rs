//! The event as JSON: sipgate.io's push field names where it has one
//! (`event`, `direction`, `from`, `to`, `callId`, `origCallId`, `user`,
//! `diversion`, `answeringNumber`, `cause`), Twilio's `DialSipHeader_X-Name`
//! for the PBX's X- response headers, and the gateway's own fields besides.
//! Every sink (webhook formats, MQTT) is made from this one body, which is
//! what the outbox stores.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// The key prefix Twilio gives X- headers of a SIP response
/// (`DialSipHeader_X-Name=value`).
pub const DIAL_SIP_HEADER: &str = "DialSipHeader_";

/// The `callId` registration events are ordered under in the outbox.
pub const REGISTRATION_KEY: &str = "registration";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "newCall")]
    NewCall,
    #[serde(rename = "answer")]
    Answer,
    #[serde(rename = "hangup")]
    Hangup,
    #[serde(rename = "dtmf")]
    Dtmf,
    #[serde(rename = "registration")]
    Registration,
}

impl EventKind {
    /// The name webhook filters use (`config::EVENT_NAMES`).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::NewCall => "newCall",
            EventKind::Answer => "answer",
            EventKind::Hangup => "hangup",
            EventKind::Dtmf => "dtmf",
            EventKind::Registration => "registration",
        }
    }
}

/// sipgate.io's `direction`: `in` from the cloud to the PBX, `out` from
/// the PBX to the cloud.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

/// sipgate.io's hangup causes; the gateway's own reason is `causeDetail`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Cause {
    NormalClearing,
    Busy,
    Cancel,
    NoAnswer,
    Congestion,
    NotFound,
    Forwarded,
}

/// `causeDetail` of a call the gateway could not see end (it crashed or
/// lost power while the call was up): its hangup is sent at the next start.
pub const GATEWAY_RESTART: &str = "gatewayRestart";

/// A registration's state as events report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationState {
    Up,
    Down,
}

/// Which side of a call pressed the keys of a `dtmf` event: the caller's
/// leg or the callee's (as `callerCallId` and `calleeCallId` name them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DtmfSide {
    Caller,
    Callee,
}

/// The Retreaver X-PH values of the INVITE, nested (the sipgate form
/// flattens them as `xph[uuid]` and so on, see docs/events.md).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Xph {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub afid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl Xph {
    pub fn is_empty(&self) -> bool {
        self.uuid.is_none() && self.key.is_none() && self.afid.is_none() && self.sid.is_none()
    }
}

/// One event. Fields that do not apply to an event are left out of its
/// JSON (absent, never `null`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub event: EventKind,
    /// 128 random bits as 32 hex digits, made once: every delivery of the
    /// event (retries, a restart) carries the same id to de-duplicate on.
    pub id: String,
    /// When it happened (RFC 3339, UTC, milliseconds).
    pub timestamp: String,
    /// Whether the wall clock behind `timestamp` was synchronised (NTP);
    /// a box without a real-time clock starts in the past until it is.
    pub clock_synced: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The gateway's call record id (the history's id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// After a forward (3xx) or transfer (REFER): the call this one came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orig_call_id: Option<String>,
    /// Who the call is for: the user part of the target it rings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user: Vec<String>,
    /// After a forward or transfer: the target it was diverted from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diversion: Option<String>,
    /// On answer: the user part of the target that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answering_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// The gateway's own hangup cause (`caller_hangup`, `rejected`, ...,
    /// `gatewayRestart`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause_detail: Option<String>,
    /// On hangup: the SIP status the caller got, when the gateway sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// On hangup: whole seconds from the answer to the end (0: never
    /// answered; absent: the end is unknown, as after a crash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callee_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Xph::is_empty")]
    pub xph: Xph,
    /// The `[events] headers` the INVITE carried, by name as received.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// On dtmf: the digit (0-9, *, #, A-D).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtmf: Option<String>,
    /// On dtmf: the side that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtmf_side: Option<DtmfSide>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency: Option<bool>,
    /// Registration events: the account, its state, why it is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<RegistrationState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The PBX's X- response headers as `DialSipHeader_X-Name` keys, at
    /// the top level as Twilio posts them (answer and hangup).
    #[serde(flatten)]
    pub dial_sip_headers: BTreeMap<String, String>,
}

impl Event {
    /// An event with only its kind, id and time; the rest is filled in.
    pub fn new(event: EventKind, id: String, at: SystemTime, clock_synced: bool) -> Event {
        Event {
            event,
            id,
            timestamp: crate::store::rfc3339(at),
            clock_synced,
            direction: None,
            from: None,
            to: None,
            call_id: None,
            orig_call_id: None,
            user: Vec::new(),
            diversion: None,
            answering_number: None,
            cause: None,
            cause_detail: None,
            status: None,
            duration: None,
            route: None,
            target: None,
            caller_call_id: None,
            callee_call_id: None,
            xph: Xph::default(),
            headers: BTreeMap::new(),
            dtmf: None,
            dtmf_side: None,
            emergency: None,
            account: None,
            state: None,
            reason: None,
            dial_sip_headers: BTreeMap::new(),
        }
    }

    /// A registration going up or down.
    pub fn registration(
        id: String,
        at: SystemTime,
        clock_synced: bool,
        account: &str,
        state: RegistrationState,
        reason: Option<String>,
    ) -> Event {
        Event {
            account: Some(account.to_string()),
            state: Some(state),
            reason,
            ..Event::new(EventKind::Registration, id, at, clock_synced)
        }
    }

    /// Sets the PBX's X- response headers under Twilio's names.
    pub fn set_dial_sip_headers(&mut self, headers: &[(String, String)]) {
        for (name, value) in headers {
            self.dial_sip_headers
                .insert(format!("{DIAL_SIP_HEADER}{name}"), value.clone());
        }
    }

    /// What the outbox orders the event under: its call, or all
    /// registrations together.
    pub fn order_key(&self) -> &str {
        self.call_id.as_deref().unwrap_or(REGISTRATION_KEY)
    }

    /// The body the outbox keeps.
    pub fn to_json(&self) -> String {
        // Only strings, numbers, bools and string maps: cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// 128 bits as 32 hex digits.
pub fn event_id(bits: [u8; 16]) -> String {
    bits.iter().map(|b| format!("{b:02x}")).collect()
}

/// The user part of a SIP URI (`sip:201@pbx` → `201`), for `user` and
/// `answeringNumber`.
pub fn user_part(uri: &str) -> Option<String> {
    let rest = uri
        .trim()
        .trim_start_matches('<')
        .split_once(':')
        .map(|(_, r)| r)?;
    let (user, _) = rest.split_once('@')?;
    let user = user.split(';').next().unwrap_or(user);
    (!user.is_empty()).then(|| user.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call_event() -> Event {
        let mut e = Event::new(
            EventKind::Hangup,
            event_id([0xab; 16]),
            SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123),
            true,
        );
        e.direction = Some(Direction::In);
        e.from = Some("sip:+15551230000@203.0.113.7".into());
        e.to = Some("sip:+18885550000@198.51.100.1".into());
        e.call_id = Some("00000000000000b2".into());
        e.orig_call_id = Some("00000000000000a1".into());
        e.user = vec!["201".into()];
        e.diversion = Some("sip:200@10.0.0.5".into());
        e.answering_number = Some("201".into());
        e.cause = Some(Cause::NormalClearing);
        e.cause_detail = Some("caller_hangup".into());
        e.status = Some(200);
        e.duration = Some(42);
        e.route = Some("sales".into());
        e.target = Some("sip:201@10.0.0.5".into());
        e.caller_call_id = Some("a@cloud".into());
        e.callee_call_id = Some("b@gw".into());
        e.xph = Xph {
            uuid: Some("u-1".into()),
            key: Some("k".into()),
            afid: Some("5678".into()),
            sid: Some("s".into()),
        };
        e.headers.insert("X-Campaign-ID".into(), "c7".into());
        e.dtmf = Some("#".into());
        e.dtmf_side = Some(DtmfSide::Caller);
        e.emergency = Some(false);
        e.set_dial_sip_headers(&[("X-Agent".into(), "42".into())]);
        e
    }

    /// The field names are the contract with receivers: sipgate.io's where
    /// it has them, Twilio's DialSipHeader_, the gateway's own.
    #[test]
    fn a_call_event_has_the_documented_field_names() {
        let v: serde_json::Value = serde_json::from_str(&call_event().to_json()).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut want = vec![
            "event",
            "id",
            "timestamp",
            "clockSynced",
            "direction",
            "from",
            "to",
            "callId",
            "origCallId",
            "user",
            "diversion",
            "answeringNumber",
            "cause",
            "causeDetail",
            "status",
            "duration",
            "route",
            "target",
            "callerCallId",
            "calleeCallId",
            "xph",
            "headers",
            "dtmf",
            "dtmfSide",
            "emergency",
            "DialSipHeader_X-Agent",
        ];
        want.sort_unstable();
        assert_eq!(keys, want);
        assert_eq!(v["event"], "hangup");
        assert_eq!(v["id"], "abababababababababababababababab");
        assert_eq!(v["timestamp"], "2023-11-14T22:13:20.123Z");
        assert_eq!(v["clockSynced"], true);
        assert_eq!(v["direction"], "in");
        assert_eq!(v["user"], serde_json::json!(["201"]));
        assert_eq!(v["cause"], "normalClearing");
        assert_eq!(v["duration"], 42);
        assert_eq!(
            v["xph"],
            serde_json::json!({"uuid": "u-1", "key": "k", "afid": "5678", "sid": "s"})
        );
        assert_eq!(v["headers"], serde_json::json!({"X-Campaign-ID": "c7"}));
        assert_eq!(v["DialSipHeader_X-Agent"], "42");
        assert_eq!(
            (&v["dtmf"], &v["dtmfSide"]),
            (&"#".into(), &"caller".into())
        );
    }

    #[test]
    fn absent_fields_are_left_out_and_the_body_reads_back() {
        let e = Event::registration(
            event_id([1; 16]),
            SystemTime::UNIX_EPOCH,
            false,
            "trunk",
            RegistrationState::Down,
            Some("403 Forbidden".into()),
        );
        let json = e.to_json();
        assert_eq!(
            json,
            r#"{"event":"registration","id":"01010101010101010101010101010101","timestamp":"1970-01-01T00:00:00.000Z","clockSynced":false,"account":"trunk","state":"down","reason":"403 Forbidden"}"#
        );
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
        let full = call_event();
        let back: Event = serde_json::from_str(&full.to_json()).unwrap();
        assert_eq!(back, full);
    }

    #[test]
    fn causes_use_sipgates_names() {
        let names: Vec<String> = [
            Cause::NormalClearing,
            Cause::Busy,
            Cause::Cancel,
            Cause::NoAnswer,
            Cause::Congestion,
            Cause::NotFound,
            Cause::Forwarded,
        ]
        .iter()
        .map(|c| {
            serde_json::to_value(c)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
        assert_eq!(
            names,
            [
                "normalClearing",
                "busy",
                "cancel",
                "noAnswer",
                "congestion",
                "notFound",
                "forwarded"
            ]
        );
    }

    #[test]
    fn user_part_of_uris() {
        assert_eq!(user_part("sip:201@10.0.0.5").as_deref(), Some("201"));
        assert_eq!(
            user_part("<sip:+4921112345;user=phone@h>").as_deref(),
            Some("+4921112345")
        );
        assert_eq!(user_part("sip:10.0.0.5"), None);
    }
}
