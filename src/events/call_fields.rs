//! A call's fields in an event, taken from its history row (the core maps
//! its record into the row, so events and the history say the same), and
//! the gateway's hangup causes in sipgate.io's words.

use std::time::SystemTime;

use crate::store::CallRow;

use super::model::{user_part, Cause, Direction, Event, EventKind, Xph};

/// An event of `kind` for the call in `row`, at `at`. `headers` are the
/// `[events] headers` names to copy from the INVITE (case-insensitive).
pub fn call_event(
    kind: EventKind,
    id: String,
    at: SystemTime,
    clock_synced: bool,
    row: &CallRow,
    headers: &[String],
) -> Event {
    let mut e = Event::new(kind, id, at, clock_synced);
    e.direction = Some(if row.direction == "outbound" {
        Direction::Out
    } else {
        Direction::In
    });
    e.from = Some(row.from.clone());
    e.to = Some(row.to.clone());
    e.call_id = Some(row.id.clone());
    e.user = row
        .target
        .as_deref()
        .and_then(user_part)
        .into_iter()
        .collect();
    e.diversion = row.diversion.clone();
    e.route = row.route.clone();
    e.target = row.target.clone();
    e.caller_call_id = Some(row.caller_call_id.clone());
    e.callee_call_id = row.callee_call_id.clone();
    e.xph = Xph {
        uuid: row.retreaver_uuid.clone(),
        key: row.retreaver_key.clone(),
        afid: row.retreaver_afid.clone(),
        sid: row.retreaver_sid.clone(),
    };
    for (name, value) in &row.x_headers {
        if headers.iter().any(|h| h.eq_ignore_ascii_case(name)) {
            e.headers.insert(name.clone(), value.clone());
        }
    }
    e.emergency = Some(row.emergency);
    match kind {
        EventKind::Answer => {
            e.answering_number = e.user.first().cloned();
            e.set_dial_sip_headers(&row.callee_x_headers);
        }
        EventKind::Hangup => {
            let detail = row.hangup_cause.as_deref().unwrap_or("caller_hangup");
            e.cause = Some(cause(detail, row.final_status));
            e.cause_detail = Some(detail.to_string());
            e.status = row.final_status;
            e.duration = Some(duration(row.answered, row.ended));
            e.set_dial_sip_headers(&row.callee_x_headers);
        }
        _ => {}
    }
    e
}

/// Whole seconds from the answer to the end; 0 for a call never answered.
pub fn duration(answered: Option<SystemTime>, ended: Option<SystemTime>) -> u64 {
    match (answered, ended) {
        (Some(a), Some(e)) => e.duration_since(a).map_or(0, |d| d.as_secs()),
        _ => 0,
    }
}

/// sipgate.io's cause for the gateway's (`HangupCause::name`), with the
/// final status the caller got where the cause alone does not say.
pub fn cause(detail: &str, final_status: Option<u16>) -> Cause {
    match detail {
        "cancelled" => Cause::Cancel,
        "no_answer" => Cause::NoAnswer,
        "no_route" => Cause::NotFound,
        "forwarded" => Cause::Forwarded,
        // The gateway's own call limit or media ports: the network's
        // fault, not the callee's.
        "busy" | "media_failed" => Cause::Congestion,
        "rejected" => match final_status {
            // RFC 3261 §21.4.24, §21.6.1: busy here, busy everywhere.
            Some(486 | 600) => Cause::Busy,
            // §21.4.5, §21.4.11, §21.4.19, §21.6.3: no such user.
            Some(404 | 410 | 484 | 604) => Cause::NotFound,
            // §21.4.9, §21.4.18: nobody took it in time.
            Some(408 | 480) => Cause::NoAnswer,
            Some(487) => Cause::Cancel,
            _ => Cause::Congestion,
        },
        _ => Cause::NormalClearing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_map_to_sipgates() {
        assert_eq!(cause("caller_hangup", Some(200)), Cause::NormalClearing);
        assert_eq!(cause("transferred", Some(200)), Cause::NormalClearing);
        assert_eq!(cause("cancelled", Some(487)), Cause::Cancel);
        assert_eq!(cause("rejected", Some(486)), Cause::Busy);
        assert_eq!(cause("rejected", Some(404)), Cause::NotFound);
        assert_eq!(cause("rejected", Some(480)), Cause::NoAnswer);
        assert_eq!(cause("rejected", Some(503)), Cause::Congestion);
        assert_eq!(cause("no_answer", Some(408)), Cause::NoAnswer);
        assert_eq!(cause("no_route", Some(404)), Cause::NotFound);
        assert_eq!(cause("forwarded", Some(302)), Cause::Forwarded);
        assert_eq!(cause("busy", Some(503)), Cause::Congestion);
    }

    #[test]
    fn duration_counts_from_the_answer() {
        let t = SystemTime::UNIX_EPOCH;
        let s = std::time::Duration::from_secs;
        assert_eq!(duration(Some(t + s(10)), Some(t + s(52))), 42);
        assert_eq!(duration(None, Some(t + s(52))), 0);
    }
}
