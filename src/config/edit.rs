//! Editing the configuration file in place: a saved configuration changes
//! only the values that changed, so the admin's comments, the order of the
//! sections and the layout of every other line stay as they were.
//!
//! Both configurations are serialised to TOML values and compared key by
//! key; the text is changed through `toml_edit`, which keeps the comments
//! and whitespace around each key (its "decor"). The result is read back
//! and must equal the new configuration, or nothing is returned.

use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, TableLike, Value};

use super::schema::Config;

/// Why a file could not be edited to hold a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("the file is not valid TOML: {0}")]
    NotToml(String),
    #[error("the configuration could not be written as TOML: {0}")]
    Serialize(String),
    #[error("the edited file would not load: {0}")]
    Unreadable(String),
    #[error("the edited file would read as other values than saved in [{0}]")]
    Differs(String),
}

/// `text` edited so that it reads as `new`. `base` is what `text` holds
/// (its keys that differ from `new` are the ones changed).
///
/// - A changed value keeps its key, position and comments.
/// - A key the file lacks is added at the end of its table (a missing
///   section is created) only when its new value differs from what the
///   absent key meant, so defaults the file leaves out stay out.
/// - A key whose field became absent (an option cleared) is removed.
/// - A changed array of tables (`[[listener]]`, `[[account]]`, `[[route]]`)
///   is rebuilt in the new order, where the array was; an entry that stays
///   (found by its `name`, or when renamed by its other fields mostly
///   staying the same) keeps its comments and is edited like a section; a
///   comment paragraph set apart above the first entry stays above the
///   array, or above the next table when the array is emptied.
pub fn edit_toml(text: &str, base: &Config, new: &Config) -> Result<String, EditError> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| EditError::NotToml(e.to_string()))?;
    let base_t = to_table(base)?;
    let new_t = to_table(new)?;
    let default_t = to_table(&Config::default())?;
    let mut orphans = Vec::new();
    let root = doc.as_table_mut();
    for key in keys_of(&new_t, &base_t) {
        let (b, n) = (base_t.get(&key), new_t.get(&key));
        if b == n {
            continue;
        }
        match n {
            Some(toml::Value::Table(nt)) => {
                let empty = toml::Table::new();
                let bt = b.and_then(toml::Value::as_table).unwrap_or(&empty);
                if let Some(section) = section_mut(root, &key) {
                    sync_table(section, bt, nt);
                }
            }
            Some(toml::Value::Array(items)) if items.iter().all(toml::Value::is_table) => {
                let base_entries = b.and_then(toml::Value::as_array).map_or(&[][..], |a| a);
                let default_empty = default_t
                    .get(&key)
                    .and_then(toml::Value::as_array)
                    .is_none_or(|a| a.is_empty());
                rewrite_array(root, &key, base_entries, items, default_empty, &mut orphans);
            }
            Some(v) => set_value(root, &key, v),
            None => {
                if let Some(item @ Item::ArrayOfTables(a)) = root.get(&key) {
                    orphans.extend(heading_comment(a.iter().next()).map(|comment| Orphan {
                        position: min_position(item),
                        comment,
                    }));
                }
                root.remove(&key);
            }
        }
    }
    let order: Vec<String> = new_t.keys().cloned().collect();
    order_tables(&mut doc, &order, orphans);
    let out = doc.to_string();
    let again: Config = toml::from_str(&out).map_err(|e| EditError::Unreadable(e.to_string()))?;
    if &again != new {
        let again_t = to_table(&again)?;
        let section = keys_of(&new_t, &again_t)
            .into_iter()
            .find(|k| new_t.get(k) != again_t.get(k))
            .unwrap_or_default();
        return Err(EditError::Differs(section));
    }
    Ok(out)
}

/// A configuration as TOML values, keyed as in the file.
pub(super) fn to_table(cfg: &Config) -> Result<toml::Table, EditError> {
    match toml::Value::try_from(cfg) {
        Ok(toml::Value::Table(t)) => Ok(t),
        Ok(_) => Err(EditError::Serialize("not a table".into())),
        Err(e) => Err(EditError::Serialize(e.to_string())),
    }
}

