//! Parse + serialise of a realistic INVITE (SDP body, X-PH-* headers) on one
//! core, measured in CPU time of this thread (not wall time: the machine is
//! shared). rsip's parse of the same bytes is measured beside it.
//!
//! Run: `cargo bench --bench sip_message`

use std::hint::black_box;
use std::time::Duration;

use pbxgate::sip::message::{parse_message, Framing, SipMessage};

mod common;
use common::measure;

const HEAD: &str = "INVITE sip:+18882223333@gw.example.com:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 54.172.60.0:5060;branch=z9hG4bK1f2e3d4c5b6a7980;rport\r\n\
Max-Forwards: 69\r\n\
From: \"Caller Name\" <sip:+15551234567@retreaver.sip.twilio.com>;tag=8a7b6c5d4e\r\n\
To: <sip:+18882223333@gw.example.com>\r\n\
Call-ID: 3c26fe2b6d1a4f0e9a9d0c4e7b2d1f00@54.172.60.0\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:+15551234567@54.172.60.0:5060;transport=udp>\r\n\
Record-Route: <sip:54.172.60.2:5060;lr;twnat=sip:54.172.60.0:5060>\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, UPDATE, REFER, NOTIFY\r\n\
Supported: timer, replaces\r\n\
Session-Expires: 1800;refresher=uac\r\n\
User-Agent: Twilio Gateway\r\n\
X-Twilio-CallSid: CA0123456789abcdef0123456789abcdef\r\n\
X-Twilio-AccountSid: AC0123456789abcdef0123456789abcdef\r\n\
X-PH-RetreaverUUID: 6f1c2b7e-3a9d-4c55-8e21-0b9f4d7a1c33\r\n\
X-PH-RetreaverKey: 9d8c7b6a5f4e3d2c1b0a\r\n\
X-PH-RetreaverAFID: 5678\r\n\
X-PH-RetreaverSID: sub-42\r\n\
X-Campaign-ID: 1234\r\n\
Content-Type: application/sdp\r\n";

const SDP: &str = "v=0\r\n\
o=root 1234567890 1234567890 IN IP4 54.172.60.0\r\n\
s=Twilio Media Gateway\r\n\
c=IN IP4 54.172.60.10\r\n\
t=0 0\r\n\
m=audio 18234 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

fn main() {
    let invite = format!("{HEAD}Content-Length: {}\r\n\r\n{SDP}", SDP.len());
    let bytes = invite.as_bytes();
    assert!(matches!(
        parse_message(bytes, Framing::Datagram),
        Ok(SipMessage::Request(_))
    ));
    let budget = Duration::from_millis(400);

    let parse = measure(budget, 1000, || {
        black_box(parse_message(black_box(bytes), Framing::Datagram).ok());
    });
    let mut out = Vec::with_capacity(2048);
    let msg = parse_message(bytes, Framing::Datagram).ok();
    let serialise = measure(budget, 1000, || {
        out.clear();
        if let Some(SipMessage::Request(r)) = &msg {
            r.write_to(&mut out);
        }
        black_box(&out);
    });
    let both = measure(budget, 1000, || {
        if let Ok(SipMessage::Request(r)) = parse_message(black_box(bytes), Framing::Datagram) {
            out.clear();
            r.write_to(&mut out);
            black_box(&out);
        }
    });
    let rsip_parse = measure(budget, 1000, || {
        black_box(rsip::SipMessage::try_from(black_box(bytes)).ok());
    });

    println!(
        "sip_message: INVITE of {} bytes with SDP and X-PH-* headers, CPU time on one core",
        bytes.len()
    );
    for (name, ns) in [
        ("parse + validate", parse),
        ("serialise", serialise),
        ("parse + serialise", both),
    ] {
        println!("  {name:<23} {ns:>8.0} ns/msg  {:>10.0} msg/s", 1e9 / ns);
    }
    println!("  rsip 0.4 parse (anchor) {:>8.0} ns/msg  {:>10.0} msg/s  (pbxgate parse / rsip parse = {:.2})", rsip_parse, 1e9 / rsip_parse, parse / rsip_parse);
}
