//! Cuts the serial byte stream into lines (docs/line-protocol.md, "Framing").
//! Bounded: a line that outgrows the limit is reported and skipped up to its
//! `\n`, never buffered, so a board that babbles cannot grow the box's memory.

use super::protocol::{LineError, LINE_MAX};

/// Holds the start of a line until its `\n` arrives.
#[derive(Debug, Default)]
pub struct LineFramer {
    /// Room for the line and a `\r` before its `\n`.
    buf: heapless::Vec<u8, { LINE_MAX + 1 }>,
    /// Inside an over-long line: drop bytes until its end.
    discarding: bool,
}

impl LineFramer {
    pub fn new() -> LineFramer {
        LineFramer::default()
    }

    /// Feeds bytes as they came; `on_line` gets each complete line (without
    /// its `\n`; a `\r` before it is left for `protocol::line_text`) or
    /// `LineError::TooLong` once per over-long line. Empty lines are skipped.
    pub fn push(&mut self, bytes: &[u8], mut on_line: impl FnMut(Result<&[u8], LineError>)) {
        for &b in bytes {
            if b == b'\n' {
                if !self.discarding && !matches!(self.buf.as_slice(), [] | [b'\r']) {
                    on_line(Ok(&self.buf));
                }
                self.buf.clear();
                self.discarding = false;
            } else if !self.discarding && self.buf.push(b).is_err() {
                self.buf.clear();
                self.discarding = true;
                on_line(Err(LineError::TooLong));
            }
        }
    }

    /// Forgets a half line (after a reconnect: its start went with the old port).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.discarding = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(f: &mut LineFramer, bytes: &[u8]) -> Vec<Result<Vec<u8>, LineError>> {
        let mut out = Vec::new();
        f.push(bytes, |r| out.push(r.map(|l| l.to_vec())));
        out
    }

    #[test]
    fn lines_across_reads() {
        let mut f = LineFramer::new();
        assert!(feed(&mut f, b"OFFH").is_empty());
        let got = feed(&mut f, b"OOK\nDIGIT 5 100\r\n\n\r\nON");
        assert_eq!(
            got,
            vec![Ok(b"OFFHOOK".to_vec()), Ok(b"DIGIT 5 100\r".to_vec())]
        );
        assert_eq!(feed(&mut f, b"HOOK\n"), vec![Ok(b"ONHOOK".to_vec())]);
    }

    #[test]
    fn longest_line_passes_with_and_without_cr() {
        let mut f = LineFramer::new();
        let line = vec![b'x'; LINE_MAX];
        let mut with_cr = line.clone();
        with_cr.push(b'\r');
        let mut bytes = with_cr.clone();
        bytes.push(b'\n');
        bytes.extend_from_slice(&line);
        bytes.push(b'\n');
        assert_eq!(feed(&mut f, &bytes), vec![Ok(with_cr), Ok(line)]);
    }

    #[test]
    fn over_long_line_is_one_error_then_framing_resumes() {
        let mut f = LineFramer::new();
        let mut bytes = vec![b'y'; 1000];
        bytes.extend_from_slice(b"\nONHOOK\n");
        assert_eq!(
            feed(&mut f, &bytes),
            vec![Err(LineError::TooLong), Ok(b"ONHOOK".to_vec())]
        );
    }

    #[test]
    fn reset_drops_a_half_line() {
        let mut f = LineFramer::new();
        feed(&mut f, b"GARB");
        f.reset();
        assert_eq!(feed(&mut f, b"ONHOOK\n"), vec![Ok(b"ONHOOK".to_vec())]);
    }
}
