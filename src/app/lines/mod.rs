//! The box's local lines as the core sees them: one in-process SIP user
//! agent per line (`ua.rs`), reached through a listener id of its own, so
//! the B2BUA calls a line and takes calls from it as it does with any far
//! end. The shell feeds in what the line board and the audio side report
//! and carries out each line's `LineAction`s.

mod sdp;
mod ua;

pub use sdp::AudioStream;
pub use ua::{LineAction, LineAddressing, LineUa};

use std::net::SocketAddr;
use std::time::Instant;

use tracing::{info, warn};

use crate::call::LINE_LISTENER_BASE;
use crate::line::phone::{Phone, PhoneSettings};
use crate::line::protocol::Event;
use crate::logging::Escaped;
use crate::sip::ids::IdGenerator;
use crate::sip::transport::{ListenerId, Peer, Transport};

/// A line as the shell sets it up.
#[derive(Clone, Debug)]
pub struct LineSetup {
    pub name: String,
    pub extension: String,
    /// Keys go out as RFC 4733 events (else they stay in the audio).
    pub dtmf_events: bool,
    pub phone: PhoneSettings,
    /// The line's RTP socket, bound by its audio shell.
    pub audio: SocketAddr,
}

/// What a line's shells report.
#[derive(Debug)]
pub enum LineInput {
    /// The serial link closed; the reason is logged.
    LinkDown(String),
    Board(Event),
    /// The audio devices opened.
    AudioReady,
    /// An audio device cannot be opened or failed.
    AudioFailed {
        device: String,
        error: String,
    },
}

/// A line's state for the status page and API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineStatus {
    pub name: String,
    pub extension: String,
    pub in_service: bool,
    /// Why not, when it is not.
    pub down_reason: Option<String>,
    pub off_hook: bool,
    pub in_call: bool,
}

#[derive(Default)]
pub struct Lines {
    uas: Vec<LineUa>,
}

/// The host part of the URIs calls to and from a line carry: RFC 2606's
/// reserved `.invalid`, so no name a DNS server answers can ever be a line.
pub fn line_host(name: &str) -> String {
    format!("{name}.line.invalid")
}

impl Lines {
    pub fn add(&mut self, setup: LineSetup, ids: IdGenerator) -> usize {
        let index = self.uas.len();
        let addressing = LineAddressing {
            sip: setup.audio,
            audio: setup.audio,
            host: line_host(&setup.name),
        };
        self.uas.push(LineUa::new(
            setup.name,
            setup.extension,
            setup.dtmf_events,
            addressing,
            Phone::new(setup.phone),
            ids,
        ));
        index
    }

    pub fn len(&self) -> usize {
        self.uas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.uas.is_empty()
    }

    pub fn listener(index: usize) -> ListenerId {
        ListenerId(LINE_LISTENER_BASE + index as u16)
    }

    /// The line a listener id stands for.
    pub fn index_of(&self, listener: ListenerId) -> Option<usize> {
        let i = usize::from(listener.0.checked_sub(LINE_LISTENER_BASE)?);
        (i < self.uas.len()).then_some(i)
    }

    /// How the core sees line `index` as a peer.
    pub fn peer(&self, index: usize) -> Option<Peer> {
        let ua = self.uas.get(index)?;
        Some(Peer {
            listener: Self::listener(index),
            transport: Transport::Tcp,
            remote: ua_address(ua),
            connection: None,
        })
    }

    pub fn deliver(&mut self, index: usize, bytes: &[u8], now: Instant) {
        if let Some(ua) = self.uas.get_mut(index) {
            ua.deliver(bytes, now);
        }
    }

    pub fn input(&mut self, index: usize, input: LineInput, now: Instant) {
        let Some(ua) = self.uas.get_mut(index) else {
            return;
        };
        match input {
            LineInput::LinkDown(why) => {
                warn!(line = %ua.name, reason = %Escaped(&why), "line board link down");
                ua.link_down(now);
            }
            LineInput::Board(ev) => ua.board_event(&ev, now),
            LineInput::AudioReady => {
                info!(line = %ua.name, "line audio devices ready");
                ua.audio(None, now);
            }
            LineInput::AudioFailed { device, error } => {
                warn!(line = %ua.name, device = %device, error = %Escaped(&error), "line audio device failed; the line is out of service until it is back");
                ua.audio(Some(format!("audio device {device}: {error}")), now);
            }
        }
    }

    /// A message a line sends to the core, with the peer it comes from.
    pub fn poll_to_core(&mut self) -> Option<(Peer, Vec<u8>)> {
        for i in 0..self.uas.len() {
            if let Some(bytes) = self.uas[i].poll_to_core() {
                let peer = self.peer(i)?;
                return Some((peer, bytes));
            }
        }
        None
    }

    pub fn poll_action(&mut self) -> Option<(usize, LineAction)> {
        self.uas
            .iter_mut()
            .enumerate()
            .find_map(|(i, ua)| ua.poll_action().map(|a| (i, a)))
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.uas.iter().filter_map(LineUa::poll_timeout).min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        for ua in &mut self.uas {
            ua.handle_timeout(now);
        }
    }

    pub fn statuses(&self) -> Vec<LineStatus> {
        self.uas
            .iter()
            .map(|ua| LineStatus {
                name: ua.name.clone(),
                extension: ua.extension.clone(),
                in_service: ua.phone().in_service(),
                down_reason: ua.down_reason(),
                off_hook: ua.phone().off_hook(),
                in_call: ua.in_call(),
            })
            .collect()
    }
}

fn ua_address(ua: &LineUa) -> SocketAddr {
    ua.sip_address()
}

#[cfg(test)]
mod core_tests;
