//! A line's audio as the rest of the box sees it: one [`LineAudio`] per
//! configured line, owning the line's RTP socket and an audio thread that
//! opens the line's ALSA devices for the length of a call and steps a
//! [`LineEndpoint`](super::LineEndpoint) with them.
//!
//! This file compiles with and without the cargo feature `alsa`: without
//! it, [`LineAudio::spawn`] refuses with [`AudioError::NotBuilt`], whose
//! message says how to build a binary that has it (docs/lines.md, "Audio
//! devices").

use std::net::SocketAddr;
use std::time::Duration;

use super::{EndpointParams, EndpointStats, JitterSettings};

/// The ALSA PCM names of a line (a board file's `[audio]`, or `[[line]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioDevices {
    pub capture: String,
    pub playback: String,
}

/// What a line's audio thread reports, in order.
#[derive(Debug)]
pub enum AudioEvent {
    /// Both devices opened (first time or after a failure).
    DeviceReady,
    /// A device cannot be opened or failed for good: `device` is its PCM
    /// name, `error` ALSA's words. Sent once per outage, not once per retry.
    DeviceFailed { device: String, error: String },
    /// A stream ended (stop) with its counters.
    Stopped(EndpointStats),
}

/// Why a line's audio cannot run at all (a missing device is not one of
/// these: the thread reports it as [`AudioEvent::DeviceFailed`]).
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error(
        "this pbxgate was built without ALSA audio, which local lines need: \
         install libasound2-dev (apt install libasound2-dev) and build with \
         `cargo build --release --features alsa`"
    )]
    NotBuilt,
    #[error("line {line}: cannot bind its RTP socket on {bind}: {reason}")]
    Bind {
        line: String,
        bind: SocketAddr,
        reason: String,
    },
    #[error("line {line}: cannot start its audio thread: {reason}")]
    Thread { line: String, reason: String },
}

/// What the line's owner asks of its audio thread.
#[derive(Debug)]
#[cfg_attr(not(feature = "alsa"), allow(dead_code))]
pub(crate) enum Command {
    Start {
        remote: SocketAddr,
        params: EndpointParams,
    },
    Stop,
    Press {
        digit: char,
        held: Duration,
    },
    /// The handle is dropped: the thread closes everything and ends.
    Quit,
}

/// A line's audio: its RTP socket and its audio thread. One per configured
/// line, living as long as the line; dropping it ends the thread.
pub struct LineAudio {
    local: SocketAddr,
    commands: std::sync::mpsc::Sender<Command>,
    events: smol::channel::Receiver<AudioEvent>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LineAudio {
    /// Binds the line's RTP socket (UDP, `bind` e.g. 127.0.0.1:0) and
    /// starts the line's audio thread. A missing device is no error here:
    /// the thread reports DeviceFailed/DeviceReady (probing at start and
    /// again every 2 s while failing), and the line stays down meanwhile.
    #[cfg(feature = "alsa")]
    pub fn spawn(
        line: &str,
        devices: AudioDevices,
        bind: SocketAddr,
        jitter: JitterSettings,
    ) -> Result<LineAudio, AudioError> {
        let socket = std::net::UdpSocket::bind(bind)
            .and_then(|s| s.set_nonblocking(true).map(|_| s))
            .map_err(|e| AudioError::Bind {
                line: line.to_string(),
                bind,
                reason: e.to_string(),
            })?;
        let local = socket.local_addr().map_err(|e| AudioError::Bind {
            line: line.to_string(),
            bind,
            reason: e.to_string(),
        })?;
        let (commands, command_rx) = std::sync::mpsc::channel();
        let (event_tx, events) = smol::channel::unbounded();
        let worker = super::alsa::Worker::new(line, devices, socket, jitter, command_rx, event_tx);
        let thread = std::thread::Builder::new()
            .name(format!("line-audio-{line}"))
            .spawn(move || worker.run())
            .map_err(|e| AudioError::Thread {
                line: line.to_string(),
                reason: e.to_string(),
            })?;
        Ok(LineAudio {
            local,
            commands,
            events,
            thread: Some(thread),
        })
    }

    /// Without the `alsa` feature there is no audio: the message says how
    /// to build it.
    #[cfg(not(feature = "alsa"))]
    pub fn spawn(
        line: &str,
        devices: AudioDevices,
        bind: SocketAddr,
        jitter: JitterSettings,
    ) -> Result<LineAudio, AudioError> {
        let _ = (line, devices, bind, jitter);
        Err(AudioError::NotBuilt)
    }

    /// The RTP socket's address, for the line's SDP.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// A call's media: open the devices and run. RTP from any address but
    /// `remote` is dropped. A second start ends the first stream (Stopped).
    pub fn start(&self, remote: SocketAddr, params: EndpointParams) {
        let _ = self.commands.send(Command::Start { remote, params });
    }

    /// Ends the stream: closes the devices and reports Stopped.
    pub fn stop(&self) {
        let _ = self.commands.send(Command::Stop);
    }

    /// A keypad key released on the line board during a call, after `held`.
    pub fn press(&self, digit: char, held: Duration) {
        let _ = self.commands.send(Command::Press { digit, held });
    }

    /// What the thread reports (`recv().await` or `recv_blocking()`).
    pub fn events(&self) -> &smol::channel::Receiver<AudioEvent> {
        &self.events
    }
}

impl Drop for LineAudio {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Quit);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(all(test, not(feature = "alsa")))]
mod tests {
    use super::*;

    #[test]
    fn without_the_feature_spawn_says_how_to_build_it() {
        let devices = AudioDevices {
            capture: "default".into(),
            playback: "default".into(),
        };
        let bind = "127.0.0.1:0".parse().unwrap();
        let Err(e) = LineAudio::spawn("l1", devices, bind, JitterSettings::default()) else {
            panic!("spawned without ALSA");
        };
        let text = e.to_string();
        assert!(text.contains("--features alsa"), "{text}");
        assert!(text.contains("libasound2-dev"), "{text}");
    }
}
