//! Surgical edits of a values file (pure): set or remove key paths and
//! change nothing else. Comments, key order, quoting, blank lines and the
//! style of every collection (block stays block, flow stays flow) outside
//! the edited spans stay byte for byte. A comment that was on a replaced
//! or removed line goes with it, and is reported.

use crate::source::FileId;
use crate::values::yaml::{self, Node, Value as Y};
use serde_json::Value;
use std::ops::Range;

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("`{path}`: {message}")]
    Unsupported { path: String, message: String },
    #[error("the edited file does not parse: {0}")]
    Broken(String),
}

/// One step of a path into a values file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Seg {
    Key(String),
    /// An entry of a list (only existing entries are edited through).
    Index(usize),
}

/// A path of map keys.
pub fn keys<S: AsRef<str>>(path: &[S]) -> Vec<Seg> {
    path.iter()
        .map(|k| Seg::Key(k.as_ref().to_owned()))
        .collect()
}

pub fn dotted(path: &[Seg]) -> String {
    path.iter()
        .map(|s| match s {
            Seg::Key(k) => k.clone(),
            Seg::Index(i) => format!("[{i}]"),
        })
        .collect::<Vec<_>>()
        .join(".")
        .replace(".[", "[")
}

#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Set(Value),
    /// Delete the key; a mapping it leaves empty is deleted too (an empty
    /// `prod:` would be `null`, which deletes a key when merged).
    Remove,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub path: Vec<Seg>,
    pub op: Op,
}

/// A comment that was on a replaced or removed line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// 1-based, in the file as it was before the edit that dropped it.
    pub line: usize,
    pub comment: String,
}

#[derive(Debug)]
pub struct Edited {
    pub text: String,
    pub dropped: Vec<Dropped>,
}

/// One replacement of a byte range.
#[derive(Debug)]
struct Splice {
    range: Range<usize>,
    text: String,
}

/// Applies `changes` to `text`. Each change edits as little text as
/// possible; changes that touch the same spot are applied one after the
/// other. The result is verified: it parses, and its values are the old
/// ones with exactly these changes made.
pub fn apply(text: &str, changes: &[Change]) -> Result<Edited, EditError> {
    // CRLF files are edited as LF and written back with CRLF, so inserted
    // lines end like the others.
    // (Only when every line ends so: a file with mixed endings is edited
    // as it is.)
    if text.contains("\r\n") && text.matches('\n').count() == text.matches("\r\n").count() {
        let edited = apply(&text.replace("\r\n", "\n"), changes)?;
        return Ok(Edited {
            text: edited.text.replace('\n', "\r\n"),
            dropped: edited.dropped,
        });
    }
    let parse = |t: &str| yaml::parse(FileId(0), t).map_err(|d| EditError::Broken(d.message));
    let original = parse(text)?;
    let mut expected = original.to_json();
    for change in changes {
        apply_json(&mut expected, change);
    }
    for change in changes.iter().filter(|c| c.op == Op::Remove) {
        prune(&mut expected, &change.path);
    }

    let mut current = text.to_owned();
    let mut dropped = Vec::new();
    let mut pending: Vec<usize> = (0..changes.len()).collect();
    let mut root = original;
    while !pending.is_empty() {
        let mut planned: Vec<Splice> = Vec::new();
        let mut later = Vec::new();
        // The values with this round's changes made so far: where a removal
        // really deletes depends on what is left beside it.
        let mut state = root.to_json();
        for index in pending {
            let change = &changes[index];
            let change = match &change.op {
                Op::Remove => &Change {
                    path: removal_path(&state, &change.path),
                    op: Op::Remove,
                },
                Op::Set(_) => change,
            };
            let (splices, lost) = edit(&current, &root, change)?;
            // Edits that meet wait for the next round: a key inserted
            // where a removed block ended belongs to the text after it.
            let clash = splices
                .iter()
                .any(|s| planned.iter().any(|p| touches(&p.range, &s.range)));
            if clash {
                later.push(index);
                continue;
            }
            apply_json(&mut state, change);
            planned.extend(splices);
            dropped.extend(lost);
        }
        if planned.is_empty() && !later.is_empty() {
            return Err(EditError::Broken("edits that overlap themselves".into()));
        }
        planned.sort_by_key(|s| std::cmp::Reverse(s.range.start));
        for splice in planned {
            current.replace_range(splice.range, &splice.text);
        }
        pending = later;
        root = parse(&current)?;
    }
    // Never hand back a file that does not say exactly what was asked.
    if root.to_json() != expected {
        return Err(EditError::Broken(
            "the edit would change more than the keys asked for (values shared through anchors?)"
                .into(),
        ));
    }
    Ok(Edited {
        text: current,
        dropped,
    })
}

fn touches(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start <= b.end && b.start <= a.end
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start == b.start || (a.start < b.end && b.start < a.end)
}

/// Deletes the mappings a removal left empty, up to (not including) the
/// root or a list entry.
fn prune(root: &mut Value, path: &[Seg]) {
    for k in (1..path.len()).rev() {
        if !matches!(path[k - 1], Seg::Key(_)) {
            return;
        }
        let empty = matches!(get_json(root, &path[..k]), Some(Value::Object(m)) if m.is_empty());
        if !empty {
            return;
        }
        apply_json(
            root,
            &Change {
                path: path[..k].to_vec(),
                op: Op::Remove,
            },
        );
    }
}

