//! A call's page (`/calls/{id}`): both legs, the headers each way, media
//! per leg; while the call goes on, forms to hang it up, transfer the
//! caller and send DTMF (posted to `/calls/{id}/hangup|transfer|dtmf`,
//! answered with 303 back to the page, or the page again with the error).

use crate::store::{rfc3339, CallRow, LegMediaRow};
use crate::web::api::calls::control::{self, Action, Refusal};
use crate::web::api::calls::find_call;
use crate::web::api::calls::json::duration_s;
use crate::web::context::{Identity, WebContext};
use crate::web::html::{csrf_field, esc, page};
use crate::web::http::{Method, Request, Response};

use super::call_path;

pub async fn handle(
    ctx: &WebContext,
    who: &Identity,
    req: &Request,
    rest: &str,
) -> Option<Response> {
    let parts: Vec<&str> = rest.split('/').collect();
    Some(match (req.method, parts.as_slice()) {
        (Method::Get, [id]) if !id.is_empty() => show(ctx, who, id, None, 200).await,
        (Method::Post, [id, action @ ("hangup" | "transfer" | "dtmf")]) if !id.is_empty() => {
            let outcome = match form_action(action, req) {
                Ok(a) => control::perform(ctx, id, a, &who.who).await,
                Err(r) => Err(r),
            };
            match outcome {
                Ok(()) => Response::redirect(&call_path(id)),
                Err(r) => {
                    let status = r.status;
                    show(ctx, who, id, Some((action, r)), status).await
                }
            }
        }
        (_, [id]) if !id.is_empty() => {
            Response::text(405, "use GET here\n").with_header("allow", "GET")
        }
        (_, [id, "hangup" | "transfer" | "dtmf"]) if !id.is_empty() => {
            Response::text(405, "use POST here\n").with_header("allow", "POST")
        }
        _ => return None,
    })
}

fn form_action(action: &str, req: &Request) -> Result<Action, Refusal> {
    let field = |name: &'static str| {
        req.form_value(name).ok_or(Refusal {
            status: 422,
            field: Some(name),
            message: format!("{name} is missing"),
        })
    };
    match action {
        "transfer" => {
            let target = field("target")?;
            control::check_target(&target)?;
            Ok(Action::Transfer(target.trim().to_string()))
        }
        "dtmf" => {
            let digits = field("digits")?;
            let to_caller = control::parse_leg(&field("leg")?)?;
            Ok(Action::SendDtmf { digits, to_caller })
        }
        _ => Ok(Action::Hangup),
    }
}

async fn show(
    ctx: &WebContext,
    who: &Identity,
    id: &str,
    error: Option<(&str, Refusal)>,
    status: u16,
) -> Response {
    let (row, live) = match find_call(ctx, id).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            let body = format!(
                r#"<p id="not-found">No call has the id {}. <a href="/calls">Search the calls</a>.</p>"#,
                esc(id)
            );
            return Response::html(404, page("Call not found", "/calls", Some(who), &body));
        }
        Err(e) => {
            let body = format!(
                r#"<p class="error" id="store-error">The call history cannot be read: {}</p>"#,
                esc(&e.to_string())
            );
            return Response::html(503, page("Call", "/calls", Some(who), &body));
        }
    };
    let mut body = details(&row, live);
    if live {
        body.push_str(&controls(who, &row.id, error.as_ref()));
    } else if let Some((_, r)) = &error {
        // The call ended between the page and the click.
        body.push_str(&field_error("call", &r.message));
    }
    Response::html(status, page("Call", "/calls", Some(who), &body))
}

fn field_error(field: &str, message: &str) -> String {
    format!(
        r#"<p class="field-error" data-field="{}">{}</p>"#,
        esc(field),
        esc(message)
    )
}

fn opt(v: Option<&str>) -> String {
    match v {
        Some(v) if !v.is_empty() => esc(v),
        _ => "—".into(),
    }
}

