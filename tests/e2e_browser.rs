//! The web page in a real browser: Debian's Chromium driven by
//! playwright-core (tests/browser/), against a real gateway. Each test
//! starts what it needs and runs one scenario script; the script fails
//! loudly at the step that went wrong.

mod common;

use common::browser::{scenario, screenshots};

/// The browser and its driver work on this machine (the other scenarios
/// need them; this one fails first and says why).
#[test]
fn chromium_renders_a_page_and_writes_a_screenshot() {
    scenario("smoke", &[]);
    assert!(screenshots().join("smoke.png").exists());
}
