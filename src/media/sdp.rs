//! SDP (RFC 4566) and the offer/answer rules of RFC 3264 the gateway needs.
//!
//! Parsing keeps every line it does not interpret, in order, so that a
//! description written back differs from the one received only where the
//! gateway changed it (addresses, ports, formats).

use std::fmt::Write as _;
use std::net::IpAddr;

/// Bodies larger than this are refused: a voice call's SDP is well under
/// 2 KiB, and the parser must not be a memory amplifier.
pub const MAX_SDP_SIZE: usize = 16 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("SDP line {line}: {problem}")]
pub struct SdpError {
    /// 1-based line number (0: the body as a whole).
    pub line: usize,
    pub problem: String,
}

fn err(line: usize, problem: impl Into<String>) -> SdpError {
    SdpError {
        line,
        problem: problem.into(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    fn parse(s: &str) -> Option<Direction> {
        Some(match s {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }

    /// The direction an answer takes for this offered one (RFC 3264 §6.1).
    pub fn answer(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }
}

/// `o=<username> <sess-id> <sess-version> IN <addrtype> <address>`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    pub session_id: String,
    pub session_version: u64,
    pub address_type: String,
    pub address: String,
}

/// `c=IN IP4 <address>` (no multicast TTL: a gateway leg is unicast).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connection {
    pub address: IpAddr,
}

impl Connection {
    fn parse(v: &str, line: usize) -> Result<Connection, SdpError> {
        let mut it = v.split_ascii_whitespace();
        let (net, kind, addr) = (it.next(), it.next(), it.next());
        if net != Some("IN") {
            return Err(err(line, format!("c= network type must be IN, got '{v}'")));
        }
        let addr = addr.ok_or_else(|| err(line, "c= has no address"))?;
        // "224.2.1.1/127" (multicast TTL) is not for a unicast call leg.
        let address: IpAddr = addr
            .parse()
            .map_err(|_| err(line, format!("c= address '{addr}' is not an IP address")))?;
        match (kind, address) {
            (Some("IP4"), IpAddr::V4(_)) | (Some("IP6"), IpAddr::V6(_)) => {}
            _ => {
                return Err(err(
                    line,
                    format!("c= address type does not match '{addr}'"),
                ))
            }
        }
        Ok(Connection { address })
    }

    fn write(&self, out: &mut String) {
        let kind = if self.address.is_ipv4() { "IP4" } else { "IP6" };
        let _ = write!(out, "c=IN {kind} {}\r\n", self.address);
    }
}

/// An `a=` line: `name` or `name:value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub value: Option<String>,
}

/// `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtpMap {
    pub payload_type: u8,
    pub encoding: String,
    pub clock_rate: u32,
    pub channels: Option<u8>,
}

/// A line kept as received (i=, u=, e=, p=, b=, z=, k=, r=, t= ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub kind: char,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Media {
    /// "audio", "video", ...
    pub kind: String,
    /// 0 = rejected or disabled stream (RFC 3264 §6).
    pub port: u16,
    pub port_count: Option<u16>,
    /// "RTP/AVP", "RTP/SAVP", ...
    pub proto: String,
    /// Payload types for RTP profiles, as text.
    pub formats: Vec<String>,
    /// Lines before `c=` (i=), kept.
    pub info: Vec<Line>,
    pub connection: Option<Connection>,
    /// b=, k= lines, kept.
    pub other: Vec<Line>,
    pub attributes: Vec<Attribute>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionDescription {
    pub origin: Origin,
    pub session_name: String,
    /// i=, u=, e=, p= lines between s= and c=, kept.
    pub info: Vec<Line>,
    pub connection: Option<Connection>,
    /// b=, t=, r=, z=, k= lines, kept in order.
    pub timing: Vec<Line>,
    pub attributes: Vec<Attribute>,
    pub media: Vec<Media>,
}

impl Attribute {
    fn parse(v: &str) -> Attribute {
        match v.split_once(':') {
            Some((n, val)) => Attribute {
                name: n.to_string(),
                value: Some(val.to_string()),
            },
            None => Attribute {
                name: v.to_string(),
                value: None,
            },
        }
    }
}

fn find_attr<'a>(attrs: &'a [Attribute], name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    attrs
        .iter()
        .filter(move |a| a.name.eq_ignore_ascii_case(name))
        .filter_map(|a| a.value.as_deref())
}

fn direction_of(attrs: &[Attribute]) -> Option<Direction> {
    attrs
        .iter()
        .filter(|a| a.value.is_none())
        .find_map(|a| Direction::parse(&a.name))
}

