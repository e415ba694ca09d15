//! "Test a call" (`POST /api/v1/test-call`): which route an INVITE takes,
//! its targets in order, the headers the PBX would get, and why each
//! earlier route did not match. The INVITE is pasted whole or built from
//! From, To and extra headers; the signalling loop explains it with the
//! routes in force (`Router::explain`), so the answer is the choice the
//! next real call makes. The page (`pages::test_call`) uses the same
//! steps.

use serde_json::{json, Value};

use crate::app::view::Explanation;
use crate::app::ControlRequest;
use crate::web::api::calls::control::{ask, Refusal};
use crate::web::api::calls::json::headers_json;
use crate::web::context::{Identity, WebContext};
use crate::web::http::{Method, Request, Response};

const PATH: &str = "/api/v1/test-call";

/// Longest INVITE (or From/To/header text) taken: a real INVITE's head
/// is a few KB.
pub const MAX_INVITE: usize = 64 * 1024;

/// Headers the built INVITE writes itself (full and compact forms,
/// RFC 3261 §7.3.3); From and To have their own fields.
const BUILT: &[&str] = &[
    "via",
    "v",
    "from",
    "f",
    "to",
    "t",
    "call-id",
    "i",
    "cseq",
    "max-forwards",
    "content-length",
    "l",
];

pub async fn handle(ctx: &WebContext, _who: &Identity, req: &Request) -> Option<Response> {
    if req.path != PATH {
        return None;
    }
    if req.method != Method::Post {
        return Some(Response::api_error(405, None, "use POST here").with_header("allow", "POST"));
    }
    Some(match answer(ctx, req).await {
        Ok(v) => Response::json(200, &v),
        Err(r) => Response::api_error(r.status, r.field, &r.message),
    })
}

async fn answer(ctx: &WebContext, req: &Request) -> Result<Value, Refusal> {
    let v: Value = serde_json::from_slice(&req.body)
        .map_err(|e| refusal(400, None, format!("the body is not JSON: {e}")))?;
    if !v.is_object() {
        return Err(refusal(400, None, "the body must be a JSON object".into()));
    }
    let text = |name: &'static str| -> Result<Option<String>, Refusal> {
        match v.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(refusal(400, Some(name), format!("{name} must be a string"))),
        }
    };
    let from_lan = parse_side(text("side")?.as_deref().unwrap_or("wan"))?;
    let invite = match text("invite")?.filter(|i| !i.trim().is_empty()) {
        Some(invite) => invite,
        None => {
            let headers = match v.get("headers") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, h)| header_item(i, h))
                    .collect::<Result<Vec<_>, _>>()?,
                Some(_) => {
                    return Err(refusal(
                        400,
                        Some("headers"),
                        "headers must be a list of \"Name: value\" strings".into(),
                    ))
                }
            };
            let to = text("to")?.ok_or_else(|| {
                refusal(
                    400,
                    Some("invite"),
                    "give the INVITE (invite) or at least the number called (to)".into(),
                )
            })?;
            build_invite(text("from")?.as_deref().unwrap_or(""), &to, &headers)?
        }
    };
    let e = explain(ctx, &invite, from_lan).await?;
    Ok(explanation_json(&e, &invite))
}

/// One entry of `headers`: "Name: value" or `{"name": ..., "value": ...}`.
fn header_item(i: usize, h: &Value) -> Result<(String, String), Refusal> {
    let field = format!("headers[{i}]");
    let bad = |m: &str| Refusal {
        status: 422,
        field: Some("headers"),
        message: format!("{field}: {m}"),
    };
    match h {
        Value::String(s) => split_header(s).map_err(|m| bad(&m)),
        Value::Object(o) => match (o.get("name"), o.get("value")) {
            (Some(Value::String(n)), Some(Value::String(v))) => Ok((n.clone(), v.clone())),
            _ => Err(bad("an object needs a string name and value")),
        },
        _ => Err(bad("must be a \"Name: value\" string")),
    }
}

