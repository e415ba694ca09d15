//! The audio thread of one line. Between calls it holds no device (it only
//! probes them, at start and every 2 s while they fail). During a call it
//! waits in `poll` on the capture device and the RTP socket together:
//!
//! - each 20 ms captured → `LineEndpoint::capture` → RTP to the far end;
//! - each RTP packet from the far end → `LineEndpoint::receive` at its
//!   arrival time (not at the next capture period: the jitter buffer
//!   measures arrival jitter);
//! - the playback device is kept [`PLAYBACK_FILL`] periods full from
//!   `LineEndpoint::playout`, so its clock paces playout.
//!
//! The capture device's clock paces the call; while it is down (failed, or
//! silent for [`STALL`]) a timer sends silence every 20 ms so the far end
//! keeps its stream, and the devices are opened again every [`RETRY`].

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use alsa::poll::pollfd;
use alsa::Direction;
use smol::channel::Sender;

use super::pcm::{Device, DeviceError, PLAYBACK_FILL};
use super::stamp;
use crate::line::audio::device::{AudioDevices, AudioEvent, Command};
use crate::line::audio::{EndpointParams, Frame, JitterSettings, LineEndpoint, FRAME_SAMPLES};

/// Between probes of a failing device while no call runs.
const PROBE_EVERY: Duration = Duration::from_secs(2);
/// Between attempts to reopen a failed device during a call.
const RETRY: Duration = Duration::from_millis(500);
/// A capture device that delivers nothing for this long is failed (a jack
/// server that went away may leave its clients waiting forever).
const STALL: Duration = Duration::from_millis(500);
/// How far the playout clock may run from the fill level's estimate.
const REANCHOR: Duration = Duration::from_millis(60);
/// One frame.
const FRAME: Duration = Duration::from_millis(20);
/// Descriptors polled: the socket and up to this many minus one of the device.
const MAX_FDS: usize = 9;
/// Packets taken from the socket per wake-up, so a flood cannot starve capture.
const MAX_RECV: usize = 64;
/// Capture frames read per wake-up at most (200 ms of audio).
const MAX_FRAMES_PER_WAKE: usize = 10;
const SILENCE: Frame = [0; FRAME_SAMPLES];
const CAPTURE: usize = 0;
const PLAYBACK: usize = 1;

pub struct Worker {
    line: String,
    devices: AudioDevices,
    socket: UdpSocket,
    jitter: JitterSettings,
    commands: Receiver<Command>,
    events: Sender<AudioEvent>,
    /// Whether both devices last opened; None before the first probe.
    healthy: Option<bool>,
    /// DeviceFailed already sent in this outage, per direction.
    reported: [bool; 2],
}

/// How a call ended.
enum End {
    Stopped,
    Quit,
    Restart(SocketAddr, EndpointParams),
}

/// One call's devices and pacing.
struct Stream {
    endpoint: LineEndpoint,
    remote: SocketAddr,
    capture: Option<Device>,
    playback: Option<Device>,
    /// The last captured frame (the stall watchdog).
    last_frame: Instant,
    /// The last frame the playback device took (its stall watchdog).
    last_played: Instant,
    /// The playout time of the next frame, advanced by 20 ms a frame: the
    /// playback device's clock as the jitter buffer must see it.
    play_clock: Option<Instant>,
    /// The latest time given to the endpoint: a sans-IO core's clock never
    /// goes back, and a packet's kernel stamp may be older than a playout.
    ep_time: Instant,
    /// The next silence frame while capture is down.
    next_tick: Instant,
    retry_at: Instant,
}

impl Worker {
    pub fn new(
        line: &str,
        devices: AudioDevices,
        socket: UdpSocket,
        jitter: JitterSettings,
        commands: Receiver<Command>,
        events: Sender<AudioEvent>,
    ) -> Worker {
        Worker {
            line: line.to_string(),
            devices,
            socket,
            jitter,
            commands,
            events,
            healthy: None,
            reported: [false; 2],
        }
    }

