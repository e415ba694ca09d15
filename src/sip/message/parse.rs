//! Framing: turns bytes into a `SipMessage`, or a `ParseError` that says
//! precisely what is wrong. The gateway owns this layer rather than using
//! rsip's (see docs/dependencies.md).

use super::error::{reply_context, ParseError};
use super::header::{HeaderName, Headers};
use super::method::{is_token, Method};
use super::request::Request;
use super::response::Response;
use super::uri::Uri;
use super::validate::{validate_request, validate_response};
use super::SipMessage;

/// Largest message accepted, on any transport.
pub const MAX_MESSAGE_SIZE: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// One UDP datagram: Content-Length may be absent (RFC 3261 §18.3), and
    /// octets after the declared body are ignored.
    Datagram,
    /// Exactly one message cut from a stream by `StreamFramer`.
    Stream,
}

enum StartLine {
    Request(Method, Uri),
    Response(u16, String),
}

/// Parses one message.
pub fn parse_message(buf: &[u8], framing: Framing) -> Result<SipMessage, ParseError> {
    if buf.len() > MAX_MESSAGE_SIZE {
        return Err(ParseError::drop(format!(
            "message of {} bytes exceeds the {} byte limit",
            buf.len(),
            MAX_MESSAGE_SIZE
        )));
    }
    // RFC 3261 §7.5: CRLFs before the start line are ignored.
    let skip = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let buf = &buf[skip..];
    if buf.is_empty() {
        return Err(ParseError::drop("empty message"));
    }
    let (head, body_start) = match find_head_end(buf) {
        Some((end, body)) => (&buf[..end], Some(body)),
        None if framing == Framing::Datagram => (buf, None),
        None => {
            let mut e = ParseError::drop("message has no blank line after its headers");
            e.fatal_to_stream = true;
            return Err(e);
        }
    };

    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let start = lines.next().unwrap_or_default();
    let mut first_error: Option<(u16, String)> = None;
    let mut note = |status: u16, msg: String| {
        if first_error.is_none() {
            first_error = Some((status, msg));
        }
    };

    let headers = parse_header_lines(lines, &mut note);
    let is_response = start.starts_with(b"SIP/") || start.starts_with(b"sip/");
    let is_ack = start.starts_with(b"ACK ");
    let start = match parse_start_line(start) {
        Ok(s) => Some(s),
        Err((status, msg)) => {
            note(status, msg);
            None
        }
    };

    // Body by Content-Length.
    let available = body_start.map(|s| &buf[s..]).unwrap_or_default();
    let mut body: &[u8] = available;
    let cl_count = headers.count(&HeaderName::ContentLength);
    if cl_count > 1 {
        note(400, "multiple Content-Length headers".into());
    }
    let mut fatal_to_stream = false;
    match headers.get(&HeaderName::ContentLength) {
        Some(v) => match parse_content_length(v) {
            Ok(n) if n > available.len() => {
                fatal_to_stream = true;
                note(
                    400,
                    format!(
                        "Content-Length {n} exceeds the {} bytes of body received",
                        available.len()
                    ),
                );
            }
            Ok(n) => body = &available[..n],
            Err(msg) => {
                fatal_to_stream = true;
                note(400, msg)
            }
        },
        None if framing == Framing::Stream => {
            fatal_to_stream = true;
            note(
                400,
                "missing Content-Length header, required over TCP".into(),
            );
        }
        None => {}
    }

    if let Some((status, reason)) = first_error {
        return Err(error_for(
            is_response,
            is_ack,
            status,
            reason,
            &headers,
            fatal_to_stream,
        ));
    }
    let body = body.to_vec();
    match start {
        Some(StartLine::Request(method, uri)) => {
            let req = Request {
                method,
                uri,
                headers,
                body,
            };
            match validate_request(&req) {
                Ok(()) => Ok(SipMessage::Request(req)),
                Err(reason) => Err(error_for(
                    false,
                    req.method == Method::Ack,
                    400,
                    reason,
                    &req.headers,
                    false,
                )),
            }
        }
        Some(StartLine::Response(status, reason)) => {
            let resp = Response {
                status,
                reason,
                headers,
                body,
            };
            validate_response(&resp)
                .map(|()| SipMessage::Response(resp))
                .map_err(ParseError::drop)
        }
        None => Err(ParseError::drop("unreadable start line")),
    }
}

fn error_for(
    is_response: bool,
    is_ack: bool,
    status: u16,
    reason: String,
    headers: &Headers,
    fatal_to_stream: bool,
) -> ParseError {
    // Responses are never answered; neither are ACKs (RFC 3261 §17.2.3).
    let reply = if is_response || is_ack {
        None
    } else {
        reply_context(headers).map(Box::new)
    };
    ParseError {
        status: reply.as_ref().map(|_| status),
        reason,
        reply,
        fatal_to_stream,
    }
}

/// End of the header section: (index of its end, index where the body starts).
/// Accepts CRLFCRLF and, leniently, LFLF.
pub(crate) fn find_head_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i + 1 < buf.len() {
        if buf[i] == b'\n' {
            if buf[i + 1] == b'\n' {
                return Some((i, i + 2));
            }
            if buf[i + 1] == b'\r' && buf.get(i + 2) == Some(&b'\n') {
                return Some((i, i + 3));
            }
        }
        i += 1;
    }
    None
}

