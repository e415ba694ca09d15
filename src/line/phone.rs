//! One local line as the user at the handset sees it, sans-IO: hook state,
//! ringing, dial tone and digit collection, call-progress tones. It takes
//! the board's events and the call's progress and answers with commands for
//! the board and intents for the call layer (answer, hang up, dial, key). It
//! knows no SIP: `app::lines` turns its intents into a user agent's
//! requests and responses.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::protocol::{Cadence, CallerNumber, Command, Event, Tone};

/// Dial tone with no key pressed ends in busy tone after this long (the
/// handset was left off the hook).
pub const FIRST_DIGIT_TIMEOUT: Duration = Duration::from_secs(15);
/// Digits a number may have; a longer one is placed as it stands.
pub const NUMBER_MAX: usize = 32;

#[derive(Clone, Debug)]
pub struct PhoneSettings {
    pub cadence: Cadence,
    /// The wait after a digit before the number is placed (`#` places it
    /// at once).
    pub digit_timeout: Duration,
    /// Emergency numbers, digits only: placed the moment they are dialled.
    pub emergency: Vec<String>,
}

/// What the line asks of the call layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhoneIntent {
    /// The handset was lifted while it rang.
    Answer,
    /// The handset was put down, or the line went out of service, during a
    /// call or an attempt (incoming or outgoing).
    HangUp,
    /// A number was dialled.
    Dial { number: String, emergency: bool },
    /// A key pressed during a call, reported at release with its length.
    Key { digit: char, held: Duration },
}

/// Why the line cannot take a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// Out of service: no board, a fault, or no audio device.
    Down,
    /// In use, or off the hook.
    Busy,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhoneState {
    Idle,
    /// An incoming call rings the line.
    Ringing,
    /// Off the hook: dial tone until the first digit, then digits.
    Dialling {
        digits: String,
        deadline: Instant,
    },
    /// We placed a call and wait for its answer.
    Calling,
    /// In a call.
    Talking,
    /// The call is over but the handset is still up: busy tone.
    Finished,
}

#[derive(Debug)]
pub struct Phone {
    settings: PhoneSettings,
    state: PhoneState,
    off_hook: bool,
    /// The serial link is open and the board said READY.
    board_ready: bool,
    /// The board reported a fault; cleared by its next READY.
    fault: Option<String>,
    /// The audio devices opened (false until the audio side says so).
    audio_ok: bool,
    /// The tone the board plays now, as we asked for it.
    tone: Option<Tone>,
    /// The caller-ID of the ringing call, re-sent after a board restart.
    ringing_for: Option<CallerNumber>,
    commands: VecDeque<Command>,
    intents: VecDeque<PhoneIntent>,
}

impl Phone {
    pub fn new(settings: PhoneSettings) -> Phone {
        Phone {
            settings,
            state: PhoneState::Idle,
            off_hook: false,
            board_ready: false,
            fault: None,
            audio_ok: false,
            tone: None,
            ringing_for: None,
            commands: VecDeque::new(),
            intents: VecDeque::new(),
        }
    }

    pub fn state(&self) -> &PhoneState {
        &self.state
    }

    pub fn off_hook(&self) -> bool {
        self.off_hook
    }

    /// In service: board up, no fault, audio devices working.
    pub fn in_service(&self) -> bool {
        self.board_ready && self.fault.is_none() && self.audio_ok
    }

    /// Why the line is out of service, for the status page; None when in
    /// service.
    pub fn down_reason(&self) -> Option<String> {
        if !self.board_ready {
            Some("line board not connected".into())
        } else if let Some(f) = &self.fault {
            Some(format!("line board fault: {f}"))
        } else if !self.audio_ok {
            Some("audio device not available".into())
        } else {
            None
        }
    }

    /// Out of service only for want of audio devices.
    pub fn down_reason_is_audio(&self) -> bool {
        self.board_ready && self.fault.is_none() && !self.audio_ok
    }

    /// The serial link closed (or a new one opened: the board's READY
    /// follows).
    pub fn link_down(&mut self) {
        self.board_ready = false;
        self.tone = None;
        self.out_of_service();
    }

    pub fn audio(&mut self, ok: bool) {
        self.audio_ok = ok;
        if !ok {
            self.out_of_service();
        }
    }

    pub fn board_event(&mut self, event: &Event, now: Instant) {
        match event {
            Event::Ready { .. } => {
                // The board starts silent: what we want it to do is sent
                // again once its hook state (which follows) is known.
                self.board_ready = true;
                self.fault = None;
                self.tone = None;
                self.resend_wanted();
            }
            Event::OffHook => self.lifted(now),
            Event::OnHook => self.put_down(),
            Event::Digit { digit, ms } => {
                self.key(digit.as_char(), Duration::from_millis(u64::from(*ms)), now)
            }
            Event::Fault { reason, note } => {
                let text = if note.as_str().is_empty() {
                    reason.word().to_string()
                } else {
                    format!("{} ({})", reason.word(), note.as_str())
                };
                self.fault = Some(text);
                self.out_of_service();
            }
            Event::Flash { .. } | Event::Version { .. } | Event::Error { .. } => {}
        }
    }

    /// An incoming call for the line: ring it with the caller's number.
    pub fn ring(&mut self, caller: Option<&str>) -> Result<(), Unavailable> {
        if !self.in_service() {
            return Err(Unavailable::Down);
        }
        if self.state != PhoneState::Idle || self.off_hook {
            return Err(Unavailable::Busy);
        }
        // A number the board cannot show (a name, a SIP user part) rings
        // without caller-ID rather than not at all.
        self.ringing_for = caller.and_then(|c| CallerNumber::new(c).ok());
        self.state = PhoneState::Ringing;
        self.send_ring();
        Ok(())
    }

