//! A fast reader for the YAML that templates produce (pure).
//!
//! Rendered manifests are block mappings whose values are written with
//! `tojson`, so most lines are `key: <JSON>`, `key:` or `key: plain-word`.
//! This reads exactly that subset, in one pass, and gives up (returns
//! `None`) on anything else: lists, block scalars, comments after values,
//! anchors, tabs, quotes other than JSON's, duplicate keys. The caller then
//! uses the full YAML parser, so the result is always what YAML 1.2 means.
//! It exists because the general parser took half of `lint`'s time on
//! large repositories.

use serde_json::{Map, Value};

/// The documents of `text`, or `None` when it is outside the subset.
pub fn parse(text: &str) -> Option<Vec<Value>> {
    // Characters YAML refuses (and JSON strings allow): the full parser
    // reports them.
    // (A byte scan first: only text with a suspect byte is read as chars.)
    let suspect = text.bytes().any(|b| {
        (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0x7f || b == 0xc2 || b == 0xef
    });
    if suspect && text.chars().any(|c| {
        matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}'..='\u{84}' | '\u{86}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}' | '\u{feff}')
    }) {
        return None;
    }
    let mut docs = Vec::new();
    let mut current: Option<Frame> = None;
    // Open mappings, outermost first: (indent, key in the parent, map).
    let mut stack: Vec<Frame> = Vec::new();
    let mut pending: Option<(usize, String)> = None; // `key:` waiting for its value
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let content = line.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if line == "---" {
            close_all(&mut stack, &mut current, &mut pending, &mut docs)?;
            continue;
        }
        if content.starts_with('\t') || line.starts_with("...") || line.starts_with("---") {
            return None;
        }
        let indent = line.len() - content.len();
        let (key, rest) = split_key(content)?;
        // Open a nested mapping under the pending key, or close the ones
        // this line is outside of.
        match pending.take() {
            Some((parent_indent, parent_key)) if indent > parent_indent => {
                let frame = current.take()?;
                stack.push(frame);
                current = Some(Frame {
                    indent,
                    key: Some(parent_key),
                    map: Map::new(),
                });
            }
            Some((_, parent_key)) => {
                // `key:` with nothing nested is null.
                insert(current.as_mut()?, parent_key, Value::Null)?;
                unwind(&mut stack, &mut current, indent)?;
            }
            None => {
                if current.is_none() {
                    if indent != 0 {
                        return None;
                    }
                    current = Some(Frame {
                        indent: 0,
                        key: None,
                        map: Map::new(),
                    });
                }
                unwind(&mut stack, &mut current, indent)?;
            }
        }
        if current.as_ref()?.indent != indent {
            return None;
        }
        match rest {
            None => pending = Some((indent, key)),
            Some(value) => insert(current.as_mut()?, key, scalar(value)?)?,
        }
    }
    close_all(&mut stack, &mut current, &mut pending, &mut docs)?;
    Some(docs)
}

struct Frame {
    indent: usize,
    key: Option<String>,
    map: Map<String, Value>,
}

fn insert(frame: &mut Frame, key: String, value: Value) -> Option<()> {
    // A duplicate key is an error the full parser reports.
    if frame.map.contains_key(&key) {
        return None;
    }
    frame.map.insert(key, value);
    Some(())
}

/// Closes mappings deeper than `indent`.
fn unwind(stack: &mut Vec<Frame>, current: &mut Option<Frame>, indent: usize) -> Option<()> {
    while current.as_ref()?.indent > indent {
        let done = current.take()?;
        let mut parent = stack.pop()?;
        insert(&mut parent, done.key?, Value::Object(done.map))?;
        *current = Some(parent);
    }
    Some(())
}

fn close_all(
    stack: &mut Vec<Frame>,
    current: &mut Option<Frame>,
    pending: &mut Option<(usize, String)>,
    docs: &mut Vec<Value>,
) -> Option<()> {
    if let Some((_, key)) = pending.take() {
        insert(current.as_mut()?, key, Value::Null)?;
    }
    if current.is_none() {
        return Some(());
    }
    unwind(stack, current, 0)?;
    docs.push(Value::Object(current.take()?.map));
    Some(())
}

/// `key: rest` → (key, Some(rest)); `key:` → (key, None).
fn split_key(content: &str) -> Option<(String, Option<&str>)> {
    let (key, after) = if content.starts_with('"') {
        let end = json_string_end(content)?;
        let key: String = serde_json::from_str(&content[..end]).ok()?;
        (key, content[end..].strip_prefix(':')?)
    } else {
        let colon = content.find(':')?;
        let key = &content[..colon];
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'))
        {
            return None;
        }
        // A key YAML reads as something other than that string (`null:`,
        // `true:`, `1:`, `-1:`): the full parser decides.
        let lower = key.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "null" | "true" | "false" | "~" | "yes" | "no" | "on" | "off"
        ) || !key.as_bytes()[0].is_ascii_alphabetic() && key.as_bytes()[0] != b'_'
        {
            return None;
        }
        (key.to_owned(), &content[colon + 1..])
    };
    if after.is_empty() {
        return Some((key, None));
    }
    let value = after.strip_prefix(' ')?;
    if value.is_empty() || value.starts_with(' ') {
        return None;
    }
    Some((key, Some(value)))
}

