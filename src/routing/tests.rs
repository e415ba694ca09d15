//! Table tests of routing: matches, first match wins, header mapping,
//! tags and config errors.

use crate::config::{Config, Side};
use crate::sip::message::{parse_message, Framing, HeaderName, Request, SipMessage};

use super::{CallTags, Router};

fn invite(ruri_user: &str, from_user: &str, extra: &str) -> Request {
    let text = format!(
        "INVITE sip:{ruri_user}@gw.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKr1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{from_user}@cloud.example.com>;tag=f1\r\n\
         To: <sip:+18885550000@gw.example.com>\r\n\
         Call-ID: routing-1\r\n\
         CSeq: 1 INVITE\r\n\
         {extra}Content-Length: 0\r\n\r\n"
    );
    match parse_message(text.as_bytes(), Framing::Datagram) {
        Ok(SipMessage::Request(r)) => r,
        other => panic!("test INVITE did not parse: {other:?}"),
    }
}

const ROUTES: &str = r#"
[[route]]
name = "afid-5678"
match = [{ header = "X-PH-RetreaverAFID", equals = "5678" }]
targets = [{ uri = "sip:queue-a@192.168.1.10" }]

[[route]]
name = "afid-prefix"
match = [{ header = "x-ph-retreaverafid", prefix = "99" }, { header = "X-PH-RetreaverSID", present = true }]
targets = [{ uri = "sip:queue-b@192.168.1.10" }]

[[route]]
name = "dialled-888"
match = [{ dialled = true, prefix = "+1888" }, { header = "X-Test", absent = true }]
targets = [{ uri = "sip:sales@192.168.1.10" }]

[[route]]
name = "caller-555"
match = [{ caller = true, regex = "^\\+1555[0-9]{7}$" }]
targets = [{ uri = "sip:vip@192.168.1.10" }]

[[route]]
name = "campaign"
match = [{ header = "X-Campaign-ID", regex = "^camp-(1|2)$" }]
targets = [{ uri = "sip:campaign@192.168.1.10" }]

[[route]]
name = "from-pbx"
from = "lan"
targets = [{ uri = "sip:+18885551234@sip.example.com", username = "u", password = "p", headers = ["X-Buyer: acme"] }]

[[route]]
name = "default"
targets = [{ uri = "sip:operator@192.168.1.10" }]
"#;

fn router() -> Router {
    let cfg = Config::from_toml(ROUTES).expect("routes load");
    Router::from_config(&cfg.routes, &cfg.accounts).expect("routes compile")
}

#[test]
fn first_matching_route_wins() {
    let r = router();
    type Row<'a> = (&'a str, &'a str, &'a str, &'a str, Side, Option<&'a str>);
    let rows: &[Row] = &[
        (
            "AFID equals",
            "+18885550000",
            "+15550000000",
            "X-PH-RetreaverAFID: 5678\r\n",
            Side::Wan,
            Some("afid-5678"),
        ),
        (
            "AFID equals, value trimmed",
            "x",
            "y",
            "X-PH-RetreaverAFID:   5678  \r\n",
            Side::Wan,
            Some("afid-5678"),
        ),
        (
            "AFID equals is case-sensitive on values only",
            "x",
            "y",
            "x-ph-retreaverafid: 5678\r\n",
            Side::Wan,
            Some("afid-5678"),
        ),
        (
            "prefix AND present",
            "x",
            "y",
            "X-PH-RetreaverAFID: 9999\r\nX-PH-RetreaverSID: s\r\n",
            Side::Wan,
            Some("afid-prefix"),
        ),
        (
            "prefix without SID falls through",
            "x",
            "y",
            "X-PH-RetreaverAFID: 9999\r\n",
            Side::Wan,
            Some("default"),
        ),
        (
            "dialled prefix from the Request-URI",
            "+18885551111",
            "y",
            "",
            Side::Wan,
            Some("dialled-888"),
        ),
        (
            "dialled, absent fails",
            "+18885551111",
            "y",
            "X-Test: 1\r\n",
            Side::Wan,
            Some("default"),
        ),
        (
            "caller regex",
            "x",
            "+15551234567",
            "",
            Side::Wan,
            Some("caller-555"),
        ),
        (
            "caller regex anchored",
            "x",
            "+155512345678",
            "",
            Side::Wan,
            Some("default"),
        ),
        (
            "any of several values",
            "x",
            "y",
            "X-Campaign-ID: camp-9\r\nX-Campaign-ID: camp-2\r\n",
            Side::Wan,
            Some("campaign"),
        ),
        (
            "earlier route wins over later",
            "+18885551111",
            "+15551234567",
            "X-PH-RetreaverAFID: 5678\r\n",
            Side::Wan,
            Some("afid-5678"),
        ),
        (
            "LAN side only sees LAN routes",
            "x",
            "y",
            "X-PH-RetreaverAFID: 5678\r\n",
            Side::Lan,
            Some("from-pbx"),
        ),
    ];
    for (what, ruri, from, extra, side, expected) in rows {
        let got = r
            .route(&invite(ruri, from, extra), *side)
            .map(|r| r.name.clone());
        assert_eq!(got.as_deref(), *expected, "{what}");
    }
}

