//! The history's search parameters, as the page's form and the API's
//! query string give them, read into the store's `CallQuery`. An empty
//! value is "not given" (a form sends every field); a value that cannot
//! be read is an error naming the parameter.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::app::view::HangupCause;
use crate::store::{CallQuery, HeaderFilter, INTERRUPTED, MAX_PAGE};

/// A parameter that cannot be read: the API answers 400 naming `field`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    pub field: &'static str,
    pub message: String,
}

impl QueryError {
    fn new(field: &'static str, message: impl Into<String>) -> QueryError {
        QueryError {
            field,
            message: message.into(),
        }
    }
}

/// The search parameters (in the order the form shows them).
pub const PARAMETERS: &[&str] = &[
    "since",
    "until",
    "number",
    "route",
    "cause",
    "status",
    "direction",
    "uuid",
    "key",
    "afid",
    "sid",
    "header",
    "limit",
    "offset",
];

/// The hangup causes a row may hold, as the rows name them.
pub fn cause_names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = HangupCause::ALL.iter().map(|c| c.name()).collect();
    v.push(INTERRUPTED);
    v
}

/// Longest text one search criterion may be; longer is a mistake.
const MAX_TEXT: usize = 256;

/// Reads the query pairs; parameters it does not know (the page's own
/// fields) are ignored. A parameter given twice: the last one counts.
pub fn parse(pairs: &[(String, String)]) -> Result<CallQuery, QueryError> {
    let mut q = CallQuery::default();
    for (name, value) in pairs {
        let value = value.trim();
        let Some(field) = PARAMETERS.iter().copied().find(|p| p == name) else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        if value.len() > MAX_TEXT {
            return Err(QueryError::new(
                field,
                format!("{field} is longer than {MAX_TEXT} characters"),
            ));
        }
        let text = || Some(value.to_string());
        match field {
            "since" => q.since = Some(parse_time(value).map_err(|m| QueryError::new(field, m))?),
            "until" => q.until = Some(parse_time(value).map_err(|m| QueryError::new(field, m))?),
            "number" => q.number = text(),
            "route" => q.route = text(),
            "cause" => {
                if !cause_names().contains(&value) {
                    return Err(QueryError::new(
                        field,
                        format!(
                            "cause '{value}' is not one of: {}",
                            cause_names().join(", ")
                        ),
                    ));
                }
                q.cause = text();
            }
            "status" => {
                q.final_status = Some(
                    value
                        .parse::<u16>()
                        .ok()
                        .filter(|s| (100..=699).contains(s))
                        .ok_or_else(|| {
                            QueryError::new(field, "status must be a SIP status code, 100-699")
                        })?,
                )
            }
            "direction" => {
                if value != "inbound" && value != "outbound" {
                    return Err(QueryError::new(
                        field,
                        "direction must be 'inbound' or 'outbound'",
                    ));
                }
                q.direction = text();
            }
            "uuid" => q.retreaver_uuid = text(),
            "key" => q.retreaver_key = text(),
            "afid" => q.retreaver_afid = text(),
            "sid" => q.retreaver_sid = text(),
            "header" => q.header = Some(parse_header(value)),
            "limit" => {
                q.limit = value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE).contains(n))
                    .ok_or_else(|| {
                        QueryError::new(
                            field,
                            format!("limit must be a number from 1 to {MAX_PAGE}"),
                        )
                    })?
            }
            "offset" => {
                q.offset = value.parse::<u32>().map_err(|_| {
                    QueryError::new(field, "offset must be a whole number, 0 or more")
                })?
            }
            _ => {}
        }
    }
    if let (Some(s), Some(u)) = (q.since, q.until) {
        if u <= s {
            return Err(QueryError::new("until", "until must be later than since"));
        }
    }
    Ok(q)
}

/// "Name: value" looks for `value` in headers of that name; text without a
/// header name before a colon looks in every header. A value that itself
/// holds a colon is searched in every header with a leading ':'
/// (":sip:x").
fn parse_header(text: &str) -> HeaderFilter {
    if let Some((name, value)) = text.split_once(':') {
        let name = name.trim();
        if name.is_empty() {
            return HeaderFilter {
                name: None,
                contains: value.trim().to_string(),
            };
        }
        if is_header_name(name)
            && !name.eq_ignore_ascii_case("sip")
            && !name.eq_ignore_ascii_case("sips")
        {
            return HeaderFilter {
                name: Some(name.to_string()),
                contains: value.trim().to_string(),
            };
        }
    }
    HeaderFilter {
        name: None,
        contains: text.to_string(),
    }
}