fn json_string_end(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// A value: JSON (what `tojson` writes), or a plain word that YAML 1.2
/// reads as a string for sure. JSON that YAML reads otherwise is left to
/// the full parser: a duplicate key (YAML refuses it, JSON keeps the
/// last), `-0`, and numbers a double cannot hold exactly.
fn scalar(text: &str) -> Option<Value> {
    let first = text.as_bytes()[0];
    if matches!(first, b'{' | b'[' | b'"') || first.is_ascii_digit() || first == b'-' {
        if !numbers_are_plain(text) || too_deep(text) {
            return None;
        }
        return serde_json::from_str::<Strict>(text).ok().map(|s| s.0);
    }
    match text {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        "null" => return Some(Value::Null),
        _ => {}
    }
    let lower = text.to_ascii_lowercase();
    let typed_word = matches!(lower.as_str(), "true" | "false" | "null" | "~");
    let plain = (first.is_ascii_alphabetic() || first == b'/' || first == b'_')
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b':'))
        && !text.ends_with(':');
    (plain && !typed_word).then(|| Value::String(text.to_owned()))
}

/// Whether every number outside strings in a JSON text is one YAML and
/// JSON read alike: no `-0`, at most 15 significant digits before any
/// fraction or exponent.
fn numbers_are_plain(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => match json_string_end(&text[i..]) {
                Some(end) => i += end,
                None => return false,
            },
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let number = &text[start..i];
                let digits = number.trim_start_matches('-');
                let integer_part = digits.split(['.', 'e', 'E']).next().unwrap_or("");
                if integer_part.is_empty()
                    || integer_part.len() > 15
                    || (number.starts_with('-') && digits.bytes().all(|b| matches!(b, b'0' | b'.')))
                {
                    return false;
                }
            }
            _ => i += 1,
        }
    }
    true
}

/// Whether flow collections nest deeper than the full parser allows (its
/// depth budget is 64 levels).
fn too_deep(text: &str) -> bool {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (true, ..) => {}
            (false, _, b'"') => in_string = true,
            (false, _, b'[' | b'{') => {
                depth += 1;
                max = max.max(depth);
            }
            (false, _, b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max > 32
}

/// A JSON value that refuses duplicate keys, as YAML does.
struct Strict(Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Strict;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Strict, E> {
                Ok(Strict(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Strict, E> {
                Ok(Strict(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Strict, E> {
                Ok(Strict(Value::from(v)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Strict, E> {
                serde_json::Number::from_f64(v)
                    .map(|n| Strict(Value::Number(n)))
                    .ok_or_else(|| E::custom("not a finite number"))
            }
            fn visit_str<E>(self, v: &str) -> Result<Strict, E> {
                Ok(Strict(Value::String(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Strict, E> {
                Ok(Strict(Value::String(v)))
            }
            fn visit_unit<E>(self) -> Result<Strict, E> {
                Ok(Strict(Value::Null))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Strict, A::Error> {
                let mut items = Vec::new();
                while let Some(Strict(v)) = seq.next_element()? {
                    items.push(v);
                }
                Ok(Strict(Value::Array(items)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Strict, A::Error> {
                let mut out = Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    if out.contains_key(&key) {
                        return Err(serde::de::Error::custom("duplicate key"));
                    }
                    let Strict(v) = map.next_value()?;
                    out.insert(key, v);
                }
                Ok(Strict(Value::Object(out)))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn full(text: &str) -> Vec<Value> {
        serde_saphyr::from_multiple_with_options::<Value>(
            text,
            serde_saphyr::options! { strict_booleans: true },
        )
        .unwrap()
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
    }

    #[test]
    fn agrees_with_the_full_parser_on_what_it_accepts() {
        let cases = [
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"x\"\n  labels: {\"a\": \"b\"}\ndata:\n  k: \"v\"\n",
            "a:\n  b:\n    c: 1\n  d: [1, \"2\", {\"e\": null}]\nf: -2.5e3\ng: true\nh: cluster\n",
            "a: \"\\u003c{{ 7*7 }}\\u003e\"\nb:\nc: local:///opt/app.jar\n\"quoted.key/x\": 1\n",
            "---\na: 1\n---\nb: 2\n",
            "# comment\na: 1\n\nb:\n  # inner\n  c: x\n",
        ];
        for text in cases {
            assert_eq!(parse(text).as_ref(), Some(&full(text)), "{text}");
        }
    }

    #[test]
    fn gives_up_on_the_rest_of_yaml() {
        for text in [
            "a:\n- 1\n",
            "a: |\n  x\n",
            "a: 1 # c\n",
            "a: &x 1\n",
            "a: 'single'\n",
            "a: True\n",
            "a: 0x10\n",
            "a: .inf\n",
            "a: yes please\n",
            "a: 1\na: 2\n",
            "a:\n    b: 1\n  c: 2\n",
            "\ta: 1\n",
            "a: ~\n",
            "a: 01\n",
            // Found by the differential fuzz test (tests/fuzz.rs).
            "a: {\"x\": 1, \"x\": 2}\n",
            "null: 1\n",
            "true: 1\n",
            "1: x\n",
            "a: -0\n",
            "a: [-0.0]\n",
            "a: 9007199254740993\n",
            "a: {\"b\": 12345678901234567890}\n",
            "a: \"x\u{7f}y\"\n",
            "a: \"x\u{9b}y\"\n",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
        assert_eq!(parse("a: on\n"), Some(vec![json!({"a": "on"})]));
        let deep = format!("a: {}{}\n", "[".repeat(100), "]".repeat(100));
        assert_eq!(parse(&deep), None);
    }
}
