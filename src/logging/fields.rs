//! The log's field formatter: every field of every event and span (the
//! message included) is written through the escaper, so no log line can
//! carry raw network text, whichever call site logged it and whether or not
//! it wrapped the value in [`Escaped`](super::Escaped).
//!
//! It replaces tracing-subscriber's `DefaultFields`, which escapes only
//! some control bytes and only in the message (0.3.23: ESC, BEL, BS, FF,
//! DEL and C1), leaving CR, VT and the rest raw, and other fields untouched.
//! The output keeps the default's shape: `message name=value name=value`.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::FormatFields;

use super::escape::{EscapingWriter, Lines};

/// Formats fields escaped; a newline in a value is kept (a SIP message
/// dump stays readable) and the line after it is indented, so no value
/// can start a line that looks like a log entry of its own.
#[derive(Clone, Copy, Debug, Default)]
pub struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = Visitor {
            writer,
            empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct Visitor<'writer> {
    writer: Writer<'writer>,
    empty: bool,
    result: fmt::Result,
}

impl Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        self.result = self.write(field, value);
    }
}

impl Visitor<'_> {
    fn write(&mut self, field: &Field, value: &dyn fmt::Debug) -> fmt::Result {
        use fmt::Write;
        if !self.empty {
            self.writer.write_char(' ')?;
        }
        self.empty = false;
        let name = field.name();
        if name != "message" {
            // Field names are identifiers in our source, not network text.
            let name = name.strip_prefix("r#").unwrap_or(name);
            write!(self.writer, "{name}=")?;
        }
        let mut out = EscapingWriter {
            inner: &mut self.writer,
            lines: Lines::Indented,
        };
        write!(out, "{value:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    /// A writer that keeps what the subscriber wrote.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    fn logged(f: impl FnOnce()) -> String {
        let out = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(EscapedFields)
            .with_writer(out.clone())
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = out.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn every_field_and_the_message_are_escaped() {
        let reason = "method 'OPT\x1b[2JIONS' is not a token";
        let call_id = "log-3\x1b]0;owned\x07";
        let out = logged(|| {
            tracing::info!(%reason, call_id, user = ?"a\rb", "peer said {}", "\x1b[31mhi\x0b");
        });
        assert_eq!(
            out,
            " INFO peer said \\x1b[31mhi\\x0b reason=method 'OPT\\x1b[2JIONS' is not a token \
             call_id=\"log-3\\u{1b}]0;owned\\u{7}\" user=\"a\\rb\"\n"
        );
    }

    #[test]
    fn a_newline_in_a_value_is_indented() {
        let out = logged(|| tracing::info!(value = %"a\nINFO forged", "x"));
        assert_eq!(out, " INFO x value=a\n    INFO forged\n");
    }

    #[test]
    fn span_fields_are_escaped_too() {
        let out = logged(|| {
            let span = tracing::info_span!("call", id = %"c\x1bd");
            let _g = span.enter();
            tracing::info!("inside");
        });
        assert_eq!(out, " INFO call{id=c\\x1bd}: inside\n");
    }
}