/// A token as RFC 3261 §25.1 allows for a header name.
fn is_header_name(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

/// RFC 3339 (`2024-05-01T12:34:56Z`, `...+02:00`, fractions allowed) or
/// what a browser's datetime-local field sends (`2024-05-01T12:34`, with
/// optional seconds), which has no zone and is taken as UTC: the box
/// shows every time in UTC.
pub fn parse_time(s: &str) -> Result<SystemTime, String> {
    let bad = || {
        format!(
            "'{s}' is not a time: use RFC 3339 (2024-05-01T12:34:56Z) or 2024-05-01T12:34 (UTC)"
        )
    };
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let part = b.get(r).ok_or_else(bad)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        std::str::from_utf8(part)
            .ok()
            .and_then(|p| p.parse().ok())
            .ok_or_else(bad)
    };
    let sep = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
    if b.len() < 16 || !sep(4, b"-") || !sep(7, b"-") || !sep(10, b"Tt ") || !sep(13, b":") {
        return Err(bad());
    }
    let (year, month, day, hour, minute) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
    );
    let mut i = 16;
    let mut second = 0;
    let mut millis = 0;
    if sep(i, b":") {
        second = num(i + 1..i + 3)?;
        i += 3;
        if sep(i, b".") {
            let start = i + 1;
            let mut end = start;
            while b.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
            if end == start {
                return Err(bad());
            }
            // Milliseconds: the store keeps no finer time.
            let digits = &s[start..end.min(start + 3)];
            millis =
                digits.parse::<i64>().map_err(|_| bad())? * 10_i64.pow(3 - digits.len() as u32);
            i = end;
        }
    }
    let offset_s = match &b[i..] {
        [] => 0,
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), ..] if b.len() == i + 6 && sep(i + 3, b":") => {
            let h = num(i + 1..i + 3)?;
            let m = num(i + 4..i + 6)?;
            if h > 23 || m > 59 {
                return Err(bad());
            }
            let o = h * 3600 + m * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return Err(bad()),
    };
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    // Second 60 is a leap second (RFC 3339 §5.7); it is read as the next
    // second's start, which is where the store's milliseconds put it.
    if year < 1970 || day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 60 {
        return Err(bad());
    }
    let secs =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    let ms = u64::try_from(secs * 1000 + millis).map_err(|_| bad())?;
    Ok(UNIX_EPOCH + Duration::from_millis(ms))
}

