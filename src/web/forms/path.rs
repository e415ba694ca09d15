//! Field paths as the configuration's errors write them
//! (`listener[1].allow[0]`), and the element ids made from them.

/// `prefix.key`, or `key` at the top.
pub fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// `prefix[i]`.
pub fn index(prefix: &str, i: usize) -> String {
    format!("{prefix}[{i}]")
}

/// The element id of the input for `path`: `f-` and the path with `[`,
/// `]` and `.` made `-` (runs of them one): `listener[1].allow` →
/// `f-listener-1-allow`.
pub fn field_id(path: &str) -> String {
    let mut out = String::from("f-");
    for c in path.chars() {
        let c = if matches!(c, '[' | ']' | '.') { '-' } else { c };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    while out.ends_with('-') && out.len() > 2 {
        out.pop();
    }
    out
}

/// Whether an error about `error` belongs next to the input for `path`: the
/// path itself or an element of its list (`listener[1].allow[0]` belongs to
/// the textarea `listener[1].allow`).
pub fn error_belongs(error: &str, path: &str) -> bool {
    error == path
        || error
            .strip_prefix(path)
            .is_some_and(|rest| rest.starts_with('[') && !rest.contains('.'))
}

/// The segments of a path: keys and indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

pub fn segments(path: &str) -> Option<Vec<Segment>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty() {
            return None;
        }
        out.push(Segment::Key(key.to_string()));
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            out.push(Segment::Index(r[..end].parse().ok()?));
            rest = &r[end + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_error_places() {
        assert_eq!(field_id("listener[1].allow"), "f-listener-1-allow");
        assert_eq!(
            field_id("route[0].targets[1].uri"),
            "f-route-0-targets-1-uri"
        );
        assert_eq!(field_id("sip.t1_ms"), "f-sip-t1_ms");
        assert!(error_belongs("listener[1].allow[0]", "listener[1].allow"));
        assert!(error_belongs("listener[1].allow", "listener[1].allow"));
        assert!(!error_belongs(
            "listener[1].allow[0]",
            "listener[1].allow_x"
        ));
        assert!(!error_belongs("listener[10].name", "listener[1]"));
        assert_eq!(
            segments("route[0].targets[2].uri"),
            Some(vec![
                Segment::Key("route".into()),
                Segment::Index(0),
                Segment::Key("targets".into()),
                Segment::Index(2),
                Segment::Key("uri".into()),
            ])
        );
        assert_eq!(segments("a[x]"), None);
    }
}
