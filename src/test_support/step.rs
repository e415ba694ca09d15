//! What left the core in one step, in the order it was queued, with the
//! messages parsed, and ways to find what a test asserts on.

use std::fmt;
use std::net::SocketAddr;

use crate::app::{Core, Output};
use crate::call::CallRecord;
use crate::media::messages::MediaCommand;
use crate::sip::message::{parse_message, Framing, HeaderName, Request, Response, SipMessage};
use crate::sip::transport::Peer;

/// One output of the core.
#[derive(Debug)]
pub enum Out {
    Close(SocketAddr),
    Media(MediaCommand),
    Message(Sent),
}

/// A message the core sent.
#[derive(Clone, Debug)]
pub struct Sent {
    pub to: Peer,
    /// The start line.
    pub line: String,
    pub msg: SipMessage,
}

impl Sent {
    /// Sent to `to` (`ip:port`; "" for anyone) and its start line begins
    /// with `start` ("INVITE", "SIP/2.0 200", ...).
    pub fn is(&self, to: &str, start: &str) -> bool {
        (to.is_empty() || self.to.remote.to_string() == to) && self.line.starts_with(start)
    }

    #[track_caller]
    pub fn request(&self) -> &Request {
        match &self.msg {
            SipMessage::Request(r) => r,
            SipMessage::Response(_) => panic!("not a request: {}", self.line),
        }
    }

    #[track_caller]
    pub fn response(&self) -> &Response {
        match &self.msg {
            SipMessage::Response(r) => r,
            SipMessage::Request(_) => panic!("not a response: {}", self.line),
        }
    }

    pub fn header(&self, name: &HeaderName) -> Option<&str> {
        self.msg.headers().get(name)
    }

    pub fn body(&self) -> String {
        let body = match &self.msg {
            SipMessage::Request(r) => &r.body,
            SipMessage::Response(r) => &r.body,
        };
        String::from_utf8_lossy(body).into_owned()
    }
}

/// The outputs of one or more steps, in the order the core queued them.
#[derive(Default)]
pub struct Step {
    pub outs: Vec<Out>,
    /// Call records the core queued for the history writer, apart from
    /// `outs` so that tests of what is sent do not see them.
    pub records: Vec<CallRecord>,
    /// Events the core queued with the records (and on their own), in order.
    pub events: Vec<crate::events::Event>,
    /// Routing hook requests, in order.
    pub hooks: Vec<crate::app::HookCall>,
    /// What local lines' shells were told, in order.
    pub lines: Vec<(usize, crate::app::lines::LineAction)>,
}

impl Step {
    /// Takes everything `core` has queued; what it sends must parse.
    #[track_caller]
    pub fn drain(core: &mut Core) -> Step {
        let mut step = Step::default();
        while let Some(o) = core.poll_output() {
            step.outs.push(match o {
                Output::CloseConnection(a) => Out::Close(a),
                Output::Media(c) => Out::Media(c),
                Output::CallRecord(r, events) => {
                    step.records.push(*r);
                    step.events.extend(events);
                    continue;
                }
                Output::Events(events) => {
                    step.events.extend(events);
                    continue;
                }
                Output::Hook(h) => {
                    step.hooks.push(h);
                    continue;
                }
                Output::Line { line, action } => {
                    step.lines.push((line, action));
                    continue;
                }
                Output::Transmit(t) => {
                    let line = String::from_utf8_lossy(&t.bytes)
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    let msg = parse_message(&t.bytes, Framing::Datagram)
                        .unwrap_or_else(|e| panic!("the core sent bad SIP ({e:?}): {line}"));
                    Out::Message(Sent {
                        to: t.to,
                        line,
                        msg,
                    })
                }
            });
        }
        step
    }

    pub fn extend(&mut self, other: Step) {
        self.outs.extend(other.outs);
        self.records.extend(other.records);
        self.events.extend(other.events);
        self.hooks.extend(other.hooks);
    }

    pub fn is_empty(&self) -> bool {
        self.outs.is_empty()
    }

    pub fn messages(&self) -> impl Iterator<Item = &Sent> {
        self.outs.iter().filter_map(|o| match o {
            Out::Message(s) => Some(s),
            _ => None,
        })
    }

