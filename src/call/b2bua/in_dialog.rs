//! Requests inside a dialog: BYE, and the re-INVITE/UPDATE/INFO/... relayed to the other leg with their answers.

use super::*;

impl B2bua {
    pub(super) fn in_dialog_request(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        id: ServerTransactionId,
        req: Request,
        now: Instant,
    ) {
        let seq = req.headers.cseq().map(|c| c.seq).unwrap_or(0);
        if !call.legs[leg]
            .sip_mut()
            .dialog
            .accept_remote_cseq(seq, &req.method)
        {
            let r = Response::for_request(&req, 500, None)
                .with_reason("Server Internal Error (CSeq out of order)");
            self.respond(tx, id, r, now);
            return;
        }
        match req.method {
            Method::Bye => self.bye_received(tx, call, leg, id, &req, now),
            Method::Refer if leg != 0 && call.legs[leg].state == LegState::Confirmed => {
                self.refer_received(tx, call, leg, id, &req, now)
            }
            _ => self.relay_request(tx, call, leg, id, req, now),
        }
    }

    pub(super) fn bye_received(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        id: ServerTransactionId,
        req: &Request,
        now: Instant,
    ) {
        let ok = Response::for_request(req, 200, None);
        self.respond(tx, id, ok, now);
        let was_live = call.legs[leg].is_live();
        call.legs[leg].state = LegState::Terminated;
        call.legs[leg].sip_mut().pending_2xx = None;
        if !was_live {
            return;
        }
        let Some(peer) = call.peer_of(leg) else {
            // A transferor leaving after the transfer: nothing else to end.
            return;
        };
        let cause = if leg == 0 {
            HangupCause::CallerHangup
        } else {
            HangupCause::CalleeHangup
        };
        info!(call = %call.record.id, cause = ?cause, "hangup");
        self.end_call(tx, call, Some(leg), cause, now);
        let _ = peer;
    }

    /// Ends the call on every live leg except `except`.
    pub(super) fn end_call(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        except: Option<usize>,
        cause: HangupCause,
        now: Instant,
    ) {
        call.record.hangup_cause.get_or_insert(cause);
        call.record.ended.get_or_insert(self.wall(now));
        for leg in 0..call.legs.len() {
            if Some(leg) == except {
                continue;
            }
            match call.legs[leg].state {
                LegState::Confirmed => self.send_bye(tx, call, leg, now),
                LegState::Calling | LegState::Early if leg != 0 => {
                    self.cancel_callee(tx, call, leg, now)
                }
                _ => {}
            }
        }
    }

    pub(super) fn send_bye(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        now: Instant,
    ) {
        let l = &mut call.legs[leg];
        if l.state == LegState::Terminated {
            return;
        }
        l.state = LegState::Terminated;
        l.sip_mut().pending_2xx = None;
        let bye = l.sip_mut().dialog.request(Method::Bye);
        self.fire(tx, call, leg, bye, now);
    }

    /// Sends a request on `leg` whose answer changes nothing (BYE, CANCEL,
    /// NOTIFY). A CANCEL arrives with its Via; the others get one here.
    pub(super) fn fire(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        mut req: Request,
        now: Instant,
    ) {
        let l = &call.legs[leg];
        if req.method != Method::Cancel {
            req.headers
                .push_front(HeaderName::Via, l.sip().via(&self.branch()));
            req.headers
                .push(HeaderName::UserAgent, self.cfg.user_agent.as_str());
        }
        match tx.send_request(req, l.sip().dialog.peer, now) {
            Ok(id) => {
                self.clients.insert(id, (call.id, leg, ClientRole::Fire));
            }
            Err(e) => debug!(call = %call.record.id, error = %e, "could not send"),
        }
    }

