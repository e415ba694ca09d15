use super::{cloud_invite, invite, routes_of};
use crate::config::{Side, TransportName};
use crate::routing::{Origin, Router, TargetCredentials};
use crate::sip::message::Request;

const ROUTES: &str = r#"
[[account]]
name = "cloud"
registrar = "sip:sip.example.com"
username = "pbx"
password = "secret"
transport = "tcp"

[[route]]
name = "afid-5678"
match = [
  { header = "X-PH-RetreaverAFID", equals = "5678" },
  { dialled = true, prefix = "+1888" },
]
targets = [
  { uri = "sip:queue1@127.0.0.1:5090" },
  { uri = "sip:buyer@example.com", username = "u", password = "p", headers = ["X-Campaign-ID: 1234"] },
  { account = "cloud", uri = "sip:+18885551234@sip.example.com" },
]
headers = [
  { action = "rename", from = "X-PH-RetreaverAFID", name = "X-Publisher-ID" },
  { action = "set", name = "X-Campaign-ID", value = "1" },
]

[[route]]
name = "any-publisher"
match = [{ header = "x-ph-retreaverafid", present = true }]
targets = [{ uri = "sip:publishers@pbx.lan;transport=tcp" }]

[[route]]
name = "from-pbx"
from = "lan"
match = [{ caller = true, regex = "^2\\d\\d$" }]
targets = [{ uri = "sip:+18005550000@sip.example.com", account = "cloud" }]

[[route]]
name = "default"
targets = [{ uri = "sip:operator@pbx.lan" }]
"#;

fn router(text: &str) -> Router {
    let (routes, cfg) = routes_of(text);
    match Router::from_config(&routes, &cfg.accounts) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn first_matching_route_for_the_side_wins() {
    let r = router(ROUTES);
    let from_pbx = |user: &str| {
        invite(
            "sip:+18005550000@gw.lan",
            &format!("sip:{user}@pbx.lan"),
            "sip:+18005550000@gw.lan",
            &[],
        )
    };
    // (description, request, side, expected route)
    let rows: Vec<(&str, Request, Side, Option<&str>)> = vec![
        (
            "all matches pass",
            cloud_invite(&["X-PH-RetreaverAFID: 5678"]),
            Side::Wan,
            Some("afid-5678"),
        ),
        (
            "AND: one match fails, the next route takes it",
            invite(
                "sip:+15550001111@gw",
                "sip:a@b",
                "sip:+15550001111@gw",
                &["X-PH-RetreaverAFID: 5678"],
            ),
            Side::Wan,
            Some("any-publisher"),
        ),
        (
            "first match wins over a later, looser route",
            cloud_invite(&["X-PH-RetreaverAFID: 1"]),
            Side::Wan,
            Some("any-publisher"),
        ),
        ("catch-all", cloud_invite(&[]), Side::Wan, Some("default")),
        ("LAN route", from_pbx("201"), Side::Lan, Some("from-pbx")),
        ("LAN, no route matches", from_pbx("2011"), Side::Lan, None),
        (
            "a WAN route is not used for a LAN call",
            cloud_invite(&["X-PH-RetreaverAFID: 5678"]),
            Side::Lan,
            None,
        ),
        (
            "a LAN route is not used for a WAN call",
            from_pbx("201"),
            Side::Wan,
            Some("default"),
        ),
    ];
    for (what, req, side, expected) in rows {
        let got = r.route(&req, Origin::Side(side));
        assert_eq!(got.as_ref().map(|r| r.name.as_str()), expected, "{what}");
    }
}

#[test]
fn no_route_without_catch_all_and_default_router_routes_nothing() {
    let r = router(
        "[[route]]\nname='a'\nmatch=[{header='X-A', equals='1'}]\ntargets=[{uri='sip:a@b'}]\n",
    );
    assert!(r
        .route(&cloud_invite(&["X-A: 2"]), Origin::Side(Side::Wan))
        .is_none());
    assert!(r
        .route(&cloud_invite(&["X-A: 1"]), Origin::Side(Side::Wan))
        .is_some());
    assert!(Router::default()
        .route(&cloud_invite(&["X-A: 1"]), Origin::Side(Side::Wan))
        .is_none());
    assert_eq!(Router::default().routes().count(), 0);
}

#[test]
fn targets_are_compiled_in_order() {
    let r = router(ROUTES);
    let names: Vec<&str> = r.routes().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["afid-5678", "any-publisher", "from-pbx", "default"]
    );
    let route = r.routes().next().cloned().expect("a route");
    let t = &route.targets;
    assert_eq!(t.len(), 3);
    // (target, uri, transport, username, account)
    let rows = vec![
        (
            0,
            "sip:queue1@127.0.0.1:5090",
            TransportName::Udp,
            None,
            None,
        ),
        (
            1,
            "sip:buyer@example.com",
            TransportName::Udp,
            Some("u"),
            None,
        ),
        (
            2,
            "sip:+18885551234@sip.example.com",
            TransportName::Tcp,
            None,
            Some("cloud"),
        ),
    ];
    for (i, uri, transport, user, account) in rows {
        assert_eq!(t[i].uri.to_string(), uri, "target {i}");
        assert_eq!(
            t[i].transport, transport,
            "target {i}: account's transport is the default"
        );
        assert_eq!(
            t[i].credentials.as_ref().map(|c| c.username.as_str()),
            user,
            "target {i}"
        );
        assert_eq!(t[i].account.as_deref(), account, "target {i}");
    }
    assert_eq!(
        t[1].credentials,
        Some(TargetCredentials {
            username: "u".into(),
            password: "p".into()
        })
    );
    assert!(
        !format!("{:?}", t[1]).contains("\"p\""),
        "password hidden from Debug"
    );
    let publishers = r.routes().nth(1).cloned().expect("a route");
    assert_eq!(
        publishers.targets[0].transport,
        TransportName::Tcp,
        "from the URI"
    );
}

