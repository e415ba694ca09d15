//! The CSeq header (RFC 3261 §20.16).

use std::fmt;

use super::method::{is_token, Method};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    pub fn parse(value: &str) -> Result<CSeq, String> {
        let mut it = value.split_whitespace();
        let (num, method) = match (it.next(), it.next(), it.next()) {
            (Some(n), Some(m), None) => (n, m),
            _ => return Err(format!("CSeq '{value}' is not 'number method'")),
        };
        if !num.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("CSeq number '{num}' is not a number"));
        }
        // RFC 3261 §8.1.1.5: the sequence number is a 32-bit unsigned integer.
        let seq = num
            .parse::<u32>()
            .map_err(|_| format!("CSeq number {num} is larger than 2^32-1"))?;
        if !is_token(method) {
            return Err(format!("CSeq method '{method}' is not a token"));
        }
        Ok(CSeq {
            seq,
            method: Method::from_token(method),
        })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_bounds() {
        assert_eq!(
            CSeq::parse("  4294967295   INVITE ").unwrap(),
            CSeq {
                seq: u32::MAX,
                method: Method::Invite
            }
        );
        assert!(CSeq::parse("36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse("INVITE").is_err());
        assert!(CSeq::parse("-1 INVITE").is_err());
        assert!(CSeq::parse("1 INVITE extra").is_err());
    }
}
