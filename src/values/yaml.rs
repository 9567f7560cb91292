//! Parse one YAML file into a tree that remembers where every node came from
//! (pure: text in, tree or diagnostic out).
//!
//! serde-saphyr does the parsing; this module only asks it for a
//! `Spanned` value at every node, so the merged values can point back at the
//! exact file, line and column that set them. Duplicate keys, multiple
//! documents, tab indentation, alias bombs and deep nesting are rejected by
//! the parser under the limits set in [`options`].

use crate::diag::Diagnostic;
use crate::source::{FileId, Span};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;
use serde_saphyr::Spanned;
use std::fmt;

/// Deepest nesting sluice accepts. Values files rarely go past 8 levels;
/// the limit keeps every later recursive stage safe from stack exhaustion.
pub const MAX_DEPTH: usize = 32;

/// Longest key sluice reads, in characters: YAML's own limit for a key
/// written plainly (`key: value`); only the explicit `? key` form can be
/// longer. Every later stage (validation, suggestions, secret detection,
/// reports) reads keys whole, and no setting is named by a kilobyte.
pub const MAX_KEY_CHARS: usize = 1024;

/// Most nodes (mappings, lists and scalars: every key and every value)
/// sluice reads from one file. A large values file has a few thousand;
/// the limit bounds the time and memory every later stage spends on one.
pub const MAX_NODES: usize = 200_000;

/// One YAML node with its span, and the spans of the values it replaced when
/// layers were merged (empty for a freshly parsed node).
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
    pub overrides: Vec<Span>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// A mapping entry; keys are always text (YAML scalar keys are stringified,
/// as Helm does).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

impl Node {
    pub fn new(span: Span, value: Value) -> Node {
        Node {
            span,
            value,
            overrides: Vec::new(),
        }
    }

    pub fn empty_map(span: Span) -> Node {
        Node::new(span, Value::Map(Vec::new()))
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.as_map()?.iter().find(|e| e.key == key)
    }

    /// The name of this node's type, as the user would say it.
    pub fn type_name(&self) -> &'static str {
        self.value.type_name()
    }

    /// Converts to plain JSON, dropping spans.
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::Value::Number(n.clone()),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Seq(items) => items.iter().map(Node::to_json).collect(),
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// Builds a tree from JSON, every node pointing at `span`.
    pub fn from_json(value: &serde_json::Value, span: Span) -> Node {
        let value = match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.clone()),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::Seq(items.iter().map(|v| Node::from_json(v, span)).collect())
            }
            serde_json::Value::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| Entry {
                        key: k.clone(),
                        key_span: span,
                        value: Node::from_json(v, span),
                    })
                    .collect(),
            ),
        };
        Node::new(span, value)
    }

    /// Follows a JSON pointer (`/executor/memory`, `/streams/0/name`) as far
    /// as it goes. Returns the deepest node reached, the span of the key that
    /// led to it (if it was reached through a mapping), and whether the whole
    /// pointer was found.
    pub fn walk<'a>(&'a self, pointer: &str) -> Walk<'a> {
        let mut node = self;
        let mut key_span = None;
        let done = |node, key_span, complete| Walk {
            node,
            key_span,
            complete,
        };
        // The segments after the first `/`, split by hand: the checks walk
        // short pointers hundreds of thousands of times.
        let bytes = pointer.as_bytes();
        let slash = |from: usize| bytes[from..].iter().position(|&b| b == b'/');
        let Some(first) = slash(0) else {
            return done(node, key_span, true);
        };
        let mut start = first + 1;
        loop {
            let end = slash(start).map_or(bytes.len(), |i| start + i);
            let raw = &pointer[start..end];
            let segment = crate::json::token(raw);
            let next = match &node.value {
                Value::Map(entries) => entries.iter().find(|e| e.key == *segment).map(|e| {
                    key_span = Some(e.key_span);
                    &e.value
                }),
                Value::Seq(items) => segment
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i))
                    .inspect(|_| key_span = None),
                _ => None,
            };
            match next {
                Some(next) => node = next,
                None => return done(node, key_span, false),
            }
            if end == bytes.len() {
                return done(node, key_span, true);
            }
            start = end + 1;
        }
    }
}

