//! Passwords in the configuration: hidden from what is shown or sent
//! unless asked for, and kept when an edit leaves them out. An entry of an
//! array (an account, a user, a target) is matched to its stored self by
//! its identifying key (name, username, uri), else by its place, so
//! reordering entries keeps each one's password.

use serde_json::Value;

use super::spec::{Field, Kind, Section, SECTIONS};

/// Replaces every password in the section's value by null.
pub fn hide(section: &Section, value: &mut Value) {
    walk_section(section, value, None, false, &mut |new, _| {
        if !new.is_null() {
            *new = Value::Null;
        }
    });
}

/// Every password of a whole configuration's JSON replaced by null.
pub fn hide_all(config: &mut Value) {
    for s in SECTIONS {
        if let Some(v) = config.get_mut(s.key) {
            hide(s, v);
        }
    }
}

/// Where the section's new value has no password (absent, null or empty),
/// puts back the one stored in `old` for the same entry.
pub fn keep(section: &Section, new: &mut Value, old: &Value) {
    walk_section(section, new, Some(old), true, &mut |new, old| {
        let missing = match new {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            _ => false,
        };
        if missing {
            if let Some(o) = old.filter(|o| !o.is_null()) {
                *new = o.clone();
            }
        }
    });
}

/// `keep` for every section of a whole configuration's JSON.
pub fn keep_all(new: &mut Value, old: &Value) {
    for s in SECTIONS {
        if let (Some(n), Some(o)) = (new.get_mut(s.key), old.get(s.key)) {
            keep(s, n, o);
        }
    }
}

type Visit<'f> = dyn FnMut(&mut Value, Option<&Value>) + 'f;

/// `keeping`: an absent or null password is looked up (and left out when
/// there is none, so the field's default applies); else only passwords
/// present are visited.
fn walk_section(
    section: &Section,
    new: &mut Value,
    old: Option<&Value>,
    keeping: bool,
    f: &mut Visit,
) {
    match section.entries {
        Some((id, _)) => walk_entries(section.fields, id, new, old, keeping, f),
        None => walk_fields(section.fields, new, old, keeping, f),
    }
}

fn walk_fields(list: &[Field], new: &mut Value, old: Option<&Value>, keeping: bool, f: &mut Visit) {
    let Some(obj) = new.as_object_mut() else {
        return;
    };
    for field in list {
        let stored = old.and_then(|o| o.get(field.key));
        match field.kind {
            Kind::Secret | Kind::OptSecret => {
                if !keeping && !obj.contains_key(field.key) {
                    continue;
                }
                let slot = obj.entry(field.key.to_string()).or_insert(Value::Null);
                f(slot, stored);
                if keeping && slot.is_null() {
                    obj.remove(field.key);
                }
            }
            Kind::Entries { fields, id, .. } => {
                if let Some(v) = obj.get_mut(field.key) {
                    walk_entries(fields, id, v, stored, keeping, f);
                }
            }
            _ => {}
        }
    }
}

fn walk_entries(
    list: &[Field],
    id: &str,
    new: &mut Value,
    old: Option<&Value>,
    keeping: bool,
    f: &mut Visit,
) {
    let Some(items) = new.as_array_mut() else {
        return;
    };
    let stored: &[Value] = old
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, item) in items.iter_mut().enumerate() {
        let key = (!id.is_empty())
            .then(|| item.get(id).filter(|v| !v.is_null()).cloned())
            .flatten();
        let same = match &key {
            Some(k) => stored.iter().find(|o| o.get(id) == Some(k)),
            None => stored.get(i),
        };
        walk_fields(list, item, same, keeping, f);
    }
}