/// The keys of `first`, then those only `second` has.
pub(super) fn keys_of(first: &toml::Table, second: &toml::Table) -> Vec<String> {
    let mut keys: Vec<String> = first.keys().cloned().collect();
    keys.extend(second.keys().filter(|k| !first.contains_key(*k)).cloned());
    keys
}

/// The section `key` of the root, created when the file lacks it.
fn section_mut<'a>(root: &'a mut Table, key: &str) -> Option<&'a mut dyn TableLike> {
    if !root.get(key).is_some_and(Item::is_table_like) {
        root.insert(key, Item::Table(Table::new()));
    }
    root.get_mut(key).and_then(Item::as_table_like_mut)
}

/// Makes the keys of `table` (which reads as `base`) read as `new`.
fn sync_table(table: &mut dyn TableLike, base: &toml::Table, new: &toml::Table) {
    for (key, value) in new {
        if base.get(key) == Some(value) {
            continue;
        }
        set_value(table, key, value);
    }
    let stale: Vec<String> = table
        .iter()
        .map(|(k, _)| k.to_string())
        .filter(|k| !new.contains_key(k))
        .collect();
    for key in stale {
        remove_keeping_comment(table, &key);
    }
}

/// Sets `key` to `value`, keeping the spacing and trailing comment of the
/// value it replaces.
fn set_value(table: &mut dyn TableLike, key: &str, value: &toml::Value) {
    let mut v = edit_value(value);
    match table.get_mut(key) {
        Some(Item::Value(old)) => {
            let mut decor = old.decor().clone();
            keep_comment_column(&mut decor, &bare(old), &bare(&v));
            *v.decor_mut() = decor;
            *old = v;
        }
        Some(item) => *item = Item::Value(v),
        None => {
            table.insert(key, Item::Value(v));
        }
    }
}

/// A value as written, without the space and comment around it.
fn bare(v: &Value) -> String {
    let mut v = v.clone();
    v.decor_mut().clear();
    v.to_string()
}

/// Pads or narrows the space before a trailing comment so that it starts
/// in the same column as before (the default file lines its comments up),
/// keeping at least one space.
fn keep_comment_column(decor: &mut toml_edit::Decor, old: &str, new: &str) {
    let Some(suffix) = decor.suffix().and_then(|s| s.as_str()) else {
        return;
    };
    let comment = suffix.trim_start_matches(' ');
    if !comment.starts_with('#') || old.contains('\n') || new.contains('\n') {
        return;
    }
    let spaces = suffix.len() - comment.len();
    let column = old.chars().count() + spaces;
    let pad = column.saturating_sub(new.chars().count()).max(1);
    let suffix = format!("{}{comment}", " ".repeat(pad));
    decor.set_suffix(suffix);
}

/// Removes `key`. The comment paragraph directly above it goes with it;
/// paragraphs set apart by a blank line introduce more than this key and
/// move to the key after it.
fn remove_keeping_comment(table: &mut dyn TableLike, key: &str) {
    let heading = table
        .key(key)
        .and_then(|k| k.leaf_decor().prefix())
        .and_then(|p| p.as_str())
        .and_then(heading_of);
    let next = {
        let keys: Vec<String> = table.iter().map(|(k, _)| k.to_string()).collect();
        keys.iter()
            .position(|k| k == key)
            .and_then(|i| keys.get(i + 1).cloned())
    };
    table.remove(key);
    if let (Some(heading), Some(next)) = (heading, next) {
        if let Some(mut k) = table.key_mut(&next) {
            let decor = k.leaf_decor_mut();
            let own = decor.prefix().and_then(|p| p.as_str()).unwrap_or("");
            let joined = format!("{heading}{own}");
            decor.set_prefix(joined);
        }
    }
}

