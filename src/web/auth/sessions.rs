//! Logged-in browsers: a 256-bit random id (the cookie) per session, its
//! user, its CSRF token, and when it was last used. Sans-IO: ids come from
//! the caller, time is `now`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Sessions kept at most; a new one past this ends the least recently used.
const MAX_SESSIONS: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub user: String,
    pub csrf: String,
    /// Logged in with a one-time password: only `/first-password` and
    /// `/logout` are reachable until the user sets their own.
    pub must_change: bool,
    last_used: Instant,
}

#[derive(Debug, Default)]
pub struct Sessions {
    by_id: HashMap<String, Session>,
}

impl Sessions {
    pub fn start(&mut self, id: String, user: &str, csrf: String, must_change: bool, now: Instant) {
        if self.by_id.len() >= MAX_SESSIONS {
            let lru = self
                .by_id
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(id, _)| id.clone());
            if let Some(id) = lru {
                self.by_id.remove(&id);
            }
        }
        self.by_id.insert(
            id,
            Session {
                user: user.to_string(),
                csrf,
                must_change,
                last_used: now,
            },
        );
    }

    /// The session `id`, if it exists and was used within `idle`; using it
    /// starts its idle time again. An expired one is ended.
    pub fn touch(&mut self, id: &str, idle: Duration, now: Instant) -> Option<Session> {
        let s = self.by_id.get_mut(id)?;
        if now.saturating_duration_since(s.last_used) >= idle {
            self.by_id.remove(id);
            return None;
        }
        s.last_used = now;
        Some(s.clone())
    }

    pub fn end(&mut self, id: &str) {
        self.by_id.remove(id);
    }

    /// The user set a password: their session may go everywhere.
    pub fn password_changed(&mut self, id: &str) {
        if let Some(s) = self.by_id.get_mut(id) {
            s.must_change = false;
        }
    }

    /// Ends every session of `user` but `keep` (after a password change or
    /// a reset on the console).
    pub fn end_user(&mut self, user: &str, keep: Option<&str>) {
        self.by_id
            .retain(|id, s| s.user != user || Some(id.as_str()) == keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_expires_after_its_idle_time_and_use_extends_it() {
        let mut s = Sessions::default();
        let t0 = Instant::now();
        let idle = Duration::from_secs(30 * 60);
        s.start("a".into(), "admin", "c".into(), false, t0);
        assert!(s
            .touch("a", idle, t0 + Duration::from_secs(29 * 60))
            .is_some());
        // Used at 29 min: alive until 59 min.
        assert!(s
            .touch("a", idle, t0 + Duration::from_secs(58 * 60))
            .is_some());
        assert!(s
            .touch("a", idle, t0 + Duration::from_secs(88 * 60))
            .is_none());
        assert!(s.touch("a", idle, t0).is_none(), "ended, not only refused");
        assert!(s.touch("unknown", idle, t0).is_none());
    }

    #[test]
    fn logout_and_password_change_end_sessions() {
        let mut s = Sessions::default();
        let t0 = Instant::now();
        let idle = Duration::from_secs(60);
        s.start("a".into(), "admin", "c1".into(), true, t0);
        s.start("b".into(), "admin", "c2".into(), true, t0);
        s.password_changed("a");
        s.end_user("admin", Some("a"));
        let a = s.touch("a", idle, t0).unwrap();
        assert!(!a.must_change);
        assert_eq!(a.csrf, "c1");
        assert!(s.touch("b", idle, t0).is_none());
        s.end("a");
        assert!(s.touch("a", idle, t0).is_none());
    }

    #[test]
    fn the_number_of_sessions_is_bounded() {
        let mut s = Sessions::default();
        let t0 = Instant::now();
        for i in 0..MAX_SESSIONS + 5 {
            s.start(
                i.to_string(),
                "admin",
                "c".into(),
                false,
                t0 + Duration::from_millis(i as u64),
            );
        }
        assert_eq!(s.by_id.len(), MAX_SESSIONS);
        assert!(
            s.touch("0", Duration::from_secs(60), t0).is_none(),
            "oldest gone"
        );
    }
}
