//! The learning rule stepped packet by packet with a fake clock.

use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

const SDP: &str = "198.51.100.7:20000";
const NAT: &str = "203.0.113.9:41000";
const STRANGER: &str = "192.0.2.66:5000";

fn rtp(seq: u16) -> Option<RtpFacts> {
    Some(RtpFacts {
        sequence: seq,
        payload_type: 0,
        ssrc: 0x1234,
    })
}

struct Leg {
    latch: Latch,
    rules: SourceRules,
    pts: PayloadTypes,
    t0: Instant,
}

impl Leg {
    fn new(mode: SourceMode) -> Leg {
        Leg {
            latch: Latch::default(),
            rules: SourceRules {
                mode,
                ..SourceRules::default()
            },
            pts: PayloadTypes::of([0, 101]),
            t0: Instant::now(),
        }
    }

    /// A packet from `src` at `ms` after the start.
    fn packet(&mut self, src: &str, facts: Option<RtpFacts>, ms: u64) -> Decision {
        let now = self.t0 + Duration::from_millis(ms);
        self.latch
            .check(&self.rules, addr(SDP), self.pts, addr(src), facts, now)
    }

    fn destination(&self) -> SocketAddr {
        self.latch.destination(addr(SDP))
    }
}

#[test]
fn the_sdp_address_latches_at_once_and_a_stranger_is_refused() {
    let mut leg = Leg::new(SourceMode::Learn);
    assert_eq!(
        leg.packet("198.51.100.7:20000", rtp(1), 0),
        Decision::Accept
    );
    assert_eq!(leg.latch.source(), Some((addr(SDP), false)));
    // A new port on the SDP's IP (a NAT's doing) is the same peer.
    assert_eq!(
        leg.packet("198.51.100.7:33000", rtp(2), 20),
        Decision::Accept
    );
    assert_eq!(leg.destination(), addr("198.51.100.7:33000"));
    for seq in 0..10 {
        assert_eq!(
            leg.packet(STRANGER, rtp(seq), 40 + 20 * u64::from(seq)),
            Decision::Reject
        );
    }
    assert_eq!(leg.destination(), addr("198.51.100.7:33000"));
}

#[test]
fn another_source_is_learned_after_three_in_sequence_packets_all_relayed() {
    let mut leg = Leg::new(SourceMode::Learn);
    // Every packet of the run is relayed; media to the leg goes to the SDP
    // address until the third latches the real source.
    assert_eq!(leg.packet(NAT, rtp(100), 0), Decision::Accept);
    assert_eq!(leg.destination(), addr(SDP));
    assert_eq!(leg.packet(NAT, rtp(101), 20), Decision::Accept);
    assert_eq!(leg.destination(), addr(SDP));
    assert_eq!(leg.packet(NAT, rtp(102), 40), Decision::Accept);
    assert_eq!(leg.destination(), addr(NAT));
    assert_eq!(leg.latch.source(), Some((addr(NAT), true)));
    // Latched: a stranger is refused, even with a perfect run.
    for seq in 0..5 {
        assert_eq!(
            leg.packet(STRANGER, rtp(seq), 60 + 20 * u64::from(seq)),
            Decision::Reject
        );
    }
}

#[test]
fn learning_counts_a_run_of_its_own_per_source() {
    let mut leg = Leg::new(SourceMode::Learn);
    // The real source and a stranger interleave: each keeps its own run,
    // so the stranger's packets do not reset the real one's.
    leg.packet(NAT, rtp(10), 0);
    leg.packet(STRANGER, rtp(500), 5);
    leg.packet(NAT, rtp(11), 20);
    leg.packet(STRANGER, rtp(700), 25);
    leg.packet(NAT, rtp(12), 40);
    assert_eq!(leg.latch.source(), Some((addr(NAT), true)));
}

#[test]
fn out_of_sequence_wrong_type_or_ssrc_do_not_latch() {
    let mut leg = Leg::new(SourceMode::Learn);
    leg.packet(NAT, rtp(1), 0);
    leg.packet(NAT, rtp(3), 20); // a gap restarts the run
    leg.packet(NAT, rtp(4), 40);
    assert_eq!(leg.latch.source(), None);
    leg.packet(NAT, rtp(5), 60);
    assert_eq!(leg.latch.source(), Some((addr(NAT), true)));

    let mut leg = Leg::new(SourceMode::Learn);
    let pt = |seq, pt| {
        Some(RtpFacts {
            sequence: seq,
            payload_type: pt,
            ssrc: 0x1234,
        })
    };
    // Payload type 8 was not negotiated for the leg: refused, not counted.
    for seq in 0..5 {
        assert_eq!(
            leg.packet(NAT, pt(seq, 8), 20 * u64::from(seq)),
            Decision::Reject
        );
    }
    assert_eq!(leg.latch.source(), None);
    // A new SSRC restarts the run.
    let ssrc = |seq, ssrc| {
        Some(RtpFacts {
            sequence: seq,
            payload_type: 0,
            ssrc,
        })
    };
    leg.packet(NAT, ssrc(1, 1), 200);
    leg.packet(NAT, ssrc(2, 1), 220);
    leg.packet(NAT, ssrc(3, 2), 240);
    assert_eq!(leg.latch.source(), None);
    // RTCP never makes a latch.
    for ms in [300, 320, 340, 360] {
        assert_eq!(leg.packet(NAT, None, ms), Decision::Reject);
    }
    assert_eq!(leg.latch.source(), None);
}