/// A TOML value as `toml_edit` writes it: arrays of several tables one
/// entry per line, like the default file's examples.
fn edit_value(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::from(s.as_str()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::from(*b),
        toml::Value::Datetime(d) => Value::from(*d),
        toml::Value::Array(items) => {
            let mut array: Array = items.iter().map(edit_value).collect();
            if items.len() > 1 && items.iter().all(toml::Value::is_table) {
                for v in array.iter_mut() {
                    v.decor_mut().set_prefix("\n  ");
                }
                array.set_trailing_comma(true);
                array.set_trailing("\n");
            }
            Value::Array(array)
        }
        toml::Value::Table(t) => {
            let mut inline = InlineTable::new();
            for (k, v) in t {
                inline.insert(k, edit_value(v));
            }
            Value::InlineTable(inline)
        }
    }
}

/// A new `[[...]]` entry or `[...]` section with every key of `t`.
fn fresh_table(t: &toml::Table) -> Table {
    let mut table = Table::new();
    for (k, v) in t {
        table.insert(k, Item::Value(edit_value(v)));
    }
    table
}

/// The comment paragraphs above an entry's header that introduce the
/// array rather than the entry (see `heading_of`).
fn heading_comment(table: Option<&Table>) -> Option<String> {
    heading_of(table?.decor().prefix()?.as_str()?)
}

/// Of the comment lines above a header or key, the paragraphs separated
/// from it by a blank line: the paragraph directly above is that header's
/// or key's own.
fn heading_of(prefix: &str) -> Option<String> {
    let lines: Vec<&str> = prefix.split_inclusive('\n').collect();
    // Indentation before the header is not a line of its own.
    let mut i = lines.len() - usize::from(lines.last().is_some_and(|l| !l.ends_with('\n')));
    while i > 0 && !lines[i - 1].trim().is_empty() {
        i -= 1;
    }
    let heading = lines[..i].concat();
    heading.contains('#').then_some(heading)
}

/// Puts comment paragraphs above a table's header, a blank line apart
/// from the table's own comment.
fn prepend_comment(table: &mut Table, comment: &str) {
    let own = table
        .decor()
        .prefix()
        .and_then(|p| p.as_str())
        .unwrap_or("")
        .trim_start_matches('\n')
        .to_owned();
    let comment = comment.trim_end_matches('\n');
    table.decor_mut().set_prefix(format!("{comment}\n\n{own}"));
}

fn entry_name(t: &Table) -> Option<&str> {
    t.get("name").and_then(Item::as_str)
}

/// Which old entry each new entry continues: the one of the same name;
/// else, for a renamed entry, the unclaimed old one (whose name is gone)
/// with more of its other fields the same than different.
fn match_entries(
    old_names: &[Option<String>],
    old_base: &[Option<&toml::Table>],
    new: &[&toml::Table],
) -> Vec<Option<usize>> {
    let new_names: Vec<Option<&str>> = new
        .iter()
        .map(|t| t.get("name").and_then(toml::Value::as_str))
        .collect();
    let mut taken = vec![false; old_names.len()];
    let mut out = vec![None; new.len()];
    for (j, name) in new_names.iter().enumerate() {
        let found = (0..old_names.len())
            .find(|&i| !taken[i] && name.is_some() && old_names[i].as_deref() == *name);
        if let Some(i) = found {
            taken[i] = true;
            out[j] = Some(i);
        }
    }
    for j in 0..new.len() {
        if out[j].is_some() {
            continue;
        }
        let gone = |i: usize| {
            old_names[i]
                .as_deref()
                .is_none_or(|n| !new_names.contains(&Some(n)))
        };
        let best = (0..old_names.len())
            .filter(|&i| !taken[i] && gone(i))
            .filter_map(|i| {
                let (same, differ) = likeness(old_base[i]?, new[j]);
                (same > differ).then_some((same, std::cmp::Reverse(i)))
            })
            .max();
        if let Some((_, std::cmp::Reverse(i))) = best {
            taken[i] = true;
            out[j] = Some(i);
        }
    }
    out
}

