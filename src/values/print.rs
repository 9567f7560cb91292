//! Print effective values as YAML, optionally with a comment on every value
//! naming the file and line that set it and what it overrode (pure).

use super::yaml::{Node, Value};
use crate::secret;
use crate::source::Sources;

/// Renders `node` (a mapping) as YAML. With `sources`, every scalar and
/// list gets a `# file:line` comment; credentials (see `secret`) are
/// replaced by `<hidden>`.
pub fn to_yaml(node: &Node, sources: Option<&Sources>) -> String {
    let node = &masked(node);
    let mut lines: Vec<(String, String)> = Vec::new();
    emit_map(node, 0, sources, &mut lines, false);
    let width = lines
        .iter()
        .map(|(l, c)| if c.is_empty() { 0 } else { l.chars().count() })
        .max()
        .unwrap_or(0)
        .min(60);
    let mut out = String::new();
    for (line, comment) in lines {
        out.push_str(&line);
        if !comment.is_empty() {
            let pad = width.saturating_sub(line.chars().count()) + 2;
            out.push_str(&" ".repeat(pad));
            out.push_str("# ");
            out.push_str(&comment);
        }
        out.push('\n');
    }
    out
}

/// The name of the source that defaults are "read" from: each default's
/// span covers the line saying why it applies.
pub const DEFAULTS_SOURCE: &str = "<sluice default>";

/// Adds the [`DEFAULTS_SOURCE`] file: one line per reason a default applies.
pub fn add_defaults_source(sources: &mut Sources) -> crate::source::FileId {
    let mut text = String::new();
    let reasons = crate::spark::derive::DEFAULT_REASONS
        .iter()
        .chain(crate::flink::build::DEFAULT_REASONS);
    for why in reasons {
        text.push_str(why);
        text.push('\n');
    }
    sources.add(DEFAULTS_SOURCE, text)
}

/// `node` with the defaults sluice applies at render time filled in where
/// the values say nothing, each pointing at the line of `file` (from
/// [`add_defaults_source`]) that says why.
pub fn with_defaults(node: &Node, file: crate::source::FileId, sources: &Sources) -> Node {
    let text = &sources.get(file).text;
    let mut out = node.clone();
    let json = node.to_json();
    let defaults = crate::engine::Engine::of(node).defaults(&json);
    for d in defaults {
        let start = text.find(d.why).unwrap_or(0);
        let span = crate::source::Span::new(file, start..start + d.why.len());
        insert_at(&mut out, d.pointer, Node::from_json(&d.value, span));
    }
    out
}

fn insert_at(node: &mut Node, pointer: &str, value: Node) {
    let mut keys = pointer.trim_start_matches('/').split('/').peekable();
    let mut here = node;
    while let Some(key) = keys.next() {
        let Value::Map(entries) = &mut here.value else {
            return;
        };
        let i = match entries.iter().position(|e| e.key == key) {
            Some(i) => i,
            None => {
                let child = if keys.peek().is_some() {
                    Node::empty_map(value.span)
                } else {
                    value.clone()
                };
                entries.push(super::yaml::Entry {
                    key: key.to_owned(),
                    key_span: value.span,
                    value: child,
                });
                entries.len() - 1
            }
        };
        here = &mut entries[i].value;
    }
}

/// Where every value came from, by JSON pointer: `{file, line, overrides}`
/// or `{default: why}` for a sluice default.
pub fn provenance_json(node: &Node, sources: &Sources) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    collect(node, String::new(), sources, &mut out);
    serde_json::Value::Object(out)
}

