//! The last lines of the log, kept in memory for the web page's log tail:
//! a tracing layer beside the stderr formatter writes each event, escaped
//! the same way, into a bounded ring. Old lines go as new ones come, so
//! the memory it takes is bounded whatever is logged.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::layer::{Context, Layer};

use super::fields::EscapedFields;

/// Lines kept.
pub const RECENT_LINES: usize = 1000;

/// Longest line kept (bytes); a longer one (a dumped message) is cut.
const MAX_LINE: usize = 2000;

static RECENT: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());

/// The layer that fills the ring.
#[derive(Clone, Copy, Debug, Default)]
pub struct RecentLines;

impl<S: Subscriber> Layer<S> for RecentLines {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = String::new();
        if EscapedFields
            .format_fields(Writer::new(&mut fields), event)
            .is_err()
        {
            return;
        }
        let meta = event.metadata();
        let head = format!("{} {:>5} ", clock(SystemTime::now()), meta.level());
        push(fields.lines().map(|l| format!("{head}{l}")));
    }
}

fn push(lines: impl Iterator<Item = String>) {
    let mut ring = RECENT.lock().unwrap_or_else(|p| p.into_inner());
    for mut line in lines {
        if line.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push_str(" …");
        }
        if ring.len() == RECENT_LINES {
            ring.pop_front();
        }
        ring.push_back(line);
    }
}

/// The newest `n` lines, oldest first.
pub fn recent_lines(n: usize) -> Vec<String> {
    let ring = RECENT.lock().unwrap_or_else(|p| p.into_inner());
    let skip = ring.len().saturating_sub(n);
    ring.iter().skip(skip).cloned().collect()
}

/// `YYYY-MM-DDTHH:MM:SSZ` in UTC (civil date from days since the epoch,
/// Howard Hinnant's algorithm).
fn clock(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn events_are_kept_escaped_and_bounded() {
        let sub = tracing_subscriber::registry().with(RecentLines);
        tracing::subscriber::with_default(sub, || {
            tracing::info!(peer = "1.2.3.4", "hello \x1b[2J there");
            for i in 0..RECENT_LINES + 5 {
                tracing::debug!("filler {i}");
            }
            tracing::warn!("last one");
        });
        let tail = recent_lines(3);
        assert_eq!(tail.len(), 3);
        assert!(tail[2].ends_with("WARN last one"), "{tail:?}");
        assert!(recent_lines(usize::MAX).len() <= RECENT_LINES);
        assert!(!recent_lines(usize::MAX).iter().any(|l| l.contains('\x1b')));
        assert_eq!(clock(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            clock(UNIX_EPOCH + std::time::Duration::from_secs(1_709_251_199)),
            "2024-02-29T23:59:59Z"
        );
    }
}
