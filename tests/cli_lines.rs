//! Local lines at the command line, run as the real binary: `--board NAME`
//! gives a line its devices (and replaces `[system] board`), an unknown
//! board is named with the ones there are, and a binary built without the
//! `alsa` feature refuses a line with how to build one that runs it.

use std::path::PathBuf;
use std::process::{Command, Output};

fn check(config: &str, args: &[&str], tag: &str) -> Output {
    let dir = std::env::temp_dir().join(format!("pbxgate-cli-lines-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file: PathBuf = dir.join("pbxgate.toml");
    std::fs::write(&file, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pbxgate"))
        .arg("--config")
        .arg(&file)
        .args(args)
        .arg("--check-config")
        .env_remove("PBXGATE_DATA_DIR")
        .output()
        .expect("run pbxgate");
    let _ = std::fs::remove_dir_all(&dir);
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const LINE: &str = "[[line]]\nname = \"desk\"\nextension = \"201\"\n";

const NO_ALSA: &str = "pbxgate: configuration refused: line 'desk': this pbxgate was built \
    without ALSA support; build it with `cargo build --release --features alsa` (needs \
    libasound2-dev)";

/// What a configuration with a line and its devices gets from this build.
fn assert_line_accepted_as_the_build_allows(o: &Output) {
    if cfg!(feature = "alsa") {
        assert!(o.status.success(), "{}", stderr(o));
    } else {
        assert_eq!(o.status.code(), Some(1), "{}", stderr(o));
        assert_eq!(stderr(o).trim_end(), NO_ALSA);
    }
}

#[test]
fn a_line_without_devices_or_board_is_refused_naming_the_field() {
    let o = check(LINE, &[], "no-board");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(
            "line[0].capture: not set and no board selected; set capture = \
             \"plughw:CARD=Device,DEV=0\" or board = \"NAME\" under [system] (or run with \
             --board NAME)"
        ),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_board_flag_gives_the_line_its_devices_and_replaces_the_file_s_board() {
    assert_line_accepted_as_the_build_allows(&check(LINE, &["--board", "rpi4"], "flag"));
    assert_line_accepted_as_the_build_allows(&check(LINE, &["--board=x86-gateway"], "flag-eq"));
    // The file's board is one there is not; the flag's wins.
    let file = format!("[system]\nboard = \"rpi3\"\n{LINE}");
    assert_line_accepted_as_the_build_allows(&check(&file, &["--board", "rpi5"], "over"));
    let o = check(&file, &[], "file-board");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(
            "system.board: no board is named 'rpi3'; this pbxgate knows rpi4, rpi5, x86-gateway"
        ),
        "{}",
        stderr(&o)
    );
    let o = check("", &["--board", "rpi3"], "bad-flag");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--board: no board is named 'rpi3'"),
        "{}",
        stderr(&o)
    );
    // A board and no lines: nothing is asked of the build.
    let o = check("", &["--board", "rpi4"], "no-lines");
    assert!(o.status.success(), "{}", stderr(&o));
}
