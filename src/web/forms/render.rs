//! A section's form from its JSON value: tables become fieldsets, scalars
//! inputs named by their path, lists textareas, arrays of tables repeated
//! fieldsets with a remove box each and an add button. Passwords are never
//! written into the page.

use serde_json::Value;

use super::path::{error_belongs, field_id, index, join};
use super::spec::{Field, Kind, Section};
use crate::web::html::esc;

/// An error to show at its field: the field's path and the message.
pub type FieldError<'a> = Option<(&'a str, &'a str)>;

/// The inputs of `section` (the caller puts them in a form) holding
/// `value`, the section's value (an object, or an array for `[[...]]`).
/// An error whose field has no input here is shown at the top.
pub fn section_inputs(section: &Section, value: &Value, error: FieldError) -> String {
    let mut out = String::new();
    match section.entries {
        Some((id, noun)) => entries(
            &mut out,
            section.key,
            section.fields,
            id,
            noun,
            value,
            error,
        ),
        None => fields(&mut out, section.key, section.fields, value, error),
    }
    if let Some((field, message)) = error {
        if !out.contains("class=\"field-error\"") {
            out.insert_str(0, &error_p(field, message));
        }
    }
    out
}

fn error_p(field: &str, message: &str) -> String {
    format!(
        r#"<p class="field-error" data-field="{}">{}</p>"#,
        esc(field),
        esc(message)
    )
}