/// The result of [`Node::walk`].
pub struct Walk<'a> {
    pub node: &'a Node,
    pub key_span: Option<Span>,
    pub complete: bool,
}

impl Walk<'_> {
    /// Where a caret should go: the value for a scalar, the key for a
    /// mapping or list (whose own span is only its first character).
    pub fn caret(&self) -> Span {
        match (&self.node.value, self.key_span) {
            (Value::Map(_) | Value::Seq(_), Some(key)) => key,
            _ => self.node.span,
        }
    }
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_f64() => "number",
            Value::Number(_) => "integer",
            Value::String(_) => "string",
            Value::Seq(_) => "list",
            Value::Map(_) => "mapping",
        }
    }
}

/// Parser settings: YAML 1.2 scalars (`on`, `yes`, `0755` stay strings, as
/// Kubernetes and Spark expect), duplicate keys rejected, and budgets that
/// stop alias bombs and pathological nesting long before they cost time.
fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            max_events: 500_000,
            max_aliases: 1_000,
            max_nodes: MAX_NODES,
            max_documents: 1,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 100_000,
            max_replay_stack_depth: 16,
            max_alias_expansions_per_anchor: 1_000,
        },
    }
}

/// Parses a values file. An empty file (or one holding only comments) is
/// an empty mapping, as in Helm.
pub fn parse(file: FileId, text: &str) -> Result<Node, Diagnostic> {
    if is_blank(text) {
        return Ok(Node::empty_map(Span::file_start(file)));
    }
    // A file the event path reads, and that has no key problem, is done;
    // any other file gets the full path, and its diagnostics.
    if let Some(node) = super::events::parse(file, text)
        && long_key(&node).or_else(|| duplicate_key(&node)).is_none()
    {
        return Ok(node);
    }
    let node = full(file, text)?;
    match long_key(&node).or_else(|| duplicate_key(&node)) {
        Some(d) => Err(d),
        None => Ok(node),
    }
}

/// The file parsed the full way, through serde-saphyr (what
/// [`super::events`] defers to).
pub fn full(file: FileId, text: &str) -> Result<Node, Diagnostic> {
    match serde_saphyr::from_str_with_options::<Spanned<Raw>>(text, options()) {
        Ok(raw) => Ok(convert(file, text, raw)),
        Err(err) => Err(syntax_diagnostic(file, text, &err)),
    }
}

fn is_blank(text: &str) -> bool {
    text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#') || l == "---"
    })
}

fn syntax_diagnostic(file: FileId, text: &str, err: &serde_saphyr::Error) -> Diagnostic {
    use serde_saphyr::Error as E;
    let bare = err.without_snippet();
    let raw = first_line(&bare.to_string());
    let too_complex = || {
        Diagnostic::error(
            "yaml/too-complex",
            "the file nests too deeply or expands too many aliases",
        )
        .note(format!("the parser stopped with: {raw}"))
        .help(format!(
            "values files are small mappings: sluice allows {MAX_DEPTH} levels of nesting and a bounded alias expansion"
        ))
    };
    let too_many_nodes = || {
        Diagnostic::error(
            "yaml/too-complex",
            format!(
                "the file has more than {MAX_NODES} nodes (keys and values); sluice reads at most {MAX_NODES} per file"
            ),
        )
        .help("values files are small mappings: split the file, or keep data that is not configuration out of the values")
    };
    // Match on the message as well as the variant: serde-saphyr wraps some
    // errors (alias replay, budgets) in others depending on where they hit.
    let is = |needle: &str| raw.contains(needle);
    let (diagnostic, label) = match bare {
        E::DuplicateMappingKey { .. } => {
            let key = raw
                .strip_prefix("duplicate mapping key: ")
                .and_then(|rest| rest.split(", set DuplicateKeyPolicy").next())
                .unwrap_or("?");
            (
                Diagnostic::error("yaml/duplicate-key", format!("duplicate key `{key}`")).help(
                    "remove one of the two entries: other YAML tools would silently keep only the last one",
                ),
                "this key is already set above in the same mapping",
            )
        }
        _ if matches!(bare, E::MultipleDocuments { .. }) || is("Documents {") => (
            Diagnostic::error(
                "yaml/multiple-documents",
                "this file holds more than one YAML document",
            )
            .help("a values file is one mapping: remove the `---` separator, or split the file in two"),
            "a second document starts here",
        ),
        E::Budget {
            breach: serde_saphyr::budget::BudgetBreach::Nodes { .. },
            ..
        } => (too_many_nodes(), "limit reached here"),
        _ if is("Nodes {") => (too_many_nodes(), "limit reached here"),
        E::Budget { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. }
        | E::AliasReplayCounterOverflow { .. } => (too_complex(), "limit reached here"),
        _ if is("recursion limit") || is("budget breached") || (is("alias") && is("limit")) => {
            (too_complex(), "limit reached here")
        }
        _ => {
            let help = if raw.contains("tab") {
                "YAML does not allow tabs for indentation: indent with spaces"
            } else {
                "check the indentation and the quoting around this position"
            };
            (
                Diagnostic::error("yaml/syntax", format!("invalid YAML: {raw}")).help(help),
                "here",
            )
        }
    };
    let span = err
        .location()
        .filter(|l| l.line() > 0)
        .map(|l| location_span(file, text, &l))
        .unwrap_or_else(|| Span::file_start(file));
    diagnostic.at(span, label)
}

