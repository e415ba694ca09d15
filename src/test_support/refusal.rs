//! A refused configuration, as its tests check it: the error names the
//! field at fault and says what to write instead.

/// The error `result` must be, naming `field` and containing `advice`;
/// `what` and `text` (the TOML) say which case failed.
pub fn assert_refused<T>(
    result: Result<T, String>,
    what: &str,
    text: &str,
    field: &str,
    advice: &str,
) -> String {
    let e = match result {
        Ok(_) => panic!("{what}: accepted\n{text}"),
        Err(e) => e,
    };
    assert!(e.contains(field), "{what}: '{e}' does not name {field}");
    assert!(e.contains(advice), "{what}: '{e}' does not say '{advice}'");
    e
}
