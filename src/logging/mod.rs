//! The gateway's log: tracing to stderr, every value escaped so that text
//! from the network cannot drive the terminal or forge log lines.

mod escape;
mod fields;
mod guard;
mod recent;

pub use escape::{Dump, Escaped};
pub use fields::EscapedFields;
pub use guard::{Guarded, GuardedStderr};
pub use recent::{recent_lines, RecentLines, RECENT_LINES};

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber: `RUST_LOG` if set, else `level` (the
/// config's `[log] level`). Colours only when stderr is a terminal (a
/// journal or a file gets plain text).
pub fn init(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level.to_ascii_lowercase()));
    let ansi = std::io::stderr().is_terminal();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .fmt_fields(EscapedFields)
        .with_writer(GuardedStderr { ansi })
        .with_ansi(ansi)
        .with_target(false)
        .finish()
        .with(RecentLines)
        .init();
}
