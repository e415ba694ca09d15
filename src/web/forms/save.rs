//! A whole configuration sent to the signalling loop to be checked, stored
//! and applied (`ControlRequest::SaveConfig`), and each changed section
//! written to the audit list afterwards.

use std::time::SystemTime;

use serde_json::Value;
use tracing::warn;

use super::spec::section;
use crate::app::{ControlRequest, SaveReport};
use crate::config::{Config, ConfigError};
use crate::web::context::{Identity, WebContext};

/// Why a configuration was not saved: the status to answer with, the field
/// at fault (a path such as `listener[1].allow[0]`) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub field: Option<String>,
    pub message: String,
}

impl Refused {
    pub fn new(status: u16, field: Option<String>, message: impl Into<String>) -> Refused {
        Refused {
            status,
            field,
            message: message.into(),
        }
    }
}

/// `config` with its section `key` replaced by `value` (the section's JSON),
/// typed; a value of the wrong type is refused with its path (status 422,
/// the caller may answer otherwise).
pub fn with_section(config: &Config, key: &str, value: Value) -> Result<Config, Refused> {
    let mut whole = to_json(config)?;
    whole[key] = value;
    from_json(whole, key)
}

pub fn to_json(config: &Config) -> Result<Value, Refused> {
    serde_json::to_value(config)
        .map_err(|e| Refused::new(500, None, format!("cannot show the configuration: {e}")))
}

/// A whole configuration from JSON; `fallback` names the field when the
/// error is about the whole.
pub fn from_json(whole: Value, fallback: &str) -> Result<Config, Refused> {
    serde_path_to_error::deserialize::<_, Config>(whole).map_err(|e| {
        let path = e.path().to_string();
        let field = if path.is_empty() || path == "." {
            fallback.to_string()
        } else {
            path
        };
        Refused::new(422, Some(field), e.inner().to_string())
    })
}

/// Asks the loop to save `new`; on success adds one audit entry per
/// changed section, by `who`.
pub async fn save(ctx: &WebContext, who: &Identity, new: Config) -> Result<SaveReport, Refused> {
    let old = ctx.config();
    let (reply, answer) = smol::channel::bounded(1);
    let request = ControlRequest::SaveConfig {
        config: Box::new(new.clone()),
        who: who.who.clone(),
        reply,
    };
    let gone = || {
        Refused::new(
            503,
            None,
            "the gateway is not taking requests (shutting down?)",
        )
    };
    ctx.control.send(request).await.map_err(|_| gone())?;
    match answer.recv().await.map_err(|_| gone())? {
        Ok(report) => {
            audit(ctx, who, &old, &new, &report).await;
            Ok(report)
        }
        Err(ConfigError::Invalid { field, problem }) => {
            Err(Refused::new(422, Some(field), problem))
        }
        Err(e @ ConfigError::Syntax { .. }) => Err(Refused::new(
            409,
            None,
            format!("the file on disk does not load, correct it first: {e}"),
        )),
        Err(e @ ConfigError::Io { .. }) => Err(Refused::new(500, None, e.to_string())),
    }
}

async fn audit(ctx: &WebContext, who: &Identity, old: &Config, new: &Config, report: &SaveReport) {
    let (Ok(o), Ok(n)) = (to_json(old), to_json(new)) else {
        return;
    };
    let entries: Vec<(String, String)> = report
        .changed
        .iter()
        .map(|s| {
            (
                s.clone(),
                summary(s, o.get(s), n.get(s), &report.needs_restart),
            )
        })
        .collect();
    let by = who.who.clone();
    let now = SystemTime::now();
    let written = ctx
        .with_store(move |store| {
            for (section, text) in &entries {
                store.add_audit(&by, now, section, text)?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = written {
        warn!("the configuration was saved but its audit entry was not: {e}");
    }
}

/// One line for the audit list: what in the section changed (keys, or
/// entries by name), never a value (passwords stay out of it).
pub fn summary(key: &str, old: Option<&Value>, new: Option<&Value>, restart: &[String]) -> String {
    let empty = Value::Null;
    let (old, new) = (old.unwrap_or(&empty), new.unwrap_or(&empty));
    let mut parts = Vec::new();
    if let (Some(o), Some(n)) = (old.as_object(), new.as_object()) {
        let keys: Vec<&str> = n
            .keys()
            .chain(o.keys().filter(|k| !n.contains_key(*k)))
            .filter(|k| o.get(*k) != n.get(*k))
            .map(String::as_str)
            .collect();
        parts.push(format!("changed {}", keys.join(", ")));
    } else {
        let id = section(key)
            .and_then(|s| s.entries)
            .map_or("name", |(id, _)| id);
        let list = |v: &Value| -> Vec<Value> { v.as_array().cloned().unwrap_or_default() };
        let (o, n) = (list(old), list(new));
        let name = |e: &Value| {
            e.get(id)
                .and_then(Value::as_str)
                .unwrap_or("(unnamed)")
                .to_string()
        };
        let find = |v: &[Value], e: &Value| v.iter().find(|x| x.get(id) == e.get(id)).cloned();
        let added: Vec<String> = n
            .iter()
            .filter(|e| find(&o, e).is_none())
            .map(name)
            .collect();
        let removed: Vec<String> = o
            .iter()
            .filter(|e| find(&n, e).is_none())
            .map(name)
            .collect();
        let changed: Vec<String> = n
            .iter()
            .filter(|e| find(&o, e).is_some_and(|x| &x != *e))
            .map(name)
            .collect();
        for (what, names) in [("added", added), ("removed", removed), ("changed", changed)] {
            if !names.is_empty() {
                parts.push(format!("{what} {}", names.join(", ")));
            }
        }
        if parts.is_empty() {
            parts.push("reordered".into());
        }
    }
    let mine: Vec<&str> = restart
        .iter()
        .filter(|f| f.starts_with(key))
        .map(String::as_str)
        .collect();
    if !mine.is_empty() {
        parts.push(format!("needs restart: {}", mine.join(", ")));
    }
    parts.join("; ")
}
