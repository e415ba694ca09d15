//! `GET /api/v1/status`: what the status page shows, as JSON (the page's
//! script refreshes its tables from it).

use std::time::{Instant, SystemTime};

use serde_json::{json, Value};

use crate::app::view::{CallRecord, RegistrationState, RegistrationStatus};
use crate::app::Snapshot;
use crate::web::context::{Identity, WebContext};
use crate::web::http::{Method, Request, Response};

pub async fn handle(ctx: &WebContext, _who: &Identity, req: &Request) -> Option<Response> {
    if req.path != "/api/v1/status" {
        return None;
    }
    if req.method != Method::Get {
        return Some(Response::api_error(405, None, "only GET"));
    }
    let snap = ctx.status.snapshot();
    Some(Response::json(
        200,
        &status(ctx, &snap, Instant::now(), SystemTime::now()),
    ))
}

pub fn status(ctx: &WebContext, snap: &Snapshot, now: Instant, wall: SystemTime) -> Value {
    let (active, recent): (Vec<&CallRecord>, Vec<&CallRecord>) =
        snap.calls.iter().partition(|c| c.ended.is_none());
    json!({
        "version": ctx.version,
        "uptime_s": now.saturating_duration_since(ctx.started).as_secs(),
        "registrations": snap.registrations.iter().map(|r| registration(r, now)).collect::<Vec<_>>(),
        "calls_active": active.iter().map(|c| call(c, wall)).collect::<Vec<_>>(),
        "calls_recent": recent.iter().rev().map(|c| call(c, wall)).collect::<Vec<_>>(),
        "counters": counters(snap, active.len()),
        "tls": snap.tls.map(|t| json!({
            "certificate_sha256": snap.tls_certificate,
            "accepted": t.accepted,
            "connected": t.connected,
            "certificate_refused": t.certificate_failures,
            "handshake_failed": t.handshake_failures,
            "handshake_timeouts": t.timeouts,
            "over_limit": t.over_limit,
        })),
        "lines": snap.lines.iter().map(|l| json!({
            "name": l.name,
            "extension": l.extension,
            "in_service": l.in_service,
            "down_reason": l.down_reason,
            "off_hook": l.off_hook,
            "in_call": l.in_call,
        })).collect::<Vec<_>>(),
        "events": ctx.status.sinks().iter().map(|k| json!({
            "sink": k.sink,
            "pending": k.depth,
            "oldest_s": k.oldest.map(|_| k.oldest_age_s(wall)),
            "delivered": k.delivered,
            "failed": k.failed,
            "certificate_refused": k.certificate_refused,
            "dropped": k.dropped,
            "last_error": k.last_error,
        })).collect::<Vec<_>>(),
        "admission": snap.admission.iter().map(|l| json!({
            "listener": l.name,
            "admitted": l.counters.admitted,
            "admitted_for_auth": l.counters.admitted_for_auth,
            "dropped_not_allowed": l.counters.dropped_not_allowed,
            "rejected_not_allowed": l.counters.rejected_not_allowed,
            "dropped_rate_limited": l.counters.dropped_rate_limited,
            "dropped_rate_limited_listed": l.counters.dropped_rate_limited_listed,
            "top_sources": l.top_refused.iter().map(|(net, n)| json!({"network": net.to_string(), "refused": n})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// State name, and the words a person reads next to it.
pub fn registration_state(r: &RegistrationStatus, now: Instant) -> (&'static str, String) {
    match &r.state {
        RegistrationState::Starting => ("starting", "finding the registrar".into()),
        RegistrationState::Registering => ("registering", "REGISTER sent".into()),
        RegistrationState::Registered { expires_at, .. } => (
            "registered",
            format!(
                "renews before {} s",
                expires_at.saturating_duration_since(now).as_secs()
            ),
        ),
        RegistrationState::Failing {
            reason,
            attempts,
            next_attempt,
        } => (
            "failing",
            format!(
                "{reason} ({attempts} attempt(s); next in {} s)",
                next_attempt.saturating_duration_since(now).as_secs()
            ),
        ),
        RegistrationState::Unregistered => ("unregistered", String::new()),
    }
}

fn registration(r: &RegistrationStatus, now: Instant) -> Value {
    let (state, detail) = registration_state(r, now);
    let mut v = json!({
        "account": r.account,
        "state": state,
        "detail": detail,
        "registrar": r.registrar.map(|a| a.to_string()),
        "public_address": r.public_address.map(|a| a.to_string()),
    });
    match &r.state {
        RegistrationState::Registered {
            expires_at,
            contact,
        } => {
            v["expires_in_s"] = json!(expires_at.saturating_duration_since(now).as_secs());
            v["contact"] = json!(contact);
        }
        RegistrationState::Failing {
            reason,
            next_attempt,
            attempts,
        } => {
            v["reason"] = json!(reason);
            v["attempts"] = json!(attempts);
            v["next_try_s"] = json!(next_attempt.saturating_duration_since(now).as_secs());
        }
        _ => {}
    }
    v
}

/// Seconds since the call started (or how long it lasted).
pub fn duration_s(c: &CallRecord, wall: SystemTime) -> u64 {
    c.ended
        .unwrap_or(wall)
        .duration_since(c.started)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// "PCMU", or "PCMU / PCMA" when the legs differ (the gateway transcodes).
pub fn codec(c: &CallRecord) -> Option<String> {
    let m = c.media.as_ref()?;
    match (m.caller_codec, m.callee_codec) {
        (Some(a), Some(b)) if a != b => Some(format!("{a} / {b}")),
        (Some(a), _) | (None, Some(a)) => Some(a.to_string()),
        (None, None) => None,
    }
}

pub fn call(c: &CallRecord, wall: SystemTime) -> Value {
    let leg = |l: &crate::app::view::LegMediaStats| {
        json!({
            "source": l.source.map(|a| a.to_string()),
            "source_learned": l.source_learned,
            "packets": l.packets,
            "lost": l.lost,
            "srtp": l.srtp,
        })
    };
    json!({
        "id": c.id,
        "direction": c.direction,
        "caller_call_id": c.caller_call_id,
        "callee_call_id": c.callee_call_id,
        "from": c.from,
        "to": c.to,
        "route": c.route,
        "target": c.target,
        "codec": codec(c),
        "caller_transport": c.caller_transport,
        "callee_transport": c.callee_transport,
        "duration_s": duration_s(c, wall),
        "answered": c.answered.is_some(),
        "final_status": c.final_status,
        "hangup_cause": c.hangup_cause.as_ref().map(|h| h.name()),
        "media": c.media.as_ref().map(|m| json!({"caller": leg(&m.caller), "callee": leg(&m.callee)})),
    })
}

fn counters(snap: &Snapshot, active: usize) -> Value {
    let s = &snap.call_stats;
    let m = &snap.media;
    json!({
        "calls_active": active,
        "calls_started": s.started,
        "calls_answered": s.answered,
        "calls_failed": s.failed,
        "calls_busy": s.rejected_busy,
        "calls_no_route": s.no_route,
        "failovers": s.failovers,
        "transfers": s.transfers,
        "emergency_calls": s.emergency,
        "sip_requests": snap.core.requests_received,
        "sip_responses": snap.core.responses_received,
        "sip_malformed_dropped": snap.core.dropped_malformed,
        "transactions": snap.transactions,
        "media_packets": m.packets,
        "media_lost": m.lost,
        "media_sources_learned": m.sources_learned,
        "dtmf_rendered": m.dtmf_rendered,
        "dtmf_detected": m.dtmf_detected,
    })
}
