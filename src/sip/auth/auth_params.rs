//! The `Digest name=value, name="quoted value", ...` syntax shared by
//! challenges and credentials (RFC 3261 §25.1 `challenge` / `credentials`,
//! RFC 7235 §2.1 `auth-param`), and quoting for the way back out.

use super::AuthError;
use crate::sip::message::is_token_char;

/// More parameters than any real challenge carries; the cap keeps the
/// duplicate check cheap on hostile input.
pub(super) const MAX_PARAMS: usize = 32;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct AuthParam {
    /// Lowercased: parameter names compare case-insensitively.
    pub name: String,
    /// Unescaped when it was a quoted-string.
    pub value: String,
    pub quoted: bool,
}

/// Splits a `Digest ...` header value into its parameters, in order.
/// Whitespace around `=` and `,` is allowed, and so are empty list elements
/// (`a=1,,b=2`, RFC 7230 §7); everything else that does not fit the grammar
/// is an error naming the parameter at fault.
pub(super) fn parse_digest(input: &str) -> Result<Vec<AuthParam>, AuthError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(AuthError::Empty);
    }
    let scheme_end = s.find(|c: char| c.is_ascii_whitespace()).unwrap_or(s.len());
    let (scheme, rest) = s.split_at(scheme_end);
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(AuthError::NotDigest {
            scheme: shorten(scheme),
        });
    }
    let params = parse_params(rest)?;
    if params.is_empty() {
        return Err(AuthError::NoParams);
    }
    Ok(params)
}

fn parse_params(text: &str) -> Result<Vec<AuthParam>, AuthError> {
    let mut c = Cursor { text, pos: 0 };
    let mut out: Vec<AuthParam> = Vec::new();
    loop {
        c.skip_while(|b| b.is_ascii_whitespace() || b == b',');
        if c.at_end() {
            return Ok(out);
        }
        let name_start = c.pos;
        c.skip_while(is_token_char);
        let name = c.slice(name_start);
        if name.is_empty() {
            return Err(AuthError::ExpectedParamName {
                found: shorten(c.rest()),
            });
        }
        let name = name.to_ascii_lowercase();
        c.skip_ws();
        if c.peek() != Some(b'=') {
            return Err(AuthError::MalformedParam {
                param: name,
                detail: "has no '=' and value",
            });
        }
        c.pos += 1;
        c.skip_ws();
        let (value, quoted) = match c.peek() {
            Some(b'"') => {
                c.pos += 1;
                match c.quoted_string() {
                    Some(v) => (v, true),
                    None => return Err(AuthError::UnterminatedQuote { param: name }),
                }
            }
            Some(b',') | None => {
                return Err(AuthError::MalformedParam {
                    param: name,
                    detail: "has an empty value",
                })
            }
            Some(_) => {
                let start = c.pos;
                c.skip_while(|b| !b.is_ascii_whitespace() && b != b',');
                let v = c.slice(start);
                if v.contains('"') {
                    return Err(AuthError::MalformedParam {
                        param: name,
                        detail: "has a stray '\"' in an unquoted value",
                    });
                }
                (v.to_string(), false)
            }
        };
        if out.iter().any(|p| p.name == name) {
            return Err(AuthError::DuplicateParam { param: name });
        }
        if out.len() == MAX_PARAMS {
            return Err(AuthError::TooManyParams { max: MAX_PARAMS });
        }
        c.skip_ws();
        if !c.at_end() && c.peek() != Some(b',') {
            return Err(AuthError::MalformedParam {
                param: name,
                detail: "is followed by text without a separating ','",
            });
        }
        out.push(AuthParam {
            name,
            value,
            quoted,
        });
    }
}

struct Cursor<'a> {
    text: &'a str,
    /// Always on a char boundary: it only stops before ASCII bytes or at the end.
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn slice(&self, start: usize) -> &'a str {
        self.text.get(start..self.pos).unwrap_or("")
    }

    /// Advances over bytes matching `keep`. Callers only stop on ASCII bytes,
    /// so `pos` stays on a char boundary.
    fn skip_while(&mut self, keep: impl Fn(u8) -> bool) {
        while let Some(b) = self.peek() {
            if !keep(b) {
                break;
            }
            self.pos += 1;
        }
    }

    fn skip_ws(&mut self) {
        self.skip_while(|b| b.is_ascii_whitespace());
    }

    /// Reads up to the closing quote (the opening one already consumed),
    /// resolving `\x` quoted-pairs (RFC 3261 §25.1). None if unterminated.
    fn quoted_string(&mut self) -> Option<String> {
        let rest = self.rest();
        let mut value = String::new();
        let mut chars = rest.char_indices();
        while let Some((off, ch)) = chars.next() {
            match ch {
                '\\' => value.push(chars.next()?.1),
                '"' => {
                    self.pos += off + 1;
                    return Some(value);
                }
                _ => value.push(ch),
            }
        }
        None
    }
}

