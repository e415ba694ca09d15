//! `/metrics`: the core's counters in the Prometheus text format, read
//! from the snapshot the signalling loop refreshes (so a scrape never waits
//! for, or slows, the calls).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::call::{CallDirection, Outcomes};
use crate::sip::registration::RegistrationState;

use super::status::{Snapshot, StatusBoard};

/// What the process itself uses, read by the shell (it owns `/proc`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessStats {
    pub resident_bytes: u64,
    pub uptime_seconds: u64,
}

#[derive(Debug)]
struct SnapshotCollector {
    board: StatusBoard,
    process: ProcessStats,
}

/// The metrics page: every family below, with its help text.
pub fn render(board: &StatusBoard, process: ProcessStats) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SnapshotCollector {
        board: board.clone(),
        process,
    }));
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
    out
}

fn counter(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: &[(&[(&str, &str)], u64)],
) -> Result<(), std::fmt::Error> {
    let mut family =
        enc.encode_descriptor(name, help, None, ConstCounter::new(0u64).metric_type())?;
    for (labels, value) in rows {
        let labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ConstCounter::new(*value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: &[(Vec<(String, String)>, i64)],
) -> Result<(), std::fmt::Error> {
    let mut family =
        enc.encode_descriptor(name, help, None, ConstGauge::new(0i64).metric_type())?;
    for (labels, value) in rows {
        ConstGauge::new(*value).encode(family.encode_family(labels)?)?;
    }
    Ok(())
}

fn outcomes(
    direction: &'static str,
    o: &Outcomes,
) -> Vec<(Vec<(&'static str, &'static str)>, u64)> {
    [
        ("answered", o.answered),
        ("busy", o.busy),
        ("no_route", o.no_route),
        ("cancelled", o.cancelled),
        ("failed", o.failed),
    ]
    .into_iter()
    .map(|(outcome, n)| (vec![("direction", direction), ("outcome", outcome)], n))
    .collect()
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s: Snapshot = self.board.snapshot();
        let c = &s.call_stats;

        let ended: Vec<(Vec<(&str, &str)>, u64)> = outcomes("inbound", &c.ended_inbound)
            .into_iter()
            .chain(outcomes("outbound", &c.ended_outbound))
            .collect();
        let ended: Vec<(&[(&str, &str)], u64)> =
            ended.iter().map(|(l, n)| (l.as_slice(), *n)).collect();
        counter(
            &mut enc,
            "pbxgate_calls_ended",
            "Calls over, by direction and outcome.",
            &ended,
        )?;
        let live = |dir: CallDirection| {
            s.calls
                .iter()
                .filter(|r| r.ended.is_none() && r.direction == dir)
                .count() as i64
        };
        gauge(
            &mut enc,
            "pbxgate_calls_active",
            "Calls in progress, by direction.",
            &[
                (
                    vec![("direction".into(), "inbound".into())],
                    live(CallDirection::Inbound),
                ),
                (
                    vec![("direction".into(), "outbound".into())],
                    live(CallDirection::Outbound),
                ),
            ],
        )?;
        counter(
            &mut enc,
            "pbxgate_calls_emergency",
            "Calls from the LAN to an emergency number.",
            &[(&[], c.emergency)],
        )?;
        counter(
            &mut enc,
            "pbxgate_calls_failovers",
            "Targets given up on for the next one.",
            &[(&[], c.failovers)],
        )?;
        counter(
            &mut enc,
            "pbxgate_calls_transfers",
            "Calls transferred (REFER or the administrator).",
            &[(&[], c.transfers)],
        )?;

        let mut drops = Vec::new();
        for l in &s.admission {
            let k = &l.counters;
            for (reason, n) in [
                ("not_allowed", k.dropped_not_allowed),
                ("refused_403", k.rejected_not_allowed),
                ("rate_limited", k.dropped_rate_limited),
                ("rate_limited_listed", k.dropped_rate_limited_listed),
            ] {
                drops.push((vec![("listener", l.name.as_str()), ("reason", reason)], n));
            }
        }
        let drops: Vec<(&[(&str, &str)], u64)> =
            drops.iter().map(|(l, n)| (l.as_slice(), *n)).collect();
        counter(
            &mut enc,
            "pbxgate_admission_refused",
            "Packets a listener refused, by reason.",
            &drops,
        )?;

        let registrations: Vec<(Vec<(String, String)>, i64)> = s
            .registrations
            .iter()
            .map(|r| {
                let state = match r.state {
                    RegistrationState::Registered { .. } => "registered",
                    RegistrationState::Failing { .. } => "failing",
                    _ => "other",
                };
                (
                    vec![
                        ("account".into(), r.account.clone()),
                        ("state".into(), state.into()),
                    ],
                    1,
                )
            })
            .collect();
        gauge(
            &mut enc,
            "pbxgate_registration",
            "Each account's registration state (1 for the state it is in).",
            &registrations,
        )?;

        let m = &s.media;
        for (name, help, value) in [
            (
                "pbxgate_media_packets",
                "RTP packets received on closed sessions.",
                m.packets,
            ),
            (
                "pbxgate_media_lost",
                "RTP packets missing on closed sessions.",
                m.lost,
            ),
            (
                "pbxgate_media_foreign_dropped",
                "Packets from sources a leg does not take.",
                m.dropped_foreign,
            ),
            (
                "pbxgate_media_sources_learned",
                "Legs whose media source was learned, not the SDP's.",
                m.sources_learned,
            ),
            (
                "pbxgate_media_srtp_legs",
                "Call legs whose media was SRTP (closed sessions).",
                m.srtp_legs,
            ),
            (
                "pbxgate_media_srtp_refused",
                "SRTP packets refused (authentication or replay) on closed sessions.",
                m.srtp_refused,
            ),
            (
                "pbxgate_dtmf_rendered",
                "RFC 4733 digits turned into tones.",
                m.dtmf_rendered,
            ),
            (
                "pbxgate_dtmf_detected",
                "Tones detected and sent as RFC 4733 events.",
                m.dtmf_detected,
            ),
            (
                "pbxgate_sip_requests_received",
                "SIP requests received.",
                s.core.requests_received,
            ),
            (
                "pbxgate_sip_responses_received",
                "SIP responses received.",
                s.core.responses_received,
            ),
            (
                "pbxgate_sip_malformed",
                "Malformed SIP messages (answered 400/505 or dropped).",
                s.core.rejected_answered + s.core.dropped_malformed,
            ),
        ] {
            counter(&mut enc, name, help, &[(&[], value)])?;
        }
        gauge(
            &mut enc,
            "pbxgate_sip_transactions",
            "SIP transactions under way.",
            &[(Vec::new(), s.transactions as i64)],
        )?;
        gauge(
            &mut enc,
            "pbxgate_process_resident_bytes",
            "Resident memory of the process.",
            &[(Vec::new(), self.process.resident_bytes as i64)],
        )?;
        gauge(
            &mut enc,
            "pbxgate_uptime_seconds",
            "Seconds since the gateway started.",
            &[(Vec::new(), self.process.uptime_seconds as i64)],
        )?;
        if let Some(t) = &s.tls {
            for (name, help, value) in [
                (
                    "pbxgate_tls_accepted",
                    "TLS connections accepted (handshake done).",
                    t.accepted,
                ),
                (
                    "pbxgate_tls_connected",
                    "TLS connections the gateway opened (handshake done).",
                    t.connected,
                ),
                (
                    "pbxgate_tls_certificate_refused",
                    "TLS handshakes failed on a certificate (untrusted, wrong name, expired).",
                    t.certificate_failures,
                ),
                (
                    "pbxgate_tls_handshake_failed",
                    "TLS handshakes failed for another reason.",
                    t.handshake_failures,
                ),
                (
                    "pbxgate_tls_handshake_timeouts",
                    "TLS handshakes not done within [tls] handshake_timeout_ms.",
                    t.timeouts,
                ),
                (
                    "pbxgate_tls_over_limit",
                    "TLS connections closed unshaken: too many handshakes in progress.",
                    t.over_limit,
                ),
            ] {
                counter(&mut enc, name, help, &[(&[], value)])?;
            }
        }
        self.encode_sinks(&mut enc)?;
        Ok(())
    }
}

impl SnapshotCollector {
    /// The event sinks' figures (`pbxgate_events_*{sink}`).
    fn encode_sinks(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let sinks = self.board.sinks();
        let now = std::time::SystemTime::now();
        let gauges = |f: &dyn Fn(&super::SinkStats) -> i64| -> Vec<(Vec<(String, String)>, i64)> {
            sinks
                .iter()
                .map(|k| (vec![("sink".to_string(), k.sink.clone())], f(k)))
                .collect()
        };
        gauge(
            enc,
            "pbxgate_events_pending",
            "Events in the outbox not yet delivered, per sink.",
            &gauges(&|k| k.depth as i64),
        )?;
        gauge(
            enc,
            "pbxgate_events_oldest_seconds",
            "Age of the oldest undelivered event, per sink.",
            &gauges(&|k| k.oldest_age_s(now) as i64),
        )?;
        for (name, help, f) in [
            (
                "pbxgate_events_delivered",
                "Events a sink's receiver acknowledged.",
                (|k: &super::SinkStats| k.delivered) as fn(&super::SinkStats) -> u64,
            ),
            (
                "pbxgate_events_failed",
                "Failed delivery attempts (each retry counts).",
                |k: &super::SinkStats| k.failed,
            ),
            (
                "pbxgate_events_dropped",
                "Events dropped because the outbox was full.",
                |k: &super::SinkStats| k.dropped,
            ),
            (
                "pbxgate_events_certificate_refused",
                "Attempts refused because the receiver's certificate is not trusted.",
                |k: &super::SinkStats| k.certificate_refused,
            ),
        ] {
            let labels: Vec<[(&str, &str); 1]> =
                sinks.iter().map(|k| [("sink", k.sink.as_str())]).collect();
            let rows: Vec<(&[(&str, &str)], u64)> = labels
                .iter()
                .zip(&sinks)
                .map(|(l, k)| (l.as_slice(), f(k)))
                .collect();
            counter(enc, name, help, &rows)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::ListenerCounters;
    use crate::policy::AdmissionCounters;

    #[test]
    fn the_page_has_every_family_in_the_prometheus_text_format() {
        let board = StatusBoard::default();
        let mut stats = crate::call::CallStats::default();
        stats.ended_inbound.answered = 7;
        stats.ended_outbound.no_route = 2;
        stats.emergency = 1;
        board.update_calls(Vec::new(), stats);
        board.set_admission_for_test(vec![ListenerCounters {
            name: "wan".into(),
            counters: AdmissionCounters {
                dropped_not_allowed: 100,
                ..AdmissionCounters::default()
            },
            top_refused: Vec::new(),
        }]);
        board.update_sink(crate::app::SinkStats {
            sink: "crm".into(),
            delivered: 5,
            failed: 3,
            certificate_refused: 1,
            depth: 4,
            oldest: Some(std::time::SystemTime::now() - std::time::Duration::from_secs(90)),
            dropped: 2,
            ..Default::default()
        });
        board.update_tls(Some(crate::sip::transport::tls::TlsStats {
            accepted: 9,
            certificate_failures: 2,
            over_limit: 496,
            ..Default::default()
        }));
        let text = render(
            &board,
            ProcessStats {
                resident_bytes: 12_345,
                uptime_seconds: 60,
            },
        );
        for line in [
            "# TYPE pbxgate_calls_ended_total counter",
            "pbxgate_calls_ended_total{direction=\"inbound\",outcome=\"answered\"} 7",
            "pbxgate_calls_ended_total{direction=\"outbound\",outcome=\"no_route\"} 2",
            "pbxgate_calls_emergency_total 1",
            "pbxgate_calls_active{direction=\"inbound\"} 0",
            "pbxgate_admission_refused_total{listener=\"wan\",reason=\"not_allowed\"} 100",
            "pbxgate_process_resident_bytes 12345",
            "pbxgate_uptime_seconds 60",
            "# HELP pbxgate_sip_transactions SIP transactions under way.",
            "pbxgate_events_pending{sink=\"crm\"} 4",
            "pbxgate_events_oldest_seconds{sink=\"crm\"} 90",
            "pbxgate_events_delivered_total{sink=\"crm\"} 5",
            "pbxgate_events_failed_total{sink=\"crm\"} 3",
            "pbxgate_events_dropped_total{sink=\"crm\"} 2",
            "pbxgate_events_certificate_refused_total{sink=\"crm\"} 1",
            "pbxgate_tls_accepted_total 9",
            "pbxgate_tls_certificate_refused_total 2",
            "pbxgate_tls_over_limit_total 496",
        ] {
            assert!(text.contains(line), "{line} in:\n{text}");
        }
        assert!(
            !text.contains("# EOF"),
            "the Prometheus format, not OpenMetrics"
        );
    }
}