fn fields(out: &mut String, prefix: &str, list: &[Field], value: &Value, error: FieldError) {
    for f in list {
        let path = join(prefix, f.key);
        let v = value.get(f.key).filter(|v| !v.is_null());
        if let Kind::Entries { fields, id, noun } = f.kind {
            out.push_str(&format!(
                r#"<div class="sub-entries"><h3>{}</h3>"#,
                esc(f.key)
            ));
            if !f.help.is_empty() {
                out.push_str(&format!(r#"<p class="help">{}</p>"#, esc(f.help)));
            }
            entries(
                out,
                &path,
                fields,
                id,
                noun,
                v.unwrap_or(&Value::Null),
                error,
            );
            out.push_str("</div>");
            continue;
        }
        leaf(out, &path, f, v, error);
    }
}

fn entries(
    out: &mut String,
    path: &str,
    list: &[Field],
    id: &str,
    noun: &str,
    value: &Value,
    error: FieldError,
) {
    let fid = field_id(path);
    out.push_str(&format!(r#"<div class="entries" id="{fid}">"#));
    if let Some((e, m)) = error.filter(|(e, _)| *e == path) {
        out.push_str(&error_p(e, m));
    }
    let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
    for (i, item) in items.iter().enumerate() {
        let p = index(path, i);
        let name = item
            .get(id)
            .and_then(Value::as_str)
            .map(|n| format!(" {}", esc(n)))
            .unwrap_or_default();
        out.push_str(&format!(
            r#"<fieldset class="entry" id="{}"><legend>{} {}{}</legend><input type="hidden" name="{}._entry" value="1">"#,
            field_id(&p),
            esc(noun),
            i + 1,
            name,
            esc(&p)
        ));
        if let Some((e, m)) = error.filter(|(e, _)| *e == p) {
            out.push_str(&error_p(e, m));
        }
        fields(out, &p, list, item, error);
        out.push_str(&format!(
            r#"<label class="remove"><input type="checkbox" name="{0}._remove" id="{1}-remove"> remove this {2}</label></fieldset>"#,
            esc(&p),
            field_id(&p),
            esc(noun)
        ));
    }
    out.push_str(&format!(
        r#"<button type="submit" name="_add" value="{}" id="{fid}-add" formnovalidate>Add a {}</button></div>"#,
        esc(path),
        esc(noun)
    ));
}

/// A scalar or list shown as text.
fn text_of(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn lines_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| text_of(Some(x)))
            .collect::<Vec<_>>()
            .join("\n"),
        other => text_of(other),
    }
}

fn select(name: &str, id: &str, choices: &[(&str, &str)], current: &str) -> String {
    let mut s = format!(r#"<select name="{}" id="{id}">"#, esc(name));
    let known = choices.iter().any(|(v, _)| *v == current);
    for (v, label) in choices {
        let sel = if *v == current { " selected" } else { "" };
        s.push_str(&format!(
            r#"<option value="{}"{sel}>{}</option>"#,
            esc(v),
            esc(label)
        ));
    }
    if !known && !current.is_empty() {
        s.push_str(&format!(
            r#"<option value="{0}" selected>{0}</option>"#,
            esc(current)
        ));
    }
    s.push_str("</select>");
    s
}

fn leaf(out: &mut String, path: &str, f: &Field, v: Option<&Value>, error: FieldError) {
    let id = field_id(path);
    let name = esc(path);
    let input = match f.kind {
        Kind::Text | Kind::OptText => format!(
            r#"<input type="text" name="{name}" id="{id}" value="{}">"#,
            esc(&text_of(v))
        ),
        Kind::Int => format!(
            r#"<input type="text" inputmode="numeric" name="{name}" id="{id}" value="{}">"#,
            esc(&text_of(v))
        ),
        Kind::Bool => {
            let checked = if v == Some(&Value::Bool(true)) {
                " checked"
            } else {
                ""
            };
            format!(r#"<input type="checkbox" name="{name}" id="{id}" value="true"{checked}>"#)
        }
        Kind::OptBool => select(
            path,
            &id,
            &[("", "(not set)"), ("true", "yes"), ("false", "no")],
            &text_of(v),
        ),
        Kind::Choice(words) => {
            let choices: Vec<(&str, &str)> = words.iter().map(|w| (*w, *w)).collect();
            let current = text_of(v);
            let current = if current.is_empty() {
                words.first().map(|w| w.to_string()).unwrap_or_default()
            } else {
                current
            };
            select(path, &id, &choices, &current)
        }
        Kind::OptChoice(words) => {
            let mut choices = vec![("", "(default)")];
            choices.extend(words.iter().map(|w| (*w, *w)));
            select(path, &id, &choices, &text_of(v))
        }
        Kind::Radio(words) => {
            let current = text_of(v);
            let current = if current.is_empty() {
                words.first().map(|w| w.to_string()).unwrap_or_default()
            } else {
                current
            };
            let mut s = format!(r#"<span class="choices" id="{id}">"#);
            for w in words {
                let checked = if current == *w { " checked" } else { "" };
                s.push_str(&format!(
                    r#"<label><input type="radio" name="{name}" id="{id}-{w}" value="{w}"{checked}> {w}</label>"#
                ));
            }
            s.push_str("</span>");
            s
        }
        Kind::ChoiceSet(words) => {
            let on: Vec<String> = v
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|x| text_of(Some(x))).collect())
                .unwrap_or_default();
            let mut s = format!(r#"<span class="choices" id="{id}">"#);
            for w in words {
                let checked = if on.iter().any(|o| o == w) {
                    " checked"
                } else {
                    ""
                };
                s.push_str(&format!(
                    r#"<label><input type="checkbox" name="{name}" id="{id}-{w}" value="{w}"{checked}> {w}</label>"#
                ));
            }
            s.push_str("</span>");
            s
        }
        Kind::Lines => format!(
            r#"<textarea name="{name}" id="{id}" rows="3">{}</textarea>"#,
            esc(&lines_of(v))
        ),
        // An empty list and no list differ (`allow = []` admits nobody;
        // no `allow` is the side's default): the box says which.
        Kind::OptLines => format!(
            r#"<textarea name="{name}" id="{id}" rows="3">{}</textarea><label class="default"><input type="checkbox" name="{name}._default" id="{id}-default" value="true"{}> the default when empty</label>"#,
            esc(&lines_of(v)),
            if v.is_none() { " checked" } else { "" }
        ),
        Kind::Secret | Kind::OptSecret => format!(
            r#"<input type="password" name="{name}" id="{id}" value="" placeholder="unchanged" autocomplete="new-password">"#
        ),
        Kind::Entries { .. } => String::new(),
    };
    out.push_str(&format!(
        r#"<div class="field"><label for="{id}">{}</label>{input}"#,
        esc(f.key)
    ));
    if !f.help.is_empty() {
        out.push_str(&format!(r#"<span class="help">{}</span>"#, esc(f.help)));
    }
    if let Some((e, m)) = error.filter(|(e, _)| error_belongs(e, path)) {
        out.push_str(&error_p(e, m));
    }
    out.push_str("</div>");
}
