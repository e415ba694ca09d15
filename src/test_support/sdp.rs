//! Session descriptions the peers of a test offer and answer, and reading
//! back the ones the core wrote.

use std::net::SocketAddr;

use crate::media::sdp::{Direction, SessionDescription};

/// An audio offer or answer of a peer that wants its RTP at `rtp`
/// (`ip:port`): `formats` on the m= line (0 PCMU, 8 PCMA, 96-127
/// telephone-event) with their rtpmaps, and `direction` ("sendrecv",
/// "sendonly", ...).
#[track_caller]
pub fn sdp(rtp: &str, formats: &str, direction: &str) -> String {
    let rtp: SocketAddr = rtp.parse().expect("ip:port");
    let mut s = format!(
        "v=0\r\no=peer 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {formats}\r\n",
        ip = rtp.ip(),
        port = rtp.port()
    );
    for pt in formats.split_whitespace() {
        let map = match pt {
            "0" => "PCMU/8000",
            "8" => "PCMA/8000",
            _ => "telephone-event/8000",
        };
        s.push_str(&format!("a=rtpmap:{pt} {map}\r\n"));
    }
    s.push_str(&format!("a={direction}\r\n"));
    s
}

/// What a body the core wrote says of its first audio stream.
#[derive(Debug, PartialEq, Eq)]
pub struct Audio {
    /// Where its sender wants the RTP (c= and m=).
    pub rtp: SocketAddr,
    /// The payload types, in order.
    pub formats: Vec<String>,
    pub direction: Direction,
}

/// Reads the first audio stream of `body`.
#[track_caller]
pub fn audio(body: &str) -> Audio {
    let sd = SessionDescription::parse(body.as_bytes())
        .unwrap_or_else(|e| panic!("the core wrote bad SDP ({e}):\n{body}"));
    let i = sd
        .media
        .iter()
        .position(|m| m.kind == "audio")
        .unwrap_or_else(|| panic!("no audio stream:\n{body}"));
    Audio {
        rtp: SocketAddr::new(sd.media_address(i).expect("c="), sd.media[i].port),
        formats: sd.media[i].formats.clone(),
        direction: sd.direction(i),
    }
}
