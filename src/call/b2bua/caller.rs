//! The caller's side: its CANCEL, the responses it gets, the 2xx kept until its ACK, the ACKs the gateway sends.

use super::*;

impl B2bua {
    pub(super) fn caller_cancelled(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        now: Instant,
    ) {
        if call.caller().final_sent {
            return; // §9.2: too late, the CANCEL changes nothing.
        }
        info!(call = %call.record.id, "caller cancelled");
        call.record.hangup_cause = Some(HangupCause::Cancelled);
        self.fail_caller(tx, call, 487, "Request Terminated", None, now);
        let callees: Vec<usize> = (1..call.legs.len()).collect();
        for leg in callees {
            self.cancel_callee(tx, call, leg, now);
        }
    }

    pub(super) fn cancel_callee(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        now: Instant,
    ) {
        let l = &mut call.legs[leg];
        if !matches!(l.state, LegState::Calling | LegState::Early) || l.cancel_pending {
            return;
        }
        l.cancel_pending = true;
        if l.provisional {
            if let Some(cancel) = l.sip().invite_client.and_then(|id| tx.cancel_request(id)) {
                self.fire(tx, call, leg, cancel, now);
            }
        }
        // Else the CANCEL goes when the first provisional arrives (§9.1).
    }

    /// A final non-2xx to the caller's INVITE; the call ends.
    pub(super) fn fail_caller(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        status: u16,
        reason: &str,
        from: Option<&Response>,
        now: Instant,
    ) {
        if call.caller().final_sent {
            return;
        }
        let r = self.caller_response(call, status, reason, from);
        if let Some(id) = call.legs[0].sip().invite_server {
            self.respond(tx, id, r, now);
        }
        call.legs[0].final_sent = true;
        call.legs[0].state = LegState::Terminated;
        call.record.final_status = Some(status);
        call.record.ended = Some(self.wall(now));
    }

    /// A response to the caller's INVITE built from the callee's.
    pub(super) fn caller_response(
        &self,
        call: &Call,
        status: u16,
        reason: &str,
        from: Option<&Response>,
    ) -> Response {
        let caller = call.caller();
        let mut r = Response::for_request(
            &caller.sip().invite,
            status,
            Some(&caller.sip().dialog.local_tag),
        );
        r.reason = crate::sip::message::reason_phrase(status).to_string();
        if !reason.is_empty() && !reason.contains(['\r', '\n']) {
            r.reason = reason.to_string();
        }
        if (101..300).contains(&status) {
            for rr in caller.sip().invite.headers.values(&HeaderName::RecordRoute) {
                r.headers.push(HeaderName::RecordRoute, rr);
            }
            r.headers.push(HeaderName::Contact, caller.sip().contact());
        }
        if status >= 200 {
            r.headers.push(HeaderName::Allow, CALL_ALLOW);
        }
        r.headers
            .push(HeaderName::Server, self.cfg.user_agent.as_str());
        if let Some(src) = from {
            for h in src.headers.iter() {
                if is_x_header(h.name.as_str()) {
                    r.headers.push(h.name.clone(), h.value.as_str());
                }
            }
            if status < 300 {
                for (name, value) in session_timer_headers(&src.headers) {
                    r.headers.push(name, value);
                }
            }
            if !src.body.is_empty() && status < 300 {
                if let Some(ct) = src.headers.get(&HeaderName::ContentType) {
                    r.headers.push(HeaderName::ContentType, ct);
                }
                r.body = src.body.clone();
            }
        }
        r
    }

    /// Sends a 2xx on `leg`'s server transaction and keeps retransmitting
    /// it until the ACK, which is then passed on as the ACK of
    /// (`ack_leg`, `ack_seq`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn answer_with_2xx(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        resp: Response,
        ack_leg: usize,
        ack_seq: u32,
        now: Instant,
    ) {
        let server = if leg == 0 && !call.legs[0].final_sent {
            call.legs[0].sip().invite_server
        } else {
            None
        };
        self.answer_2xx_on(tx, call, leg, server, resp, ack_leg, ack_seq, now);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn answer_2xx_on(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        server: Option<ServerTransactionId>,
        resp: Response,
        ack_leg: usize,
        ack_seq: u32,
        now: Instant,
    ) {
        let Some(server) = server else { return };
        self.respond(tx, server, resp.clone(), now);
        let cseq = resp.headers.cseq().map(|c| c.seq).unwrap_or(0);
        let l = &mut call.legs[leg];
        if leg == 0 {
            l.final_sent = true;
            l.state = LegState::Confirmed;
        }
        l.sip_mut().pending_2xx = Some(Pending2xx {
            server,
            response: resp,
            cseq,
            interval: self.cfg.t1,
            next: now + self.cfg.t1,
            give_up: now + self.cfg.t1 * 64,
        });
        l.sip_mut().ack_owed = Some((ack_leg, ack_seq));
        self.timers
            .arm(now + self.cfg.t1, call.id, leg, TimerKind::Retransmit2xx);
    }

    pub(super) fn ack_received(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        req: Request,
        _now: Instant,
    ) {
        let seq = req.headers.cseq().map(|c| c.seq).unwrap_or(0);
        let l = &mut call.legs[leg];
        match &l.sip().pending_2xx {
            Some(p) if p.cseq == seq => {}
            _ => return, // a retransmitted ACK, or one for nothing pending
        }
        l.sip_mut().pending_2xx = None;
        if let Some((other, other_seq)) = l.sip_mut().ack_owed.take() {
            if call
                .legs
                .get(other)
                .is_some_and(|o| o.state == LegState::Confirmed)
            {
                let body = (!req.body.is_empty()).then(|| {
                    (
                        req.headers
                            .get(&HeaderName::ContentType)
                            .unwrap_or("application/sdp")
                            .to_string(),
                        req.body.clone(),
                    )
                });
                self.send_ack_seq(tx, call, other, other_seq, body);
            }
        }
    }

    pub(super) fn send_ack(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        resp: &Response,
        body: Option<(String, Vec<u8>)>,
    ) {
        let seq = resp
            .headers
            .cseq()
            .map(|c| c.seq)
            .unwrap_or(call.legs[leg].sip().dialog.local_cseq);
        self.send_ack_seq(tx, call, leg, seq, body);
    }

    pub(super) fn send_ack_seq(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        seq: u32,
        body: Option<(String, Vec<u8>)>,
    ) {
        let branch = self.branch();
        let l = &mut call.legs[leg];
        let mut ack = l.sip().dialog.ack(seq);
        ack.headers
            .push_front(HeaderName::Via, l.sip().via(&branch));
        if let Some((ct, b)) = body {
            ack.headers.push(HeaderName::ContentType, ct);
            ack.body = b;
        }
        let bytes = ack.to_bytes();
        tx.send_stateless(l.sip().dialog.peer, bytes.clone());
        l.sip_mut().last_ack = Some(bytes);
    }
}
