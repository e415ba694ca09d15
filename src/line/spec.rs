//! A local line as the gateway runs it: its `[[line]]` with every default
//! filled in from the selected board file, and every value checked with
//! the rules the line's own parts use (the board file's device and port
//! rules, the line protocol's cadence). Made once per configuration by
//! `gateway::compile`; an error names the `line[i].field` at fault.

use std::time::Duration;

use crate::config::{ConfigError, DtmfMode, LineConfig};

use super::board::{check_alsa, check_port, Board, BAUD_RATES};
use super::protocol::Cadence;

/// One line, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSpec {
    pub name: String,
    /// The line's number: the caller of its calls, what a PBX dials.
    pub extension: String,
    /// ALSA PCM names.
    pub capture: String,
    pub playback: String,
    /// The line board's serial port and its baud rate.
    pub serial_port: String,
    pub baud: u32,
    pub dtmf: DtmfMode,
    pub ring_cadence: Cadence,
    /// The wait after the last dialled digit before the number is placed.
    pub digit_timeout: Duration,
}

impl LineSpec {
    /// `cfg` is `line[index]` of a configuration that passed
    /// `Config::validate`; `board` the selected board, if any.
    pub fn resolve(
        index: usize,
        cfg: &LineConfig,
        board: Option<&Board>,
    ) -> Result<LineSpec, ConfigError> {
        let field = |k: &str| format!("line[{index}].{k}");
        // The value set on the line, else the board's, else a clear error.
        let pick = |key: &str, own: &Option<String>, from_board: Option<&str>, example: &str| match (
            own, from_board,
        ) {
            (Some(v), _) => Ok(v.clone()),
            (None, Some(v)) => Ok(v.to_string()),
            (None, None) => Err(ConfigError::invalid(
                field(key),
                format!(
                    "not set and no board selected; set {key} = \"{example}\" or \
                         board = \"NAME\" under [system] (or run with --board NAME)"
                ),
            )),
        };
        let capture = pick(
            "capture",
            &cfg.capture,
            board.map(|b| b.audio.capture.as_str()),
            "plughw:CARD=Device,DEV=0",
        )?;
        let playback = pick(
            "playback",
            &cfg.playback,
            board.map(|b| b.audio.playback.as_str()),
            "plughw:CARD=Device,DEV=0",
        )?;
        let serial_port = pick(
            "serial_port",
            &cfg.serial_port,
            board.map(|b| b.serial.port.as_str()),
            "/dev/ttyUSB0",
        )?;
        let baud = match (cfg.baud, board) {
            (Some(b), _) => b,
            (None, Some(board)) => board.serial.baud,
            (None, None) => {
                return Err(ConfigError::invalid(
                    field("baud"),
                    "not set and no board selected; set baud = 115200 or board = \"NAME\" \
                     under [system] (or run with --board NAME)",
                ))
            }
        };
        check_alsa(&capture).map_err(|why| ConfigError::invalid(field("capture"), why))?;
        check_alsa(&playback).map_err(|why| ConfigError::invalid(field("playback"), why))?;
        check_port(&serial_port).map_err(|why| ConfigError::invalid(field("serial_port"), why))?;
        if !BAUD_RATES.contains(&baud) {
            return Err(ConfigError::invalid(
                field("baud"),
                format!("{baud} is not one of {BAUD_RATES:?}"),
            ));
        }
        let ring_cadence = cadence(&cfg.ring_cadence).ok_or_else(|| {
            ConfigError::invalid(
                field("ring_cadence"),
                format!(
                    "'{}' is not a ring cadence: 2 to 8 on/off durations of {}-{} ms, an \
                         even count, joined by '/' (e.g. \"2000/4000\", \"400/200/400/2000\")",
                    cfg.ring_cadence,
                    Cadence::MIN_MS,
                    Cadence::MAX_MS
                ),
            )
        })?;
        Ok(LineSpec {
            name: cfg.name.clone(),
            extension: cfg.extension.clone(),
            capture,
            playback,
            serial_port,
            baud,
            dtmf: cfg.dtmf,
            ring_cadence,
            digit_timeout: Duration::from_millis(cfg.digit_timeout_ms),
        })
    }
}

