//! The `Updater` of the appliance: RAUC, through its command-line tool.
//! `rauc info` checks a bundle's signature here, in this process (it needs
//! only the keyring); `rauc install`, `rauc status` and marking slots go
//! to RAUC's D-Bus service, which the image's D-Bus policy lets the
//! `pbxgate` user call (docs/updates.md). The tool rather than a D-Bus
//! crate: four calls, each a short-lived program whose words are already
//! the ones a person should read, and no second async runtime.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::app::{BundleInfo, SlotInfo, Slots, UpdateError, Updater};

/// Where RAUC's system configuration is on the image.
pub const SYSTEM_CONF: &str = "/etc/rauc/system.conf";
/// What image/build.sh wrote about the system in this slot (board,
/// `PBXGATE_VERSION`, source, build time).
pub const IMAGE_FILE: &str = "/etc/pbxgate-image";

#[derive(Clone, Debug)]
pub struct Rauc {
    /// The `rauc` program.
    pub program: PathBuf,
    /// RAUC's system configuration: the box's `compatible`, the keyring,
    /// the grubenv file.
    pub system_conf: PathBuf,
    /// A keyring other than the system configuration's (tests).
    pub keyring: Option<PathBuf>,
    /// How to reboot: `systemctl reboot` (through logind).
    pub reboot: Vec<String>,
}

impl Default for Rauc {
    fn default() -> Self {
        Rauc {
            program: "rauc".into(),
            system_conf: SYSTEM_CONF.into(),
            keyring: None,
            reboot: vec!["systemctl".into(), "reboot".into()],
        }
    }
}

impl Rauc {
    /// `[system] NAME=` of the system configuration.
    fn system_value(&self, name: &str) -> Result<String, UpdateError> {
        let text = std::fs::read_to_string(&self.system_conf).map_err(|e| {
            UpdateError::NotAvailable(format!("{}: {e}", self.system_conf.display()))
        })?;
        ini_value(&text, "system", name).ok_or_else(|| {
            UpdateError::NotAvailable(format!(
                "{} has no [system] {name}",
                self.system_conf.display()
            ))
        })
    }

    fn run(&self, args: &[&str]) -> Result<Output, UpdateError> {
        Command::new(&self.program)
            .args(args)
            .env("LC_ALL", "C")
            .output()
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => UpdateError::NotAvailable(format!(
                    "{} is not installed",
                    self.program.display()
                )),
                _ => UpdateError::Failed(format!("cannot run {}: {e}", self.program.display())),
            })
    }

    /// Runs a call that goes to RAUC's service; its failure in words.
    fn service(&self, args: &[&str]) -> Result<Output, UpdateError> {
        let out = self.run(args)?;
        if out.status.success() {
            return Ok(out);
        }
        Err(service_error(&words(&out)))
    }
}