/// Where a removal really deletes: a mapping left empty goes too, up to
/// (not including) the root or a list entry.
fn removal_path(root: &Value, path: &[Seg]) -> Vec<Seg> {
    let mut path = path.to_vec();
    while path.len() > 1 && matches!(path[path.len() - 2], Seg::Key(_)) {
        match get_json(root, &path[..path.len() - 1]) {
            Some(Value::Object(map)) if map.len() == 1 => {
                path.pop();
            }
            _ => break,
        }
    }
    path
}

pub fn get_json<'a>(root: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    path.iter().try_fold(root, |node, seg| match seg {
        Seg::Key(k) => node.get(k.as_str()),
        Seg::Index(i) => node.get(*i),
    })
}

/// The change made to a JSON tree, as the text edit makes it.
pub fn apply_json(root: &mut Value, change: &Change) {
    let Some((last, parents)) = change.path.split_last() else {
        return;
    };
    let mut node = root;
    for seg in parents {
        node = match seg {
            Seg::Key(k) => {
                if !node.is_object() {
                    if matches!(change.op, Op::Remove) {
                        return;
                    }
                    *node = Value::Object(Default::default());
                }
                let map = node.as_object_mut().expect("just made an object");
                if matches!(change.op, Op::Remove) && !map.contains_key(k) {
                    return;
                }
                map.entry(k.clone())
                    .or_insert(Value::Object(Default::default()))
            }
            Seg::Index(i) => match node.get_mut(*i) {
                Some(n) => n,
                None => return,
            },
        };
    }
    match (last, &change.op) {
        (Seg::Key(k), Op::Set(v)) => {
            if !node.is_object() {
                *node = Value::Object(Default::default());
            }
            node.as_object_mut()
                .expect("an object")
                .insert(k.clone(), v.clone());
        }
        (Seg::Key(k), Op::Remove) => {
            if let Some(map) = node.as_object_mut() {
                map.shift_remove(k);
            }
        }
        (Seg::Index(i), Op::Set(v)) => {
            if let Some(n) = node.get_mut(*i) {
                *n = v.clone();
            }
        }
        (Seg::Index(_), Op::Remove) => {}
    }
}

/// The end of a block scalar's own text. Its span runs on to the next
/// token: the indentation of the next line, and blank and comment lines
/// less indented than its content, are not part of it.
fn block_scalar_end(text: &str, node: &Node) -> usize {
    let start = node.span.start as usize;
    let mut end = (node.span.end as usize).min(text.len());
    // The span starts at the `|`/`>` header, or at the text below it.
    let first = if text[start..].starts_with(['|', '>']) {
        match text[start..end].find('\n') {
            Some(i) => start + i + 1,
            None => return end,
        }
    } else {
        line_start(text, start)
    };
    // The next token's indentation.
    if let Some(nl) = text[first - 1..end].rfind('\n').map(|i| first - 1 + i + 1)
        && text[nl..end].trim().is_empty()
    {
        end = nl;
    }
    let indent = |line: &str| line.len() - line.trim_start_matches(' ').len();
    let content = indent(text[first..line_end(text, first)].trim_end_matches('\n'));
    while end > first {
        let begin = line_start(text, end - 1);
        if begin < first {
            break;
        }
        let line = &text[begin..end - 1];
        let trimmed = line.trim();
        if trimmed.is_empty() || (trimmed.starts_with('#') && indent(line) < content) {
            end = begin;
        } else {
            break;
        }
    }
    end
}

/// Whether a text node is a block scalar: its span starts at a `|` or `>`
/// header, or just below one.
fn is_block_scalar(text: &str, node: &Node) -> bool {
    let start = node.span.start as usize;
    if text[start..].starts_with(['|', '>']) {
        return true;
    }
    let before = text[..start].trim_end();
    let header = before.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '+');
    header.ends_with(['|', '>']) && before.len() - header.len() <= 2
}

/// The end of a node's text: the furthest span of it or its children.
fn subtree_end_in(text: &str, node: &Node) -> usize {
    match &node.value {
        Y::String(_) if is_block_scalar(text, node) => block_scalar_end(text, node),
        Y::Map(entries) => entries
            .iter()
            .map(|e| (e.key_span.end as usize).max(subtree_end_in(text, &e.value)))
            .max()
            .unwrap_or(node.span.end as usize)
            .max(node.span.end as usize),
        Y::Seq(items) => items
            .iter()
            .map(|i| subtree_end_in(text, i))
            .max()
            .unwrap_or(node.span.end as usize)
            .max(node.span.end as usize),
        _ => node.span.end as usize,
    }
}

/// Past the newline that ends the line `at` is on.
fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |i| at + i + 1)
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

fn column(text: &str, at: usize) -> usize {
    text[line_start(text, at)..at].chars().count()
}

fn line_number(text: &str, at: usize) -> usize {
    text[..at].matches('\n').count() + 1
}

/// The end of the last line of a node's text, past its newline.
fn block_end(text: &str, node: &Node) -> usize {
    let end = subtree_end_in(text, node);
    // A block scalar's text already ends with its newline.
    if end > 0 && text[..end].ends_with('\n') {
        end
    } else {
        line_end(text, end)
    }
}

