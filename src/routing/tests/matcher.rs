use super::{cloud_invite, invite, toml_value};
use crate::config::MatchConfig;
use crate::routing::Match;

fn compile(item: &str) -> Match {
    let m: MatchConfig = toml_value(&format!("{{ {item} }}"));
    match Match::compile(&m, "route[0].match[0]") {
        Ok(m) => m,
        Err(e) => panic!("{item}: {e}"),
    }
}

#[test]
fn every_test_on_every_subject() {
    let tagged = cloud_invite(&[
        "X-PH-RetreaverAFID: 5678",
        "X-PH-RetreaverSID:  sub-9  ",
        "X-Campaign-ID: 1234",
    ]);
    // (description, match item, expected)
    #[rustfmt::skip]
    let rows: &[(&str, &str, bool)] = &[
        ("header equals",                                r#"header = "X-PH-RetreaverAFID", equals = "5678""#, true),
        ("header equals other value",                    r#"header = "X-PH-RetreaverAFID", equals = "567""#,  false),
        ("header equals is case-sensitive on the value", r#"header = "X-Campaign-ID", equals = "1234 ""#,     false),
        ("header equals on the trimmed value",           r#"header = "X-PH-RetreaverSID", equals = "sub-9""#, true),
        ("header name any case",                         r#"header = "x-ph-retreaverafid", equals = "5678""#, true),
        ("header name upper case",                       r#"header = "X-CAMPAIGN-ID", prefix = "12""#,        true),
        ("header prefix",                                r#"header = "X-PH-RetreaverAFID", prefix = "56""#,   true),
        ("header prefix no",                             r#"header = "X-PH-RetreaverAFID", prefix = "78""#,   false),
        ("header regex unanchored",                      r#"header = "X-PH-RetreaverAFID", regex = "67""#,    true),
        ("header regex anchored",                        r#"header = "X-PH-RetreaverAFID", regex = "^67""#,   false),
        ("header regex on missing header",               r#"header = "X-Nope", regex = ".*""#,                false),
        ("header equals on missing header",              r#"header = "X-Nope", equals = """#,                 false),
        ("header present",                               r#"header = "X-Campaign-ID", present = true"#,       true),
        ("header present, missing",                      r#"header = "X-Test", present = true"#,              false),
        ("header absent",                                r#"header = "X-Test", absent = true"#,               true),
        ("header absent, there",                         r#"header = "x-campaign-id", absent = true"#,        false),
        ("dialled equals",                               r#"dialled = true, equals = "+18885551234""#,        true),
        ("dialled prefix",                               r#"dialled = true, prefix = "+1888""#,               true),
        ("dialled prefix no",                            r#"dialled = true, prefix = "+1555""#,               false),
        ("dialled regex",                                r#"dialled = true, regex = "^\\+1888\\d{7}$""#,      true),
        ("caller equals",                                r#"caller = true, equals = "+15551230000""#,         true),
        ("caller prefix",                                r#"caller = true, prefix = "+1555""#,                true),
        ("caller regex",                                 r#"caller = true, regex = "^\\+1555""#,              true),
        ("caller regex no",                              r#"caller = true, regex = "^\\+1888""#,              false),
    ];
    for (what, item, expected) in rows {
        assert_eq!(compile(item).matches(&tagged), *expected, "{what}: {item}");
    }
}

#[test]
fn dialled_falls_back_to_to_and_unescapes() {
    // (description, Request-URI, To URI, match item, expected)
    #[rustfmt::skip]
    let rows = [
        ("Request-URI user wins over To",      "sip:100@gw",                       "sip:200@gw", r#"dialled = true, equals = "100""#,   true),
        ("no Request-URI user: To user",       "sip:gw.example.com",               "sip:200@gw", r#"dialled = true, equals = "200""#,   true),
        ("escaped user is compared unescaped", "sip:%2B1888@gw",                   "sip:x@gw",   r#"dialled = true, equals = "+1888""#, true),
        ("tel: Request-URI",                   "tel:+18885551234;phone-context=x", "sip:x@gw",   r#"dialled = true, prefix = "+1888""#, true),
        ("no user anywhere",                   "sip:gw",                           "sip:gw",     r#"dialled = true, regex = "^""#,      false),
    ];
    for (what, ruri, to, item, expected) in rows {
        let req = invite(ruri, "sip:alice@example.com", to, &[]);
        assert_eq!(compile(item).matches(&req), expected, "{what}");
    }
}

#[test]
fn multi_valued_header_passes_if_any_value_passes() {
    let req = cloud_invite(&["X-Tier: silver", "X-Other: 1", "x-tier: gold"]);
    // (description, match item, expected)
    #[rustfmt::skip]
    let rows = [
        ("first value",                   r#"header = "X-Tier", equals = "silver""#, true),
        ("second value, other case name", r#"header = "X-Tier", equals = "gold""#,   true),
        ("no value",                      r#"header = "X-Tier", equals = "bronze""#, false),
        ("regex over all values",         r#"header = "X-Tier", regex = "^g""#,      true),
        ("present",                       r#"header = "X-TIER", present = true"#,    true),
        ("absent",                        r#"header = "X-Tier", absent = true"#,     false),
    ];
    for (what, item, expected) in rows {
        assert_eq!(compile(item).matches(&req), expected, "{what}");
    }
}
