//! The SDP a local line speaks: G.711 (PCMU, PCMA) and telephone-event,
//! 20 ms, on the line's own RTP socket on the box. Its far end is always
//! the box's media anchor, which adapts whatever the real far end offers.

use std::fmt::Write;
use std::net::SocketAddr;

use crate::media::sdp::SessionDescription;

/// The payload type the line offers telephone-event with (RFC 4733).
pub const EVENT_PT: u8 = 101;

/// The audio a call's line leg sends and takes, as agreed in SDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioStream {
    /// Where the line's RTP goes (the anchor's port for this leg).
    pub remote: SocketAddr,
    /// PCMU (true) or PCMA.
    pub ulaw: bool,
    pub payload_type: u8,
    /// telephone-event, when both sides take it.
    pub event_payload_type: Option<u8>,
}

/// What the line can do, offered or answered.
pub fn line_sdp(
    audio: SocketAddr,
    session: u64,
    version: u64,
    codecs: &[(u8, &str)],
    event_pt: Option<u8>,
) -> Vec<u8> {
    let ip = audio.ip();
    let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
    let mut s = String::with_capacity(300);
    let _ = write!(
        s,
        "v=0\r\no=pbxgate {session} {version} IN {family} {ip}\r\ns=pbxgate line\r\nc=IN {family} {ip}\r\nt=0 0\r\nm=audio {} RTP/AVP",
        audio.port()
    );
    for (pt, _) in codecs {
        let _ = write!(s, " {pt}");
    }
    if let Some(pt) = event_pt {
        let _ = write!(s, " {pt}");
    }
    s.push_str("\r\n");
    for (pt, name) in codecs {
        let _ = write!(s, "a=rtpmap:{pt} {name}/8000\r\n");
    }
    if let Some(pt) = event_pt {
        let _ = write!(
            s,
            "a=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} 0-15\r\n"
        );
    }
    s.push_str("a=ptime:20\r\na=sendrecv\r\n");
    s.into_bytes()
}

/// The line's offer: both laws, and events unless the line's keys stay
/// in-band.
pub fn offer(audio: SocketAddr, session: u64, version: u64, events: bool) -> Vec<u8> {
    line_sdp(
        audio,
        session,
        version,
        &[(0, "PCMU"), (8, "PCMA")],
        events.then_some(EVENT_PT),
    )
}

/// The stream an SDP (an offer to the line, or the answer to its offer)
/// settles on: the first G.711 law it lists, and telephone-event if it has
/// it and `events`. Err says why nothing fits.
pub fn choose(body: &[u8], events: bool) -> Result<AudioStream, String> {
    let sd = SessionDescription::parse(body).map_err(|e| format!("bad SDP: {e}"))?;
    let (index, m) = sd
        .media
        .iter()
        .enumerate()
        .find(|(_, m)| m.kind == "audio" && m.port != 0)
        .ok_or("no audio stream")?;
    if m.proto != "RTP/AVP" {
        return Err(format!(
            "audio profile {} (the line takes RTP/AVP)",
            m.proto
        ));
    }
    let ulaw = m.payload_type_of("PCMU", 8000);
    let alaw = m.payload_type_of("PCMA", 8000);
    let position =
        |pt: Option<u8>| pt.and_then(|pt| m.formats.iter().position(|f| f.parse() == Ok(pt)));
    let (payload_type, is_ulaw) = match (ulaw, alaw) {
        (Some(u), Some(a)) if position(Some(a)) < position(Some(u)) => (a, false),
        (Some(u), _) => (u, true),
        (None, Some(a)) => (a, false),
        (None, None) => return Err("neither PCMU nor PCMA offered".into()),
    };
    let ip = sd.media_address(index).ok_or("no connection address")?;
    Ok(AudioStream {
        remote: SocketAddr::new(ip, m.port),
        ulaw: is_ulaw,
        payload_type,
        event_payload_type: if events {
            m.payload_type_of("telephone-event", 8000)
        } else {
            None
        },
    })
}

/// The line's answer to an offer it accepted as `stream`.
pub fn answer(audio: SocketAddr, session: u64, version: u64, stream: &AudioStream) -> Vec<u8> {
    let name = if stream.ulaw { "PCMU" } else { "PCMA" };
    line_sdp(
        audio,
        session,
        version,
        &[(stream.payload_type, name)],
        stream.event_payload_type,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_offer_parses_and_settles_on_pcmu_with_events() {
        let a: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let o = offer(a, 1, 1, true);
        let s = choose(&o, true).unwrap();
        assert_eq!(s.remote, a);
        assert!(s.ulaw);
        assert_eq!((s.payload_type, s.event_payload_type), (0, Some(101)));
        let without = choose(&offer(a, 1, 1, false), true).unwrap();
        assert_eq!(without.event_payload_type, None);
    }

    #[test]
    fn an_offer_is_answered_with_its_first_law_and_its_event_type() {
        let body = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 18 8 0 96\r\na=rtpmap:96 telephone-event/8000\r\n";
        let s = choose(body, true).unwrap();
        assert!(!s.ulaw, "PCMA comes first");
        assert_eq!((s.payload_type, s.event_payload_type), (8, Some(96)));
        assert_eq!(s.remote, "10.0.0.1:5004".parse().unwrap());
        let a: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let ans = answer(a, 5, 2, &s);
        let back = choose(&ans, true).unwrap();
        assert_eq!((back.payload_type, back.event_payload_type), (8, Some(96)));
        assert!(String::from_utf8_lossy(&ans).contains("o=pbxgate 5 2 IN IP4 127.0.0.1"));
    }

    #[test]
    fn offers_the_line_cannot_take_say_why() {
        let g729 = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 18\r\n";
        assert_eq!(
            choose(g729, true).unwrap_err(),
            "neither PCMU nor PCMA offered"
        );
        let srtp = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 5004 RTP/SAVP 0\r\n";
        assert!(choose(srtp, true).unwrap_err().contains("RTP/SAVP"));
        assert!(choose(b"nonsense", true)
            .unwrap_err()
            .starts_with("bad SDP"));
    }
}
