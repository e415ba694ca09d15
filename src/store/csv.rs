//! The history as CSV (RFC 4180), for a spreadsheet or a CRM import.

use super::row::{CallRow, LegMediaRow};
use super::time::rfc3339;

const COLUMNS: &[&str] = &[
    "id",
    "started",
    "answered",
    "ended",
    "direction",
    "from",
    "to",
    "route",
    "target",
    "final_status",
    "hangup_cause",
    "emergency",
    "retreaver_uuid",
    "retreaver_key",
    "retreaver_afid",
    "retreaver_sid",
    "diversion",
    "caller_call_id",
    "callee_call_id",
    "x_headers",
    "callee_x_headers",
    "headers_out",
    "caller_codec",
    "caller_packets",
    "caller_lost",
    "caller_jitter",
    "caller_source",
    "caller_dtmf_rendered",
    "caller_dtmf_detected",
    "callee_codec",
    "callee_packets",
    "callee_lost",
    "callee_jitter",
    "callee_source",
    "callee_dtmf_rendered",
    "callee_dtmf_detected",
];

/// A header line, then one record per row; CRLF line ends (RFC 4180 §2).
pub fn to_csv(rows: &[CallRow]) -> String {
    let mut out = String::new();
    line(&mut out, COLUMNS.iter().map(|c| c.to_string()));
    for r in rows {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let time = |t: Option<std::time::SystemTime>| t.map(rfc3339).unwrap_or_default();
        let headers = |h: &[(String, String)]| {
            h.iter()
                .map(|(n, v)| format!("{n}: {v}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let mut fields = vec![
            r.id.clone(),
            rfc3339(r.started),
            time(r.answered),
            time(r.ended),
            r.direction.clone(),
            r.from.clone(),
            r.to.clone(),
            opt(&r.route),
            opt(&r.target),
            r.final_status.map(|s| s.to_string()).unwrap_or_default(),
            opt(&r.hangup_cause),
            r.emergency.to_string(),
            opt(&r.retreaver_uuid),
            opt(&r.retreaver_key),
            opt(&r.retreaver_afid),
            opt(&r.retreaver_sid),
            opt(&r.diversion),
            r.caller_call_id.clone(),
            opt(&r.callee_call_id),
            headers(&r.x_headers),
            headers(&r.callee_x_headers),
            headers(&r.headers_out),
        ];
        for leg in [&r.caller_media, &r.callee_media] {
            fields.extend(media(leg.as_ref()));
        }
        line(&mut out, fields.into_iter());
    }
    out
}

fn media(m: Option<&LegMediaRow>) -> [String; 7] {
    let Some(m) = m else {
        return Default::default();
    };
    [
        m.codec.clone().unwrap_or_default(),
        m.packets.to_string(),
        m.lost.to_string(),
        m.jitter.to_string(),
        m.source.clone().unwrap_or_default(),
        m.dtmf_rendered.to_string(),
        m.dtmf_detected.to_string(),
    ]
}

fn line(out: &mut String, fields: impl Iterator<Item = String>) {
    for (i, f) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(out, &f);
    }
    out.push_str("\r\n");
}

/// RFC 4180 §2: a field with a comma, a quote or a line break is quoted,
/// its quotes doubled. A field a spreadsheet would run as a formula (the
/// values come from callers' headers) gets a leading `'`, unless it is a
/// plain number such as `+15551230000`.
fn field(out: &mut String, f: &str) {
    let formula = f.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_number(f);
    let quote = formula || f.contains([',', '"', '\r', '\n']);
    if quote {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    for c in f.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if quote {
        out.push('"');
    }
}

/// `+15551230000`, `-3`, `1.5`: digits with an optional sign and at most
/// one point.
fn is_number(f: &str) -> bool {
    let digits = f.strip_prefix(['+', '-']).unwrap_or(f);
    !digits.is_empty()
        && digits.bytes().filter(|&b| b == b'.').count() <= 1
        && digits.bytes().any(|b| b.is_ascii_digit())
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}