/// Writes `value` as a quoted-string: `"` and `\` escaped. CR and LF cannot
/// appear in a quoted-string at all (RFC 3261 §25.1 excludes them even from
/// quoted-pair), so they are dropped rather than let split the header.
pub(super) fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    for ch in value.chars() {
        match ch {
            '"' | '\\' => {
                out.push('\\');
                out.push(ch);
            }
            '\r' | '\n' => {}
            _ => out.push(ch),
        }
    }
    out.push('"');
}

/// Appends `, name="value"` (or `Digest name="value"` for the first one).
pub(super) fn push_param(out: &mut String, name: &str, value: &str, quoted: bool) {
    if out.is_empty() {
        out.push_str("Digest ");
    } else {
        out.push_str(", ");
    }
    out.push_str(name);
    out.push('=');
    if quoted {
        push_quoted(out, value);
    } else {
        out.push_str(value);
    }
}

/// At most 40 characters of hostile text, for an error message.
pub(super) fn shorten(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((end, _)) => format!("{}...", s.get(..end).unwrap_or("")),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, value: &str, quoted: bool) -> AuthParam {
        AuthParam {
            name: name.into(),
            value: value.into(),
            quoted,
        }
    }

    #[test]
    fn tokens_quoted_strings_and_whitespace() {
        let got = parse_digest(
            "  digest  Realm = \"a, b\" ,nonce=\"x\\\"y\\\\z\",algorithm=MD5 , ,qop=\"auth\"  ",
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                p("realm", "a, b", true),
                p("nonce", "x\"y\\z", true),
                p("algorithm", "MD5", false),
                p("qop", "auth", true),
            ]
        );
    }

    #[test]
    fn utf8_inside_quotes() {
        let got = parse_digest("Digest username=\"Jäsøn Doe\", x=é").unwrap();
        assert_eq!(got[0], p("username", "Jäsøn Doe", true));
        assert_eq!(got[1], p("x", "é", false));
    }

    #[test]
    fn errors_name_the_parameter() {
        for (input, want) in [
            ("", AuthError::Empty),
            (
                "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
                AuthError::NotDigest {
                    scheme: "Basic".into(),
                },
            ),
            ("Digest", AuthError::NoParams),
            ("Digest  , ", AuthError::NoParams),
            (
                "Digest realm=\"open",
                AuthError::UnterminatedQuote {
                    param: "realm".into(),
                },
            ),
            (
                "Digest realm=\"a\\",
                AuthError::UnterminatedQuote {
                    param: "realm".into(),
                },
            ),
            (
                "Digest realm",
                AuthError::MalformedParam {
                    param: "realm".into(),
                    detail: "has no '=' and value",
                },
            ),
            (
                "Digest realm=, nonce=\"1\"",
                AuthError::MalformedParam {
                    param: "realm".into(),
                    detail: "has an empty value",
                },
            ),
            (
                "Digest realm=\"a\" nonce=\"b\"",
                AuthError::MalformedParam {
                    param: "realm".into(),
                    detail: "is followed by text without a separating ','",
                },
            ),
            (
                "Digest realm=ab\"c\"",
                AuthError::MalformedParam {
                    param: "realm".into(),
                    detail: "has a stray '\"' in an unquoted value",
                },
            ),
            (
                "Digest nonce=\"1\", NONCE=\"2\"",
                AuthError::DuplicateParam {
                    param: "nonce".into(),
                },
            ),
            (
                "Digest =\"x\"",
                AuthError::ExpectedParamName {
                    found: "=\"x\"".into(),
                },
            ),
        ] {
            assert_eq!(parse_digest(input), Err(want), "{input:?}");
        }
    }

    #[test]
    fn too_many_params() {
        let mut s = String::from("Digest ");
        for i in 0..=MAX_PARAMS {
            s.push_str(&format!("p{i}=1,"));
        }
        assert_eq!(
            parse_digest(&s),
            Err(AuthError::TooManyParams { max: MAX_PARAMS })
        );
    }

    #[test]
    fn quoting_escapes_and_drops_line_breaks() {
        let mut out = String::new();
        push_quoted(&mut out, "a\"b\\c\r\nd");
        assert_eq!(out, "\"a\\\"b\\\\cd\"");
        let parsed = parse_digest(&format!("Digest x={out}")).unwrap();
        assert_eq!(parsed[0].value, "a\"b\\cd");
    }

    #[test]
    fn shorten_cuts_on_char_boundaries() {
        let long = "é".repeat(50);
        assert_eq!(shorten(&long).chars().count(), 43);
        assert_eq!(shorten("short"), "short");
    }
}
