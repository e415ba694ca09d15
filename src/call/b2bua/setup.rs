//! Call set-up: a new INVITE becomes a call, routed and sent to its first target.

use super::*;
use crate::routing::Origin;

/// What the record says a local line's leg is carried by.
const LINE_TRANSPORT: &str = "LINE";

impl B2bua {
    pub(super) fn new_call(
        &mut self,
        tx: &mut TransactionLayer,
        id: ServerTransactionId,
        req: Request,
        from: Peer,
        now: Instant,
    ) {
        let tag = self.tag();
        let side = self.addressing.side_of(from.listener);
        let line = self.addressing.line_of(from.listener).map(str::to_string);
        let origin = match &line {
            Some(name) => Origin::Line(name),
            None => Origin::Side(side),
        };
        let reply_to = response_target(&from, req.headers.top_via().ok().as_ref());
        let dialog = match Dialog::for_uas(&req, &tag, reply_to) {
            Ok(d) => d,
            Err(e) => {
                let r = Response::for_request(&req, 400, Some(&tag))
                    .with_reason(&format!("Bad Request ({e})"));
                self.respond(tx, id, r, now);
                return;
            }
        };
        let emergency = self
            .cfg
            .router
            .emergency_number(&req, origin)
            .map(str::to_string);
        let record = CallRecord {
            emergency: emergency.is_some(),
            caller_transport: Some(match line {
                Some(_) => LINE_TRANSPORT,
                None => from.transport.via_token(),
            }),
            ..self.new_record(&req, side, now)
        };
        if let Some(number) = &emergency {
            self.stats.emergency += 1;
            if self.calls.len() >= self.cfg.calls.max_concurrent {
                warn!(call_id = %record.caller_call_id, number = %number, limit = self.cfg.calls.max_concurrent, "emergency call admitted over the concurrent-call limit");
            }
        } else if self.calls.len() >= self.cfg.calls.max_concurrent {
            self.stats.rejected_busy += 1;
            let mut r = Response::for_request(&req, 503, Some(&tag))
                .with_reason("Service Unavailable (call limit reached)");
            r.headers.push(
                HeaderName::RetryAfter,
                self.cfg.calls.retry_after_s.to_string(),
            );
            self.respond(tx, id, r, now);
            warn!(limit = self.cfg.calls.max_concurrent, call_id = %record.caller_call_id, "call refused: concurrent-call limit reached");
            self.finish_record(record, 503, HangupCause::Busy, now);
            return;
        }
        let Some(route) = self.cfg.router.route(&req, origin) else {
            self.stats.no_route += 1;
            let r = Response::for_request(&req, 480, Some(&tag))
                .with_reason("Temporarily Unavailable (no route matches)");
            self.respond(tx, id, r, now);
            if let Some(number) = &emergency {
                warn!(call_id = %record.caller_call_id, caller = %record.from, number = %number, "emergency call has no route: set [emergency] route or add a LAN route");
            }
            info!(call_id = %record.caller_call_id, from = %record.from, to = %record.to, "no route matches the call");
            self.finish_record(record, 480, HangupCause::NoRoute, now);
            return;
        };
        let mut anchor = self.cfg.calls.sdp == SdpMode::Anchor && !req.body.is_empty();
        if anchor && emergency.is_some() && self.media_ports_short() {
            // A 503 is worse than media that bypasses the gateway: the
            // SDP passes unchanged and the ends exchange RTP directly.
            warn!(call_id = %record.caller_call_id, "media port range exhausted: the emergency call's media is not anchored");
            anchor = false;
        }
        let media = if anchor {
            let caller_ip = self.addressing.advertised(from.listener).ip();
            let srtp = (
                self.addressing.srtp_of(from.listener),
                from.transport == Transport::Tls,
                MasterKey::from_bytes(&self.ids.bytes()),
            );
            match self
                .anchor
                .start_with(&req.body, caller_ip, route.caller_dtmf, srtp)
            {
                Ok(m) => Some(m),
                Err(Refusal::Offer(reason)) => {
                    let r = Response::for_request(&req, 488, Some(&tag))
                        .with_reason(&format!("Not Acceptable Here ({reason})"));
                    self.respond(tx, id, r, now);
                    info!(call_id = %record.caller_call_id, reason = %reason, "offer refused");
                    self.finish_record(record, 488, HangupCause::MediaFailed, now);
                    return;
                }
                Err(Refusal::NoPorts) => {
                    let mut r = Response::for_request(&req, 503, Some(&tag))
                        .with_reason("Service Unavailable (no media ports left)");
                    r.headers.push(
                        HeaderName::RetryAfter,
                        self.cfg.calls.retry_after_s.to_string(),
                    );
                    self.respond(tx, id, r, now);
                    warn!(call_id = %record.caller_call_id, "media port range exhausted: widen [media] port_min..port_max");
                    self.finish_record(record, 503, HangupCause::Busy, now);
                    return;
                }
            }
        } else {
            None
        };
        self.stats.started += 1;
        let local = self
            .addressing
            .advertised_for(from.listener, from.transport);
        let custom_headers = route.headers.apply(&req.headers);
        let mut leg = Leg::new_sip(dialog, local, from.transport, req);
        leg.sip_mut().invite_server = Some(id);
        leg.state = LegState::Early;
        let cid = self.next_call;
        self.next_call += 1;
        let mut record = record;
        record.route = Some(route.name.clone());
        info!(call = %record.id, route = %route.name, from = %record.from, to = %record.to, afid = record.retreaver_afid.as_deref().unwrap_or("-"), "new call");
        let mut call = Call {
            id: cid,
            record,
            route: Some(route),
            legs: vec![leg],
            callee: None,
            next_target: 0,
            redirects: 0,
            last_failure: None,
            custom_headers,
            transfer: None,
            session_deadline: None,
            media,
            hook_waiting: false,
            hook_targets: Vec::new(),
        };
        call.record.media_session = call.media.as_ref().map(|_| cid);
        if call.record.emergency {
            self.emergency_live.push(cid);
        }
        self.servers.insert(id, (cid, 0, ServerRole::Invite));
        self.dialogs.insert(
            (
                call.legs[0].sip().dialog.call_id.clone(),
                call.legs[0].sip().dialog.local_tag.clone(),
            ),
            (cid, 0),
        );
        // An emergency call never waits for a web service.
        match call.route.as_ref().and_then(|r| r.hook.clone()) {
            Some(hook) if !call.record.emergency => self.ask_hook(&mut call, hook, now),
            _ => self.try_next_target(tx, &mut call, now),
        }
        self.put_back(call, now);
    }