impl Media {
    /// rtpmap attributes, plus the static payload types RFC 3551 defines
    /// for the formats that have none (0 PCMU, 8 PCMA, ...).
    pub fn rtpmaps(&self) -> Vec<RtpMap> {
        let mut maps: Vec<RtpMap> = find_attr(&self.attributes, "rtpmap")
            .filter_map(parse_rtpmap)
            .collect();
        for f in &self.formats {
            let Ok(pt) = f.parse::<u8>() else { continue };
            if maps.iter().any(|m| m.payload_type == pt) {
                continue;
            }
            if let Some((enc, clock)) = static_payload(pt) {
                maps.push(RtpMap {
                    payload_type: pt,
                    encoding: enc.to_string(),
                    clock_rate: clock,
                    channels: None,
                });
            }
        }
        maps
    }

    /// The payload type of `encoding`/`clock` among the offered formats,
    /// in the order offered.
    pub fn payload_type_of(&self, encoding: &str, clock: u32) -> Option<u8> {
        let maps = self.rtpmaps();
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .find(|pt| {
                maps.iter().any(|m| {
                    m.payload_type == *pt
                        && m.encoding.eq_ignore_ascii_case(encoding)
                        && m.clock_rate == clock
                })
            })
    }

    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        find_attr(&self.attributes, "fmtp").find_map(|v| {
            let (p, rest) = v.split_once(' ')?;
            (p.parse::<u8>().ok()? == pt).then_some(rest.trim())
        })
    }

    pub fn ptime(&self) -> Option<u32> {
        find_attr(&self.attributes, "ptime").find_map(|v| v.trim().parse().ok())
    }

    /// The media-level direction, if any (else the session's applies).
    pub fn direction(&self) -> Option<Direction> {
        direction_of(&self.attributes)
    }

    /// Replaces (or adds) the direction attribute.
    pub fn set_direction(&mut self, d: Direction) {
        self.attributes
            .retain(|a| !(a.value.is_none() && Direction::parse(&a.name).is_some()));
        self.attributes.push(Attribute {
            name: d.as_str().to_string(),
            value: None,
        });
    }
}

impl SessionDescription {
    pub fn parse(body: &[u8]) -> Result<SessionDescription, SdpError> {
        if body.len() > MAX_SDP_SIZE {
            return Err(err(
                0,
                format!("{} bytes is more than {MAX_SDP_SIZE}", body.len()),
            ));
        }
        let text = std::str::from_utf8(body).map_err(|_| err(0, "not UTF-8 text"))?;
        let mut lines = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .filter(|(_, l)| !l.is_empty())
            .peekable();
        let mut take = |want: char| -> Result<(usize, &str), SdpError> {
            match lines.next() {
                Some((n, l)) => {
                    let (k, v) = split_line(l, n)?;
                    if k != want {
                        return Err(err(n, format!("expected {want}= here, found {k}=")));
                    }
                    Ok((n, v))
                }
                None => Err(err(0, format!("{want}= line missing"))),
            }
        };
        let (n, v) = take('v')?;
        if v != "0" {
            return Err(err(n, format!("unsupported SDP version '{v}'")));
        }
        let (n, o) = take('o')?;
        let origin = parse_origin(o, n)?;
        let (_, s) = take('s')?;
        let session_name = s.to_string();
        let mut sd = SessionDescription {
            origin,
            session_name,
            info: Vec::new(),
            connection: None,
            timing: Vec::new(),
            attributes: Vec::new(),
            media: Vec::new(),
        };
        let mut saw_t = false;
        for (n, l) in lines {
            let (k, v) = split_line(l, n)?;
            let current = sd.media.last_mut();
            match (k, current) {
                ('m', _) => sd.media.push(parse_media(v, n)?),
                ('c', None) => sd.connection = Some(Connection::parse(v, n)?),
                ('c', Some(m)) => m.connection = Some(Connection::parse(v, n)?),
                ('a', None) => sd.attributes.push(Attribute::parse(v)),
                ('a', Some(m)) => m.attributes.push(Attribute::parse(v)),
                ('i', Some(m)) => m.info.push(Line {
                    kind: k,
                    value: v.into(),
                }),
                ('b' | 'k', Some(m)) => m.other.push(Line {
                    kind: k,
                    value: v.into(),
                }),
                ('i' | 'u' | 'e' | 'p', None) => sd.info.push(Line {
                    kind: k,
                    value: v.into(),
                }),
                ('t' | 'r' | 'z' | 'b' | 'k', None) => {
                    saw_t |= k == 't';
                    sd.timing.push(Line {
                        kind: k,
                        value: v.into(),
                    })
                }
                (k, _) => return Err(err(n, format!("'{k}=' is not allowed here"))),
            }
        }
        if !saw_t {
            return Err(err(0, "t= line missing"));
        }
        for (i, m) in sd.media.iter().enumerate() {
            if m.connection.is_none() && sd.connection.is_none() && m.port != 0 {
                return Err(err(
                    0,
                    format!("media {} has no c= line and the session has none", i + 1),
                ));
            }
        }
        Ok(sd)
    }

