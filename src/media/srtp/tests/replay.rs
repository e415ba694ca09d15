use super::super::replay::{estimate_index, ReplayWindow, MAX_RTP_INDEX};
use super::super::streams::{Streams, MAX_STREAMS};
use super::super::SrtpError;

#[test]
fn index_estimation_follows_rfc_3711_appendix_a() {
    // s_l in the lower half: a much larger SEQ is from the previous ROC.
    assert_eq!(estimate_index(0x1_0005, 0xfffe), Ok(0xfffe));
    assert_eq!(estimate_index(0x1_0005, 0x0009), Ok(0x1_0009));
    assert_eq!(estimate_index(0x1_0005, 0x8004), Ok(0x1_8004));
    // s_l in the upper half: a much smaller SEQ is from the next ROC.
    assert_eq!(estimate_index(0x1_fff0, 0x0003), Ok(0x2_0003));
    assert_eq!(estimate_index(0x1_fff0, 0x7ff1), Ok(0x1_7ff1));
    assert_eq!(estimate_index(0x1_fff0, 0x7fef), Ok(0x2_7fef));
    // Before the stream's first packet there is no ROC -1.
    assert_eq!(
        estimate_index(5, 0xfff0),
        Err(SrtpError::TooOld {
            index: 0xfff0,
            newest: 5
        })
    );
    // Past 2^48 the key is spent (RFC 3711 §3.2.1).
    assert_eq!(
        estimate_index(MAX_RTP_INDEX, 0x0001),
        Err(SrtpError::KeyExhausted)
    );
}

#[test]
fn window_records_only_what_it_is_told() {
    let mut w = ReplayWindow::starting_at(1000);
    assert_eq!(w.check(1000), Err(SrtpError::Replayed { index: 1000 }));
    assert_eq!(w.check(999), Ok(()));
    assert_eq!(w.check(999), Ok(()), "check alone records nothing");
    w.accept(999);
    assert_eq!(w.check(999), Err(SrtpError::Replayed { index: 999 }));
    // A jump wider than the window forgets everything behind it.
    w.accept(1000 + 500);
    assert_eq!(w.newest(), 1500);
    assert_eq!(
        w.check(1000),
        Err(SrtpError::TooOld {
            index: 1000,
            newest: 1500
        })
    );
    assert_eq!(w.check(1499), Ok(()));
    w.accept(1501);
    assert_eq!(w.check(1500), Err(SrtpError::Replayed { index: 1500 }));
}

#[test]
fn a_full_stream_table_drops_the_least_recently_used() {
    let mut s: Streams<u32> = Streams::new();
    for ssrc in 0..MAX_STREAMS as u32 {
        s.put(ssrc, ssrc * 10);
    }
    // Touch 0, so 1 is the oldest.
    s.put(0, 1);
    s.put(100, 7);
    assert_eq!(s.len(), MAX_STREAMS);
    assert_eq!(s.get(1), None);
    assert_eq!(s.get(0), Some(1));
    assert_eq!(s.get(2), Some(20));
    assert_eq!(s.get(100), Some(7));
}