    pub(super) fn new_record(&mut self, req: &Request, side: Side, now: Instant) -> CallRecord {
        let tags = CallTags::extract(&req.headers);
        let user_of = |v: Option<&str>, what: &str| {
            v.and_then(|v| NameAddr::parse(v, what).ok())
                .map(|na| na.uri.to_string())
                .unwrap_or_default()
        };
        CallRecord {
            id: format!("{:016x}", self.ids.u64()),
            direction: match side {
                Side::Wan => CallDirection::Inbound,
                Side::Lan => CallDirection::Outbound,
            },
            caller_call_id: req.headers.call_id().unwrap_or_default().to_string(),
            callee_call_id: None,
            from: user_of(req.headers.get(&HeaderName::From), "From"),
            to: user_of(req.headers.get(&HeaderName::To), "To"),
            route: None,
            emergency: false,
            target: None,
            retreaver_uuid: tags.uuid,
            retreaver_key: tags.key,
            retreaver_afid: tags.afid,
            retreaver_sid: tags.sid,
            x_headers: x_headers(&req.headers),
            callee_x_headers: Vec::new(),
            headers_out: Vec::new(),
            diversion: None,
            started: self.wall(now),
            answered: None,
            ended: None,
            final_status: None,
            hangup_cause: None,
            hook: None,
            caller_transport: None,
            callee_transport: None,
            media: None,
            media_session: None,
            dtmf_caller: String::new(),
            dtmf_callee: String::new(),
        }
    }

    /// Tries the route's next target; answers the caller when none is left.
    pub(super) fn try_next_target(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        now: Instant,
    ) {
        let Some(route) = call.route.clone() else {
            return;
        };
        loop {
            let targets = if call.hook_targets.is_empty() {
                &route.targets
            } else {
                &call.hook_targets
            };
            let Some(target) = targets.get(call.next_target).cloned() else {
                break;
            };
            call.next_target += 1;
            if call.next_target > 1 {
                self.stats.failovers += 1;
            }
            if call.record.emergency {
                let number = self
                    .cfg
                    .router
                    .emergency_number(&call.caller().sip().invite, Origin::Side(Side::Lan))
                    .unwrap_or_default();
                warn!(call = %call.record.id, caller = %call.record.from, number = %number, route = %route.name, target = %target.uri, "emergency call");
            }
            match self.start_target(tx, call, &target, now) {
                Ok(()) => return,
                Err(why) => {
                    warn!(call = %call.record.id, target = %target.uri, "{why}; trying the next target");
                    call.last_failure =
                        Some((480, "Temporarily Unavailable (target unreachable)".into()));
                }
            }
        }
        let (status, reason) = call
            .last_failure
            .clone()
            .unwrap_or((480, "Temporarily Unavailable".into()));
        self.stats.failed += 1;
        self.fail_caller(tx, call, status, &reason, None, now);
        call.record
            .hangup_cause
            .get_or_insert(HangupCause::NoAnswer);
    }

