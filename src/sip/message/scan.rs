//! Finding separators outside quoted strings (RFC 3261 §25.1
//! quoted-string, with its backslash escapes) and, for header lists, outside
//! `<...>` too, where a name-addr's URI may hold commas and semicolons.

/// The positions of `sep` in `text` outside quoted strings, and outside
/// `<...>` when `angles` is set.
pub fn separators(text: &str, sep: u8, angles: bool) -> impl Iterator<Item = usize> + '_ {
    let bytes = text.as_bytes();
    let mut pos = 0;
    let (mut in_quote, mut in_angle) = (false, false);
    std::iter::from_fn(move || {
        while let Some(&b) = bytes.get(pos) {
            let at = pos;
            pos += 1;
            if in_quote {
                match b {
                    b'\\' => pos += 1,
                    b'"' => in_quote = false,
                    _ => {}
                }
            } else if b == b'"' {
                in_quote = true;
            } else if angles && (b == b'<' || b == b'>') {
                in_angle = b == b'<';
            } else if b == sep && !in_angle {
                return Some(at);
            }
        }
        None
    })
}

/// `text` cut at those separators, untrimmed. Empty pieces are kept, so a
/// validator sees `a,,b`; an empty `text` is one empty piece.
pub fn split_outside(text: &str, sep: u8, angles: bool) -> impl Iterator<Item = &str> {
    let mut cuts = separators(text, sep, angles).chain(std::iter::once(text.len()));
    let mut start = 0;
    std::iter::from_fn(move || {
        let end = cuts.next()?;
        let piece = text.get(start..end).unwrap_or("");
        start = end + 1;
        Some(piece)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_inside_quotes_and_angles_do_not_count() {
        let pieces: Vec<&str> = split_outside(r#"a;b="x;\";y";c"#, b';', false).collect();
        assert_eq!(pieces, ["a", r#"b="x;\";y""#, "c"]);
        let list = r#"<sip:a;x=1,2>, "b, c" <sip:d>,,"#;
        let pieces: Vec<&str> = split_outside(list, b',', true).collect();
        assert_eq!(pieces, ["<sip:a;x=1,2>", r#" "b, c" <sip:d>"#, "", ""]);
        // Without `angles`, `<` and `>` are plain characters.
        assert_eq!(
            separators("<a;b>;c", b';', false).collect::<Vec<_>>(),
            [2, 5]
        );
        assert_eq!(split_outside("", b',', true).collect::<Vec<_>>(), [""]);
    }
}