/// How many fields other than `name` two entries have the same, and how
/// many differ.
fn likeness(a: &toml::Table, b: &toml::Table) -> (usize, usize) {
    keys_of(a, b)
        .iter()
        .filter(|k| k.as_str() != "name")
        .fold((0, 0), |(same, differ), k| {
            if a.get(k) == b.get(k) {
                (same + 1, differ)
            } else {
                (same, differ + 1)
            }
        })
}

/// Rebuilds the array of tables `key` to hold `items`.
fn rewrite_array(
    root: &mut Table,
    key: &str,
    base: &[toml::Value],
    items: &[toml::Value],
    default_empty: bool,
    orphans: &mut Vec<Orphan>,
) {
    let old = root
        .get_mut(key)
        .map(|item| std::mem::replace(item, Item::None));
    let position = old.as_ref().and_then(min_position);
    let mut old_tables: Vec<Option<Table>> = match old {
        Some(Item::ArrayOfTables(a)) => a.into_iter().map(Some).collect(),
        _ => Vec::new(),
    };
    let heading = heading_comment(old_tables.first().and_then(Option::as_ref));
    if items.is_empty() {
        orphans.extend(heading.map(|comment| Orphan { position, comment }));
        if default_empty {
            root.remove(key);
        } else {
            root.insert(key, Item::Value(Value::Array(Array::new())));
        }
        return;
    }
    let old_names: Vec<Option<String>> = old_tables
        .iter()
        .map(|t| t.as_ref().and_then(entry_name).map(str::to_owned))
        .collect();
    // What each old entry reads as, when `base` says it (it does when the
    // file was read into `base`).
    let old_base: Vec<Option<&toml::Table>> = (0..old_tables.len())
        .map(|i| {
            base.get(i)
                .and_then(toml::Value::as_table)
                .filter(|b| b.get("name").and_then(toml::Value::as_str) == old_names[i].as_deref())
        })
        .collect();
    let new_entries: Vec<&toml::Table> = items.iter().filter_map(toml::Value::as_table).collect();
    let matched = match_entries(&old_names, &old_base, &new_entries);
    let empty = toml::Table::new();
    let mut array = ArrayOfTables::new();
    for (new_entry, old) in new_entries.iter().zip(matched.iter().copied()) {
        match old.and_then(|i| Some((i, old_tables[i].take()?))) {
            Some((i, mut table)) => {
                sync_table(&mut table, old_base[i].unwrap_or(&empty), new_entry);
                array.push(table);
            }
            None => array.push(fresh_table(new_entry)),
        }
    }
    // The heading paragraphs stay at the top of the array: the old first
    // entry, kept elsewhere or removed, gives them to the new first.
    if matched.first().copied().flatten() != Some(0) {
        if let Some(comment) = &heading {
            let kept_at = matched.iter().position(|m| *m == Some(0));
            if let Some(t) = kept_at.and_then(|j| array.get_mut(j)) {
                strip_heading(t, comment);
            }
            if let Some(first) = array.get_mut(0) {
                prepend_comment(first, comment);
            }
        }
    }
    // An array of new entries only stays where the old one was.
    if let (Some(p), Some(first)) = (position, array.get_mut(0)) {
        if first.position().is_none() {
            first.set_position(p);
        }
    }
    let slot = root.entry(key).or_insert(Item::None);
    *slot = Item::ArrayOfTables(array);
}

/// Removes the heading paragraphs from the entry that had them.
fn strip_heading(table: &mut Table, heading: &str) {
    let prefix = table
        .decor()
        .prefix()
        .and_then(|p| p.as_str())
        .unwrap_or("");
    if let Some(rest) = prefix.strip_prefix(heading) {
        let rest = format!("\n{}", rest.trim_start_matches('\n'));
        table.decor_mut().set_prefix(rest);
    }
}

/// The lowest place in the file of the tables under `item`.
fn min_position(item: &Item) -> Option<usize> {
    match item {
        Item::Table(t) => table_min_position(t),
        Item::ArrayOfTables(a) => a.iter().filter_map(table_min_position).min(),
        _ => None,
    }
}