impl Updater for Rauc {
    fn check(&self, bundle: &Path) -> Result<BundleInfo, UpdateError> {
        // The box's compatible first: without a system configuration
        // there is nothing to install into, whatever the bundle.
        let system = self.system_value("compatible")?;
        let mut args = vec!["info".to_string(), "--output-format=json".into()];
        match &self.keyring {
            Some(k) => args.push(format!("--keyring={}", k.display())),
            None => args.push(format!("--conf={}", self.system_conf.display())),
        }
        args.push(bundle.display().to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.run(&args)?;
        if !out.status.success() {
            return Err(info_error(&words(&out)));
        }
        let info = parse_info(&out.stdout)?;
        if info.compatible != system {
            return Err(UpdateError::WrongBoard {
                bundle: info.compatible,
                system,
            });
        }
        Ok(info)
    }

    fn install(&self, bundle: &Path) -> Result<(), UpdateError> {
        self.service(&["install", &bundle.display().to_string()])
            .map(|_| ())
    }

    fn slots(&self) -> Result<Slots, UpdateError> {
        let out = self.service(&["status", "--output-format=json", "--detailed"])?;
        let mut slots = parse_status(&out.stdout)?;
        if let Ok(text) = std::fs::read_to_string(IMAGE_FILE) {
            running_version(&mut slots, &text);
        }
        Ok(slots)
    }

    fn mark_booted(&self, good: bool) -> Result<(), UpdateError> {
        let how = if good { "mark-good" } else { "mark-bad" };
        self.service(&["status", how, "booted"]).map(|_| ())
    }

    fn mark_other_bad(&self) -> Result<(), UpdateError> {
        self.service(&["status", "mark-bad", "other"]).map(|_| ())
    }

    fn set_boot_attempts(&self, attempts: u8) -> Result<(), UpdateError> {
        // RAUC's GRUB scheme has no count of its own; the image's grub.cfg
        // reads MAX_TRIES from the same grubenv.
        let grubenv = self.system_value("grubenv")?;
        let out = Command::new("grub-editenv")
            .args([grubenv.as_str(), "set", &format!("MAX_TRIES={attempts}")])
            .output()
            .map_err(|e| UpdateError::Failed(format!("cannot run grub-editenv: {e}")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(UpdateError::Failed(format!(
                "grub-editenv {grubenv}: {}",
                words(&out)
            )))
        }
    }

    fn reboot(&self) -> Result<(), UpdateError> {
        // Only the appliance: a checkout run as root must not reboot its
        // developer's machine.
        self.system_value("compatible")?;
        let Some((program, args)) = self.reboot.split_first() else {
            return Err(UpdateError::Failed("no reboot command".into()));
        };
        let out = Command::new(program)
            .args(args)
            .output()
            .map_err(|e| UpdateError::Failed(format!("cannot run {program}: {e}")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(UpdateError::Failed(format!(
                "{} failed: {}",
                self.reboot.join(" "),
                words(&out)
            )))
        }
    }
}

/// What a RAUC call said on failure: its error lines, without the
/// progress messages it prints on the way (`rauc-Message: ...`).
fn words(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("rauc-Message:"))
        .collect();
    if lines.is_empty() {
        format!("exit status {}", out.status)
    } else {
        lines.join("; ")
    }
}

/// `rauc info`'s failure, by its words (RAUC 1.8, src/bundle.c).
fn info_error(words: &str) -> UpdateError {
    if let Some(rest) = words.split("signature verification failed: ").nth(1) {
        return UpdateError::NotTrusted(rest.to_string());
    }
    if words.contains("No keyring") || words.contains("failed to load CA file") {
        return UpdateError::NotAvailable(format!("the keyring cannot be read: {words}"));
    }
    if words.contains("Invalid bundle format")
        || words.contains("Failed to check bundle identifier")
        || words.contains("Failed to seek")
        || words.contains("Signature size")
        || words.contains("Failed to load manifest")
    {
        return UpdateError::NotABundle(words.to_string());
    }
    if words.contains("Verify error") || words.contains("signature") {
        return UpdateError::NotTrusted(words.to_string());
    }
    UpdateError::Failed(format!("rauc info: {words}"))
}

/// A failed call to RAUC's service: no service is "not available"; a
/// refusal keeps RAUC's words.
fn service_error(words: &str) -> UpdateError {
    if words.contains("D-Bus") || words.contains("error creating proxy") {
        return UpdateError::NotAvailable(words.to_string());
    }
    if words.contains("Compatible mismatch") {
        return UpdateError::Failed(words.to_string());
    }
    if words.contains("signature verification failed") {
        return info_error(words);
    }
    if words.contains("Already processing") {
        return UpdateError::Busy;
    }
    UpdateError::Failed(words.to_string())
}

fn parse_info(json: &[u8]) -> Result<BundleInfo, UpdateError> {
    let v: Value = serde_json::from_slice(json)
        .map_err(|e| UpdateError::Failed(format!("rauc info answered no JSON: {e}")))?;
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let compatible = text("compatible")
        .ok_or_else(|| UpdateError::NotABundle("its manifest has no compatible".into()))?;
    Ok(BundleInfo {
        compatible,
        version: text("version").unwrap_or_default(),
        description: text("description"),
    })
}

/// `rauc status --output-format=json --detailed`: root slots only (their
/// class is "rootfs"); the booted one is the one whose state is "booted".
pub fn parse_status(json: &[u8]) -> Result<Slots, UpdateError> {
    let v: Value = serde_json::from_slice(json)
        .map_err(|e| UpdateError::Failed(format!("rauc status answered no JSON: {e}")))?;
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let mut slots = Vec::new();
    for entry in v
        .get("slots")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(map) = entry.as_object() else {
            continue;
        };
        for (name, s) in map {
            if text(s, "class").as_deref() != Some("rootfs") {
                continue;
            }
            let status = s.get("slot_status").unwrap_or(&Value::Null);
            let bundle = status.get("bundle").unwrap_or(&Value::Null);
            let installed = status.get("installed").unwrap_or(&Value::Null);
            slots.push(SlotInfo {
                name: name.clone(),
                bootname: text(s, "bootname"),
                booted: text(s, "state").as_deref() == Some("booted"),
                good: match text(s, "boot_status").as_deref() {
                    Some("good") => Some(true),
                    Some("bad") => Some(false),
                    _ => None,
                },
                version: text(bundle, "version"),
                installed: text(installed, "timestamp"),
            });
        }
    }
    slots.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Slots {
        compatible: text(&v, "compatible").unwrap_or_default(),
        primary: text(&v, "boot_primary"),
        slots,
    })
}

