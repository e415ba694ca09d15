//! A posted form back into a section's JSON value, by the same field list
//! that rendered it. Text that cannot be the field's type (a number field
//! holding words) is kept as text, so the form shows it again, and named
//! as the error.

use serde_json::{Map, Value};

use super::path::{index, join, segments, Segment};
use super::spec::{Field, Kind, Section};

/// The posted pairs, looked up by name.
pub struct Posted<'a>(pub &'a [(String, String)]);

impl Posted<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The indices `i` of the entries `path[i]` the form holds, in order.
    fn entries(&self, path: &str) -> Vec<usize> {
        let mut found: Vec<usize> = self
            .0
            .iter()
            .filter_map(|(n, _)| {
                n.strip_prefix(path)?
                    .strip_prefix('[')?
                    .strip_suffix("]._entry")?
                    .parse()
                    .ok()
            })
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// The first field whose text is not of its type: (path, problem).
pub type ParseError = (String, String);

/// The section's value from the form, and the first field that could not
/// be read (its text is kept in the value).
pub fn section_value(section: &Section, form: &[(String, String)]) -> (Value, Option<ParseError>) {
    let posted = Posted(form);
    let mut error = None;
    let value = match section.entries {
        Some(_) => entries(&posted, section.key, section.fields, &mut error),
        None => Value::Object(fields(&posted, section.key, section.fields, &mut error)),
    };
    (value, error)
}

fn entries(posted: &Posted, path: &str, list: &[Field], error: &mut Option<ParseError>) -> Value {
    let mut out = Vec::new();
    for i in posted.entries(path) {
        let p = index(path, i);
        if posted.get(&format!("{p}._remove")).is_some() {
            continue;
        }
        out.push(Value::Object(fields(posted, &p, list, error)));
    }
    Value::Array(out)
}

fn fields(
    posted: &Posted,
    prefix: &str,
    list: &[Field],
    error: &mut Option<ParseError>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for f in list {
        let path = join(prefix, f.key);
        let text = posted.get(&path).map(str::trim);
        let present = text.filter(|t| !t.is_empty());
        let v = match f.kind {
            Kind::Text => Some(Value::String(text.unwrap_or_default().to_string())),
            Kind::OptText | Kind::Choice(_) | Kind::OptChoice(_) | Kind::Radio(_) => {
                present.map(|t| Value::String(t.to_string()))
            }
            Kind::Int => present.map(|t| match t.parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => {
                    error.get_or_insert((path.clone(), format!("'{t}' is not a whole number")));
                    Value::String(t.to_string())
                }
            }),
            Kind::Bool => Some(Value::Bool(text.is_some())),
            Kind::OptBool => present.map(|t| Value::Bool(t == "true")),
            Kind::ChoiceSet(_) => Some(Value::Array(
                posted
                    .all(&path)
                    .into_iter()
                    .map(|w| Value::String(w.to_string()))
                    .collect(),
            )),
            Kind::Lines | Kind::OptLines => {
                let lines: Vec<Value> = text
                    .unwrap_or_default()
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| Value::String(l.to_string()))
                    .collect();
                let default = posted.get(&format!("{path}._default")).is_some();
                match f.kind {
                    Kind::OptLines if lines.is_empty() && default => None,
                    _ => Some(Value::Array(lines)),
                }
            }
            // Empty: the stored one is kept (`secrets::keep`).
            Kind::Secret | Kind::OptSecret => posted
                .get(&path)
                .filter(|t| !t.is_empty())
                .map(|t| Value::String(t.to_string())),
            Kind::Entries { fields, .. } => Some(entries(posted, &path, fields, error)),
        };
        if let Some(v) = v {
            out.insert(f.key.to_string(), v);
        }
    }
    out
}

/// Adds an empty entry to the array at `path` (e.g. `route[0].targets`)
/// inside the section's value; false when there is no array there.
pub fn add_entry(section: &Section, value: &mut Value, path: &str) -> bool {
    let Some(segs) = segments(path) else {
        return false;
    };
    if segs.first() != Some(&Segment::Key(section.key.to_string())) {
        return false;
    }
    let mut at = value;
    for seg in &segs[1..] {
        let next = match seg {
            Segment::Key(k) => at.get_mut(k.as_str()),
            Segment::Index(i) => at.get_mut(*i),
        };
        match next {
            Some(n) => at = n,
            None => return false,
        }
    }
    if at.is_null() {
        *at = Value::Array(Vec::new());
    }
    match at.as_array_mut() {
        Some(a) => {
            a.push(Value::Object(Map::new()));
            true
        }
        None => false,
    }
}
