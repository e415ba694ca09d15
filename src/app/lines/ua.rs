//! A local line as a SIP user agent inside the box. The B2BUA treats a line
//! like any far end: it sends the line an INVITE to ring it and takes the
//! line's INVITE when its handset dials, so re-INVITEs, session timers,
//! failover, hooks, transfer and records all work for lines as they do for
//! SIP peers. The messages never touch a socket: the core hands them over
//! in-process (`super::Lines`), over a reliable transport (no
//! retransmissions). This user agent only needs the UA side of RFC 3261
//! for one dialog at a time; the handset itself is `line::phone::Phone`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::{debug, info};

use crate::line::phone::{Phone, PhoneIntent, Unavailable};
use crate::line::protocol::{Command, Event};
use crate::logging::Escaped;
use crate::sip::ids::IdGenerator;
use crate::sip::message::{
    parse_message, Framing, HeaderName, Method, Request, Response, SipMessage, Uri,
};

use super::sdp::{self, AudioStream};

/// What a line's shell is to do.
#[derive(Clone, Debug, PartialEq)]
pub enum LineAction {
    /// Send a command to the line board.
    Board(Command),
    /// Start (or move) the line's audio.
    AudioStart(AudioStream),
    AudioStop,
    /// A key during a call, for the audio side's RFC 4733 events.
    Press {
        digit: char,
        held: Duration,
    },
}

/// How the core and a line see each other.
#[derive(Clone, Debug)]
pub struct LineAddressing {
    /// The line's own SIP address (never bound: messages are handed over
    /// in-process), in its Via and Contact.
    pub sip: SocketAddr,
    /// The line's RTP socket (its audio shell binds it).
    pub audio: SocketAddr,
    /// The host of the Request-URI of calls the line places.
    pub host: String,
}

#[derive(Debug)]
struct Dialog {
    incoming: bool,
    call_id: String,
    local_tag: String,
    remote_tag: Option<String>,
    /// Our From/To as sent (outgoing) or the request's To/From (incoming).
    local_uri: String,
    remote_uri: String,
    /// Where in-dialog requests go (the B2BUA's Contact).
    remote_target: Option<Uri>,
    local_cseq: u32,
    /// Incoming: the INVITE being answered. Outgoing: the INVITE sent.
    invite: Request,
    answered: bool,
    /// The 2xx we answered the INVITE with (re-sent if the INVITE is).
    answer: Option<Response>,
    stream: Option<AudioStream>,
    sdp_version: u64,
    /// Outgoing: the handset went down before the answer; CANCEL sent.
    cancelled: bool,
}

pub struct LineUa {
    pub name: String,
    pub extension: String,
    dtmf_events: bool,
    addressing: LineAddressing,
    phone: Phone,
    ids: IdGenerator,
    /// The audio side's last complaint, while the devices are not working.
    audio_error: Option<String>,
    session_id: u64,
    dialog: Option<Dialog>,
    to_core: VecDeque<Vec<u8>>,
    actions: VecDeque<LineAction>,
}

impl LineUa {
    pub fn new(
        name: String,
        extension: String,
        dtmf_events: bool,
        addressing: LineAddressing,
        phone: Phone,
        mut ids: IdGenerator,
    ) -> LineUa {
        LineUa {
            name,
            extension,
            dtmf_events,
            addressing,
            phone,
            audio_error: None,
            session_id: ids.u32().into(),
            ids,
            dialog: None,
            to_core: VecDeque::new(),
            actions: VecDeque::new(),
        }
    }

    pub fn phone(&self) -> &Phone {
        &self.phone
    }

    /// The line's own SIP address (in its Via and Contact).
    pub fn sip_address(&self) -> SocketAddr {
        self.addressing.sip
    }

    pub fn in_call(&self) -> bool {
        self.dialog.is_some()
    }

    pub fn poll_to_core(&mut self) -> Option<Vec<u8>> {
        self.to_core.pop_front()
    }

    pub fn poll_action(&mut self) -> Option<LineAction> {
        self.actions.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.phone.poll_timeout()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.phone.handle_timeout(now);
        self.pump(now);
    }

    pub fn link_down(&mut self, now: Instant) {
        self.phone.link_down();
        self.pump(now);
    }

    /// The audio devices work (`None`) or do not (why, naming the device).
    pub fn audio(&mut self, error: Option<String>, now: Instant) {
        self.phone.audio(error.is_none());
        self.audio_error = error;
        self.pump(now);
    }