#[test]
fn the_sdp_address_takes_back_a_provisional_latch_within_the_window_only() {
    let mut leg = Leg::new(SourceMode::Learn);
    for seq in 0..3 {
        leg.packet(STRANGER, rtp(seq), 20 * u64::from(seq));
    }
    assert_eq!(leg.latch.source(), Some((addr(STRANGER), true)));
    // The real peer from its SDP address, 1.5 s after the first packet.
    assert_eq!(leg.packet(SDP, rtp(900), 1500), Decision::Accept);
    assert_eq!(leg.latch.source(), Some((addr(SDP), false)));
    assert_eq!(leg.packet(STRANGER, rtp(3), 1520), Decision::Reject);

    // The same after the window: the learned source stays.
    let mut leg = Leg::new(SourceMode::Learn);
    for seq in 0..3 {
        leg.packet(NAT, rtp(seq), 20 * u64::from(seq));
    }
    assert_eq!(leg.packet(SDP, rtp(900), 2000), Decision::Reject);
    assert_eq!(leg.latch.source(), Some((addr(NAT), true)));
}

#[test]
fn a_silent_source_or_a_new_offer_reopens_learning() {
    let mut leg = Leg::new(SourceMode::Learn);
    for seq in 0..3 {
        leg.packet(NAT, rtp(seq), 20 * u64::from(seq));
    }
    leg.packet(NAT, rtp(3), 60);
    // 4.9 s of silence: the latch holds.
    assert_eq!(leg.packet(STRANGER, rtp(50), 4960), Decision::Reject);
    // 5 s: a new source may be learned (its first packet counts).
    assert_eq!(leg.packet(STRANGER, rtp(51), 5060), Decision::Accept);
    leg.packet(STRANGER, rtp(52), 5080);
    leg.packet(STRANGER, rtp(53), 5100);
    assert_eq!(leg.latch.source(), Some((addr(STRANGER), true)));

    // A new offer at the same address keeps the learned source but lets
    // the SDP address take it within a new window.
    leg.latch.reopen(false);
    assert_eq!(leg.destination(), addr(STRANGER));
    assert_eq!(leg.packet(STRANGER, rtp(54), 9000), Decision::Accept);
    assert_eq!(leg.packet(SDP, rtp(1), 10_500), Decision::Accept);
    assert_eq!(leg.latch.source(), Some((addr(SDP), false)));
    // A new address drops the latch.
    leg.latch.reopen(true);
    assert_eq!(leg.latch.source(), None);
    assert_eq!(leg.destination(), addr(SDP));
}

#[test]
fn the_allow_list_limits_learning_but_not_the_sdp_address() {
    let mut leg = Leg::new(SourceMode::Learn);
    leg.rules.allow = Arc::from(vec!["203.0.113.0/24".parse::<IpNet>().expect("net")]);
    for seq in 0..5 {
        assert_eq!(
            leg.packet(STRANGER, rtp(seq), 20 * u64::from(seq)),
            Decision::Reject
        );
    }
    for seq in 0..3 {
        assert_eq!(
            leg.packet(NAT, rtp(seq), 200 + 20 * u64::from(seq)),
            Decision::Accept
        );
    }
    assert_eq!(leg.latch.source(), Some((addr(NAT), true)));
}

#[test]
fn strict_takes_only_the_sdp_ip_and_any_takes_everyone() {
    let mut leg = Leg::new(SourceMode::Strict);
    for seq in 0..5 {
        assert_eq!(
            leg.packet(NAT, rtp(seq), 20 * u64::from(seq)),
            Decision::Reject
        );
    }
    assert_eq!(
        leg.packet("198.51.100.7:41000", rtp(9), 200),
        Decision::Accept
    );
    assert_eq!(leg.destination(), addr("198.51.100.7:41000"));

    let mut leg = Leg::new(SourceMode::Any);
    assert_eq!(leg.packet(NAT, rtp(1), 0), Decision::Accept);
    assert_eq!(leg.destination(), addr(NAT));
    assert_eq!(leg.packet(STRANGER, None, 10), Decision::Accept);
    assert_eq!(leg.destination(), addr(STRANGER));
}

#[test]
fn rtcp_follows_the_rtp_latch() {
    let mut leg = Leg::new(SourceMode::Learn);
    let sdp_rtcp = addr("198.51.100.7:20001");
    let nat_rtcp = addr("203.0.113.9:41001");
    assert!(leg
        .latch
        .admits_rtcp(SourceMode::Learn, addr(SDP), sdp_rtcp));
    assert!(!leg
        .latch
        .admits_rtcp(SourceMode::Learn, addr(SDP), nat_rtcp));
    for seq in 0..3 {
        leg.packet(NAT, rtp(seq), 20 * u64::from(seq));
    }
    assert!(leg
        .latch
        .admits_rtcp(SourceMode::Learn, addr(SDP), nat_rtcp));
    assert!(!leg
        .latch
        .admits_rtcp(SourceMode::Learn, addr(SDP), sdp_rtcp));
}

#[test]
fn payload_type_sets() {
    let set = PayloadTypes::of([0, 8, 101, 200]);
    assert!(set.contains(0) && set.contains(8) && set.contains(101));
    assert!(!set.contains(9) && !set.contains(127));
    assert!(PayloadTypes::default().contains(77), "empty accepts any");
}
