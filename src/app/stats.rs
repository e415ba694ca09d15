//! Counters the status page and the logs read.

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoreStats {
    pub requests_received: u64,
    pub responses_received: u64,
    pub keepalives: u64,
    /// Malformed requests answered with 400/505.
    pub rejected_answered: u64,
    /// Malformed or unanswerable messages dropped.
    pub dropped_malformed: u64,
    pub options_answered: u64,
    pub invites_answered: u64,
    /// Requests ignored because their source failed authentication too often.
    pub dropped_blocked: u64,
    /// Datagrams over a LAN listener's rate limit processed anyway: an
    /// INVITE to an emergency number, or a message of an emergency call.
    pub emergency_exempt: u64,
}

/// Media counters summed over the sessions the media threads closed (the
/// live ones report when they close).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MediaTotals {
    pub sessions_closed: u64,
    /// Sessions ended for want of RTP (`[media] timeout_s`).
    pub timed_out: u64,
    /// Sessions whose ports could not be bound.
    pub failed: u64,
    /// RTP received on both legs.
    pub packets: u64,
    pub bytes: u64,
    pub lost: u64,
    pub dropped_foreign: u64,
    pub dropped_malformed: u64,
    pub dtmf_rendered: u64,
    pub dtmf_detected: u64,
    /// Legs whose media came from a source other than their SDP's, learned
    /// (`[media] source = "learn"`).
    pub sources_learned: u64,
    /// Legs whose media was SRTP, and SRTP packets refused on them
    /// (authentication or replay).
    pub srtp_legs: u64,
    pub srtp_refused: u64,
}

impl MediaTotals {
    pub fn add(&mut self, ev: &crate::media::messages::MediaEvent) {
        use crate::media::messages::MediaEvent;
        match ev {
            MediaEvent::Failed { .. } => self.failed += 1,
            MediaEvent::TimedOut { .. } => self.timed_out += 1,
            // Counted per call (`dtmf_rendered`, `dtmf_detected` below).
            MediaEvent::Digits { .. } => {}
            MediaEvent::Closed { caller, callee, .. } => {
                self.sessions_closed += 1;
                for leg in [caller, callee] {
                    self.packets = self.packets.saturating_add(leg.packets_in);
                    self.bytes = self.bytes.saturating_add(leg.bytes_in);
                    self.lost = self.lost.saturating_add(leg.lost);
                    self.dropped_foreign = self.dropped_foreign.saturating_add(leg.dropped_foreign);
                    self.dropped_malformed =
                        self.dropped_malformed.saturating_add(leg.dropped_malformed);
                    self.dtmf_rendered += u64::from(leg.dtmf_rendered);
                    self.dtmf_detected += u64::from(leg.dtmf_detected);
                    self.sources_learned += u64::from(leg.source_learned);
                    self.srtp_legs += u64::from(leg.srtp);
                    self.srtp_refused = self.srtp_refused.saturating_add(leg.dropped_auth);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::messages::MediaEvent;
    use crate::media::relay::LegStats;

    #[test]
    fn closed_sessions_add_their_srtp_legs_and_refusals() {
        let mut t = MediaTotals::default();
        t.add(&MediaEvent::Closed {
            session: 1,
            caller: LegStats {
                srtp: true,
                dropped_auth: 2,
                packets_in: 10,
                ..LegStats::default()
            },
            callee: LegStats {
                packets_in: 12,
                ..LegStats::default()
            },
        });
        assert_eq!((t.srtp_legs, t.srtp_refused, t.packets), (1, 2, 22));
    }
}
