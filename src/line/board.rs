//! Board files (`board/NAME.toml`): what one kind of box has — its ALSA
//! devices, the serial port of its line board, LEDs, network interfaces and
//! the image's target triple. Read and checked here; lines take their
//! defaults from it and the image build its target.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One board file, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Board {
    pub name: String,
    pub description: String,
    /// Rust target triple of the image's binary.
    pub target: String,
    pub audio: Audio,
    pub serial: Serial,
    pub network: Network,
    /// LED role → GPIO line. Empty when the board has none we drive.
    pub leds: BTreeMap<String, Gpio>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audio {
    /// ALSA PCM names, as `aplay -D` takes them.
    pub capture: String,
    pub playback: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Serial {
    pub port: String,
    pub baud: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub wan: String,
    pub lan: String,
}

/// A GPIO line: the chip's device name and the line's offset on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gpio {
    pub chip: String,
    pub line: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBoard {
    name: String,
    #[serde(default)]
    description: String,
    target: String,
    audio: Audio,
    serial: Serial,
    network: Network,
    #[serde(default)]
    leds: BTreeMap<String, String>,
}

/// What is wrong with a board file.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    #[error("board name '{0}' must be 1 to 32 of a-z, 0-9 and '-'")]
    BadName(String),
    #[error("cannot read board file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("board file {path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("board file {path}: {field}: {why}")]
    Field {
        path: PathBuf,
        field: String,
        why: String,
    },
}

/// termios rates a line board may use.
pub(crate) const BAUD_RATES: &[u32] = &[
    1200, 2400, 4800, 9600, 19200, 38400, 57600, 115_200, 230_400, 460_800, 921_600,
];

fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn check_target(t: &str) -> Result<(), String> {
    let parts: Vec<&str> = t.split('-').collect();
    let well_formed = (3..=4).contains(&parts.len())
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
    if !well_formed {
        return Err(format!(
            "'{t}' is not a target triple (arch-vendor-os[-env])"
        ));
    }
    if parts[2] != "linux" {
        return Err(format!("'{t}' is not a Linux target: the box runs Linux"));
    }
    Ok(())
}

pub(crate) fn check_alsa(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "'{name}' is not an ALSA PCM name (1 to 64 printable characters, no spaces)"
        ));
    }
    Ok(())
}

pub(crate) fn check_port(port: &str) -> Result<(), String> {
    // Usually under /dev/ (ttyS0, serial/by-id/...), but a link elsewhere
    // is a terminal too: a udev rule's or socat's under /run, a simulator's
    // pseudo-terminal.
    let ok = port.starts_with('/')
        && port.len() > 1
        && port.bytes().all(|b| b.is_ascii_graphic())
        && !port.split('/').any(|p| p == "..");
    if !ok {
        return Err(format!(
            "'{port}' is not an absolute path of a serial device (e.g. /dev/ttyUSB0)"
        ));
    }
    Ok(())
}

fn check_interface(name: &str) -> Result<(), String> {
    // Linux: IFNAMSIZ is 16 with the NUL; '/' and whitespace are refused
    // by the kernel (dev_valid_name), as are "." and "..".
    let ok = (1..=15).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b':');
    if !ok {
        return Err(format!(
            "'{name}' is not a network interface name (1 to 15 characters, no '/', ':' or spaces)"
        ));
    }
    Ok(())
}

fn parse_gpio(s: &str) -> Result<Gpio, String> {
    let bad = || format!("'{s}' is not CHIP:LINE (e.g. gpiochip0:17)");
    let (chip, line) = s.split_once(':').ok_or_else(bad)?;
    let chip_ok = chip
        .strip_prefix("gpiochip")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let line: u32 = line.parse().map_err(|_| bad())?;
    if !chip_ok || line > 1023 {
        return Err(bad());
    }
    Ok(Gpio {
        chip: chip.to_string(),
        line,
    })
}