    /// The caller gave up before the line was answered.
    pub fn ring_cancelled(&mut self) {
        if self.state == PhoneState::Ringing {
            self.commands.push_back(Command::RingOff);
            self.ringing_for = None;
            self.state = PhoneState::Idle;
        }
    }

    /// Our call rings at the far end without early media.
    pub fn far_ringing(&mut self) {
        if self.state == PhoneState::Calling {
            self.set_tone(Some(Tone::Ringback));
        }
    }

    /// The far end sends audio before answering (its own ringback or an
    /// announcement): our tone would cover it.
    pub fn far_early_media(&mut self) {
        if self.state == PhoneState::Calling {
            self.set_tone(None);
        }
    }

    pub fn far_answered(&mut self) {
        if self.state == PhoneState::Calling {
            self.set_tone(None);
            self.state = PhoneState::Talking;
        }
    }

    /// The call ended from the far side (hung up, refused, unreachable).
    pub fn far_ended(&mut self) {
        match self.state {
            PhoneState::Ringing => self.ring_cancelled(),
            PhoneState::Calling | PhoneState::Talking => {
                self.finished();
            }
            _ => {}
        }
    }

    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    pub fn poll_intent(&mut self) -> Option<PhoneIntent> {
        self.intents.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            PhoneState::Dialling { deadline, .. } => Some(*deadline),
            _ => None,
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let PhoneState::Dialling { digits, deadline } = &self.state else {
            return;
        };
        if now < *deadline {
            return;
        }
        if digits.is_empty() {
            // Left off the hook: busy tone, as an exchange does.
            self.finished();
        } else {
            let number = digits.clone();
            self.place(number, false);
        }
    }

    fn lifted(&mut self, now: Instant) {
        let was = self.off_hook;
        self.off_hook = true;
        match self.state {
            PhoneState::Idle if self.in_service() && !was => {
                self.set_tone(Some(Tone::Dial));
                self.state = PhoneState::Dialling {
                    digits: String::new(),
                    deadline: now + FIRST_DIGIT_TIMEOUT,
                };
            }
            PhoneState::Ringing => {
                self.commands.push_back(Command::RingOff);
                self.ringing_for = None;
                self.state = PhoneState::Talking;
                self.intents.push_back(PhoneIntent::Answer);
            }
            _ => {}
        }
    }

    fn put_down(&mut self) {
        self.off_hook = false;
        match self.state {
            PhoneState::Dialling { .. } | PhoneState::Finished => {
                self.set_tone(None);
                self.state = PhoneState::Idle;
            }
            PhoneState::Calling | PhoneState::Talking => {
                self.set_tone(None);
                self.state = PhoneState::Idle;
                self.intents.push_back(PhoneIntent::HangUp);
            }
            PhoneState::Idle | PhoneState::Ringing => {}
        }
    }

    fn key(&mut self, digit: char, held: Duration, now: Instant) {
        match &mut self.state {
            PhoneState::Dialling { digits, deadline } => {
                if digits.is_empty() {
                    self.tone = None;
                    self.commands.push_back(Command::ToneOff);
                }
                if digit == '#' && !digits.is_empty() {
                    let number = std::mem::take(digits);
                    self.place(number, false);
                    return;
                }
                digits.push(digit);
                *deadline = now + self.settings.digit_timeout;
                let number = digits.clone();
                if self.settings.emergency.contains(&number) {
                    self.place(number, true);
                } else if number.len() >= NUMBER_MAX {
                    self.place(number, false);
                }
            }
            PhoneState::Calling | PhoneState::Talking => {
                self.intents.push_back(PhoneIntent::Key { digit, held });
            }
            _ => {}
        }
    }

    fn place(&mut self, number: String, emergency: bool) {
        self.state = PhoneState::Calling;
        self.intents
            .push_back(PhoneIntent::Dial { number, emergency });
    }

    fn finished(&mut self) {
        if self.off_hook {
            self.set_tone(Some(Tone::Busy));
            self.state = PhoneState::Finished;
        } else {
            self.set_tone(None);
            self.state = PhoneState::Idle;
        }
    }

    /// The line cannot carry a call any more: a call in progress ends.
    fn out_of_service(&mut self) {
        match self.state {
            PhoneState::Ringing | PhoneState::Calling | PhoneState::Talking => {
                self.intents.push_back(PhoneIntent::HangUp);
            }
            _ => {}
        }
        self.ringing_for = None;
        self.state = PhoneState::Idle;
        if self.board_ready {
            self.set_tone(None);
        }
    }

    fn set_tone(&mut self, tone: Option<Tone>) {
        if self.tone == tone {
            return;
        }
        self.tone = tone;
        self.commands.push_back(match tone {
            Some(t) => Command::Tone(t),
            None => Command::ToneOff,
        });
    }

    fn send_ring(&mut self) {
        self.commands.push_back(Command::Ring {
            cadence: self.settings.cadence.clone(),
            caller: self.ringing_for.clone(),
        });
    }

    /// After the board (re)started: ringing and tones as the call wants.
    fn resend_wanted(&mut self) {
        match self.state {
            PhoneState::Ringing => self.send_ring(),
            PhoneState::Finished => self.set_tone(Some(Tone::Busy)),
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "phone_tests.rs"]
mod tests;
