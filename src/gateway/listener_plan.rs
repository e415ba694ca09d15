//! What a saved configuration changes in the running listeners: which
//! listeners to bind (added, or moved to a new address) and which running
//! ones to retire (moved or removed). Listeners are matched by name.

use std::net::SocketAddr;

use crate::config::ListenerConfig;
use crate::sip::transport::ListenerId;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ListenerPlan {
    /// Indexes in the saved file of listeners to bind now.
    pub bind: Vec<usize>,
    /// Running listeners that no new call may use any more.
    pub retire: Vec<ListenerId>,
}

impl ListenerPlan {
    pub fn is_empty(&self) -> bool {
        self.bind.is_empty() && self.retire.is_empty()
    }
}

/// The plan, or None when it cannot be done while running: a listener
/// would be bound where a running one is (a rename or a swap of
/// addresses), which only a restart can do. Other changes to a listener
/// whose address stays (side, transports, public address, TCP idle time)
/// take a restart as well; its admission rules are applied live anyway.
pub fn plan(
    running: &[(ListenerId, &ListenerConfig, Vec<SocketAddr>)],
    new: &[ListenerConfig],
) -> Option<ListenerPlan> {
    let mut p = ListenerPlan::default();
    for (i, l) in new.iter().enumerate() {
        match running.iter().find(|(_, r, _)| r.name == l.name) {
            Some((_, r, _)) if r.bind == l.bind => {}
            Some((id, _, _)) => {
                p.bind.push(i);
                p.retire.push(*id);
            }
            None => p.bind.push(i),
        }
    }
    for (id, r, _) in running {
        if !new.iter().any(|l| l.name == r.name) {
            p.retire.push(*id);
        }
    }
    let taken = |a: SocketAddr| {
        a.port() != 0
            && running
                .iter()
                .any(|(_, r, bound)| r.bind == a || bound.contains(&a))
    };
    if p.bind.iter().any(|&i| taken(new[i].bind)) {
        return None;
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn listeners() -> Vec<ListenerConfig> {
        let mut v = Config::default().listeners;
        v[0].bind = "127.0.0.1:5060".parse().unwrap();
        v[1].bind = "127.0.0.1:5080".parse().unwrap();
        v
    }

    fn running(v: &[ListenerConfig]) -> Vec<(ListenerId, &ListenerConfig, Vec<SocketAddr>)> {
        v.iter()
            .enumerate()
            .map(|(i, l)| (ListenerId(i as u16), l, vec![l.bind]))
            .collect()
    }

    #[test]
    fn a_moved_listener_is_bound_anew_and_the_old_one_retired() {
        let old = listeners();
        let mut new = old.clone();
        new[1].bind = "127.0.0.1:5090".parse().unwrap();
        assert_eq!(
            plan(&running(&old), &new),
            Some(ListenerPlan {
                bind: vec![1],
                retire: vec![ListenerId(1)]
            })
        );
    }

    #[test]
    fn added_and_removed_listeners() {
        let old = listeners();
        let mut new = old.clone();
        let mut extra = old[1].clone();
        extra.name = "lan2".into();
        extra.bind = "127.0.0.2:5080".parse().unwrap();
        new.remove(0);
        new.push(extra);
        assert_eq!(
            plan(&running(&old), &new),
            Some(ListenerPlan {
                bind: vec![1],
                retire: vec![ListenerId(0)]
            })
        );
    }

    #[test]
    fn unchanged_addresses_need_nothing_and_a_rename_or_swap_needs_a_restart() {
        let old = listeners();
        let mut new = old.clone();
        new[1].rate_per_s = 7;
        new[1].tcp_idle_timeout_s = 60;
        assert!(plan(&running(&old), &new).unwrap().is_empty());
        let mut renamed = old.clone();
        renamed[1].name = "pbx".into();
        assert_eq!(plan(&running(&old), &renamed), None);
        let mut swapped = old.clone();
        swapped[0].bind = old[1].bind;
        swapped[1].bind = old[0].bind;
        assert_eq!(plan(&running(&old), &swapped), None);
    }

    #[test]
    fn port_zero_is_never_taken() {
        let mut old = listeners();
        old[1].bind = "127.0.0.1:0".parse().unwrap();
        let mut new = old.clone();
        new[1].bind = "127.0.0.2:0".parse().unwrap();
        let p = plan(&running(&old), &new).unwrap();
        assert_eq!(p.bind, vec![1]);
    }
}
