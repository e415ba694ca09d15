//! The last line of defence at the log's output: whatever a formatter
//! produced, no raw control byte but the newline reaches stderr. The field
//! formatter already escapes every value (`fields.rs`); this catches what
//! no formatter wrote, such as a future event format or a library's own
//! output through the same writer.
//!
//! With colours on (stderr is a terminal), the SGR sequences the event
//! formatter colours levels with (`ESC [ digits ; … m`) pass; every other
//! ESC is escaped. Network text cannot supply such a sequence: it was
//! escaped before it got here.

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

/// Makes guarded writers to stderr.
#[derive(Clone, Copy, Debug)]
pub struct GuardedStderr {
    /// Whether the event formatter colours its output.
    pub ansi: bool,
}

impl<'a> MakeWriter<'a> for GuardedStderr {
    type Writer = Guarded<io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        Guarded {
            inner: io::stderr(),
            ansi: self.ansi,
        }
    }
}

/// Escapes control bytes (other than '\n', and SGR sequences when `ansi`)
/// in everything written through it, as `\xNN`.
pub struct Guarded<W: Write> {
    pub inner: W,
    pub ansi: bool,
}

impl<W: Write> Write for Guarded<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.iter().all(|&b| !is_control_byte(b) && b != 0xc2) {
            self.inner.write_all(buf)?;
        } else {
            self.inner.write_all(&guard(buf, self.ansi))?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn is_control_byte(b: u8) -> bool {
    (b < 0x20 && b != b'\n') || b == 0x7f
}

/// `buf` with its control bytes escaped.
fn guard(buf: &[u8], ansi: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(buf.len() + 16);
    let mut i = 0;
    while i < buf.len() {
        let b = buf[i];
        if ansi && b == 0x1b {
            if let Some(len) = sgr_len(&buf[i..]) {
                out.extend_from_slice(&buf[i..i + len]);
                i += len;
                continue;
            }
        }
        if is_control_byte(b) {
            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        } else if b == 0xc2 && buf.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)) {
            // A C1 control in UTF-8 (U+0080..U+009F): some terminals act on it.
            out.extend_from_slice(format!("\\u{{{:04x}}}", buf[i + 1]).as_bytes());
            i += 1;
        } else {
            out.push(b);
        }
        i += 1;
    }
    out
}

/// The length of the SGR sequence (`ESC [ [0-9;]* m`) at the start of `b`.
fn sgr_len(b: &[u8]) -> Option<usize> {
    let rest = b.strip_prefix(b"\x1b[")?;
    let params = rest
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == b';')
        .count();
    (rest.get(params) == Some(&b'm')).then_some(2 + params + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn through(buf: &[u8], ansi: bool) -> Vec<u8> {
        let mut g = Guarded {
            inner: Vec::new(),
            ansi,
        };
        g.write_all(buf).unwrap();
        g.inner
    }

    #[test]
    fn plain_lines_pass_unchanged() {
        let line = b"2026-01-01T00:00:00Z  INFO registered account=a \\x1b\n";
        assert_eq!(through(line, false), line);
    }

    #[test]
    fn control_bytes_other_than_newline_are_escaped() {
        assert_eq!(
            through(b"a\x1b[2J\r\x00\t\x7f\xc2\x9bb\n", false),
            b"a\\x1b[2J\\x0d\\x00\\x09\\x7f\\u{009b}b\n"
        );
    }

    #[test]
    fn with_colours_only_sgr_sequences_pass() {
        assert_eq!(
            through(
                b"\x1b[32m INFO\x1b[0m \x1b[2m;\x1b[0m x\x1b]0;t\x07 \x1b[2J\n",
                true
            ),
            b"\x1b[32m INFO\x1b[0m \x1b[2m;\x1b[0m x\\x1b]0;t\\x07 \\x1b[2J\n"
        );
        assert_eq!(through(b"\x1b[31m", false), b"\\x1b[31m");
    }
}
