//! The values tree straight from the parser's event stream (pure), for the
//! common case: a file without anchors, aliases, tags, merge keys or
//! numbers outside the plain forms.
//!
//! [`super::yaml::parse`] goes through serde-saphyr, which asks for a
//! `Spanned` value at every node; that costs about three times the parse
//! itself on a large file. This reads the same parser's events (the
//! granit-parser that serde-saphyr drives, at its version) and resolves
//! plain scalars by the rules serde-saphyr applies with sluice's options.
//! Anything it is not sure of (an anchor, an alias, a tag, a `<<` key, a
//! key that is not text, a non-finite number, a limit approached, a parse
//! error) makes it give up (`None`), and the caller parses the file the
//! full way: the result, and every diagnostic, is always serde-saphyr's.
//! `tests/fuzz.rs` and the unit tests compare the two on the same inputs.

use super::yaml::{Entry, MAX_DEPTH, MAX_NODES, Node, Value};
use crate::source::{FileId, Span};
use serde_json::Number;
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle};

/// The parser stops a file long before these; the full path reports them.
const MAX_EVENTS: usize = 500_000;
const MAX_SCALAR_BYTES: usize = 16 * 1024 * 1024;

enum Frame {
    Seq(Span, Vec<Node>),
    Map(Span, Vec<Entry>, Option<(String, Span)>),
}

/// The tree of `text`, or `None` when the full parser must decide.
pub fn parse(file: FileId, text: &str) -> Option<Node> {
    if text.len() >= SPLIT_AT
        && let Some(node) = split(file, text)
    {
        return Some(node);
    }
    parse_at(file, text, 0)
}

/// Files this large are read in pieces, one per core, when they can be.
const SPLIT_AT: usize = 256 * 1024;

/// A large file is almost always one long list (the `streams:` list of a
/// common.yaml): its items are read in parallel, in runs of whole items,
/// and the rest of the file (the list blanked out, so every offset stays)
/// on its own. Each piece is a complete YAML document; a construct a cut
/// would break (a quoted or flow scalar running over an item's first
/// line, an alias to an anchor in another piece) makes its piece fail, and
/// then the whole file is read in one go.
pub fn split(file: FileId, text: &str) -> Option<Node> {
    use rayon::prelude::*;
    if text.lines().any(|l| l.starts_with('%')) {
        return None; // directives apply to the whole stream
    }
    let (key, region, starts) = long_list(text)?;
    // A list written at its key's own indentation starts, to the parser,
    // at its first item's content rather than at its `-`: left whole.
    if text[starts[0]..].starts_with('-') {
        return None;
    }
    let mut skeleton = text.as_bytes().to_vec();
    for b in &mut skeleton[region.clone()] {
        if *b != b'\n' {
            *b = b' ';
        }
    }
    let skeleton = String::from_utf8(skeleton).ok()?;
    let pieces = rayon::current_num_threads().max(1) * 4;
    let per = starts.len().div_ceil(pieces).max(1);
    let bounds: Vec<(usize, usize)> = starts
        .chunks(per)
        .enumerate()
        .map(|(i, chunk)| {
            let end = starts.get((i + 1) * per).copied().unwrap_or(region.end);
            (chunk[0], end)
        })
        .collect();
    let (rest, parsed) = rayon::join(
        || parse_at(file, &skeleton, 0),
        || {
            bounds
                .par_iter()
                .map(
                    |&(start, end)| match read(file, &text[start..end], start)? {
                        (_, true) => None,
                        (
                            Node {
                                value: Value::Seq(items),
                                ..
                            },
                            false,
                        ) => Some(items),
                        _ => None,
                    },
                )
                .collect::<Option<Vec<Vec<Node>>>>()
        },
    );
    let (mut rest, parsed) = (rest?, parsed?);
    let items: Vec<Node> = parsed.into_iter().flatten().collect();
    if items.len() != starts.len() {
        return None;
    }
    // The list starts where its first `-` is, as when read in one go.
    let first = &text[starts[0]..];
    let dash = starts[0] + (first.len() - first.trim_start_matches(' ').len());
    let Value::Map(entries) = &mut rest.value else {
        return None;
    };
    let entry = entries.iter_mut().find(|e| e.key == key)?;
    if entry.value.value != Value::Null {
        return None;
    }
    entry.value = Node::new(Span::new(file, dash..dash), Value::Seq(items));
    Some(rest)
}

