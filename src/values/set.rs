//! `--set key.path=value` flags in Helm's syntax, parsed into a values
//! layer (pure).
//!
//! `a.b=1,c=x` sets two keys; `list={a,b}` sets a list; `a[0].b=1` indexes
//! a list; `\.` and `\,` escape separators. Values are typed as Helm types
//! them: `true`/`false`, `null` (deletes the key), integers without a
//! leading zero; everything else is a string. With `--set-string` every
//! value stays a string.

use super::yaml::{Entry, Node, Value};
use crate::diag::Diagnostic;
use crate::source::{FileId, Span};

/// Parses one flag's text (the part after `--set `).
pub fn parse(file: FileId, text: &str, typed: bool) -> Result<Node, Diagnostic> {
    let mut root = Node::empty_map(Span::new(file, 0..text.len()));
    for (start, assignment) in split_top_level(text) {
        // `a=1,` is fine, as in Helm.
        if assignment.is_empty() {
            continue;
        }
        let Some(eq) = find_unescaped(assignment, '=') else {
            // The text is not echoed: it may be a credential.
            return Err(error(
                file,
                start..start + assignment.len(),
                "this --set item has no `=`".to_owned(),
                "write key.path=value, for example --set executor.instances=4",
            ));
        };
        let (key_text, value_text) = (&assignment[..eq], &assignment[eq + 1..]);
        let value_start = start + eq + 1;
        let path = parse_path(file, key_text, start)?;
        if let Some(Segment::Index(_, span)) = path.first() {
            return Err(error(
                file,
                span.range(),
                "a --set key cannot start with a list index".to_owned(),
                "start with a key: name[0]=value",
            ));
        }
        if path.len() > super::yaml::MAX_DEPTH {
            return Err(error(
                file,
                start..start + key_text.len(),
                format!("this key is nested {} levels deep", path.len()),
                &format!("values nest at most {} levels", super::yaml::MAX_DEPTH),
            ));
        }
        let value_span = Span::new(file, value_start..value_start + value_text.len());
        let value = parse_value(value_text, value_span, typed);
        insert(&mut root, &path, value, file)?;
    }
    Ok(root)
}

fn error(file: FileId, range: std::ops::Range<usize>, message: String, help: &str) -> Diagnostic {
    Diagnostic::error("set/syntax", message)
        .at(Span::new(file, range), "here")
        .help(help)
}

enum Segment {
    Key(String, Span),
    Index(usize, Span),
}

/// Splits on commas that are not escaped and not inside a `{...}` list
/// value (a list only opens right after `=`, as in Helm).
fn split_top_level(text: &str) -> Vec<(usize, &str)> {
    let mut parts = Vec::new();
    let (mut in_list, mut start, mut escaped, mut prev) = (false, 0usize, false, '\0');
    for (i, c) in text.char_indices() {
        let last = std::mem::replace(&mut prev, c);
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '{' if last == '=' => in_list = true,
            '}' if in_list => in_list = false,
            ',' if !in_list => {
                parts.push((start, &text[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push((start, &text[start..]));
    parts
}

fn find_unescaped(text: &str, wanted: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            c if c == wanted => return Some(i),
            _ => {}
        }
    }
    None
}

fn parse_path(file: FileId, key: &str, offset: usize) -> Result<Vec<Segment>, Diagnostic> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut current_start = offset;
    let mut chars = key.char_indices().peekable();
    let push_key = |segments: &mut Vec<Segment>, current: &mut String, start: usize, end: usize| {
        if !current.is_empty() {
            segments.push(Segment::Key(
                std::mem::take(current),
                Span::new(file, start..end),
            ));
        }
    };
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, next)) = chars.next() {
                    current.push(next);
                }
            }
            '.' => {
                if current.is_empty() && !matches!(segments.last(), Some(Segment::Index(..))) {
                    return Err(error(
                        file,
                        offset + i..offset + i + 1,
                        format!("empty key in `{key}`"),
                        "separate keys with a single `.`",
                    ));
                }
                push_key(&mut segments, &mut current, current_start, offset + i);
                current_start = offset + i + 1;
            }
            '[' => {
                push_key(&mut segments, &mut current, current_start, offset + i);
                let close = key[i..].find(']').map(|j| i + j);
                let Some(close) = close else {
                    return Err(error(
                        file,
                        offset + i..offset + key.len(),
                        format!("`[` without `]` in `{key}`"),
                        "index lists as name[0]",
                    ));
                };
                let index: usize = key[i + 1..close].parse().map_err(|_| {
                    error(
                        file,
                        offset + i..offset + close + 1,
                        format!("`{}` is not a list index", &key[i..=close]),
                        "a list index is a non-negative integer: name[0]",
                    )
                })?;
                if index > 10_000 {
                    return Err(error(
                        file,
                        offset + i..offset + close + 1,
                        format!("list index {index} is too large"),
                        "--set indexes lists of at most 10000 items",
                    ));
                }
                segments.push(Segment::Index(
                    index,
                    Span::new(file, offset + i..offset + close + 1),
                ));
                while chars.peek().is_some_and(|&(j, _)| j <= close) {
                    chars.next();
                }
                current_start = offset + close + 1;
            }
            c => current.push(c),
        }
    }
    push_key(
        &mut segments,
        &mut current,
        current_start,
        offset + key.len(),
    );
    if segments.is_empty() {
        return Err(error(
            file,
            offset..offset + key.len().max(1),
            "missing key before `=`".to_owned(),
            "write key.path=value",
        ));
    }
    Ok(segments)
}

