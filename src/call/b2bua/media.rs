//! The B2BUA's use of the media anchor (`call::anchor`): answers and
//! in-dialog offers, and the media threads' reports filed into records.

use super::*;
use crate::call::DTMF_KEPT;
use crate::media::relay::LegSide;

impl B2bua {
    /// The caller's view of the callee's SDP answer when the call's media
    /// is anchored (None: passthrough or no body), after telling the media
    /// thread where the callee wants its audio.
    pub(super) fn anchor_answer(
        &mut self,
        call: &mut Call,
        resp: &Response,
    ) -> Result<Option<Vec<u8>>, String> {
        let Some(m) = call.media.as_mut() else {
            return Ok(None);
        };
        if resp.body.is_empty() {
            return Ok(None);
        }
        let (body, codecs) = self.anchor.answer(call.id, m, &resp.body)?;
        let [caller_srtp, callee_srtp] = m.encrypted();
        let summary = call.record.media.get_or_insert(MediaSummary {
            caller: LegMediaStats::default(),
            callee: LegMediaStats::default(),
            caller_codec: None,
            callee_codec: None,
        });
        summary.caller_codec = Some(codecs.caller);
        summary.callee_codec = Some(codecs.callee);
        // Known from the answer, before the media thread's counters.
        summary.caller.srtp = caller_srtp;
        summary.callee.srtp = callee_srtp;
        Ok(Some(body))
    }

    /// Rewrites an in-dialog offer from `from` for leg `to` (re-INVITE,
    /// UPDATE: hold, resume, a new address).
    pub(super) fn anchor_offer(
        &mut self,
        call: &mut Call,
        from: usize,
        to: usize,
        body: &mut Vec<u8>,
    ) -> Result<(), String> {
        match call.media.as_mut() {
            Some(m) => self.anchor.offer(call.id, m, (from, to), body),
            None => Ok(()),
        }
    }

    /// Rewrites the answer (from leg `answerer`) to an offer relayed from
    /// leg `offerer`.
    pub(super) fn anchor_reanswer(
        &mut self,
        call: &mut Call,
        offerer: usize,
        answerer: usize,
        body: &[u8],
    ) -> Result<Option<Vec<u8>>, String> {
        match call.media.as_mut() {
            Some(m) => self
                .anchor
                .reanswer(call.id, m, (offerer, answerer), body)
                .map(Some),
            None => Ok(None),
        }
    }

    /// The media thread's counters for a session that closed, filed into
    /// the record (the call is usually over by then).
    pub(super) fn media_closed(
        &mut self,
        session: u64,
        caller: LegMediaStats,
        callee: LegMediaStats,
    ) {
        let record = self
            .calls
            .get_mut(&session)
            .map(|c| &mut c.record)
            .or_else(|| self.history.by_media_session(session));
        if let Some(r) = record {
            let m = r.media.get_or_insert(MediaSummary {
                caller: LegMediaStats::default(),
                callee: LegMediaStats::default(),
                caller_codec: None,
                callee_codec: None,
            });
            m.caller = caller;
            m.callee = callee;
            // The call's media in one line, per leg: what came in from it
            // and what was converted on its way to the other leg.
            let (a, b) = (&m.caller, &m.callee);
            // "198.51.100.7:20000 (sdp)" or "203.0.113.9:41000 (learned)".
            let source = |l: &LegMediaStats| match l.source {
                Some(s) if l.source_learned => format!("{s} (learned)"),
                Some(s) => format!("{s} (sdp)"),
                None => "-".into(),
            };
            info!(
                call = %r.id,
                caller_source = %source(a),
                callee_source = %source(b),
                caller_codec = m.caller_codec.unwrap_or("-"),
                caller_srtp = a.srtp,
                callee_srtp = b.srtp,
                srtp_dropped = a.dropped_auth + b.dropped_auth,
                srtcp_dropped = a.dropped_auth_rtcp + b.dropped_auth_rtcp,
                caller_packets = a.packets,
                caller_lost = a.lost,
                caller_jitter = a.jitter,
                caller_dtmf_rendered = a.dtmf_rendered,
                caller_dtmf_detected = a.dtmf_detected,
                callee_codec = m.callee_codec.unwrap_or("-"),
                callee_packets = b.packets,
                callee_lost = b.lost,
                callee_jitter = b.jitter,
                callee_dtmf_rendered = b.dtmf_rendered,
                callee_dtmf_detected = b.dtmf_detected,
                foreign_dropped = a.dropped_foreign + b.dropped_foreign,
                held = a.held + b.held,
                held_dropped = a.dropped_held + b.dropped_held,
                "call media"
            );
            // The record is borrowed from `calls` or `history`: queue the
            // change through the field, not `note_record_change(&self)`.
            self.record_changes.push_back(r.clone());
        }
    }

    /// Digits a leg sent (the media thread's batch): appended to the
    /// call's record, which then counts as changed, so the history keeps
    /// them and the events layer reports them (`app::events`).
    pub(super) fn media_digits(&mut self, session: u64, side: LegSide, digits: &str) {
        let record = self
            .calls
            .get_mut(&session)
            .map(|c| &mut c.record)
            .or_else(|| self.history.by_media_session(session));
        let Some(r) = record else {
            return;
        };
        // The digits themselves may be a PIN: the log says how many.
        debug!(call = %r.id, side = ?side, count = digits.len(), "DTMF digits");
        let was_full = match side {
            LegSide::Caller => r.dtmf_caller.len(),
            LegSide::Callee => r.dtmf_callee.len(),
        } >= DTMF_KEPT;
        let dropped = r.add_dtmf(side, digits);
        // Once per side and call: a peer that keeps sending is not worth
        // a line per batch.
        if dropped > 0 && !was_full {
            warn!(
                call = %r.id,
                side = ?side,
                dropped,
                "more than {DTMF_KEPT} DTMF digits from one side: the rest of the call's are not recorded or reported"
            );
        }
        if dropped == digits.len() {
            return;
        }
        // Borrowed from `calls` or `history`, as in `media_closed`.
        self.record_changes.push_back(r.clone());
    }

    /// Fewer than the two RTP ports a call needs are free.
    pub(super) fn media_ports_short(&self) -> bool {
        self.anchor.ports_short()
    }
}