    /// Why the line is out of service, naming the device when it is audio.
    pub fn down_reason(&self) -> Option<String> {
        match (&self.audio_error, self.phone.down_reason()) {
            (Some(e), Some(_)) if self.phone.down_reason_is_audio() => Some(e.clone()),
            (_, r) => r,
        }
    }

    pub fn board_event(&mut self, event: &Event, now: Instant) {
        self.phone.board_event(event, now);
        self.pump(now);
    }

    /// A message the core sent to the line.
    pub fn deliver(&mut self, bytes: &[u8], now: Instant) {
        match parse_message(bytes, Framing::Stream) {
            Ok(SipMessage::Request(req)) => self.request(req),
            Ok(SipMessage::Response(resp)) => self.response(resp),
            Err(e) => {
                debug!(line = %self.name, reason = %Escaped(&e.reason), "line dropped a message it could not parse");
            }
        }
        self.pump(now);
    }

    /// Turns what the handset did into SIP and board commands.
    fn pump(&mut self, _now: Instant) {
        while let Some(intent) = self.phone.poll_intent() {
            match intent {
                PhoneIntent::Answer => self.answer_call(),
                PhoneIntent::HangUp => self.hang_up(),
                PhoneIntent::Dial { number, emergency } => self.dial(&number, emergency),
                PhoneIntent::Key { digit, held } => {
                    if self.dialog.as_ref().is_some_and(|d| d.stream.is_some()) {
                        self.actions.push_back(LineAction::Press { digit, held });
                    }
                }
            }
        }
        while let Some(c) = self.phone.poll_command() {
            self.actions.push_back(LineAction::Board(c));
        }
    }

    // --- requests from the core ------------------------------------------------

    fn request(&mut self, req: Request) {
        let to_tag = req.headers.to_tag();
        match req.method {
            Method::Invite if to_tag.is_none() => self.incoming_invite(req),
            Method::Ack => {}
            Method::Cancel => self.cancelled(req),
            _ if !self.in_dialog(&req) => {
                self.respond(&req, 481, None, Vec::new());
            }
            Method::Invite | Method::Update => self.offer_in_dialog(req),
            Method::Bye => {
                self.respond(&req, 200, None, Vec::new());
                info!(line = %self.name, "the far end hung up");
                self.end_dialog();
                self.phone.far_ended();
            }
            Method::Info | Method::Options | Method::Notify => {
                self.respond(&req, 200, None, Vec::new());
            }
            _ => self.respond(&req, 501, None, Vec::new()),
        }
    }

    fn in_dialog(&self, req: &Request) -> bool {
        self.dialog.as_ref().is_some_and(|d| {
            req.headers.call_id() == Some(d.call_id.as_str())
                && req.headers.to_tag().as_deref() == Some(d.local_tag.as_str())
        })
    }

    fn incoming_invite(&mut self, req: Request) {
        if let Some(d) = &self.dialog {
            if d.incoming && req.headers.call_id() == Some(d.call_id.as_str()) {
                // The same INVITE again: answer as before.
                if let Some(a) = d.answer.clone() {
                    self.to_core.push_back(a.to_bytes());
                }
                return;
            }
        }
        let caller = req
            .headers
            .from_addr()
            .ok()
            .and_then(|f| f.uri.as_sip().and_then(|s| s.user.clone()));
        if self.dialog.is_some() {
            self.respond(&req, 486, Some("Busy Here (line in use)"), Vec::new());
            return;
        }
        let stream = match sdp::choose(&req.body, self.dtmf_events) {
            Ok(s) => s,
            Err(why) => {
                info!(line = %self.name, reason = %why, "line refused the call's media");
                let reason = format!("Not Acceptable Here ({why})");
                self.respond(&req, 488, Some(&reason), Vec::new());
                return;
            }
        };
        match self.phone.ring(caller.as_deref()) {
            Err(Unavailable::Down) => {
                let why = self.down_reason().unwrap_or_default();
                info!(line = %self.name, reason = %why, "call to a line that is out of service");
                let reason = format!("Temporarily Unavailable (line out of service: {why})");
                self.respond(&req, 480, Some(&reason), Vec::new());
                return;
            }
            Err(Unavailable::Busy) => {
                self.respond(
                    &req,
                    486,
                    Some("Busy Here (handset off the hook)"),
                    Vec::new(),
                );
                return;
            }
            Ok(()) => {}
        }
        info!(line = %self.name, caller = %Escaped(caller.as_deref().unwrap_or("-")), "ringing the line");
        let local_tag = self.ids.tag();
        let remote_target = contact_uri(&req);
        self.dialog = Some(Dialog {
            incoming: true,
            call_id: req.headers.call_id().unwrap_or_default().to_string(),
            local_tag: local_tag.clone(),
            remote_tag: req.headers.from_tag(),
            local_uri: req
                .headers
                .get(&HeaderName::To)
                .unwrap_or_default()
                .to_string(),
            remote_uri: req
                .headers
                .get(&HeaderName::From)
                .unwrap_or_default()
                .to_string(),
            remote_target,
            local_cseq: 0,
            invite: req,
            answered: false,
            answer: None,
            stream: Some(stream),
            sdp_version: 1,
            cancelled: false,
        });
        if let Some(d) = &self.dialog {
            let ringing = self.response_to(&d.invite, 180, None, &local_tag, Vec::new());
            self.to_core.push_back(ringing.to_bytes());
        }
    }