    pub(super) fn start_target(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        target: &Target,
        now: Instant,
    ) -> Result<(), String> {
        let transport = match target.transport {
            TransportName::Udp => Transport::Udp,
            TransportName::Tcp => Transport::Tcp,
            TransportName::Tls => Transport::Tls,
        };
        let account = target
            .account
            .as_ref()
            .and_then(|n| self.cfg.accounts.iter().find(|a| &a.name == n))
            .cloned();
        let credentials = match (&target.credentials, &account) {
            (Some(c), _) => Some(LegCredentials {
                username: c.username.clone(),
                password: c.password.clone(),
            }),
            (None, Some(a)) if !a.password.is_empty() => Some(LegCredentials {
                username: a
                    .auth_username
                    .clone()
                    .unwrap_or_else(|| a.username.clone()),
                password: a.password.clone(),
            }),
            _ => None,
        };
        let identity = account.as_ref().map(|a| {
            let domain = a.domain.clone().unwrap_or_else(|| {
                Uri::parse(&a.registrar)
                    .ok()
                    .and_then(|u| u.as_sip().map(|s| s.host.to_string()))
                    .unwrap_or_default()
            });
            format!("sip:{}@{}", a.username, domain)
        });
        let mut extra = target.extra_headers.clone();
        extra.retain(|(n, _)| !call.custom_headers.iter().any(|(c, _)| c == n));
        let spec = CalleeSpec {
            uri: target.uri.clone(),
            transport,
            credentials,
            identity,
            extra_headers: extra,
            diversion: None,
            referred_by: None,
            dtmf: target.dtmf,
            srtp: target.srtp,
        };
        self.start_callee(tx, call, spec, now).map(|_| ())
    }