fn parse_header_lines<'a>(
    lines: impl Iterator<Item = &'a [u8]>,
    note: &mut impl FnMut(u16, String),
) -> Headers {
    let mut headers = Headers::with_capacity(16);
    let mut last_ok = false;
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            // RFC 3261 §7.3.1: a continuation line folds onto the previous one.
            match (last_ok, std::str::from_utf8(line)) {
                (true, Ok(text)) if !has_bare_nul(text) => {
                    headers.append_to_last(text.trim());
                }
                (true, _) => note(
                    400,
                    "folded header line is not valid UTF-8 or has a NUL byte".into(),
                ),
                (false, _) => note(400, "header section starts with a continuation line".into()),
            }
            continue;
        }
        last_ok = false;
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            note(
                400,
                format!("header line without a colon: '{}'", preview(line)),
            );
            continue;
        };
        let name = trim_bytes(&line[..colon]);
        let name = match std::str::from_utf8(name) {
            Ok(n) if is_token(n) => n,
            _ => {
                note(400, format!("malformed header name '{}'", preview(name)));
                continue;
            }
        };
        let value = trim_bytes(&line[colon + 1..]);
        let value = match std::str::from_utf8(value) {
            Ok(v) => v,
            Err(_) => {
                note(
                    400,
                    format!("{} header is not valid UTF-8", HeaderName::from_wire(name)),
                );
                continue;
            }
        };
        if has_bare_nul(value) {
            note(
                400,
                format!("{} header contains a NUL byte", HeaderName::from_wire(name)),
            );
            continue;
        }
        headers.push(HeaderName::from_wire(name), value);
        last_ok = true;
    }
    headers
}

fn parse_start_line(line: &[u8]) -> Result<StartLine, (u16, String)> {
    let line = std::str::from_utf8(line)
        .map_err(|_| (400, "start line is not valid UTF-8".to_string()))?;
    if line.contains('\0') {
        return Err((400, "start line contains a NUL byte".into()));
    }
    if starts_with_sip_slash(line) {
        return parse_status_line(line);
    }
    let mut parts = line.split(' ');
    let (method, uri, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(u), Some(v), None) if !m.is_empty() && !u.is_empty() && !v.is_empty() => {
            (m, u, v)
        }
        _ if line.contains("  ") || line.ends_with(' ') || line.starts_with(' ') => {
            return Err((400, "Request-Line has extra spaces".into()))
        }
        _ if line
            .rsplit(' ')
            .next()
            .is_some_and(|v| v.len() > 4 && starts_with_sip_slash(v))
            && line.split(' ').count() > 3 =>
        {
            return Err((400, "Request-URI contains whitespace".into()))
        }
        _ => {
            return Err((
                400,
                "Request-Line is not 'METHOD Request-URI SIP/2.0'".into(),
            ))
        }
    };
    if !is_token(method) {
        return Err((
            400,
            format!("Request-Line method '{method}' is not a token"),
        ));
    }
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        if version.len() > 4 && starts_with_sip_slash(version) {
            return Err((505, format!("SIP version {version} is not supported")));
        }
        return Err((
            400,
            format!("Request-Line version '{version}' is not SIP/2.0"),
        ));
    }
    if uri.starts_with('<') {
        return Err((400, "Request-URI must not be enclosed in <>".into()));
    }
    let uri = Uri::parse(uri).map_err(|e| (400, format!("Request-URI: {e}")))?;
    Ok(StartLine::Request(Method::from_token(method), uri))
}

fn parse_status_line(line: &str) -> Result<StartLine, (u16, String)> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    let reason = parts.next().unwrap_or_default();
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        return Err((505, format!("response version {version} is not SIP/2.0")));
    }
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err((400, format!("status code '{code}' is not three digits")));
    }
    let status: u16 = code.parse().unwrap_or(0);
    if !(100..=699).contains(&status) {
        return Err((400, format!("status code {status} is out of range")));
    }
    Ok(StartLine::Response(status, reason.to_string()))
}

fn parse_content_length(v: &str) -> Result<usize, String> {
    let v = v.trim();
    if v.starts_with('-') {
        return Err(format!("Content-Length {v} is negative"));
    }
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "Content-Length '{}' is not a number",
            preview(v.as_bytes())
        ));
    }
    match v.parse::<usize>() {
        Ok(n) if n <= MAX_MESSAGE_SIZE => Ok(n),
        _ => Err(format!(
            "Content-Length {v} exceeds the {MAX_MESSAGE_SIZE} byte limit"
        )),
    }
}

/// A NUL that is not the second half of a quoted-pair (`\` NUL is legal
/// inside a quoted string, RFC 3261 §25.1; RFC 4475 §3.1.1.2).
fn has_bare_nul(value: &str) -> bool {
    let b = value.as_bytes();
    b.iter()
        .enumerate()
        .any(|(i, &c)| c == 0 && (i == 0 || b[i - 1] != b'\\'))
}

/// Case-insensitive "SIP/" prefix, safe on any UTF-8 (no slicing inside a
/// multi-byte character).
fn starts_with_sip_slash(s: &str) -> bool {
    s.as_bytes()
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
}

fn trim_bytes(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t'))
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !matches!(c, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

fn preview(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(40)]);
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
