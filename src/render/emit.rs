//! YAML text of a rendered object, written directly (pure), for the common
//! case: block mappings and lists of short, printable ASCII strings,
//! integers, booleans and nulls.
//!
//! The text is the one serde-saphyr's serializer writes with its default
//! options (sluice's output format), byte for byte: two-space indentation,
//! lists at their key's indentation, `{}` and `[]` for empty collections,
//! and a string plain unless serde-saphyr would quote it. Anything this is
//! not sure of (a float, a multi-line or long string, one that YAML 1.1
//! could read as something else in a way not decided here, a non-ASCII
//! character, a list in a list) returns `None`, and the caller asks
//! serde-saphyr. `tests/fuzz.rs` and the unit tests compare the two.

use serde_json::Value;

/// The YAML of `value`, or `None` to leave it to serde-saphyr.
pub fn yaml(value: &Value) -> Option<String> {
    let mut out = String::with_capacity(2048);
    match value {
        Value::Object(map) if !map.is_empty() => mapping(map, 0, &mut out)?,
        Value::Array(items) if !items.is_empty() => sequence(items, 0, &mut out)?,
        _ => return None,
    }
    Some(out)
}

fn mapping(map: &serde_json::Map<String, Value>, indent: usize, out: &mut String) -> Option<()> {
    for (i, (k, v)) in map.iter().enumerate() {
        // The first key of a list item follows its `- `.
        if i > 0 || indent == 0 || !out.ends_with("- ") {
            pad(indent, out);
        }
        key(k, out)?;
        out.push(':');
        entry_value(v, indent, out)?;
    }
    Some(())
}

/// What follows `key:`: a scalar on the line, or a collection below it.
fn entry_value(v: &Value, indent: usize, out: &mut String) -> Option<()> {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            mapping(m, indent + 2, out)
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            sequence(items, indent, out)
        }
        _ => {
            out.push(' ');
            scalar(v, out)?;
            out.push('\n');
            Some(())
        }
    }
}

fn sequence(items: &[Value], indent: usize, out: &mut String) -> Option<()> {
    for item in items {
        pad(indent, out);
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => mapping(m, indent + 2, out)?,
            Value::Array(a) if !a.is_empty() => return None,
            _ => {
                scalar(item, out)?;
                out.push('\n');
            }
        }
    }
    Some(())
}

fn pad(indent: usize, out: &mut String) {
    const SPACES: &str = "                                                                ";
    let mut left = indent;
    while left > 0 {
        let n = left.min(SPACES.len());
        out.push_str(&SPACES[..n]);
        left -= n;
    }
}

fn scalar(v: &Value, out: &mut String) -> Option<()> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if n.is_i64() || n.is_u64() => {
            use std::fmt::Write;
            let _ = write!(out, "{n}");
        }
        Value::Number(_) => return None,
        Value::String(s) => match style(s, false)? {
            Style::Plain => out.push_str(s),
            Style::Quoted => {
                out.push('"');
                out.push_str(s);
                out.push('"');
            }
        },
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
    }
    Some(())
}

fn key(k: &str, out: &mut String) -> Option<()> {
    match style(k, true)? {
        Style::Plain => out.push_str(k),
        Style::Quoted => {
            out.push('"');
            out.push_str(k);
            out.push('"');
        }
    }
    Some(())
}

enum Style {
    Plain,
    /// In double quotes, with nothing to escape (the text is checked to
    /// hold no `"` or `\`).
    Quoted,
}

