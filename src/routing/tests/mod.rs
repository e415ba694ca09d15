//! Table-driven tests for routing. Requests are parsed from raw SIP text,
//! as the endpoint would hand them over.

mod config_errors;
mod header_plan;
mod lines;
mod matcher;
mod router;
mod tags;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::config::{Config, RouteConfig};
use crate::sip::message::{parse_message, Framing, Request, SipMessage};

/// An INVITE to `ruri` from `from` to `to` (URIs), with extra header lines.
pub fn invite(ruri: &str, from: &str, to: &str, extra: &[&str]) -> Request {
    let mut text = format!(
        "INVITE {ruri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n\
         Max-Forwards: 70\r\n\
         From: <{from}>;tag=1928301774\r\n\
         To: <{to}>\r\n\
         Call-ID: a84b4c76e66710@192.0.2.1\r\n\
         CSeq: 1 INVITE\r\n"
    );
    for line in extra {
        text.push_str(line);
        text.push_str("\r\n");
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    match parse_message(text.as_bytes(), Framing::Datagram) {
        Ok(SipMessage::Request(r)) => r,
        other => panic!("test INVITE did not parse: {other:?}\n{text}"),
    }
}

/// A typical call from the cloud: dialled +18885551234, caller +15551230000.
pub fn cloud_invite(extra: &[&str]) -> Request {
    invite(
        "sip:+18885551234@gw.example.com",
        "sip:+15551230000@sip.twilio.com",
        "sip:+18885551234@gw.example.com",
        extra,
    )
}

/// `value` read as the TOML value of one key: an inline table or an array
/// of them, as a route writes it.
pub fn toml_value<T: DeserializeOwned>(value: &str) -> T {
    #[derive(Deserialize)]
    struct One<T> {
        v: T,
    }
    match toml::from_str::<One<T>>(&format!("v = {value}")) {
        Ok(one) => one.v,
        Err(e) => panic!("{value}: {e}"),
    }
}

/// The routes of a TOML document, without running `Config::validate`, so
/// tests see what the router itself says.
pub fn routes_of(toml_text: &str) -> (Vec<RouteConfig>, Config) {
    let cfg: Config = match toml::from_str(toml_text) {
        Ok(c) => c,
        Err(e) => panic!("test TOML did not parse: {e}\n{toml_text}"),
    };
    (cfg.routes.clone(), cfg)
}
