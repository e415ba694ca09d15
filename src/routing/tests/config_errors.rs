use crate::config::Config;
use crate::routing::Router;
use crate::test_support::assert_refused;

/// What loading and compiling `text` says: the data checks, then the
/// routes (as `gateway::compile` does).
fn load(text: &str) -> Result<Config, String> {
    let cfg = Config::from_toml(text)?;
    Router::compile(&cfg.routes, &cfg.accounts, &cfg.lines, &cfg.emergency)
        .map_err(|e| e.to_string())?;
    Ok(cfg)
}

/// A config with one account ("cloud") and one route named "r" whose body
/// is `route`.
fn with_route(route: &str) -> String {
    format!(
        "[[account]]\nname = 'cloud'\nregistrar = 'sip:sip.example.com'\nusername = 'pbx'\n\
         password = 'x'\n\n[[route]]\nname = 'r'\n{route}\n"
    )
}

const T: &str = "targets = [{ uri = 'sip:q@pbx.lan' }]";

#[test]
fn invalid_routes_are_refused_naming_the_field() {
    let two = |second: &str| format!("{}\n[[route]]\n{second}\n", with_route(T));
    // (description, TOML, field named, words of the advice)
    let rows: Vec<(&str, String, &str, &str)> = vec![
        ("missing targets", with_route(""), "route[0].targets", "at least one target"),
        ("empty targets", with_route("targets = []"), "route[0].targets", "at least one target"),
        (
            "bad regex",
            with_route(&format!("match = [{{ header = 'X-A', regex = '(' }}]\n{T}")),
            "route[0].match[0].regex",
            "'(' is not a valid regular expression: unclosed group",
        ),
        (
            "regex too big",
            with_route(&format!("match = [{{ caller = true, regex = '(\\w{{100}}){{100}}' }}]\n{T}")),
            "route[0].match[0].regex",
            "too big",
        ),
        (
            "bad uri",
            with_route("targets = [{ uri = 'sip:' }]"),
            "route[0].targets[0].uri",
            "'sip:' is not a SIP URI: host is empty",
        ),
        (
            "not a sip uri",
            with_route("targets = [{ uri = 'tel:+18885551234' }]"),
            "route[0].targets[0].uri",
            "must be a sip: URI",
        ),
        (
            "sips over udp",
            with_route("targets = [{ uri = 'sips:q@pbx.lan', transport = 'udp' }]"),
            "route[0].targets[0]",
            "contradicts",
        ),
        (
            "password in the uri",
            with_route("targets = [{ uri = 'sip:q:secret@pbx.lan' }]"),
            "route[0].targets[0].uri",
            "username/password",
        ),
        (
            "second target bad",
            with_route("targets = [{ uri = 'sip:a@b' }, { uri = 'http://x' }]"),
            "route[0].targets[1].uri",
            "sip: URI",
        ),
        ("duplicate route name", two(&format!("name = 'r'\n{T}")), "route[1].name", "used by another route"),
        ("empty route name", two(&format!("name = ''\n{T}")), "route[1].name", "must be 1-64"),
        (
            "route after a catch-all",
            two(&format!("name = 's'\nmatch = [{{ header = 'X-A', present = true }}]\n{T}")),
            "route[1]",
            "move the catch-all route last",
        ),
        (
            "two subjects",
            with_route(&format!("match = [{{ header = 'X-A', dialled = true, equals = '1' }}]\n{T}")),
            "route[0].match[0]",
            "more than one subject",
        ),
        (
            "no subject",
            with_route(&format!("match = [{{ equals = '1' }}]\n{T}")),
            "route[0].match[0]",
            "has no subject",
        ),
        (
            "no test",
            with_route(&format!("match = [{{ header = 'X-A' }}, {{ header = 'X-B' }}]\n{T}")),
            "route[0].match[0]",
            "has no test",
        ),
        (
            "two tests",
            with_route(&format!("match = [{{ caller = true, equals = '1', prefix = '1' }}]\n{T}")),
            "route[0].match[0]",
            "more than one test",
        ),
        (
            "dialled = false",
            with_route(&format!("match = [{{ dialled = false, equals = '1' }}]\n{T}")),
            "route[0].match[0].dialled",
            "write dialled = true",
        ),
        (
            "present on the caller",
            with_route(&format!("match = [{{ caller = true, present = true }}]\n{T}")),
            "route[0].match[0].present",
            "only applies to header",
        ),
        (
            "absent = false",
            with_route(&format!("match = [{{ header = 'X-A', absent = false }}]\n{T}")),
            "route[0].match[0].absent",
            "present = true",
        ),
        (
            "bad header name in a match",
            with_route(&format!("match = [{{ header = 'X A', present = true }}]\n{T}")),
            "route[0].match[0].header",
            "not a header name",
        ),
        (
            "owned header in target headers",
            with_route("targets = [{ uri = 'sip:a@b', headers = ['X-A: 1', 'Contact: <sip:x@y>'] }]"),
            "route[0].targets[0].headers[1]",
            "written by the gateway",
        ),
        (
            "owned header by its compact name",
            with_route("targets = [{ uri = 'sip:a@b', headers = ['i: abc'] }]"),
            "route[0].targets[0].headers[0]",
            "Call-ID is written by the gateway",
        ),
        (
            "target header without a colon",
            with_route("targets = [{ uri = 'sip:a@b', headers = ['X-Campaign-ID 1234'] }]"),
            "route[0].targets[0].headers[0]",
            "\"Name: value\"",
        ),
        (
            "CR in a target header",
            with_route("targets = [{ uri = 'sip:a@b', headers = [\"X-A: 1\\r\\nVia: evil\"] }]"),
            "route[0].targets[0].headers[0]",
            "control characters",
        ),
        (
            "owned header in pass",
            with_route(&format!("{T}\nheaders = [{{ action = 'pass', name = 'Via' }}]")),
            "route[0].headers[0].name",
            "written by the gateway",
        ),
        (
            "owned header in set",
            with_route(&format!("{T}\nheaders = [{{ action = 'set', name = 'max-forwards', value = '1' }}]")),
            "route[0].headers[0].name",
            "Max-Forwards is written",
        ),
        (
            "owned header as a rename source",
            with_route(&format!(
                "{T}\nheaders = [{{ action = 'rename', from = 'Authorization', name = 'X-Auth' }}]"
            )),
            "route[0].headers[0].from",
            "written by the gateway",
        ),
        (
            "CR in a set value",
            with_route(&format!(
                "{T}\nheaders = [{{ action = 'strip', name = 'X-B' }}, {{ action = 'set', name = 'X-A', value = \"1\\r\\n\" }}]"
            )),
            "route[0].headers[1].value",
            "control characters",
        ),
        (
            "set without a value",
            with_route(&format!("{T}\nheaders = [{{ action = 'set', name = 'X-A' }}]")),
            "route[0].headers[0].value",
            "needs value",
        ),
        (
            "rename without from",
            with_route(&format!("{T}\nheaders = [{{ action = 'rename', name = 'X-A' }}]")),
            "route[0].headers[0].from",
            "needs from",
        ),
        (
            "strip with a value",
            with_route(&format!("{T}\nheaders = [{{ action = 'strip', name = 'X-A', value = '1' }}]")),
            "route[0].headers[0].value",
            "takes no value",
        ),
        (
            "action without a name",
            with_route(&format!("{T}\nheaders = [{{ action = 'pass' }}]")),
            "route[0].headers[0].name",
            "needs name",
        ),
        (
            "pass everything",
            with_route(&format!("{T}\nheaders = [{{ action = 'pass', name = '*' }}]")),
            "route[0].headers[0].name",
            "name a prefix",
        ),
        (
            "a star in the middle",
            with_route(&format!("{T}\nheaders = [{{ action = 'strip', name = 'X-*-Id*' }}]")),
            "route[0].headers[0].name",
            "prefix ending in '*'",
        ),
        (
            "a star in set",
            with_route(&format!("{T}\nheaders = [{{ action = 'set', name = 'X-*', value = '1' }}]")),
            "route[0].headers[0].name",
            "only allowed in pass and strip",
        ),
        (
            "unknown account",
            with_route("targets = [{ uri = 'sip:a@b', account = 'nope' }]"),
            "route[0].targets[0].account",
            "no [[account]] is named 'nope'",
        ),
        (
            "account and credentials",
            with_route("targets = [{ uri = 'sip:a@b', account = 'cloud', username = 'u', password = 'p' }]"),
            "route[0].targets[0].username",
            "account's credentials",
        ),
        (
            "username without password",
            with_route("targets = [{ uri = 'sip:a@b', username = 'u' }]"),
            "route[0].targets[0].password",
            "a username needs a password",
        ),
        (
            "password without username",
            with_route("targets = [{ uri = 'sip:a@b', password = 'p' }]"),
            "route[0].targets[0].username",
            "a password needs a username",
        ),
        (
            "quote in the username",
            with_route("targets = [{ uri = 'sip:a@b', username = 'u\"', password = 'p' }]"),
            "route[0].targets[0].username",
            "without quotes",
        ),
        (
            "transport contradicts the uri",
            with_route("targets = [{ uri = 'sip:a@b;transport=tcp', transport = 'udp' }]"),
            "route[0].targets[0].transport",
            "contradicts",
        ),
        (
            "transport the gateway lacks",
            with_route("targets = [{ uri = 'sip:a@b;transport=sctp' }]"),
            "route[0].targets[0].transport",
            "only udp, tcp and tls",
        ),
        // Shape errors come from the TOML reader, which names the key.
        (
            "unknown key in a match item",
            with_route(&format!("match = [{{ header = 'X-A', equal = '1' }}]\n{T}")),
            "equal",
            "unknown field",
        ),
        (
            "unknown action",
            with_route(&format!("{T}\nheaders = [{{ action = 'delete', name = 'X-A' }}]")),
            "delete",
            "unknown variant",
        ),
        (
            "unknown origin",
            with_route(&format!("from = 'dmz'\n{T}")),
            "dmz",
            "is not a route origin: use \"wan\", \"lan\", \"line\" (any line) or \"line:NAME\"",
        ),
    ];
    for (what, text, field, advice) in rows {
        let e = assert_refused(load(&text), what, &text, field, advice);
        if field.starts_with("route") {
            assert!(!e.contains('\n'), "{what}: '{e}' is one line");
        }
    }
}