    /// The address media `index` is to be sent to (media c= over session c=).
    pub fn media_address(&self, index: usize) -> Option<IpAddr> {
        let m = self.media.get(index)?;
        m.connection.or(self.connection).map(|c| c.address)
    }

    /// The effective direction of media `index` (media over session,
    /// sendrecv by default).
    pub fn direction(&self, index: usize) -> Direction {
        self.media
            .get(index)
            .and_then(Media::direction)
            .or_else(|| direction_of(&self.attributes))
            .unwrap_or(Direction::SendRecv)
    }

    /// Points every stream at `address` (one c= at session level) and
    /// renames the origin's address, as a media anchor does.
    pub fn set_address(&mut self, address: IpAddr) {
        self.connection = Some(Connection { address });
        for m in &mut self.media {
            m.connection = None;
        }
        self.origin.address_type = if address.is_ipv4() { "IP4" } else { "IP6" }.into();
        self.origin.address = address.to_string();
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(512);
        let o = &self.origin;
        let _ = write!(
            out,
            "v=0\r\no={} {} {} IN {} {}\r\ns={}\r\n",
            o.username,
            o.session_id,
            o.session_version,
            o.address_type,
            o.address,
            self.session_name
        );
        write_section(
            &self.info,
            self.connection.as_ref(),
            &self.timing,
            &self.attributes,
            &mut out,
        );
        for m in &self.media {
            let _ = write!(out, "m={} {}", m.kind, m.port);
            if let Some(n) = m.port_count {
                let _ = write!(out, "/{n}");
            }
            let _ = write!(out, " {}", m.proto);
            for f in &m.formats {
                let _ = write!(out, " {f}");
            }
            out.push_str("\r\n");
            write_section(
                &m.info,
                m.connection.as_ref(),
                &m.other,
                &m.attributes,
                &mut out,
            );
        }
        out.into_bytes()
    }
}

/// What follows the s= line of a session and the m= line of a stream, in
/// the same order at both levels (RFC 4566 §5): i= lines, c=, the other
/// kept lines (b=, t=, k= ...), a= lines.
fn write_section(
    info: &[Line],
    connection: Option<&Connection>,
    lines: &[Line],
    attributes: &[Attribute],
    out: &mut String,
) {
    write_lines(info, out);
    if let Some(c) = connection {
        c.write(out);
    }
    write_lines(lines, out);
    write_attrs(attributes, out);
}

fn write_lines(lines: &[Line], out: &mut String) {
    for l in lines {
        let _ = write!(out, "{}={}\r\n", l.kind, l.value);
    }
}

fn write_attrs(attrs: &[Attribute], out: &mut String) {
    for a in attrs {
        match &a.value {
            Some(v) => {
                let _ = write!(out, "a={}:{v}\r\n", a.name);
            }
            None => {
                let _ = write!(out, "a={}\r\n", a.name);
            }
        }
    }
}

fn split_line(l: &str, n: usize) -> Result<(char, &str), SdpError> {
    let b = l.as_bytes();
    if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_lowercase() {
        return Err(err(
            n,
            format!("'{}' is not a <type>=<value> line", truncate(l)),
        ));
    }
    if l.bytes().any(|c| c < 0x20 && c != b'\t') {
        return Err(err(n, "control character in line"));
    }
    Ok((b[0] as char, &l[2..]))
}