    pub fn media(&self) -> impl Iterator<Item = &MediaCommand> {
        self.outs.iter().filter_map(|o| match o {
            Out::Media(c) => Some(c),
            _ => None,
        })
    }

    pub fn closes(&self) -> Vec<SocketAddr> {
        self.outs
            .iter()
            .filter_map(|o| match o {
                Out::Close(a) => Some(*a),
                _ => None,
            })
            .collect()
    }

    /// The messages to `to` whose start line begins with `start` (see
    /// `Sent::is`).
    pub fn all(&self, to: &str, start: &str) -> Vec<&Sent> {
        self.messages().filter(|s| s.is(to, start)).collect()
    }

    pub fn count(&self, to: &str, start: &str) -> usize {
        self.all(to, start).len()
    }

    pub fn find(&self, to: &str, start: &str) -> Option<&Sent> {
        self.messages().find(|s| s.is(to, start))
    }

    /// The one message to `to` starting with `start`; panics, naming
    /// what was sent, when there is none or more than one.
    #[track_caller]
    pub fn one(&self, to: &str, start: &str) -> &Sent {
        match self.all(to, start)[..] {
            [one] => one,
            _ => panic!("not one '{start}' to '{to}' in {self:?}"),
        }
    }

    /// The final responses sent, to anyone.
    pub fn finals(&self) -> Vec<&Response> {
        self.all("", "SIP/2.0 ")
            .into_iter()
            .map(Sent::response)
            .filter(|r| r.status >= 200)
            .collect()
    }

    /// Where in the step's order the first output described by a line of
    /// `summary` starting with `start` stands.
    pub fn position(&self, start: &str) -> Option<usize> {
        self.summary().iter().position(|l| l.starts_with(start))
    }

    /// One line per output, in order: `send TO START-LINE`,
    /// `media COMMAND SIDE DETAIL`, `close ADDR`. Tests compare it whole
    /// when the order is what they check.
    pub fn summary(&self) -> Vec<String> {
        self.outs.iter().map(describe).collect()
    }
}

fn describe(o: &Out) -> String {
    match o {
        Out::Close(a) => format!("close {a}"),
        Out::Message(s) => format!("send {} {}", s.to.remote, s.line),
        Out::Media(c) => format!("media {}", describe_media(c)),
    }
}

fn describe_media(c: &MediaCommand) -> String {
    match c {
        MediaCommand::Open {
            caller_local,
            callee_local,
            ..
        } => format!("Open caller {caller_local} callee {callee_local}"),
        MediaCommand::SetRemote { side, remote, .. } => {
            format!("SetRemote {side:?} {}", remote.signalled)
        }
        MediaCommand::SetPayloadMap { side, map, .. } => format!("SetPayloadMap {side:?} {map:?}"),
        MediaCommand::SetTranscode {
            side, transcode, ..
        } => match transcode {
            Some(t) => format!("SetTranscode {side:?} {}->{}", t.from_pt, t.to_pt),
            None => format!("SetTranscode {side:?} none"),
        },
        MediaCommand::SetDtmf { side, path, .. } => format!(
            "SetDtmf {side:?} render={} detect={}",
            path.render.is_some(),
            path.detect.is_some()
        ),
        MediaCommand::SetHold { hold, .. } => format!("SetHold {hold}"),
        MediaCommand::SetSrtp { side, keys, .. } => match keys {
            Some(k) => format!("SetSrtp {side:?} {}", k.suite),
            None => format!("SetSrtp {side:?} none"),
        },
        MediaCommand::SendDigits {
            to,
            sink,
            digits,
            tone_ms,
            gap_ms,
            ..
        } => format!(
            "SendDigits {to:?} {digits} events={:?} tones={} pt={} {tone_ms}/{gap_ms} ms",
            sink.events,
            sink.tones || sink.events.is_none(),
            sink.audio_pt
        ),
        MediaCommand::Close { .. } => "Close".into(),
        MediaCommand::Barrier { token } => format!("Barrier {token}"),
    }
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.summary()).finish()
    }
}
