//! A look at a datagram the rate limit would drop: an INVITE to an
//! emergency number, or a message of an emergency call in progress, passes.
//! Only the request line and the Call-ID are read, from the raw bytes,
//! with bounded work and no allocation: the point of the rate limit is that
//! a flood costs little, and these run for every datagram over it.

use crate::routing::EmergencyNumbers;

/// The request line is looked for in this many bytes at most. An
/// emergency INVITE's Request-URI is short; a longer line is not one.
const MAX_REQUEST_LINE: usize = 1024;
/// The Call-ID is looked for in this many bytes at most.
const MAX_HEADER_SCAN: usize = 8192;

/// Whether `datagram` starts with `INVITE <uri> SIP/2.0` where the URI's
/// user part (a `tel:` URI's number) is one of `numbers`.
pub fn is_emergency_invite(datagram: &[u8], numbers: &EmergencyNumbers) -> bool {
    if numbers.is_empty() {
        return false;
    }
    let Some(line) = first_line(datagram) else {
        return false;
    };
    // RFC 3261 §7.1: Method SP Request-URI SP SIP-Version; the method is
    // case-sensitive, the version is not.
    let Some(rest) = line.strip_prefix(b"INVITE ") else {
        return false;
    };
    let Some(sp) = rest.iter().position(|&b| b == b' ') else {
        return false;
    };
    let (uri, version) = (&rest[..sp], &rest[sp + 1..]);
    if !version.eq_ignore_ascii_case(b"SIP/2.0") {
        return false;
    }
    uri_user(uri).is_some_and(|user| numbers.number_of(user).is_some())
}

/// The Call-ID of a SIP message (by its full or compact name, RFC 3261
/// §7.3.3), trimmed; None when it is not in the first headers.
pub fn call_id(message: &[u8]) -> Option<&str> {
    let head = &message[..message.len().min(MAX_HEADER_SCAN)];
    // The first line is the start line, never a header.
    let mut lines = head.split(|&b| b == b'\n').skip(1);
    lines.find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&b| b == b':')?;
        let name = line[..colon].trim_ascii();
        if !(name.eq_ignore_ascii_case(b"call-id") || name.eq_ignore_ascii_case(b"i")) {
            return None;
        }
        let value = std::str::from_utf8(line[colon + 1..].trim_ascii()).ok()?;
        (!value.is_empty()).then_some(value)
    })
}

/// The request line without its CRLF, when one ends within the bound.
/// RFC 3261 §7.5: CRLFs before the start line are ignored.
fn first_line(datagram: &[u8]) -> Option<&[u8]> {
    let skip = datagram
        .iter()
        .take(MAX_REQUEST_LINE)
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let datagram = &datagram[skip..];
    let head = &datagram[..datagram.len().min(MAX_REQUEST_LINE)];
    let end = head.iter().position(|&b| b == b'\r' || b == b'\n')?;
    Some(&head[..end])
}