fn truncate(s: &str) -> &str {
    let mut end = s.len().min(40);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn parse_origin(v: &str, n: usize) -> Result<Origin, SdpError> {
    let f: Vec<&str> = v.split_ascii_whitespace().collect();
    if f.len() != 6 || f[3] != "IN" {
        return Err(err(
            n,
            format!(
                "o= needs '<user> <id> <version> IN <IP4|IP6> <address>', got '{}'",
                truncate(v)
            ),
        ));
    }
    let session_version = f[2]
        .parse()
        .map_err(|_| err(n, format!("o= session version '{}' is not a number", f[2])))?;
    Ok(Origin {
        username: f[0].into(),
        session_id: f[1].into(),
        session_version,
        address_type: f[4].into(),
        address: f[5].into(),
    })
}

fn parse_media(v: &str, n: usize) -> Result<Media, SdpError> {
    let mut it = v.split_ascii_whitespace();
    let kind = it.next().ok_or_else(|| err(n, "m= is empty"))?;
    let ports = it.next().ok_or_else(|| err(n, "m= has no port"))?;
    let proto = it
        .next()
        .ok_or_else(|| err(n, "m= has no transport protocol"))?;
    let (port, port_count) = match ports.split_once('/') {
        Some((p, c)) => (p, Some(c)),
        None => (ports, None),
    };
    let port: u16 = port
        .parse()
        .map_err(|_| err(n, format!("m= port '{port}' is not a number 0-65535")))?;
    let port_count = port_count
        .map(|c| {
            c.parse::<u16>()
                .map_err(|_| err(n, format!("m= port count '{c}' is not a number")))
        })
        .transpose()?;
    let formats: Vec<String> = it.map(str::to_string).collect();
    if formats.is_empty() {
        return Err(err(n, "m= lists no formats"));
    }
    if proto.starts_with("RTP/")
        && formats
            .iter()
            .any(|f| f.parse::<u8>().map_or(true, |p| p > 127))
    {
        return Err(err(
            n,
            "an RTP m= line's formats must be payload types 0-127",
        ));
    }
    Ok(Media {
        kind: kind.into(),
        port,
        port_count,
        proto: proto.into(),
        formats,
        info: Vec::new(),
        connection: None,
        other: Vec::new(),
        attributes: Vec::new(),
    })
}

fn parse_rtpmap(v: &str) -> Option<RtpMap> {
    let (pt, rest) = v.trim().split_once(' ')?;
    let mut parts = rest.trim().split('/');
    let encoding = parts.next()?.to_string();
    let clock_rate = parts.next()?.parse().ok()?;
    let channels = parts.next().and_then(|c| c.parse().ok());
    Some(RtpMap {
        payload_type: pt.parse().ok()?,
        encoding,
        clock_rate,
        channels,
    })
}

/// RFC 3551 static audio payload types the gateway may meet without rtpmap.
fn static_payload(pt: u8) -> Option<(&'static str, u32)> {
    Some(match pt {
        0 => ("PCMU", 8000),
        3 => ("GSM", 8000),
        4 => ("G723", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        13 => ("CN", 8000),
        18 => ("G729", 8000),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWILIO_LIKE: &str = "v=0\r\n\
o=root 1799181034 1799181034 IN IP4 54.172.60.1\r\n\
s=Twilio Media Gateway\r\n\
c=IN IP4 54.172.60.1\r\n\
t=0 0\r\n\
m=audio 12488 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

    #[test]
    fn parses_a_cloud_offer_and_writes_it_back_unchanged() {
        let sd = SessionDescription::parse(TWILIO_LIKE.as_bytes()).unwrap();
        assert_eq!(sd.origin.session_version, 1799181034);
        assert_eq!(sd.media.len(), 1);
        let m = &sd.media[0];
        assert_eq!(
            (m.kind.as_str(), m.port, m.proto.as_str()),
            ("audio", 12488, "RTP/AVP")
        );
        assert_eq!(m.payload_type_of("PCMU", 8000), Some(0));
        assert_eq!(m.payload_type_of("telephone-event", 8000), Some(101));
        assert_eq!(m.payload_type_of("PCMA", 8000), None);
        assert_eq!(m.fmtp(101), Some("0-16"));
        assert_eq!(m.ptime(), Some(20));
        assert_eq!(sd.direction(0), Direction::SendRecv);
        assert_eq!(sd.media_address(0), Some("54.172.60.1".parse().unwrap()));
        assert_eq!(String::from_utf8(sd.to_bytes()).unwrap(), TWILIO_LIKE);
    }

    /// i=, c=, b=, k= and a= lines at the session and the stream level
    /// come back in their places (RFC 4566 §5 order).
    #[test]
    fn kept_lines_at_both_levels_are_written_back_in_order() {
        let text = "v=0\r\n\
o=- 1 2 IN IP4 192.0.2.1\r\n\
s=call\r\n\
i=session info\r\n\
u=http://example.com/s\r\n\
c=IN IP4 192.0.2.1\r\n\
b=AS:64\r\n\
t=0 0\r\n\
a=tool:x\r\n\
m=audio 4000 RTP/AVP 0\r\n\
i=stream info\r\n\
c=IN IP6 2001:db8::1\r\n\
b=AS:80\r\n\
k=prompt\r\n\
a=sendonly\r\n\
m=audio 0/2 RTP/AVP 8\r\n\
a=rtpmap:8 PCMA/8000\r\n";
        let sd = SessionDescription::parse(text.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(sd.to_bytes()).unwrap(), text);
    }

    #[test]
    fn static_payload_types_need_no_rtpmap_and_lf_only_is_accepted() {
        let body = "v=0\no=- 1 2 IN IP6 ::1\ns=-\nt=0 0\nm=audio 4000 RTP/AVP 8 0\nc=IN IP6 2001:db8::5\na=sendonly\n";
        let sd = SessionDescription::parse(body.as_bytes()).unwrap();
        let m = &sd.media[0];
        assert_eq!(m.payload_type_of("PCMA", 8000), Some(8));
        assert_eq!(m.payload_type_of("pcmu", 8000), Some(0));
        assert_eq!(sd.direction(0), Direction::SendOnly);
        assert_eq!(sd.direction(0).answer(), Direction::RecvOnly);
        assert_eq!(sd.media_address(0), Some("2001:db8::5".parse().unwrap()));
    }

    #[test]
    fn rewriting_the_address_and_direction() {
        let mut sd = SessionDescription::parse(TWILIO_LIKE.as_bytes()).unwrap();
        sd.set_address("192.0.2.10".parse().unwrap());
        sd.media[0].port = 30000;
        sd.media[0].set_direction(Direction::SendOnly);
        let text = String::from_utf8(sd.to_bytes()).unwrap();
        assert!(text.contains("o=root 1799181034 1799181034 IN IP4 192.0.2.10\r\n"));
        assert!(text.contains("c=IN IP4 192.0.2.10\r\n"));
        assert!(text.contains("m=audio 30000 RTP/AVP 0 101\r\n"));
        assert!(text.contains("a=sendonly\r\n") && !text.contains("a=sendrecv"));
        let again = SessionDescription::parse(text.as_bytes()).unwrap();
        assert_eq!(again, sd);
    }

    #[test]
    fn bad_descriptions_are_refused_with_the_line_and_the_reason() {
        let base = |m: &str| {
            format!("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n{m}")
        };
        let rows: Vec<(String, usize, &str)> = vec![
            ("".into(), 0, "v= line missing"),
            ("v=1\r\n".into(), 1, "version"),
            ("v=0\r\ns=-\r\n".into(), 2, "expected o="),
            (
                "v=0\r\no=- x y IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n".into(),
                2,
                "session version",
            ),
            (
                "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n".into(),
                0,
                "t= line missing",
            ),
            (base("m=audio 99999 RTP/AVP 0\r\n"), 6, "port"),
            (base("m=audio 4000 RTP/AVP\r\n"), 6, "no formats"),
            (base("m=audio 4000 RTP/AVP 0 200\r\n"), 6, "payload types"),
            (
                base("m=audio 4000 RTP/AVP 0\r\nc=IN IP4 nope\r\n"),
                7,
                "not an IP address",
            ),
            (
                base("m=audio 4000 RTP/AVP 0\r\nc=IN IP6 192.0.2.1\r\n"),
                7,
                "does not match",
            ),
            (
                base("m=audio 4000 RTP/AVP 0\r\nx\r\n"),
                7,
                "not a <type>=<value>",
            ),
            (
                base("m=audio 4000 RTP/AVP 0\r\ns=again\r\n"),
                7,
                "not allowed",
            ),
            (
                "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
                    .into(),
                0,
                "no c= line",
            ),
        ];
        for (body, line, words) in rows {
            let e = SessionDescription::parse(body.as_bytes()).expect_err(&body);
            assert_eq!(e.line, line, "{body:?}: {e}");
            assert!(e.to_string().contains(words), "{body:?}: {e}");
        }
        let big = vec![b'a'; MAX_SDP_SIZE + 1];
        assert!(SessionDescription::parse(&big).is_err());
        assert!(SessionDescription::parse(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = fastrand::Rng::with_seed(4566);
        let seed = TWILIO_LIKE.as_bytes();
        for _ in 0..20_000 {
            let mut b = seed.to_vec();
            for _ in 0..rng.usize(1..6) {
                let i = rng.usize(..b.len());
                match rng.u8(..3) {
                    0 => b[i] = rng.u8(..),
                    1 => {
                        b.remove(i);
                    }
                    _ => b.insert(i, rng.u8(..)),
                }
            }
            if let Ok(sd) = SessionDescription::parse(&b) {
                // What parses writes back to something that parses the same.
                let again = SessionDescription::parse(&sd.to_bytes()).expect("round trip");
                assert_eq!(again, sd);
            }
        }
    }
}
