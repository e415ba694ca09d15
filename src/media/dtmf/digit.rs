//! The sixteen DTMF digits: their keypad symbol, their RFC 4733 event code
//! and the pair of frequencies ITU-T Q.23 assigns to them.

/// Low-group (row) frequencies in Hz, ITU-T Q.23.
pub const LOW_HZ: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// High-group (column) frequencies in Hz, ITU-T Q.23.
pub const HIGH_HZ: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

/// A DTMF digit. The discriminant is the RFC 4733 §3.2 event code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Digit {
    D0 = 0,
    D1 = 1,
    D2 = 2,
    D3 = 3,
    D4 = 4,
    D5 = 5,
    D6 = 6,
    D7 = 7,
    D8 = 8,
    D9 = 9,
    Star = 10,
    Hash = 11,
    A = 12,
    B = 13,
    C = 14,
    D = 15,
}

impl Digit {
    /// Every digit, in event-code order.
    pub const ALL: [Digit; 16] = [
        Digit::D0,
        Digit::D1,
        Digit::D2,
        Digit::D3,
        Digit::D4,
        Digit::D5,
        Digit::D6,
        Digit::D7,
        Digit::D8,
        Digit::D9,
        Digit::Star,
        Digit::Hash,
        Digit::A,
        Digit::B,
        Digit::C,
        Digit::D,
    ];

    /// The RFC 4733 event code (0-15).
    pub fn event_code(self) -> u8 {
        self as u8
    }

    /// The digit for an RFC 4733 event code; `None` for codes that are not
    /// DTMF digits (16 is flash, the rest are other tones or unassigned).
    pub fn from_event_code(code: u8) -> Option<Digit> {
        Digit::ALL.get(usize::from(code)).copied()
    }

    /// The keypad symbol: '0'-'9', '*', '#', 'A'-'D'.
    pub fn symbol(self) -> char {
        match self {
            Digit::Star => '*',
            Digit::Hash => '#',
            Digit::A => 'A',
            Digit::B => 'B',
            Digit::C => 'C',
            Digit::D => 'D',
            d => char::from(b'0' + d as u8),
        }
    }

    /// The digit for a keypad symbol (letters in either case).
    pub fn from_symbol(c: char) -> Option<Digit> {
        match c {
            '0'..='9' => Digit::from_event_code(c as u8 - b'0'),
            '*' => Some(Digit::Star),
            '#' => Some(Digit::Hash),
            'A' | 'a' => Some(Digit::A),
            'B' | 'b' => Some(Digit::B),
            'C' | 'c' => Some(Digit::C),
            'D' | 'd' => Some(Digit::D),
            _ => None,
        }
    }

    /// (row, column) on the 4×4 keypad, which index `LOW_HZ` and `HIGH_HZ`.
    pub fn keypad_position(self) -> (usize, usize) {
        match self {
            Digit::D1 => (0, 0),
            Digit::D2 => (0, 1),
            Digit::D3 => (0, 2),
            Digit::A => (0, 3),
            Digit::D4 => (1, 0),
            Digit::D5 => (1, 1),
            Digit::D6 => (1, 2),
            Digit::B => (1, 3),
            Digit::D7 => (2, 0),
            Digit::D8 => (2, 1),
            Digit::D9 => (2, 2),
            Digit::C => (2, 3),
            Digit::Star => (3, 0),
            Digit::D0 => (3, 1),
            Digit::Hash => (3, 2),
            Digit::D => (3, 3),
        }
    }

    /// The digit at a keypad (row, column); `None` outside the 4×4 grid.
    pub fn from_keypad_position(row: usize, col: usize) -> Option<Digit> {
        const GRID: [[Digit; 4]; 4] = [
            [Digit::D1, Digit::D2, Digit::D3, Digit::A],
            [Digit::D4, Digit::D5, Digit::D6, Digit::B],
            [Digit::D7, Digit::D8, Digit::D9, Digit::C],
            [Digit::Star, Digit::D0, Digit::Hash, Digit::D],
        ];
        GRID.get(row).and_then(|r| r.get(col)).copied()
    }

    /// (low, high) frequencies in Hz.
    pub fn frequencies(self) -> (f32, f32) {
        let (row, col) = self.keypad_position();
        (LOW_HZ[row], HIGH_HZ[col])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_codes_follow_rfc4733() {
        for (code, d) in Digit::ALL.iter().enumerate() {
            assert_eq!(usize::from(d.event_code()), code);
            assert_eq!(Digit::from_event_code(code as u8), Some(*d));
        }
        assert_eq!(Digit::Star.event_code(), 10);
        assert_eq!(Digit::Hash.event_code(), 11);
        assert_eq!(Digit::A.event_code(), 12);
        assert_eq!(Digit::D.event_code(), 15);
        assert_eq!(Digit::from_event_code(16), None);
        assert_eq!(Digit::from_event_code(255), None);
    }

    #[test]
    fn symbols_round_trip() {
        let all: String = Digit::ALL.iter().map(|d| d.symbol()).collect();
        assert_eq!(all, "0123456789*#ABCD");
        for d in Digit::ALL {
            assert_eq!(Digit::from_symbol(d.symbol()), Some(d));
        }
        assert_eq!(Digit::from_symbol('c'), Some(Digit::C));
        assert_eq!(Digit::from_symbol('E'), None);
    }

    #[test]
    fn frequencies_follow_q23() {
        assert_eq!(Digit::D1.frequencies(), (697.0, 1209.0));
        assert_eq!(Digit::D0.frequencies(), (941.0, 1336.0));
        assert_eq!(Digit::Star.frequencies(), (941.0, 1209.0));
        assert_eq!(Digit::Hash.frequencies(), (941.0, 1477.0));
        assert_eq!(Digit::D9.frequencies(), (852.0, 1477.0));
        assert_eq!(Digit::B.frequencies(), (770.0, 1633.0));
        for d in Digit::ALL {
            let (r, c) = d.keypad_position();
            assert_eq!(Digit::from_keypad_position(r, c), Some(d));
        }
        assert_eq!(Digit::from_keypad_position(4, 0), None);
    }
}