    /// Passes an in-dialog request (re-INVITE, UPDATE, INFO, ...) to the
    /// bridged leg; its answer comes back the same way.
    pub(super) fn relay_request(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        id: ServerTransactionId,
        req: Request,
        now: Instant,
    ) {
        let Some(other) = call
            .peer_of(leg)
            .filter(|&o| call.legs[o].state == LegState::Confirmed)
        else {
            let r = Response::for_request(&req, 481, None)
                .with_reason("Call/Transaction Does Not Exist (no bridged leg)");
            self.respond(tx, id, r, now);
            return;
        };
        let offer = matches!(req.method, Method::Invite | Method::Update);
        if offer && (call.legs[other].sip().offer_in_flight || call.legs[leg].sip().offer_in_flight)
        {
            let r = Response::for_request(&req, 491, None);
            self.respond(tx, id, r, now);
            return;
        }
        let branch = self.branch();
        let o = &mut call.legs[other];
        let mut out = o.sip_mut().dialog.request(req.method.clone());
        let h = &mut out.headers;
        h.push_front(HeaderName::Via, o.sip().via(&branch));
        if offer {
            h.push(HeaderName::Contact, o.sip().contact());
            o.sip_mut().offer_in_flight = true;
        }
        for hdr in req.headers.iter() {
            let carry = is_x_header(hdr.name.as_str())
                || matches!(
                    hdr.name,
                    HeaderName::ContentType
                        | HeaderName::Event
                        | HeaderName::SessionExpires
                        | HeaderName::Subject
                )
                || hdr.name.as_str().eq_ignore_ascii_case("Subscription-State")
                || hdr.name.as_str().eq_ignore_ascii_case("Info-Package");
            if carry {
                h.push(hdr.name.clone(), hdr.value.as_str());
            }
        }
        out.body = req.body.clone();
        let peer = o.sip().dialog.peer;
        if offer && !req.body.is_empty() {
            if let Err(why) = self.anchor_offer(call, leg, other, &mut out.body) {
                call.legs[other].sip_mut().offer_in_flight = false;
                let r = Response::for_request(&req, 488, None)
                    .with_reason(&format!("Not Acceptable Here ({why})"));
                self.respond(tx, id, r, now);
                return;
            }
        }
        self.servers.insert(id, (call.id, leg, ServerRole::Relayed));
        match tx.send_request(out, peer, now) {
            Ok(cid) => {
                self.clients.insert(
                    cid,
                    (
                        call.id,
                        other,
                        ClientRole::Relay {
                            server: id,
                            from_leg: leg,
                            original: Box::new(req),
                        },
                    ),
                );
            }
            Err(e) => {
                call.legs[other].sip_mut().offer_in_flight = false;
                debug!(error = %e, "could not relay");
                self.respond(tx, id, Response::for_request(&req, 500, None), now);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn relayed_response(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        server: ServerTransactionId,
        from_leg: usize,
        original: &Request,
        resp: Response,
        now: Instant,
    ) {
        if resp.status == 100 {
            return;
        }
        if resp.status >= 200 {
            call.legs[leg].sip_mut().offer_in_flight = false;
        }
        let mut r = Response::for_request(original, resp.status, None);
        r.reason = resp.reason.clone();
        for h in resp.headers.iter() {
            if is_x_header(h.name.as_str())
                || matches!(
                    h.name,
                    HeaderName::ContentType | HeaderName::SessionExpires | HeaderName::Require
                )
            {
                r.headers.push(h.name.clone(), h.value.as_str());
            }
        }
        if resp.status < 300 && original.method == Method::Invite {
            r.headers
                .push(HeaderName::Contact, call.legs[from_leg].sip().contact());
        }
        r.body = resp.body.clone();
        if resp.is_success() && !resp.body.is_empty() {
            match self.anchor_reanswer(call, from_leg, leg, &resp.body) {
                Ok(Some(body)) => r.body = body,
                Ok(None) => {}
                Err(why) => {
                    // The media keeps flowing as negotiated before.
                    warn!(call = %call.record.id, "re-negotiated answer not usable: {why}");
                    r.body.clear();
                }
            }
        }
        if resp.is_success() && matches!(original.method, Method::Invite | Method::Update) {
            self.arm_session_timer(call, &resp, now);
        }
        if original.method == Method::Invite && resp.is_success() {
            let seq = resp.headers.cseq().map(|c| c.seq).unwrap_or(0);
            if call.legs[from_leg].is_live() {
                self.answer_2xx_on(tx, call, from_leg, Some(server), r, leg, seq, now);
            } else {
                self.send_ack(tx, call, leg, &resp, None);
            }
        } else {
            self.respond(tx, server, r, now);
        }
        self.servers.remove(&server);
    }
}