/// The end (past the closing bracket) of the flow collection opening at
/// `start`, skipping quoted text.
fn flow_end(text: &str, start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in text[start..].char_indices() {
        match (quote, c) {
            (Some('"'), '\\') if !escaped => escaped = true,
            (Some(q), c) if c == q && !escaped => quote = None,
            (Some(_), _) => escaped = false,
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(start + i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

fn is_flow(text: &str, node: &Node) -> bool {
    matches!(node.value, Y::Map(_) | Y::Seq(_))
        && text[node.span.start as usize..].starts_with(['{', '['])
}

/// Where a comment starts on a line: a `#` at the start or after a blank,
/// outside quotes.
fn comment_start(line: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some('"'), '\\') if !escaped => {
                escaped = true;
                previous = c;
                continue;
            }
            (Some(q), c) if c == q && !escaped => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') if previous == ' ' || previous == '-' || previous == ':' => {
                quote = Some(c)
            }
            (None, '#') if previous == ' ' || previous == '\t' => return Some(i),
            _ => {}
        }
        escaped = false;
        previous = c;
    }
    None
}

/// The comments on the lines of `range` (which starts at a line start, or
/// inside a line whose comment then counts when it lies in the range).
fn comments_in(text: &str, range: Range<usize>) -> Vec<Dropped> {
    let mut found = Vec::new();
    let mut at = line_start(text, range.start);
    while at < range.end.min(text.len()) {
        let end = line_end(text, at);
        let line = text[at..end].trim_end_matches('\n');
        if let Some(i) = comment_start(line)
            && at + i >= range.start
            && at + i < range.end
        {
            found.push(Dropped {
                line: line_number(text, at),
                comment: line[i..].trim_end().to_owned(),
            });
        }
        at = end;
    }
    found
}

/// A trailing comment after `at` on its line: its end (before the newline).
fn trailing_comment(text: &str, at: usize) -> Option<usize> {
    let end = line_end(text, at);
    let rest = text[at..end].trim_end_matches('\n');
    rest.trim_start()
        .starts_with('#')
        .then(|| at + rest.trim_end().len())
}

/// A key or scalar as YAML.
fn scalar(value: &Value) -> String {
    crate::values::print::scalar(value)
}

fn key(k: &str) -> String {
    scalar(&Value::String(k.to_owned()))
}

fn is_collection(value: &Value) -> bool {
    match value {
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
        _ => false,
    }
}

/// A value on one line: a scalar, or a flow collection written as JSON
/// with spaces (JSON is valid YAML, and cannot break out of its line).
fn inline(value: &Value) -> String {
    let json = |v: &Value| serde_json::to_string(v).expect("JSON values serialize");
    match value {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(json).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", json(&Value::String(k.clone())), json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => scalar(other),
    }
}

/// What follows `key:`: ` scalar\n`, or a newline and the block lines.
fn after_colon(value: &Value, indent: usize) -> String {
    if is_collection(value) {
        let mut out = String::from("\n");
        block(value, indent, &mut out);
        out
    } else {
        format!(" {}\n", inline(value))
    }
}

/// A non-empty mapping or list in block style, each line indented.
fn block(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.push_str(&format!("{pad}{}:{}", key(k), after_colon(v, indent + 2)));
            }
        }
        Value::Array(items) => {
            for item in items {
                out.push_str(&pad);
                out.push_str("- ");
                out.push_str(&item_text(item, indent + 2));
            }
        }
        _ => out.push_str(&format!("{pad}{}\n", inline(value))),
    }
}

/// A list item's text after `- `, its further lines indented.
fn item_text(value: &Value, indent: usize) -> String {
    match value {
        Value::Object(map) if !map.is_empty() => {
            let mut out = String::new();
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(&" ".repeat(indent));
                }
                out.push_str(&format!("{}:{}", key(k), after_colon(v, indent + 2)));
            }
            out
        }
        other => format!("{}\n", inline(other)),
    }
}

fn unsupported(path: &[Seg], message: &str) -> EditError {
    EditError::Unsupported {
        path: dotted(path),
        message: message.to_owned(),
    }
}

/// The splices one change needs in `text` (parsed as `root`), and the
/// comments they drop.
fn edit(
    text: &str,
    root: &Node,
    change: &Change,
) -> Result<(Vec<Splice>, Vec<Dropped>), EditError> {
    let path = &change.path;
    let mut node = root;
    // The column of the key whose value `node` is, and where that key ends.
    let mut key_column: Option<usize> = None;
    let mut key_end = 0usize;
    for (i, seg) in path.iter().enumerate() {
        if is_flow(text, node) {
            return flow(text, node, &path[i..], &change.op, path);
        }
        let last = i + 1 == path.len();
        match seg {
            Seg::Index(n) => {
                let Y::Seq(items) = &node.value else {
                    return Err(unsupported(path, "a parent is not a list"));
                };
                let Some(item) = items.get(*n) else {
                    return Err(unsupported(path, "no such list entry"));
                };
                if last {
                    return Err(unsupported(path, "a list entry as a whole"));
                }
                key_column = Some(column(text, item.span.start as usize));
                key_end = item.span.start as usize;
                node = item;
            }
            Seg::Key(k) => {
                let entries = match &node.value {
                    Y::Map(entries) => entries.as_slice(),
                    Y::Null => &[],
                    _ => return Err(unsupported(path, "a parent is not a mapping")),
                };
                match (entries.iter().find(|e| e.key == *k), &change.op) {
                    (Some(entry), Op::Remove) if last => {
                        return remove(text, node, entry, path);
                    }
                    (Some(entry), Op::Set(value)) if last => {
                        return replace(text, entry, value, path);
                    }
                    (Some(entry), _) => {
                        key_column = Some(column(text, entry.key_span.start as usize));
                        key_end = entry.key_span.end as usize;
                        node = &entry.value;
                    }
                    (None, Op::Remove) => return Ok((Vec::new(), Vec::new())),
                    (None, Op::Set(value)) => {
                        return insert(text, node, entries, key_column, key_end, &path[i..], value);
                    }
                }
            }
        }
    }
    Err(unsupported(path, "an empty path"))
}

