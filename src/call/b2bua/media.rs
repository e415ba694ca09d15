//! The call's media anchor: offers and answers rewritten per leg, and what the media threads are told.

use super::*;

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
        let offered = m.caller_offer.as_ref().ok_or("no offer was made")?;
        let (caller_dtmf, callee_dtmf) = (m.caller_dtmf, m.callee_dtmf);
        let a = rewrite_answer(
            &resp.body,
            offered,
            m.caller_local.ip(),
            m.caller_local.port(),
            caller_dtmf,
        )
        .map_err(|r| r.reason)?;
        // The plan before the address: packets the callee sent before its
        // answer was applied are relayed as soon as the address is, and
        // must be translated like the rest.
        self.push_plan(
            call.id,
            &a.plan,
            (LegSide::Caller, caller_dtmf),
            (LegSide::Callee, callee_dtmf),
        );
        self.media_out.push_back(MediaCommand::SetRemote {
            session: call.id,
            side: LegSide::Callee,
            remote: Remote {
                signalled: a.answerer_remote,
                payload_types: a.answerer_payload_types,
            },
        });
        let summary = call.record.media.get_or_insert(MediaSummary {
            caller: LegMediaStats::default(),
            callee: LegMediaStats::default(),
            caller_codec: None,
            callee_codec: None,
        });
        summary.caller_codec = Some(a.plan.caller.codec.name());
        summary.callee_codec = Some(a.plan.callee.codec.name());
        Ok(Some(a.body))
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
        let Some(m) = call.media.as_mut() else {
            return Ok(());
        };
        let local = if to == 0 {
            m.caller_local
        } else {
            m.callee_local
        };
        let offer =
            rewrite_offer(body, local.ip(), local.port(), m.dtmf_of(to)).map_err(|r| r.reason)?;
        *body = offer.body;
        m.pending_offer = Some((from, offer.offered));
        self.media_out.push_back(MediaCommand::SetRemote {
            session: call.id,
            side: media_side(from),
            remote: Remote {
                signalled: offer.offerer_remote,
                payload_types: offer.offerer_payload_types,
            },
        });
        self.media_out.push_back(MediaCommand::SetHold {
            session: call.id,
            hold: offer.hold,
        });
        Ok(())
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
        let Some(m) = call.media.as_mut() else {
            return Ok(None);
        };
        let Some((from, offered)) = m.pending_offer.take() else {
            return Err("an answer with no offer pending".into());
        };
        if from != offerer {
            return Err("the answer does not match the pending offer".into());
        }
        let local = if offerer == 0 {
            m.caller_local
        } else {
            m.callee_local
        };
        let modes = (m.dtmf_of(offerer), m.dtmf_of(answerer));
        let a = rewrite_answer(body, &offered, local.ip(), local.port(), modes.0)
            .map_err(|r| r.reason)?;
        // The plan first, as in `anchor_answer`.
        self.push_plan(
            call.id,
            &a.plan,
            (media_side(offerer), modes.0),
            (media_side(answerer), modes.1),
        );
        self.media_out.push_back(MediaCommand::SetRemote {
            session: call.id,
            side: media_side(answerer),
            remote: Remote {
                signalled: a.answerer_remote,
                payload_types: a.answerer_payload_types,
            },
        });
        Ok(Some(a.body))
    }

    /// Tells the media thread how packets change between the legs under
    /// `plan` (its `caller` is the offerer's side); each side comes with
    /// its leg's DTMF mode.
    pub(super) fn push_plan(
        &mut self,
        session: u64,
        plan: &crate::media::negotiate::MediaPlan,
        (offerer, offerer_dtmf): (LegSide, DtmfMode),
        (answerer, answerer_dtmf): (LegSide, DtmfMode),
    ) {
        let (map_o, map_a) = payload_maps(plan);
        let (tc_o, tc_a) = transcodes(plan);
        let (dtmf_o, dtmf_a) = dtmf_paths(plan, offerer_dtmf, answerer_dtmf);
        for (side, map, transcode, path) in [
            (offerer, map_o, tc_o, dtmf_o),
            (answerer, map_a, tc_a, dtmf_a),
        ] {
            self.media_out
                .push_back(MediaCommand::SetPayloadMap { session, side, map });
            self.media_out.push_back(MediaCommand::SetTranscode {
                session,
                side,
                transcode,
            });
            self.media_out.push_back(MediaCommand::SetDtmf {
                session,
                side,
                path,
            });
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
            .or_else(|| {
                self.history
                    .iter_mut()
                    .rev()
                    .find(|r| r.media_session == Some(session))
            });
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
        }
    }

    /// Fewer than the two RTP ports a call needs are free.
    pub(super) fn media_ports_short(&self) -> bool {
        self.ports
            .as_ref()
            .is_none_or(|p| p.capacity().saturating_sub(p.in_use()) < 2)
    }
}
