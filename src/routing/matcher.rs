//! One condition of a route, compiled: what it looks at and how it tests it.

use regex::Regex;

use crate::config::{ConfigError, MatchConfig};
use crate::sip::message::{is_token, Request, Uri};

#[derive(Clone, Debug)]
pub enum Subject {
    /// A header by name (case-insensitive); any of its values may pass.
    Header(String),
    /// The dialled number: the Request-URI user, else the To URI user.
    Dialled,
    /// The caller: the From URI user.
    Caller,
}

#[derive(Clone, Debug)]
pub enum Test {
    Equals(String),
    Prefix(String),
    Regex(Regex),
    Present,
    Absent,
}

#[derive(Clone, Debug)]
pub struct Match {
    pub subject: Subject,
    pub test: Test,
}

/// Compiled regexes are bounded so that a config cannot exhaust memory.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

impl Match {
    pub fn compile(c: &MatchConfig, field: &str) -> Result<Match, ConfigError> {
        let mut subjects = Vec::new();
        if let Some(h) = &c.header {
            if !is_token(h) {
                return Err(ConfigError::invalid(
                    format!("{field}.header"),
                    format!("'{h}' is not a valid header name"),
                ));
            }
            subjects.push(Subject::Header(h.clone()));
        }
        if c.dialled == Some(true) {
            subjects.push(Subject::Dialled);
        }
        if c.caller == Some(true) {
            subjects.push(Subject::Caller);
        }
        let subject = match subjects.len() {
            1 => subjects.remove(0),
            0 => {
                return Err(ConfigError::invalid(
                    field,
                    "say what to match: header = \"Name\", dialled = true or caller = true",
                ))
            }
            _ => {
                return Err(ConfigError::invalid(
                    field,
                    "match one subject only (header, dialled or caller); add another match item for the others",
                ))
            }
        };
        let mut tests = Vec::new();
        if let Some(v) = &c.equals {
            tests.push(Test::Equals(v.clone()));
        }
        if let Some(v) = &c.prefix {
            tests.push(Test::Prefix(v.clone()));
        }
        if let Some(v) = &c.regex {
            let re = regex::RegexBuilder::new(v)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| {
                    ConfigError::invalid(
                        format!("{field}.regex"),
                        format!("'{v}' is not a valid regex: {e}"),
                    )
                })?;
            tests.push(Test::Regex(re));
        }
        if c.present == Some(true) {
            tests.push(Test::Present);
        }
        if c.absent == Some(true) {
            tests.push(Test::Absent);
        }
        let test =
            match tests.len() {
                1 => tests.remove(0),
                0 => return Err(ConfigError::invalid(
                    field,
                    "say how to test it: equals, prefix, regex, present = true or absent = true",
                )),
                _ => {
                    return Err(ConfigError::invalid(
                        field,
                        "give one test only per match item",
                    ))
                }
            };
        Ok(Match { subject, test })
    }

    pub fn matches(&self, req: &Request) -> bool {
        match &self.subject {
            Subject::Header(name) => {
                let mut values = req
                    .headers
                    .iter()
                    .filter(|h| h.name.as_str().eq_ignore_ascii_case(name))
                    .map(|h| h.value.trim());
                match &self.test {
                    Test::Present => values.next().is_some(),
                    Test::Absent => values.next().is_none(),
                    t => values.any(|v| test_value(t, v)),
                }
            }
            Subject::Dialled => {
                let user = uri_user(&req.uri)
                    .or_else(|| req.headers.to_addr().ok().and_then(|na| uri_user(&na.uri)));
                self.test_optional(user.as_deref())
            }
            Subject::Caller => {
                let user = req
                    .headers
                    .from_addr()
                    .ok()
                    .and_then(|na| uri_user(&na.uri));
                self.test_optional(user.as_deref())
            }
        }
    }

    fn test_optional(&self, v: Option<&str>) -> bool {
        match (&self.test, v) {
            (Test::Present, v) => v.is_some(),
            (Test::Absent, v) => v.is_none(),
            (t, Some(v)) => test_value(t, v),
            (_, None) => false,
        }
    }
}

fn test_value(t: &Test, v: &str) -> bool {
    match t {
        Test::Equals(e) => v == e,
        Test::Prefix(p) => v.starts_with(p.as_str()),
        Test::Regex(r) => r.is_match(v),
        Test::Present => true,
        Test::Absent => false,
    }
}

fn uri_user(uri: &Uri) -> Option<String> {
    uri.as_sip()?.user_unescaped().filter(|u| !u.is_empty())
}
