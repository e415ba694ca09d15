use super::cloud_invite;
use crate::routing::{x_headers, CallTags};

#[test]
fn call_tags_are_extracted() {
    let some = |s: &str| Some(s.to_string());
    // (description, header lines, expected tags)
    let rows: Vec<(&str, Vec<&str>, CallTags)> = vec![
        ("no tags", vec![], CallTags::default()),
        (
            "all four",
            vec![
                "X-PH-RetreaverUUID: 0b6c1d2e-uuid",
                "X-PH-RetreaverKey: pk_1",
                "X-PH-RetreaverAFID: 5678",
                "X-PH-RetreaverSID: sub",
            ],
            CallTags {
                uuid: some("0b6c1d2e-uuid"),
                key: some("pk_1"),
                afid: some("5678"),
                sid: some("sub"),
            },
        ),
        (
            "names in any case, values trimmed",
            vec!["x-ph-retreaveruuid:   u1  ", "X-PH-RETREAVERAFID: 9"],
            CallTags {
                uuid: some("u1"),
                afid: some("9"),
                ..CallTags::default()
            },
        ),
        (
            "an empty value is no tag; SID is optional",
            vec!["X-PH-RetreaverKey:", "X-PH-RetreaverUUID: u"],
            CallTags {
                uuid: some("u"),
                ..CallTags::default()
            },
        ),
        (
            "the first of repeated lines",
            vec!["X-PH-RetreaverAFID: 1", "X-PH-RetreaverAFID: 2"],
            CallTags {
                afid: some("1"),
                ..CallTags::default()
            },
        ),
    ];
    for (what, lines, expected) in rows {
        let req = cloud_invite(&lines);
        let tags = CallTags::extract(&req.headers);
        assert_eq!(tags, expected, "{what}");
        assert_eq!(tags.is_empty(), expected == CallTags::default(), "{what}");
    }
}

#[test]
fn x_headers_lists_every_x_header_as_received() {
    let req = cloud_invite(&[
        "x-ph-RetreaverUUID: u",
        "Subject: s",
        "X-Campaign-ID: 1",
        "X-: odd",
    ]);
    let got = x_headers(&req.headers);
    let got: Vec<(&str, &str)> = got.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert_eq!(
        got,
        vec![
            ("x-ph-RetreaverUUID", "u"),
            ("X-Campaign-ID", "1"),
            ("X-", "odd")
        ]
    );
}
