//! The `pbxgate` command line, run as the real binary: `--check-config`
//! writes nothing, `--name=value` works like `--name value`, a non-UTF-8
//! argument is an error (exit 2) and not a panic, and a configuration file
//! others can read is warned about at start.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::Gateway;

fn pbxgate(args: &[&OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pbxgate"))
        .args(args)
        .env_remove("PBXGATE_DATA_DIR")
        .output()
        .expect("run pbxgate")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh path under the temp directory that does not exist yet.
fn fresh(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("pbxgate-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

#[test]
fn check_config_on_a_missing_data_dir_creates_nothing() {
    let dir = fresh("missing");
    let out = pbxgate(&[
        OsStr::new("--check-config"),
        OsStr::new("--data-dir"),
        dir.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("built-in defaults are valid"),
        "{}",
        text(&out.stdout)
    );
    assert!(!dir.exists(), "--check-config created {}", dir.display());
}

#[test]
fn check_config_on_an_empty_data_dir_leaves_it_empty() {
    let dir = fresh("empty");
    std::fs::create_dir_all(&dir).unwrap();
    let arg = format!("--data-dir={}", dir.display());
    let out = pbxgate(&[OsStr::new(&arg), OsStr::new("--check-config")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "--check-config wrote {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--check-config` with `option` naming `path`, as `--option=path` and
/// as `--option path`: each command line with what it did.
fn check_config_both_ways(option: &str, path: &Path) -> Vec<(Vec<String>, Output)> {
    let path = path.display();
    [
        vec![format!("{option}={path}")],
        vec![option.into(), path.to_string()],
    ]
    .into_iter()
    .map(|mut args| {
        args.push("--check-config".into());
        let out = pbxgate(&args.iter().map(OsStr::new).collect::<Vec<_>>());
        (args, out)
    })
    .collect()
}

#[test]
fn equals_forms_name_the_same_files_as_two_words() {
    let dir = fresh("equals");
    std::fs::create_dir_all(&dir).unwrap();
    let in_dir = dir.join("pbxgate.toml");
    std::fs::write(&in_dir, "[sip]\nt1_ms = 500\n").unwrap();
    let other = dir.join("other.toml");
    // A refused file proves which file was read: its name is in the error.
    std::fs::write(&other, "[sip]\nt2_ms = 1\n").unwrap();

    for (args, out) in check_config_both_ways("--data-dir", &dir) {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(
            text(&out.stdout),
            format!("{}: ok\n", in_dir.display()),
            "{args:?}"
        );
    }
    for (args, out) in check_config_both_ways("--config", &other) {
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains("sip.t2_ms"), "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_non_utf8_argument_is_a_clear_error() {
    let out = pbxgate(&[OsStr::from_bytes(b"--data\xff-dir")]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("pbxgate: argument '--data\\xff-dir' is not valid UTF-8"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_non_utf8_directory_name_is_a_directory() {
    // Linux file names are bytes: such a directory works like any other.
    let dir = fresh("bytes");
    let mut name = dir.into_os_string().into_vec();
    name.extend_from_slice(b"-\xff");
    let dir = PathBuf::from(OsStr::from_bytes(&name));
    let out = pbxgate(&[
        OsStr::new("--check-config"),
        OsStr::new("--data-dir"),
        dir.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!dir.exists());
}

#[test]
fn a_config_file_others_can_read_is_warned_about() {
    // As an editor or a copy with the default umask leaves it.
    let gw = Gateway {
        config_mode: 0o644,
        ..Gateway::new("127.0.142.1", 35170)
    }
    .start();
    let file = gw.data_dir.join("pbxgate.toml");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_ne!(mode & 0o077, 0, "the file should be readable by others");
    let line = gw.wait_for_log_line(&["WARN", "pbxgate.toml has mode"], Duration::from_secs(5));
    assert!(line.contains(&format!("{mode:04o}")), "{line}");
    assert!(line.contains("chmod 600"), "{line}");
}

#[test]
fn an_owner_only_config_file_is_not_warned_about() {
    let dir = fresh("quiet");
    std::fs::create_dir_all(&dir).unwrap();
    // No emergency numbers: nothing else to warn about without routes.
    let quiet_config = "[emergency]\nnumbers = []\n";
    let file = dir.join("pbxgate.toml");
    std::fs::write(&file, quiet_config).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let wide = dir.join("wide.toml");
    std::fs::write(&wide, quiet_config).unwrap();
    std::fs::set_permissions(&wide, std::fs::Permissions::from_mode(0o604)).unwrap();
    let check = |f: &PathBuf| {
        let arg = format!("--config={}", f.display());
        pbxgate(&[OsStr::new(&arg), OsStr::new("--check-config")])
    };
    let quiet = check(&file);
    assert_eq!(quiet.status.code(), Some(0));
    assert_eq!(text(&quiet.stderr), "");
    let loud = check(&wide);
    assert_eq!(loud.status.code(), Some(0));
    assert!(
        text(&loud.stderr).contains("wide.toml has mode 0604"),
        "{}",
        text(&loud.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
