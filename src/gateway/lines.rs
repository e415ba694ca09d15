//! The local lines' shells: per line, the serial link to its line board
//! and its audio (ALSA devices and RTP socket). What they report goes to
//! the signalling loop as `Inbound::Line`; what the core wants done
//! (`Output::Line`) is carried out here. A line whose shells cannot start
//! is logged and left out; the box runs on without it.

use std::net::SocketAddr;

use smol::channel::Sender;
use tracing::{debug, error, info, warn};

use crate::app::lines::{LineAction, LineInput, LineSetup};
use crate::app::Core;
use crate::config::DtmfMode;
use crate::line::audio::{
    AudioDevices, AudioEvent, EndpointParams, JitterSettings, LineAudio, G711,
};
use crate::line::phone::PhoneSettings;
use crate::line::protocol::Event;
use crate::line::serial::{LinkEvent, SerialLink, SerialSettings};
use crate::line::spec::LineSpec;
use crate::logging::Escaped;
use crate::sip::ids::IdGenerator;

use super::signalling::Inbound;

/// Where lines' RTP sockets are bound: they talk only to the box's own
/// media anchor.
const LINE_AUDIO_BIND: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

struct LineShell {
    name: String,
    dtmf_events: bool,
    link: SerialLink,
    audio: LineAudio,
}

/// The running lines, by the core's line index.
pub struct LineShells {
    shells: Vec<LineShell>,
    /// RTP's random SSRC, first sequence number and timestamp.
    ids: IdGenerator,
}

impl LineShells {
    /// Starts each line's serial link and audio and adds the line to the
    /// core; `emergency` is `[emergency] numbers` (placed without waiting).
    pub fn start(
        lines: &[LineSpec],
        emergency: &[String],
        endpoint: &mut Core,
        tx: &Sender<Inbound>,
        ids: IdGenerator,
    ) -> LineShells {
        let mut shells = Vec::new();
        for spec in lines {
            let devices = AudioDevices {
                capture: spec.capture.clone(),
                playback: spec.playback.clone(),
            };
            let audio = match LineAudio::spawn(
                &spec.name,
                devices,
                LINE_AUDIO_BIND,
                JitterSettings::default(),
            ) {
                Ok(a) => a,
                Err(e) => {
                    error!(line = %spec.name, error = %e, "line not started");
                    continue;
                }
            };
            let link = match SerialLink::spawn(SerialSettings::new(&spec.serial_port, spec.baud)) {
                Ok(l) => l,
                Err(e) => {
                    error!(line = %spec.name, error = %e, "line not started: cannot start its serial thread");
                    continue;
                }
            };
            let dtmf_events = spec.dtmf != DtmfMode::Inband;
            let index = endpoint.add_line(LineSetup {
                name: spec.name.clone(),
                extension: spec.extension.clone(),
                dtmf_events,
                phone: PhoneSettings {
                    cadence: spec.ring_cadence.clone(),
                    digit_timeout: spec.digit_timeout,
                    emergency: emergency.to_vec(),
                },
                audio: audio.local_addr(),
            });
            info!(line = %spec.name, extension = %spec.extension, serial = %spec.serial_port, capture = %spec.capture, playback = %spec.playback, rtp = %audio.local_addr(), "line started");
            forward_link(index, spec.name.clone(), &link, tx.clone());
            forward_audio(index, spec.name.clone(), &audio, tx.clone());
            shells.push(LineShell {
                name: spec.name.clone(),
                dtmf_events,
                link,
                audio,
            });
        }
        LineShells { shells, ids }
    }

    pub fn apply(&mut self, line: usize, action: LineAction) {
        let Some(shell) = self.shells.get(line) else {
            return;
        };
        let ids = &mut self.ids;
        match action {
            LineAction::Board(c) => shell.link.send(c),
            LineAction::AudioStart(s) => {
                // RFC 3550 §5.1: sequence and timestamp start at random.
                let params = EndpointParams {
                    codec: if s.ulaw { G711::Ulaw } else { G711::Alaw },
                    payload_type: s.payload_type,
                    event_payload_type: s.event_payload_type,
                    send_events: shell.dtmf_events && s.event_payload_type.is_some(),
                    ssrc: ids.ssrc(),
                    first_seq: ids.u32() as u16,
                    first_timestamp: ids.u32(),
                };
                debug!(line = %shell.name, remote = %s.remote, "line audio starts");
                shell.audio.start(s.remote, params);
            }
            LineAction::AudioStop => shell.audio.stop(),
            LineAction::Press { digit, held } => shell.audio.press(digit, held),
        }
    }
}

fn forward_link(index: usize, name: String, link: &SerialLink, tx: Sender<Inbound>) {
    let events = link.events().clone();
    smol::spawn(async move {
        while let Ok(ev) = events.recv().await {
            let input = match ev {
                LinkEvent::Up => {
                    info!(line = %name, "line board port open; waiting for READY");
                    continue;
                }
                LinkEvent::Malformed(e) => {
                    warn!(line = %name, error = %Escaped(&e.to_string()), "line board sent a line that is not protocol; dropped");
                    continue;
                }
                LinkEvent::Down(e) => LineInput::LinkDown(e.to_string()),
                LinkEvent::Event(ev) => {
                    log_board_event(&name, &ev);
                    LineInput::Board(ev)
                }
            };
            if tx.send(Inbound::Line { line: index, input }).await.is_err() {
                return;
            }
        }
    })
    .detach();
}

fn log_board_event(name: &str, ev: &Event) {
    match ev {
        Event::Ready { protocol, firmware } => {
            info!(line = %name, protocol, firmware = %Escaped(firmware.as_str()), "line board ready")
        }
        Event::Fault { reason, note } => {
            warn!(line = %name, reason = reason.word(), note = %Escaped(note.as_str()), "line board fault: the line is out of service until the board is ready again")
        }
        Event::Error { kind, note } => {
            warn!(line = %name, kind = kind.word(), note = %Escaped(note.as_str()), "line board refused a command")
        }
        other => debug!(line = %name, event = ?other, "line board event"),
    }
}

fn forward_audio(index: usize, name: String, audio: &LineAudio, tx: Sender<Inbound>) {
    let events = audio.events().clone();
    smol::spawn(async move {
        while let Ok(ev) = events.recv().await {
            let input = match ev {
                AudioEvent::DeviceReady => LineInput::AudioReady,
                AudioEvent::DeviceFailed { device, error } => {
                    LineInput::AudioFailed { device, error }
                }
                AudioEvent::Stopped(stats) => {
                    debug!(line = %name, stats = ?stats, "line audio stopped");
                    continue;
                }
            };
            if tx.send(Inbound::Line { line: index, input }).await.is_err() {
                return;
            }
        }
    })
    .detach();
}
