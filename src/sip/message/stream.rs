//! Cuts SIP messages out of a TCP byte stream by Content-Length
//! (RFC 3261 §18.3), and spots RFC 5626 CRLF keep-alives between them.

use super::error::ParseError;
use super::header::HeaderName;
use super::parse::{find_head_end, parse_message, Framing, MAX_MESSAGE_SIZE};

#[derive(Debug)]
pub enum StreamItem {
    /// The bytes of exactly one message, for `parse_message(.., Framing::Stream)`.
    Message(Vec<u8>),
    /// A double-CRLF ping (RFC 5626 §4.4.1): answer with a single CRLF.
    Ping,
    /// A single CRLF between messages: the pong to a ping we sent.
    Pong,
    /// The stream cannot be framed any more; answer if possible, then close.
    Error(ParseError),
}

#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
    /// How far the search for the end of the header section got, so a
    /// message trickling in byte by byte is scanned once, not once per read.
    scanned: usize,
    /// Header section found: where the body starts and how long it is.
    pending: Option<(usize, usize)>,
}

impl StreamFramer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    pub fn next_item(&mut self) -> Option<StreamItem> {
        let crlf = self
            .buf
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(self.buf.len());
        if crlf > 0 {
            let ping = self.buf[..crlf].windows(4).any(|w| w == b"\r\n\r\n");
            self.buf.drain(..crlf);
            self.scanned = 0;
            return Some(if ping {
                StreamItem::Ping
            } else {
                StreamItem::Pong
            });
        }
        if self.buf.is_empty() {
            return None;
        }
        let (body_start, length) = match self.pending {
            Some(p) => p,
            None => match self.find_frame() {
                Ok(Some(p)) => p,
                Ok(None) => return None,
                Err(e) => return Some(StreamItem::Error(e)),
            },
        };
        let total = body_start + length;
        if self.buf.len() < total {
            self.pending = Some((body_start, length));
            return None;
        }
        let msg: Vec<u8> = self.buf.drain(..total).collect();
        self.scanned = 0;
        self.pending = None;
        Some(StreamItem::Message(msg))
    }

    /// Looks for the end of the header section and its Content-Length.
    fn find_frame(&mut self) -> Result<Option<(usize, usize)>, ParseError> {
        let from = self.scanned.saturating_sub(3);
        let found = find_head_end(&self.buf[from..]).map(|(e, b)| (e + from, b + from));
        let Some((_, body_start)) = found else {
            self.scanned = self.buf.len();
            if self.buf.len() > MAX_MESSAGE_SIZE {
                let mut e = ParseError::drop(format!(
                    "header section exceeds the {MAX_MESSAGE_SIZE} byte limit"
                ));
                e.fatal_to_stream = true;
                self.buf.clear();
                self.scanned = 0;
                return Err(e);
            }
            return Ok(None);
        };
        match content_length(&self.buf[..body_start]) {
            Some(n) if body_start + n <= MAX_MESSAGE_SIZE => Ok(Some((body_start, n))),
            _ => {
                // Missing, malformed, duplicated or oversized: the parser words
                // the error (and finds what is needed to answer it).
                let head: Vec<u8> = self.buf.drain(..).take(body_start).collect();
                self.scanned = 0;
                let mut e = match parse_message(&head, Framing::Stream) {
                    Err(e) => e,
                    Ok(_) => ParseError::drop(format!(
                        "message exceeds the {MAX_MESSAGE_SIZE} byte limit"
                    )),
                };
                e.fatal_to_stream = true;
                Err(e)
            }
        }
    }
}

/// The single, well-formed Content-Length of a header section, if it has one.
fn content_length(head: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(head).ok()?;
    let mut found = None;
    for line in text.split('\n') {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if line.starts_with([' ', '\t']) {
            continue;
        }
        if HeaderName::from_wire(name.trim()) == HeaderName::ContentLength {
            if found.is_some() {
                return None;
            }
            let v = value.trim();
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            found = Some(v.parse().ok()?);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPT: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: 4\r\n\r\nbody";

    #[test]
    fn frames_back_to_back_and_split_messages() {
        let mut f = StreamFramer::new();
        let mut data = OPT.to_vec();
        data.extend_from_slice(b"\r\n\r\n");
        data.extend_from_slice(OPT);
        f.push(&data[..30]);
        assert!(f.next_item().is_none());
        f.push(&data[30..]);
        assert!(matches!(f.next_item(), Some(StreamItem::Message(m)) if m == OPT));
        assert!(matches!(f.next_item(), Some(StreamItem::Ping)));
        assert!(matches!(f.next_item(), Some(StreamItem::Message(m)) if m == OPT));
        assert!(f.next_item().is_none());
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn missing_content_length_is_fatal_with_reason() {
        let mut f = StreamFramer::new();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n");
        match f.next_item() {
            Some(StreamItem::Error(e)) => {
                assert!(e.fatal_to_stream);
                assert!(e.reason.contains("Content-Length"), "{}", e.reason);
                assert_eq!(e.status, Some(400));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn single_crlf_is_a_pong() {
        let mut f = StreamFramer::new();
        f.push(b"\r\n");
        assert!(matches!(f.next_item(), Some(StreamItem::Pong)));
        f.push(b"\r\n");
        f.push(OPT);
        assert!(matches!(f.next_item(), Some(StreamItem::Pong)));
        assert!(matches!(f.next_item(), Some(StreamItem::Message(_))));
    }

    #[test]
    fn byte_by_byte_arrival_frames_correctly() {
        let mut f = StreamFramer::new();
        let mut got = Vec::new();
        for b in OPT.iter().chain(OPT.iter()) {
            f.push(&[*b]);
            while let Some(item) = f.next_item() {
                got.push(item);
            }
        }
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got
            .iter()
            .all(|i| matches!(i, StreamItem::Message(m) if m == OPT)));
    }

    #[test]
    fn oversized_header_section_is_fatal() {
        let mut f = StreamFramer::new();
        f.push(&vec![b'a'; MAX_MESSAGE_SIZE + 10]);
        assert!(matches!(f.next_item(), Some(StreamItem::Error(e)) if e.fatal_to_stream));
    }
}