/// "2000/4000" as the protocol's `Cadence`, or None.
fn cadence(text: &str) -> Option<Cadence> {
    let mut steps = heapless::Vec::<u16, 8>::new();
    for part in text.split('/') {
        // u16 reads no sign, so "+20" and "-20" are refused as well.
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        steps.push(part.parse().ok()?).ok()?;
    }
    Cadence::new(&steps).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::boards::built_in;

    /// Changes one field of a good line.
    type Spoil = fn(&mut LineConfig);

    fn rpi4() -> Board {
        built_in("rpi4").unwrap().unwrap()
    }

    #[test]
    fn unset_devices_come_from_the_board_and_set_ones_win() {
        let line = LineConfig::new("desk", "201");
        let s = LineSpec::resolve(0, &line, Some(&rpi4())).expect("resolved");
        assert_eq!(
            (s.capture.as_str(), s.playback.as_str()),
            ("plughw:CARD=Device,DEV=0", "plughw:CARD=Device,DEV=0")
        );
        assert_eq!((s.serial_port.as_str(), s.baud), ("/dev/serial0", 115_200));
        assert_eq!(s.ring_cadence.steps(), &[2000, 4000]);
        assert_eq!(s.digit_timeout, Duration::from_secs(4));
        assert_eq!(s.dtmf, DtmfMode::Auto);
        let own = LineConfig {
            capture: Some("hw:1,0".into()),
            playback: Some("hw:2,0".into()),
            serial_port: Some("/dev/ttyUSB0".into()),
            baud: Some(9600),
            ring_cadence: "400/200/400/2000".into(),
            digit_timeout_ms: 2500,
            dtmf: DtmfMode::Inband,
            ..line.clone()
        };
        for board in [None, Some(rpi4())] {
            let s = LineSpec::resolve(3, &own, board.as_ref()).expect("resolved");
            assert_eq!(
                (
                    s.capture.as_str(),
                    s.playback.as_str(),
                    s.serial_port.as_str(),
                    s.baud
                ),
                ("hw:1,0", "hw:2,0", "/dev/ttyUSB0", 9600)
            );
            assert_eq!(s.ring_cadence.steps(), &[400, 200, 400, 2000]);
            assert_eq!(s.digit_timeout, Duration::from_millis(2500));
            assert_eq!(s.dtmf, DtmfMode::Inband);
        }
    }

    #[test]
    fn without_a_board_each_unset_device_is_named() {
        let full = LineConfig {
            capture: Some("hw:1,0".into()),
            playback: Some("hw:1,0".into()),
            serial_port: Some("/dev/ttyUSB0".into()),
            baud: Some(9600),
            ..LineConfig::new("desk", "201")
        };
        LineSpec::resolve(0, &full, None).expect("all set");
        let cases: [(Spoil, &str); 4] = [
            (|l| l.capture = None, "line[1].capture: not set and no board selected; set capture = \"plughw:CARD=Device,DEV=0\" or board = \"NAME\""),
            (|l| l.playback = None, "line[1].playback: not set and no board selected"),
            (|l| l.serial_port = None, "line[1].serial_port: not set and no board selected; set serial_port = \"/dev/ttyUSB0\""),
            (|l| l.baud = None, "line[1].baud: not set and no board selected"),
        ];
        for (unset, says) in cases {
            let mut l = full.clone();
            unset(&mut l);
            let e = LineSpec::resolve(1, &l, None).unwrap_err().to_string();
            assert!(e.starts_with(says), "{e}");
        }
    }

    #[test]
    fn bad_values_are_refused_naming_the_field() {
        let board = rpi4();
        let cases: [(Spoil, &str); 13] = [
            (|l| l.capture = Some("hw 1".into()), "line[0].capture"),
            (|l| l.playback = Some("x".repeat(65)), "line[0].playback"),
            (
                |l| l.serial_port = Some("ttyUSB0".into()),
                "line[0].serial_port",
            ),
            (
                |l| l.serial_port = Some("/dev/../etc/passwd".into()),
                "line[0].serial_port",
            ),
            (
                |l| l.baud = Some(115_201),
                "line[0].baud: 115201 is not one of",
            ),
            (
                |l| l.ring_cadence = "2000".into(),
                "line[0].ring_cadence: '2000' is not",
            ),
            (
                |l| l.ring_cadence = "2000/4000/1000".into(),
                "line[0].ring_cadence",
            ),
            (
                |l| l.ring_cadence = "19/4000".into(),
                "line[0].ring_cadence",
            ),
            (
                |l| l.ring_cadence = "2000/10001".into(),
                "line[0].ring_cadence",
            ),
            (
                |l| l.ring_cadence = "2000/+4000".into(),
                "line[0].ring_cadence",
            ),
            (
                |l| l.ring_cadence = "2000//4000".into(),
                "line[0].ring_cadence",
            ),
            (
                |l| l.ring_cadence = "1/2/3/4/5/6/7/8/9/10".into(),
                "line[0].ring_cadence",
            ),
            (
                |l| l.ring_cadence = "99999999/1".into(),
                "line[0].ring_cadence",
            ),
        ];
        for (spoil, says) in cases {
            let mut l = LineConfig::new("desk", "201");
            spoil(&mut l);
            let e = LineSpec::resolve(0, &l, Some(&board))
                .expect_err(says)
                .to_string();
            assert!(e.starts_with(says), "{e}");
        }
        let mut l = LineConfig::new("desk", "201");
        l.ring_cadence = "20/10000/400/200/400/200/400/200".into();
        LineSpec::resolve(0, &l, Some(&board)).expect("eight steps at the bounds");
    }
}
