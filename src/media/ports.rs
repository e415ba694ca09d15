//! The media port range: RTP on even ports, RTCP on the odd port above
//! (RFC 3550 §11), handed out round-robin so a port just freed is not
//! reused at once (late packets of the old call would reach the new one).

#[derive(Clone, Debug)]
pub struct PortPool {
    first: u16,
    /// Pairs in the range; pair i is (first + 2i, first + 2i + 1).
    pairs: usize,
    used: Vec<bool>,
    next: usize,
    in_use: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PortRangeError {
    #[error("the range {0}-{1} holds no even/odd port pair")]
    Empty(u16, u16),
}

impl PortPool {
    /// Ports `low..=high`; an odd `low` starts at the next even port.
    pub fn new(low: u16, high: u16) -> Result<PortPool, PortRangeError> {
        let first = low.saturating_add(low % 2);
        if first == 0 || high <= first {
            return Err(PortRangeError::Empty(low, high));
        }
        // Ports first..=high: (high - first + 1) / 2 whole pairs.
        let pairs = usize::from(high - first).div_ceil(2);
        if pairs == 0 {
            return Err(PortRangeError::Empty(low, high));
        }
        Ok(PortPool {
            first,
            pairs,
            used: vec![false; pairs],
            next: 0,
            in_use: 0,
        })
    }

    /// An even RTP port whose odd neighbour is free too, or None when the
    /// range is exhausted.
    pub fn allocate(&mut self) -> Option<u16> {
        for _ in 0..self.pairs {
            let i = self.next;
            self.next = (self.next + 1) % self.pairs;
            if !self.used[i] {
                self.used[i] = true;
                self.in_use += 1;
                return Some(self.first + 2 * i as u16);
            }
        }
        None
    }

    pub fn release(&mut self, rtp_port: u16) {
        let Some(off) = rtp_port.checked_sub(self.first) else {
            return;
        };
        let i = usize::from(off / 2);
        if off % 2 == 0 && i < self.pairs && self.used[i] {
            self.used[i] = false;
            self.in_use -= 1;
        }
    }

    pub fn in_use(&self) -> usize {
        self.in_use
    }

    pub fn capacity(&self) -> usize {
        self.pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_even_rtp_and_odd_rtcp_within_the_range() {
        let rows = [
            ((20000, 20009), 5),
            ((20001, 20010), 4),
            ((20000, 20001), 1),
            ((30000, 39999), 5000),
        ];
        for ((lo, hi), pairs) in rows {
            let mut p = PortPool::new(lo, hi).unwrap();
            assert_eq!(p.capacity(), pairs, "{lo}-{hi}");
            let mut got = Vec::new();
            while let Some(port) = p.allocate() {
                assert!(
                    port % 2 == 0 && port >= lo && port < hi,
                    "{port} in {lo}-{hi}"
                );
                got.push(port);
            }
            assert_eq!(got.len(), pairs);
        }
        assert!(PortPool::new(20000, 20000).is_err());
        assert!(PortPool::new(0, 1).is_err());
        assert!(PortPool::new(65535, 65535).is_err());
    }

    #[test]
    fn freed_ports_come_back_last() {
        let mut p = PortPool::new(20000, 20007).unwrap();
        let a = p.allocate().unwrap();
        let b = p.allocate().unwrap();
        p.release(a);
        assert_eq!(
            p.allocate(),
            Some(20004),
            "round robin: not the port just freed"
        );
        assert_eq!(p.allocate(), Some(20006));
        assert_eq!(p.allocate(), Some(a));
        assert_eq!(p.allocate(), None);
        p.release(b);
        p.release(b);
        p.release(20001);
        p.release(19998);
        assert_eq!(p.in_use(), 3);
    }
}
