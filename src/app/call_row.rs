//! A call record as the store keeps it: the B2BUA's record mapped into
//! the store's own row, so the store needs to know nothing of calls.

use crate::call::{CallDirection, CallRecord, LegMediaStats};
use crate::store::{CallRow, LegMediaRow};

pub fn call_row(r: &CallRecord) -> CallRow {
    let direction = match r.direction {
        CallDirection::Inbound => "inbound",
        CallDirection::Outbound => "outbound",
    };
    let leg = |s: &LegMediaStats, codec: Option<&'static str>| LegMediaRow {
        codec: codec.map(str::to_string),
        packets: s.packets,
        bytes: s.bytes,
        lost: s.lost,
        jitter: s.jitter,
        rtcp: s.rtcp,
        dropped_foreign: s.dropped_foreign,
        held: s.held,
        dropped_held: s.dropped_held,
        source: s.source.map(|a| a.to_string()),
        source_learned: s.source_learned,
        dtmf_rendered: s.dtmf_rendered,
        dtmf_detected: s.dtmf_detected,
        srtp: s.srtp,
        dropped_auth: s.dropped_auth,
    };
    CallRow {
        id: r.id.clone(),
        direction: direction.into(),
        caller_call_id: r.caller_call_id.clone(),
        callee_call_id: r.callee_call_id.clone(),
        from: r.from.clone(),
        to: r.to.clone(),
        route: r.route.clone(),
        target: r.target.clone(),
        emergency: r.emergency,
        retreaver_uuid: r.retreaver_uuid.clone(),
        retreaver_key: r.retreaver_key.clone(),
        retreaver_afid: r.retreaver_afid.clone(),
        retreaver_sid: r.retreaver_sid.clone(),
        diversion: r.diversion.clone(),
        x_headers: r.x_headers.clone(),
        callee_x_headers: r.callee_x_headers.clone(),
        headers_out: r.headers_out.clone(),
        started: r.started,
        answered: r.answered,
        ended: r.ended,
        final_status: r.final_status,
        hangup_cause: r.hangup_cause.as_ref().map(|c| c.name().to_string()),
        hook: r.hook.clone(),
        dtmf_caller: r.dtmf_caller.clone(),
        dtmf_callee: r.dtmf_callee.clone(),
        caller_transport: r.caller_transport.map(str::to_string),
        callee_transport: r.callee_transport.map(str::to_string),
        caller_srtp: r.media.as_ref().is_some_and(|m| m.caller.srtp),
        callee_srtp: r.media.as_ref().is_some_and(|m| m.callee.srtp),
        caller_media: r.media.as_ref().map(|m| leg(&m.caller, m.caller_codec)),
        callee_media: r.media.as_ref().map(|m| leg(&m.callee, m.callee_codec)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::{HangupCause, MediaSummary};

    /// Every cause is named as the record serialises it (what webhooks
    /// send), so the history and the events agree.
    #[test]
    fn cause_names_are_the_records_serialised_names() {
        for c in HangupCause::ALL {
            let serialised = toml::Value::try_from(&c).expect("a unit variant");
            assert_eq!(serialised.as_str(), Some(c.name()), "{c:?}");
        }
    }

    #[test]
    fn a_record_maps_into_a_row_with_both_legs() {
        let record = CallRecord {
            id: "0123456789abcdef".into(),
            direction: CallDirection::Outbound,
            caller_call_id: "a@pbx".into(),
            callee_call_id: Some("b@gw".into()),
            from: "sip:201@192.168.1.10".into(),
            to: "sip:+15551230000@sip.example.com".into(),
            route: Some("out".into()),
            emergency: true,
            target: Some("sip:+15551230000@sip.example.com".into()),
            retreaver_uuid: None,
            retreaver_key: None,
            retreaver_afid: Some("5678".into()),
            retreaver_sid: None,
            x_headers: vec![("X-A".into(), "1".into())],
            callee_x_headers: vec![("X-B".into(), "2".into())],
            headers_out: vec![("X-C".into(), "3".into())],
            diversion: None,
            started: std::time::SystemTime::UNIX_EPOCH,
            answered: None,
            ended: None,
            final_status: Some(487),
            hangup_cause: Some(HangupCause::Cancelled),
            hook: Some("timeout".into()),
            caller_transport: None,
            callee_transport: None,
            media: Some(MediaSummary {
                caller: LegMediaStats {
                    packets: 7,
                    source: Some("192.168.1.10:4000".parse().unwrap()),
                    dtmf_detected: 2,
                    ..LegMediaStats::default()
                },
                callee: LegMediaStats::default(),
                caller_codec: Some("PCMU"),
                callee_codec: Some("PCMA"),
            }),
            media_session: Some(3),
            dtmf_caller: "12#".into(),
            dtmf_callee: String::new(),
        };
        let row = call_row(&record);
        assert_eq!(
            (row.dtmf_caller.as_str(), row.dtmf_callee.as_str()),
            ("12#", "")
        );
        assert_eq!(row.direction, "outbound");
        assert_eq!(row.hangup_cause.as_deref(), Some("cancelled"));
        assert!(row.emergency);
        assert_eq!(row.hook.as_deref(), Some("timeout"));
        assert_eq!(row.headers_out, record.headers_out);
        let caller = row.caller_media.expect("caller media");
        assert_eq!(caller.codec.as_deref(), Some("PCMU"));
        assert_eq!(caller.packets, 7);
        assert_eq!(caller.source.as_deref(), Some("192.168.1.10:4000"));
        assert_eq!(caller.dtmf_detected, 2);
        assert_eq!(
            row.callee_media.and_then(|m| m.codec).as_deref(),
            Some("PCMA")
        );
    }
}
