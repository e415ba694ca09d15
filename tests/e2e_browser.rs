//! The web page in a real browser: Debian's Chromium driven by
//! playwright-core (tests/browser/), against a real gateway. Each test
//! starts what it needs and runs one scenario script; the script fails
//! loudly at the step that went wrong.

use std::path::PathBuf;
use std::process::Command;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// Where scenarios write screenshots (`target/screenshots/`).
fn screenshots() -> PathBuf {
    let dir = PathBuf::from(MANIFEST_DIR).join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// Runs `tests/browser/run.mjs scenario` with `env`; panics with its
/// output unless every check passed.
fn scenario(name: &str, env: &[(&str, &str)]) {
    let out = Command::new("node")
        .arg(PathBuf::from(MANIFEST_DIR).join("tests/browser/run.mjs"))
        .arg(name)
        .env("SCREENSHOT_DIR", screenshots())
        .envs(env.iter().copied())
        .output()
        .expect("node (tests/run.sh installs it, and playwright-core in tests/browser)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "scenario {name}:\n{text}");
}

/// The browser and its driver work on this machine (the other scenarios
/// need them; this one fails first and says why).
#[test]
fn chromium_renders_a_page_and_writes_a_screenshot() {
    scenario("smoke", &[]);
    assert!(screenshots().join("smoke.png").exists());
}
