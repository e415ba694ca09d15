//! HTTP/1.1 as a webhook needs it (RFC 9112): one POST at a time on a
//! kept connection, the answer's status and a short body. Sans-IO: the
//! request is built as bytes, the answer is parsed from the bytes read so
//! far.

/// Where a webhook is: from its `url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, at least "/".
    pub path: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("'{0}' is not an https:// or http:// URL")]
    Scheme(String),
    #[error("'{0}' has no host")]
    NoHost(String),
    #[error("'{0}' has a port that is not a number from 1 to 65535")]
    Port(String),
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, UrlError> {
        let (tls, rest) = if let Some(r) = strip_prefix_ci(url, "https://") {
            (true, r)
        } else if let Some(r) = strip_prefix_ci(url, "http://") {
            (false, r)
        } else {
            return Err(UrlError::Scheme(url.into()));
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let path = match tail.split('#').next().unwrap_or("") {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        // Credentials in the URL are not supported; the secret signs.
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let close = v6.find(']').ok_or_else(|| UrlError::NoHost(url.into()))?;
            let host = &v6[..close];
            let port = match &v6[close + 1..] {
                "" => default_port,
                p => parse_port(p.strip_prefix(':').unwrap_or("x"), url)?,
            };
            (host.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), parse_port(p, url)?),
                None => (authority.to_string(), default_port),
            }
        };
        if host.is_empty() {
            return Err(UrlError::NoHost(url.into()));
        }
        Ok(Target {
            tls,
            host,
            port,
            path,
        })
    }

    /// The Host header's value (RFC 9112 section 3.2).
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.tls { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn parse_port(p: &str, url: &str) -> Result<u16, UrlError> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(UrlError::Port(url.into())),
    }
}