    fn answer_call(&mut self) {
        let Some(d) = self.dialog.as_mut() else {
            return;
        };
        let Some(stream) = d.stream else { return };
        let body = sdp::answer(
            self.addressing.audio,
            self.session_id,
            d.sdp_version,
            &stream,
        );
        let local_tag = d.local_tag.clone();
        d.answered = true;
        let invite = d.invite.clone();
        let ok = self.response_to(&invite, 200, None, &local_tag, body);
        info!(line = %self.name, "line answered");
        self.to_core.push_back(ok.to_bytes());
        if let Some(d) = self.dialog.as_mut() {
            d.answer = Some(ok);
        }
        self.actions.push_back(LineAction::AudioStart(stream));
    }

    fn cancelled(&mut self, cancel: Request) {
        self.respond(&cancel, 200, None, Vec::new());
        let Some(d) = &self.dialog else { return };
        if d.incoming && !d.answered && cancel.headers.call_id() == Some(d.call_id.as_str()) {
            let invite = d.invite.clone();
            let tag = d.local_tag.clone();
            let r = self.response_to(&invite, 487, None, &tag, Vec::new());
            self.to_core.push_back(r.to_bytes());
            self.dialog = None;
            self.phone.ring_cancelled();
        }
    }

    /// A re-INVITE or UPDATE: the line keeps its one stream and follows
    /// the far end to a new address if the offer moves it.
    fn offer_in_dialog(&mut self, req: Request) {
        let events = self.dtmf_events;
        let Some(d) = self.dialog.as_mut() else {
            return;
        };
        let mut body = Vec::new();
        if !req.body.is_empty() {
            match sdp::choose(&req.body, events) {
                Ok(s) => {
                    let moved = d.stream != Some(s);
                    d.stream = Some(s);
                    d.sdp_version += 1;
                    body = sdp::answer(self.addressing.audio, self.session_id, d.sdp_version, &s);
                    if moved && d.answered {
                        self.actions.push_back(LineAction::AudioStart(s));
                    }
                }
                Err(why) => {
                    let reason = format!("Not Acceptable Here ({why})");
                    self.respond(&req, 488, Some(&reason), Vec::new());
                    return;
                }
            }
        } else if req.method == Method::Invite {
            if let Some(s) = d.stream {
                body = sdp::answer(self.addressing.audio, self.session_id, d.sdp_version, &s);
            }
        }
        self.respond(&req, 200, None, body);
    }

    // --- responses to the line's requests ---------------------------------------