fn parse_value(text: &str, span: Span, typed: bool) -> Node {
    if let Some(inner) = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        let items = if inner.is_empty() {
            Vec::new()
        } else {
            split_top_level(inner)
                .into_iter()
                .map(|(_, item)| Node::new(span, scalar(&unescape(item), typed)))
                .collect()
        };
        return Node::new(span, Value::Seq(items));
    }
    Node::new(span, scalar(&unescape(text), typed))
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// Helm's typing of `--set` values (strvals.typedVal, exactly).
fn scalar(text: &str, typed: bool) -> Value {
    if !typed {
        return Value::String(text.to_owned());
    }
    if text.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if text.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if text.eq_ignore_ascii_case("null") {
        return Value::Null;
    }
    if text == "0" {
        return Value::Number(0.into());
    }
    if !text.is_empty() && !text.starts_with('0') {
        // Go's ParseInt: an optional sign, then decimal digits.
        let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
        if !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && let Ok(n) = text.trim_start_matches('+').parse::<i64>()
        {
            return Value::Number(n.into());
        }
    }
    Value::String(text.to_owned())
}

fn insert(node: &mut Node, path: &[Segment], value: Node, file: FileId) -> Result<(), Diagnostic> {
    let Some((first, rest)) = path.split_first() else {
        *node = value;
        return Ok(());
    };
    match first {
        Segment::Key(key, key_span) => {
            if !matches!(node.value, Value::Map(_)) {
                node.value = Value::Map(Vec::new());
            }
            let Value::Map(entries) = &mut node.value else {
                unreachable!()
            };
            let i = match entries.iter().position(|e| &e.key == key) {
                Some(i) => i,
                None => {
                    entries.push(Entry {
                        key: key.clone(),
                        key_span: *key_span,
                        value: Node::new(*key_span, Value::Null),
                    });
                    entries.len() - 1
                }
            };
            insert(&mut entries[i].value, rest, value, file)
        }
        Segment::Index(index, span) => {
            if !matches!(node.value, Value::Seq(_)) {
                node.value = Value::Seq(Vec::new());
            }
            let Value::Seq(items) = &mut node.value else {
                unreachable!()
            };
            while items.len() <= *index {
                items.push(Node::new(*span, Value::Null));
            }
            insert(&mut items[*index], rest, value, file)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(text: &str) -> serde_json::Value {
        parse(FileId(0), text, true)
            .unwrap_or_else(|d| panic!("{text}: {}", d.message))
            .to_json()
    }

    #[test]
    fn helm_syntax() {
        let cases = [
            (
                "executor.instances=4",
                json!({"executor": {"instances": 4}}),
            ),
            ("a=1,b=x", json!({"a": 1, "b": "x"})),
            (
                "a=true,b=false,c=null",
                json!({"a": true, "b": false, "c": null}),
            ),
            (
                "v=007,w=-3,x=1.5,y=0",
                json!({"v": "007", "w": -3, "x": "1.5", "y": 0}),
            ),
            (
                "a=TRUE,b=False,c=NULL,d=+3,e=-007,f=-0",
                json!({"a": true, "b": false, "c": null, "d": 3, "e": -7, "f": 0}),
            ),
            (
                "labels.a=x{y,executor.instances=7",
                json!({"labels": {"a": "x{y"}, "executor": {"instances": 7}}),
            ),
            ("a=1,", json!({"a": 1})),
            (
                "arguments={--topic,orders}",
                json!({"arguments": ["--topic", "orders"]}),
            ),
            ("list={}", json!({"list": []})),
            (
                "sparkConf.spark\\.sql\\.shuffle\\.partitions=64",
                json!({"sparkConf": {"spark.sql.shuffle.partitions": 64}}),
            ),
            ("a=x\\,y", json!({"a": "x,y"})),
            (
                "tolerations[1].key=spot",
                json!({"tolerations": [null, {"key": "spot"}]}),
            ),
            ("a=", json!({"a": ""})),
            ("a.b=1,a.c=2", json!({"a": {"b": 1, "c": 2}})),
            ("url=s3a://b/p?x=1", json!({"url": "s3a://b/p?x=1"})),
        ];
        for (text, expected) in cases {
            assert_eq!(set(text), expected, "--set {text}");
        }
    }

    #[test]
    fn set_string_keeps_text() {
        let node = parse(FileId(0), "tag=1.10,enabled=true", false).unwrap();
        assert_eq!(node.to_json(), json!({"tag": "1.10", "enabled": "true"}));
    }

    #[test]
    fn malformed_flags_are_located() {
        let deep = format!("{}=1", vec!["a"; 10_000].join("."));
        for (text, at) in [
            ("novalue", 0..7),
            ("a..b=1", 2..3),
            ("a[x]=1", 1..4),
            ("a[1=2", 1..3),
            ("=1", 0..1),
            ("[0]=x", 0..3),
            (deep.as_str(), 0..19_999),
        ] {
            let d = parse(FileId(0), text, true).expect_err(text);
            assert_eq!(d.code, "set/syntax");
            assert_eq!(d.primary.unwrap().span.range(), at, "--set {text}");
        }
    }
}