fn table_min_position(t: &Table) -> Option<usize> {
    let own = if t.is_dotted() { None } else { t.position() };
    t.iter()
        .filter_map(|(_, i)| min_position(i))
        .chain(own)
        .min()
}

/// Numbers the tables in file order: each top-level key's tables as one
/// block, where its first table was; a key the file did not have goes
/// after the nearest key before it in `order` (the configuration's own
/// order) that the file has.
fn order_tables(doc: &mut DocumentMut, order: &[String], orphans: Vec<Orphan>) {
    for orphan in orphans {
        attach_orphan(doc, orphan);
    }
    let root = doc.as_table_mut();
    let ranks: Vec<(String, Option<usize>)> = root
        .iter()
        .filter(|(_, i)| i.is_table() || i.is_array_of_tables())
        .map(|(k, i)| (k.to_string(), min_position(i)))
        .collect();
    let rank_of = |k: &str| ranks.iter().find(|(n, _)| n == k).and_then(|(_, r)| *r);
    let mut keyed: Vec<(SortKey, String)> = ranks
        .iter()
        .map(|(k, r)| {
            let idx = order.iter().position(|o| o == k).unwrap_or(usize::MAX);
            let sort = match r {
                Some(r) => (Some(*r), 0, 0),
                None => {
                    let anchor = order[..idx.min(order.len())]
                        .iter()
                        .rev()
                        .find_map(|o| rank_of(o));
                    (anchor, 1, idx)
                }
            };
            (sort, k.clone())
        })
        .collect();
    keyed.sort();
    root.set_position(0);
    let mut next = 1;
    for (_, key) in &keyed {
        if let Some(item) = root.get_mut(key) {
            number(item, &mut next);
        }
    }
}

/// Where a top-level key's tables go: its first table's old place (or
/// that of the key it follows), 0 for a key that was there and 1 for a
/// new one, then the new key's place in the configuration's order.
type SortKey = (Option<usize>, u8, usize);

/// The comment above an array of tables that was emptied, and where the
/// array began.
struct Orphan {
    position: Option<usize>,
    comment: String,
}

/// Puts an emptied array's comment above the table that followed the
/// array, or at the end of the file when none did.
fn attach_orphan(doc: &mut DocumentMut, orphan: Orphan) {
    let after = orphan.position.unwrap_or(usize::MAX);
    let mut next: Option<(usize, String, usize)> = None;
    for (key, item) in doc.iter() {
        let tables: Vec<&Table> = match item {
            Item::Table(t) => vec![t],
            Item::ArrayOfTables(a) => a.iter().collect(),
            _ => Vec::new(),
        };
        for (i, t) in tables.into_iter().enumerate() {
            if let Some(p) = t.position() {
                if p > after && next.as_ref().is_none_or(|(q, _, _)| p < *q) {
                    next = Some((p, key.to_string(), i));
                }
            }
        }
    }
    let target = next.and_then(|(_, key, i)| match doc.get_mut(&key)? {
        Item::Table(t) => Some(t),
        Item::ArrayOfTables(a) => a.get_mut(i),
        _ => None,
    });
    match target {
        Some(t) => prepend_comment(t, &orphan.comment),
        None => {
            let trailing = doc.trailing().as_str().unwrap_or("").to_owned();
            doc.set_trailing(format!("{trailing}{}", orphan.comment));
        }
    }
}

fn number(item: &mut Item, next: &mut usize) {
    match item {
        Item::Table(t) => number_table(t, next),
        Item::ArrayOfTables(a) => {
            for t in a.iter_mut() {
                number_table(t, next);
            }
        }
        _ => {}
    }
}

