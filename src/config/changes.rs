//! When a changed field takes effect: at once for new calls (live), or at
//! the next start (needs restart). One table, `FIELD_EFFECTS`, says it for
//! every field; a test walks the configuration's keys so that a field
//! added without a row fails.

use super::edit::{keys_of, to_table};
use super::schema::Config;

/// When a change to a field takes effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Applied to the calls that start after the save; calls in progress
    /// keep the settings they started with.
    Live,
    /// Read once at start (sockets bound, threads started, registrations
    /// made): takes effect when the gateway is restarted.
    Restart,
}

use Effect::{Live, Restart};

/// Every field of the file by its path: `section.key` for a section's
/// field, `array.key` for a field of each `[[array]]` entry, or a bare
/// name for a whole section or array whose fields all take effect the
/// same way.
pub const FIELD_EFFECTS: &[(&str, Effect)] = &[
    ("sip.user_agent", Restart),
    ("sip.t1_ms", Restart),
    ("sip.t2_ms", Restart),
    ("sip.t4_ms", Restart),
    // A listener's socket is bound at start; its admission rules are read
    // per datagram from the configuration in force. The running gateway
    // does better for a listener moved to a new `bind`, added or removed
    // (gateway/control.rs binds the new socket and keeps the old one until
    // its calls end) and leaves those out of what it reports; this table
    // is what a save needs in general (a rename, a swap of two addresses,
    // or a side change on the same address still take a restart).
    ("listener.name", Restart),
    ("listener.side", Restart),
    ("listener.bind", Restart),
    ("listener.transports", Restart),
    ("listener.tcp_idle_timeout_s", Restart),
    ("listener.public_address", Restart),
    ("listener.tls_bind", Restart),
    // Read into the call layer's listener table at start.
    ("listener.srtp", Restart),
    ("listener.allow", Live),
    ("listener.on_deny", Live),
    ("listener.admit", Live),
    ("listener.rate_per_s", Live),
    ("listener.burst", Live),
    ("listener.rate_per_s_listed", Live),
    ("listener.burst_listed", Live),
    // Registration clients are made at start.
    ("account", Restart),
    ("inbound_auth.realm", Live),
    ("inbound_auth.status", Live),
    ("inbound_auth.algorithms", Live),
    ("inbound_auth.methods", Live),
    ("inbound_auth.max_failures", Live),
    ("inbound_auth.failure_window_s", Live),
    ("inbound_auth.block_s", Live),
    ("inbound_auth.nonce_lifetime_s", Live),
    ("inbound_auth.users", Live),
    ("calls.max_concurrent", Live),
    ("calls.retry_after_s", Live),
    ("calls.failover_timeout_ms", Live),
    ("calls.max_redirects", Live),
    ("calls.sdp", Live),
    ("calls.history", Live),
    // The port pool and the media threads are made at start.
    ("media.port_min", Restart),
    ("media.port_max", Restart),
    ("media.threads", Restart),
    ("media.timeout_s", Live),
    ("media.source", Live),
    ("media.learn_packets", Live),
    ("media.learn_window_ms", Live),
    ("media.relearn_after_ms", Live),
    ("media.allow", Live),
    ("media.any_source", Live),
    ("route", Live),
    ("emergency.numbers", Live),
    ("emergency.route", Live),
    ("dns.nameservers", Restart),
    ("log.level", Restart),
    ("log.counters_interval_s", Restart),
    // Read by the history writer before each write.
    ("history.max_calls", Live),
    ("history.max_age_days", Live),
    // The web server's socket, certificate and login rules are set up
    // at start; the allow lists are read per connection.
    ("web.enabled", Restart),
    ("web.bind", Restart),
    ("web.allow", Live),
    ("web.cert_file", Restart),
    ("web.key_file", Restart),
    ("web.session_idle_min", Live),
    ("web.login_failures", Live),
    ("web.login_window_min", Live),
    ("web.metrics_allow", Live),
    // The TLS acceptor and connector are made at start.
    ("tls", Restart),
    // The senders are started at start, one per webhook.
    ("webhook", Restart),
    ("events.max_events", Live),
    ("events.max_mib", Live),
    ("events.headers", Live),
    // The MQTT sink is started at start, when [mqtt] is set.
    ("mqtt", Restart),
    // A line's audio and serial port are opened at start; the board
    // gives their defaults.
    ("system.board", Restart),
    ("line", Restart),
    // Read by `pbxgate health-check` at each boot.
    ("update", Live),
    // Written to the data directory's networkd file at once, which the
    // appliance applies (docs/network.md).
    ("network", Live),
];