/// The user part of a `sip:`/`sips:` URI (up to its '@'; RFC 3261 §19.1.1
/// has no unescaped '@' after it), or the number of a `tel:` URI.
fn uri_user(uri: &[u8]) -> Option<&[u8]> {
    let colon = uri.iter().position(|&b| b == b':')?;
    let (scheme, rest) = (&uri[..colon], &uri[colon + 1..]);
    if scheme.eq_ignore_ascii_case(b"sip") || scheme.eq_ignore_ascii_case(b"sips") {
        let at = rest.iter().position(|&b| b == b'@')?;
        Some(&rest[..at])
    } else if scheme.eq_ignore_ascii_case(b"tel") {
        Some(rest)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EmergencyConfig;
    use crate::test_support::noise;

    fn numbers() -> EmergencyNumbers {
        EmergencyNumbers::new(&EmergencyConfig::default())
    }

    fn invite(ruri: &str) -> Vec<u8> {
        format!(
            "INVITE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1\r\n\
             Call-ID: e1@10.0.0.5\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    /// What `f` says of each datagram is the row's answer.
    fn each<'a, T: PartialEq + std::fmt::Debug>(rows: &[(&'a [u8], T)], f: impl Fn(&'a [u8]) -> T) {
        for (bytes, expected) in rows {
            let text = String::from_utf8_lossy(bytes);
            assert_eq!(f(bytes), *expected, "{text}");
        }
    }

    #[test]
    fn invites_to_emergency_numbers_are_recognised() {
        // INVITEs by their Request-URI: (URIs, emergencies?)
        let emergencies = [
            "sip:112@10.0.0.1",
            "sip:+112@10.0.0.1;user=phone",
            "sip:9-1-1@10.0.0.1:5080",
            "SIP:(999)@gw",
            "sips:000@gw",
            "tel:110",
            "sip:112;phone-context=+49@gw",
            "sip:1%2012@gw",
        ];
        let others = [
            "sip:1120@10.0.0.1",
            "sip:9110@10.0.0.1",
            "sip:+18885551234@10.0.0.1",
            "sip:10.0.0.1",
            "sip:gw;x=112@",
            "mailto:112@example.com",
            "112",
        ];
        for (ruris, expected) in [(&emergencies[..], true), (&others[..], false)] {
            for ruri in ruris {
                let invite = invite(ruri);
                assert_eq!(is_emergency_invite(&invite, &numbers()), expected, "{ruri}");
            }
        }
        // Whole datagrams: line ends, a version in lower case, leading
        // CRLFs; other methods, or not a request line.
        let rows: &[(&[u8], bool)] = &[
            (b"INVITE sip:112@gw SIP/2.0\n\n", true),
            (b"INVITE sip:112@gw sip/2.0\r\n", true),
            (b"\r\n\r\nINVITE sip:112@gw SIP/2.0\r\n", true),
            (b"OPTIONS sip:112@gw SIP/2.0\r\n\r\n", false),
            (b"invite sip:112@gw SIP/2.0\r\n\r\n", false),
            (b"ACK sip:112@gw SIP/2.0\r\n\r\n", false),
            (b"SIP/2.0 200 OK\r\n\r\n", false),
        ];
        each(rows, |bytes| is_emergency_invite(bytes, &numbers()));
        assert!(!is_emergency_invite(
            &invite("sip:112@gw"),
            &EmergencyNumbers::default()
        ));
    }

    #[test]
    fn malformed_request_lines_are_not_emergencies_and_never_panic() {
        let long_uri = format!("sip:112@{}", "a".repeat(MAX_REQUEST_LINE));
        let rows: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"INVITE".to_vec(),
            b"INVITE ".to_vec(),
            b"INVITE sip:112@gw SIP/2.0".to_vec(), // no line end
            b"INVITE sip:112@gw\r\n".to_vec(),
            b"INVITE sip:112@gw  SIP/2.0\r\n".to_vec(),
            b"INVITE  sip:112@gw SIP/2.0\r\n".to_vec(),
            b"INVITE sip:112@gw SIP/2.0 \r\n".to_vec(),
            b"INVITE sip:112@gw SIP/3.0\r\n".to_vec(),
            b"INVITE sip:112 SIP/2.0\r\n".to_vec(),
            b"INVITE : SIP/2.0\r\n".to_vec(),
            b"INVITE sip: SIP/2.0\r\n".to_vec(),
            b"INVITE sip:@ SIP/2.0\r\n".to_vec(),
            b"INVITE sip:%@gw SIP/2.0\r\n".to_vec(),
            b"INVITE sip:11%2@gw SIP/2.0\r\n".to_vec(),
            b"INVITE sip:\xff\xfe@gw SIP/2.0\r\n".to_vec(),
            b"\0\0\0\0".to_vec(),
            vec![0xff; 4096],
            format!("INVITE {long_uri} SIP/2.0\r\n").into_bytes(),
        ];
        for bytes in rows {
            assert!(
                !is_emergency_invite(&bytes, &numbers()),
                "{}",
                String::from_utf8_lossy(&bytes)
            );
        }
        // Every prefix of a real INVITE, and random bytes around "112".
        let real = invite("sip:112@10.0.0.1");
        for n in 0..real.len() {
            let _ = is_emergency_invite(&real[..n], &numbers());
            let _ = call_id(&real[..n]);
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..200 {
            let bytes = noise(&mut seed, len, b"INVITE sip:112@ SIP/2.0\r\n:%;+i\xff");
            let _ = is_emergency_invite(&bytes, &numbers());
            let _ = call_id(&bytes);
        }
    }

    #[test]
    fn call_id_by_full_or_compact_name() {
        let rows: &[(&[u8], Option<&str>)] = &[
            (&invite("sip:112@gw"), Some("e1@10.0.0.5")),
            (
                b"ACK sip:x@gw SIP/2.0\r\nCALL-ID :  abc \r\n\r\n",
                Some("abc"),
            ),
            (b"BYE sip:x@gw SIP/2.0\r\ni:abc\r\n\r\n", Some("abc")),
            (
                b"SIP/2.0 200 OK\r\nVia: x\r\ncall-id: r1\r\n\r\n",
                Some("r1"),
            ),
            (b"BYE sip:x@gw SIP/2.0\r\nCall-ID:\r\n\r\n", None),
            (b"BYE sip:x@gw SIP/2.0\r\nX-Call-ID: no\r\n\r\n", None),
            (b"Call-ID: start-line\r\n\r\n", None),
            (b"", None),
        ];
        each(rows, call_id);
    }
}
