//! Local lines in routes: calls from a line (`from = "line"` and
//! `"line:NAME"`), emergency numbers dialled on a line, and `{ line =
//! "NAME" }` targets.

use super::invite;
use crate::config::{Config, Side, TransportName};
use crate::routing::{Origin, Router};
use crate::sip::message::Request;

const LINES: &str = r#"
[[line]]
name = "desk"
extension = "201"
capture = "hw:1,0"
playback = "hw:1,0"
serial_port = "/dev/ttyUSB0"
baud = 115200
dtmf = "inband"

[[line]]
name = "shop"
extension = "202"
"#;

fn compile(text: &str) -> Result<Router, String> {
    let cfg = Config::from_toml(&format!("{LINES}\n{text}")).map_err(|e| e.to_string())?;
    Router::compile(&cfg.routes, &cfg.accounts, &cfg.lines, &cfg.emergency)
        .map_err(|e| e.to_string())
}

/// A call dialled on a line, as the line's leg presents it to the router.
fn dialled(number: &str, extension: &str) -> Request {
    invite(
        &format!("sip:{number}@lines.invalid"),
        &format!("sip:{extension}@lines.invalid"),
        &format!("sip:{number}@lines.invalid"),
        &[],
    )
}

const ROUTES: &str = r#"
[emergency]
numbers = ["112"]

[[route]]
name = "desk-international"
from = "line:desk"
match = [{ dialled = true, prefix = "00" }]
targets = [{ uri = "sip:trunk@sip.example.com" }]

[[route]]
name = "lines"
from = "line"
targets = [{ uri = "sip:pbx@192.168.1.10" }]

[[route]]
name = "from-pbx"
from = "lan"
targets = [{ line = "desk" }, { line = "shop" }]

[[route]]
name = "cloud"
targets = [{ uri = "sip:operator@pbx.lan" }]
"#;

#[test]
fn calls_from_a_line_take_line_routes_and_no_others() {
    let r = compile(ROUTES).unwrap_or_else(|e| panic!("{e}"));
    // (what, request, origin, route taken)
    let rows = [
        (
            "desk's own route",
            dialled("0049301234", "201"),
            Origin::Line("desk"),
            Some("desk-international"),
        ),
        (
            "desk, not its prefix",
            dialled("5551234", "201"),
            Origin::Line("desk"),
            Some("lines"),
        ),
        (
            "shop: line:desk is not its",
            dialled("0049301234", "202"),
            Origin::Line("shop"),
            Some("lines"),
        ),
        (
            "an unknown line: any line",
            dialled("5551234", "209"),
            Origin::Line("garage"),
            Some("lines"),
        ),
        (
            "the LAN does not take line routes",
            dialled("0049301234", "201"),
            Origin::Side(Side::Lan),
            Some("from-pbx"),
        ),
        (
            "nor the WAN",
            dialled("0049301234", "201"),
            Origin::Side(Side::Wan),
            Some("cloud"),
        ),
    ];
    for (what, req, origin, expected) in rows {
        let got = r.route(&req, origin);
        assert_eq!(got.as_ref().map(|r| r.name.as_str()), expected, "{what}");
    }
    // Nothing for a line without a line route.
    let r = compile("[[route]]\nname = 'pbx'\nfrom = 'lan'\ntargets = [{ uri = 'sip:a@pbx' }]\n")
        .expect("compiles");
    assert!(r
        .route(&dialled("5551234", "201"), Origin::Line("desk"))
        .is_none());
}

#[test]
fn emergency_numbers_dialled_on_a_line_count_as_emergency() {
    let r = compile(ROUTES).expect("compiles");
    let call = dialled("112", "201");
    assert_eq!(r.emergency_number(&call, Origin::Line("desk")), Some("112"));
    assert_eq!(
        r.emergency_number(&call, Origin::Side(Side::Lan)),
        Some("112")
    );
    assert_eq!(r.emergency_number(&call, Origin::Side(Side::Wan)), None);
    assert_eq!(
        r.emergency_number(&dialled("1120", "201"), Origin::Line("desk")),
        None
    );
    // The emergency route takes them first, from a line as from the LAN.
    let r = compile(&format!(
        "{}\n[[route]]\nname = 'psap'\nfrom = 'lan'\ntargets = [{{ uri = 'sip:112@psap.example' }}]\n",
        ROUTES.replace("numbers = [\"112\"]", "numbers = [\"112\"]\nroute = \"psap\"")
    ))
    .expect("compiles");
    let got = r.route(&call, Origin::Line("shop"));
    assert_eq!(got.map(|r| r.name.clone()).as_deref(), Some("psap"));
    // A line route may be the emergency route; a WAN one may not.
    compile(&ROUTES.replace(
        "numbers = [\"112\"]",
        "numbers = [\"112\"]\nroute = \"lines\"",
    ))
    .expect("a line route");
    let e = compile(&ROUTES.replace(
        "numbers = [\"112\"]",
        "numbers = [\"112\"]\nroute = \"cloud\"",
    ))
    .unwrap_err();
    assert!(
        e.contains("emergency.route") && e.contains("\"line\""),
        "{e}"
    );
}