/// The sections (file names: `sip`, `listener`, `route`...) that differ,
/// in the configuration's order.
pub fn changed_sections(old: &Config, new: &Config) -> Vec<String> {
    let (Ok(o), Ok(n)) = (to_table(old), to_table(new)) else {
        return Vec::new();
    };
    keys_of(&n, &o)
        .into_iter()
        .filter(|k| o.get(k) != n.get(k))
        .collect()
}

/// The fields that differ and take effect only at restart, as paths a
/// person can find in the file: `media.threads`, `listener[0].bind` (by
/// its place in `new`), `account` (any account), `listener` (a listener
/// added or removed). Listeners are matched by name, so one added before
/// another does not make the other's fields count as changed.
pub fn restart_fields(old: &Config, new: &Config) -> Vec<String> {
    let (Ok(o), Ok(n)) = (to_table(old), to_table(new)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for key in keys_of(&n, &o) {
        let (ov, nv) = (o.get(&key), n.get(&key));
        if ov == nv {
            continue;
        }
        if effect_of(&key) == Some(Restart) {
            out.push(key);
            continue;
        }
        let fields = |v: Option<&toml::Value>| v.and_then(toml::Value::as_table).cloned();
        if let (Some(ot), Some(nt)) = (fields(ov), fields(nv)) {
            for field in keys_of(&nt, &ot) {
                let path = format!("{key}.{field}");
                if ot.get(&field) != nt.get(&field) && effect_of(&path) == Some(Restart) {
                    out.push(path);
                }
            }
            continue;
        }
        let entries = |v: Option<&toml::Value>| -> Vec<toml::Table> {
            v.and_then(toml::Value::as_array)
                .map(|a| a.iter().filter_map(|e| e.as_table().cloned()).collect())
                .unwrap_or_default()
        };
        out.extend(array_restart_fields(&key, &entries(ov), &entries(nv)));
    }
    out
}

/// The restart fields of an array of tables whose fields have rows of
/// their own; entries are matched by `name`.
fn array_restart_fields(key: &str, old: &[toml::Table], new: &[toml::Table]) -> Vec<String> {
    let name = |t: &toml::Table| t.get("name").cloned();
    let mut out = Vec::new();
    let mut membership = old.len() != new.len();
    for (i, n) in new.iter().enumerate() {
        let Some(o) = old.iter().find(|o| name(o) == name(n)) else {
            membership = true;
            continue;
        };
        for field in keys_of(n, o) {
            let path = format!("{key}.{field}");
            if o.get(&field) != n.get(&field) && effect_of(&path) == Some(Restart) {
                out.push(format!("{key}[{i}].{field}"));
            }
        }
    }
    let restart_any = FIELD_EFFECTS
        .iter()
        .any(|(p, e)| *e == Restart && p.strip_prefix(key).is_some_and(|r| r.starts_with('.')));
    if membership && restart_any {
        out.insert(0, key.to_string());
    }
    out
}

/// The row for `path` exactly.
fn effect_of(path: &str) -> Option<Effect> {
    FIELD_EFFECTS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, e)| *e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::sample::every_field_set;

    /// The field paths of a configuration: `section.key`, `array.key` for
    /// the keys of every `[[array]]` entry, or the bare key.
    fn field_paths(cfg: &Config) -> Vec<String> {
        let mut paths = Vec::new();
        for (key, value) in to_table(cfg).unwrap() {
            let mut add = |t: &toml::Table| {
                for field in t.keys() {
                    let p = format!("{key}.{field}");
                    if !paths.contains(&p) {
                        paths.push(p);
                    }
                }
            };
            match &value {
                toml::Value::Table(t) => add(t),
                toml::Value::Array(a) if !a.is_empty() && a.iter().all(toml::Value::is_table) => {
                    a.iter().filter_map(toml::Value::as_table).for_each(add)
                }
                _ => paths.push(key.clone()),
            }
        }
        paths
    }

    fn covers(row: &str, path: &str) -> bool {
        path == row || path.strip_prefix(row).is_some_and(|r| r.starts_with('.'))
    }

    #[test]
    fn every_field_has_exactly_one_row_and_every_row_a_field() {
        let paths = field_paths(&every_field_set());
        assert!(paths.len() > 40, "{paths:?}");
        for path in &paths {
            let rows: Vec<&str> = FIELD_EFFECTS
                .iter()
                .map(|(r, _)| *r)
                .filter(|r| covers(r, path))
                .collect();
            assert_eq!(
                rows.len(),
                1,
                "{path} needs exactly one row in FIELD_EFFECTS (live or restart), has {rows:?}"
            );
        }
        for (row, _) in FIELD_EFFECTS {
            assert!(
                paths.iter().any(|p| covers(row, p)),
                "the row {row} names no field of the configuration"
            );
        }
    }

    #[test]
    fn the_lead_s_plan_is_in_the_table() {
        for restart in [
            "media.threads",
            "media.port_min",
            "sip.t1_ms",
            "listener.bind",
        ] {
            assert_eq!(effect_of(restart), Some(Restart), "{restart}");
        }
        for live in [
            "route",
            "media.source",
            "listener.allow",
            "calls.max_concurrent",
        ] {
            assert_eq!(effect_of(live), Some(Live), "{live}");
        }
    }

    fn changed(f: impl FnOnce(&mut Config)) -> (Vec<String>, Vec<String>) {
        let old = Config::default();
        let mut new = old.clone();
        f(&mut new);
        (changed_sections(&old, &new), restart_fields(&old, &new))
    }

    #[test]
    fn restart_fields_name_what_changed_and_needs_a_restart() {
        let s = every_field_set();
        assert_eq!(changed(|_| {}), (vec![], vec![]));
        assert_eq!(
            changed(|c| c.media.threads = 3),
            (vec!["media".into()], vec!["media.threads".into()])
        );
        assert_eq!(
            changed(|c| c.media.timeout_s = 30),
            (vec!["media".into()], vec![])
        );
        assert_eq!(
            changed(|c| {
                c.listeners[1].bind = "127.0.0.1:5090".parse().unwrap();
                c.listeners[0].allow = Some(vec!["203.0.113.0/24".into()]);
                c.listeners[0].rate_per_s = 10;
            }),
            (vec!["listener".into()], vec!["listener[1].bind".into()])
        );
        assert_eq!(
            changed(|c| c.routes = s.routes.clone()),
            (vec!["route".into()], vec![])
        );
        assert_eq!(
            changed(|c| c.accounts = s.accounts.clone()),
            (vec!["account".into()], vec!["account".into()])
        );
        // An option cleared counts like a value changed.
        let mut with_address = Config::default();
        with_address.listeners[0].public_address = Some("198.51.100.1".parse().unwrap());
        assert_eq!(
            restart_fields(&with_address, &Config::default()),
            vec!["listener[0].public_address".to_string()]
        );
    }

    #[test]
    fn a_listener_added_or_removed_needs_a_restart_and_others_are_matched_by_name() {
        let mut extra = Config::default().listeners[0].clone();
        extra.name = "wan2".into();
        extra.bind = "127.0.0.1:5070".parse().unwrap();
        let (sections, restart) = changed(|c| c.listeners.insert(0, extra.clone()));
        assert_eq!(sections, vec!["listener".to_string()]);
        // Not listener[1].bind and the rest: wan and lan did not change.
        assert_eq!(restart, vec!["listener".to_string()]);
        let (_, restart) = changed(|c| {
            c.listeners.remove(0);
        });
        assert_eq!(restart, vec!["listener".to_string()]);
        let (_, restart) = changed(|c| c.listeners.swap(0, 1));
        assert_eq!(restart, Vec::<String>::new());
    }

    #[test]
    fn every_section_of_the_sample_is_reported_changed() {
        let all = changed_sections(&Config::default(), &every_field_set());
        assert_eq!(
            all,
            [
                "sip",
                "listener",
                "account",
                "inbound_auth",
                "calls",
                "media",
                "route",
                "emergency",
                "dns",
                "log",
                "history",
                "web",
                "tls",
                "webhook",
                "events",
                "mqtt",
                "system",
                "line",
                "update",
                "network"
            ]
        );
        let restart = restart_fields(&Config::default(), &every_field_set());
        assert!(
            restart.contains(&"sip.user_agent".to_string()),
            "{restart:?}"
        );
        assert!(restart.contains(&"log.level".to_string()), "{restart:?}");
        assert!(
            restart.contains(&"dns.nameservers".to_string()),
            "{restart:?}"
        );
        assert!(!restart
            .iter()
            .any(|r| r.starts_with("route") || r.starts_with("calls")));
    }
}
