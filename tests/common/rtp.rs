//! RTP as the media tests see it on the wire.

/// RTP packets (UDP payloads) of a pcap file (Ethernet or raw IPv4 frames).
pub fn pcap_rtp(path: &str) -> Vec<Vec<u8>> {
    let d = std::fs::read(path).expect("sipp's pcap (tests/run.sh installs sip-tester)");
    let link = u32::from_le_bytes([d[20], d[21], d[22], d[23]]);
    let mut off = 24;
    let mut out = Vec::new();
    while off + 16 <= d.len() {
        let incl = u32::from_le_bytes([d[off + 8], d[off + 9], d[off + 10], d[off + 11]]) as usize;
        let frame = &d[off + 16..off + 16 + incl];
        off += 16 + incl;
        let ip = if link == 1 { &frame[14..] } else { frame };
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        out.push(ip[ihl + 8..].to_vec());
    }
    out
}
