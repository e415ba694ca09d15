//! The box's serial shell for a line board: opens the port, sends commands,
//! reads events, and opens the port again when it goes away
//! (docs/line-protocol.md, "Starting and resynchronising").
//!
//! One blocking thread per port rather than `smol::Async` on its descriptor:
//! `serialport` is a blocking API (its reads wait in `poll` with a timeout),
//! a board sends a few short lines a second, and a thread keeps termios and
//! reopen handling out of the event loop. The rest of the box talks to it
//! through channels that work from async code and from threads alike.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serialport::{ClearBuffer, SerialPort, TTYPort};
use smol::channel::{self, Receiver, Sender, TryRecvError};

use super::framer::LineFramer;
use super::protocol::{parse_event, Command, Event, Line, LineError};

/// How long a read waits before the thread looks at commands and the stop flag.
const POLL: Duration = Duration::from_millis(20);

/// Where the board is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialSettings {
    /// The port's path (`serialport` takes paths as text).
    pub path: String,
    pub baud: u32,
    /// Wait between attempts to open the port.
    pub retry: Duration,
}

impl SerialSettings {
    pub fn new(path: impl Into<String>, baud: u32) -> SerialSettings {
        SerialSettings {
            path: path.into(),
            baud,
            retry: Duration::from_secs(1),
        }
    }
}

/// Why the link is down.
#[derive(Debug, thiserror::Error)]
pub enum SerialError {
    #[error("cannot open serial port {path} at {baud} baud: {reason}")]
    Open {
        path: String,
        baud: u32,
        reason: String,
    },
    #[error("serial port {path} went away: {reason}")]
    Lost { path: String, reason: String },
}

/// What the link reports.
#[derive(Debug)]
pub enum LinkEvent {
    /// The port is open and `RESET` was sent: `READY` and the hook state follow.
    Up,
    /// A line from the board.
    Event(Event),
    /// A line from the board that is not protocol; dropped, the link stays up.
    Malformed(LineError),
    /// The port is closed; the link tries to open it again. Sent once per
    /// outage, not once per attempt.
    Down(SerialError),
}

/// A running link to one line board. Dropping it closes the port.
pub struct SerialLink {
    commands: Sender<Command>,
    events: Receiver<LinkEvent>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SerialLink {
    pub fn spawn(settings: SerialSettings) -> io::Result<SerialLink> {
        let (commands, command_rx) = channel::unbounded();
        let (event_tx, events) = channel::unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            settings,
            commands: command_rx,
            events: event_tx,
            stop: stop.clone(),
            framer: LineFramer::new(),
        };
        let thread = std::thread::Builder::new()
            .name("line-serial".into())
            .spawn(move || worker.run())?;
        Ok(SerialLink {
            commands,
            events,
            stop,
            thread: Some(thread),
        })
    }

    /// Queues a command. While the link is down commands are dropped: after
    /// `Up` the caller sends the state it wants again.
    pub fn send(&self, command: Command) {
        let _ = self.commands.try_send(command);
    }

    /// What the link reports, in order (`recv().await` or `recv_blocking()`).
    pub fn events(&self) -> &Receiver<LinkEvent> {
        &self.events
    }
}

impl Drop for SerialLink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Worker {
    settings: SerialSettings,
    commands: Receiver<Command>,
    events: Sender<LinkEvent>,
    stop: Arc<AtomicBool>,
    framer: LineFramer,
}

impl Worker {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.events.is_closed()
    }

    fn run(mut self) {
        let mut down_reported = false;
        while !self.stopped() {
            let s = &self.settings;
            match serialport::new(s.path.as_str(), s.baud)
                .timeout(POLL)
                .open_native()
            {
                Ok(port) => {
                    down_reported = false;
                    let reason = self.session(port);
                    if self.stopped() {
                        return;
                    }
                    let _ = self.events.try_send(LinkEvent::Down(SerialError::Lost {
                        path: self.settings.path.clone(),
                        reason: reason.to_string(),
                    }));
                }
                Err(e) => {
                    if !down_reported {
                        down_reported = true;
                        let _ = self.events.try_send(LinkEvent::Down(SerialError::Open {
                            path: s.path.clone(),
                            baud: s.baud,
                            reason: e.to_string(),
                        }));
                    }
                    self.pause();
                }
            }
        }
    }

    /// Sleeps the retry interval, waking for a stop.
    fn pause(&self) {
        let mut left = self.settings.retry;
        while !left.is_zero() && !self.stopped() {
            let step = left.min(POLL);
            std::thread::sleep(step);
            left -= step;
        }
    }

    /// One open port, until it fails or the link stops. Returns why it ended.
    fn session(&mut self, mut port: TTYPort) -> io::Error {
        // Stale input and commands belong to the last session.
        let _ = port.clear(ClearBuffer::Input);
        while self.commands.try_recv().is_ok() {}
        self.framer.reset();
        // An empty line ends a half line the board may hold.
        if let Err(e) = port.write_all(b"\nRESET\n") {
            return e;
        }
        let _ = self.events.try_send(LinkEvent::Up);
        let mut buf = [0u8; 256];
        let mut line = Line::new();
        loop {
            if self.stopped() {
                return io::Error::other("link stopped");
            }
            loop {
                match self.commands.try_recv() {
                    Ok(command) => {
                        if command.encode(&mut line).is_ok() {
                            if let Err(e) = port.write_all(line.as_bytes()) {
                                return e;
                            }
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Closed) => return io::Error::other("link dropped"),
                }
            }
            match port.read(&mut buf) {
                Ok(0) => return io::Error::from(io::ErrorKind::UnexpectedEof),
                Ok(n) => {
                    let events = &self.events;
                    self.framer.push(&buf[..n], |l| {
                        let report = match l.and_then(parse_event) {
                            Ok(event) => LinkEvent::Event(event),
                            Err(e) => LinkEvent::Malformed(e),
                        };
                        let _ = events.try_send(report);
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return e,
            }
        }
    }
}