fn collect(
    node: &Node,
    pointer: String,
    sources: &Sources,
    out: &mut serde_json::Map<String, serde_json::Value>,
) {
    match &node.value {
        Value::Map(entries) if !entries.is_empty() => {
            for e in entries {
                let key = e.key.replace('~', "~0").replace('/', "~1");
                collect(&e.value, format!("{pointer}/{key}"), sources, out);
            }
        }
        _ if !pointer.is_empty() => {
            let place = |span: crate::source::Span| {
                let l = sources.location(span);
                if l.path == DEFAULTS_SOURCE {
                    serde_json::json!({ "default": sources.get(span.file).text[span.range()].to_owned() })
                } else {
                    serde_json::json!({ "file": l.path, "line": l.line })
                }
            };
            let mut here = place(node.span);
            if !node.overrides.is_empty()
                && let serde_json::Value::Object(m) = &mut here
            {
                m.insert(
                    "overrides".into(),
                    node.overrides.iter().map(|s| place(*s)).collect(),
                );
            }
            out.insert(pointer, here);
        }
        _ => {}
    }
}

fn origin(node: &Node, sources: Option<&Sources>) -> String {
    let Some(sources) = sources else {
        return String::new();
    };
    let here = sources.location(node.span);
    if here.path == DEFAULTS_SOURCE {
        return format!(
            "sluice default: {}",
            &sources.get(node.span.file).text[node.span.range()]
        );
    }
    let mut text = format!("{}:{}", here.path, here.line);
    if !node.overrides.is_empty() {
        let old: Vec<String> = node
            .overrides
            .iter()
            .map(|s| {
                let l = sources.location(*s);
                format!("{}:{}", l.path, l.line)
            })
            .collect();
        text.push_str(&format!(" (overrides {})", old.join(", ")));
    }
    text
}

fn emit_map(
    node: &Node,
    indent: usize,
    sources: Option<&Sources>,
    lines: &mut Vec<(String, String)>,
    first_inline: bool,
) {
    let Value::Map(entries) = &node.value else {
        return;
    };
    for (i, entry) in entries.iter().enumerate() {
        let pad = if i == 0 && first_inline {
            String::new()
        } else {
            " ".repeat(indent)
        };
        let key = scalar(&serde_json::Value::String(entry.key.clone()));
        let value = &entry.value;
        // Never shown, whatever its shape (`masked` has replaced it).
        let hidden =
            matches!(&value.value, Value::String(s) if s == HIDDEN) && is_hidden(node, &entry.key);
        match &value.value {
            _ if hidden => lines.push((
                format!("{pad}{key}: <hidden>"),
                match sources {
                    Some(_) => format!("{} (credential-looking key)", origin(value, sources)),
                    None => String::new(),
                },
            )),
            Value::Map(m) if !m.is_empty() => {
                lines.push((format!("{pad}{key}:"), String::new()));
                emit_map(value, indent + 2, sources, lines, false);
            }
            Value::Seq(items) if !items.is_empty() => {
                lines.push((format!("{pad}{key}:"), origin(value, sources)));
                emit_seq(value, indent + 2, lines);
            }
            _ if hidden => lines.push((
                format!("{pad}{key}: <hidden>"),
                format!("{} (credential-looking key)", origin(value, sources)),
            )),
            _ => lines.push((
                format!("{pad}{key}: {}", inline(value)),
                origin(value, sources),
            )),
        }
    }
}

fn emit_seq(node: &Node, indent: usize, lines: &mut Vec<(String, String)>) {
    let Value::Seq(items) = &node.value else {
        return;
    };
    let pad = " ".repeat(indent);
    for item in items {
        match &item.value {
            Value::Map(m) if !m.is_empty() => {
                let start = lines.len();
                emit_map(item, indent + 2, None, lines, true);
                if let Some(first) = lines.get_mut(start) {
                    first.0 = format!("{pad}- {}", first.0);
                }
            }
            Value::Seq(s) if !s.is_empty() => {
                lines.push((format!("{pad}-"), String::new()));
                emit_seq(item, indent + 2, lines);
            }
            _ => lines.push((format!("{pad}- {}", inline(item)), String::new())),
        }
    }
}

/// Whether the value under `key` in `map` is never shown.
fn is_hidden(map: &Node, key: &str) -> bool {
    secret::hides(key, map.get("name").and_then(Node::as_str))
}