    /// Sends an INVITE for a new callee leg and makes it the call's callee.
    pub(super) fn start_callee(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        spec: CalleeSpec,
        now: Instant,
    ) -> Result<usize, String> {
        // A local line is reached in-process over a reliable transport,
        // plain: the anchor keeps any SRTP on the other leg.
        let caller_peer = call.caller().sip().dialog.peer.listener;
        let line = self.addressing.line_target(&spec.uri);
        let mut spec = spec;
        if line.is_some() {
            spec.transport = Transport::Tcp;
            spec.srtp = SrtpMode::Off;
        }
        let (dest, listener) = match line {
            Some((listener, address)) => (address, listener),
            None => {
                let dest = self
                    .addressing
                    .address_for(&spec.uri, spec.transport)
                    .ok_or_else(|| format!("no address known for {}", spec.uri.host))?;
                let listener = if self.addressing.line_of(caller_peer).is_some() {
                    self.addressing.listener_toward(dest.ip())
                } else {
                    let caller_side = self.addressing.side_of(caller_peer);
                    self.addressing.listener_for(caller_side, dest.ip())
                }
                .ok_or("no listener on the callee side")?;
                (dest, listener)
            }
        };
        let local = self.addressing.advertised_for(listener, spec.transport);
        let caller = call.caller();
        let caller_from = caller.sip().invite.headers.from_addr().ok();
        let display = caller_from.as_ref().and_then(|f| f.display.clone());
        let from_uri = match &spec.identity {
            Some(id) => id.clone(),
            None => {
                let user = caller_from
                    .as_ref()
                    .and_then(|f| f.uri.as_sip().and_then(|s| s.user.clone()))
                    .unwrap_or_else(|| "anonymous".into());
                format!("sip:{user}@{local}")
            }
        };
        let local_addr = match display {
            Some(d) => format!("{d} <{from_uri}>"),
            None => format!("<{from_uri}>"),
        };
        let mut uri = spec.uri.clone();
        if uri.user.is_none() && self.addressing.line_of(caller_peer).is_some() {
            // A handset dials a number, not a URI: a target without a user
            // part (a PBX or a trunk) gets the number dialled on the line.
            if let Some(Uri::Sip(dialled)) = Some(&call.caller().sip().invite.uri) {
                uri.user = dialled.user.clone();
            }
        }
        let request_uri = Uri::Sip(uri);
        let peer = Peer {
            listener,
            transport: spec.transport,
            remote: dest,
            connection: None,
        };
        let dialog = Dialog {
            call_id: self.ids.call_id(),
            local_tag: self.tag(),
            remote_tag: None,
            local_addr,
            remote_addr: format!("<{request_uri}>"),
            local_cseq: 0,
            remote_cseq: None,
            remote_target: request_uri.clone(),
            route_set: Vec::new(),
            peer,
        };
        let max_forwards = caller
            .sip()
            .invite
            .headers
            .get(&HeaderName::MaxForwards)
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(70)
            .clamp(1, 70)
            - 1;
        let mut body = caller.sip().invite.body.clone();
        if let Some(m) = call.media.as_mut() {
            // SDES keys go only where the signalling is TLS (RFC 4568 §8.3).
            let srtp = (spec.transport == Transport::Tls && spec.srtp != SrtpMode::Off)
                .then(|| (spec.srtp, MasterKey::from_bytes(&self.ids.bytes())));
            body = self
                .anchor
                .offer_to_callee_with(call.id, m, local.ip(), spec.dtmf, srtp)
                .map_err(|why| format!("cannot offer media: {why}"))?;
        }
        let caller = call.caller();
        let content_type = caller
            .sip()
            .invite
            .headers
            .get(&HeaderName::ContentType)
            .map(str::to_string);
        let mut leg = Leg::new_sip(
            dialog,
            local,
            spec.transport,
            Request::new(Method::Invite, request_uri),
        );
        let mut invite = leg.sip_mut().dialog.request(Method::Invite);
        let h = &mut invite.headers;
        h.set(HeaderName::MaxForwards, max_forwards.to_string());
        h.push_front(HeaderName::Via, leg.sip().via(&self.branch()));
        h.push(HeaderName::Contact, leg.sip().contact());
        h.push(HeaderName::Allow, CALL_ALLOW);
        h.push(HeaderName::UserAgent, self.cfg.user_agent.as_str());
        if let Some(d) = &spec.diversion {
            h.push(HeaderName::Other("Diversion".into()), d.as_str());
        }
        if let Some(r) = &spec.referred_by {
            h.push(HeaderName::ReferredBy, r.as_str());
        }
        // RFC 4028 is end to end through the gateway: the caller's request
        // goes to the callee, the callee's answer back, and the refreshes
        // are relayed; the gateway only enforces the expiry.
        for (name, value) in session_timer_headers(&caller.sip().invite.headers) {
            h.push(name, value);
        }
        for (n, v) in call.custom_headers.iter().chain(spec.extra_headers.iter()) {
            h.push(n.clone(), v.as_str());
        }
        if !body.is_empty() {
            h.push(
                HeaderName::ContentType,
                content_type.unwrap_or_else(|| "application/sdp".into()),
            );
            invite.body = body;
        }
        leg.sip_mut().credentials = spec.credentials;
        leg.target = Some(match self.addressing.line_of(listener) {
            Some(name) => format!("line:{name}"),
            None => spec.uri.to_string(),
        });
        leg.sip_mut().invite = invite.clone();
        let client = tx
            .send_request(invite, peer, now)
            .map_err(|e| format!("cannot send the INVITE: {e}"))?;
        leg.sip_mut().invite_client = Some(client);
        let index = call.legs.len();
        self.clients
            .insert(client, (call.id, index, ClientRole::Invite));
        self.dialogs.insert(
            (
                leg.sip().dialog.call_id.clone(),
                leg.sip().dialog.local_tag.clone(),
            ),
            (call.id, index),
        );
        let failover_at = now + Duration::from_millis(self.cfg.calls.failover_timeout_ms);
        self.timers
            .arm(failover_at, call.id, index, TimerKind::Failover);
        debug!(call = %call.record.id, target = %spec.uri, %dest, "INVITE sent to the callee");
        call.legs.push(leg);
        if call.transfer.is_none() || call.callee.is_none() {
            call.callee = Some(index);
            call.record.callee_call_id = Some(call.legs[index].sip().dialog.call_id.clone());
            call.record.target = call.legs[index].target.clone();
            call.record.callee_transport = Some(if line.is_some() {
                LINE_TRANSPORT
            } else {
                spec.transport.via_token()
            });
            call.record.headers_out = (call.custom_headers.iter().chain(&spec.extra_headers))
                .map(|(n, v)| (n.as_str().to_string(), v.clone()))
                .collect();
            self.note_record_change(&call.record);
        }
        Ok(index)
    }
}