/// A flow collection on the way: rewritten whole, with the change made.
fn flow(
    text: &str,
    node: &Node,
    rest: &[Seg],
    op: &Op,
    path: &[Seg],
) -> Result<(Vec<Splice>, Vec<Dropped>), EditError> {
    let mut object = node.to_json();
    apply_json(
        &mut object,
        &Change {
            path: rest.to_vec(),
            op: op.clone(),
        },
    );
    let start = node.span.start as usize;
    let close = flow_end(text, start)
        .ok_or_else(|| unsupported(path, "an unterminated flow collection"))?;
    let dropped = comments_in(text, start..close);
    // Written from the original tokens where nothing changes (a number
    // stays `0x1F` or `1.50`), else from the values.
    let new = flow_text(text, node, rest, op).unwrap_or_else(|| inline(&object));
    Ok((
        vec![Splice {
            range: start..close,
            text: new,
        }],
        dropped,
    ))
}

/// The text of a value as written: a scalar's token, a flow collection up
/// to its closing bracket.
fn written(text: &str, node: &Node) -> Option<String> {
    let start = node.span.start as usize;
    match &node.value {
        Y::Map(_) | Y::Seq(_) => is_flow(text, node)
            .then(|| flow_end(text, start))
            .flatten()
            .map(|end| text[start..end].to_owned()),
        _ if node.span.end > node.span.start => Some(text[node.span.range()].to_owned()),
        _ => None,
    }
}

/// A flow collection rewritten with one change, every other entry as
/// written; `None` when an entry's text cannot be cut out.
fn flow_text(text: &str, node: &Node, rest: &[Seg], op: &Op) -> Option<String> {
    let (seg, tail) = rest.split_first()?;
    let child = |value: Option<&Node>| -> Option<Option<String>> {
        Some(match (tail.is_empty(), op) {
            (true, Op::Remove) => None,
            (true, Op::Set(v)) => Some(inline(v)),
            (false, _) => match value {
                Some(v) if is_flow(text, v) => Some(flow_text(text, v, tail, op)?),
                _ => {
                    let mut object = value.map(Node::to_json).unwrap_or(Value::Null);
                    apply_json(
                        &mut object,
                        &Change {
                            path: tail.to_vec(),
                            op: op.clone(),
                        },
                    );
                    Some(inline(&object))
                }
            },
        })
    };
    match (&node.value, seg) {
        (Y::Map(entries), Seg::Key(k)) => {
            let mut parts = Vec::new();
            let mut found = false;
            for e in entries {
                let key_text = &text[e.key_span.range()];
                if e.key == *k {
                    found = true;
                    if let Some(value) = child(Some(&e.value))? {
                        parts.push(format!("{key_text}: {value}"));
                    }
                } else {
                    parts.push(format!("{key_text}: {}", written(text, &e.value)?));
                }
            }
            if !found && let Some(value) = child(None)? {
                parts.push(format!("{}: {value}", key(k)));
            }
            Some(format!("{{{}}}", parts.join(", ")))
        }
        (Y::Seq(items), Seg::Index(i)) if *i < items.len() => {
            let mut parts = Vec::new();
            for (n, item) in items.iter().enumerate() {
                if n == *i {
                    parts.push(child(Some(item))??);
                } else {
                    parts.push(written(text, item)?);
                }
            }
            Some(format!("[{}]", parts.join(", ")))
        }
        _ => None,
    }
}

/// Deletes a block mapping entry: its lines, from the key to the end of
/// its value.
fn remove(
    text: &str,
    parent: &Node,
    entry: &yaml::Entry,
    path: &[Seg],
) -> Result<(Vec<Splice>, Vec<Dropped>), EditError> {
    if is_flow(text, parent) {
        return Err(unsupported(path, "a flow mapping"));
    }
    let key_start = entry.key_span.start as usize;
    let start = line_start(text, key_start);
    if !text[start..key_start].trim().is_empty() {
        // `- key: value`: the first key of a list entry.
        return Err(unsupported(path, "the first key of a list entry"));
    }
    let end = block_end(text, &entry.value).max(line_end(text, key_start));
    let dropped = comments_in(text, start..end);
    Ok((
        vec![Splice {
            range: start..end,
            text: String::new(),
        }],
        dropped,
    ))
}