/// The longest top-level `key:` whose value is a block list: the key, the
/// byte range of its items, and where each item starts (its line).
fn long_list(text: &str) -> Option<(String, std::ops::Range<usize>, Vec<usize>)> {
    let mut best: Option<(String, std::ops::Range<usize>, Vec<usize>)> = None;
    let mut lines = Lines::new(text).peekable();
    while let Some((at, line)) = lines.next() {
        let Some(key) = line.strip_suffix(':').filter(|k| is_plain_key(k)) else {
            continue;
        };
        // The first line with content says the list's indentation.
        let mut indent = None;
        let mut starts = Vec::new();
        let mut end = at + line.len();
        while let Some(&(next_at, next)) = lines.peek() {
            let content = next.trim_start_matches(' ');
            let depth = next.len() - content.len();
            if content.is_empty() || content.starts_with('#') {
                lines.next();
                continue;
            }
            let item = content == "-" || content.starts_with("- ");
            match indent {
                None if item => indent = Some(depth),
                None => break,
                Some(i) if depth < i || (depth == i && !item) => break,
                Some(_) => {}
            }
            if item && Some(depth) == indent {
                starts.push(next_at);
            }
            // With its line break: a block scalar's last line keeps it.
            end = (next_at + next.len() + 1).min(text.len());
            lines.next();
        }
        let longer = best.as_ref().is_none_or(|(_, r, _)| end - at > r.len());
        if !starts.is_empty() && longer {
            best = Some((key.to_owned(), starts[0]..end, starts));
        }
    }
    best
}

/// A key written plainly at the top level, as `streams` is.
fn is_plain_key(key: &str) -> bool {
    key.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Lines with the offset of their start; a line keeps no `\n`, and a
/// line with a `\r` is kept as it is (the key test then fails).
struct Lines<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines { text, at: 0 }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        if self.at >= self.text.len() {
            return None;
        }
        let rest = &self.text[self.at..];
        let len = rest.find('\n').unwrap_or(rest.len());
        let item = (self.at, &rest[..len]);
        self.at += len + 1;
        Some(item)
    }
}

/// As [`parse`], for a piece of a file that starts `offset` bytes into it
/// (spans are the file's).
pub fn parse_at(file: FileId, text: &str, offset: usize) -> Option<Node> {
    read(file, text, offset).map(|(node, _)| node)
}

/// The tree, and whether its last scalar was a block scalar (`|` or `>`),
/// whose span runs on to the next token: in a piece of a file, that is
/// not where it would end in the whole file.
fn read(file: FileId, text: &str, offset: usize) -> Option<(Node, bool)> {
    let mut last_block = false;
    let mut stack: Vec<Frame> = Vec::new();
    let mut root = None;
    let (mut events, mut nodes, mut bytes, mut documents) = (0usize, 0usize, 0usize, 0usize);
    for item in Parser::new_from_str(text) {
        let (event, span) = item.ok()?;
        events += 1;
        if events > MAX_EVENTS {
            return None;
        }
        let at = || -> Option<Span> {
            let (start, end) = (span.start.byte_offset()?, span.end.byte_offset()?);
            (start <= end && end <= text.len())
                .then(|| Span::new(file, offset + start..offset + end))
        };
        let node = match event {
            Event::StreamStart | Event::DocumentEnd | Event::StreamEnd => continue,
            Event::Comment(..) => continue,
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return None;
                }
                continue;
            }
            Event::Scalar(value, style, anchor, tag) => {
                if anchor != 0 || tag.is_some() {
                    return None;
                }
                nodes += 1;
                bytes += value.len();
                if nodes > MAX_NODES || bytes > MAX_SCALAR_BYTES {
                    return None;
                }
                let span = at()?;
                last_block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
                let resolved = if style == ScalarStyle::Plain {
                    plain(&value)?
                } else {
                    Value::String(value.into_owned())
                };
                // A key: only text keys, and never the merge key.
                if let Some(Frame::Map(_, _, key @ None)) = stack.last_mut() {
                    match resolved {
                        Value::String(s) if s != "<<" => *key = Some((s, span)),
                        _ => return None,
                    }
                    continue;
                }
                Node::new(span, resolved)
            }
            Event::SequenceStart(_, anchor, ref tag) | Event::MappingStart(_, anchor, ref tag) => {
                if anchor != 0 || tag.is_some() || stack.len() >= MAX_DEPTH {
                    return None;
                }
                nodes += 1;
                if nodes > MAX_NODES {
                    return None;
                }
                // A mapping or list as a key: the full parser decides.
                if let Some(Frame::Map(_, _, None)) = stack.last() {
                    return None;
                }
                let span = at()?;
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq(span, Vec::new())
                } else {
                    Frame::Map(span, Vec::new(), None)
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop()? {
                Frame::Seq(span, items) => Node::new(span, Value::Seq(items)),
                Frame::Map(span, entries, None) => Node::new(span, Value::Map(entries)),
                Frame::Map(_, _, Some(_)) => return None,
            },
            _ => return None,
        };
        match stack.last_mut() {
            Some(Frame::Seq(_, items)) => items.push(node),
            Some(Frame::Map(_, entries, key)) => {
                let (key, key_span) = key.take()?;
                entries.push(Entry {
                    key,
                    key_span,
                    value: node,
                });
            }
            None => {
                if root.is_some() {
                    return None;
                }
                root = Some(node);
            }
        }
    }
    if !stack.is_empty() {
        return None;
    }
    root.map(|node| (node, last_block))
}

