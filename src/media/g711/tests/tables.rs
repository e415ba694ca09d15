//! The compile-time tables are exactly the reference rules, exhaustively.

use super::{all_codes, all_samples};
use crate::media::g711::*;

#[test]
fn encode_tables_equal_the_rules_for_all_65536_samples() {
    for s in all_samples() {
        assert_eq!(ulaw_encode(s), ulaw_encode_reference(s), "µ-law {s}");
        assert_eq!(alaw_encode(s), alaw_encode_reference(s), "A-law {s}");
    }
}

#[test]
fn decode_tables_equal_the_rules_for_all_256_codes() {
    for c in all_codes() {
        assert_eq!(ulaw_decode(c), ulaw_decode_reference(c), "µ-law {c:#04x}");
        assert_eq!(alaw_decode(c), alaw_decode_reference(c), "A-law {c:#04x}");
    }
}

#[test]
fn transcoding_tables_equal_decode_then_encode() {
    for c in all_codes() {
        assert_eq!(ulaw_to_alaw(c), alaw_encode(ulaw_decode(c)), "{c:#04x}");
        assert_eq!(alaw_to_ulaw(c), ulaw_encode(alaw_decode(c)), "{c:#04x}");
    }
}