/// Days from 1970-01-01 to a proleptic Gregorian date: eras of 400 years
/// (146,097 days) counted from 0000-03-01, so the leap day ends a year.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::rfc3339;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn err(p: &[(&str, &str)]) -> QueryError {
        parse(&pairs(p)).expect_err("an error")
    }

    #[test]
    fn times_in_rfc3339_and_as_a_browser_sends_them() {
        let t = |s: &str| rfc3339(parse_time(s).expect(s));
        assert_eq!(t("2024-05-01T12:34:56Z"), "2024-05-01T12:34:56.000Z");
        assert_eq!(t("2024-05-01T12:34:56.789Z"), "2024-05-01T12:34:56.789Z");
        assert_eq!(t("2024-05-01T12:34:56.7Z"), "2024-05-01T12:34:56.700Z");
        assert_eq!(t("2024-05-01T12:34:56.123456Z"), "2024-05-01T12:34:56.123Z");
        assert_eq!(t("2024-05-01T14:34:56+02:00"), "2024-05-01T12:34:56.000Z");
        assert_eq!(t("2024-05-01T00:00:00-01:30"), "2024-05-01T01:30:00.000Z");
        assert_eq!(t("2024-05-01T12:34"), "2024-05-01T12:34:00.000Z");
        assert_eq!(t("2024-05-01 12:34:10"), "2024-05-01T12:34:10.000Z");
        assert_eq!(t("2000-02-29T00:00Z"), "2000-02-29T00:00:00.000Z");
        assert_eq!(t("1970-01-01T00:00:00Z"), "1970-01-01T00:00:00.000Z");
        for bad in [
            "yesterday",
            "2024-05-01",
            "2024-13-01T00:00",
            "2023-02-29T00:00",
            "1900-02-29T00:00",
            "2024-05-01T24:00",
            "2024-05-01T12:60",
            "2024-05-01T12:34:56.Z",
            "2024-05-01T12:34:56+2",
            "2024-05-01T12:34:56+24:00",
            "2024-05-01T12:34:56Zjunk",
            "2024-05-01T1a:34",
            "1969-12-31T23:59",
            "２024-05-01T12:34",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_parameter_reaches_the_query() {
        let q = parse(&pairs(&[
            ("since", "2024-05-01T00:00:00Z"),
            ("until", "2024-05-02T00:00"),
            ("number", " 5551230000 "),
            ("route", "sales"),
            ("cause", "no_answer"),
            ("status", "486"),
            ("direction", "inbound"),
            ("uuid", "u-1"),
            ("key", "k-1"),
            ("afid", "5678"),
            ("sid", "s-1"),
            ("header", "X-Campaign-ID: spring"),
            ("limit", "25"),
            ("offset", "50"),
            ("csrf", "ignored"),
        ]))
        .expect("query");
        assert_eq!(
            q.since.map(rfc3339).as_deref(),
            Some("2024-05-01T00:00:00.000Z")
        );
        assert_eq!(
            q.until.map(rfc3339).as_deref(),
            Some("2024-05-02T00:00:00.000Z")
        );
        assert_eq!(q.number.as_deref(), Some("5551230000"));
        assert_eq!(q.route.as_deref(), Some("sales"));
        assert_eq!(q.cause.as_deref(), Some("no_answer"));
        assert_eq!(q.final_status, Some(486));
        assert_eq!(q.direction.as_deref(), Some("inbound"));
        assert_eq!(q.retreaver_uuid.as_deref(), Some("u-1"));
        assert_eq!(q.retreaver_key.as_deref(), Some("k-1"));
        assert_eq!(q.retreaver_afid.as_deref(), Some("5678"));
        assert_eq!(q.retreaver_sid.as_deref(), Some("s-1"));
        assert_eq!(
            q.header,
            Some(HeaderFilter {
                name: Some("X-Campaign-ID".into()),
                contains: "spring".into()
            })
        );
        assert_eq!((q.limit, q.offset), (25, 50));
    }

    #[test]
    fn empty_values_are_not_given() {
        let q = parse(&pairs(&[("since", ""), ("cause", " "), ("limit", "")])).expect("query");
        assert_eq!(q, CallQuery::default());
        assert_eq!(parse(&[]).expect("query"), CallQuery::default());
    }

    #[test]
    fn header_text_without_a_name_looks_in_every_header() {
        let h = |s: &str| parse_header(s);
        assert_eq!(h("spring").name, None);
        assert_eq!(h("spring").contains, "spring");
        assert_eq!(h(":sip:a@b").name, None);
        assert_eq!(h(":sip:a@b").contains, "sip:a@b");
        assert_eq!(h("sip:a@b").name, None);
        assert_eq!(h("sip:a@b").contains, "sip:a@b");
        assert_eq!(h("two words: x").name, None);
        assert_eq!(h("X-A:1").name.as_deref(), Some("X-A"));
        assert_eq!(h("X-A:1").contains, "1");
    }

    #[test]
    fn a_bad_value_names_its_parameter() {
        assert_eq!(err(&[("since", "soon")]).field, "since");
        assert_eq!(err(&[("until", "2024-02-30T00:00")]).field, "until");
        let e = err(&[("cause", "hung_up")]);
        assert_eq!(e.field, "cause");
        assert!(
            e.message.contains("no_answer") && e.message.contains("interrupted"),
            "{e:?}"
        );
        assert_eq!(err(&[("status", "99")]).field, "status");
        assert_eq!(err(&[("status", "200x")]).field, "status");
        assert_eq!(err(&[("direction", "sideways")]).field, "direction");
        assert_eq!(err(&[("limit", "0")]).field, "limit");
        assert_eq!(err(&[("limit", "1001")]).field, "limit");
        assert_eq!(err(&[("limit", "-1")]).field, "limit");
        assert_eq!(err(&[("offset", "-1")]).field, "offset");
        assert_eq!(err(&[("offset", "x")]).field, "offset");
        assert_eq!(err(&[("number", &"5".repeat(300))]).field, "number");
        let e = err(&[("since", "2024-05-02T00:00"), ("until", "2024-05-01T00:00")]);
        assert_eq!(e.field, "until");
        assert!(parse(&pairs(&[("limit", "1000"), ("offset", "0")])).is_ok());
    }

    #[test]
    fn every_cause_the_rows_name_is_accepted() {
        for c in cause_names() {
            assert_eq!(
                parse(&pairs(&[("cause", c)])).expect(c).cause.as_deref(),
                Some(c)
            );
        }
    }
}