/// A POST of `body` with `headers` (besides Host, Content-Type and
/// Content-Length), keeping the connection.
pub fn post(
    target: &Target,
    content_type: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Vec<u8> {
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: pbxgate/{}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: keep-alive\r\n",
        target.path,
        target.host_header(),
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    for (name, value) in headers {
        // Values come from the event id and numbers; a line break would
        // split the request, so it is never sent.
        let clean: String = value.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        head.push_str(&format!("{name}: {clean}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// The receiver's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// The start of the body (what the test button shows), lossy UTF-8.
    pub body: String,
    /// The whole body (a routing hook's answer is read from it).
    pub bytes: Vec<u8>,
    /// Whether the connection may carry the next request.
    pub keep_alive: bool,
}

/// The longest answer read; a receiver that sends more is cut off.
pub const MAX_ANSWER: usize = 256 * 1024;
/// The body kept for display.
const BODY_KEPT: usize = 2048;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AnswerError {
    #[error("the answer is not HTTP/1.x: {0}")]
    Malformed(String),
    #[error("the answer is longer than {MAX_ANSWER} bytes")]
    TooLong,
}

/// Parses an answer from the bytes read so far: `Ok(None)` until it is
/// complete. `closed`: the peer closed the connection (ends a body that
/// has neither a length nor chunks, RFC 9112 section 6.3 item 8).
pub fn parse_answer(buf: &[u8], closed: bool) -> Result<Option<Answer>, AnswerError> {
    if buf.len() > MAX_ANSWER {
        return Err(AnswerError::TooLong);
    }
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        if closed {
            return Err(AnswerError::Malformed(
                "closed before the headers ended".into(),
            ));
        }
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(AnswerError::Malformed(format!(
            "status line '{}'",
            status_line.chars().take(80).collect::<String>()
        )));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|s| (100..1000).contains(s))
        .ok_or_else(|| AnswerError::Malformed(format!("no status code in '{status_line}'")))?;
    // An interim answer (100 Continue, 103 Early Hints) comes before the
    // final one on the same connection (RFC 9110 section 15.2): skip it,
    // or the next request would read this request's final answer.
    if (100..200).contains(&status) && status != 101 {
        return parse_answer(&buf[head_end + 4..], closed);
    }
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut keep_alive = version == "HTTP/1.1";
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse()
                    .map_err(|_| AnswerError::Malformed(format!("Content-Length '{value}'")))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            let v = value.to_ascii_lowercase();
            if v.contains("close") {
                keep_alive = false;
            } else if v.contains("keep-alive") {
                keep_alive = true;
            }
        }
    }
    let rest = &buf[head_end + 4..];
    let body: Vec<u8> = if (100..200).contains(&status) || status == 204 || status == 304 {
        Vec::new()
    } else if chunked {
        match dechunk(rest)? {
            Some(b) => b,
            None if closed => {
                return Err(AnswerError::Malformed(
                    "closed inside a chunked body".into(),
                ))
            }
            None => return Ok(None),
        }
    } else if let Some(n) = length {
        if rest.len() < n {
            if closed {
                return Err(AnswerError::Malformed(
                    "closed before the body ended".into(),
                ));
            }
            return Ok(None);
        }
        rest[..n].to_vec()
    } else {
        if !closed {
            return Ok(None);
        }
        keep_alive = false;
        rest.to_vec()
    };
    let kept = &body[..body.len().min(BODY_KEPT)];
    Ok(Some(Answer {
        status,
        body: String::from_utf8_lossy(kept).into_owned(),
        bytes: body,
        keep_alive,
    }))
}

/// A chunked body (RFC 9112 section 7.1), or `None` while incomplete.
fn dechunk(mut b: &[u8]) -> Result<Option<Vec<u8>>, AnswerError> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = find(b, b"\r\n") else {
            return Ok(None);
        };
        let size_text = String::from_utf8_lossy(&b[..eol]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .ok()
            .filter(|n| *n <= MAX_ANSWER)
            .ok_or_else(|| AnswerError::Malformed(format!("chunk size '{size_hex}'")))?;
        b = &b[eol + 2..];
        if size == 0 {
            // Trailers end with an empty line.
            return Ok(find(b, b"\r\n").map(|_| out));
        }
        let (Some(chunk), Some(after)) = (b.get(..size), b.get(size + 2..)) else {
            return Ok(None);
        };
        out.extend_from_slice(chunk);
        b = after;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_chunk_size_is_malformed_not_a_panic_and_interim_answers_are_skipped() {
        for size in ["ffffffffffffffff", "ffffffff", "40001"] {
            let a = format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\nx");
            assert!(
                matches!(
                    parse_answer(a.as_bytes(), false),
                    Err(AnswerError::Malformed(_))
                ),
                "{size}"
            );
        }
        let a = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(parse_answer(a, false).unwrap().unwrap().status, 503);
        let partial = b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n";
        assert!(parse_answer(partial, false).unwrap().is_none());
    }

    #[test]
    fn urls() {
        let t = Target::parse("https://crm.example.com/hooks/pbx?k=1").unwrap();
        assert_eq!(
            t,
            Target {
                tls: true,
                host: "crm.example.com".into(),
                port: 443,
                path: "/hooks/pbx?k=1".into()
            }
        );
        assert_eq!(t.host_header(), "crm.example.com");
        let t = Target::parse("HTTP://127.0.205.1:8080").unwrap();
        assert_eq!((t.tls, t.port, t.path.as_str()), (false, 8080, "/"));
        assert_eq!(t.host_header(), "127.0.205.1:8080");
        let t = Target::parse("https://[::1]:9443/x").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 9443));
        assert_eq!(t.host_header(), "[::1]:9443");
        assert!(matches!(Target::parse("ftp://x"), Err(UrlError::Scheme(_))));
        assert!(matches!(
            Target::parse("https://x:0/"),
            Err(UrlError::Port(_))
        ));
        assert!(matches!(
            Target::parse("https:///p"),
            Err(UrlError::NoHost(_))
        ));
    }

    #[test]
    fn request_bytes() {
        let t = Target::parse("https://h.example:8443/in").unwrap();
        let r = post(
            &t,
            "application/json",
            &[("X-A", "1\r\nX-Evil: 2".into())],
            b"{}",
        );
        let text = String::from_utf8(r).unwrap();
        assert!(text.starts_with("POST /in HTTP/1.1\r\nHost: h.example:8443\r\n"));
        assert!(text.contains("Content-Length: 2\r\n"));
        assert!(text.contains("X-A: 1X-Evil: 2\r\n"));
        assert!(text.ends_with("\r\n\r\n{}"));
    }

    #[test]
    fn answers_by_length_chunks_and_close() {
        let a = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel";
        assert_eq!(parse_answer(a, false), Ok(None));
        let a = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(
            parse_answer(a, false),
            Ok(Some(Answer {
                status: 200,
                body: "hello".into(),
                bytes: b"hello".to_vec(),
                keep_alive: true
            }))
        );
        let a = b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n";
        assert_eq!(parse_answer(a, false), Ok(None));
        let mut full = a.to_vec();
        full.extend_from_slice(b"\r\n");
        let got = parse_answer(&full, false).unwrap().unwrap();
        assert_eq!(
            (got.status, got.body.as_str(), got.keep_alive),
            (500, "abcde", false)
        );
        let a = b"HTTP/1.0 204 No Content\r\n\r\n";
        let got = parse_answer(a, false).unwrap().unwrap();
        assert_eq!((got.status, got.keep_alive), (204, false));
        let a = b"HTTP/1.1 200 OK\r\n\r\nuntil close";
        assert_eq!(parse_answer(a, false), Ok(None));
        assert_eq!(parse_answer(a, true).unwrap().unwrap().body, "until close");
    }

    #[test]
    fn bad_answers_are_errors() {
        assert!(parse_answer(b"SIP/2.0 200 OK\r\n\r\n", false).is_err());
        assert!(parse_answer(b"HTTP/1.1 abc OK\r\n\r\n", false).is_err());
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false).is_err());
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab", true).is_err());
        assert!(parse_answer(b"HTTP/1.1 2", true).is_err());
        assert_eq!(
            parse_answer(&vec![b'a'; MAX_ANSWER + 1], false),
            Err(AnswerError::TooLong)
        );
    }
}
