//! Transfer: a REFER from the callee moves the caller to another party (RFC 3515, RFC 5589).

use super::*;

impl B2bua {
    pub(super) fn refer_received(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        id: ServerTransactionId,
        req: &Request,
        now: Instant,
    ) {
        let refer_to = req
            .headers
            .get(&HeaderName::ReferTo)
            .and_then(|v| NameAddr::parse(v, "Refer-To").ok());
        let Some(Uri::Sip(mut uri)) = refer_to.map(|na| na.uri) else {
            let r = Response::for_request(req, 400, None)
                .with_reason("Bad Request (Refer-To is missing or not a sip: URI)");
            self.respond(tx, id, r, now);
            return;
        };
        if call.transfer.is_some() {
            let r = Response::for_request(req, 491, None);
            self.respond(tx, id, r, now);
            return;
        }
        // Headers embedded in the Refer-To URI (?Replaces=...) are for
        // attended transfer, which the gateway does not do: drop them.
        uri.headers = None;
        let mut accepted = Response::for_request(req, 202, None);
        accepted
            .headers
            .push(HeaderName::Contact, call.legs[leg].sip().contact());
        self.respond(tx, id, accepted, now);
        self.notify_sipfrag(tx, call, leg, "SIP/2.0 100 Trying", false, now);
        self.stats.transfers += 1;
        let from_target = call.legs[leg].target.clone().unwrap_or_default();
        info!(call = %call.record.id, from = %from_target, to = %uri, "callee transfers the caller");
        let spec = CalleeSpec {
            uri,
            transport: call.legs[leg].sip().transport,
            credentials: None,
            identity: None,
            extra_headers: Vec::new(),
            diversion: Some(format!("<{from_target}>;reason=deflection;counter=1")),
            referred_by: req.headers.get(&HeaderName::ReferredBy).map(str::to_string),
            dtmf: DtmfMode::Auto,
            srtp: SrtpMode::Off,
        };
        call.transfer = Some(Transfer {
            referrer: leg,
            leg: call.legs.len(),
            notify: true,
        });
        if let Err(why) = self.start_callee(tx, call, spec, now) {
            warn!(call = %call.record.id, "transfer failed: {why}");
            call.transfer = None;
            self.notify_sipfrag(tx, call, leg, "SIP/2.0 503 Service Unavailable", true, now);
        }
    }

    pub(super) fn notify_sipfrag(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        frag: &str,
        last: bool,
        now: Instant,
    ) {
        let l = &mut call.legs[leg];
        if l.state != LegState::Confirmed {
            return;
        }
        let mut n = l.sip_mut().dialog.request(Method::Notify);
        n.headers.push(HeaderName::Event, "refer");
        n.headers.push(
            HeaderName::Other("Subscription-State".into()),
            if last {
                "terminated;reason=noresource"
            } else {
                "active;expires=60"
            },
        );
        n.headers.push(HeaderName::Contact, l.sip().contact());
        n.headers
            .push(HeaderName::ContentType, "message/sipfrag;version=2.0");
        n.body = format!("{frag}\r\n").into_bytes();
        self.fire(tx, call, leg, n, now);
    }

    pub(super) fn transfer_answered(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        leg: usize,
        resp: &Response,
        now: Instant,
    ) {
        let Some(t) = call.transfer.take() else {
            return;
        };
        self.send_ack(tx, call, leg, resp, None);
        // The caller now talks to the transfer target: a new call in the
        // records, with the diversion; the transferor's call ends.
        let mut old = call.record.clone();
        old.hangup_cause = Some(HangupCause::Transferred);
        old.ended = Some(self.wall(now));
        self.push_history(old);
        call.record.id = format!("{:016x}", self.ids.u64());
        call.record.diversion = call.legs[t.referrer].target.clone();
        call.record.started = self.wall(now);
        call.record.answered = Some(self.wall(now));
        call.record.callee_call_id = Some(call.legs[leg].sip().dialog.call_id.clone());
        call.record.target = call.legs[leg].target.clone();
        call.record.callee_x_headers = x_headers(&resp.headers);
        self.note_record_change(&call.record);
        call.callee = Some(leg);
        // Re-bridge: offer the caller the new party's media (anchored: the
        // gateway's own address again, with the new party's codecs).
        let body = match self.anchor_answer(call, resp) {
            Ok(Some(b)) => b,
            Ok(None) => resp.body.clone(),
            Err(why) => {
                warn!(call = %call.record.id, "transfer target's SDP not usable: {why}");
                Vec::new()
            }
        };
        if call.legs[0].state == LegState::Confirmed && !body.is_empty() {
            let branch = self.branch();
            let a = &mut call.legs[0];
            let mut reinvite = a.sip_mut().dialog.request(Method::Invite);
            reinvite
                .headers
                .push_front(HeaderName::Via, a.sip().via(&branch));
            reinvite
                .headers
                .push(HeaderName::Contact, a.sip().contact());
            reinvite.headers.push(
                HeaderName::ContentType,
                resp.headers
                    .get(&HeaderName::ContentType)
                    .unwrap_or("application/sdp"),
            );
            reinvite.body = body;
            let peer = a.sip().dialog.peer;
            if let Ok(id) = tx.send_request(reinvite, peer, now) {
                self.clients.insert(id, (call.id, 0, ClientRole::Rebridge));
            }
        }
        if t.notify {
            self.notify_sipfrag(tx, call, t.referrer, "SIP/2.0 200 OK", true, now);
            // RFC 5589: the transferor hangs up; if it does not, we do.
            self.timers.arm(
                now + self.cfg.t1 * 64,
                call.id,
                t.referrer,
                TimerKind::DetachedBye,
            );
        } else {
            // Moved by the administrator: the old callee is told by a BYE.
            self.send_bye(tx, call, t.referrer, now);
        }
    }

    pub(super) fn transfer_failed(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        _leg: usize,
        resp: &Response,
        now: Instant,
    ) {
        let Some(t) = call.transfer.take() else {
            return;
        };
        info!(call = %call.record.id, status = resp.status, "transfer target refused; the caller stays with the transferor");
        call.callee = Some(t.referrer);
        if t.notify {
            let frag = format!("SIP/2.0 {} {}", resp.status, resp.reason);
            self.notify_sipfrag(tx, call, t.referrer, &frag, true, now);
        }
    }
}