/// Gives an existing key a new value.
fn replace(
    text: &str,
    entry: &yaml::Entry,
    value: &Value,
    path: &[Seg],
) -> Result<(Vec<Splice>, Vec<Dropped>), EditError> {
    let v = &entry.value;
    let colon = text[entry.key_span.end as usize..]
        .find(':')
        .map(|j| entry.key_span.end as usize + j + 1)
        .ok_or_else(|| unsupported(path, "no colon after the key"))?;
    let between = text.get(colon..v.span.start as usize).unwrap_or("");
    let block_scalar = between.trim_start().starts_with(['|', '>']);
    let indent = column(text, entry.key_span.start as usize) + 2;
    let one = |range: Range<usize>, new: String| {
        let dropped = comments_in(text, range.clone());
        Ok((vec![Splice { range, text: new }], dropped))
    };
    // A scalar or a flow collection: the value's own text, and a comment
    // after it on its line.
    let own_text = match &v.value {
        Y::Map(_) | Y::Seq(_) if is_flow(text, v) => {
            flow_end(text, v.span.start as usize).map(|end| v.span.start as usize..end)
        }
        Y::Map(_) | Y::Seq(_) => None,
        Y::Null if v.span.end == v.span.start => None,
        _ if block_scalar => None,
        _ => Some(v.span.range()),
    };
    if let Some(range) = own_text {
        let end = trailing_comment(text, range.end).unwrap_or(range.end);
        let flow_old = matches!(v.value, Y::Map(_) | Y::Seq(_));
        if !is_collection(value) || flow_old {
            // Flow stays flow.
            return one(range.start..end, inline(value));
        }
        // A scalar becomes a block collection.
        let mut new = after_colon(value, indent);
        new.pop();
        return one(colon..end, new);
    }
    // A block list given a list: entry by entry.
    if let (Y::Seq(items), Value::Array(new)) = (&v.value, value)
        && !new.is_empty()
        && let Some(edit) = list_items(text, items, new)
    {
        return Ok(edit);
    }
    // A block collection, a block scalar or an empty value: everything
    // after `key:` up to the end of the old value's last line.
    let end = if matches!(v.value, Y::Null) {
        trailing_comment(text, colon).unwrap_or(colon)
    } else {
        let end = block_end(text, v);
        if end > colon && text[..end].ends_with('\n') {
            end - 1
        } else {
            end
        }
    };
    let mut new = after_colon(value, indent);
    new.pop();
    one(colon..end, new)
}

/// A block list edited entry by entry: unchanged entries, and the comments
/// between entries, keep their lines. `None` when an entry is not on a
/// `- ` line of its own.
fn list_items(text: &str, items: &[Node], new: &[Value]) -> Option<(Vec<Splice>, Vec<Dropped>)> {
    let mut ranges = Vec::with_capacity(items.len());
    let mut indent = None;
    for item in items {
        let start = item.span.start as usize;
        let ls = line_start(text, start);
        let prefix = &text[ls..start];
        if prefix.trim() != "-" {
            return None;
        }
        let column = prefix.find('-')?;
        if indent.is_some_and(|c| c != column) {
            return None;
        }
        indent = Some(column);
        ranges.push(ls..block_end(text, item));
    }
    let indent = indent?;
    let pad = " ".repeat(indent);
    let lines = |values: &[Value]| -> String {
        values
            .iter()
            .map(|v| format!("{pad}- {}", item_text(v, indent + 2)))
            .collect()
    };
    let old: Vec<String> = items.iter().map(|n| n.to_json().to_string()).collect();
    let wanted: Vec<String> = new.iter().map(Value::to_string).collect();
    let mut splices = Vec::new();
    let mut dropped = Vec::new();
    let mut cut = |range: Range<usize>, with: String| {
        dropped.extend(comments_in(text, range.clone()));
        splices.push(Splice { range, text: with });
    };
    for op in similar::capture_diff_slices(similar::Algorithm::Myers, &old, &wanted) {
        let (old_at, old_len, new_at, new_len) = match op {
            similar::DiffOp::Equal { .. } => continue,
            similar::DiffOp::Delete {
                old_index,
                old_len,
                new_index,
            } => (old_index, old_len, new_index, 0),
            similar::DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => (old_index, 0, new_index, new_len),
            similar::DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => (old_index, old_len, new_index, new_len),
        };
        let paired = old_len.min(new_len);
        for k in 0..paired {
            cut(
                ranges[old_at + k].clone(),
                lines(&new[new_at + k..=new_at + k]),
            );
        }
        for k in paired..old_len {
            cut(ranges[old_at + k].clone(), String::new());
        }
        if new_len > paired {
            let at = if old_at + paired == 0 {
                ranges[0].start
            } else {
                ranges[old_at + paired - 1].end
            };
            cut(at..at, lines(&new[new_at + paired..new_at + new_len]));
        }
    }
    // The splices of one list never touch each other.
    for (i, a) in splices.iter().enumerate() {
        if splices[i + 1..]
            .iter()
            .any(|b| overlaps(&a.range, &b.range))
        {
            return None;
        }
    }
    Some((splices, dropped))
}

