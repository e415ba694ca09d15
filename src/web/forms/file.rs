//! The configuration file as a whole: a backup without its passwords, and
//! a file restored from a backup read into a configuration to save.

use toml_edit::{DocumentMut, Item};

use super::save::{from_json, to_json, Refused};
use super::secrets;
use crate::config::Config;

/// Keys that hold a secret wherever they are: passwords (accounts, inbound
/// users, targets, MQTT) and webhook and routing hook signing secrets.
const SECRET_KEYS: &[&str] = &["password", "secret", "hook_secret"];

fn remove_secrets(t: &mut dyn toml_edit::TableLike) {
    for k in SECRET_KEYS {
        t.remove(k);
    }
}

/// The file's text with every secret key removed, comments kept.
/// Text that does not parse is refused rather than passed on whole (it
/// could hold a password the stripping did not see).
pub fn without_passwords(text: &str) -> Result<String, String> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| format!("the configuration file does not parse: {e}"))?;
    strip_item(doc.as_item_mut());
    Ok(doc.to_string())
}

fn strip_item(item: &mut Item) {
    match item {
        Item::Table(t) => {
            remove_secrets(t);
            for (_, v) in t.iter_mut() {
                strip_item(v);
            }
        }
        Item::ArrayOfTables(a) => {
            for t in a.iter_mut() {
                remove_secrets(t);
                for (_, v) in t.iter_mut() {
                    strip_item(v);
                }
            }
        }
        Item::Value(v) => strip_value(v),
        Item::None => {}
    }
}

fn strip_value(v: &mut toml_edit::Value) {
    match v {
        toml_edit::Value::InlineTable(t) => {
            remove_secrets(t);
            for (_, x) in t.iter_mut() {
                strip_value(x);
            }
        }
        toml_edit::Value::Array(a) => {
            for x in a.iter_mut() {
                strip_value(x);
            }
        }
        _ => {}
    }
}

/// A restored file read into a configuration: TOML that does not parse is
/// a 400 with the parser's line and column, a value of the wrong type a
/// 422 naming its field. A password the file leaves out (a backup made
/// without them) is kept from `current` for the same entry.
pub fn restored(text: &str, current: &Config) -> Result<Config, Refused> {
    let parsed: toml::Value = toml::from_str(text)
        .map_err(|e| Refused::new(400, None, format!("the file is not TOML: {e}")))?;
    let mut new = serde_json::to_value(&parsed)
        .map_err(|e| Refused::new(400, None, format!("the file cannot be read: {e}")))?;
    if !new.is_object() {
        return Err(Refused::new(400, None, "the file is not a TOML table"));
    }
    let old = to_json(current)?;
    secrets::keep_all(&mut new, &old);
    from_json(new, "config")
}
