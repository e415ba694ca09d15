//! `/`: the status page. Rendered on the server (readable without
//! script); `assets/status.js` refreshes its tables from `/api/v1/status`
//! every 2 s.

use std::time::{Instant, SystemTime};

use crate::app::view::{CallRecord, LegMediaStats};
use crate::app::Snapshot;
use crate::web::api::status::{codec, duration_s, registration_state};
use crate::web::context::{Identity, WebContext};
use crate::web::html::{esc, page};
use crate::web::http::{Method, Request, Response};

pub async fn handle(ctx: &WebContext, who: &Identity, req: &Request) -> Option<Response> {
    if req.path != "/" || req.method != Method::Get {
        return None;
    }
    let snap = ctx.status.snapshot();
    let body = render(ctx, &snap, Instant::now(), SystemTime::now());
    Some(Response::html(200, page("Status", "/", Some(who), &body)))
}

fn opt(s: &Option<String>) -> String {
    s.as_deref().map(esc).unwrap_or_else(|| "–".into())
}

fn media_cell(l: &LegMediaStats) -> String {
    let source = match l.source {
        Some(a) if l.source_learned => format!("{a} (learned)"),
        Some(a) => a.to_string(),
        None => "–".into(),
    };
    format!("{} · {} pkts, {} lost", esc(&source), l.packets, l.lost)
}

pub fn call_row(c: &CallRecord, wall: SystemTime) -> String {
    let (caller_media, callee_media) = match &c.media {
        Some(m) => (media_cell(&m.caller), media_cell(&m.callee)),
        None => ("–".into(), "–".into()),
    };
    let d = duration_s(c, wall);
    format!(
        r#"<tr class="call" data-call-id="{id}"><td>{dir:?}</td><td class="leg"><span class="from">{from}</span><br><code>{a}</code></td><td class="leg"><span class="to">{to}</span><br><code>{b}</code></td><td class="route">{route}</td><td class="target">{target}</td><td class="codec">{codec}</td><td class="duration">{m}:{s:02}</td><td class="media">{caller_media}<br>{callee_media}</td></tr>"#,
        id = esc(&c.id),
        dir = c.direction,
        from = esc(&c.from),
        to = esc(&c.to),
        a = esc(&c.caller_call_id),
        b = opt(&c.callee_call_id),
        route = opt(&c.route),
        target = opt(&c.target),
        codec = opt(&codec(c)),
        m = d / 60,
        s = d % 60,
    )
}