/// A plain scalar resolved as serde-saphyr resolves it for sluice (YAML
/// 1.2 core, booleans strict, leading-zero and underscored numbers kept as
/// text), or `None` where it would be an error.
fn plain(s: &str) -> Option<Value> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        _ => {}
    }
    // Whitespace around the text is trimmed before numbers are tried; a
    // plain scalar has none, but the full parser decides if it does.
    if s.starts_with([' ', '\t', '\r', '\n']) || s.ends_with([' ', '\t', '\r', '\n']) {
        return None;
    }
    let text = || Some(Value::String(s.to_owned()));
    let first = s.as_bytes()[0];
    // Every number, and every spelling that might be one, starts with a
    // digit, a sign or a dot.
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        // `inf`, `nan` and `infinity` are text to serde-saphyr, but Rust's
        // float parser reads them: no need to ask it.
        return text();
    }
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if s.contains('_')
        || (digits.len() > 1
            && digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit()))
    {
        return text();
    }
    if let Some(n) = integer(s) {
        return Some(Value::Number(n));
    }
    if matches!(digits, ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF") {
        return None;
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Number::from_f64(v).map(Value::Number),
        // An overflowing numeral is an error in the full parser.
        Ok(_) if digits.as_bytes().first().is_some_and(u8::is_ascii_digit) => None,
        _ => text(),
    }
}