/// Inserts the rest of the path as new, indented lines after the last line
/// of `node` (a mapping, or an empty value).
fn insert(
    text: &str,
    node: &Node,
    entries: &[yaml::Entry],
    key_column: Option<usize>,
    key_end: usize,
    rest: &[Seg],
    value: &Value,
) -> Result<(Vec<Splice>, Vec<Dropped>), EditError> {
    let indent = match entries.first() {
        Some(first) => column(text, first.key_span.start as usize),
        None => key_column.map_or(0, |c| c + 2),
    };
    let mut lines = String::new();
    for (depth, seg) in rest.iter().enumerate() {
        let Seg::Key(k) = seg else {
            return Err(unsupported(rest, "a list entry that does not exist"));
        };
        let pad = " ".repeat(indent + 2 * depth);
        if depth + 1 == rest.len() {
            lines.push_str(&format!(
                "{pad}{}:{}",
                key(k),
                after_colon(value, indent + 2 * depth + 2)
            ));
        } else {
            lines.push_str(&format!("{pad}{}:\n", key(k)));
        }
    }
    if matches!(node.value, Y::Null) && node.span.end > node.span.start && key_column.is_some() {
        // `prod: null` / `prod: ~`: the token (and a comment after it)
        // gives way to the block.
        let token = node.span.start as usize;
        let end = line_end(text, token);
        let start = text[..token].trim_end_matches(' ').len();
        let dropped = comments_in(text, token..end);
        return Ok((
            vec![Splice {
                range: start..end,
                text: format!("\n{lines}"),
            }],
            dropped,
        ));
    }
    let at = if entries.is_empty() {
        match key_column {
            // Right after `key:` (an empty block).
            Some(_) => line_end(text, key_end),
            None => text.len(),
        }
    } else {
        block_end(text, node)
    };
    // The file may lack a final newline.
    let lead = if at == text.len() && !text.is_empty() && !text.ends_with('\n') {
        "\n"
    } else {
        ""
    };
    Ok((
        vec![Splice {
            range: at..at,
            text: format!("{lead}{lines}"),
        }],
        Vec::new(),
    ))
}

/// Sets one key path (map keys only) to a value.
#[cfg(test)]
fn set(text: &str, path: &[&str], value: &Value) -> Result<String, EditError> {
    apply(
        text,
        &[Change {
            path: keys(path),
            op: Op::Set(value.clone()),
        }],
    )
    .map(|e| e.text)
}

