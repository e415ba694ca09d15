//! Answers to the INVITE sent to a callee: ringing, answer, failure, challenges and redirects.

use super::*;

impl B2bua {
    pub(super) fn callee_invite_response(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        id: ClientTransactionId,
        resp: Response,
        now: Instant,
    ) {
        let status = resp.status;
        {
            let l = &mut call.legs[leg];
            l.heard_from = true;
            if status > 100 && status < 300 && resp.headers.to_tag().is_some() {
                l.sip_mut().dialog.update_from_response(&resp);
                if l.state == LegState::Calling {
                    l.state = LegState::Early;
                }
            }
        }
        if status == 100 {
            return;
        }
        let is_transfer = call.transfer.map(|t| t.leg) == Some(leg);
        let current = Some(leg) == call.callee || is_transfer;
        let unwanted = !current || call.legs[leg].abandoned || call.legs[leg].cancel_pending;
        if status < 200 {
            call.legs[leg].provisional = true;
            if unwanted {
                if let Some(cancel) = tx.cancel_request(id) {
                    self.fire(tx, call, leg, cancel, now);
                }
                return;
            }
            if !is_transfer && !call.caller().final_sent {
                let mut r = self.caller_response(call, status, &resp.reason, Some(&resp));
                match self.anchor_answer(call, &resp) {
                    Ok(Some(body)) => r.body = body,
                    Ok(None) => {}
                    Err(why) => {
                        // An early answer we cannot use: ring without it.
                        debug!(call = %call.record.id, "provisional SDP not relayed: {why}");
                        r.body.clear();
                        r.headers.remove(&HeaderName::ContentType);
                    }
                }
                if let Some(server) = call.legs[0].sip().invite_server {
                    self.respond(tx, server, r, now);
                }
            }
            return;
        }
        if resp.is_success() {
            call.legs[leg].state = LegState::Confirmed;
            let seq = call.legs[leg].sip().dialog.local_cseq;
            if unwanted {
                // A late answer from a leg we gave up on: take it and hang up.
                self.send_ack(tx, call, leg, &resp, None);
                self.send_bye(tx, call, leg, now);
                return;
            }
            if is_transfer {
                self.transfer_answered(tx, call, leg, &resp, now);
                return;
            }
            let anchored = match self.anchor_answer(call, &resp) {
                Ok(b) => b,
                Err(why) => {
                    warn!(call = %call.record.id, "the callee's answer cannot be anchored: {why}");
                    self.send_ack(tx, call, leg, &resp, None);
                    self.send_bye(tx, call, leg, now);
                    call.record.hangup_cause = Some(HangupCause::MediaFailed);
                    let reason = format!("Not Acceptable Here ({why})");
                    self.fail_caller(tx, call, 488, &reason, None, now);
                    return;
                }
            };
            call.record.callee_x_headers = x_headers(&resp.headers);
            call.record.answered = Some(self.wall(now));
            call.record.final_status = Some(status);
            self.note_record_change(&call.record);
            self.stats.answered += 1;
            info!(call = %call.record.id, target = call.legs[leg].target.as_deref().unwrap_or("-"), "call answered");
            let mut r = self.caller_response(call, status, &resp.reason, Some(&resp));
            if let Some(body) = anchored {
                r.body = body;
            }
            self.answer_with_2xx(tx, call, 0, r, leg, seq, now);
            self.arm_session_timer(call, &resp, now);
            return;
        }
        // 3xx-6xx: the transaction layer has ACKed it.
        call.legs[leg].state = LegState::Terminated;
        if unwanted {
            return;
        }
        if is_transfer {
            self.transfer_failed(tx, call, leg, &resp, now);
            return;
        }
        match status {
            300..=399 => self.follow_redirect(tx, call, leg, &resp, now),
            401 | 407 => {
                if !self.retry_with_credentials(tx, call, leg, &resp, now) {
                    self.callee_failed(
                        tx,
                        call,
                        leg,
                        403,
                        "Forbidden (the target asks for credentials the route does not have)"
                            .into(),
                        now,
                    );
                }
            }
            _ => {
                call.record.callee_x_headers = x_headers(&resp.headers);
                self.callee_failed_with(tx, call, leg, &resp, now)
            }
        }
    }

    /// A callee failed with `resp`: the next target for 408/5xx, else the
    /// answer goes back to the caller (486, 603, 404, ...).
    pub(super) fn callee_failed_with(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        resp: &Response,
        now: Instant,
    ) {
        if resp.status == 408 || (500..600).contains(&resp.status) {
            self.callee_failed(tx, call, leg, resp.status, resp.reason.clone(), now);
            return;
        }
        info!(call = %call.record.id, status = resp.status, "callee refused the call");
        self.stats.failed += 1;
        call.record.hangup_cause = Some(HangupCause::Rejected);
        self.fail_caller(tx, call, resp.status, &resp.reason.clone(), Some(resp), now);
    }