fn number_table(t: &mut Table, next: &mut usize) {
    if !t.is_dotted() {
        t.set_position(*next);
        *next += 1;
    }
    for (_, child) in t.iter_mut() {
        number(child, next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::sample::every_field_set;
    use crate::config::{changed_sections, DEFAULT_CONFIG_TOML};

    fn read(text: &str) -> Config {
        toml::from_str(text).unwrap()
    }

    /// `new` saved into `text`: checked to read back as `new`.
    fn edited(text: &str, new: &Config) -> String {
        let out = match edit_toml(text, &read(text), new) {
            Ok(out) => out,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(&read(&out), new, "{out}");
        out
    }

    /// Every comment of `before` (whole-line or after a value) is still in
    /// `after`, in the same order.
    fn assert_comments_kept(before: &str, after: &str) {
        let mut rest = after;
        for line in before.lines() {
            if let Some(at) = line.find('#') {
                let comment = &line[at..];
                match rest.find(comment) {
                    Some(i) => rest = &rest[i + comment.len()..],
                    None => panic!("comment lost or moved: {comment}\n{after}"),
                }
            }
        }
    }

    #[test]
    fn an_unchanged_configuration_leaves_the_text_as_it_is() {
        assert_eq!(
            edited(DEFAULT_CONFIG_TOML, &read(DEFAULT_CONFIG_TOML)),
            DEFAULT_CONFIG_TOML
        );
        let odd = "# mine\n[log]   # the log\nlevel='debug'\n\n\n[sip]\nt1_ms=600 # fast\n";
        assert_eq!(edited(odd, &read(odd)), odd);
    }

    /// One edit per section, each into the commented default file; the
    /// list must cover every section the configuration has.
    #[test]
    fn each_section_saved_into_the_default_file_reads_back_with_every_comment() {
        let s = every_field_set();
        type Edit<'a> = Box<dyn Fn(&mut Config) + 'a>;
        let edits: Vec<(&str, Edit)> = vec![
            ("sip", Box::new(|c| c.sip.t1_ms = 600)),
            ("sip", Box::new(|c| c.sip = s.sip.clone())),
            ("listener", Box::new(|c| c.listeners[0].rate_per_s = 150)),
            (
                "listener",
                Box::new(|c| c.listeners[1].allow = Some(vec!["10.1.0.0/16".into()])),
            ),
            ("listener", Box::new(|c| c.listeners = s.listeners.clone())),
            ("account", Box::new(|c| c.accounts = s.accounts.clone())),
            (
                "inbound_auth",
                Box::new(|c| c.inbound_auth = s.inbound_auth.clone()),
            ),
            ("calls", Box::new(|c| c.calls.max_concurrent = 20)),
            ("calls", Box::new(|c| c.calls = s.calls.clone())),
            ("media", Box::new(|c| c.media.threads = 2)),
            ("media", Box::new(|c| c.media = s.media.clone())),
            ("route", Box::new(|c| c.routes = s.routes.clone())),
            ("emergency", Box::new(|c| c.emergency = s.emergency.clone())),
            ("dns", Box::new(|c| c.dns = s.dns.clone())),
            ("log", Box::new(|c| c.log.level = "debug".into())),
            ("history", Box::new(|c| c.history.max_calls = 10)),
            ("history", Box::new(|c| c.history = s.history.clone())),
            ("web", Box::new(|c| c.web.login_failures = 3)),
            ("web", Box::new(|c| c.web = s.web.clone())),
            ("tls", Box::new(|c| c.tls = s.tls.clone())),
            ("webhook", Box::new(|c| c.webhooks = s.webhooks.clone())),
            ("events", Box::new(|c| c.events.max_events = 1000)),
            ("events", Box::new(|c| c.events = s.events.clone())),
            ("mqtt", Box::new(|c| c.mqtt = s.mqtt.clone())),
            ("system", Box::new(|c| c.system = s.system.clone())),
            ("line", Box::new(|c| c.lines = s.lines.clone())),
            ("update", Box::new(|c| c.update = s.update.clone())),
            ("network", Box::new(|c| c.network = s.network.clone())),
        ];
        let base = read(DEFAULT_CONFIG_TOML);
        let mut covered: Vec<String> = Vec::new();
        for (section, edit) in &edits {
            let mut new = base.clone();
            edit(&mut new);
            // The listener edits and the account need each other's names
            // and users; the sample as a whole is valid.
            let changed = changed_sections(&base, &new);
            assert_eq!(changed, vec![section.to_string()], "{section}");
            covered.extend(changed);
            let out = edited(DEFAULT_CONFIG_TOML, &new);
            assert_comments_kept(DEFAULT_CONFIG_TOML, &out);
        }
        let all = changed_sections(&Config::default(), &s);
        for section in &all {
            assert!(
                covered.contains(section),
                "no edit of [{section}] is tested"
            );
        }
        // And everything at once.
        let out = edited(DEFAULT_CONFIG_TOML, &s);
        assert_comments_kept(DEFAULT_CONFIG_TOML, &out);
    }

    #[test]
    fn a_changed_value_keeps_its_line_and_its_comment() {
        let mut new = read(DEFAULT_CONFIG_TOML);
        new.listeners[0].rate_per_s = 150;
        new.media.threads = 12;
        let out = edited(DEFAULT_CONFIG_TOML, &new);
        let (before, after): (Vec<&str>, Vec<&str>) =
            (DEFAULT_CONFIG_TOML.lines().collect(), out.lines().collect());
        assert_eq!(before.len(), after.len());
        let changed: Vec<(&str, &str)> = before
            .iter()
            .zip(&after)
            .filter(|(b, a)| b != a)
            .map(|(b, a)| (*b, *a))
            .collect();
        assert_eq!(changed.len(), 2, "{changed:?}");
        for ((b, a), value) in changed.iter().zip(["rate_per_s = 150 ", "threads = 12 "]) {
            assert!(a.starts_with(value), "{a}");
            // The same comment, in the same column.
            assert_eq!(b.find('#'), a.find('#'), "{b}\n{a}");
            assert_eq!(b[b.find('#').unwrap()..], a[a.find('#').unwrap()..]);
        }
    }

    #[test]
    fn defaults_the_file_leaves_out_stay_out() {
        let text = "[sip]\nt1_ms = 600\n";
        let mut new = read(text);
        new.log.level = "debug".into();
        new.calls.retry_after_s = 9;
        assert_eq!(
            edited(text, &new),
            "[sip]\nt1_ms = 600\n\n[calls]\nretry_after_s = 9\n\n[log]\nlevel = \"debug\"\n"
        );
        // A key set back to its default stays, with its new value.
        let mut back = read(text);
        back.sip.t1_ms = 500;
        assert_eq!(edited(text, &back), "[sip]\nt1_ms = 500\n");
    }

    #[test]
    fn a_cleared_option_is_removed_with_its_own_comment_but_not_the_heading_above() {
        let text = "[[listener]]\nname = \"wan\"\nside = \"wan\"\nbind = \"0.0.0.0:5060\"\n\n\
                    # Admission.\n\n# only the platform\nallow = [\"203.0.113.0/24\"]\nburst = 10\n\n\
                    [emergency]\nroute = \"psap\"   # the PSAP trunk\n";
        let mut new = read(text);
        new.listeners[0].allow = None;
        new.emergency.route = None;
        let out = edited(text, &new);
        assert_eq!(
            out,
            "[[listener]]\nname = \"wan\"\nside = \"wan\"\nbind = \"0.0.0.0:5060\"\n\n\
             # Admission.\n\nburst = 10\n\n[emergency]\n"
        );
    }

    const ROUTES: &str = r#"[sip]
t1_ms = 500

# Routes, first match wins.

# publisher A
[[route]]
name = "a"
targets = [{ uri = "sip:a@10.0.0.1" }]

# publisher B: the big one
[[route]]
name = "b"
targets = [{ uri = "sip:b@10.0.0.2" }]   # queue 2

# catch-all
[[route]]
name = "c"
targets = [{ uri = "sip:c@10.0.0.3" }]

# the end
[log]
level = "info"
"#;

    fn route(name: &str, uri: &str) -> crate::config::RouteConfig {
        read(&format!(
            "[[route]]\nname = \"{name}\"\ntargets = [{{ uri = \"{uri}\" }}]\n"
        ))
        .routes
        .remove(0)
    }

    #[test]
    fn entries_of_an_array_that_stay_keep_their_comments() {
        let mut new = read(ROUTES);
        // a removed, b's target changed, c renamed in place, d added.
        new.routes.remove(0);
        new.routes[0].targets[0].uri = "sip:b@10.0.0.20".into();
        new.routes[1].name = "catch-all".into();
        new.routes.push(route("d", "sip:d@10.0.0.4"));
        let out = edited(ROUTES, &new);
        assert!(!out.contains("publisher A"), "{out}");
        for kept in [
            "# Routes, first match wins.",
            "# publisher B: the big one\n[[route]]\nname = \"b\"",
            "targets = [{ uri = \"sip:b@10.0.0.20\" }]  # queue 2",
            "# catch-all\n[[route]]\nname = \"catch-all\"",
            "# the end\n[log]",
        ] {
            assert!(out.contains(kept), "{kept}\n{out}");
        }
        // The new entry comes after the kept ones, before [log].
        let d = out.find("name = \"d\"").unwrap();
        assert!(out.find("catch-all").unwrap() < d && d < out.find("[log]").unwrap());
    }

    #[test]
    fn reordered_entries_read_back_in_the_new_order() {
        let mut new = read(ROUTES);
        new.routes.reverse();
        let out = edited(ROUTES, &new);
        let at = |s: &str| out.find(s).unwrap();
        assert!(at("name = \"c\"") < at("name = \"b\"") && at("name = \"b\"") < at("name = \"a\""));
        assert!(
            out.contains("# catch-all\n[[route]]\nname = \"c\""),
            "{out}"
        );
        assert!(at("[sip]") < at("name = \"c\"") && at("name = \"a\"") < at("[log]"));
    }

    #[test]
    fn an_array_replaced_whole_stays_where_it_was_under_its_heading() {
        // The routes last, after [log]: not where a new array would go.
        let text = "[log]\nlevel = \"info\"\n\n# Routes.\n\n# a\n[[route]]\nname = \"a\"\n\
                    targets = [{ uri = \"sip:a@10.0.0.1\" }]\n";
        let mut new = read(text);
        new.routes = vec![route("x", "sip:x@192.168.1.9")];
        let out = edited(text, &new);
        assert!(
            out.contains("# Routes.\n\n[[route]]\nname = \"x\""),
            "{out}"
        );
        assert!(!out.contains("# a"), "{out}");
        assert!(out.find("[log]").unwrap() < out.find("[[route]]").unwrap());
    }

    #[test]
    fn an_emptied_array_leaves_its_comment_above_the_table_after_it() {
        let mut new = read(ROUTES);
        new.routes.clear();
        let out = edited(ROUTES, &new);
        assert!(!out.contains("[[route]]"), "{out}");
        assert!(out.contains("# Routes, first match wins."), "{out}");
        assert!(out.find("# Routes").unwrap() < out.find("[log]").unwrap());
    }

    #[test]
    fn a_new_array_goes_after_the_section_before_it_in_the_configuration() {
        let mut new = read(DEFAULT_CONFIG_TOML);
        new.accounts = every_field_set().accounts;
        new.accounts[0].listener = "wan".into();
        new.routes = vec![route("all", "sip:q@192.168.1.10")];
        let out = edited(DEFAULT_CONFIG_TOML, &new);
        let at = |s: &str| out.find(s).unwrap();
        assert!(
            at("name = \"lan\"") < at("\n[[account]]")
                && at("\n[[account]]") < at("\n[inbound_auth]")
        );
        assert!(at("\n[media]") < at("\n[[route]]") && at("\n[[route]]") < at("\n[dns]"));
    }

    #[test]
    fn text_that_is_not_toml_is_refused() {
        let e = edit_toml("[sip\n", &Config::default(), &Config::default()).unwrap_err();
        assert!(matches!(e, EditError::NotToml(_)), "{e}");
    }
}
