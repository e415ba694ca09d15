//! Which custom headers the outgoing INVITE carries, built from the incoming
//! one. Retreaver's X-PH-* call tags pass by default (a buyer's PBX routes
//! on them); everything else must be asked for, so nothing the caller sent
//! reaches the PBX by accident.

use crate::config::{ConfigError, HeaderActionConfig, HeaderActionKind};
use crate::sip::message::{HeaderName, Headers};

use super::header_text::{header_value, name_pattern, writable_name};
use super::owned::is_owned;
use super::pattern::NamePattern;

const DEFAULT_PASS_PREFIX: &str = "x-ph-";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderAction {
    /// The incoming values of `from`, under `name`; `from` is not sent.
    Rename { from: HeaderName, name: HeaderName },
    /// `name` with a constant value, replacing any `name` so far.
    Set { name: HeaderName, value: String },
    /// The incoming values of `from`, under `name` as well.
    Copy { from: HeaderName, name: HeaderName },
    /// Drops what matches from the headers built so far.
    Strip(NamePattern),
    /// Adds the incoming headers that match (owned ones never).
    Pass(NamePattern),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderPlan {
    pub actions: Vec<HeaderAction>,
}

/// A header in the list being built. `origin` is the index of the incoming
/// line it was passed from, so passing the same line twice adds it once.
struct Entry {
    name: HeaderName,
    value: String,
    origin: Option<usize>,
}

impl HeaderPlan {
    /// `field` is the config path of the list, e.g. `route[0].headers`.
    pub fn compile(actions: &[HeaderActionConfig], field: &str) -> Result<HeaderPlan, ConfigError> {
        let actions = actions
            .iter()
            .enumerate()
            .map(|(i, a)| compile_action(a, &format!("{field}[{i}]")))
            .collect::<Result<_, _>>()?;
        Ok(HeaderPlan { actions })
    }

    /// The custom headers for the outgoing INVITE, in order.
    pub fn apply(&self, incoming: &Headers) -> Vec<(HeaderName, String)> {
        let lines: Vec<_> = incoming.iter().collect();
        let default_pass = NamePattern::Prefix(DEFAULT_PASS_PREFIX.into());
        let mut out: Vec<Entry> = lines
            .iter()
            .enumerate()
            .filter(|(_, h)| default_pass.matches(&h.name))
            .map(|(i, h)| Entry {
                name: h.name.clone(),
                value: h.value.clone(),
                origin: Some(i),
            })
            .collect();
        let incoming_values = |from: &HeaderName| -> Vec<String> {
            incoming.get_all(from).map(str::to_string).collect()
        };
        for action in &self.actions {
            match action {
                HeaderAction::Rename { from, name } => {
                    let values = incoming_values(from);
                    if values.is_empty() {
                        out.retain(|e| &e.name != from);
                    } else {
                        replace(&mut out, &[from, name], name, values);
                    }
                }
                HeaderAction::Set { name, value } => {
                    replace(&mut out, &[name], name, vec![value.clone()]);
                }
                HeaderAction::Copy { from, name } => {
                    let values = incoming_values(from);
                    if !values.is_empty() {
                        replace(&mut out, &[name], name, values);
                    }
                }
                HeaderAction::Strip(pattern) => out.retain(|e| !pattern.matches(&e.name)),
                HeaderAction::Pass(pattern) => {
                    for (i, h) in lines.iter().enumerate() {
                        let wanted = pattern.matches(&h.name) && !is_owned(&h.name);
                        if wanted && !out.iter().any(|e| e.origin == Some(i)) {
                            out.push(Entry {
                                name: h.name.clone(),
                                value: h.value.clone(),
                                origin: Some(i),
                            });
                        }
                    }
                }
            }
        }
        out.into_iter().map(|e| (e.name, e.value)).collect()
    }
}

/// Removes every entry named in `drop` and puts `name: values` where the
/// first of them was (or at the end), so a renamed header keeps its place.
fn replace(out: &mut Vec<Entry>, drop: &[&HeaderName], name: &HeaderName, values: Vec<String>) {
    let at = out
        .iter()
        .position(|e| drop.contains(&&e.name))
        .unwrap_or(out.len());
    // Everything before `at` survives the retain, so `at` stays in bounds.
    out.retain(|e| !drop.contains(&&e.name));
    let new = values.into_iter().map(|value| Entry {
        name: name.clone(),
        value,
        origin: None,
    });
    out.splice(at..at, new);
}

fn compile_action(a: &HeaderActionConfig, field: &str) -> Result<HeaderAction, ConfigError> {
    let f = |k: &str| format!("{field}.{k}");
    let verb = match a.action {
        HeaderActionKind::Rename => "rename",
        HeaderActionKind::Set => "set",
        HeaderActionKind::Copy => "copy",
        HeaderActionKind::Strip => "strip",
        HeaderActionKind::Pass => "pass",
    };
    if a.name.is_empty() {
        return Err(ConfigError::invalid(
            f("name"),
            format!("'{verb}' needs name = \"Header-Name\""),
        ));
    }
    let from = || match &a.from {
        Some(from) => writable_name(&f("from"), from),
        None => Err(ConfigError::invalid(
            f("from"),
            format!("'{verb}' needs from = \"Header-Name\" (the incoming header to read)"),
        )),
    };
    let no_from = || match a.from {
        Some(_) => Err(ConfigError::invalid(
            f("from"),
            format!("'{verb}' takes no from; remove it"),
        )),
        None => Ok(()),
    };
    let no_value = || match a.value {
        Some(_) => Err(ConfigError::invalid(
            f("value"),
            format!("'{verb}' takes no value; remove it"),
        )),
        None => Ok(()),
    };
    Ok(match a.action {
        HeaderActionKind::Rename | HeaderActionKind::Copy => {
            no_value()?;
            let from = from()?;
            let name = writable_name(&f("name"), &a.name)?;
            if a.action == HeaderActionKind::Rename {
                HeaderAction::Rename { from, name }
            } else {
                HeaderAction::Copy { from, name }
            }
        }
        HeaderActionKind::Set => {
            no_from()?;
            let name = writable_name(&f("name"), &a.name)?;
            let Some(value) = &a.value else {
                return Err(ConfigError::invalid(
                    f("value"),
                    "'set' needs value = \"...\"",
                ));
            };
            let value = header_value(&f("value"), value)?;
            HeaderAction::Set { name, value }
        }
        HeaderActionKind::Strip | HeaderActionKind::Pass => {
            no_from()?;
            no_value()?;
            let strip = a.action == HeaderActionKind::Strip;
            // Stripping everything then setting a few is a sensible plan;
            // passing everything is not (Allow, Require... are per leg).
            let pattern = name_pattern(&f("name"), &a.name, strip)?;
            if strip {
                HeaderAction::Strip(pattern)
            } else {
                HeaderAction::Pass(pattern)
            }
        }
    })
}