    /// The callee is out (timeout, 408, 5xx): fail over to the next target.
    pub(super) fn callee_failed(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        status: u16,
        reason: String,
        now: Instant,
    ) {
        info!(call = %call.record.id, target = call.legs[leg].target.as_deref().unwrap_or("-"), status, "target failed");
        // 503 from a PBX means "this PBX", not "the gateway": never tell
        // the platform to back off from us.
        let (status, reason) = if status == 503 {
            (480, "Temporarily Unavailable".to_string())
        } else {
            (status, reason)
        };
        call.last_failure = Some((status, reason));
        if call.caller().final_sent {
            return;
        }
        self.try_next_target(tx, call, now);
    }

    pub(super) fn retry_with_credentials(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        resp: &Response,
        now: Instant,
    ) -> bool {
        let Some(creds) = call.legs[leg].sip().credentials.clone() else {
            return false;
        };
        let Some((challenge, answer_in)) = pick_challenge(resp) else {
            return false;
        };
        let l = &mut call.legs[leg];
        // One retry per challenge, plus one for a stale nonce.
        if l.sip().auth_attempts >= 1 && !challenge.stale {
            return false;
        }
        if l.sip().auth_attempts >= 3 {
            return false;
        }
        l.sip_mut().auth_attempts += 1;
        let mut invite = l.sip().invite.clone();
        let uri = invite.uri.to_string();
        let cnonce = self.ids.cnonce();
        let auth = match l.sip_mut().digest.authorize(
            &challenge,
            &creds.username,
            &creds.password,
            &Method::Invite,
            &uri,
            &cnonce,
        ) {
            Ok(a) => a,
            Err(e) => {
                warn!(call = %call.record.id, error = %e, "cannot answer the callee's challenge");
                return false;
            }
        };
        l.sip_mut().dialog.local_cseq += 1;
        let seq = l.sip().dialog.local_cseq;
        let h = &mut invite.headers;
        h.remove(&HeaderName::Via);
        h.push_front(HeaderName::Via, l.sip().via(&self.ids.branch()));
        h.set(HeaderName::CSeq, format!("{seq} INVITE"));
        h.remove(&answer_in);
        h.push(answer_in, auth.to_header_value());
        l.sip_mut().invite = invite.clone();
        l.state = LegState::Calling;
        l.provisional = false;
        let peer = l.sip().dialog.peer;
        match tx.send_request(invite, peer, now) {
            Ok(id) => {
                l.sip_mut().invite_client = Some(id);
                self.clients.insert(id, (call.id, leg, ClientRole::Invite));
                debug!(call = %call.record.id, status = resp.status, "INVITE re-sent with credentials");
                true
            }
            Err(e) => {
                warn!(call = %call.record.id, error = %e, "cannot re-send the INVITE");
                false
            }
        }
    }

    pub(super) fn follow_redirect(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        resp: &Response,
        now: Instant,
    ) {
        let contact = contact_uri(resp.headers.get(&HeaderName::Contact));
        let Some(Uri::Sip(uri)) = contact.filter(|_| call.redirects < self.cfg.calls.max_redirects)
        else {
            let r = resp.clone();
            self.callee_failed_with(
                tx,
                call,
                leg,
                &Response {
                    status: 480,
                    reason: "Temporarily Unavailable (redirect not followed)".into(),
                    ..r
                },
                now,
            );
            return;
        };
        call.redirects += 1;
        self.stats.redirects += 1;
        let from_target = call.legs[leg].target.clone().unwrap_or_default();
        info!(call = %call.record.id, from = %from_target, to = %uri, "callee forwarded the call");
        // The forwarded call is a new call in the records, carrying the
        // diversion (as push-API carriers report it).
        let mut old = call.record.clone();
        old.final_status = Some(resp.status);
        old.hangup_cause = Some(HangupCause::Forwarded);
        old.ended = Some(self.wall(now));
        self.push_history(old);
        call.record.id = format!("{:016x}", self.ids.u64());
        call.record.diversion = Some(from_target.clone());
        call.record.started = self.wall(now);
        let diversion = format!(
            "<{from_target}>;reason=unconditional;counter={}",
            call.redirects
        );
        let prev = call.legs[leg].sip();
        let spec = CalleeSpec {
            uri,
            transport: prev.transport,
            credentials: prev.credentials.clone(),
            identity: None,
            extra_headers: Vec::new(),
            diversion: Some(diversion),
            referred_by: None,
            // The redirect stands in for the target: same way of DTMF.
            dtmf: call
                .media
                .as_ref()
                .map_or(DtmfMode::Auto, |m| m.callee_dtmf),
            // ... and the same SRTP setting.
            srtp: call
                .media
                .as_ref()
                .and_then(|m| m.srtp[1].as_ref())
                .map_or(SrtpMode::Off, |l| l.mode),
        };
        if let Err(why) = self.start_callee(tx, call, spec, now) {
            warn!(call = %call.record.id, "cannot follow the redirect: {why}");
            self.callee_failed(
                tx,
                call,
                leg,
                480,
                "Temporarily Unavailable (redirect target unreachable)".into(),
                now,
            );
        }
    }
}