/// The values as JSON, with credentials hidden.
pub fn redacted_json(node: &Node) -> serde_json::Value {
    secret::masked_json(&node.to_json(), |_| HIDDEN.to_owned())
}

const HIDDEN: &str = "<hidden>";

/// A copy of `node` with every credential replaced by `<hidden>`: a whole
/// value, or the credential inside a string (`jdbc:...://u:<hidden>@h/db`).
fn masked(node: &Node) -> Node {
    let mut found = Vec::new();
    secret::visit(node, &mut |path, _, hidden| {
        found.push((path.to_vec(), hidden))
    });
    let mut out = node.clone();
    for (path, hidden) in found {
        let Some(n) = at_mut(&mut out, &path) else {
            continue;
        };
        let text = match (&hidden, &n.value) {
            (secret::Hidden::Parts(parts), Value::String(s)) => {
                secret::replace(s, parts.iter().map(|f| f.range.clone()).collect(), |_| {
                    HIDDEN.to_owned()
                })
                .into_owned()
            }
            _ => HIDDEN.to_owned(),
        };
        n.value = Value::String(text);
    }
    out
}

fn at_mut<'n>(mut node: &'n mut Node, path: &[secret::Seg<'_>]) -> Option<&'n mut Node> {
    for seg in path {
        node = match (seg, &mut node.value) {
            (secret::Seg::Key(k), Value::Map(entries)) => {
                &mut entries.iter_mut().find(|e| e.key == *k)?.value
            }
            (secret::Seg::Index(i), Value::Seq(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(node)
}

/// A scalar, or an empty collection, on one line.
fn inline(node: &Node) -> String {
    match &node.value {
        Value::Map(_) => "{}".to_owned(),
        Value::Seq(_) => "[]".to_owned(),
        _ => scalar(&node.to_json()),
    }
}

/// One scalar as YAML, quoted where a YAML 1.1 reader (kubectl) would
/// otherwise read it as something else.
pub fn scalar(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) if s.contains('\n') || s.contains('\r') => {
            serde_json::to_string(s).expect("strings serialize")
        }
        _ => serde_saphyr::to_string(value)
            .map(|s| s.trim_end_matches('\n').to_owned())
            .unwrap_or_else(|_| value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{FileId, Sources};
    use crate::values::{merge::merge_all, yaml::parse};

    #[test]
    fn round_trips_and_quotes_what_yaml_1_1_would_misread() {
        let text = "a: 'on'\nb: '0755'\nc: 'true'\nd: ''\ne: [1, x]\nf: {g: {h: 'null'}}\ni: []\nj: \"two\\nlines\"\nk:\n  - {x: 1, y: [2]}\n";
        let node = parse(FileId(0), text).unwrap();
        let printed = to_yaml(&node, None);
        let back = parse(FileId(1), &printed).unwrap();
        assert_eq!(back.to_json(), node.to_json(), "{printed}");
        assert!(
            printed.contains("a: \"on\"") || printed.contains("a: 'on'"),
            "{printed}"
        );
    }

    #[test]
    fn provenance_comments_and_hidden_credentials() {
        let mut sources = Sources::new();
        let a = sources.add(
            "values/common.yaml",
            "executor:\n  memory: 2g\nsparkConf:\n  fs.s3a.secret.key: abc\n",
        );
        let b = sources.add("values/streams/orders.yaml", "executor:\n  memory: 4g\n");
        let layers = [
            parse(a, &sources.get(a).text).unwrap(),
            parse(b, &sources.get(b).text).unwrap(),
        ];
        let merged = merge_all(
            crate::values::yaml::Node::empty_map(crate::source::Span::file_start(b)),
            &layers,
        );
        let printed = to_yaml(&merged, Some(&sources));
        assert!(printed.contains("memory: 4g  "), "{printed}");
        assert!(
            printed.contains("# values/streams/orders.yaml:2 (overrides values/common.yaml:2)"),
            "{printed}"
        );
        assert!(printed.contains("fs.s3a.secret.key: <hidden>"), "{printed}");
        assert!(!printed.contains("abc"), "{printed}");
    }
}
