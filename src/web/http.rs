//! The request and response the handlers see: plain data, so handlers are
//! tested without a socket. The gateway's HTTPS shell builds `Request`
//! from the wire and writes `Response` to it.

use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
    Other,
}

impl Method {
    /// POST, PUT and DELETE change state: they need the CSRF token with a
    /// session (a bearer token is not sent by a browser on its own).
    pub fn changes_state(self) -> bool {
        matches!(self, Method::Post | Method::Put | Method::Delete)
    }
}

#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    /// The path without the query, percent-decoding not applied.
    pub path: String,
    /// The query string's pairs, decoded.
    pub query: Vec<(String, String)>,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The TCP peer (already checked against `[web] allow`).
    pub peer: IpAddr,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as `application/x-www-form-urlencoded` pairs.
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }

    pub fn form_value(&self, name: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// Whether the client sent JSON (the API) rather than a form (a page).
    pub fn is_json(&self) -> bool {
        self.header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    }
}

#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        }
    }

    pub fn html(status: u16, body: String) -> Response {
        Response::new(status, "text/html; charset=utf-8", body)
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response::new(status, "application/json", value.to_string())
    }

    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response::new(status, "text/plain; charset=utf-8", body.into())
    }

    /// 303 See Other: after a form's POST, so a reload does not post again.
    pub fn redirect(to: &str) -> Response {
        Response {
            status: 303,
            headers: vec![("location".into(), to.into())],
            body: Vec::new(),
        }
    }

    /// The API's error body: `{"error": message, "field": path}`; `field`
    /// names the configuration field or request parameter at fault, e.g.
    /// `listener[1].allow[0]`.
    pub fn api_error(status: u16, field: Option<&str>, message: &str) -> Response {
        let mut v = serde_json::json!({ "error": message });
        if let Some(f) = field {
            v["field"] = serde_json::Value::String(f.to_string());
        }
        Response::json(status, &v)
    }

    pub fn not_found() -> Response {
        Response::text(404, "not found\n")
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}