#[test]
fn valid_variants_are_accepted() {
    // (description, TOML)
    let rows: Vec<(&str, String)> = vec![
        ("one target", with_route(T)),
        (
            "account target, transport from the URI",
            with_route("targets = [{ uri = 'sip:+18885551234@sip.example.com;transport=tcp', account = 'cloud' }]"),
        ),
        (
            "credentials and extra headers",
            with_route("targets = [{ uri = 'sip:a@b', username = 'u', password = 'p', headers = ['X-Campaign-ID: 1234', 'Subject: lead'] }]"),
        ),
        (
            "a WAN catch-all does not hide a LAN route",
            format!("{}\n[[route]]\nname = 'out'\nfrom = 'lan'\n{T}\n", with_route(T)),
        ),
        (
            "matches on owned headers are fine (they are only read)",
            with_route(&format!("match = [{{ header = 'User-Agent', regex = 'Twilio' }}, {{ header = 'Via', present = true }}]\n{T}")),
        ),
        (
            "strip everything, then set",
            with_route(&format!(
                "{T}\nheaders = [{{ action = 'strip', name = '*' }}, {{ action = 'set', name = 'X-A', value = 'b' }}]"
            )),
        ),
    ];
    for (what, text) in rows {
        if let Err(e) = load(&text) {
            panic!("{what}: {e}\n{text}");
        }
    }
}