/// serde-saphyr's messages end with the location; the diagnostic shows it
/// separately.
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message).trim();
    let line = match line.find(" at line ") {
        Some(i) => &line[..i],
        None => line,
    };
    let mut line = line.trim_end_matches([':', '.']).to_owned();
    if let Some(first) = line.get(..1) {
        let lower = first.to_lowercase();
        line.replace_range(..1, &lower);
    }
    line
}

fn location_span(file: FileId, text: &str, location: &serde_saphyr::Location) -> Span {
    let span = location.span();
    if let (Some(offset), Some(len)) = (span.byte_offset(), span.byte_len()) {
        // Unknown byte positions come back as u32::MAX.
        let (start, end) = (offset as usize, offset as usize + len as usize);
        if end <= text.len() && text.is_char_boundary(start) && text.is_char_boundary(end) {
            return Span::new(file, start..end);
        }
    }
    let src = crate::source::SourceFile::new("", text);
    let start = src.offset_of(location.line() as usize, location.column() as usize);
    Span::new(file, start..start)
}

/// Where a node's text is: for a value reached through an alias or a
/// merge key, the anchored definition (that is the text to fix).
fn spanned_span<T>(file: FileId, text: &str, spanned: &Spanned<T>) -> Span {
    location_span(file, text, &spanned.defined)
}

fn convert(file: FileId, text: &str, raw: Spanned<Raw>) -> Node {
    let span = spanned_span(file, text, &raw);
    let value = match raw.value {
        Raw::Null => Value::Null,
        Raw::Bool(b) => Value::Bool(b),
        Raw::Number(n) => Value::Number(n),
        Raw::String(s) => Value::String(s),
        Raw::Seq(items) => Value::Seq(
            items
                .into_iter()
                .map(|item| convert(file, text, item))
                .collect(),
        ),
        Raw::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(key, value)| Entry {
                    key_span: spanned_span(file, text, &key),
                    key: key.value.0,
                    value: convert(file, text, value),
                })
                .collect(),
        ),
    };
    Node::new(span, value)
}

/// The first key longer than [`MAX_KEY_CHARS`].
fn long_key(node: &Node) -> Option<Diagnostic> {
    match &node.value {
        Value::Map(entries) => entries.iter().find_map(|e| {
            let long = e.key.len() > MAX_KEY_CHARS && e.key.chars().count() > MAX_KEY_CHARS;
            if !long {
                return long_key(&e.value);
            }
            Some(
                Diagnostic::error(
                    "yaml/too-complex",
                    format!(
                        "a key of {} characters; sluice reads keys of at most {MAX_KEY_CHARS} characters",
                        e.key.chars().count()
                    ),
                )
                .at(e.key_span, "this key")
                .help("a key names a setting: put long text in a value"),
            )
        }),
        Value::Seq(items) => items.iter().find_map(long_key),
        _ => None,
    }
}