#[test]
fn no_route_without_a_catch_all() {
    let cfg = Config::from_toml(
        "[[route]]\nname='a'\nmatch=[{ header='X-A', present=true }]\ntargets=[{ uri='sip:a@10.0.0.1' }]\n",
    )
    .unwrap();
    let r = Router::from_config(&cfg.routes, &[]).unwrap();
    assert!(r.route(&invite("x", "y", ""), Side::Wan).is_none());
    assert!(r
        .route(&invite("x", "y", "X-A: 1\r\n"), Side::Lan)
        .is_none());
    assert!(r
        .route(&invite("x", "y", "X-A: 1\r\n"), Side::Wan)
        .is_some());
    assert!(Router::default()
        .route(&invite("x", "y", ""), Side::Wan)
        .is_none());
}

fn plan(actions: &str) -> super::HeaderPlan {
    let cfg = Config::from_toml(&format!(
        "[[route]]\nname='r'\ntargets=[{{ uri='sip:a@10.0.0.1' }}]\nheaders=[{actions}]\n"
    ))
    .unwrap();
    Router::from_config(&cfg.routes, &[])
        .unwrap()
        .route(&invite("x", "y", ""), Side::Wan)
        .unwrap()
        .headers
        .clone()
}

fn applied(actions: &str, extra: &str) -> Vec<(String, String)> {
    plan(actions)
        .apply(&invite("x", "y", extra).headers)
        .into_iter()
        .map(|(n, v)| (n.as_str().to_string(), v))
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn header_actions_map_in_order() {
    let incoming = "X-PH-RetreaverUUID: u1\r\nX-PH-RetreaverKey: k1\r\nX-PH-RetreaverAFID: 5678\r\nX-Campaign-ID: c1\r\nX-Twilio-CallSid: CA1\r\nX-Twilio-AccountSid: AC1\r\nX-Other: o\r\n";
    type Row<'a> = (&'a str, &'a str, Vec<(String, String)>);
    let rows: &[Row] = &[
        ("X-PH-* pass by default, others do not", "", pairs(&[("X-PH-RetreaverUUID", "u1"), ("X-PH-RetreaverKey", "k1"), ("X-PH-RetreaverAFID", "5678")])),
        (
            "rename takes the header away",
            "{ action='rename', from='X-PH-RetreaverAFID', name='X-Publisher-ID' }",
            pairs(&[("X-PH-RetreaverUUID", "u1"), ("X-PH-RetreaverKey", "k1"), ("X-Publisher-ID", "5678")]),
        ),
        (
            "copy keeps it",
            "{ action='copy', from='X-Campaign-ID', name='X-Camp' }, { action='strip', name='X-PH-*' }",
            pairs(&[("X-Camp", "c1")]),
        ),
        (
            "set replaces, strip removes a default-passed header",
            "{ action='set', name='X-Route', value='queue-a' }, { action='strip', name='X-PH-RetreaverKey' }, { action='set', name='X-Route', value='queue-b' }",
            pairs(&[("X-PH-RetreaverUUID", "u1"), ("X-PH-RetreaverAFID", "5678"), ("X-Route", "queue-b")]),
        ),
        (
            "pass by prefix, without duplicates",
            "{ action='strip', name='X-PH-*' }, { action='pass', name='X-Twilio-*' }, { action='pass', name='X-Twilio-CallSid' }",
            pairs(&[("X-Twilio-CallSid", "CA1"), ("X-Twilio-AccountSid", "AC1")]),
        ),
        ("rename of a missing header yields nothing", "{ action='strip', name='X-PH-*' }, { action='rename', from='X-Nope', name='X-Yes' }", vec![]),
    ];
    for (what, actions, expected) in rows {
        assert_eq!(&applied(actions, incoming), expected, "{what}");
    }
}

#[test]
fn retreaver_tags_are_extracted() {
    let req = invite(
        "x",
        "y",
        "x-ph-retreaveruuid: 0f3c\r\nX-PH-RetreaverKey: key-1\r\nX-PH-RetreaverAFID: 5678\r\nX-PH-RetreaverSID:  \r\n",
    );
    let t = CallTags::extract(&req.headers);
    assert_eq!(t.uuid.as_deref(), Some("0f3c"));
    assert_eq!(t.key.as_deref(), Some("key-1"));
    assert_eq!(t.afid.as_deref(), Some("5678"));
    assert_eq!(t.sid, None, "an empty SID is no SID");
    let x = super::x_headers(&req.headers);
    assert_eq!(x.len(), 4);
}

#[test]
fn target_credentials_and_headers_compile() {
    let r = router();
    let route = r.route(&invite("x", "y", ""), Side::Lan).unwrap();
    let t = &route.targets[0];
    assert_eq!(t.uri.user.as_deref(), Some("+18885551234"));
    let c = t.credentials.as_ref().unwrap();
    assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p"));
    assert_eq!(
        t.extra_headers,
        vec![(HeaderName::from_wire("X-Buyer"), "acme".to_string())]
    );
    // Without configured credentials, none are derived from the URI.
    let d = r.route(&invite("x", "y", ""), Side::Wan).unwrap();
    assert!(d.targets[0].credentials.is_none());
}

#[test]
fn config_errors_name_the_field() {
    let route = |body: &str| format!("[[route]]\nname='r'\n{body}\n");
    let t = "targets=[{ uri='sip:a@10.0.0.1' }]\n";
    let rows: Vec<(String, &str)> = vec![
        (route(""), "route[0].targets"),
        (
            route(&format!("{t}match=[{{ header='X-A', regex='(' }}]")),
            "route[0].match[0].regex",
        ),
        (
            route(&format!("{t}match=[{{ header='X-A' }}]")),
            "route[0].match[0]",
        ),
        (
            route(&format!(
                "{t}match=[{{ header='X-A', dialled=true, present=true }}]"
            )),
            "route[0].match[0]",
        ),
        (
            route(&format!(
                "{t}match=[{{ header='X-A', equals='1', prefix='2' }}]"
            )),
            "route[0].match[0]",
        ),
        (
            route(&format!("{t}match=[{{ header='Bad Name', present=true }}]")),
            "route[0].match[0].header",
        ),
        (
            route("targets=[{ uri='http://a' }]"),
            "route[0].targets[0].uri",
        ),
        (
            route("targets=[{ uri='sips:a@b' }]"),
            "route[0].targets[0].uri",
        ),
        (
            route("targets=[{ uri='sip:a@b', username='u' }]"),
            "route[0].targets[0].password",
        ),
        (
            route("targets=[{ uri='sip:a@b', password='p' }]"),
            "route[0].targets[0].username",
        ),
        (
            route("targets=[{ uri='sip:a@b', account='nope' }]"),
            "route[0].targets[0].account",
        ),
        (
            route("targets=[{ uri='sip:a@b', headers=['Via: x'] }]"),
            "route[0].targets[0].headers[0]",
        ),
        (
            route("targets=[{ uri='sip:a@b', headers=['no colon'] }]"),
            "route[0].targets[0].headers[0]",
        ),
        (
            route(&format!("{t}headers=[{{ action='pass', name='Contact' }}]")),
            "route[0].headers[0].name",
        ),
        (
            route(&format!(
                "{t}headers=[{{ action='set', name='X-A', value=\"a\\r\\nVia: evil\" }}]"
            )),
            "route[0].headers[0].value",
        ),
        (
            route(&format!("{t}headers=[{{ action='rename', name='X-A' }}]")),
            "route[0].headers[0].from",
        ),
        (format!("{}{}", route(t), route(t)), "route[1].name"),
    ];
    for (toml, field) in rows {
        let e = Config::from_toml(&toml).expect_err(&toml);
        assert!(
            e.contains(field),
            "expected an error naming {field}, got: {e}\n{toml}"
        );
    }
}
