//! Runs a browser scenario (tests/browser/scenarios/NAME.mjs) in Debian's
//! Chromium driven by playwright-core; tests/run.sh installs both.

use std::path::PathBuf;
use std::process::Command;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// Where scenarios write screenshots (`target/screenshots/`).
pub fn screenshots() -> PathBuf {
    let dir = PathBuf::from(MANIFEST_DIR).join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// Runs `tests/browser/run.mjs name` with `env`; returns its output, or
/// panics with it unless every check passed.
pub fn scenario(name: &str, env: &[(&str, &str)]) -> String {
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
    text
}
