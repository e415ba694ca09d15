//! Text from the network, made safe to print. A peer controls methods,
//! URIs, header values and reason phrases; printed raw, an ESC byte starts
//! a terminal escape sequence (clear the screen, retitle the window, hide
//! text), a CR or a newline forges or overwrites log lines, and a bidi
//! override makes a line read differently from what it holds.
//!
//! Printable text is kept as it is (including non-ASCII); every control
//! character becomes a visible escape: C0 bytes and DEL as `\xNN`, C1
//! controls and bidi formatting characters as `\u{NNNN}`, bytes that are not
//! UTF-8 as `\xNN`. Backslashes are kept, so escaping twice changes nothing
//! (the log formatter escapes every field again; see `fields.rs`).

use std::fmt::{self, Write};

/// Displays `text` escaped, on one line (a newline shows as `\x0a`).
///
/// ```
/// use pbxgate::logging::Escaped;
/// assert_eq!(Escaped("OPT\x1b[2JIONS").to_string(), "OPT\\x1b[2JIONS");
/// ```
pub struct Escaped<T: AsRef<[u8]>>(pub T);

impl<T: AsRef<[u8]>> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped_bytes(f, self.0.as_ref(), Lines::One)
    }
}

impl<T: AsRef<[u8]>> fmt::Debug for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Displays a whole SIP message for a debug log: each CRLF-ended line of the
/// message on a line of its own, ending with a newline, everything else
/// escaped as by [`Escaped`], so a bare CR or LF inside a line stays visible.
/// SDES keys (`a=crypto:... inline:<key>`, RFC 4568) show as
/// `inline:<redacted>`: a log must not hold what decrypts a call.
pub struct Dump<'a>(pub &'a [u8]);

impl fmt::Display for Dump<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(r) = rest.strip_suffix(b"\r\n") {
            rest = r;
        }
        for line in split_crlf(rest) {
            write_redacted(f, line)?;
            f.write_char('\n')?;
        }
        Ok(())
    }
}

/// What precedes an SDES key (RFC 4568 §9.2 `key-method ":" key-info`).
const INLINE: &[u8] = b"inline:";

/// One line, escaped, with the base64 after every `inline:` replaced.
/// Searched anywhere in the line, not only at `a=crypto:`, so an SDP body
/// with bare-LF line ends (one dump line) is covered too.
fn write_redacted(f: &mut impl Write, line: &[u8]) -> fmt::Result {
    let mut rest = line;
    while let Some(at) = rest
        .windows(INLINE.len())
        .position(|w| w.eq_ignore_ascii_case(INLINE))
    {
        let (head, tail) = rest.split_at(at + INLINE.len());
        write_escaped_bytes(f, head, Lines::One)?;
        f.write_str("<redacted>")?;
        let key_len = tail
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
            .count();
        rest = &tail[key_len..];
    }
    write_escaped_bytes(f, rest, Lines::One)
}