#[test]
fn a_line_target_names_the_line_at_an_address_that_never_resolves() {
    let r = compile(ROUTES).expect("compiles");
    let route = r
        .route(&dialled("201", "5551234"), Origin::Side(Side::Lan))
        .expect("routed");
    let t = &route.targets[0];
    assert_eq!(t.line.as_deref(), Some("desk"));
    assert_eq!(t.uri.to_string(), "sip:201@desk.line.invalid");
    assert_eq!(t.transport, TransportName::Udp);
    assert!(t.credentials.is_none() && t.account.is_none() && t.extra_headers.is_empty());
    // The line's DTMF mode.
    assert_eq!(t.dtmf, crate::config::DtmfMode::Inband);
    assert_eq!(
        route.targets[1].uri.to_string(),
        "sip:202@shop.line.invalid"
    );
    assert_eq!(route.targets[1].dtmf, crate::config::DtmfMode::Auto);
    // SIP targets have none.
    let cloud = r
        .route(&dialled("1", "2"), Origin::Side(Side::Wan))
        .expect("routed");
    assert_eq!(cloud.targets[0].line, None);
}

#[test]
fn line_targets_and_origins_are_checked_naming_the_field() {
    let route = |from: &str, target: &str| {
        format!(
            "[[account]]\nname = 'cloud'\nregistrar = 'sip:sip.example.com'\nusername = 'pbx'\n\
             [[route]]\nname = 'r'\nfrom = '{from}'\ntargets = [{target}]\n"
        )
    };
    for (text, says) in [
        (
            route("lan", "{ line = 'garage' }"),
            "route[0].targets[0].line: no [[line]] is named 'garage'",
        ),
        (
            route("line:garage", "{ uri = 'sip:a@pbx' }"),
            "route[0].from: no [[line]] is named 'garage'",
        ),
        (
            route("lan", "{ line = 'desk', uri = 'sip:a@pbx' }"),
            "route[0].targets[0].uri: a line target is reached on the box",
        ),
        (
            route("lan", "{ line = 'desk', account = 'cloud' }"),
            "route[0].targets[0].account: a line target",
        ),
        (
            route("lan", "{ line = 'desk', username = 'u', password = 'p' }"),
            "route[0].targets[0].username: a line target",
        ),
        (
            route("lan", "{ line = 'desk', password = 'p' }"),
            "route[0].targets[0].password: a line target",
        ),
        (
            route("lan", "{ line = 'desk', transport = 'tcp' }"),
            "route[0].targets[0].transport: a line target",
        ),
        (
            route("lan", "{ line = 'desk', srtp = 'offer' }"),
            "route[0].targets[0].srtp: a line target",
        ),
        (
            route("lan", "{ line = 'desk', headers = ['X-A: 1'] }"),
            "route[0].targets[0].headers: a line target",
        ),
        (
            route("lan", "{ line = 'desk', dtmf = 'both' }"),
            "route[0].targets[0].dtmf: a line target takes the line's own dtmf",
        ),
        (
            route("lan", "{ transport = 'tcp' }"),
            "route[0].targets[0].uri: a target needs a uri",
        ),
    ] {
        let e = compile(&text)
            .err()
            .unwrap_or_else(|| panic!("accepted: {text}"));
        assert!(e.starts_with(says), "{text}\n{e}");
    }
}

#[test]
fn a_catch_all_from_lines_hides_later_routes_from_lines_only() {
    let routes = |first: &str, second: &str| {
        format!(
            "[[route]]\nname = 'a'\nfrom = '{first}'\ntargets = [{{ uri = 'sip:a@pbx' }}]\n\
             [[route]]\nname = 'b'\nfrom = '{second}'\ntargets = [{{ uri = 'sip:b@pbx' }}]\n"
        )
    };
    for (first, second, hidden) in [
        ("line", "line", true),
        ("line", "line:desk", true),
        ("line:desk", "line:desk", true),
        ("line:desk", "line", false),
        ("line:desk", "line:shop", false),
        ("line", "lan", false),
        ("lan", "line", false),
    ] {
        match compile(&routes(first, second)) {
            Ok(_) => assert!(!hidden, "{first} then {second}: accepted"),
            Err(e) => {
                assert!(hidden, "{first} then {second}: {e}");
                assert!(e.starts_with("route[1]: can never be chosen"), "{e}");
                assert!(
                    e.contains("local lines") || e.contains("line 'desk'"),
                    "{e}"
                );
            }
        }
    }
}
