//! The board side of the line protocol, for `pbxgate linesim`: a pretend
//! line board that obeys the box's commands and turns a script (`offhook`,
//! `digits 123#`, ...) into events, each at its time. Sans-IO: the shell
//! (`sim_io.rs`) feeds lines and `now`, and sends what `poll_transmit` gives.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::protocol::{
    self, Command, Digit, Event, FaultReason, Firmware, Line, LineError, Note, Tone, DIGIT_MAX_MS,
    FLASH_MAX_MS, PROTOCOL_VERSION,
};

/// What is wrong with a script line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    #[error("unknown action '{0}' (offhook, onhook, flash, digits, fault, restart, raw, quit)")]
    Unknown(String),
    #[error("{action}: {why}")]
    Bad { action: &'static str, why: String },
}

fn bad(action: &'static str, why: impl ToString) -> ScriptError {
    ScriptError::Bad {
        action,
        why: why.to_string(),
    }
}

/// What a script line asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    Go,
    Quit,
}

/// The state the box can see: hook, ringing, tone.
#[derive(Debug)]
pub struct SimBoard {
    firmware: Firmware,
    off_hook: bool,
    ringing: bool,
    tone: Option<Tone>,
    /// Lines to send, each at its time, in order.
    queue: VecDeque<(Instant, Vec<u8>)>,
    /// When the script's last action ends: the next one starts there.
    script_free: Instant,
}

const FLASH_DEFAULT_MS: u16 = 600;
const KEY_DEFAULT_MS: u16 = 100;

impl SimBoard {
    /// A board that just powered up: `READY` and `ONHOOK` are queued.
    pub fn new(firmware: Firmware, now: Instant) -> SimBoard {
        let mut board = SimBoard {
            firmware,
            off_hook: false,
            ringing: false,
            tone: None,
            queue: VecDeque::new(),
            script_free: now,
        };
        board.restart(now);
        board
    }

    pub fn off_hook(&self) -> bool {
        self.off_hook
    }
    pub fn ringing(&self) -> bool {
        self.ringing
    }
    pub fn tone(&self) -> Option<Tone> {
        self.tone
    }

    fn send(&mut self, at: Instant, event: &Event) {
        let mut line = Line::new();
        // Every event this board makes is within the protocol's limits.
        if event.encode(&mut line).is_ok() {
            self.queue.push_back((at, line.into_bytes().to_vec()));
        }
    }

    fn restart(&mut self, now: Instant) {
        self.ringing = false;
        self.tone = None;
        let ready = Event::Ready {
            protocol: PROTOCOL_VERSION,
            firmware: self.firmware.clone(),
        };
        self.send(now, &ready);
        let hook = self.hook_event();
        self.send(now, &hook);
    }

    fn hook_event(&self) -> Event {
        if self.off_hook {
            Event::OffHook
        } else {
            Event::OnHook
        }
    }

    /// Answers a line from the box that could not be read with `ERR`.
    pub fn refuse(&mut self, e: &LineError, now: Instant) {
        let mut text = e.to_string();
        text.truncate(60);
        let note = Note::new("error text", &text).unwrap_or_default();
        let kind = e.board_kind();
        self.send(now, &Event::Error { kind, note });
    }

    /// A line from the box. Returns what it said; a bad line is answered
    /// with `ERR` (docs/line-protocol.md, "Errors") and returned as the error.
    pub fn handle_command(&mut self, bytes: &[u8], now: Instant) -> Result<Command, LineError> {
        let command = match protocol::parse_command(bytes) {
            Ok(c) => c,
            Err(LineError::Empty) => return Err(LineError::Empty),
            Err(e) => {
                self.refuse(&e, now);
                return Err(e);
            }
        };
        match &command {
            // A phone that is off-hook is not rung.
            Command::Ring { .. } => self.ringing = !self.off_hook,
            Command::RingOff => self.ringing = false,
            Command::Tone(t) => self.tone = Some(*t),
            Command::ToneOff => self.tone = None,
            Command::Reset => self.restart(now),
            Command::VersionQuery => {
                let version = Event::Version {
                    protocol: PROTOCOL_VERSION,
                    firmware: self.firmware.clone(),
                };
                self.send(now, &version);
            }
        }
        Ok(command)
    }

    fn script_start(&mut self, now: Instant) -> Instant {
        self.script_free = self.script_free.max(now);
        self.script_free
    }

    fn set_hook(&mut self, off: bool, now: Instant) {
        let at = self.script_start(now);
        self.off_hook = off;
        if off {
            self.ringing = false;
        } else {
            self.tone = None;
        }
        let hook = self.hook_event();
        self.send(at, &hook);
    }

