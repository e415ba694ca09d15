//! Emergency numbers, compiled: is a dialled number one of them? Shared by
//! the router (parsed INVITEs) and the rate-limit exemption (raw request
//! lines), so both decide the same way. No allocation, bounded work.

use crate::config::{EmergencyConfig, MAX_EMERGENCY_NUMBER_LEN};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmergencyNumbers {
    /// Validated: 1..=15 of digits, '*' and '#'.
    numbers: Vec<String>,
}

impl EmergencyNumbers {
    /// The numbers of a validated `[emergency]` table.
    pub fn new(cfg: &EmergencyConfig) -> EmergencyNumbers {
        EmergencyNumbers {
            numbers: cfg.numbers.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.numbers.iter().map(String::as_str)
    }

    /// The configured number `user` dials, if any. `user` is the user part
    /// of a SIP URI as on the wire (%-escapes not yet decoded) or the number
    /// of a `tel:` URI.
    pub fn number_of(&self, user: &[u8]) -> Option<&str> {
        if self.numbers.is_empty() {
            return None;
        }
        let mut buf = [0u8; MAX_EMERGENCY_NUMBER_LEN];
        let n = normalise(user, &mut buf)?;
        let dialled = &buf[..n];
        self.iter().find(|c| c.as_bytes() == dialled)
    }
}

/// Writes the dialled digits of `user` into `out` and returns how many:
/// %-escapes decoded (RFC 3261 §19.1.4 compares unescaped), the number
/// ends at the first ';' (RFC 3966 parameters such as phone-context) or
/// ':' (a password), one leading '+' is dropped and RFC 3966 §5.1.1 visual
/// separators ("-", ".", "(", ")") and spaces are skipped. None when what
/// is left is empty, longer than `out` or holds anything but digits, '*'
/// and '#': it cannot equal a configured number.
fn normalise(user: &[u8], out: &mut [u8; MAX_EMERGENCY_NUMBER_LEN]) -> Option<usize> {
    let mut len = 0;
    let mut i = 0;
    let mut first = true;
    while i < user.len() {
        let mut c = user[i];
        i += 1;
        if c == b'%' {
            let hi = user.get(i).copied().and_then(hex)?;
            let lo = user.get(i + 1).copied().and_then(hex)?;
            c = hi << 4 | lo;
            i += 2;
        }
        match c {
            b';' | b':' => break,
            b'+' if first => {}
            b'-' | b'.' | b'(' | b')' | b' ' => {}
            b'0'..=b'9' | b'*' | b'#' => {
                *out.get_mut(len)? = c;
                len += 1;
            }
            _ => return None,
        }
        first = false;
    }
    (len > 0).then_some(len)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::noise;

    fn numbers(list: &[&str]) -> EmergencyNumbers {
        EmergencyNumbers::new(&EmergencyConfig {
            numbers: list.iter().map(|s| s.to_string()).collect(),
            route: None,
        })
    }

    #[test]
    fn separators_plus_and_escapes_are_removed_before_comparing() {
        let n = numbers(&["911", "112", "999", "000", "110", "*55#"]);
        // (the number dialled, user parts as on the wire that dial it)
        let dials: [(&str, &[&str]); 4] = [
            (
                "112",
                &[
                    "112",
                    "+112",
                    "1-1-2",
                    "(112)",
                    "1.1.2",
                    "1%2012",
                    "1%2d1%2E2",
                    "%2B112",
                    "112;phone-context=+49",
                ],
            ),
            ("911", &["+(9)1-1", "911:secret"]),
            ("000", &["000"]),
            ("*55#", &["*55%23"]),
        ];
        for (number, users) in dials {
            for user in users {
                assert_eq!(n.number_of(user.as_bytes()), Some(number), "{user:?}");
            }
        }
        // Not emergencies: more or fewer digits, letters, a second '+'.
        let others = [
            "1120",
            "9110",
            "0112",
            "11",
            "++112",
            "1+12",
            "112a",
            "sos",
            "",
            "+",
            "-",
            ";112",
            "%",
            "1%2",
            "1%zz12",
            "%00112",
            "1234567890123456",
            "+1-800-555-0100",
        ];
        for user in others {
            assert_eq!(n.number_of(user.as_bytes()), None, "{user:?}");
        }
    }

    #[test]
    fn an_empty_list_matches_nothing() {
        let n = numbers(&[]);
        assert!(n.is_empty());
        assert_eq!(n.number_of(b"112"), None);
        assert_eq!(numbers(&["112"]).number_of(b"911"), None);
    }

    #[test]
    fn any_bytes_are_handled_without_panic() {
        let n = numbers(&["112"]);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..64 {
            let _ = n.number_of(&noise(&mut seed, len, b"112+-.()%2aZ;: \x00\xff"));
        }
    }
}