#[test]
fn target_headers_follow_and_override_the_plan() {
    let r = router(ROUTES);
    let req = cloud_invite(&["X-PH-RetreaverAFID: 5678", "X-PH-RetreaverUUID: u"]);
    let route = r.route(&req, Origin::Side(Side::Wan)).expect("routed");
    let got = |i: usize| -> Vec<(String, String)> {
        route
            .outgoing_headers(&route.targets[i], &req.headers)
            .into_iter()
            .map(|(n, v)| (n.as_str().to_string(), v))
            .collect()
    };
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        got(0),
        pairs(&[
            ("X-Publisher-ID", "5678"),
            ("X-PH-RetreaverUUID", "u"),
            ("X-Campaign-ID", "1")
        ])
    );
    assert_eq!(
        got(1),
        pairs(&[
            ("X-Publisher-ID", "5678"),
            ("X-PH-RetreaverUUID", "u"),
            ("X-Campaign-ID", "1234")
        ])
    );
}

#[test]
fn emergency_calls_take_the_emergency_route_first() {
    let text = |route: &str| {
        format!(
            "[emergency]\nnumbers = ['112', '911']\n{route}\n\
             [[route]]\nname = 'in'\ntargets = [{{ uri = 'sip:q@pbx.lan' }}]\n\
             [[route]]\nname = 'ext-2xx'\nfrom = 'lan'\nmatch = [{{ caller = true, prefix = '2' }}]\n\
             targets = [{{ uri = 'sip:trunk@sip.example.com' }}]\n\
             [[route]]\nname = 'out'\nfrom = 'lan'\ntargets = [{{ uri = 'sip:other@sip.example.com' }}]\n\
             [[route]]\nname = 'psap'\nfrom = 'lan'\ntargets = [{{ uri = 'sip:psap@psap.example.com' }}]\n"
        )
    };
    let compile = |t: &str| {
        let cfg = match crate::config::Config::from_toml(t) {
            Ok(c) => c,
            Err(e) => panic!("{e}\n{t}"),
        };
        Router::compile(&cfg.routes, &cfg.accounts, &cfg.lines, &cfg.emergency).expect("router")
    };
    let with_route = compile(&text("route = 'psap'"));
    let call = |ruri: &str, caller: &str| {
        invite(ruri, &format!("sip:{caller}@pbx.lan"), "sip:x@gw.lan", &[])
    };
    // (description, request, side, number, route with [emergency] route,
    // route without it)
    type Row<'a> = (
        &'a str,
        Request,
        Side,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );
    let rows: Vec<Row> = vec![
        (
            "112 from an extension",
            call("sip:112@gw.lan", "201"),
            Side::Lan,
            Some("112"),
            Some("psap"),
            Some("ext-2xx"),
        ),
        (
            "112 from another caller",
            call("sip:112@gw.lan", "ops"),
            Side::Lan,
            Some("112"),
            Some("psap"),
            Some("out"),
        ),
        (
            "+1-12 is 112",
            call("sip:+1-12@gw.lan;user=phone", "ops"),
            Side::Lan,
            Some("112"),
            Some("psap"),
            Some("out"),
        ),
        (
            "escaped (911)",
            call("sip:%28911%29@gw.lan", "201"),
            Side::Lan,
            Some("911"),
            Some("psap"),
            Some("ext-2xx"),
        ),
        (
            "tel: URI",
            call("tel:911;phone-context=+1", "ops"),
            Side::Lan,
            Some("911"),
            Some("psap"),
            Some("out"),
        ),
        (
            "1120 is no emergency",
            call("sip:1120@gw.lan", "ops"),
            Side::Lan,
            None,
            Some("out"),
            Some("out"),
        ),
        (
            "9110 is no emergency",
            call("sip:9110@gw.lan", "201"),
            Side::Lan,
            None,
            Some("ext-2xx"),
            Some("ext-2xx"),
        ),
        (
            "999 is not configured",
            call("sip:999@gw.lan", "ops"),
            Side::Lan,
            None,
            Some("out"),
            Some("out"),
        ),
        (
            "only the Request-URI counts",
            invite(
                "sip:operator@gw.lan",
                "sip:ops@pbx.lan",
                "sip:112@gw.lan",
                &[],
            ),
            Side::Lan,
            None,
            Some("out"),
            Some("out"),
        ),
        (
            "from the WAN it is an ordinary call",
            call("sip:112@gw.lan", "ops"),
            Side::Wan,
            None,
            Some("in"),
            Some("in"),
        ),
    ];
    let without_route = compile(&text("").replace(
        "[[route]]\nname = 'psap'\nfrom = 'lan'\ntargets = [{ uri = 'sip:psap@psap.example.com' }]\n",
        "",
    ));
    for (what, req, side, number, with, without) in rows {
        assert_eq!(
            with_route.emergency_number(&req, Origin::Side(side)),
            number,
            "{what}"
        );
        assert_eq!(
            without_route.emergency_number(&req, Origin::Side(side)),
            number,
            "{what}"
        );
        let got = with_route.route(&req, Origin::Side(side));
        assert_eq!(
            got.as_ref().map(|r| r.name.as_str()),
            with,
            "{what}: with [emergency] route"
        );
        let got = without_route.route(&req, Origin::Side(side));
        assert_eq!(
            got.as_ref().map(|r| r.name.as_str()),
            without,
            "{what}: without it"
        );
    }
    // The default router (no [emergency]) knows no numbers.
    assert_eq!(
        Router::default().emergency_number(&call("sip:112@gw.lan", "ops"), Origin::Side(Side::Lan)),
        None
    );
}