pub fn parse_side(side: &str) -> Result<bool, Refusal> {
    match side.trim() {
        "wan" | "" => Ok(false),
        "lan" => Ok(true),
        _ => Err(refusal(
            422,
            Some("side"),
            "side must be 'wan' (from the cloud) or 'lan' (from the PBX)".into(),
        )),
    }
}

fn refusal(status: u16, field: Option<&'static str>, message: String) -> Refusal {
    Refusal {
        status,
        field,
        message,
    }
}

/// "Name: value" into its parts; the name a header token (RFC 3261
/// §25.1), neither part with a line break.
pub fn split_header(line: &str) -> Result<(String, String), String> {
    let (name, value) = line
        .split_once(':')
        .ok_or_else(|| format!("'{line}' is not \"Name: value\""))?;
    let name = name.trim();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
    {
        return Err(format!("'{name}' is not a header name"));
    }
    if BUILT.iter().any(|b| name.eq_ignore_ascii_case(b)) {
        return Err(format!(
            "{name} is written by the test itself; use the From and To fields, or paste a whole INVITE"
        ));
    }
    if value.contains(['\r', '\n']) {
        return Err(format!("the value of {name} has a line break"));
    }
    Ok((name.to_string(), value.trim().to_string()))
}

/// A URI from what a person typed: a SIP, SIPS or tel URI as given, or a
/// number or user made a SIP URI.
fn uri(text: &str, field: &'static str) -> Result<String, Refusal> {
    let t = text.trim();
    if t.is_empty() {
        return Err(refusal(422, Some(field), format!("{field} is empty")));
    }
    if t.len() > 512
        || t.chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>\"".contains(c))
    {
        return Err(refusal(
            422,
            Some(field),
            format!("{field} must be a number or a SIP URI, without spaces or <>"),
        ));
    }
    let lower = t.to_ascii_lowercase();
    if ["sip:", "sips:", "tel:"]
        .iter()
        .any(|s| lower.starts_with(s))
    {
        Ok(t.to_string())
    } else if t.contains('@') {
        Ok(format!("sip:{t}"))
    } else {
        Ok(format!("sip:{t}@pbxgate.invalid"))
    }
}

/// The INVITE a caller from `from` to `to` with `headers` would send
/// (request line, the headers a request must have, then the extra ones).
/// An empty `from` is an anonymous caller.
pub fn build_invite(from: &str, to: &str, headers: &[(String, String)]) -> Result<String, Refusal> {
    let to = uri(to, "to")?;
    let from = if from.trim().is_empty() {
        "sip:anonymous@anonymous.invalid".to_string()
    } else {
        uri(from, "from")?
    };
    let mut m = format!(
        "INVITE {to} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKtestcall\r\n\
         Max-Forwards: 70\r\nFrom: <{from}>;tag=testcall\r\nTo: <{to}>\r\n\
         Call-ID: test-call@pbxgate.invalid\r\nCSeq: 1 INVITE\r\n"
    );
    for (n, v) in headers {
        m.push_str(&format!("{n}: {v}\r\n"));
    }
    m.push_str("Content-Length: 0\r\n\r\n");
    Ok(m)
}

/// Asks the signalling loop to explain `invite` with the routes in force;
/// an INVITE it cannot read is 422 naming `invite`.
pub async fn explain(
    ctx: &WebContext,
    invite: &str,
    from_lan: bool,
) -> Result<Explanation, Refusal> {
    if invite.len() > MAX_INVITE {
        return Err(refusal(
            422,
            Some("invite"),
            format!("the INVITE is longer than {} KB", MAX_INVITE / 1024),
        ));
    }
    let (reply, answer) = smol::channel::bounded(1);
    let request = ControlRequest::TestCall {
        invite: invite.to_string(),
        from_lan,
        reply,
    };
    ask(&ctx.control, request, answer)
        .await?
        .map_err(|e| refusal(422, Some("invite"), e))
}