impl Board {
    /// Reads `text` as the board file `path`, whose stem must be the name.
    pub fn parse(path: &Path, text: &str) -> Result<Board, BoardError> {
        let raw: RawBoard = toml::from_str(text).map_err(|e| BoardError::Syntax {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })?;
        let field = |field: &str, r: Result<(), String>| {
            r.map_err(|why| BoardError::Field {
                path: path.to_path_buf(),
                field: field.to_string(),
                why,
            })
        };
        field(
            "name",
            if !valid_name(&raw.name) {
                Err(format!(
                    "'{}' must be 1 to 32 of a-z, 0-9 and '-'",
                    raw.name
                ))
            } else if path.file_stem().and_then(|s| s.to_str()) != Some(raw.name.as_str()) {
                Err(format!("'{}' differs from the file's name", raw.name))
            } else {
                Ok(())
            },
        )?;
        field("target", check_target(&raw.target))?;
        field("audio.capture", check_alsa(&raw.audio.capture))?;
        field("audio.playback", check_alsa(&raw.audio.playback))?;
        field("serial.port", check_port(&raw.serial.port))?;
        field(
            "serial.baud",
            if BAUD_RATES.contains(&raw.serial.baud) {
                Ok(())
            } else {
                Err(format!("{} is not one of {BAUD_RATES:?}", raw.serial.baud))
            },
        )?;
        field("network.wan", check_interface(&raw.network.wan))?;
        field("network.lan", check_interface(&raw.network.lan))?;
        field(
            "network",
            if raw.network.wan == raw.network.lan {
                Err("wan and lan are the same interface".to_string())
            } else {
                Ok(())
            },
        )?;
        let mut leds = BTreeMap::new();
        for (role, spec) in &raw.leds {
            let name = format!("leds.{role}");
            field(
                &name,
                if valid_name(role) {
                    Ok(())
                } else {
                    Err("an LED role is 1 to 32 of a-z, 0-9 and '-'".to_string())
                },
            )?;
            let gpio = parse_gpio(spec).map_err(|why| BoardError::Field {
                path: path.to_path_buf(),
                field: name.clone(),
                why,
            })?;
            if let Some((other, _)) = leds.iter().find(|(_, g)| **g == gpio) {
                field(&name, Err(format!("same GPIO line as leds.{other}")))?;
            }
            leds.insert(role.clone(), gpio);
        }
        Ok(Board {
            name: raw.name,
            description: raw.description,
            target: raw.target,
            audio: raw.audio,
            serial: raw.serial,
            network: raw.network,
            leds,
        })
    }

    /// Reads `DIR/NAME.toml`.
    pub fn load(dir: &Path, name: &str) -> Result<Board, BoardError> {
        if !valid_name(name) {
            return Err(BoardError::BadName(name.to_string()));
        }
        let path = dir.join(format!("{name}.toml"));
        let text = std::fs::read_to_string(&path).map_err(|source| BoardError::Read {
            path: path.clone(),
            source,
        })?;
        Board::parse(&path, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "test-box"
target = "aarch64-unknown-linux-gnu"
[audio]
capture = "plughw:CARD=Device,DEV=0"
playback = "plughw:CARD=Device,DEV=0"
[serial]
port = "/dev/serial0"
baud = 115200
[network]
wan = "eth0"
lan = "eth1"
[leds]
status = "gpiochip0:17"
"#;

    fn parse(text: &str) -> Result<Board, BoardError> {
        Board::parse(Path::new("board/test-box.toml"), text)
    }

    /// Every board file the project ships reads and checks.
    #[test]
    fn every_board_file_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("board");
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
                let board = Board::load(&dir, &stem).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(board.name, stem);
                names.push(stem);
            }
        }
        names.sort();
        assert_eq!(names, ["rpi4", "rpi5", "x86-gateway"]);
    }

    #[test]
    fn a_good_file_reads() {
        let b = parse(GOOD).unwrap();
        assert_eq!(b.serial.baud, 115_200);
        assert_eq!(
            b.leds["status"],
            Gpio {
                chip: "gpiochip0".into(),
                line: 17
            }
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            ("name = \"test-box\"", "name = \"other\"", "name"),
            (
                "aarch64-unknown-linux-gnu",
                "aarch64-apple-darwin",
                "target",
            ),
            ("aarch64-unknown-linux-gnu", "arm64", "target"),
            ("/dev/serial0", "serial0", "serial.port"),
            ("115200", "115201", "serial.baud"),
            ("lan = \"eth1\"", "lan = \"eth0\"", "network"),
            (
                "wan = \"eth0\"",
                "wan = \"a-very-long-name0\"",
                "network.wan",
            ),
            ("gpiochip0:17", "gpio17", "leds.status"),
            (
                "capture = \"plughw:CARD=Device,DEV=0\"",
                "capture = \"\"",
                "audio.capture",
            ),
        ];
        for (from, to, field) in cases {
            let text = GOOD.replacen(from, to, 1);
            match parse(&text) {
                Err(BoardError::Field { field: f, .. }) => assert_eq!(f, field, "{to}"),
                other => panic!("{to}: {other:?}"),
            }
        }
        assert!(matches!(
            parse(&format!("{GOOD}\nextra = 1\n")),
            Err(BoardError::Syntax { .. })
        ));
        assert!(matches!(
            Board::load(Path::new("board"), "../etc/passwd"),
            Err(BoardError::BadName(_))
        ));
    }
}
