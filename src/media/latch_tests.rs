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
    remote: Remote,
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
            remote: Remote {
                signalled: addr(SDP),
                payload_types: PayloadTypes::of([0, 101]),
            },
            t0: Instant::now(),
        }
    }

    /// A packet from `src` at `ms` after the start.
    fn packet(&mut self, src: &str, rtp: Option<RtpFacts>, ms: u64) -> Decision {
        let now = self.t0 + Duration::from_millis(ms);
        let src = addr(src);
        self.latch
            .check(&self.rules, self.remote, Arrival { src, rtp, now })
    }

    /// `count` in-sequence packets from `src`, sequence 0 on, one every
    /// 20 ms from `from_ms`: what the leg made of each.
    fn run(&mut self, src: &str, count: u16, from_ms: u64) -> Vec<Decision> {
        (0..count)
            .map(|seq| self.packet(src, rtp(seq), from_ms + 20 * u64::from(seq)))
            .collect()
    }

    fn destination(&self) -> SocketAddr {
        self.latch.destination(addr(SDP))
    }

    /// Whether RTCP from `src` (on the RTCP port) belongs to the leg.
    fn admits_rtcp(&self, src: &str) -> bool {
        self.latch
            .admits_rtcp(self.rules.mode, addr(SDP), addr(src))
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
    assert_eq!(leg.run(STRANGER, 10, 40), [Decision::Reject; 10]);
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
    assert_eq!(leg.run(STRANGER, 5, 60), [Decision::Reject; 5]);
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
    leg.run(STRANGER, 3, 0);
    assert_eq!(leg.latch.source(), Some((addr(STRANGER), true)));
    // The real peer from its SDP address, 1.5 s after the first packet.
    assert_eq!(leg.packet(SDP, rtp(900), 1500), Decision::Accept);
    assert_eq!(leg.latch.source(), Some((addr(SDP), false)));
    assert_eq!(leg.packet(STRANGER, rtp(3), 1520), Decision::Reject);

    // The same after the window: the learned source stays.
    let mut leg = Leg::new(SourceMode::Learn);
    leg.run(NAT, 3, 0);
    assert_eq!(leg.packet(SDP, rtp(900), 2000), Decision::Reject);
    assert_eq!(leg.latch.source(), Some((addr(NAT), true)));
}

#[test]
fn a_silent_source_or_a_new_offer_reopens_learning() {
    let mut leg = Leg::new(SourceMode::Learn);
    leg.run(NAT, 3, 0);
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
    assert_eq!(leg.run(STRANGER, 5, 0), [Decision::Reject; 5]);
    assert_eq!(leg.run(NAT, 3, 200), [Decision::Accept; 3]);
    assert_eq!(leg.latch.source(), Some((addr(NAT), true)));
}

#[test]
fn strict_takes_only_the_sdp_ip_and_any_takes_everyone() {
    let mut leg = Leg::new(SourceMode::Strict);
    assert_eq!(leg.run(NAT, 5, 0), [Decision::Reject; 5]);
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
    let sdp_rtcp = "198.51.100.7:20001";
    let nat_rtcp = "203.0.113.9:41001";
    assert!(leg.admits_rtcp(sdp_rtcp));
    assert!(!leg.admits_rtcp(nat_rtcp));
    leg.run(NAT, 3, 0);
    assert!(leg.admits_rtcp(nat_rtcp));
    assert!(!leg.admits_rtcp(sdp_rtcp));
}

#[test]
fn payload_type_sets() {
    let set = PayloadTypes::of([0, 8, 101, 200]);
    assert!(set.contains(0) && set.contains(8) && set.contains(101));
    assert!(!set.contains(9) && !set.contains(127));
    assert!(PayloadTypes::default().contains(77), "empty accepts any");
}