pub fn render(ctx: &WebContext, snap: &Snapshot, now: Instant, wall: SystemTime) -> String {
    let mut regs = String::new();
    for r in &snap.registrations {
        let (state, detail) = registration_state(r, now);
        regs.push_str(&format!(
            r#"<tr class="registration" data-account="{a}"><td>{a}</td><td class="state {state}">{state}</td><td>{detail}</td><td>{registrar}</td></tr>"#,
            a = esc(&r.account),
            detail = esc(&detail),
            registrar = r.registrar.map(|a| a.to_string()).unwrap_or_else(|| "–".into()),
        ));
    }
    if regs.is_empty() {
        regs = r#"<tr><td colspan="4" class="empty">No accounts register.</td></tr>"#.into();
    }
    let mut calls = String::new();
    for c in snap.calls.iter().filter(|c| c.ended.is_none()) {
        calls.push_str(&call_row(c, wall));
    }
    if calls.is_empty() {
        calls =
            r#"<tr class="empty"><td colspan="8" class="empty">No calls in progress.</td></tr>"#
                .into();
    }
    let active = snap.calls.iter().filter(|c| c.ended.is_none()).count();
    let s = &snap.call_stats;
    let m = &snap.media;
    let counters = [
        ("calls_active", "Calls in progress", active as u64),
        ("calls_started", "Calls started", s.started),
        ("calls_answered", "Answered", s.answered),
        ("calls_failed", "Failed", s.failed),
        ("calls_busy", "Refused busy", s.rejected_busy),
        ("calls_no_route", "No route", s.no_route),
        ("emergency_calls", "Emergency calls", s.emergency),
        (
            "sip_requests",
            "SIP requests received",
            snap.core.requests_received,
        ),
        (
            "transactions",
            "Transactions under way",
            snap.transactions as u64,
        ),
        ("media_packets", "RTP packets", m.packets),
        ("media_lost", "RTP packets lost", m.lost),
        (
            "dtmf_rendered",
            "DTMF converted",
            m.dtmf_rendered + m.dtmf_detected,
        ),
    ]
    .iter()
    .map(|(k, label, v)| format!(r#"<tr data-counter="{k}"><th>{label}</th><td>{v}</td></tr>"#))
    .collect::<String>();
    let mut admission = String::new();
    for l in &snap.admission {
        let c = &l.counters;
        let top = l
            .top_refused
            .iter()
            .map(|(net, n)| format!("{} ({n})", esc(&net.to_string())))
            .collect::<Vec<_>>()
            .join(", ");
        admission.push_str(&format!(
            r#"<tr data-listener="{name}"><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            c.admitted + c.admitted_for_auth,
            c.dropped_not_allowed,
            c.rejected_not_allowed,
            c.dropped_rate_limited + c.dropped_rate_limited_listed,
            if top.is_empty() { "–".into() } else { top },
            name = esc(&l.name),
        ));
    }
    let uptime = now.saturating_duration_since(ctx.started).as_secs();
    let events = events_table(&ctx.status.sinks(), wall);
    let tls = tls_table(snap.tls, snap.tls_certificate.as_deref());
    let lines = lines_table(&snap.lines);
    format!(
        r#"<p class="summary">Version <span id="version">{version}</span> · up <span id="uptime" data-seconds="{uptime}">{h}h {mm:02}m</span></p>
<h2>Registrations</h2>
<table id="registrations"><thead><tr><th>Account</th><th>State</th><th>Detail</th><th>Registrar</th></tr></thead><tbody>{regs}</tbody></table>
<h2>Calls in progress</h2>
<table id="calls-active"><thead><tr><th>Direction</th><th>Caller leg (From, Call-ID)</th><th>Callee leg (To, Call-ID)</th><th>Route</th><th>Target</th><th>Codec</th><th>Duration</th><th>Media (caller, callee)</th></tr></thead><tbody>{calls}</tbody></table>
<h2>Counters</h2>
<table id="counters" class="narrow"><tbody>{counters}</tbody></table>
<h2>Admission by listener</h2>
<table id="admission"><thead><tr><th>Listener</th><th>Admitted</th><th>Dropped (not allowed)</th><th>Refused (not allowed)</th><th>Dropped (rate)</th><th>Top refused sources</th></tr></thead><tbody>{admission}</tbody></table>
{lines}{tls}{events}<script src="/assets/status.js"></script>"#,
        version = esc(ctx.version),
        h = uptime / 3600,
        mm = uptime % 3600 / 60,
    )
}

/// The local lines (only when there are some).
fn lines_table(lines: &[crate::app::lines::LineStatus]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let rows: String = lines
        .iter()
        .map(|l| {
            let state = match (&l.down_reason, l.in_call, l.off_hook) {
                (Some(why), _, _) => format!("out of service: {why}"),
                (None, true, _) => "in a call".into(),
                (None, false, true) => "off the hook".into(),
                (None, false, false) => "idle".into(),
            };
            format!(
                r#"<tr data-line="{name}"><td>{name}</td><td>{}</td><td class="state">{}</td></tr>"#,
                esc(&l.extension),
                esc(&state),
                name = esc(&l.name),
            )
        })
        .collect();
    format!(
        r#"<h2>Local lines</h2>
<table id="lines"><thead><tr><th>Line</th><th>Extension</th><th>State</th></tr></thead><tbody>{rows}</tbody></table>
"#
    )
}

/// SIP over TLS (only when the configuration uses it).
fn tls_table(tls: Option<crate::app::TlsStats>, certificate: Option<&str>) -> String {
    let Some(t) = tls else {
        return String::new();
    };
    let row = |id: &str, label: &str, n: u64| {
        format!(r#"<tr><th>{label}</th><td id="tls-{id}">{n}</td></tr>"#)
    };
    format!(
        r#"<h2>SIP over TLS</h2>
<p>Certificate SHA-256 <code id="tls-certificate">{}</code></p>
<table id="tls" class="narrow"><tbody>{}{}{}{}{}{}</tbody></table>
"#,
        esc(certificate.unwrap_or("\u{2013}")),
        row("accepted", "Connections accepted", t.accepted),
        row("connected", "Connections opened", t.connected),
        row(
            "certificate-refused",
            "Certificates refused",
            t.certificate_failures
        ),
        row(
            "handshake-failed",
            "Handshakes failed",
            t.handshake_failures
        ),
        row("handshake-timeouts", "Handshakes timed out", t.timeouts),
        row(
            "over-limit",
            "Closed over the handshake limit",
            t.over_limit
        ),
    )
}

/// Each event sink's delivery (only when there is one).
fn events_table(sinks: &[crate::app::SinkStats], wall: SystemTime) -> String {
    if sinks.is_empty() {
        return String::new();
    }
    let rows: String = sinks
        .iter()
        .map(|k| {
            format!(
                r#"<tr data-sink="{name}"><td>{name}</td><td class="depth">{}</td><td class="oldest">{}</td><td class="delivered">{}</td><td class="failed">{}</td><td class="dropped">{}</td><td class="last-error">{}</td></tr>"#,
                k.depth,
                if k.depth == 0 { "–".to_string() } else { format!("{} s", k.oldest_age_s(wall)) },
                k.delivered,
                k.failed,
                k.dropped,
                k.last_error.as_deref().map(esc).unwrap_or_else(|| "–".into()),
                name = esc(&k.sink),
            )
        })
        .collect();
    format!(
        r#"<h2>Event delivery</h2>
<table id="events"><thead><tr><th>Sink</th><th>Pending</th><th>Oldest</th><th>Delivered</th><th>Failed attempts</th><th>Dropped</th><th>Last error</th></tr></thead><tbody>{rows}</tbody></table>
"#
    )
}