/// A unified diff of a file's edit.
pub fn file_diff(path: &str, before: &str, after: &str) -> String {
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(2)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FILE: &str = "# Orders: the stream's own comment.\nmainClass: com.example.Orders   # trailing comment\narguments:\n  - --topic\n  - orders\n\nenvironments:\n  # prod runs bigger\n  prod:\n    executor:\n      instances: 6\n    sink: \"s3a://prod/orders\"\n  dev: {enabled: true}\n";

    fn changed_lines(before: &str, after: &str) -> Vec<String> {
        similar::TextDiff::from_lines(before, after)
            .iter_all_changes()
            .filter(|c| c.tag() != similar::ChangeTag::Equal)
            .map(|c| {
                let sign = if c.tag() == similar::ChangeTag::Delete {
                    "-"
                } else {
                    "+"
                };
                format!("{sign}{}", c.value().trim_end())
            })
            .collect()
    }

    fn set_one(text: &str, path: &[&str], value: Value) -> Edited {
        apply(
            text,
            &[Change {
                path: keys(path),
                op: Op::Set(value),
            }],
        )
        .unwrap()
    }

    fn remove_one(text: &str, path: &[&str]) -> Edited {
        apply(
            text,
            &[Change {
                path: keys(path),
                op: Op::Remove,
            }],
        )
        .unwrap()
    }

    #[test]
    fn replaces_a_scalar_in_place() {
        let out = set(
            FILE,
            &["environments", "prod", "sink"],
            &json!("s3a://prod/orders-v2"),
        )
        .unwrap();
        assert_eq!(
            changed_lines(FILE, &out),
            [
                "-    sink: \"s3a://prod/orders\"",
                "+    sink: s3a://prod/orders-v2"
            ]
        );
    }

    #[test]
    fn inserts_a_new_nested_key_with_the_blocks_indentation() {
        let out = set(
            FILE,
            &["environments", "prod", "spark", "image"],
            &json!("r/spark:1.15.0"),
        )
        .unwrap();
        assert_eq!(
            changed_lines(FILE, &out),
            ["+    spark:", "+      image: r/spark:1.15.0"]
        );
        assert!(out.contains("# prod runs bigger") && out.contains("# trailing comment"));
        let out = set(
            FILE,
            &["environments", "prod", "executor", "memory"],
            &json!("8g"),
        )
        .unwrap();
        assert_eq!(changed_lines(FILE, &out), ["+      memory: 8g"]);
        // A new list is written as a block list.
        let out = set(
            FILE,
            &["environments", "prod", "arguments"],
            &json!(["a", 1]),
        )
        .unwrap();
        assert_eq!(
            changed_lines(FILE, &out),
            ["+    arguments:", "+      - a", "+      - 1"]
        );
    }

    #[test]
    fn a_block_list_stays_a_block_list_and_keeps_its_comments() {
        let text = "arguments:\n  - --topic   # the flag\n  # still on v1\n  - orders.v1  # old\n  - --verbose\n";
        let out = set_one(
            text,
            &["arguments"],
            json!(["--topic", "orders.v2", "--verbose"]),
        );
        assert_eq!(
            changed_lines(text, &out.text),
            ["-  - orders.v1  # old", "+  - orders.v2"]
        );
        assert_eq!(
            out.dropped,
            [Dropped {
                line: 4,
                comment: "# old".into()
            }]
        );
        // Entries added and removed, in place.
        let out = set_one(
            text,
            &["arguments"],
            json!(["--topic", "--verbose", "--dry"]),
        );
        assert_eq!(
            out.text,
            "arguments:\n  - --topic   # the flag\n  # still on v1\n  - --verbose\n  - --dry\n"
        );
        // Lists of mappings too.
        let text = "tolerations:\n  - key: gpu\n    operator: Exists\n  - key: spot   # cheap\n    operator: Exists\n";
        let out = set_one(
            text,
            &["tolerations"],
            json!([{"key": "gpu", "operator": "Exists"}, {"key": "spot", "operator": "Equal", "value": "yes"}]),
        );
        assert_eq!(
            out.text,
            "tolerations:\n  - key: gpu\n    operator: Exists\n  - key: spot\n    operator: Equal\n    value: \"yes\"\n"
        );
        assert_eq!(out.dropped.len(), 1);
    }

    #[test]
    fn flow_stays_flow_and_a_comment_on_a_replaced_value_goes_with_it() {
        let out = set_one(
            "arguments: [a, \"b]\"]  # two\nx: 1\n",
            &["arguments"],
            json!(["c"]),
        );
        assert_eq!(out.text, "arguments: [\"c\"]\nx: 1\n");
        assert_eq!(out.dropped[0].comment, "# two");
        let out = set_one(
            "image: r/s:1.14.0   # old\n# kept\n",
            &["image"],
            json!("r/s:1.15.0"),
        );
        assert_eq!(out.text, "image: r/s:1.15.0\n# kept\n");
        assert_eq!(
            out.dropped,
            [Dropped {
                line: 1,
                comment: "# old".into()
            }]
        );
    }

    #[test]
    fn removes_keys_and_the_mappings_they_leave_empty() {
        let text = "mainClass: x\nenvironments:\n  prod:\n    spark:\n      image: a  # pin\n  dev:\n    enabled: true\n";
        let out = remove_one(text, &["environments", "prod", "spark", "image"]);
        assert_eq!(
            out.text,
            "mainClass: x\nenvironments:\n  dev:\n    enabled: true\n"
        );
        assert_eq!(out.dropped[0].comment, "# pin");
        let out = remove_one("a: 1\nb:\n  c: 2\n  d: [1, 2]\ne: 3\n", &["b", "d"]);
        assert_eq!(out.text, "a: 1\nb:\n  c: 2\ne: 3\n");
        let out = remove_one("a: 1\nb: {c: 2, d: 3}\n", &["b", "d"]);
        assert_eq!(out.text, "a: 1\nb: {c: 2}\n");
        // Nothing to remove: nothing changes.
        let out = remove_one("a: 1\n", &["b", "c"]);
        assert_eq!(out.text, "a: 1\n");
    }

    #[test]
    fn edits_inside_list_entries_and_several_at_one_spot() {
        let text =
            "streams:\n  - name: orders\n    mainClass: a\n  - name: payments\n    mainClass: b\n";
        let out = apply(
            text,
            &[
                Change {
                    path: vec![
                        Seg::Key("streams".into()),
                        Seg::Index(1),
                        Seg::Key("environments".into()),
                        Seg::Key("prod".into()),
                        Seg::Key("image".into()),
                    ],
                    op: Op::Set(json!("x:2")),
                },
                Change {
                    path: vec![
                        Seg::Key("streams".into()),
                        Seg::Index(1),
                        Seg::Key("environments".into()),
                        Seg::Key("prod".into()),
                        Seg::Key("enabled".into()),
                    ],
                    op: Op::Set(json!(true)),
                },
            ],
        )
        .unwrap();
        assert_eq!(
            out.text,
            "streams:\n  - name: orders\n    mainClass: a\n  - name: payments\n    mainClass: b\n    environments:\n      prod:\n        image: x:2\n        enabled: true\n"
        );
    }

    #[test]
    fn review_cases() {
        let out = set(
            "prod: {mainClass: a, executor: {instances: 3}}\n",
            &["prod", "spark"],
            &json!({"image": "x:1"}),
        )
        .unwrap();
        assert_eq!(
            crate::values::yaml::parse(FileId(0), &out)
                .unwrap()
                .to_json(),
            json!({"prod": {"mainClass": "a", "executor": {"instances": 3}, "spark": {"image": "x:1"}}})
        );
        // Explicit nulls.
        for null in ["null", "~", "~ # later"] {
            let text = format!("mainClass: x\nenvironments:\n  prod: {null}\n");
            let out = set(&text, &["environments", "prod", "enabled"], &json!(true)).unwrap();
            assert!(
                out.ends_with("  prod:\n    enabled: true\n"),
                "{null}: {out:?}"
            );
        }
        // Block scalars, replaced and as the last key of a block.
        let out = set(
            "a:\n  b: >-\n    folded\n    text\nc: 1\n",
            &["a", "b"],
            &json!("one line"),
        )
        .unwrap();
        assert_eq!(out, "a:\n  b: one line\nc: 1\n");
        let out = set("a:\n  b: |\n    kept\nc: 1\n", &["a", "d"], &json!(2)).unwrap();
        assert_eq!(out, "a:\n  b: |\n    kept\n  d: 2\nc: 1\n");
        // CRLF files keep CRLF.
        let out = set("a: 1\r\nb:\r\n  c: 2\r\n", &["b", "d"], &json!(3)).unwrap();
        assert_eq!(out, "a: 1\r\nb:\r\n  c: 2\r\n  d: 3\r\n");
        // An anchored value shared with another key is not edited behind
        // the other key's back.
        let err = set("a: &x {b: 1}\nc: *x\n", &["a", "b"], &json!(2));
        assert!(err.is_err() || !err.unwrap().contains("*x"));
    }

    #[test]
    fn flow_maps_empty_blocks_and_missing_parents() {
        let out = set(FILE, &["environments", "dev", "enabled"], &json!(false)).unwrap();
        assert_eq!(
            changed_lines(FILE, &out),
            ["-  dev: {enabled: true}", "+  dev: {enabled: false}"]
        );
        let empty = "mainClass: x\nenvironments:\n  prod:\n";
        let out = set(empty, &["environments", "prod", "enabled"], &json!(true)).unwrap();
        assert_eq!(
            out,
            "mainClass: x\nenvironments:\n  prod:\n    enabled: true\n"
        );
        let none = "mainClass: x  # no newline at the end";
        let out = set(
            none,
            &["environments", "prod", "mainClass"],
            &json!("com.example.Y"),
        )
        .unwrap();
        assert_eq!(
            out,
            "mainClass: x  # no newline at the end\nenvironments:\n  prod:\n    mainClass: com.example.Y\n"
        );
    }
    /// Every key of every values and fixture file in the repository, set
    /// to a new value and removed: the output equals the original byte for
    /// byte outside the key's own lines.
    #[test]
    fn every_byte_outside_the_edited_lines_is_kept() {
        fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    files(&path, out);
                } else if path.extension().is_some_and(|e| e == "yaml") {
                    out.push(path);
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut paths = Vec::new();
        files(&root.join("values"), &mut paths);
        files(&root.join("tests/fixtures"), &mut paths);
        let mut checked = 0;
        for path in paths {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Ok(root) = yaml::parse(FileId(0), &text) else {
                continue;
            };
            if text.contains("\r\n") || text.contains('&') || text.len() > 64 * 1024 {
                continue;
            }
            let mut stack: Vec<(Vec<Seg>, &Node)> = vec![(Vec::new(), &root)];
            while let Some((at, node)) = stack.pop() {
                let Y::Map(entries) = &node.value else {
                    continue;
                };
                if is_flow(&text, node) {
                    continue;
                }
                for entry in entries {
                    let mut path_to = at.clone();
                    path_to.push(Seg::Key(entry.key.clone()));
                    stack.push((path_to.clone(), &entry.value));
                    let start = line_start(&text, entry.key_span.start as usize);
                    if !text[start..entry.key_span.start as usize].trim().is_empty() {
                        continue;
                    }
                    let end = block_end(&text, &entry.value)
                        .max(line_end(&text, entry.key_span.start as usize));
                    let mut ops = vec![Op::Set(json!("promoted-value"))];
                    if entries.len() > 1 {
                        ops.push(Op::Remove);
                    }
                    if let Y::Seq(items) = &entry.value.value
                        && !items.is_empty()
                    {
                        let mut list: Vec<Value> = items.iter().map(Node::to_json).collect();
                        let last = list.len() - 1;
                        list[last] = json!("promoted-item");
                        ops.push(Op::Set(Value::Array(list)));
                    }
                    for op in ops {
                        let change = Change {
                            path: path_to.clone(),
                            op: op.clone(),
                        };
                        let out = match apply(&text, std::slice::from_ref(&change)) {
                            Ok(out) => out.text,
                            // Refused (and said why): nothing to compare.
                            Err(EditError::Unsupported { .. }) => continue,
                            Err(e) => {
                                panic!("{}: {:?} {op:?}: {e}", path.display(), dotted(&path_to))
                            }
                        };
                        let tail = &text[end..];
                        assert!(
                            out.starts_with(&text[..start])
                                && out.ends_with(tail)
                                && out.len() >= tail.len() + start,
                            "{}: {} {op:?} changed bytes outside its lines:\n{out}",
                            path.display(),
                            dotted(&path_to)
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 200, "only {checked} edits checked");
    }

    #[test]
    fn a_block_scalar_ends_where_its_text_does() {
        let text = "spark:\n  image: >-\n    r/spark:1.0\n  # kept\n  version: \"3.5.1\"\n";
        let out = set_one(text, &["spark", "image"], json!("r/spark:2.0"));
        assert_eq!(
            out.text,
            "spark:\n  image: r/spark:2.0\n  # kept\n  version: \"3.5.1\"\n"
        );
        let out = remove_one(text, &["spark", "image"]);
        assert_eq!(out.text, "spark:\n  # kept\n  version: \"3.5.1\"\n");
    }

    #[test]
    fn mixed_line_endings_and_quotes_with_hashes() {
        let out = set_one("a: 1\r\nb: 2\n", &["b"], json!(3));
        assert_eq!(out.text, "a: 1\r\nb: 3\n");
        let out = set_one("image: \"a\\\" # b\" # real\n", &["image"], json!("c"));
        assert_eq!(out.text, "image: c\n");
        assert_eq!(out.dropped[0].comment, "# real");
    }

    #[test]
    fn a_flow_collection_keeps_the_text_of_what_it_does_not_change() {
        let text = "{namespace: p, spark: {image: r/s:1.0}, labels: {cost: 0x1F, f: 1.50}}\n";
        let out = set_one(text, &["spark", "image"], json!("r/s:2.0"));
        assert_eq!(
            out.text,
            "{namespace: p, spark: {image: r/s:2.0}, labels: {cost: 0x1F, f: 1.50}}\n"
        );
        let out = remove_one("a: {b: 1.50, c: 2}\n", &["a", "c"]);
        assert_eq!(out.text, "a: {b: 1.50}\n");
        let out = set_one("a: {b: 1.50}\n", &["a", "d", "e"], json!("x"));
        assert_eq!(out.text, "a: {b: 1.50, d: {\"e\": \"x\"}}\n");
    }
}