    /// One line of the script (docs/line-protocol.md, "The simulator").
    pub fn handle_script(&mut self, line: &str, now: Instant) -> Result<Script, ScriptError> {
        let line = line.trim();
        let (action, rest) = line.split_once(' ').unwrap_or((line, ""));
        let mut args = rest.split_whitespace();
        let ms = |arg: Option<&str>, action, default: u16, max: u16| match arg {
            None => Ok(default),
            Some(s) => match s.parse::<u16>() {
                Ok(v) if (1..=max).contains(&v) => Ok(v),
                _ => Err(bad(
                    action,
                    format!("'{s}' is not a duration of 1 to {max} ms"),
                )),
            },
        };
        match action {
            "" => {}
            "offhook" => self.set_hook(true, now),
            "onhook" => self.set_hook(false, now),
            "flash" => {
                let ms = ms(args.next(), "flash", FLASH_DEFAULT_MS, FLASH_MAX_MS)?;
                let at = self.script_start(now) + Duration::from_millis(ms.into());
                self.script_free = at;
                self.send(at, &Event::Flash { ms });
            }
            "digits" => {
                let keys = args.next().ok_or_else(|| bad("digits", "needs keys"))?;
                let digits = keys
                    .chars()
                    .map(|c| Digit::new(c).ok_or_else(|| bad("digits", format!("'{c}' is no key"))))
                    .collect::<Result<Vec<_>, _>>()?;
                let on = ms(args.next(), "digits", KEY_DEFAULT_MS, DIGIT_MAX_MS)?;
                let off = ms(args.next(), "digits", KEY_DEFAULT_MS, DIGIT_MAX_MS)?;
                let mut at = self.script_start(now);
                for (i, digit) in digits.into_iter().enumerate() {
                    if i > 0 {
                        at += Duration::from_millis(off.into());
                    }
                    // Sent at release, so the held time is known.
                    at += Duration::from_millis(on.into());
                    self.send(at, &Event::Digit { digit, ms: on });
                }
                self.script_free = at;
            }
            "fault" => {
                let (word, text) = rest.split_once(' ').unwrap_or((rest, ""));
                let reason = FaultReason::ALL
                    .iter()
                    .copied()
                    .find(|r| r.word() == word)
                    .ok_or_else(|| bad("fault", format!("unknown reason '{word}'")))?;
                let note = Note::new("fault text", text).map_err(|e| bad("fault", e))?;
                let at = self.script_start(now);
                self.send(at, &Event::Fault { reason, note });
            }
            "restart" => {
                let at = self.script_start(now);
                self.restart(at);
            }
            "raw" => {
                let at = self.script_start(now);
                let mut bytes = rest.as_bytes().to_vec();
                bytes.push(b'\n');
                self.queue.push_back((at, bytes));
            }
            "quit" => return Ok(Script::Quit),
            other => return Err(ScriptError::Unknown(other.to_string())),
        }
        Ok(Script::Go)
    }

    /// The next line due by `now`, `\n` included.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        match self.queue.front() {
            Some((at, _)) if *at <= now => self.queue.pop_front().map(|(_, l)| l),
            _ => None,
        }
    }

    /// When the next line is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.queue.front().map(|(at, _)| *at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::protocol::parse_event;

    fn firmware() -> Firmware {
        Firmware::new("firmware", "sim-1").unwrap()
    }

    fn drain(b: &mut SimBoard, now: Instant) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some(l) = b.poll_transmit(now) {
            out.push(parse_event(&l).unwrap());
        }
        out
    }

    #[test]
    fn power_up_says_ready_and_hook_state() {
        let t0 = Instant::now();
        let mut b = SimBoard::new(firmware(), t0);
        assert_eq!(
            drain(&mut b, t0),
            vec![
                Event::Ready {
                    protocol: PROTOCOL_VERSION,
                    firmware: firmware()
                },
                Event::OnHook
            ]
        );
    }

    #[test]
    fn digits_come_at_release_with_their_duration() {
        let t0 = Instant::now();
        let mut b = SimBoard::new(firmware(), t0);
        drain(&mut b, t0);
        b.handle_script("offhook", t0).unwrap();
        b.handle_script("digits 12# 80 40", t0).unwrap();
        assert_eq!(drain(&mut b, t0), vec![Event::OffHook]);
        assert_eq!(b.poll_timeout(), Some(t0 + Duration::from_millis(80)));
        assert_eq!(drain(&mut b, t0 + Duration::from_millis(79)), vec![]);
        let d = |c| Event::Digit {
            digit: Digit::new(c).unwrap(),
            ms: 80,
        };
        assert_eq!(drain(&mut b, t0 + Duration::from_millis(80)), vec![d('1')]);
        // 80 + 40 + 80 = 200, then 320.
        assert_eq!(
            drain(&mut b, t0 + Duration::from_millis(320)),
            vec![d('2'), d('#')]
        );
        // The next action waits for the last key.
        b.handle_script("onhook", t0).unwrap();
        assert_eq!(b.poll_timeout(), Some(t0 + Duration::from_millis(320)));
    }

    #[test]
    fn commands_change_state_and_bad_ones_get_err() {
        let t0 = Instant::now();
        let mut b = SimBoard::new(firmware(), t0);
        drain(&mut b, t0);
        b.handle_command(b"RING 2000/4000 +4930123\n", t0).unwrap();
        assert!(b.ringing());
        b.handle_script("offhook", t0).unwrap();
        assert!(!b.ringing());
        b.handle_command(b"TONE BUSY", t0).unwrap();
        assert_eq!(b.tone(), Some(Tone::Busy));
        drain(&mut b, t0);
        assert!(b.handle_command(b"RING 5/5", t0).is_err());
        assert!(b.handle_command(b"HELLO", t0).is_err());
        let errs = drain(&mut b, t0);
        assert!(matches!(
            errs[..],
            [
                Event::Error {
                    kind: protocol::BoardErrorKind::Range,
                    ..
                },
                Event::Error {
                    kind: protocol::BoardErrorKind::Unknown,
                    ..
                }
            ]
        ));
        b.handle_command(b"RESET", t0).unwrap();
        assert_eq!(b.tone(), None);
        assert_eq!(drain(&mut b, t0)[1], Event::OffHook);
    }

    #[test]
    fn script_errors_are_specific() {
        let t0 = Instant::now();
        let mut b = SimBoard::new(firmware(), t0);
        assert_eq!(
            b.handle_script("digits 1x", t0).unwrap_err().to_string(),
            "digits: 'x' is no key"
        );
        assert!(b.handle_script("dance", t0).is_err());
        assert!(b.handle_script("flash 0", t0).is_err());
        assert_eq!(b.handle_script("quit", t0), Ok(Script::Quit));
    }
}
