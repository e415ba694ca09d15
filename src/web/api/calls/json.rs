//! A history row as the API answers it: times in RFC 3339 UTC, headers
//! as `{"name", "value"}` in order, media per leg.

use serde_json::{json, Value};

use crate::store::{rfc3339, CallRow, LegMediaRow};

pub fn headers_json(headers: &[(String, String)]) -> Value {
    Value::Array(
        headers
            .iter()
            .map(|(n, v)| json!({ "name": n, "value": v }))
            .collect(),
    )
}

fn media_json(m: &LegMediaRow) -> Value {
    json!({
        "codec": m.codec,
        "packets": m.packets,
        "bytes": m.bytes,
        "lost": m.lost,
        "jitter": m.jitter,
        "rtcp": m.rtcp,
        "dropped_foreign": m.dropped_foreign,
        "held": m.held,
        "dropped_held": m.dropped_held,
        "source": m.source,
        "source_learned": m.source_learned,
        "dtmf_rendered": m.dtmf_rendered,
        "dtmf_detected": m.dtmf_detected,
        "srtp": m.srtp,
        "srtp_dropped": m.dropped_auth,
    })
}

/// One call. `in_progress`: the gateway holds it now (the row has no end
/// and the running gateway lists it), so it can be hung up, transferred
/// or sent digits.
pub fn row_json(r: &CallRow, in_progress: bool) -> Value {
    json!({
        "id": r.id,
        "direction": r.direction,
        "in_progress": in_progress,
        "caller_call_id": r.caller_call_id,
        "callee_call_id": r.callee_call_id,
        "from": r.from,
        "to": r.to,
        "route": r.route,
        "target": r.target,
        "emergency": r.emergency,
        "retreaver_uuid": r.retreaver_uuid,
        "retreaver_key": r.retreaver_key,
        "retreaver_afid": r.retreaver_afid,
        "retreaver_sid": r.retreaver_sid,
        "diversion": r.diversion,
        "hook": r.hook,
        "dtmf_caller": r.dtmf_caller,
        "dtmf_callee": r.dtmf_callee,
        "caller_transport": r.caller_transport,
        "callee_transport": r.callee_transport,
        "caller_srtp": r.caller_srtp,
        "callee_srtp": r.callee_srtp,
        "started": rfc3339(r.started),
        "answered": r.answered.map(rfc3339),
        "ended": r.ended.map(rfc3339),
        "duration_s": duration_s(r),
        "final_status": r.final_status,
        "hangup_cause": r.hangup_cause,
        "x_headers": headers_json(&r.x_headers),
        "callee_x_headers": headers_json(&r.callee_x_headers),
        "headers_out": headers_json(&r.headers_out),
        "caller_media": r.caller_media.as_ref().map(media_json),
        "callee_media": r.callee_media.as_ref().map(media_json),
    })
}

/// Seconds from the answer to the end (the talk time); None before the
/// answer or while the call goes on.
pub fn duration_s(r: &CallRow) -> Option<f64> {
    let (a, e) = (r.answered?, r.ended?);
    let d = e.duration_since(a).unwrap_or_default();
    Some((d.as_millis() as f64) / 1000.0)
}