/// RAUC knows the version of what it installed; the slot the box was
/// flashed with has none in its records. When that slot is the booted one,
/// its version is the running system's, from `/etc/pbxgate-image`
/// (`PBXGATE_VERSION=`).
fn running_version(slots: &mut Slots, image_file: &str) {
    let version = image_file
        .lines()
        .find_map(|l| l.trim().strip_prefix("PBXGATE_VERSION="))
        .map(str::trim)
        .filter(|v| !v.is_empty());
    if let (Some(v), Some(s)) = (version, slots.slots.iter_mut().find(|s| s.booted)) {
        if s.version.is_none() {
            s.version = Some(v.to_string());
        }
    }
}

/// `NAME=value` in `[section]` of an INI file (RAUC's system.conf).
fn ini_value(text: &str, section: &str, name: &str) -> Option<String> {
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == format!("[{section}]");
            continue;
        }
        if !inside || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            if k.trim() == name {
                return Some(v.trim().to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RAUC 1.8's answer on a box that booted slot B after an update.
    const STATUS: &str = r#"{"compatible":"pbxgate-x86-gateway","variant":"","booted":"B","boot_primary":"rootfs.1","slots":[{"rootfs.0":{"class":"rootfs","device":"/dev/disk/by-partlabel/rootfs-a","type":"ext4","bootname":"A","state":"inactive","parent":null,"mountpoint":null,"boot_status":"good","slot_status":{"bundle":{"compatible":null}}}},{"rootfs.1":{"class":"rootfs","device":"/dev/disk/by-partlabel/rootfs-b","type":"ext4","bootname":"B","state":"booted","parent":null,"mountpoint":"/","boot_status":"good","slot_status":{"bundle":{"compatible":"pbxgate-x86-gateway","version":"0.2.0","description":"pbxgate 0.2.0 for x86-gateway","build":null,"hash":null},"checksum":{"sha256":"ab","size":1},"installed":{"timestamp":"2026-12-06T15:00:00Z","count":1},"activated":{"timestamp":"2026-12-06T15:00:01Z","count":1},"status":"ok"}}}]}"#;

    #[test]
    fn status_gives_both_slots_their_versions_and_the_booted_one() {
        let s = parse_status(STATUS.as_bytes()).unwrap();
        assert_eq!(s.compatible, "pbxgate-x86-gateway");
        assert_eq!(s.primary.as_deref(), Some("rootfs.1"));
        assert_eq!(s.slots.len(), 2);
        let a = &s.slots[0];
        assert_eq!(
            (a.name.as_str(), a.bootname.as_deref()),
            ("rootfs.0", Some("A"))
        );
        assert!(!a.booted && a.good == Some(true) && a.version.is_none());
        let b = s.booted().unwrap();
        assert_eq!(b.name, "rootfs.1");
        assert_eq!(b.version.as_deref(), Some("0.2.0"));
        assert_eq!(b.installed.as_deref(), Some("2026-12-06T15:00:00Z"));
        assert_eq!(s.other().unwrap().name, "rootfs.0");
    }

    #[test]
    fn the_flashed_slot_when_booted_shows_the_running_version() {
        let image = "BOARD=x86-gateway\nPBXGATE_VERSION=0.2.0\nSOURCE=abc\n";
        // Booted B has RAUC's version: kept; A (not booted) stays unknown.
        let mut s = parse_status(STATUS.as_bytes()).unwrap();
        running_version(&mut s, image);
        assert_eq!(s.slots[0].version, None);
        assert_eq!(s.slots[1].version.as_deref(), Some("0.2.0"));
        // The factory slot booted: the image's version.
        let flashed = STATUS
            .replace(r#""state":"inactive""#, r#""state":"booted_a""#)
            .replace(r#""state":"booted""#, r#""state":"inactive""#)
            .replace(r#""state":"booted_a""#, r#""state":"booted""#)
            .replace(r#""version":"0.2.0""#, r#""version":"0.3.0""#);
        let mut s = parse_status(flashed.as_bytes()).unwrap();
        assert_eq!(s.booted().map(|b| b.name.as_str()), Some("rootfs.0"));
        running_version(&mut s, image);
        assert_eq!(s.slots[0].version.as_deref(), Some("0.2.0"));
        assert_eq!(s.slots[1].version.as_deref(), Some("0.3.0"));
        // No version line: nothing made up.
        let mut s = parse_status(flashed.as_bytes()).unwrap();
        running_version(&mut s, "BOARD=x86-gateway\nPBXGATE_VERSION=\n");
        assert_eq!(s.slots[0].version, None);
    }

    #[test]
    fn rauc_words_become_specific_errors() {
        let e = info_error("signature verification failed: Verify error: self-signed certificate");
        assert_eq!(
            e,
            UpdateError::NotTrusted("Verify error: self-signed certificate".into())
        );
        assert_eq!(
            e.to_string(),
            "bundle signature not trusted: Verify error: self-signed certificate"
        );
        assert!(matches!(
            info_error("Invalid bundle format: Signature size (1) exceeds bundle size"),
            UpdateError::NotABundle(_)
        ));
        let e = service_error("Error retrieving slot status via D-Bus: error creating proxy: Could not connect: No such file or directory");
        assert_eq!(e.status(), 503);
        assert!(
            e.to_string()
                .starts_with("no RAUC on this system: updates need the appliance image"),
            "{e}"
        );
        let wrong = UpdateError::WrongBoard {
            bundle: "pbxgate-rpi4".into(),
            system: "pbxgate-x86-gateway".into(),
        };
        assert_eq!(
            wrong.to_string(),
            "bundle is for pbxgate-rpi4, this box is pbxgate-x86-gateway"
        );
    }

    #[test]
    fn system_conf_values() {
        let text = "# c\n[system]\ncompatible=pbxgate-x86-gateway\nbootloader=grub\ngrubenv=/boot/efi/EFI/BOOT/grubenv\n[keyring]\npath=/etc/rauc/keyring.pem\n";
        assert_eq!(
            ini_value(text, "system", "compatible").as_deref(),
            Some("pbxgate-x86-gateway")
        );
        assert_eq!(
            ini_value(text, "system", "grubenv").as_deref(),
            Some("/boot/efi/EFI/BOOT/grubenv")
        );
        assert_eq!(ini_value(text, "system", "path"), None);
        assert_eq!(
            ini_value(text, "keyring", "path").as_deref(),
            Some("/etc/rauc/keyring.pem")
        );
    }
}
