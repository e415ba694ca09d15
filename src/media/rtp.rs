//! RTP and RTCP packets (RFC 3550): read and rewritten in place in the
//! receive buffer, so relaying a packet allocates nothing.

/// Why bytes are not an RTP packet the relay can handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RtpError {
    TooShort,
    NotVersion2,
    /// CSRC list, extension or padding run past the end.
    BadLength,
}

/// The fixed header's fields and where the payload lies, read from a
/// buffer without copying it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpHeader {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    /// Payload bytes are `packet[payload_start..payload_end]`.
    pub payload_start: usize,
    pub payload_end: usize,
}

const FIXED: usize = 12;

impl RtpHeader {
    pub fn parse(p: &[u8]) -> Result<RtpHeader, RtpError> {
        if p.len() < FIXED {
            return Err(RtpError::TooShort);
        }
        if p[0] >> 6 != 2 {
            return Err(RtpError::NotVersion2);
        }
        let csrc = usize::from(p[0] & 0x0f);
        let mut start = FIXED + 4 * csrc;
        if p.len() < start {
            return Err(RtpError::BadLength);
        }
        if p[0] & 0x10 != 0 {
            // Extension: 16-bit profile, 16-bit length in 32-bit words.
            if p.len() < start + 4 {
                return Err(RtpError::BadLength);
            }
            let words = usize::from(u16::from_be_bytes([p[start + 2], p[start + 3]]));
            start += 4 + 4 * words;
            if p.len() < start {
                return Err(RtpError::BadLength);
            }
        }
        let mut end = p.len();
        if p[0] & 0x20 != 0 {
            let pad = usize::from(p[end - 1]);
            if pad == 0 || end - start < pad {
                return Err(RtpError::BadLength);
            }
            end -= pad;
        }
        Ok(RtpHeader {
            marker: p[1] & 0x80 != 0,
            payload_type: p[1] & 0x7f,
            sequence: u16::from_be_bytes([p[2], p[3]]),
            timestamp: u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
            ssrc: u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
            payload_start: start,
            payload_end: end,
        })
    }
}

/// In-place rewriting of a packet `RtpHeader::parse` accepted (at least the
/// 12-byte fixed header: callers check that first).
pub fn set_payload_type(p: &mut [u8], pt: u8) {
    if p.len() >= FIXED {
        p[1] = (p[1] & 0x80) | (pt & 0x7f);
    }
}

pub fn set_sequence(p: &mut [u8], seq: u16) {
    if p.len() >= FIXED {
        p[2..4].copy_from_slice(&seq.to_be_bytes());
    }
}

pub fn set_timestamp(p: &mut [u8], ts: u32) {
    if p.len() >= FIXED {
        p[4..8].copy_from_slice(&ts.to_be_bytes());
    }
}

pub fn set_ssrc(p: &mut [u8], ssrc: u32) {
    if p.len() >= FIXED {
        p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    }
}

/// Writes a fixed 12-byte header (no CSRC, extension or padding) into
/// `out`, returning its length, or None when `out` is too small.
pub fn write_header(
    out: &mut [u8],
    marker: bool,
    pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
) -> Option<usize> {
    let h = out.get_mut(..FIXED)?;
    h[0] = 0x80;
    h[1] = (u8::from(marker) << 7) | (pt & 0x7f);
    h[2..4].copy_from_slice(&seq.to_be_bytes());
    h[4..8].copy_from_slice(&ts.to_be_bytes());
    h[8..12].copy_from_slice(&ssrc.to_be_bytes());
    Some(FIXED)
}