/// How serde-saphyr writes `s` (YAML 1.1 ambiguity rules, block context),
/// where that is certain. One pass over the bytes gathers what the rules
/// below ask of them.
fn style(s: &str, is_key: bool) -> Option<Style> {
    let bytes = s.as_bytes();
    // Printable ASCII, short enough not to be folded (a value) or to need
    // the explicit `? ` form (a key: serde-saphyr writes up to 1024 bytes
    // as a plain key).
    if bytes.len() > if is_key { 1024 } else { 80 } {
        return None;
    }
    // What each byte is, gathered in one pass: the bits every byte has,
    // and the bits any byte has.
    let (mut all, mut any) = (u8::MAX, 0u8);
    for &b in bytes {
        let class = CLASS[b as usize];
        all &= class;
        any |= class;
    }
    if all & PRINTABLE == 0 {
        return None;
    }
    let escaped = any & ESCAPED != 0;
    let number_like = all & NUMBER_LIKE != 0;
    let key_special = any & KEY_SPECIAL != 0;
    let last = bytes.last().copied();
    // `: ` and ` #` start a mapping value and a comment.
    let colon_space = any & COLON != 0 && s.contains(": ");
    let space_hash = any & HASH != 0 && s.contains(" #");
    if is_quoted_for_sure(s) {
        return (!escaped).then_some(Style::Quoted);
    }
    let first = *bytes.first()?;
    // `-x` and `--flag` are plain; `-`, `- x` and `---` are not.
    let starts_well = first.is_ascii_alphanumeric()
        || first == b'/'
        || first == b'_'
        || (first == b'-' && bytes.len() > 1 && bytes[1] != b' ' && !s.starts_with("---"));
    if !starts_well || last == Some(b' ') {
        return None;
    }
    // Words YAML 1.1 reads as booleans or null are quoted above; these
    // two serde-saphyr quotes too, in spellings not decided here.
    if bytes.len() == 3 && ["nan", "inf"].iter().any(|w| s.eq_ignore_ascii_case(w)) {
        return None;
    }
    // Only a letter-led text is never a number or a timestamp; any other
    // needs a character no number, date or time is spelled with.
    if !first.is_ascii_alphabetic() && number_like {
        return None;
    }
    if colon_space || last == Some(b':') || space_hash {
        return None;
    }
    if is_key && (key_special || first == b'-') {
        return None;
    }
    Some(Style::Plain)
}

const PRINTABLE: u8 = 1;
/// Spelled only with characters numbers, dates and times use.
const NUMBER_LIKE: u8 = 2;
/// `"` or `\`, which a quoted text would have to escape.
const ESCAPED: u8 = 4;
/// `:` `,` `[` `]` `{` `}`, which a plain key cannot hold.
const KEY_SPECIAL: u8 = 8;
const COLON: u8 = 16;
const HASH: u8 = 32;

/// The classes of each byte, for [`style`].
static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0x20;
    while b < 0x7f {
        table[b] = PRINTABLE;
        b += 1;
    }
    mark(
        &mut table,
        b"0123456789abcdefABCDEFxXoO+-._:tTzZ, ",
        NUMBER_LIKE,
    );
    mark(&mut table, b"\"\\", ESCAPED);
    mark(&mut table, b":,[]{}", KEY_SPECIAL);
    mark(&mut table, b":", COLON);
    mark(&mut table, b"#", HASH);
    table
};

/// Gives each of `bytes` the class `bit` in `table`.
const fn mark(table: &mut [u8; 256], bytes: &[u8], bit: u8) {
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] |= bit;
        i += 1;
    }
}