fn details(r: &CallRow, live: bool) -> String {
    let time = |t: Option<std::time::SystemTime>| opt(t.map(rfc3339).as_deref());
    let state = if live {
        "in progress"
    } else if r.ended.is_some() {
        "ended"
    } else {
        "not ended (the gateway no longer holds it)"
    };
    let rows: Vec<(&str, &str, String)> = vec![
        ("state", "State", esc(state)),
        ("direction", "Direction", esc(&r.direction)),
        ("from", "From", esc(&r.from)),
        ("to", "To", esc(&r.to)),
        ("route", "Route", opt(r.route.as_deref())),
        ("target", "Target", opt(r.target.as_deref())),
        (
            "caller-call-id",
            "Caller leg Call-ID",
            esc(&r.caller_call_id),
        ),
        (
            "callee-call-id",
            "Callee leg Call-ID",
            opt(r.callee_call_id.as_deref()),
        ),
        ("started", "Started (UTC)", esc(&rfc3339(r.started))),
        ("answered", "Answered", time(r.answered)),
        ("ended", "Ended", time(r.ended)),
        (
            "duration",
            "Talk time",
            opt(duration_s(r).map(|s| format!("{s:.1} s")).as_deref()),
        ),
        (
            "final-status",
            "Final status",
            opt(r.final_status.map(|s| s.to_string()).as_deref()),
        ),
        ("cause", "Hangup cause", opt(r.hangup_cause.as_deref())),
        (
            "emergency",
            "Emergency",
            esc(if r.emergency { "yes" } else { "no" }),
        ),
        ("diversion", "Diverted from", opt(r.diversion.as_deref())),
        ("hook", "Routing hook", opt(r.hook.as_deref())),
        (
            "signalling",
            "Signalling",
            esc(&format!(
                "caller {}, callee {}",
                r.caller_transport.as_deref().unwrap_or("\u{2014}"),
                r.callee_transport.as_deref().unwrap_or("\u{2014}")
            )),
        ),
        (
            "media-encryption",
            "Media",
            esc(&format!(
                "caller {}, callee {}",
                if r.caller_srtp { "SRTP" } else { "RTP" },
                if r.callee_srtp { "SRTP" } else { "RTP" }
            )),
        ),
        (
            "dtmf",
            "DTMF",
            esc(&format!(
                "caller {}, callee {}",
                dash(&r.dtmf_caller),
                dash(&r.dtmf_callee)
            )),
        ),
        (
            "uuid",
            "X-PH-RetreaverUUID",
            opt(r.retreaver_uuid.as_deref()),
        ),
        ("key", "X-PH-RetreaverKey", opt(r.retreaver_key.as_deref())),
        (
            "afid",
            "X-PH-RetreaverAFID",
            opt(r.retreaver_afid.as_deref()),
        ),
        ("sid", "X-PH-RetreaverSID", opt(r.retreaver_sid.as_deref())),
    ];
    let mut s = format!(r#"<section id="call" data-call-id="{}"><dl>"#, esc(&r.id));
    for (id, label, value) in rows {
        s.push_str(&format!(
            r#"<dt>{label}</dt><dd id="call-{id}">{value}</dd>"#
        ));
    }
    s.push_str("</dl>");
    s.push_str(&headers(
        "x-headers",
        "X- headers from the caller",
        &r.x_headers,
    ));
    s.push_str(&headers(
        "headers-out",
        "Headers the gateway sent to the callee",
        &r.headers_out,
    ));
    s.push_str(&headers(
        "callee-x-headers",
        "X- headers from the callee (the PBX)",
        &r.callee_x_headers,
    ));
    s.push_str("<h2>Media</h2>");
    s.push_str(&media(
        "media-caller",
        "Caller leg",
        r.caller_media.as_ref(),
    ));
    s.push_str(&media(
        "media-callee",
        "Callee leg",
        r.callee_media.as_ref(),
    ));
    s.push_str("</section>");
    s
}

fn headers(id: &str, title: &str, list: &[(String, String)]) -> String {
    let mut s = format!(r#"<h2>{title}</h2><table id="{id}" class="headers">"#);
    if list.is_empty() {
        s.push_str(r#"<tr class="none"><td>none</td></tr>"#);
    }
    for (n, v) in list {
        s.push_str(&format!(
            r#"<tr class="header"><th>{}</th><td>{}</td></tr>"#,
            esc(n),
            esc(v)
        ));
    }
    s.push_str("</table>");
    s
}

fn media(id: &str, title: &str, m: Option<&LegMediaRow>) -> String {
    let Some(m) = m else {
        return format!(
            r#"<h3>{title}</h3><p id="{id}" class="none">No media counters (the gateway did not relay this call's media, or the call goes on: they arrive when it ends).</p>"#
        );
    };
    let source = match (&m.source, m.source_learned) {
        (Some(s), true) => format!("{} (learned from the packets)", esc(s)),
        (Some(s), false) => format!("{} (from the SDP)", esc(s)),
        (None, _) => "—".into(),
    };
    let rows: Vec<(&str, String)> = vec![
        ("Codec", opt(m.codec.as_deref())),
        ("Packets", m.packets.to_string()),
        ("Bytes", m.bytes.to_string()),
        ("Lost", m.lost.to_string()),
        ("Jitter (RTP units)", m.jitter.to_string()),
        ("RTCP packets", m.rtcp.to_string()),
        (
            "Dropped from a foreign source",
            m.dropped_foreign.to_string(),
        ),
        ("Held before setup", m.held.to_string()),
        ("Held and dropped", m.dropped_held.to_string()),
        ("Source", source),
        ("DTMF sent to this leg", m.dtmf_rendered.to_string()),
        ("DTMF detected from this leg", m.dtmf_detected.to_string()),
        (
            "Media encryption",
            if m.srtp { "SRTP" } else { "none (RTP)" }.into(),
        ),
        ("SRTP packets refused", m.dropped_auth.to_string()),
    ];
    let mut s = format!(r#"<h3>{title}</h3><table id="{id}" class="media">"#);
    for (label, value) in rows {
        s.push_str(&format!("<tr><th>{label}</th><td>{value}</td></tr>"));
    }
    s.push_str("</table>");
    s
}

fn controls(who: &Identity, id: &str, error: Option<&(&str, Refusal)>) -> String {
    let base = esc(&call_path(id));
    let csrf = csrf_field(who);
    let err = |action: &str, field: &str| match error {
        Some((a, r)) if *a == action && r.field.unwrap_or("call") == field => {
            field_error(field, &r.message)
        }
        _ => String::new(),
    };
    format!(
        r#"<section id="control"><h2>Control the call</h2>
<form id="hangup-form" method="post" action="{base}/hangup">{csrf}<button type="submit" id="hangup">Hang up</button>{hangup_err}</form>
<form id="transfer" method="post" action="{base}/transfer">{csrf}<label>Transfer the caller to <input type="text" name="target" placeholder="sip:201@192.168.1.20" required></label>{target_err}<button type="submit">Transfer</button>{transfer_err}</form>
<form id="dtmf" method="post" action="{base}/dtmf">{csrf}<label>Digits <input type="text" name="digits" placeholder="12#" required></label>{digits_err}<label>to the <select name="leg"><option value="caller">caller</option><option value="callee">callee</option></select></label>{leg_err}<button type="submit">Send DTMF</button>{dtmf_err}</form>
</section>"#,
        hangup_err = err("hangup", "call"),
        target_err = err("transfer", "target"),
        transfer_err = err("transfer", "call"),
        digits_err = err("dtmf", "digits"),
        leg_err = err("dtmf", "leg"),
        dtmf_err = err("dtmf", "call"),
    )
}

/// Digits, or a dash for none.
fn dash(digits: &str) -> &str {
    if digits.is_empty() {
        "\u{2014}"
    } else {
        digits
    }
}