/// RTCP when RTP and RTCP share a port (RFC 5761 §4): packet types
/// 192-223 are RTCP, which RTP payload types 64-95 with the marker set
/// would collide with, and those are not used.
pub fn is_rtcp(p: &[u8]) -> bool {
    p.len() >= 8 && p[0] >> 6 == 2 && (192..=223).contains(&p[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(first: u8, second: u8, extra: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut p = vec![
            first, second, 0x12, 0x34, 0, 0, 0x03, 0x20, 0xde, 0xad, 0xbe, 0xef,
        ];
        p.extend_from_slice(extra);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn reads_the_fixed_header_and_the_payload_bounds() {
        let p = packet(0x80, 0x80, &[], &[0xff; 160]);
        let h = RtpHeader::parse(&p).unwrap();
        assert_eq!(
            h,
            RtpHeader {
                marker: true,
                payload_type: 0,
                sequence: 0x1234,
                timestamp: 800,
                ssrc: 0xdeadbeef,
                payload_start: 12,
                payload_end: 172,
            }
        );
    }

    #[test]
    fn csrc_extension_and_padding_are_skipped_or_refused() {
        // Two CSRCs, an extension of one word, 3 bytes of padding.
        let mut extra = vec![0u8; 8];
        extra.extend_from_slice(&[0xbe, 0xde, 0x00, 0x01, 1, 2, 3, 4]);
        let mut p = packet(0xb2, 101, &extra, &[9, 9, 9, 9]);
        p.extend_from_slice(&[0, 0, 3]);
        let h = RtpHeader::parse(&p).unwrap();
        assert_eq!(
            (h.payload_start, h.payload_end),
            (12 + 8 + 8, 12 + 8 + 8 + 4)
        );
        let rows: Vec<(Vec<u8>, RtpError)> = vec![
            (vec![0x80; 11], RtpError::TooShort),
            (packet(0x40, 0, &[], &[1]), RtpError::NotVersion2),
            (packet(0x8f, 0, &[], &[1, 2]), RtpError::BadLength),
            (
                packet(0x90, 0, &[0xbe, 0xde, 0, 9], &[]),
                RtpError::BadLength,
            ),
            (packet(0xa0, 0, &[], &[1, 0, 200]), RtpError::BadLength),
            (packet(0xa0, 0, &[], &[1, 0, 0]), RtpError::BadLength),
        ];
        for (bytes, e) in rows {
            assert_eq!(RtpHeader::parse(&bytes), Err(e), "{bytes:02x?}");
        }
    }

    #[test]
    fn rewrites_in_place() {
        let mut p = packet(0x80, 0x80 | 101, &[], &[1, 2, 3, 4]);
        set_payload_type(&mut p, 96);
        set_sequence(&mut p, 7);
        set_timestamp(&mut p, 0x0102_0304);
        set_ssrc(&mut p, 42);
        let h = RtpHeader::parse(&p).unwrap();
        assert_eq!(
            (h.marker, h.payload_type, h.sequence, h.timestamp, h.ssrc),
            (true, 96, 7, 0x0102_0304, 42)
        );
        let mut buf = [0u8; 12];
        assert_eq!(write_header(&mut buf, false, 8, 1, 2, 3), Some(12));
        let h = RtpHeader::parse(&buf).unwrap();
        assert_eq!(
            (h.marker, h.payload_type, h.sequence, h.timestamp, h.ssrc),
            (false, 8, 1, 2, 3)
        );
        assert_eq!(write_header(&mut [0u8; 11], false, 8, 1, 2, 3), None);
    }

    #[test]
    fn rtcp_is_told_from_rtp() {
        assert!(is_rtcp(&[0x80, 200, 0, 6, 0, 0, 0, 1]));
        assert!(is_rtcp(&[0x81, 201, 0, 7, 0, 0, 0, 1]));
        assert!(!is_rtcp(&packet(0x80, 0, &[], &[0; 160])));
        assert!(!is_rtcp(&packet(0x80, 0x80 | 101, &[], &[0; 4])));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = fastrand::Rng::with_seed(3550);
        for _ in 0..100_000 {
            let len = rng.usize(0..64);
            let b: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            if let Ok(h) = RtpHeader::parse(&b) {
                assert!(h.payload_start <= h.payload_end && h.payload_end <= b.len());
            }
        }
    }
}