    pub fn run(mut self) {
        if let Err(e) = stamp::enable(&self.socket) {
            // The buffer then sees when the thread read a packet, not when
            // it came: more jitter than there is, never wrong audio.
            tracing::warn!(line = %self.line, error = %e, "no kernel receive timestamps on the line's RTP socket");
        }
        self.probe();
        loop {
            let command = match self.commands.recv_timeout(PROBE_EVERY) {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Timeout) => {
                    // Packets sent to a line not in a call are nobody's;
                    // the next call must not start with a backlog.
                    self.drain_socket();
                    if self.healthy != Some(true) {
                        self.probe();
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => None,
            };
            let (mut remote, mut params) = match command {
                None | Some(Command::Quit) => return,
                Some(Command::Start { remote, params }) => (remote, params),
                // No stream runs: nothing to stop, no call to press keys in.
                Some(Command::Stop) | Some(Command::Press { .. }) => continue,
            };
            loop {
                match self.call(remote, params) {
                    End::Stopped => break,
                    End::Quit => return,
                    End::Restart(r, p) => (remote, params) = (r, p),
                }
            }
        }
    }

    /// Opens and closes both devices, to tell the line whether it can take calls.
    fn probe(&mut self) {
        let capture = self.open(CAPTURE);
        let playback = self.open(PLAYBACK);
        if capture.is_some() && playback.is_some() {
            self.ready();
        }
    }

    fn name(&self, which: usize) -> &str {
        if which == CAPTURE {
            &self.devices.capture
        } else {
            &self.devices.playback
        }
    }

    fn open(&mut self, which: usize) -> Option<Device> {
        let dir = if which == CAPTURE {
            Direction::Capture
        } else {
            Direction::Playback
        };
        match Device::open(self.name(which), dir) {
            Ok(d) => {
                tracing::debug!(line = %self.line, device = %d.name(), got = ?d.got, "audio device opened");
                Some(d)
            }
            Err(e) => {
                self.failed(which, &e);
                None
            }
        }
    }

    fn ready(&mut self) {
        if self.healthy != Some(true) {
            tracing::info!(line = %self.line, capture = %self.devices.capture, playback = %self.devices.playback, "line audio devices ready");
            let _ = self.events.try_send(AudioEvent::DeviceReady);
        }
        self.healthy = Some(true);
        self.reported = [false; 2];
    }

    fn failed(&mut self, which: usize, e: &DeviceError) {
        self.healthy = Some(false);
        if !self.reported[which] {
            self.reported[which] = true;
            tracing::warn!(line = %self.line, device = %e.device(), error = %e.error(), "line audio device failed; retrying");
            let _ = self.events.try_send(AudioEvent::DeviceFailed {
                device: e.device().to_string(),
                error: e.error().to_string(),
            });
        }
    }

    /// Runs one call's media until a command ends it.
    fn call(&mut self, remote: SocketAddr, params: EndpointParams) -> End {
        let capture = self.open(CAPTURE);
        let playback = self.open(PLAYBACK);
        if capture.is_some() && playback.is_some() {
            self.ready();
        }
        // Opening takes a while (a jack client: over 100 ms). What the far
        // end sent meanwhile would reach the jitter buffer as a burst that
        // it must first conceal or squeeze away; the call's audio starts
        // when the devices can play it.
        self.drain_socket();
        let now = Instant::now();
        let mut s = Stream {
            endpoint: LineEndpoint::new(params, self.jitter, now),
            remote,
            capture,
            playback,
            last_frame: now,
            last_played: now,
            play_clock: None,
            ep_time: now,
            next_tick: now + FRAME,
            retry_at: now + RETRY,
        };
        let mut fds = [pollfd {
            fd: -1,
            events: 0,
            revents: 0,
        }; MAX_FDS];
        let mut frame: Frame = SILENCE;
        let mut buf = [0u8; 2048];
        let end = loop {
            if let Some(end) = self.commands_during(&mut s) {
                break end;
            }
            self.wait(&mut s, &mut fds, &mut frame, &mut buf);
        };
        let xruns =
            s.capture.as_ref().map_or(0, |d| d.xruns) + s.playback.as_ref().map_or(0, |d| d.xruns);
        let stats = s.endpoint.stats();
        tracing::debug!(line = %self.line, xruns, ?stats, "line audio stream ended");
        // Dropping the devices closes them: a line not in a call holds none.
        drop(s);
        self.drain_socket();
        let _ = self.events.try_send(AudioEvent::Stopped(stats));
        end
    }

    fn commands_during(&mut self, s: &mut Stream) -> Option<End> {
        loop {
            match self.commands.try_recv() {
                Ok(Command::Stop) => return Some(End::Stopped),
                Ok(Command::Quit) | Err(TryRecvError::Disconnected) => return Some(End::Quit),
                Ok(Command::Start { remote, params }) => return Some(End::Restart(remote, params)),
                Ok(Command::Press { digit, held }) => s.endpoint.press(digit, held, Instant::now()),
                Err(TryRecvError::Empty) => return None,
            }
        }
    }

    /// One wake-up: wait for capture, the socket or a deadline, then move
    /// whatever is ready.
    fn wait(
        &mut self,
        s: &mut Stream,
        fds: &mut [pollfd; MAX_FDS],
        frame: &mut Frame,
        buf: &mut [u8],
    ) {
        fds[0] = pollfd {
            fd: self.socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let mut n = 1;
        if let Some(c) = &s.capture {
            match c.poll_fds(&mut fds[1..]) {
                Ok(k) => n += k,
                Err(e) => self.lose(s, CAPTURE, &e),
            }
        }
        let now = Instant::now();
        let mut deadline = match s.capture {
            Some(_) => s.last_frame + STALL,
            None => s.next_tick,
        };
        if s.capture.is_none() || s.playback.is_none() {
            deadline = deadline.min(s.retry_at);
        }
        // Commands are looked at after each wake-up: at least every 100 ms.
        let timeout = deadline
            .saturating_duration_since(now)
            .min(Duration::from_millis(100));
        let timeout_ms = timeout.as_micros().div_ceil(1000) as i32;
        if alsa::poll::poll(&mut fds[..n], timeout_ms).is_err() {
            // EINTR: look again.
            return;
        }
        let now = Instant::now();
        if fds[0].revents != 0 {
            self.receive(s, buf, now);
        }
        self.capture(s, &fds[1..n], frame, now);
        self.top_up(s, frame, now);
        if (s.capture.is_none() || s.playback.is_none()) && now >= s.retry_at {
            self.reopen(s, now);
        }
    }

    fn receive(&self, s: &mut Stream, buf: &mut [u8], now: Instant) {
        for _ in 0..MAX_RECV {
            match stamp::recv(&self.socket, buf, now) {
                // The line talks only to the box's own media anchor.
                Ok((len, from, at)) if from == s.remote => {
                    s.ep_time = s.ep_time.max(at);
                    s.endpoint.receive(&buf[..len], s.ep_time);
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }

    fn capture(&mut self, s: &mut Stream, fds: &[pollfd], frame: &mut Frame, now: Instant) {
        let socket = &self.socket;
        let remote = s.remote;
        let mut send = |p: &[u8]| {
            let _ = socket.send_to(p, remote);
        };
        // Without a playback device the jitter buffer still plays out, one
        // frame per frame sent, into nothing.
        let mut nowhere = SILENCE;
        let no_playback = s.playback.is_none();
        let Some(c) = &mut s.capture else {
            while now >= s.next_tick {
                s.endpoint.capture(&SILENCE, now, &mut send);
                if no_playback {
                    s.endpoint.playout(now, &mut nowhere);
                }
                s.next_tick += FRAME;
            }
            return;
        };
        let result = c.poll_revents(fds).and_then(|error| {
            let mut got = false;
            let mut read = 0;
            // A device that always has a frame (one without a clock, a
            // plugin at the end of its file) would keep this loop from
            // ever returning to the commands: catch up at most this much
            // per wake-up, the rest waits for the next.
            while read < MAX_FRAMES_PER_WAKE && c.read_frame(frame, now)? {
                read += 1;
                s.endpoint.capture(frame, now, &mut send);
                if no_playback {
                    s.endpoint.playout(now, &mut nowhere);
                }
                s.last_frame = now;
                got = true;
            }
            if error && !got {
                // The device flags an error but has nothing to read: do
                // not spin on it; the stall watchdog decides.
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(())
        });
        let stalled = now.duration_since(s.last_frame) > STALL;
        match result {
            Err(e) => self.lose(s, CAPTURE, &e),
            Ok(()) if stalled => {
                let e = DeviceError::Failed {
                    device: self.devices.capture.clone(),
                    error: format!("no audio for {} ms (device stopped)", STALL.as_millis()),
                };
                self.lose(s, CAPTURE, &e);
            }
            Ok(()) => {}
        }
    }

    /// Keeps the playback device fed.
    fn top_up(&mut self, s: &mut Stream, frame: &mut Frame, now: Instant) {
        let Some(p) = &mut s.playback else {
            return;
        };
        let mut result = Ok(());
        for _ in 0..PLAYBACK_FILL + 1 {
            // The jitter buffer steers its delay by when frames are played
            // (within ±5 ms), so playout comes on a 20 ms cadence: a top-up
            // may write two frames at once, and the fill level moves in
            // whole periods whenever we happen to wake. The cadence follows
            // `now` again when they part by more than [`REANCHOR`]: after an
            // xrun, a reopened device, or drift between the device's clock
            // and ours piling up.
            match p.wants_frame(now) {
                Ok(true) => {}
                Ok(false) if now.duration_since(s.last_played) > STALL => {
                    result = Err(DeviceError::Failed {
                        device: self.devices.playback.clone(),
                        error: format!(
                            "played nothing for {} ms (device stopped)",
                            STALL.as_millis()
                        ),
                    });
                    break;
                }
                Ok(false) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
            let at = match s.play_clock {
                Some(c) if c.max(now) - c.min(now) <= REANCHOR => c,
                _ => now,
            };
            s.play_clock = Some(at + FRAME);
            s.ep_time = s.ep_time.max(at);
            s.endpoint.playout(s.ep_time, frame);
            if let Err(e) = p.write_frame(frame, now) {
                result = Err(e);
                break;
            }
            s.last_played = now;
        }
        if let Err(e) = result {
            self.lose(s, PLAYBACK, &e);
        }
    }

    /// A device failed for good: close both, say so, retry later. Both,
    /// because a line's two devices are nearly always one card or one sound
    /// server: when it goes, the other handle is dead too, and closing a
    /// handle of a server that has since restarted is not safe (libjack).
    fn lose(&mut self, s: &mut Stream, which: usize, e: &DeviceError) {
        let now = Instant::now();
        s.capture = None;
        s.playback = None;
        s.next_tick = now + FRAME;
        s.retry_at = now + RETRY;
        self.failed(which, e);
    }

    fn reopen(&mut self, s: &mut Stream, now: Instant) {
        if s.capture.is_none() {
            s.capture = self.open(CAPTURE);
            s.last_frame = now;
        }
        if s.playback.is_none() {
            s.playback = self.open(PLAYBACK);
            s.last_played = now;
            s.play_clock = None;
        }
        if s.capture.is_some() && s.playback.is_some() {
            self.ready();
        }
        s.retry_at = now + RETRY;
    }

    /// Drops what waits in the socket (a call's leftovers, or packets sent
    /// while no call ran); the far end of a new call starts after `start`.
    fn drain_socket(&self) {
        let mut buf = [0u8; 2048];
        while self.socket.recv_from(&mut buf).is_ok() {}
    }
}