/// The route taken, if any.
pub fn taken(e: &Explanation) -> Option<&str> {
    e.routes.iter().find(|r| r.taken).map(|r| r.route.as_str())
}

pub fn explanation_json(e: &Explanation, invite: &str) -> Value {
    json!({
        "route": taken(e),
        "dialled": e.dialled,
        "caller": e.caller,
        "emergency": e.emergency,
        "routes": e.routes.iter().map(|r| json!({
            "route": r.route,
            "taken": r.taken,
            "reasons": r.reasons,
        })).collect::<Vec<_>>(),
        "targets": e.targets,
        "headers_out": headers_json(&e.headers_out),
        "invite": invite,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::web::api::calls::testing::*;

    /// Two routes for calls from the cloud: the first wants another
    /// publisher, the second takes publisher 5678 to the sales queue with
    /// its overflow, renaming the publisher header and setting a campaign.
    pub const ROUTES: &str = "\
        [[route]]\nname = 'publisher-1111'\n\
        match = [{ header = 'X-PH-RetreaverAFID', equals = '1111' }]\n\
        targets = [{ uri = 'sip:support@192.168.1.10' }]\n\
        [[route]]\nname = 'publisher-5678'\n\
        match = [{ header = 'X-PH-RetreaverAFID', equals = '5678' }]\n\
        targets = [{ uri = 'sip:sales@192.168.1.10' }, { uri = 'sip:overflow@192.168.1.11' }]\n\
        headers = [{ action = 'rename', from = 'X-PH-RetreaverAFID', name = 'X-Publisher-ID' },\
                   { action = 'set', name = 'X-Campaign-ID', value = 'spring' }]\n";

    /// An INVITE as Retreaver sends it through its SIP platform: the call
    /// to the number, with the X-PH headers its SIP routing article names.
    pub const RETREAVER_INVITE: &str = "INVITE sip:+18882223333@gw.example.com SIP/2.0\n\
        Via: SIP/2.0/UDP 54.172.60.1:5060;branch=z9hG4bK2d4790\n\
        Max-Forwards: 69\n\
        From: <sip:+15551230000@retreaver-ip.sip.twilio.com>;tag=8e1a\n\
        To: <sip:+18882223333@gw.example.com>\n\
        Call-ID: 4b1c0e6b9a@54.172.60.1\n\
        CSeq: 101 INVITE\n\
        Contact: <sip:+15551230000@54.172.60.1:5060>\n\
        X-PH-RetreaverUUID: 0f8fad5b-d9cb-469f-a165-70867728950e\n\
        X-PH-RetreaverKey: 7c9e6679\n\
        X-PH-RetreaverAFID: 5678\n\
        X-PH-RetreaverSID: spring-sale\n\
        Content-Type: application/sdp\n\
        Content-Length: 129\n\
        \n\
        v=0\n\
        o=- 1 1 IN IP4 54.172.60.1\n";

    fn api(f: &Fixture, req: Request) -> Response {
        f.run(req, |ctx, who, req| async move {
            handle(&ctx, &who, &req).await
        })
    }

    fn routes_fixture() -> Fixture {
        Fixture::new(ROUTES, Arc::new(|_| Ok(())))
    }

    fn check_publisher_5678(v: &Value) {
        assert_eq!(v["route"], "publisher-5678", "{v}");
        assert_eq!(v["dialled"], "+18882223333");
        assert_eq!(v["routes"][0]["route"], "publisher-1111");
        assert_eq!(v["routes"][0]["taken"], false);
        assert_eq!(
            v["routes"][0]["reasons"][0],
            "match[0]: X-PH-RetreaverAFID is '5678', not equal to '1111'"
        );
        assert_eq!(v["routes"][1]["taken"], true);
        assert_eq!(
            v["targets"],
            json!(["sip:sales@192.168.1.10", "sip:overflow@192.168.1.11"])
        );
        let out = v["headers_out"].as_array().unwrap();
        assert!(
            out.contains(&json!({"name": "X-Publisher-ID", "value": "5678"})),
            "{v}"
        );
        assert!(
            out.contains(&json!({"name": "X-Campaign-ID", "value": "spring"})),
            "{v}"
        );
    }

    #[test]
    fn a_pasted_retreaver_invite_names_the_route_its_targets_and_headers() {
        let f = routes_fixture();
        let body = json!({ "invite": RETREAVER_INVITE, "side": "wan" }).to_string();
        let r = api(&f, post(PATH, &body));
        assert_eq!(r.status, 200, "{}", super::super::calls::testing::body(&r));
        check_publisher_5678(&json(&r));
        assert_eq!(f.seen(), ["test-call wan"]);
    }

    #[test]
    fn an_invite_built_from_fields_is_explained_the_same_way() {
        let f = routes_fixture();
        let body = json!({
            "from": "+15551230000",
            "to": "+18882223333",
            "headers": ["X-PH-RetreaverAFID: 5678", {"name": "X-PH-RetreaverSID", "value": "s"}],
        })
        .to_string();
        let r = api(&f, post(PATH, &body));
        assert_eq!(r.status, 200);
        let v = json(&r);
        check_publisher_5678(&v);
        assert_eq!(v["caller"], "+15551230000");
        assert!(v["invite"]
            .as_str()
            .unwrap()
            .starts_with("INVITE sip:+18882223333@"));
        // From the PBX side neither route is for it.
        let body =
            json!({ "to": "+18882223333", "headers": ["X-PH-RetreaverAFID: 5678"], "side": "lan" })
                .to_string();
        let v = json(&api(&f, post(PATH, &body)));
        assert_eq!(v["route"], Value::Null);
        assert_eq!(v["targets"], json!([]));
        assert_eq!(
            v["routes"][1]["reasons"][0],
            "it takes calls from the wan side"
        );
    }

    #[test]
    fn bad_input_names_the_field() {
        let f = routes_fixture();
        for (b, status, field) in [
            ("nope", 400, None),
            ("{\"invite\": 3}", 400, Some("invite")),
            ("{\"invite\": \"hello\"}", 422, Some("invite")),
            (
                "{\"invite\": \"SIP/2.0 200 OK\\r\\n\\r\\n\"}",
                422,
                Some("invite"),
            ),
            ("{}", 400, Some("invite")),
            ("{\"to\": \"1 2\"}", 422, Some("to")),
            ("{\"to\": \"1\", \"from\": \"<x>\"}", 422, Some("from")),
            (
                "{\"to\": \"1\", \"headers\": \"X-A: 1\"}",
                400,
                Some("headers"),
            ),
            (
                "{\"to\": \"1\", \"headers\": [\"no colon\"]}",
                422,
                Some("headers"),
            ),
            (
                "{\"to\": \"1\", \"headers\": [\"Via: x\"]}",
                422,
                Some("headers"),
            ),
            (
                "{\"to\": \"1\", \"headers\": [\"X-A: 1\\r\\nVia: x\"]}",
                422,
                Some("headers"),
            ),
            ("{\"to\": \"1\", \"side\": \"up\"}", 422, Some("side")),
        ] {
            let r = api(&f, post(PATH, b));
            assert_eq!(
                r.status,
                status,
                "{b}: {}",
                super::super::calls::testing::body(&r)
            );
            assert_eq!(json(&r)["field"].as_str(), field, "{b}");
        }
        let r = api(&f, get(PATH));
        assert_eq!(r.status, 405);
        assert!(
            Fixture::without_loop()
                .run(post(PATH, "{\"to\": \"1\"}"), |ctx, who, req| async move {
                    handle(&ctx, &who, &req).await
                })
                .status
                == 503
        );
    }
}