/// Keys that differ in YAML (`1`, `"1"`, `1.0`) but are the same text once
/// stringified, as Kubernetes and sluice see them.
fn duplicate_key(node: &Node) -> Option<Diagnostic> {
    match &node.value {
        Value::Map(entries) => {
            let mut seen: std::collections::HashMap<&str, usize> =
                std::collections::HashMap::with_capacity(entries.len());
            for (i, e) in entries.iter().enumerate() {
                if let Some(first) = seen.insert(e.key.as_str(), i).map(|j| &entries[j]) {
                    return Some(
                        Diagnostic::error("yaml/duplicate-key", format!("duplicate key `{}`", e.key))
                            .at(e.key_span, "the same key as above, once read as text")
                            .also(first.key_span, "first set here")
                            .help("keys are compared as text: `1`, `\"1\"` and `1.0` are the same key; keep one"),
                    );
                }
            }
            entries.iter().find_map(|e| duplicate_key(&e.value))
        }
        Value::Seq(items) => items.iter().find_map(duplicate_key),
        _ => None,
    }
}

/// The parser's view of a node, before spans are resolved to file offsets.
enum Raw {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Key>, Spanned<Raw>)>),
}

struct Key(String);

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Raw, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Number(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Raw, E> {
        Ok(Raw::String(v.to_string()))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Raw, E> {
        Ok(Raw::String(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw, E> {
        Number::from_f64(v)
            .map(Raw::Number)
            .ok_or_else(|| E::custom("NaN and infinite numbers are not allowed in values"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::String(v))
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Raw, E> {
        Err(E::custom("binary values are not supported in values files"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Raw>>()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Key>>()? {
            let value = map.next_value::<Spanned<Raw>>()?;
            entries.push((key, value));
        }
        Ok(Raw::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_any(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar mapping key")
    }

    fn visit_str<E>(self, v: &str) -> Result<Key, E> {
        Ok(Key(v.to_owned()))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Key, E> {
        Ok(Key(v.to_string()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Key, E> {
        Ok(Key(v.to_string()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Key, E> {
        Ok(Key(v.to_string()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Key, E> {
        // `1.0` is the key `1` once stringified, as in Helm.
        Ok(Key(if v.fract() == 0.0 && v.abs() < 1e15 {
            format!("{}", v as i64)
        } else {
            v.to_string()
        }))
    }

    fn visit_unit<E>(self) -> Result<Key, E> {
        Ok(Key("null".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: FileId = FileId(0);

    fn parse_ok(text: &str) -> Node {
        parse(F, text).unwrap_or_else(|d| panic!("{}: {}", d.code, d.message))
    }

    fn code(text: &str) -> &'static str {
        parse(F, text).expect_err("should fail").code
    }

    #[test]
    fn keeps_key_and_value_spans() {
        let text = "executor:\n  memory: 4g\n  cores: 2\n";
        let node = parse_ok(text);
        let walk = node.walk("/executor/memory");
        assert!(walk.complete);
        assert_eq!(&text[walk.node.span.range()], "4g");
        assert_eq!(&text[walk.key_span.unwrap().range()], "memory");
        assert_eq!(node.walk("/executor").caret(), walk_key(&node, "executor"));
    }

    fn walk_key(node: &Node, key: &str) -> Span {
        node.entry(key).unwrap().key_span
    }

    /// JSON pointer → where the caret goes (line, column): scalars at the
    /// value, containers at their key, missing keys at the deepest parent.
    #[test]
    fn pointer_to_span_table() {
        let text = "spark:\n  version: \"3.5\"\ntolerations:\n  - key: a\n    effect: NoSchedule\nsparkConf:\n  spark.a/b~c: x\nargs: [--x, 1]\n";
        let file = crate::source::SourceFile::new("t.yaml", text);
        let node = parse_ok(text);
        let cases: &[(&str, (usize, usize), bool)] = &[
            ("/spark/version", (2, 12), true),
            ("/spark", (1, 1), true),
            ("/tolerations/0/effect", (5, 13), true),
            ("/tolerations/0", (4, 5), true),
            ("/tolerations", (3, 1), true),
            ("/sparkConf/spark.a~1b~0c", (7, 16), true),
            ("/args/1", (8, 13), true),
            ("/spark/image", (1, 1), false),
            ("/tolerations/3/key", (3, 1), false),
            ("", (1, 1), true),
        ];
        for (pointer, (line, column), complete) in cases {
            let walk = node.walk(pointer);
            assert_eq!(walk.complete, *complete, "{pointer}");
            assert_eq!(
                file.line_col(walk.caret().start as usize),
                (*line, *column),
                "{pointer}"
            );
        }
    }

    #[test]
    fn walk_stops_at_deepest_existing_parent() {
        let node = parse_ok("driver:\n  cores: 1\n");
        let walk = node.walk("/driver/memory");
        assert!(!walk.complete);
        assert_eq!(walk.node.type_name(), "mapping");
    }

    #[test]
    fn yaml_1_2_scalars() {
        let node = parse_ok("a: on\nb: yes\nc: 0755\nd: true\ne: 1_000\nf: 2.5\ng: ~\n");
        let json = node.to_json();
        assert_eq!(json["a"], "on");
        assert_eq!(json["b"], "yes");
        assert_eq!(json["c"], "0755");
        assert_eq!(json["d"], true);
        assert_eq!(json["e"], "1_000");
        assert_eq!(json["f"], 2.5);
        assert!(json["g"].is_null());
    }

    #[test]
    fn blank_file_is_an_empty_mapping() {
        assert_eq!(parse_ok("# only a comment\n").as_map().unwrap().len(), 0);
        assert_eq!(parse_ok("").as_map().unwrap().len(), 0);
    }

    #[test]
    fn rejects_what_helm_would_silently_accept() {
        assert_eq!(code("a: 1\na: 2\n"), "yaml/duplicate-key");
        assert_eq!(code("a: 1\n---\nb: 2\n"), "yaml/multiple-documents");
        assert_eq!(code("a:\n\tb: 1\n"), "yaml/syntax");
        assert_eq!(code("a: [1, 2\n"), "yaml/syntax");
    }

    #[test]
    fn alias_bomb_and_deep_nesting_are_bounded() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h", "i", "j"])
        {
            let refs = vec![format!("*{prev}"); 10].join(", ");
            bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        let d = parse(F, &bomb).unwrap_err();
        assert_eq!(d.code, "yaml/too-complex", "{}", d.message);
        let deep = format!("a: {}{}\n", "[".repeat(20_000), "]".repeat(20_000));
        let d = parse(F, &deep).unwrap_err();
        assert_eq!(d.code, "yaml/too-complex", "{}", d.message);
    }

    #[test]
    fn a_long_key_is_refused() {
        let key = "k".repeat(MAX_KEY_CHARS + 1);
        let d = parse(F, &format!("a:\n  ? {key}\n  : 1\n")).unwrap_err();
        assert_eq!(d.code, "yaml/too-complex", "{}", d.message);
        assert!(
            d.message
                .contains("sluice reads keys of at most 1024 characters"),
            "{}",
            d.message
        );
        let key = "é".repeat(MAX_KEY_CHARS);
        assert!(
            parse(F, &format!("? {key}\n: 1\n")).is_ok(),
            "characters, not bytes"
        );
    }

    #[test]
    fn too_many_nodes_names_the_limit() {
        let keys: String = (0..MAX_NODES / 2 + 1)
            .map(|i| format!("k{i}: 1\n"))
            .collect();
        let d = parse(F, &keys).unwrap_err();
        assert_eq!(d.code, "yaml/too-complex", "{}", d.message);
        assert!(
            d.message.contains(&format!("more than {MAX_NODES} nodes")),
            "{}",
            d.message
        );
        assert!(
            d.primary.is_some_and(|l| l.span.start > 0),
            "located at the breach"
        );
    }
}
