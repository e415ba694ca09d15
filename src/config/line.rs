//! Local lines (`[[line]]`): an analog phone on the box's line board, or a
//! sound device. Only the data and what can be checked without the line
//! layer live here: names, numbers, ranges. The devices and the serial
//! port default from the selected board file and the ring cadence follows
//! the line protocol's rules, so `line::spec` resolves and checks those
//! when the configuration is compiled (`gateway::compile`). See
//! docs/lines.md.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::checks::{check_range, check_unique};
use super::error::ConfigError;
use super::media::DtmfMode;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineConfig {
    /// Unique, 1 to 32 of a-z, 0-9 and '-'; routes name the line by it.
    pub name: String,
    /// The line's own number: what its calls show as the caller, and the
    /// user part a PBX dials to reach it. 1 to 15 digits (ITU-T E.164's
    /// longest number), unique.
    pub extension: String,
    /// ALSA PCM names (as `arecord -D` / `aplay -D` take them); absent:
    /// the selected board's `[audio]`.
    pub capture: Option<String>,
    pub playback: Option<String>,
    /// The line board's serial port and baud rate; absent: the selected
    /// board's `[serial]`.
    pub serial_port: Option<String>,
    pub baud: Option<u32>,
    /// How key presses reach the far end: "auto" sends RFC 4733 events
    /// when the far end's SDP takes telephone-event, tones otherwise.
    #[serde(default, skip_serializing_if = "DtmfMode::is_default")]
    pub dtmf: DtmfMode,
    /// How the phone rings: on/off milliseconds, starting with ringing
    /// (docs/line-protocol.md, `RING`).
    #[serde(
        default = "default_ring_cadence",
        skip_serializing_if = "is_default_ring_cadence"
    )]
    pub ring_cadence: String,
    /// The wait after the last dialled digit before the number is placed
    /// (`#` places it at once).
    #[serde(
        default = "default_digit_timeout_ms",
        skip_serializing_if = "is_default_digit_timeout"
    )]
    pub digit_timeout_ms: u64,
}

pub const DEFAULT_RING_CADENCE: &str = "2000/4000";
pub const DEFAULT_DIGIT_TIMEOUT_MS: u64 = 4000;
/// Longest line name (the name shows in logs, on the page and in
/// `line:NAME` route origins).
pub const LINE_NAME_MAX: usize = 32;
/// Longest extension: E.164 numbers have at most 15 digits.
pub const EXTENSION_MAX: usize = 15;

fn default_ring_cadence() -> String {
    DEFAULT_RING_CADENCE.into()
}

fn is_default_ring_cadence(s: &str) -> bool {
    s == DEFAULT_RING_CADENCE
}

fn default_digit_timeout_ms() -> u64 {
    DEFAULT_DIGIT_TIMEOUT_MS
}

fn is_default_digit_timeout(ms: &u64) -> bool {
    *ms == DEFAULT_DIGIT_TIMEOUT_MS
}

impl LineConfig {
    /// A line with `name` and `extension` and every other field at its
    /// default (devices from the board).
    pub fn new(name: &str, extension: &str) -> LineConfig {
        LineConfig {
            name: name.into(),
            extension: extension.into(),
            capture: None,
            playback: None,
            serial_port: None,
            baud: None,
            dtmf: DtmfMode::Auto,
            ring_cadence: default_ring_cadence(),
            digit_timeout_ms: DEFAULT_DIGIT_TIMEOUT_MS,
        }
    }
}

