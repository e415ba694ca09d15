//! The line-board protocol's messages (docs/line-protocol.md), both ways:
//! events the board sends and commands the box sends, each parsed from one
//! line and encoded into a fixed buffer. Sans-IO: bytes in, values out.

use core::fmt::{self, Write as _};

/// Characters in a line before its `\n` (docs/line-protocol.md, "Framing").
pub const LINE_MAX: usize = 80;
/// The protocol version this side speaks (sent in `READY` and `VERSION`).
pub const PROTOCOL_VERSION: u16 = 1;

/// A whole encoded line, `\n` included.
pub type Line = heapless::String<{ LINE_MAX + 1 }>;

const FIRMWARE_MAX: usize = 32;
const TEXT_MAX: usize = 60;
const NUMBER_MAX: usize = 20;
const CADENCE_MAX: usize = 8;
/// A short copy of a bad word, for the error message.
type Snippet = heapless::String<16>;

/// What is wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("line longer than {LINE_MAX} characters")]
    TooLong,
    #[error("byte 0x{byte:02x} at column {column} is not printable ASCII")]
    NotAscii { byte: u8, column: usize },
    #[error("empty line")]
    Empty,
    #[error("unknown verb '{0}'")]
    UnknownVerb(Snippet),
    #[error("{verb} needs {field}")]
    Missing {
        verb: &'static str,
        field: &'static str,
    },
    #[error("{verb} has a word too many: '{extra}'")]
    Extra { verb: &'static str, extra: Snippet },
    #[error("{field} '{text}' is not a decimal number")]
    NotANumber { field: &'static str, text: Snippet },
    #[error("{field} {value} is out of range {min}..={max}")]
    OutOfRange {
        field: &'static str,
        value: u32,
        min: u32,
        max: u32,
    },
    #[error("'{0}' is not a key (0-9, *, #, A-D)")]
    BadDigit(Snippet),
    #[error("unknown {what} '{text}'")]
    UnknownWord { what: &'static str, text: Snippet },
    #[error("cadence needs 2 to {CADENCE_MAX} on/off durations, an even count")]
    BadCadence,
    #[error("caller number needs 1 to {NUMBER_MAX} of 0-9, * or #, after an optional +")]
    BadCallerNumber,
    #[error("{field} longer than {max} characters")]
    TextTooLong { field: &'static str, max: usize },
}

fn snippet(s: &str) -> Snippet {
    let mut out = Snippet::new();
    for c in s.chars() {
        if out.push(c).is_err() {
            break;
        }
    }
    out
}

/// A key of the phone's keypad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digit(u8);

impl Digit {
    pub fn new(c: char) -> Option<Digit> {
        matches!(c, '0'..='9' | '*' | '#' | 'A'..='D').then_some(Digit(c as u8))
    }
    pub fn as_char(self) -> char {
        self.0 as char
    }
}

/// Text without line breaks, at most `N` printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text<const N: usize>(heapless::String<N>);

impl<const N: usize> Text<N> {
    pub fn new(field: &'static str, s: &str) -> Result<Self, LineError> {
        if let Some((column, byte)) = s.bytes().enumerate().find(|(_, b)| !printable(*b)) {
            return Err(LineError::NotAscii { byte, column });
        }
        heapless::String::try_from(s)
            .map(Text)
            .map_err(|_| LineError::TextTooLong { field, max: N })
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The board's firmware name: one word.
pub type Firmware = Text<FIRMWARE_MAX>;
/// Free text of `FAULT` and `ERR`.
pub type Note = Text<TEXT_MAX>;

fn firmware(s: &str) -> Result<Firmware, LineError> {
    if s.contains(' ') {
        return Err(LineError::Extra {
            verb: "firmware",
            extra: snippet(s),
        });
    }
    Firmware::new("firmware", s)
}

macro_rules! word_enum {
    ($(#[$m:meta])* $name:ident, $what:literal, { $($variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn word(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
            fn parse(s: &str) -> Result<Self, LineError> {
                match s {
                    $($word => Ok($name::$variant),)+
                    _ => Err(LineError::UnknownWord { what: $what, text: snippet(s) }),
                }
            }
        }
    };
}

word_enum!(
    /// Why the board's line hardware stopped.
    FaultReason, "fault reason", {
        Overcurrent = "overcurrent", Thermal = "thermal", Power = "power",
        Ringer = "ringer", Line = "line", Other = "other",
    }
);
word_enum!(
    /// What the board disliked about a command.
    BoardErrorKind, "error kind", {
        Syntax = "syntax", Unknown = "unknown", Range = "range", Long = "long",
    }
);
word_enum!(
    /// A call-progress tone the board plays.
    Tone, "tone", { Dial = "DIAL", Busy = "BUSY", Ringback = "RINGBACK" }
);

/// Ringing: on/off durations in ms, starting with ringing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cadence(heapless::Vec<u16, CADENCE_MAX>);

impl Cadence {
    pub const MIN_MS: u16 = 20;
    pub const MAX_MS: u16 = 10_000;

    pub fn new(ms: &[u16]) -> Result<Cadence, LineError> {
        if ms.len() < 2 || !ms.len().is_multiple_of(2) {
            return Err(LineError::BadCadence);
        }
        for &v in ms {
            range(
                "cadence step",
                u32::from(v),
                Self::MIN_MS.into(),
                Self::MAX_MS.into(),
            )?;
        }
        heapless::Vec::from_slice(ms)
            .map(Cadence)
            .map_err(|_| LineError::BadCadence)
    }
    pub fn steps(&self) -> &[u16] {
        &self.0
    }
}

/// The caller's number for caller-ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerNumber(heapless::String<NUMBER_MAX>);

impl CallerNumber {
    pub fn new(s: &str) -> Result<CallerNumber, LineError> {
        let body = s.strip_prefix('+').unwrap_or(s);
        let ok = !body.is_empty()
            && body
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#');
        if !ok {
            return Err(LineError::BadCallerNumber);
        }
        heapless::String::try_from(s)
            .map(CallerNumber)
            .map_err(|_| LineError::BadCallerNumber)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Board → box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Ready { protocol: u16, firmware: Firmware },
    OffHook,
    OnHook,
    Flash { ms: u16 },
    Digit { digit: Digit, ms: u16 },
    Fault { reason: FaultReason, note: Note },
    Version { protocol: u16, firmware: Firmware },
    Error { kind: BoardErrorKind, note: Note },
}

/// Box → board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ring {
        cadence: Cadence,
        caller: Option<CallerNumber>,
    },
    RingOff,
    Tone(Tone),
    ToneOff,
    Reset,
    VersionQuery,
}

/// Flash and digit durations (docs/line-protocol.md).
pub const FLASH_MAX_MS: u16 = 2000;
pub const DIGIT_MAX_MS: u16 = 60_000;

fn printable(b: u8) -> bool {
    (0x20..=0x7e).contains(&b)
}

/// The text of one line: terminator stripped, length and characters checked.
pub fn line_text(bytes: &[u8]) -> Result<&str, LineError> {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    if bytes.len() > LINE_MAX {
        return Err(LineError::TooLong);
    }
    if let Some((column, &byte)) = bytes.iter().enumerate().find(|(_, b)| !printable(**b)) {
        return Err(LineError::NotAscii { byte, column });
    }
    if bytes.is_empty() {
        return Err(LineError::Empty);
    }
    // Printable ASCII is UTF-8.
    std::str::from_utf8(bytes).map_err(|_| LineError::NotAscii {
        byte: bytes[0],
        column: 0,
    })
}

fn range(field: &'static str, value: u32, min: u32, max: u32) -> Result<u32, LineError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(LineError::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

fn number(field: &'static str, s: &str, min: u16, max: u16) -> Result<u16, LineError> {
    // Digits only: `str::parse` would also take a leading '+'.
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LineError::NotANumber {
            field,
            text: snippet(s),
        });
    }
    let v: u32 = s.parse().map_err(|_| LineError::NotANumber {
        field,
        text: snippet(s),
    })?;
    // The range ends are u16, so the checked value is one too.
    range(field, v, min.into(), max.into()).map(|v| v as u16)
}

/// The words after the verb, taken one at a time, with errors that name the verb.
struct Args<'a> {
    verb: &'static str,
    rest: Option<&'a str>,
}

impl<'a> Args<'a> {
    fn next(&mut self, field: &'static str) -> Result<&'a str, LineError> {
        match self.optional() {
            Some(word) if !word.is_empty() => Ok(word),
            _ => Err(LineError::Missing {
                verb: self.verb,
                field,
            }),
        }
    }
    fn optional(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        let (word, after) = match rest.split_once(' ') {
            Some((w, a)) => (w, Some(a)),
            None => (rest, None),
        };
        self.rest = after;
        Some(word)
    }
    /// Everything left, spaces included (free text).
    fn remainder(&mut self) -> &'a str {
        self.rest.take().unwrap_or("")
    }
    fn end(self) -> Result<(), LineError> {
        match self.rest {
            None => Ok(()),
            Some(extra) => Err(LineError::Extra {
                verb: self.verb,
                extra: snippet(extra),
            }),
        }
    }
}

fn split(line: &str) -> (&str, Option<&str>) {
    match line.split_once(' ') {
        Some((verb, rest)) => (verb, Some(rest)),
        None => (line, None),
    }
}

/// Reads one line from the board (with or without its `\n`).
pub fn parse_event(bytes: &[u8]) -> Result<Event, LineError> {
    let (verb, rest) = split(line_text(bytes)?);
    let args = |verb| Args { verb, rest };
    let event = match verb {
        "READY" | "VERSION" => {
            let mut a = args(if verb == "READY" { "READY" } else { "VERSION" });
            let protocol = number("protocol", a.next("a protocol version")?, 1, u16::MAX)?;
            let firmware = firmware(a.next("a firmware name")?)?;
            a.end()?;
            if verb == "READY" {
                Event::Ready { protocol, firmware }
            } else {
                Event::Version { protocol, firmware }
            }
        }
        "OFFHOOK" => args("OFFHOOK").end().map(|_| Event::OffHook)?,
        "ONHOOK" => args("ONHOOK").end().map(|_| Event::OnHook)?,
        "FLASH" => {
            let mut a = args("FLASH");
            let ms = number("flash duration", a.next("a duration")?, 1, FLASH_MAX_MS)?;
            a.end()?;
            Event::Flash { ms }
        }
        "DIGIT" => {
            let mut a = args("DIGIT");
            let key = a.next("a key")?;
            let mut chars = key.chars();
            let digit = match (chars.next().and_then(Digit::new), chars.next()) {
                (Some(d), None) => d,
                _ => return Err(LineError::BadDigit(snippet(key))),
            };
            let ms = number("digit duration", a.next("a duration")?, 1, DIGIT_MAX_MS)?;
            a.end()?;
            Event::Digit { digit, ms }
        }
        "FAULT" => {
            let mut a = args("FAULT");
            let reason = FaultReason::parse(a.next("a reason")?)?;
            let note = Note::new("fault text", a.remainder())?;
            Event::Fault { reason, note }
        }
        "ERR" => {
            let mut a = args("ERR");
            let kind = BoardErrorKind::parse(a.next("a kind")?)?;
            let note = Note::new("error text", a.remainder())?;
            Event::Error { kind, note }
        }
        _ => return Err(LineError::UnknownVerb(snippet(verb))),
    };
    Ok(event)
}

/// Reads one line from the box (the board's side: the simulator).
pub fn parse_command(bytes: &[u8]) -> Result<Command, LineError> {
    let (verb, rest) = split(line_text(bytes)?);
    let args = |verb| Args { verb, rest };
    let command = match verb {
        "RING" => {
            let mut a = args("RING");
            let first = a.next("a cadence or OFF")?;
            if first == "OFF" {
                a.end()?;
                return Ok(Command::RingOff);
            }
            let mut steps = heapless::Vec::<u16, CADENCE_MAX>::new();
            for step in first.split('/') {
                let v = number("cadence step", step, Cadence::MIN_MS, Cadence::MAX_MS)?;
                steps.push(v).map_err(|_| LineError::BadCadence)?;
            }
            let cadence = Cadence::new(&steps)?;
            let caller = a.optional().map(CallerNumber::new).transpose()?;
            a.end()?;
            Command::Ring { cadence, caller }
        }
        "TONE" => {
            let mut a = args("TONE");
            let word = a.next("a tone")?;
            let command = if word == "OFF" {
                Command::ToneOff
            } else {
                Command::Tone(Tone::parse(word)?)
            };
            a.end()?;
            command
        }
        "RESET" => args("RESET").end().map(|_| Command::Reset)?,
        "VERSION?" => args("VERSION?").end().map(|_| Command::VersionQuery)?,
        _ => return Err(LineError::UnknownVerb(snippet(verb))),
    };
    Ok(command)
}

fn finish(out: &mut Line, r: fmt::Result) -> Result<(), LineError> {
    r.map_err(|_| LineError::TooLong)?;
    if out.len() > LINE_MAX {
        return Err(LineError::TooLong);
    }
    out.push('\n').map_err(|_| LineError::TooLong)
}

fn with_note(out: &mut Line, head: fmt::Arguments, note: &Note) -> fmt::Result {
    out.write_fmt(head)?;
    if !note.as_str().is_empty() {
        write!(out, " {}", note.as_str())?;
    }
    Ok(())
}

impl Command {
    /// Writes the command as one line, `\n` included, replacing what `out` held.
    pub fn encode(&self, out: &mut Line) -> Result<(), LineError> {
        out.clear();
        let r = match self {
            Command::Ring { cadence, caller } => (|| {
                out.write_str("RING ")?;
                for (i, step) in cadence.steps().iter().enumerate() {
                    if i > 0 {
                        out.write_char('/')?;
                    }
                    write!(out, "{step}")?;
                }
                if let Some(n) = caller {
                    write!(out, " {}", n.as_str())?;
                }
                Ok(())
            })(),
            Command::RingOff => out.write_str("RING OFF"),
            Command::Tone(t) => write!(out, "TONE {}", t.word()),
            Command::ToneOff => out.write_str("TONE OFF"),
            Command::Reset => out.write_str("RESET"),
            Command::VersionQuery => out.write_str("VERSION?"),
        };
        finish(out, r)
    }
}

impl Event {
    /// Writes the event as one line, `\n` included, replacing what `out` held.
    pub fn encode(&self, out: &mut Line) -> Result<(), LineError> {
        out.clear();
        let r = match self {
            Event::Ready { protocol, firmware } => {
                write!(out, "READY {protocol} {}", firmware.as_str())
            }
            Event::Version { protocol, firmware } => {
                write!(out, "VERSION {protocol} {}", firmware.as_str())
            }
            Event::OffHook => out.write_str("OFFHOOK"),
            Event::OnHook => out.write_str("ONHOOK"),
            Event::Flash { ms } => write!(out, "FLASH {ms}"),
            Event::Digit { digit, ms } => write!(out, "DIGIT {} {ms}", digit.as_char()),
            Event::Fault { reason, note } => {
                with_note(out, format_args!("FAULT {}", reason.word()), note)
            }
            Event::Error { kind, note } => {
                with_note(out, format_args!("ERR {}", kind.word()), note)
            }
        };
        finish(out, r)
    }
}

impl LineError {
    /// How the board names this error in `ERR` (docs/line-protocol.md, "Errors").
    pub fn board_kind(&self) -> BoardErrorKind {
        match self {
            LineError::TooLong => BoardErrorKind::Long,
            LineError::UnknownVerb(_) => BoardErrorKind::Unknown,
            LineError::OutOfRange { .. }
            | LineError::BadCadence
            | LineError::BadCallerNumber
            | LineError::BadDigit(_)
            | LineError::UnknownWord { .. } => BoardErrorKind::Range,
            _ => BoardErrorKind::Syntax,
        }
    }
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