const LAN_ROUTE: &str =
    "[[route]]\nname = 'out'\nfrom = 'lan'\ntargets = [{ uri = 'sip:trunk@198.51.100.1' }]\n";

#[test]
fn emergency_routes_that_cannot_carry_the_calls_are_refused_naming_the_field() {
    // (description, TOML, field named, words of the advice)
    let rows: Vec<(&str, String, &str, &str)> = vec![
        (
            "route empty",
            format!("[emergency]\nroute = ''\n{LAN_ROUTE}"),
            "emergency.route",
            "name a [[route]]",
        ),
        (
            "route unknown",
            format!("[emergency]\nroute = 'psap'\n{LAN_ROUTE}"),
            "emergency.route",
            "no [[route]] is named 'psap'",
        ),
        (
            "route from the WAN",
            "[emergency]\nroute = 'in'\n[[route]]\nname = 'in'\n\
             targets = [{ uri = 'sip:q@10.0.0.2' }]\n"
                .into(),
            "emergency.route",
            "route 'in' has from = \"wan\"",
        ),
    ];
    for (what, text, field, advice) in rows {
        assert_refused(load(&text), what, &text, field, advice);
    }
}

#[test]
fn a_route_after_a_catch_all_is_still_refused_unless_it_is_the_emergency_route() {
    let text = format!(
        "{LAN_ROUTE}[[route]]\nname = 'psap'\nfrom = 'lan'\n\
         targets = [{{ uri = 'sip:psap@198.51.100.9' }}]\n"
    );
    let e = load(&text).expect_err("unreachable route");
    assert!(e.contains("route[1]") && e.contains("catch-all"), "{e}");
    let e = load(&format!("{text}[[route]]\nname = 'x'\nfrom = 'lan'\ntargets = [{{ uri = 'sip:x@10.0.0.1' }}]\n[emergency]\nroute = 'psap'\n"))
        .expect_err("a route after both catch-alls");
    assert!(
        e.contains("route[2]") && e.contains("route[0] 'out'"),
        "{e}"
    );
}
