//! RFC 4733 telephone-event payload (§2.3): one 4-byte block per event,
//!
//! ```text
//!  event (8) | E (1) | R (1) | volume (6) | duration (16, timestamp units)
//! ```
//!
//! several blocks back to back when events are packed (§2.5.1.5). The
//! payload-type number is negotiated in SDP and stays the caller's: this
//! code never sees or assumes one. Sending and receiving, which add the
//! RTP timing rules of §2.5, are in `rfc4733/sender.rs` and
//! `rfc4733/receiver.rs`.

mod receiver;
mod sender;

pub use receiver::{EventReceiver, ReceivedDigit};
pub use sender::{EventPacket, EventSender};

/// Bytes per event block.
pub const BLOCK_LEN: usize = 4;
/// Largest volume value: −63 dBm0.
pub const MAX_VOLUME: u8 = 63;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rfc4733Error {
    /// A payload must be one or more whole 4-byte blocks.
    #[error("telephone-event payload of {0} bytes is not a non-empty multiple of 4")]
    Length(usize),
    /// The volume field has six bits.
    #[error("telephone-event volume {0} is over 63")]
    Volume(u8),
}

/// One event block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code; 0-15 are the DTMF digits (see `Digit`).
    pub event: u8,
    /// E bit: this is (a retransmission of) the event's final packet.
    pub end: bool,
    /// R bit: reserved; sent as given (senders must use `false`), ignored
    /// by the receiver.
    pub reserved: bool,
    /// Power level as −dBm0, 0-63; meaningful for DTMF, 0 otherwise.
    pub volume: u8,
    /// Duration so far in RTP timestamp units, from the event's timestamp.
    pub duration: u16,
}

impl TelephoneEvent {
    pub fn encode(&self) -> Result<[u8; BLOCK_LEN], Rfc4733Error> {
        if self.volume > MAX_VOLUME {
            return Err(Rfc4733Error::Volume(self.volume));
        }
        let flags = (u8::from(self.end) << 7) | (u8::from(self.reserved) << 6) | self.volume;
        let d = self.duration.to_be_bytes();
        Ok([self.event, flags, d[0], d[1]])
    }

    /// Decodes a single-event payload (the usual case).
    pub fn decode(payload: &[u8]) -> Result<TelephoneEvent, Rfc4733Error> {
        match payload {
            &[event, flags, d0, d1] => Ok(TelephoneEvent {
                event,
                end: flags & 0x80 != 0,
                reserved: flags & 0x40 != 0,
                volume: flags & 0x3f,
                duration: u16::from_be_bytes([d0, d1]),
            }),
            _ => Err(Rfc4733Error::Length(payload.len())),
        }
    }

    /// Decodes every block of a payload, packed events included. The
    /// length is checked before anything is yielded.
    pub fn decode_all(
        payload: &[u8],
    ) -> Result<impl Iterator<Item = TelephoneEvent> + '_, Rfc4733Error> {
        if payload.is_empty() || !payload.len().is_multiple_of(BLOCK_LEN) {
            return Err(Rfc4733Error::Length(payload.len()));
        }
        Ok(payload
            .chunks_exact(BLOCK_LEN)
            .filter_map(|b| TelephoneEvent::decode(b).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for (event, end, reserved, volume, duration) in [
            (0u8, false, false, 10u8, 160u16),
            (11, true, false, 63, 0xffff),
            (15, true, true, 0, 0),
            (16, false, false, 0, 1234),
        ] {
            let e = TelephoneEvent {
                event,
                end,
                reserved,
                volume,
                duration,
            };
            let bytes = e.encode().expect("encode");
            assert_eq!(TelephoneEvent::decode(&bytes), Ok(e));
        }
    }

    #[test]
    fn wire_layout() {
        let e = TelephoneEvent {
            event: 5,
            end: true,
            reserved: false,
            volume: 10,
            duration: 0x0320,
        };
        assert_eq!(e.encode(), Ok([0x05, 0x8a, 0x03, 0x20]));
        let r = TelephoneEvent::decode(&[0x0b, 0x7f, 0xff, 0x01]).expect("decode");
        assert_eq!((r.event, r.end, r.reserved), (11, false, true));
        assert_eq!((r.volume, r.duration), (63, 0xff01));
    }

    #[test]
    fn bad_lengths_and_volume() {
        for len in [0usize, 1, 3, 5, 7] {
            let p = vec![0u8; len];
            assert_eq!(TelephoneEvent::decode(&p), Err(Rfc4733Error::Length(len)));
        }
        assert_eq!(
            TelephoneEvent::decode(&[0u8; 8]),
            Err(Rfc4733Error::Length(8))
        );
        for len in [0usize, 6, 9] {
            assert!(matches!(
                TelephoneEvent::decode_all(&vec![0u8; len]),
                Err(Rfc4733Error::Length(l)) if l == len
            ));
        }
        let loud = TelephoneEvent {
            event: 1,
            end: false,
            reserved: false,
            volume: 64,
            duration: 0,
        };
        assert_eq!(loud.encode(), Err(Rfc4733Error::Volume(64)));
    }

    #[test]
    fn packed_events_decode_in_order() {
        let payload = [1u8, 0x8a, 0x01, 0x90, 2, 0x0a, 0x00, 0xa0];
        let all: Vec<_> = TelephoneEvent::decode_all(&payload)
            .expect("decode")
            .map(|e| (e.event, e.end, e.duration))
            .collect();
        assert_eq!(all, [(1, true, 400), (2, false, 160)]);
    }
}
