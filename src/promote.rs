//! Surgical edits of a values file (pure): set one key path to a value and
//! change nothing else — comments, key order, quoting and blank lines of
//! every other line stay byte-identical. Used by `sluice promote`.

use crate::source::FileId;
use crate::values::yaml::{self, Node, Value as Y};
use serde_json::Value;
use std::ops::Range;

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{path}: {message}")]
    Unsupported { path: String, message: String },
    #[error("the edited file does not parse: {0}")]
    Broken(String),
}

/// A YAML scalar, or a flow collection written as JSON with spaces
/// (JSON is valid YAML, and a flow collection cannot break out of its line).
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
        other => crate::values::print::scalar(other),
    }
}

/// The end of a node's text: the furthest span of it or its children.
fn subtree_end(node: &Node) -> usize {
    let own = node.span.end as usize;
    match &node.value {
        Y::Map(entries) => entries
            .iter()
            .map(|e| (e.key_span.end as usize).max(subtree_end(&e.value)))
            .max()
            .unwrap_or(own)
            .max(own),
        Y::Seq(items) => items.iter().map(subtree_end).max().unwrap_or(own).max(own),
        _ => own,
    }
}

fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |i| at + i + 1)
}

fn column(text: &str, at: usize) -> usize {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    text[start..at].chars().count()
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

/// Sets `path` to `value` in `text` (a YAML mapping), editing as little
/// text as possible. The result is verified by parsing it again.
pub fn set(text: &str, path: &[&str], value: &Value) -> Result<String, EditError> {
    // CRLF files are edited as LF and written back with CRLF, so inserted
    // lines end like the others.
    if text.contains("\r\n") {
        return set(&text.replace("\r\n", "\n"), path, value).map(|out| out.replace('\n', "\r\n"));
    }
    let root = yaml::parse(FileId(0), text).map_err(|d| EditError::Broken(d.message))?;
    let (range, replacement) = edit(text, &root, path, value)?;
    let mut out = String::with_capacity(text.len() + replacement.len());
    out.push_str(&text[..range.start]);
    out.push_str(&replacement);
    out.push_str(&text[range.end..]);
    // Never hand back a file that does not say what was asked.
    let check = yaml::parse(FileId(0), &out).map_err(|d| EditError::Broken(d.message))?;
    let pointer: String = path
        .iter()
        .map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1")))
        .collect();
    let got = check.walk(&pointer);
    if !got.complete || &got.node.to_json() != value {
        return Err(EditError::Broken(format!(
            "`{}` did not take the new value",
            path.join(".")
        )));
    }
    Ok(out)
}

fn edit(
    text: &str,
    root: &Node,
    path: &[&str],
    value: &Value,
) -> Result<(Range<usize>, String), EditError> {
    let unsupported = |message: &str| EditError::Unsupported {
        path: path.join("."),
        message: message.to_owned(),
    };
    let mut node = root;
    // The column of the key whose value `node` is, and where that key ends.
    let mut key_column: Option<usize> = None;
    let mut key_end: usize = 0;
    for (i, segment) in path.iter().enumerate() {
        if is_flow(text, node) {
            // A flow mapping is rewritten whole, with the new value merged in.
            let mut object = node.to_json();
            set_json(&mut object, &path[i..], value);
            let start = node.span.start as usize;
            let close =
                flow_end(text, start).ok_or_else(|| unsupported("unterminated flow mapping"))?;
            return Ok((start..close, inline(&object)));
        }
        let entries = match &node.value {
            Y::Map(entries) => entries.as_slice(),
            Y::Null => &[],
            _ => return Err(unsupported("a parent is not a mapping")),
        };
        match entries.iter().find(|e| e.key == *segment) {
            Some(entry) if i + 1 == path.len() => {
                let v = &entry.value;
                let colon = text[entry.key_span.end as usize..]
                    .find(':')
                    .map(|j| entry.key_span.end as usize + j + 1)
                    .ok_or_else(|| unsupported("no colon after the key"))?;
                let between = text.get(colon..v.span.start as usize).unwrap_or("");
                let block_scalar = between.trim_start().starts_with(['|', '>']);
                if !matches!(v.value, Y::Map(_) | Y::Seq(_) | Y::Null) && !block_scalar {
                    return Ok((v.span.range(), inline(value)));
                }
                // Rewrite everything after `key:` up to the end of the old value.
                let end = if is_flow(text, v) {
                    flow_end(text, v.span.start as usize)
                        .ok_or_else(|| unsupported("unterminated flow collection"))?
                } else if matches!(v.value, Y::Null) {
                    (v.span.end as usize).max(colon)
                } else {
                    subtree_end(v).max(colon)
                };
                // Keep the newline that ends the old value.
                let end = if end > colon && text[..end].ends_with('\n') {
                    end - 1
                } else {
                    end
                };
                return Ok((colon..end, format!(" {}", inline(value))));
            }
            Some(entry) => {
                key_column = Some(column(text, entry.key_span.start as usize));
                key_end = entry.key_span.end as usize;
                node = &entry.value;
            }
            None => {
                // Insert the rest of the path as new, indented lines after
                // the last line of `node`.
                let indent = match entries.first() {
                    Some(first) => column(text, first.key_span.start as usize),
                    None => key_column.map_or(0, |c| c + 2),
                };
                let mut lines = String::new();
                for (depth, key) in path[i..].iter().enumerate() {
                    let pad = " ".repeat(indent + 2 * depth);
                    let key = crate::values::print::scalar(&Value::String((*key).to_owned()));
                    if depth + 1 == path.len() - i {
                        lines.push_str(&format!("{pad}{key}: {}\n", inline(value)));
                    } else {
                        lines.push_str(&format!("{pad}{key}:\n"));
                    }
                }
                if matches!(node.value, Y::Null)
                    && node.span.end > node.span.start
                    && key_column.is_some()
                {
                    // `prod: null` / `prod: ~`: the token (and a comment
                    // after it) gives way to the block.
                    let token = node.span.start as usize;
                    let end = line_end(text, token);
                    let start = text[..token].trim_end_matches(' ').len();
                    return Ok((start..end, format!("\n{lines}")));
                }
                let at = if entries.is_empty() {
                    match key_column {
                        // Right after `key:` (an empty block).
                        Some(_) => line_end(text, key_end),
                        None => text.len(),
                    }
                } else {
                    let end = subtree_end(node);
                    // A block scalar's text already ends with its newline.
                    if text[..end].ends_with('\n') {
                        end
                    } else {
                        line_end(text, end)
                    }
                };
                // The file may lack a final newline.
                let lead = if at == text.len() && !text.is_empty() && !text.ends_with('\n') {
                    "\n"
                } else {
                    ""
                };
                return Ok((at..at, format!("{lead}{lines}")));
            }
        }
    }
    Err(unsupported("empty path"))
}

fn set_json(object: &mut Value, path: &[&str], value: &Value) {
    let mut node = object;
    for (i, key) in path.iter().enumerate() {
        if !node.is_object() {
            *node = Value::Object(Default::default());
        }
        let map = node.as_object_mut().expect("just made an object");
        if i + 1 == path.len() {
            map.insert((*key).to_owned(), value.clone());
            return;
        }
        node = map
            .entry((*key).to_owned())
            .or_insert(Value::Object(Default::default()));
    }
}

/// A unified diff of a file's edit, for `--dry-run`.
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
                format!(
                    "{}{}",
                    if c.tag() == similar::ChangeTag::Delete {
                        "-"
                    } else {
                        "+"
                    },
                    c.value().trim_end()
                )
            })
            .collect()
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
    }

    #[test]
    fn rewrites_lists_after_the_colon() {
        let out = set(FILE, &["arguments"], &json!(["--topic", "orders-v2"])).unwrap();
        assert_eq!(
            changed_lines(FILE, &out),
            [
                "-arguments:",
                "-  - --topic",
                "-  - orders",
                "+arguments: [\"--topic\", \"orders-v2\"]"
            ]
        );
    }

    #[test]
    fn review_cases() {
        // Flow lists and nested flow maps are replaced up to their closing bracket.
        let out = set("arguments: [a, \"b]\"]\n", &["arguments"], &json!(["c"])).unwrap();
        assert_eq!(out, "arguments: [\"c\"]\n");
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
    }

    #[test]
    fn flow_maps_empty_blocks_and_missing_parents() {
        let out = set(FILE, &["environments", "dev", "enabled"], &json!(false)).unwrap();
        assert_eq!(
            changed_lines(FILE, &out),
            ["-  dev: {enabled: true}", "+  dev: {\"enabled\": false}"]
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
}
