//! Checks that a framed message has what RFC 3261 §8.1.1 requires, so the
//! rest of the gateway can rely on it. Each error names the header at fault.

use super::cseq::CSeq;
use super::header::HeaderName;
use super::name_addr::NameAddr;
use super::request::Request;
use super::response::Response;
use super::uri::Uri;
use super::via::Via;

const REQUIRED: [HeaderName; 5] = [
    HeaderName::Via,
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
];

const SINGLE: [HeaderName; 5] = [
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::MaxForwards,
];

pub fn validate_request(req: &Request) -> Result<(), String> {
    let h = &req.headers;
    for name in &REQUIRED {
        if !h.contains(name) {
            return Err(format!("missing {name} header"));
        }
    }
    for name in &SINGLE {
        if h.count(name) > 1 {
            return Err(format!("multiple {name} headers"));
        }
    }
    if let Uri::Sip(u) = &req.uri {
        if u.headers.is_some() {
            return Err("Request-URI must not contain headers".into());
        }
    }
    let cseq = h
        .get(&HeaderName::CSeq)
        .map(CSeq::parse)
        .unwrap_or_else(|| Err("missing CSeq header".into()))?;
    // An extension method is answered 501 whatever its CSeq says (RFC 4475 §3.1.2.18).
    if !req.method.is_extension() && cseq.method != req.method {
        return Err(format!(
            "CSeq method {} does not match request method {}",
            cseq.method, req.method
        ));
    }
    check_call_id(h.get(&HeaderName::CallId))?;
    for v in h.values(&HeaderName::Via) {
        Via::parse(v)?;
    }
    for name in [HeaderName::From, HeaderName::To] {
        if let Some(v) = h.get(&name) {
            NameAddr::parse(v, name.as_str())?;
        }
    }
    for v in h.values(&HeaderName::Contact) {
        if v != "*" {
            NameAddr::parse(v, "Contact")?;
        }
    }
    if let Some(mf) = h.get(&HeaderName::MaxForwards) {
        if mf.is_empty() || !mf.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("Max-Forwards '{mf}' is not a number"));
        }
    }
    Ok(())
}

pub fn validate_response(resp: &Response) -> Result<(), String> {
    let h = &resp.headers;
    for name in &REQUIRED {
        if !h.contains(name) {
            return Err(format!("missing {name} header"));
        }
    }
    for name in &SINGLE[..4] {
        if h.count(name) > 1 {
            return Err(format!("multiple {name} headers"));
        }
    }
    if let Some(c) = h.get(&HeaderName::CSeq) {
        CSeq::parse(c)?;
    }
    check_call_id(h.get(&HeaderName::CallId))?;
    match h.values(&HeaderName::Via).next() {
        Some(v) => {
            Via::parse(v)?;
        }
        None => return Err("missing Via header".into()),
    }
    for name in [HeaderName::From, HeaderName::To] {
        if let Some(v) = h.get(&name) {
            NameAddr::parse(v, name.as_str())?;
        }
    }
    Ok(())
}

fn check_call_id(v: Option<&str>) -> Result<(), String> {
    match v {
        None => Err("missing Call-ID header".into()),
        Some("") => Err("Call-ID is empty".into()),
        Some(c) if c.contains(char::is_whitespace) => Err("Call-ID contains whitespace".into()),
        Some(_) => Ok(()),
    }
}
