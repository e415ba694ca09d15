//! Session descriptions the peers of a test offer and answer.

use std::net::SocketAddr;

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
