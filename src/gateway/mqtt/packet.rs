//! The MQTT 3.1.1 packets the sink speaks (CONNECT, CONNACK, PUBLISH,
//! PUBACK, PINGREQ, PINGRESP; it never stops cleanly, so no DISCONNECT), encoded and framed by the
//! `mqttbytes` codec; this file only narrows it to what a QoS 1 publisher
//! needs and turns its errors into ours.

use bytes::BytesMut;
use mqttbytes::v4::{self, ConnectReturnCode, Packet};
use mqttbytes::QoS;

/// A broker sends the sink only small acknowledgements; anything larger
/// than this is a broken or hostile peer.
const MAX_INCOMING: usize = 64 * 1024;

/// What the broker sent that the session acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// CONNACK: `None` when accepted, else why not (§3.2.2.3).
    ConnAck(Option<&'static str>),
    PubAck(u16),
    PingResp,
    /// A packet a publisher does not expect (its type).
    Other(&'static str),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PacketError {
    #[error("the broker sent a malformed packet ({0})")]
    Malformed(String),
    #[error("cannot encode the packet: {0}")]
    Encode(String),
}

pub fn connect(client_id: &str, login: Option<(&str, &str)>, keepalive_s: u16) -> Vec<u8> {
    let mut c = v4::Connect::new(client_id);
    c.keep_alive = keepalive_s;
    // The outbox is the session state that matters: after a reconnect the
    // sink publishes its unacknowledged entries again itself (§3.1.2.4).
    c.clean_session = true;
    if let Some((u, p)) = login {
        c.set_login(u, p);
    }
    encode(|b| c.write(b)).unwrap_or_default()
}

/// A QoS 1 PUBLISH; `dup` set when the same packet is sent again (§3.3.1.1).
pub fn publish(topic: &str, pkid: u16, payload: &[u8], dup: bool) -> Result<Vec<u8>, PacketError> {
    let mut p = v4::Publish::new(topic, QoS::AtLeastOnce, payload.to_vec());
    p.pkid = pkid;
    p.dup = dup;
    encode(|b| p.write(b))
}

pub fn pingreq() -> Vec<u8> {
    encode(|b| v4::PingReq.write(b)).unwrap_or_default()
}

fn encode(
    write: impl FnOnce(&mut BytesMut) -> Result<usize, mqttbytes::Error>,
) -> Result<Vec<u8>, PacketError> {
    let mut b = BytesMut::new();
    write(&mut b).map_err(|e| PacketError::Encode(format!("{e:?}")))?;
    Ok(b.to_vec())
}

/// The next whole packet in `buf` (consumed), or `None` until more bytes
/// have arrived.
pub fn read(buf: &mut BytesMut) -> Result<Option<Incoming>, PacketError> {
    match v4::read(buf, MAX_INCOMING) {
        Ok(p) => Ok(Some(match p {
            Packet::ConnAck(a) => Incoming::ConnAck(refusal(a.code)),
            Packet::PubAck(a) => Incoming::PubAck(a.pkid),
            Packet::PingResp => Incoming::PingResp,
            Packet::Publish(_) => Incoming::Other("PUBLISH"),
            Packet::PubRec(_) | Packet::PubRel(_) | Packet::PubComp(_) => {
                Incoming::Other("PUBREC/PUBREL/PUBCOMP")
            }
            Packet::SubAck(_) | Packet::UnsubAck(_) => Incoming::Other("SUBACK/UNSUBACK"),
            Packet::Disconnect => Incoming::Other("DISCONNECT"),
            _ => Incoming::Other("a client's packet"),
        })),
        Err(mqttbytes::Error::InsufficientBytes(_)) => Ok(None),
        Err(e) => Err(PacketError::Malformed(format!("{e:?}"))),
    }
}

/// MQTT 3.1.1 §3.2.2.3, Table 3.1.
fn refusal(code: ConnectReturnCode) -> Option<&'static str> {
    match code {
        ConnectReturnCode::Success => None,
        ConnectReturnCode::RefusedProtocolVersion => {
            Some("the broker does not speak MQTT 3.1.1 (0x01)")
        }
        ConnectReturnCode::BadClientId => Some("the broker refused the client id (0x02)"),
        ConnectReturnCode::ServiceUnavailable => Some("the broker is unavailable (0x03)"),
        ConnectReturnCode::BadUserNamePassword => {
            Some("bad user name or password: check mqtt.username and mqtt.password (0x04)")
        }
        ConnectReturnCode::NotAuthorized => {
            Some("not authorized: check mqtt.username and mqtt.password (0x05)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_is_encoded_as_mqtt_3_1_1_says() {
        let b = connect("pbxgate-ab", Some(("u", "pw")), 30);
        // §3.1: type 1, then the remaining length.
        assert_eq!(b[0], 0x10);
        assert_eq!(b[1] as usize, b.len() - 2);
        // §3.1.2.1-3: "MQTT", level 4.
        assert_eq!(&b[2..9], &[0, 4, b'M', b'Q', b'T', b'T', 4]);
        // §3.1.2.3: user name (0x80), password (0x40), clean session (0x02).
        assert_eq!(b[9], 0xC2);
        // §3.1.2.10: keep alive, big-endian seconds.
        assert_eq!(&b[10..12], &[0, 30]);
        // §3.1.3: client id, user name, password, each length-prefixed.
        assert_eq!(&b[12..24], b"\x00\x0apbxgate-ab");
        assert_eq!(&b[24..27], b"\x00\x01u");
        assert_eq!(&b[27..], b"\x00\x02pw");
        let anon = connect("x", None, 5);
        assert_eq!(anon[9], 0x02);
        // A user name without a password: no password flag, no field.
        let user_only = connect("x", Some(("u", "")), 5);
        assert_eq!(user_only[9], 0x82);
        assert!(user_only.ends_with(b"\x00\x01u"));
    }

    #[test]
    fn publish_is_qos_1_with_its_packet_id() {
        let b = publish("a/b", 0x1234, b"{}", false).unwrap();
        // §3.3.1: type 3, QoS 1 in bits 2-1, DUP bit 3 clear.
        assert_eq!(b, [0x32, 9, 0, 3, b'a', b'/', b'b', 0x12, 0x34, b'{', b'}']);
        let again = publish("a/b", 0x1234, b"{}", true).unwrap();
        assert_eq!(again[0], 0x3A);
        assert_eq!(pingreq(), [0xC0, 0]);
    }

    #[test]
    fn a_long_payload_takes_a_multi_byte_remaining_length() {
        let body = vec![b'x'; 200];
        let b = publish("t", 1, &body, false).unwrap();
        // §2.2.3: 2+1+2+200 = 205 = 0x4D + 1*128.
        assert_eq!(&b[..3], &[0x32, 0xCD, 0x01]);
        assert_eq!(b.len(), 3 + 205);
    }

    #[test]
    fn acks_are_read_across_partial_reads() {
        let mut buf = BytesMut::new();
        // CONNACK accepted, PUBACK 7 split in the middle, PINGRESP.
        buf.extend_from_slice(&[0x20, 2, 0, 0, 0x40, 2, 0]);
        assert_eq!(read(&mut buf).unwrap(), Some(Incoming::ConnAck(None)));
        assert_eq!(read(&mut buf).unwrap(), None);
        buf.extend_from_slice(&[7, 0xD0, 0]);
        assert_eq!(read(&mut buf).unwrap(), Some(Incoming::PubAck(7)));
        assert_eq!(read(&mut buf).unwrap(), Some(Incoming::PingResp));
        assert_eq!(read(&mut buf).unwrap(), None);
        let mut refused = BytesMut::from(&[0x20, 2, 0, 5][..]);
        assert!(matches!(
            read(&mut refused).unwrap(),
            Some(Incoming::ConnAck(Some(r))) if r.contains("not authorized")
        ));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            &[0x20, 3, 0, 9, 0][..],
            &[0x00, 0][..],
            &[0x40, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F][..],
            &[0x20, 2, 0, 0x63][..],
            &[0x40, 0x81, 0x80, 0x04][..],
        ] {
            let mut buf = BytesMut::from(bad);
            let r = read(&mut buf);
            assert!(r.is_err() || r == Ok(None), "{bad:?}: {r:?}");
        }
    }
}