/// The lines of `bytes`, split at CRLF only (RFC 3261 §7: CRLF ends a
/// line; a bare CR or LF is part of the line).
fn split_crlf(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(bytes);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.windows(2).position(|w| w == b"\r\n") {
            Some(i) => {
                rest = Some(&r[i + 2..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// What to do with a newline.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Lines {
    /// Show it as `\x0a`: the value stays on one line.
    One,
    /// Keep it, and indent the line after it, so that no text from a value
    /// starts a line where a log entry would start.
    Indented,
}

/// How continuation lines of a multi-line value are indented.
pub(crate) const INDENT: &str = "    ";

/// Writes `bytes` escaped; bytes that are not UTF-8 show as `\xNN`.
pub(crate) fn write_escaped_bytes(out: &mut impl Write, bytes: &[u8], lines: Lines) -> fmt::Result {
    for chunk in bytes.utf8_chunks() {
        write_escaped(out, chunk.valid(), lines)?;
        for b in chunk.invalid() {
            write!(out, "\\x{b:02x}")?;
        }
    }
    Ok(())
}

/// Writes `text` escaped.
pub(crate) fn write_escaped(out: &mut impl Write, text: &str, lines: Lines) -> fmt::Result {
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if !needs_escape(c) {
            continue;
        }
        out.write_str(&text[start..i])?;
        start = i + c.len_utf8();
        match c {
            '\n' if lines == Lines::Indented => {
                out.write_char('\n')?;
                out.write_str(INDENT)?;
            }
            c if (c as u32) < 0x80 => write!(out, "\\x{:02x}", c as u32)?,
            c => write!(out, "\\u{{{:04x}}}", c as u32)?,
        }
    }
    out.write_str(&text[start..])
}

/// C0, DEL and C1 controls (`char::is_control`), and the Unicode bidi
/// formatting characters (Unicode TR9: ALM, LRM, RLM, the embeddings,
/// overrides and isolates), which reorder how a terminal shows a line.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A `fmt::Write` that escapes what passes through it.
pub(crate) struct EscapingWriter<'a, W: Write> {
    pub inner: &'a mut W,
    pub lines: Lines,
}

impl<W: Write> Write for EscapingWriter<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_escaped(self.inner, s, self.lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(b: &[u8]) -> String {
        Escaped(b).to_string()
    }

    #[test]
    fn printable_text_is_kept() {
        assert_eq!(
            esc("INVITE sip:+1555@example.com;user=phone \"Zoë\" \\ €".as_bytes()),
            "INVITE sip:+1555@example.com;user=phone \"Zoë\" \\ €"
        );
    }

    #[test]
    fn c0_del_and_newlines_become_hex() {
        assert_eq!(esc(b"a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(
            esc(b"\x00\x07\x08\t\x0b\x0c\r\n\x7f"),
            "\\x00\\x07\\x08\\x09\\x0b\\x0c\\x0d\\x0a\\x7f"
        );
    }

    #[test]
    fn c1_controls_bidi_overrides_and_bad_utf8_are_escaped() {
        assert_eq!(esc("a\u{9b}31m".as_bytes()), "a\\u{009b}31m");
        assert_eq!(
            esc("user\u{202e}gnp.exe".as_bytes()),
            "user\\u{202e}gnp.exe"
        );
        assert_eq!(esc(b"x\x9b2J\xc2"), "x\\x9b2J\\xc2");
    }

    #[test]
    fn escaping_twice_changes_nothing() {
        let once = esc(b"OPT\x1b[2JIONS\r\n\x9b");
        assert_eq!(esc(once.as_bytes()), once);
    }

    #[test]
    fn indented_newlines_cannot_start_a_log_line() {
        let mut out = String::new();
        write_escaped(
            &mut out,
            "a\n2026-01-01T00:00:00Z  INFO forged\r",
            Lines::Indented,
        )
        .unwrap();
        assert_eq!(out, "a\n    2026-01-01T00:00:00Z  INFO forged\\x0d");
    }

    #[test]
    fn a_dump_never_shows_an_sdes_key() {
        let key = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
        let msg = format!(
            "INVITE sip:a SIP/2.0\r\nContent-Type: application/sdp\r\n\r\n\
             m=audio 4000 RTP/SAVP 0\r\n\
             a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^20|1:4\r\n\
             a=crypto:2 AES_CM_128_HMAC_SHA1_32 INLINE:{key}\na=sendrecv\r\n"
        );
        let out = Dump(msg.as_bytes()).to_string();
        assert!(!out.contains(&key[..8]), "{out}");
        assert!(
            out.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:<redacted>|2^20|1:4\n"),
            "{out}"
        );
        assert!(
            out.contains("INLINE:<redacted>\\x0aa=sendrecv\n"),
            "bare LF: {out}"
        );
    }

    #[test]
    fn a_dump_has_one_line_per_message_line_and_shows_bare_cr_and_lf() {
        let msg = b"OPTIONS sip:a SIP/2.0\r\nCall-ID: x\x1b]0;t\x07\r\nSubject: a\rb\nc\r\n\r\n";
        assert_eq!(
            Dump(msg).to_string(),
            "OPTIONS sip:a SIP/2.0\nCall-ID: x\\x1b]0;t\\x07\nSubject: a\\x0db\\x0ac\n"
        );
    }
}