    fn response(&mut self, resp: Response) {
        let Ok(cseq) = resp.headers.cseq() else {
            return;
        };
        let Some(d) = self.dialog.as_mut() else {
            return;
        };
        if d.incoming || resp.headers.call_id() != Some(d.call_id.as_str()) {
            return;
        }
        if cseq.method != Method::Invite {
            return;
        }
        if let Some(tag) = resp.headers.to_tag() {
            d.remote_tag.get_or_insert(tag);
        }
        if let Some(c) = contact_of(&resp.headers) {
            d.remote_target = Some(c);
        }
        let status = resp.status;
        if status < 200 {
            if status == 100 {
                return;
            }
            if !resp.body.is_empty() && d.stream.is_none() {
                if let Ok(s) = sdp::choose(&resp.body, self.dtmf_events) {
                    d.stream = Some(s);
                    self.actions.push_back(LineAction::AudioStart(s));
                    self.phone.far_early_media();
                    return;
                }
            }
            if d.stream.is_none() {
                self.phone.far_ringing();
            }
            return;
        }
        if status < 300 {
            let first = !d.answered;
            d.answered = true;
            let ack = self.in_dialog_request(Method::Ack, Some(cseq.seq));
            if let Some(ack) = ack {
                self.to_core.push_back(ack.to_bytes());
            }
            if !first {
                return;
            }
            let cancelled = self.dialog.as_ref().is_some_and(|d| d.cancelled);
            if cancelled {
                // The answer crossed our CANCEL: end it properly.
                self.send_bye();
                self.end_dialog();
                return;
            }
            let events = self.dtmf_events;
            if let Some(d) = self.dialog.as_mut() {
                match sdp::choose(&resp.body, events) {
                    Ok(s) if d.stream != Some(s) => {
                        d.stream = Some(s);
                        self.actions.push_back(LineAction::AudioStart(s));
                    }
                    Ok(_) => {}
                    Err(why) if d.stream.is_none() => {
                        info!(line = %self.name, reason = %why, "the answer's media does not suit the line; hanging up");
                        self.send_bye();
                        self.end_dialog();
                        self.phone.far_ended();
                        return;
                    }
                    Err(_) => {}
                }
            }
            info!(line = %self.name, "the call from the line was answered");
            self.phone.far_answered();
            return;
        }
        // A failure: ACK it in the INVITE's transaction (RFC 3261 §17.1.1.3).
        let invite = d.invite.clone();
        let mut ack = Request::new(Method::Ack, invite.uri.clone());
        for name in [HeaderName::Via, HeaderName::From, HeaderName::CallId] {
            if let Some(v) = invite.headers.get(&name) {
                ack.headers.push(name, v);
            }
        }
        if let Some(to) = resp.headers.get(&HeaderName::To) {
            ack.headers.push(HeaderName::To, to);
        }
        ack.headers
            .push(HeaderName::CSeq, format!("{} ACK", cseq.seq));
        ack.headers.push(HeaderName::MaxForwards, "70");
        self.to_core.push_back(ack.to_bytes());
        info!(line = %self.name, status, "the call from the line failed");
        let was_cancelled = d.cancelled;
        self.end_dialog();
        if !was_cancelled {
            self.phone.far_ended();
        }
    }

    // --- what the handset starts ----------------------------------------------

    fn dial(&mut self, number: &str, emergency: bool) {
        if self.dialog.is_some() {
            return;
        }
        info!(line = %self.name, number = %number, emergency, "the line dials");
        let host = &self.addressing.host;
        let uri = match Uri::parse(&format!("sip:{number}@{host}")) {
            Ok(u) => u,
            Err(_) => {
                self.phone.far_ended();
                return;
            }
        };
        let call_id = self.ids.call_id();
        let local_tag = self.ids.tag();
        let local_uri = format!("<sip:{}@{}>", self.extension, host);
        let remote_uri = format!("<sip:{number}@{host}>");
        let mut invite = Request::new(Method::Invite, uri);
        let h = &mut invite.headers;
        h.push(HeaderName::Via, self.via());
        h.push(HeaderName::MaxForwards, "70");
        h.push(HeaderName::From, format!("{local_uri};tag={local_tag}"));
        h.push(HeaderName::To, remote_uri.as_str());
        h.push(HeaderName::CallId, call_id.as_str());
        h.push(HeaderName::CSeq, "1 INVITE");
        h.push(HeaderName::Contact, self.contact());
        h.push(HeaderName::ContentType, "application/sdp");
        invite.body = sdp::offer(self.addressing.audio, self.session_id, 1, self.dtmf_events);
        self.to_core.push_back(invite.to_bytes());
        self.dialog = Some(Dialog {
            incoming: false,
            call_id,
            local_tag,
            remote_tag: None,
            local_uri,
            remote_uri,
            remote_target: None,
            local_cseq: 1,
            invite,
            answered: false,
            answer: None,
            stream: None,
            sdp_version: 1,
            cancelled: false,
        });
    }

