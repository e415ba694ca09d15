//! One route condition, compiled: what to look at in the INVITE and how to
//! test it.

use regex::{Regex, RegexBuilder};

use crate::config::{ConfigError, MatchConfig};
use crate::sip::message::{HeaderName, Request, Uri};

use super::header_text::header_name;

/// Caps what one configured regex may cost: compiled program size and the
/// lazy DFA's cache, both per regex. The regex crate matches in linear time,
/// so a pattern cannot be slow per call, only big; these keep it small.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;
const REGEX_PATTERN_MAX: usize = 1024;

#[derive(Clone, Debug)]
pub enum MatchSubject {
    /// Every line of this header (names compare case-insensitively).
    Header(HeaderName),
    /// The number called: the Request-URI user, else the To URI user.
    Dialled,
    /// The From URI user.
    Caller,
}

#[derive(Clone, Debug)]
pub enum MatchTest {
    Equals(String),
    Prefix(String),
    /// Unanchored: the person writing it adds `^`/`$` when wanted.
    Regex(Regex),
    Present,
    Absent,
}

#[derive(Clone, Debug)]
pub struct Match {
    pub subject: MatchSubject,
    pub test: MatchTest,
}

impl Match {
    /// `field` is the config path of this item, e.g. `route[2].match[0]`.
    pub fn compile(cfg: &MatchConfig, field: &str) -> Result<Match, ConfigError> {
        let f = |name: &str| format!("{field}.{name}");
        let mut subjects = Vec::new();
        if let Some(h) = &cfg.header {
            subjects.push(MatchSubject::Header(header_name(&f("header"), h)?));
        }
        for (flag, key, subject) in [
            (cfg.dialled, "dialled", MatchSubject::Dialled),
            (cfg.caller, "caller", MatchSubject::Caller),
        ] {
            let advice = format!("write {key} = true, or leave it out");
            if is_set(flag, &f(key), advice)? {
                subjects.push(subject);
            }
        }
        if subjects.len() > 1 {
            return Err(ConfigError::invalid(
                field,
                "has more than one subject; give exactly one of header = \"Name\", \
                 dialled = true, caller = true (write several match items to test several)",
            ));
        }
        let Some(subject) = subjects.pop() else {
            return Err(ConfigError::invalid(
                field,
                "has no subject; give one of header = \"Name\", dialled = true, caller = true",
            ));
        };

        let mut tests = Vec::new();
        if let Some(v) = &cfg.equals {
            tests.push(MatchTest::Equals(v.clone()));
        }
        if let Some(v) = &cfg.prefix {
            tests.push(MatchTest::Prefix(v.clone()));
        }
        if let Some(p) = &cfg.regex {
            tests.push(MatchTest::Regex(compile_regex(&f("regex"), p)?));
        }
        for (flag, key, other, test) in [
            (cfg.present, "present", "absent", MatchTest::Present),
            (cfg.absent, "absent", "present", MatchTest::Absent),
        ] {
            let advice = format!("write {key} = true, or {other} = true for the opposite");
            if !is_set(flag, &f(key), advice)? {
                continue;
            }
            if !matches!(subject, MatchSubject::Header(_)) {
                return Err(ConfigError::invalid(
                    f(key),
                    format!("{key} only applies to header = \"Name\""),
                ));
            }
            tests.push(test);
        }
        if tests.len() > 1 {
            return Err(ConfigError::invalid(
                field,
                "has more than one test; give exactly one of equals, prefix, regex, \
                 present = true, absent = true",
            ));
        }
        let Some(test) = tests.pop() else {
            return Err(ConfigError::invalid(
                field,
                "has no test; add one of equals = \"...\", prefix = \"...\", regex = \"...\", \
                 present = true, absent = true",
            ));
        };
        Ok(Match { subject, test })
    }

    /// False only when this is a `dialled` item that `number` fails; any
    /// other item depends on the call.
    pub fn may_pass_dialled(&self, number: &str) -> bool {
        !matches!(self.subject, MatchSubject::Dialled)
            || matches!(self.test, MatchTest::Present | MatchTest::Absent)
            || self.test.passes(number)
    }

    pub fn matches(&self, req: &Request) -> bool {
        match &self.subject {
            MatchSubject::Header(name) => {
                let mut values = req.headers.get_all(name).map(str::trim);
                match &self.test {
                    MatchTest::Present => values.next().is_some(),
                    MatchTest::Absent => values.next().is_none(),
                    test => values.any(|v| test.passes(v)),
                }
            }
            MatchSubject::Dialled => dialled(req).is_some_and(|v| self.test.passes(&v)),
            MatchSubject::Caller => caller(req).is_some_and(|v| self.test.passes(&v)),
        }
    }
}

impl MatchTest {
    /// Present/absent are decided by the caller, which knows whether there
    /// was a value at all.
    fn passes(&self, value: &str) -> bool {
        match self {
            MatchTest::Equals(v) => value == v,
            MatchTest::Prefix(p) => value.starts_with(p.as_str()),
            MatchTest::Regex(r) => r.is_match(value),
            MatchTest::Present => true,
            MatchTest::Absent => false,
        }
    }
}

/// A flag that is only ever written `= true`: whether it is. `false` is
/// refused with `advice`, so that it cannot be read as the opposite.
fn is_set(flag: Option<bool>, field: &str, advice: String) -> Result<bool, ConfigError> {
    match flag {
        Some(false) => Err(ConfigError::invalid(field, advice)),
        set => Ok(set.is_some()),
    }
}

fn compile_regex(field: &str, pattern: &str) -> Result<Regex, ConfigError> {
    if pattern.len() > REGEX_PATTERN_MAX {
        return Err(ConfigError::invalid(
            field,
            format!("the pattern is longer than {REGEX_PATTERN_MAX} characters"),
        ));
    }
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => ConfigError::invalid(
                field,
                "the pattern compiles too big; simplify it (fewer repetitions like {1000})",
            ),
            other => ConfigError::invalid(
                field,
                format!(
                    "'{pattern}' is not a valid regular expression: {}",
                    last_error_line(&other.to_string())
                ),
            ),
        })
}

/// The regex crate's syntax errors draw the pattern and a caret over
/// several lines, then `error: ...`; a config error is one line (it may
/// become a log line or an HTTP body), and the pattern is already quoted.
fn last_error_line(s: &str) -> String {
    s.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error:"))
        .map(str::trim)
        .map(str::to_string)
        .unwrap_or_else(|| s.split_whitespace().collect::<Vec<_>>().join(" "))
}

pub(super) fn dialled(req: &Request) -> Option<String> {
    uri_user(&req.uri).or_else(|| req.headers.to_addr().ok().and_then(|a| uri_user(&a.uri)))
}

pub(super) fn caller(req: &Request) -> Option<String> {
    req.headers.from_addr().ok().and_then(|a| uri_user(&a.uri))
}

/// The user of a SIP URI (unescaped), or the number of a tel: URI.
fn uri_user(uri: &Uri) -> Option<String> {
    match uri {
        Uri::Sip(u) => u.user_unescaped(),
        Uri::Other { scheme, rest } if scheme.eq_ignore_ascii_case("tel") => rest
            .split(';')
            .next()
            .filter(|n| !n.is_empty())
            .map(str::to_string),
        Uri::Other { .. } => None,
    }
}