/// Texts serde-saphyr always quotes: empty, `~`, YAML 1.1 booleans and
/// nulls, and decimal numbers (`64`, `3.5`, `3.5.1`, which YAML 1.1 reads
/// as a float).
fn is_quoted_for_sure(s: &str) -> bool {
    const WORDS: &[&str] = &["null", "true", "false", "yes", "no", "on", "off", "y", "n"];
    if s.is_empty() || s == "~" || (s.len() <= 5 && WORDS.iter().any(|w| s.eq_ignore_ascii_case(w)))
    {
        return true;
    }
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    // A number starts with a digit or its point (most texts end here).
    if !unsigned
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'.')
    {
        return false;
    }
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (unsigned, None),
    };
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    match fraction {
        None => !whole.is_empty() && digits(whole),
        Some(f) => {
            digits(whole)
                && f.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && (!whole.is_empty() || f.as_bytes().first().is_some_and(u8::is_ascii_digit))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn saphyr(v: &Value) -> String {
        serde_saphyr::to_string(v).unwrap()
    }

    #[test]
    fn writes_what_serde_saphyr_writes() {
        let words = [
            "plain",
            "10 seconds",
            "1800m",
            "2g",
            "3.5.1",
            "3.5",
            "64",
            "-1",
            "+1",
            "0",
            "true",
            "True",
            "yes",
            "No",
            "on",
            "OFF",
            "y",
            "n",
            "null",
            "~",
            "",
            "--topic",
            "-Xmx4g",
            "-",
            "- x",
            "a: b",
            "a:b",
            "a #b",
            "a#b",
            "ends:",
            "s3a://bi-lake/raw",
            "local:///opt/app.jar",
            "0x1F",
            "1e3",
            "12:30",
            "2024-01-01",
            "1_000",
            "nan",
            ".inf",
            ".",
            "...",
            "---",
            "/path",
            "_x",
            "*x",
            "&x",
            "!x",
            "%x",
            "@x",
            "`x",
            "'x'",
            "\"x\"",
            "x'y",
            "a\\b",
            "{a}",
            "[a]",
            "a,b",
            "Equal",
            "NoSchedule",
            "bi-data-eng",
            "registry.example.com/bi/spark-streams:1.14.0",
            "spark-streams",
            "com.example.bi.streams.Stream0",
            "=",
            "<<",
            "1.",
            ".5",
            "1.2.3.4",
            "1:2",
            "10.0.0.1:9092",
            "kafka-prod.bi.svc:9092",
            "x ",
            " x",
            "e",
            "E1",
            "0o7",
            "0b1",
            "1h",
            "30s",
            "100Gi",
            "1.5",
        ];
        let mut read = 0;
        for w in words {
            for v in [
                json!({"k": w}),
                json!({"k": [w, {"a": w}]}),
                json!({ w: 1 }),
            ] {
                if let Some(mine) = yaml(&v) {
                    assert_eq!(mine, saphyr(&v), "{v}");
                    read += 1;
                }
            }
        }
        assert!(read > 100, "{read}");
        // Long keys stay plain up to 1024 bytes, long values fold.
        for n in [81, 200, 1024, 1025] {
            let long = format!("spark.kubernetes.{}", "x".repeat(n - 17));
            for v in [json!({ long.clone(): 1 }), json!({"k": long})] {
                if let Some(mine) = yaml(&v) {
                    assert_eq!(mine, saphyr(&v), "{v}");
                }
            }
        }
        let key = "spark.kubernetes.executor.volumes.persistentVolumeClaim.spark-local-dir-1.options.claimName";
        assert!(yaml(&json!({ key: "OnDemand" })).is_some());
    }

    #[test]
    fn shapes_match() {
        let v = json!({
            "apiVersion": "v1",
            "metadata": {"name": "x", "labels": {}, "annotations": {"a.b/c": "d"}},
            "spec": {
                "list": [],
                "items": [1, true, null, "s", {}, {"a": 1, "b": {"c": [1, 2]}, "d": [{"e": 1}], "f": {}}],
                "nested": {"deeper": {"deepest": [{"k": "v", "l": [3]}]}},
                "n": -5, "big": 18446744073709551615u64, "64": "y"
            }
        });
        assert_eq!(yaml(&v).as_deref(), Some(saphyr(&v).as_str()));
        assert!(yaml(&json!({"f": 1.5})).is_none());
        assert!(yaml(&json!({"l": [[1]]})).is_none());
        assert!(yaml(&json!({"s": "two\nlines"})).is_none());
        assert!(yaml(&json!({"s": "é"})).is_none());
    }
}