/// Whether `name` is a line name: 1 to 32 of a-z, 0-9 and '-' (lower case
/// only, as board names, so `line:Desk` and `line:desk` cannot both exist).
pub fn valid_line_name(name: &str) -> bool {
    (1..=LINE_NAME_MAX).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Checks every line's own fields and that names and extensions are
/// unique. Devices, port, baud and cadence are checked by `line::spec`
/// when they are resolved against the board.
pub fn validate_lines(lines: &[LineConfig]) -> Result<(), ConfigError> {
    let mut names = HashSet::new();
    let mut extensions = HashSet::new();
    for (i, l) in lines.iter().enumerate() {
        let field = |k: &str| format!("line[{i}].{k}");
        if !valid_line_name(&l.name) {
            return Err(ConfigError::invalid(
                field("name"),
                format!(
                    "'{}' must be 1-{LINE_NAME_MAX} of lower-case letters a-z, digits and '-'",
                    l.name
                ),
            ));
        }
        check_unique(&mut names, field("name"), &l.name, "line")?;
        let digits = l.extension.bytes().all(|b| b.is_ascii_digit());
        if !digits || !(1..=EXTENSION_MAX).contains(&l.extension.len()) {
            return Err(ConfigError::invalid(
                field("extension"),
                format!(
                    "'{}' must be 1-{EXTENSION_MAX} digits (the number a PBX dials to reach the line)",
                    l.extension
                ),
            ));
        }
        check_unique(&mut extensions, field("extension"), &l.extension, "line")?;
        for (key, value) in [
            ("capture", &l.capture),
            ("playback", &l.playback),
            ("serial_port", &l.serial_port),
        ] {
            if value.as_deref() == Some("") {
                return Err(ConfigError::invalid(
                    field(key),
                    "is empty: leave it out to take the board's, or name the device",
                ));
            }
        }
        check_range(
            field("digit_timeout_ms"),
            l.digit_timeout_ms,
            1000..=20_000,
            " ms",
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, DtmfMode};

    #[test]
    fn a_line_reads_with_its_defaults_and_round_trips() {
        let cfg = Config::from_toml(
            "[[line]]\nname = \"desk\"\nextension = \"201\"\n\
             [[line]]\nname = \"shop-2\"\nextension = \"202\"\ncapture = \"hw:1,0\"\n\
             playback = \"hw:1,0\"\nserial_port = \"/dev/ttyUSB0\"\nbaud = 9600\n\
             dtmf = \"inband\"\nring_cadence = \"400/200/400/2000\"\ndigit_timeout_ms = 3000\n",
        )
        .expect("valid");
        assert_eq!(cfg.lines.len(), 2);
        let desk = &cfg.lines[0];
        assert_eq!(
            (desk.capture.as_deref(), desk.baud, desk.dtmf),
            (None, None, DtmfMode::Auto)
        );
        assert_eq!(desk.ring_cadence, "2000/4000");
        assert_eq!(desk.digit_timeout_ms, 4000);
        let shop = &cfg.lines[1];
        assert_eq!(shop.serial_port.as_deref(), Some("/dev/ttyUSB0"));
        assert_eq!(shop.baud, Some(9600));
        assert_eq!(shop.dtmf, DtmfMode::Inband);
        assert_eq!(Config::from_toml(&cfg.to_toml()).expect("again"), cfg);
        // Defaults are not written out.
        assert!(!cfg.to_toml().contains("2000/4000"), "{}", cfg.to_toml());
    }

    #[test]
    fn no_lines_by_default() {
        assert!(Config::default().lines.is_empty());
        assert!(!Config::default().to_toml().contains("line"));
    }

    #[test]
    fn each_bad_field_is_named() {
        let line = |extra: &str| format!("[[line]]\nname = \"desk\"\nextension = \"201\"\n{extra}");
        let two = |a: &str, b: &str| {
            format!(
                "[[line]]\nname = \"{a}\"\nextension = \"201\"\n\
                 [[line]]\nname = \"{b}\"\nextension = \"202\"\n"
            )
        };
        for (text, field, says) in [
            (
                line("").replace("desk", "Desk"),
                "line[0].name",
                "lower-case",
            ),
            (line("").replace("desk", ""), "line[0].name", "must be 1-32"),
            (
                line("").replace("desk", &"a".repeat(33)),
                "line[0].name",
                "1-32",
            ),
            (line("").replace("desk", "a b"), "line[0].name", "'a b'"),
            (two("a", "a"), "line[1].name", "used by another line"),
            (
                two("a", "b").replace("202", "201"),
                "line[1].extension",
                "used by another line",
            ),
            (
                line("").replace("201", ""),
                "line[0].extension",
                "1-15 digits",
            ),
            (
                line("").replace("201", "+201"),
                "line[0].extension",
                "1-15 digits",
            ),
            (
                line("").replace("201", &"1".repeat(16)),
                "line[0].extension",
                "1-15 digits",
            ),
            (line("capture = \"\""), "line[0].capture", "is empty"),
            (
                line("serial_port = \"\""),
                "line[0].serial_port",
                "is empty",
            ),
            (
                line("digit_timeout_ms = 999"),
                "line[0].digit_timeout_ms",
                "1000..=20000",
            ),
            (
                line("digit_timeout_ms = 20001"),
                "line[0].digit_timeout_ms",
                "1000..=20000",
            ),
            (line("dtmf = \"loud\""), "dtmf", "loud"),
            (line("ringer = 1"), "ringer", "unknown field"),
        ] {
            let e = Config::from_toml(&text).expect_err(&text);
            assert!(e.contains(field) && e.contains(says), "{text}: {e}");
        }
        for ok in ["digit_timeout_ms = 1000", "digit_timeout_ms = 20000"] {
            Config::from_toml(&line(ok)).expect(ok);
        }
    }
}