    fn hang_up(&mut self) {
        let Some(d) = self.dialog.as_mut() else {
            return;
        };
        match (d.incoming, d.answered) {
            (_, true) => {
                info!(line = %self.name, "the line hung up");
                self.send_bye();
                self.end_dialog();
            }
            (true, false) => {
                // Out of service while ringing.
                let invite = d.invite.clone();
                let tag = d.local_tag.clone();
                let r = self.response_to(
                    &invite,
                    480,
                    Some("Temporarily Unavailable (line out of service)"),
                    &tag,
                    Vec::new(),
                );
                self.to_core.push_back(r.to_bytes());
                self.end_dialog();
            }
            (false, false) => {
                if d.cancelled {
                    return;
                }
                d.cancelled = true;
                let invite = d.invite.clone();
                let mut cancel = Request::new(Method::Cancel, invite.uri.clone());
                for name in [
                    HeaderName::Via,
                    HeaderName::MaxForwards,
                    HeaderName::From,
                    HeaderName::To,
                    HeaderName::CallId,
                ] {
                    if let Some(v) = invite.headers.get(&name) {
                        cancel.headers.push(name, v);
                    }
                }
                cancel.headers.push(HeaderName::CSeq, "1 CANCEL");
                info!(line = %self.name, "the line gave up its call before the answer");
                self.to_core.push_back(cancel.to_bytes());
                self.actions.push_back(LineAction::AudioStop);
            }
        }
    }

    fn send_bye(&mut self) {
        if let Some(bye) = self.in_dialog_request(Method::Bye, None) {
            self.to_core.push_back(bye.to_bytes());
        }
    }

    fn end_dialog(&mut self) {
        if let Some(d) = self.dialog.take() {
            if d.stream.is_some() {
                self.actions.push_back(LineAction::AudioStop);
            }
        }
    }

    // --- message building -----------------------------------------------------

    fn via(&mut self) -> String {
        format!(
            "SIP/2.0/TCP {};branch={}",
            self.addressing.sip,
            self.ids.branch()
        )
    }

    fn contact(&self) -> String {
        format!(
            "<sip:{}@{};transport=tcp>",
            self.extension, self.addressing.sip
        )
    }

    /// A request in the current dialog; `ack_of` is the CSeq number of the
    /// INVITE an ACK acknowledges.
    fn in_dialog_request(&mut self, method: Method, ack_of: Option<u32>) -> Option<Request> {
        let via = self.via();
        let contact = self.contact();
        let d = self.dialog.as_mut()?;
        let target = d
            .remote_target
            .clone()
            .unwrap_or_else(|| d.invite.uri.clone());
        let mut r = Request::new(method.clone(), target);
        let from = with_tag(&d.local_uri, Some(&d.local_tag));
        let to = with_tag(&d.remote_uri, d.remote_tag.as_deref());
        let seq = match ack_of {
            Some(n) => n,
            None => {
                d.local_cseq += 1;
                d.local_cseq
            }
        };
        let h = &mut r.headers;
        h.push(HeaderName::Via, via);
        h.push(HeaderName::MaxForwards, "70");
        h.push(HeaderName::From, from);
        h.push(HeaderName::To, to);
        h.push(HeaderName::CallId, d.call_id.as_str());
        h.push(HeaderName::CSeq, format!("{seq} {}", method.as_str()));
        if method == Method::Ack {
            h.push(HeaderName::Contact, contact);
        }
        Some(r)
    }

    fn respond(&mut self, req: &Request, status: u16, reason: Option<&str>, body: Vec<u8>) {
        let tag = self
            .dialog
            .as_ref()
            .map(|d| d.local_tag.clone())
            .unwrap_or_else(|| self.ids.tag());
        let r = self.response_to(req, status, reason, &tag, body);
        self.to_core.push_back(r.to_bytes());
    }

    fn response_to(
        &self,
        req: &Request,
        status: u16,
        reason: Option<&str>,
        tag: &str,
        body: Vec<u8>,
    ) -> Response {
        let mut r = Response::for_request(req, status, Some(tag));
        if let Some(reason) = reason {
            r = r.with_reason(reason);
        }
        if (200..300).contains(&status) || status == 180 {
            r.headers.push(HeaderName::Contact, self.contact());
        }
        if !body.is_empty() {
            r.headers.push(HeaderName::ContentType, "application/sdp");
            r.body = body;
        }
        r
    }
}

/// `uri` (a From/To value without its tag, or with the peer's) with `tag`.
fn with_tag(value: &str, tag: Option<&str>) -> String {
    match tag {
        Some(t) if !value.contains(";tag=") => format!("{value};tag={t}"),
        _ => value.to_string(),
    }
}

fn contact_uri(req: &Request) -> Option<Uri> {
    contact_of(&req.headers)
}

fn contact_of(h: &crate::sip::message::Headers) -> Option<Uri> {
    let v = h.get(&HeaderName::Contact)?;
    crate::sip::message::NameAddr::parse(v, "Contact")
        .ok()
        .map(|na| na.uri)
}

#[cfg(test)]
#[path = "ua_tests.rs"]
mod tests;