/// An integer in decimal (no leading zero), `0x`, `0o` or `0b` form with
/// an optional sign, if it fits the 64 bits serde-saphyr reads.
fn integer(s: &str) -> Option<Number> {
    let (negative, rest) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(d) = rest.strip_prefix("0x").or(rest.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = rest.strip_prefix("0o").or(rest.strip_prefix("0O")) {
        (8, d)
    } else if let Some(d) = rest.strip_prefix("0b").or(rest.strip_prefix("0B")) {
        (2, d)
    } else {
        (10, rest)
    };
    if digits.is_empty() || !digits.bytes().all(|b| (b as char).is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    if negative {
        let v = i128::try_from(magnitude).ok()?.checked_neg()?;
        i64::try_from(v).ok().map(Number::from)
    } else {
        u64::try_from(magnitude).ok().map(Number::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain scalars the two paths must read alike (the full path is the
    /// oracle; `None` from the fast path means it defers).
    #[test]
    fn plain_scalars_agree_with_serde_saphyr() {
        let words = [
            "1",
            "-1",
            "+1",
            "0",
            "-0",
            "+0",
            "00",
            "0755",
            "-0755",
            "1_000",
            "0x1F",
            "0X1f",
            "-0x10",
            "0o17",
            "0O17",
            "0b101",
            "0x",
            "0o",
            "0b",
            "0xG",
            "1.5",
            "-1.5",
            "+1.5",
            ".5",
            "-.5",
            "1.",
            "1e3",
            "1E3",
            "1e+3",
            "-1.0e-3",
            "4.10",
            "1.10",
            "3.5.1",
            "1e",
            "e1",
            "inf",
            "-inf",
            "nan",
            "NaN",
            "Infinity",
            "infinity",
            ".inf",
            "-.inf",
            ".nan",
            ".Inf",
            "1e999",
            "-1e999",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999999",
            "yes",
            "no",
            "on",
            "off",
            "y",
            "n",
            "True",
            "TRUE",
            "tRUE",
            "false",
            "null",
            "Null",
            "NULL",
            "nULL",
            "~",
            "10 seconds",
            "--topic",
            "-Xmx4g",
            "1800m",
            "4g",
            "1h",
            "12:30",
            "2024-01-01",
            "1,000",
            "+",
            "-",
            ".",
            "+.",
            "-.",
            "0.",
            "0.0",
            "-0.0",
            "1__0",
            "0x_1",
            "x1",
            "_1",
            "1_",
            "0e0",
            "1e-999",
        ];
        for word in words {
            let text = format!("v: {word}\n");
            let full = super::super::yaml::full(FileId(0), &text);
            let fast = parse(FileId(0), &text);
            match (&full, &fast) {
                (Ok(full), Some(fast)) => assert_eq!(full, fast, "{word}"),
                (_, None) => {}
                (Err(d), Some(_)) => panic!(
                    "{word}: the full parser refuses it ({}) but the fast one reads it",
                    d.message
                ),
            }
        }
    }

    #[test]
    fn defers_on_what_it_does_not_read() {
        for text in [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "<<: {a: 1}\n",
            "? [a]\n: 1\n",
            "1: a\n",
            "a: 1\n---\nb: 2\n",
            "a: .inf\n",
            "a: [1\n",
            "a:\n\tb: 1\n",
        ] {
            assert!(parse(FileId(0), text).is_none(), "{text:?}");
        }
    }
}

#[cfg(test)]
mod corpus {
    use super::*;

    /// Every YAML file of the repository's own examples and test fixtures,
    /// read both ways: where the fast path reads a file, it reads what
    /// serde-saphyr reads, spans included.
    #[test]
    fn fixtures_read_alike() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        let mut dirs = vec![
            root.join("values"),
            root.join("tests/fixtures"),
            root.join("examples"),
        ];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                    files.push(path);
                }
            }
        }
        let (mut read, mut deferred) = (0, 0);
        for path in &files {
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            let full = super::super::yaml::full(FileId(0), &text);
            match (full, parse(FileId(0), &text)) {
                (Ok(full), Some(fast)) => {
                    assert_eq!(full, fast, "{}", path.display());
                    read += 1;
                }
                (Err(d), Some(_)) => panic!(
                    "{}: refused the full way ({}) but read fast",
                    path.display(),
                    d.message
                ),
                (_, None) => deferred += 1,
            }
        }
        eprintln!("{read} files read fast, {deferred} deferred");
        assert!(read > deferred, "{read} read fast, {deferred} deferred");
    }
}

#[cfg(test)]
mod pieces {
    use super::*;

    /// Read in pieces or in one go, a file is the same tree, spans
    /// included; where a cut would change it, the pieces step aside.
    #[test]
    fn split_reads_what_one_go_reads() {
        let item = |i: usize| {
            format!(
                "  - name: s-{i}\n    # a comment\n    arguments: [--a, {i}, \"x y\"]\n    executor:\n      instances: {i}\n      env: {{A: 'b'}}\n    block: |\n      line one\n        - not an item\n    list:\n    - a\n    - {{b: c}}\n\n"
            )
        };
        let many = |n: usize, head: &str, tail: &str| {
            let mut t = head.to_owned();
            for i in 0..n {
                t.push_str(&item(i));
            }
            t.push_str(tail);
            t
        };
        let cases = [
            many(
                40,
                "spark:\n  version: \"3.5.1\"\nstreams:\n",
                "sink: s3a://x\n",
            ),
            many(1, "streams:\n", ""),
            many(9, "# head\nstreams:\n# between\n", "# trailing comment\n"),
            many(9, "a: 1\nstreams:\n", "b:\n  - 1\n  - 2\n"),
        ];
        let unindented = many(5, "streams:\n", "")
            .replace("  - name", "- name")
            .replace("\n    ", "\n  ");
        assert!(split(FileId(0), &unindented).is_none());
        for text in &cases {
            let whole = parse_at(FileId(0), text, 0).expect("reads in one go");
            let pieces = split(FileId(0), text).expect("reads in pieces");
            assert!(whole == pieces, "read otherwise in pieces: {text}");
        }
        // Cuts that would change the meaning: the pieces refuse them.
        for text in [
            many(3, "streams:\n", "").replace("[--a,", "[--a,\n  - b,"),
            many(3, "streams:\n", "").replace("name: s-1", "name: \"s-1\n  - x\""),
            format!("{}  - &a {{x: 1}}\n  - *a\n", many(3, "streams:\n", "")),
            format!("%YAML 1.2\n---\n{}", many(3, "streams:\n", "")),
        ] {
            let pieces = split(FileId(0), &text);
            let whole = parse_at(FileId(0), &text, 0);
            assert!(pieces.is_none() || pieces == whole, "{text}");
        }
    }
}
