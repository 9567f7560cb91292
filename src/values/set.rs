//! `--set`, `--set-string`, `--set-file` and `--set-literal` flags, applied
//! onto the merged values with Helm's strvals rules (pure).
//!
//! This is a port of Helm's `pkg/strvals` parser (`parser.go` and
//! `literal_parser.go`): the text is read left to right and edits the tree
//! it is given, so `list[0].key=v` edits the first item of the list the
//! values files built, an index past the end pads the list with `null`, and
//! a path through a value of the wrong kind is an error, all as Helm does.
//! `tests/strvals.rs` runs Helm's own test table through it.
//!
//! sluice is stricter than Helm where Helm ends without error but sets
//! nothing the text names: an unclosed `[`, an empty key (`=1`, `a..b=1`,
//! `[0]=x`) and a key ending in `.` are errors. And where Helm builds a list
//! item but drops it because the text ended (`list[0].key=` as the last
//! item on an empty list), sluice keeps it. Reading `--set-file` files is
//! the caller's: the parser asks a reader for each value.

// Every step's error is the one finding the flag gets, built at most once
// per flag and stream: boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use super::yaml::{Entry, Node, Value};
use crate::diag::Diagnostic;
use crate::source::{FileId, Span};

/// Helm's `MaxIndex`: the largest list index a flag may name.
pub const MAX_INDEX: i64 = 65536;

/// The most `null`s one flag may pad lists with (beyond Helm, which has no
/// bound): four lists padded to [`MAX_INDEX`].
pub const MAX_PADDING: usize = 4 * (MAX_INDEX as usize + 1);

/// Helm's `MaxNestedNameLevel`: the most `.`s a key may have.
pub const MAX_NESTED_NAME_LEVEL: usize = 30;

/// Which flag: each reads values its own way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `--set`: `true`, `false`, `null` and integers are typed.
    Typed,
    /// `--set-string`: every value is a string.
    String,
    /// `--set-file`: every value is a path, replaced by the file's text.
    File,
    /// `--set-literal`: one key; its value is the rest of the text, as is.
    Literal,
}

impl Kind {
    pub fn flag(self) -> &'static str {
        match self {
            Kind::Typed => "--set",
            Kind::String => "--set-string",
            Kind::File => "--set-file",
            Kind::Literal => "--set-literal",
        }
    }
}

/// Helm's order (`MergeValues` in `pkg/cli/values/options.go`): every
/// `--set`, then every `--set-string`, `--set-file`, `--set-literal`.
pub const ORDER: [Kind; 4] = [Kind::Typed, Kind::String, Kind::File, Kind::Literal];

/// One flag, checked and ready to apply to each stream's values.
#[derive(Clone, Debug)]
pub struct Flag {
    pub kind: Kind,
    /// The flag's text, as a source for spans.
    pub file: FileId,
    pub text: String,
    /// `--set-file`: each file's text, by the offset of its path in `text`.
    pub contents: Vec<(usize, String)>,
}

/// What a reader gives back for one value's text.
pub type Reader<'a> = dyn FnMut(&str, Span) -> Result<Value, Diagnostic> + 'a;

/// Parses one flag's text into an empty tree (Helm's `Parse`,
/// `ParseString`, `ParseLiteral`, or `ParseFile` with `reader`).
pub fn parse(
    file: FileId,
    text: &str,
    kind: Kind,
    reader: &mut Reader,
) -> Result<Node, Diagnostic> {
    let mut root = Node::empty_map(Span::new(file, 0..text.len()));
    parse_into(&mut root, file, text, kind, reader)?;
    Ok(root)
}

/// [`parse`], keeping what was read before an error (for masking).
pub fn parse_partial(
    file: FileId,
    text: &str,
    kind: Kind,
    reader: &mut Reader,
) -> (Node, Option<Diagnostic>) {
    let mut root = Node::empty_map(Span::new(file, 0..text.len()));
    let error = parse_into(&mut root, file, text, kind, reader).err();
    (root, error)
}

/// Parses one flag's text into `dest`, a mapping (Helm's `ParseInto`,
/// `ParseIntoString`, `ParseLiteralInto`, `ParseIntoFile`). For
/// [`Kind::Typed`] and [`Kind::String`] `reader` is not called.
pub fn parse_into(
    dest: &mut Node,
    file: FileId,
    text: &str,
    kind: Kind,
    reader: &mut Reader,
) -> Result<(), Diagnostic> {
    let Value::Map(entries) = &mut dest.value else {
        return Err(
            Diagnostic::error("set/conflict", "the values are not a mapping")
                .at(Span::new(file, 0..text.len()), "here")
                .help("--set edits a mapping of values"),
        );
    };
    let mut parser = Parser {
        text,
        pos: 0,
        file,
        kind,
        reader,
        unclosed: None,
        padded: 0,
    };
    loop {
        match parser.key(entries, 0, 0, false)? {
            Flow::Set => {}
            Flow::Nothing => return Ok(()),
        }
    }
}

/// The reader of `--set` and `--set-string`: Helm's typing of a value.
pub fn typed(text: &str, kind: Kind) -> Value {
    if kind != Kind::Typed {
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

/// Applies `flags` in order onto `values` (the merged values of one stream
/// in one environment), as Helm's `MergeValues` applies its flags onto the
/// merged values files; the first error stops, as in Helm. Afterwards a
/// `null` a flag set in a mapping removes its key, as Helm's coalescing does.
pub fn apply(values: &mut Node, flags: &[Flag]) -> Result<(), Diagnostic> {
    if flags.is_empty() {
        return Ok(());
    }
    for flag in flags {
        let mut reader = |raw: &str, span: Span| -> Result<Value, Diagnostic> {
            if flag.kind != Kind::File {
                return Ok(typed(raw, flag.kind));
            }
            let start = span.range().start;
            flag.contents
                .iter()
                .find(|(at, _)| *at == start)
                .map(|(_, text)| Value::String(text.clone()))
                .ok_or_else(|| {
                    Diagnostic::error("set/file", "this --set-file file was not read")
                        .at(span, "here")
                        .help("give each file once, as key=path")
                })
        };
        parse_into(values, flag.file, &flag.text, flag.kind, &mut reader)?;
    }
    let files: Vec<FileId> = flags.iter().map(|f| f.file).collect();
    drop_nulls(values, &files);
    Ok(())
}

fn drop_nulls(node: &mut Node, files: &[FileId]) {
    if let Value::Map(entries) = &mut node.value {
        entries.retain(|e| {
            !(matches!(e.value.value, Value::Null) && files.contains(&e.value.span.file))
        });
        for e in entries {
            drop_nulls(&mut e.value, files);
        }
    }
}

/// The top-level keys of a stream's values that no flag may set: sluice
/// takes them from the stream's definition, never from its values.
const UNREACHED: &[(&str, &str)] = &[
    (
        "name",
        "a stream's name is its file's or definition's `name`; pick streams with --stream",
    ),
    (
        "environments",
        "a stream's `environments` blocks are read from its definition only; --set applies to the environments chosen with --env",
    ),
];

/// A flag's tree that sets a key sluice would ignore (see [`UNREACHED`]).
pub fn check_reached(layer: &Node, kind: Kind) -> Option<Diagnostic> {
    let Value::Map(entries) = &layer.value else {
        return None;
    };
    entries.iter().find_map(|e| {
        let (key, help) = UNREACHED.iter().find(|(k, _)| *k == e.key)?;
        Some(
            Diagnostic::error(
                "set/ignored-key",
                format!(
                    "{} cannot set `{key}`: the values never reach it",
                    kind.flag()
                ),
            )
            .at(e.key_span, "ignored")
            .help(*help),
        )
    })
}

/// How a step of the parse ended.
#[derive(Debug, PartialEq)]
enum Flow {
    /// Something was assigned (or the text goes on).
    Set,
    /// The text ended before this step read anything (Helm's plain EOF).
    Nothing,
}

/// What a value that may be a `{a,b}` list turned out to be.
enum ListValue {
    List(Node),
    /// The text ends right after `=`.
    End,
    NotList,
}

struct Parser<'t, 'r> {
    text: &'t str,
    pos: usize,
    file: FileId,
    kind: Kind,
    reader: &'t mut Reader<'r>,
    /// The items of a list whose `}` is missing, set before the error so
    /// that masking sees them as list items.
    unclosed: Option<Node>,
    /// `null`s added to pad lists so far: `a[65536]=1,b[65536]=1,...` is
    /// valid Helm, but its memory is the text's length times the index.
    padded: usize,
}

/// What `runes_until` read: the text (escapes resolved), where it was, and
/// the stop character (`None` at the end of the text).
struct Read {
    text: String,
    start: usize,
    end: usize,
    stop: Option<char>,
}

impl Parser<'_, '_> {
    fn span(&self, range: std::ops::Range<usize>) -> Span {
        Span::new(self.file, range)
    }

    fn error(
        &self,
        range: std::ops::Range<usize>,
        message: impl Into<String>,
        help: &str,
    ) -> Diagnostic {
        // The text is not echoed: it may be a credential.
        Diagnostic::error("set/syntax", message)
            .at(self.span(range), "here")
            .help(help)
    }

    fn literal(&self) -> bool {
        self.kind == Kind::Literal
    }

    fn read_char(&mut self) -> Option<char> {
        let c = self.text[self.pos..].chars().next()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Helm's `runesUntil` (with `\` escapes) or `runesUntilLiteral`.
    fn runes_until(&mut self, stop: &[char]) -> Read {
        let start = self.pos;
        let mut text = String::new();
        loop {
            let at = self.pos;
            let Some(c) = self.read_char() else {
                return Read {
                    text,
                    start,
                    end: at,
                    stop: None,
                };
            };
            if stop.contains(&c) {
                return Read {
                    text,
                    start,
                    end: at,
                    stop: Some(c),
                };
            }
            if c == '\\' && !self.literal() {
                match self.read_char() {
                    Some(next) => text.push(next),
                    None => {
                        return Read {
                            text,
                            start,
                            end: self.pos,
                            stop: None,
                        };
                    }
                }
            } else {
                text.push(c);
            }
        }
    }

    fn read_value(&mut self, raw: &str, range: std::ops::Range<usize>) -> Result<Node, Diagnostic> {
        let span = self.span(range);
        let value = (self.reader)(raw, span)?;
        Ok(Node::new(span, value))
    }

    fn check_depth(&self, depth: usize, at: std::ops::Range<usize>) -> Result<(), Diagnostic> {
        if depth >= super::yaml::MAX_DEPTH {
            return Err(self.error(
                at,
                format!(
                    "this key is nested more than {} levels deep",
                    super::yaml::MAX_DEPTH
                ),
                &format!("values nest at most {} levels", super::yaml::MAX_DEPTH),
            ));
        }
        Ok(())
    }

    /// Helm's `parser.key`: reads one key and what follows it into `data`.
    /// `after_dot`: the key follows a `.`, so the text may not end here.
    fn key(
        &mut self,
        data: &mut Vec<Entry>,
        level: usize,
        depth: usize,
        after_dot: bool,
    ) -> Result<Flow, Diagnostic> {
        let stop: &[char] = if self.literal() {
            &['=', '[', '.']
        } else {
            &['=', '[', ',', '.']
        };
        let read = self.runes_until(stop);
        let key_range = read.start..read.end;
        let stop_range = read.end..self.pos;
        match read.stop {
            None if read.text.is_empty() && read.start == read.end => {
                if after_dot {
                    return Err(self.error(
                        read.start.saturating_sub(1)..read.start,
                        "the key ends with `.`",
                        "write key.path=value",
                    ));
                }
                Ok(Flow::Nothing)
            }
            None => Err(self.error(
                key_range,
                format!("this {} item has no `=`", self.kind.flag()),
                "write key.path=value, for example --set executor.instances=4",
            )),
            Some(',') => Err(if read.start == read.end {
                self.error(
                    stop_range,
                    "an empty item before this `,`",
                    "write key=value,key=value",
                )
            } else {
                self.error(
                    key_range,
                    format!("this {} item has no `=`", self.kind.flag()),
                    "write key=value,key=value; a `,` inside a value is written `\\,`",
                )
            }),
            Some(_) if read.text.is_empty() => Err(self.error(
                if read.start == read.end {
                    stop_range
                } else {
                    key_range
                },
                match read.stop {
                    Some('.') => "empty key before this `.`",
                    Some('[') => "a list index needs a key before it",
                    _ => "no key before `=`",
                },
                "start each item with a key and separate keys with a single `.`: a.b[0].c=value",
            )),
            Some('[') => {
                self.check_depth(depth, key_range.clone())?;
                let (index, index_range) = self.key_index(stop_range.start)?;
                let key_span = self.span(key_range);
                let (mut list, old) = match take(data, &read.text) {
                    None => (Vec::new(), None),
                    Some(old) => match old.value {
                        Value::Seq(items) => (
                            items,
                            Some(Node {
                                span: old.span,
                                value: Value::Null,
                                overrides: old.overrides,
                            }),
                        ),
                        other => {
                            let old = Node {
                                value: other,
                                ..old
                            };
                            let d = self.conflict(key_span, &old, "a list");
                            put(data, &read.text, key_span, old);
                            return Err(d);
                        }
                    },
                };
                let flow = self.list_item(&mut list, index, index_range, level, depth + 1);
                let span = old.as_ref().map_or(key_span, |o| o.span);
                let overrides = old.map(|o| o.overrides).unwrap_or_default();
                put(
                    data,
                    &read.text,
                    key_span,
                    Node {
                        span,
                        value: Value::Seq(list),
                        overrides,
                    },
                );
                flow
            }
            Some('=') => {
                let key_span = self.span(key_range);
                if self.literal() {
                    let start = self.pos;
                    self.pos = self.text.len();
                    let value = Node::new(
                        self.span(start..self.pos),
                        Value::String(self.text[start..].to_owned()),
                    );
                    set(data, &read.text, key_span, value);
                    return Ok(Flow::Set);
                }
                let listed = self.val_list();
                if let Some(partial) = self.unclosed.take() {
                    set(data, &read.text, key_span, partial);
                }
                let value = match listed? {
                    ListValue::List(node) => node,
                    ListValue::End => {
                        Node::new(self.span(self.pos..self.pos), Value::String(String::new()))
                    }
                    ListValue::NotList => {
                        let raw = self.runes_until(&[',']);
                        self.read_value(&raw.text, raw.start..raw.end)?
                    }
                };
                set(data, &read.text, key_span, value);
                Ok(Flow::Set)
            }
            Some(_) => {
                // `.`
                let level = level + 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return Err(self.error(
                        key_range,
                        format!(
                            "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
                        ),
                        &format!("a --set key has at most {MAX_NESTED_NAME_LEVEL} `.`s"),
                    ));
                }
                self.check_depth(depth, key_range.clone())?;
                let key_span = self.span(key_range);
                let mut inner = match take(data, &read.text) {
                    None => None,
                    Some(old) => match old.value {
                        Value::Map(_) => Some(old),
                        other => {
                            let old = Node {
                                value: other,
                                ..old
                            };
                            let d = self.conflict(key_span, &old, "a mapping");
                            put(data, &read.text, key_span, old);
                            return Err(d);
                        }
                    },
                };
                let existed = inner.is_some();
                let mut node = inner.take().unwrap_or_else(|| Node::empty_map(key_span));
                let Value::Map(entries) = &mut node.value else {
                    unreachable!("a mapping was just taken or made")
                };
                let flow = self.key(entries, level, depth + 1, true);
                let filled = !entries.is_empty();
                if filled || existed {
                    put(data, &read.text, key_span, node);
                }
                match flow? {
                    Flow::Set if !filled => Err(self.error(
                        key_span.range(),
                        "this key has no value",
                        "write key.path=value",
                    )),
                    _ => Ok(Flow::Set),
                }
            }
        }
    }

    /// Helm's `keyIndex`: the index after `[` (at `open`), up to `]`.
    fn key_index(&mut self, open: usize) -> Result<(i64, std::ops::Range<usize>), Diagnostic> {
        let read = self.runes_until(&[']']);
        let range = open..self.pos;
        if read.stop.is_none() {
            return Err(self.error(range, "`[` without `]`", "index lists as name[0]"));
        }
        // Go's strconv.Atoi: an optional sign, then decimal digits.
        let digits = read.text.strip_prefix(['+', '-']).unwrap_or(&read.text);
        let index = (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| read.text.trim_start_matches('+').parse::<i64>().ok())
            .flatten()
            .ok_or_else(|| {
                self.error(
                    range.clone(),
                    "this is not a list index",
                    "a list index is a non-negative integer: name[0]",
                )
            })?;
        Ok((index, range))
    }

    /// Helm's `listItem`: what follows `[i]`, into `list`.
    fn list_item(
        &mut self,
        list: &mut Vec<Node>,
        index: i64,
        index_range: std::ops::Range<usize>,
        level: usize,
        depth: usize,
    ) -> Result<Flow, Diagnostic> {
        if index < 0 {
            return Err(self.error(
                index_range,
                format!("negative {index} index not allowed"),
                "a list index is a non-negative integer: name[0]",
            ));
        }
        let index_span = self.span(index_range.clone());
        let read = self.runes_until(&['[', '.', '=']);
        if read.start != read.end {
            return Err(self.error(
                read.start..read.end,
                "unexpected text after `]`",
                "after name[0] comes `=`, `.` or another `[`",
            ));
        }
        match read.stop {
            None => Ok(Flow::Nothing),
            Some('=') => {
                let value = if self.literal() {
                    let start = self.pos;
                    self.pos = self.text.len();
                    Node::new(
                        self.span(start..self.pos),
                        Value::String(self.text[start..].to_owned()),
                    )
                } else {
                    let listed = self.val_list();
                    if let Some(partial) = self.unclosed.take() {
                        self.set_index(list, index, index_range.clone(), partial)?;
                    }
                    match listed? {
                        ListValue::List(node) => node,
                        ListValue::End => {
                            Node::new(self.span(self.pos..self.pos), Value::String(String::new()))
                        }
                        ListValue::NotList => {
                            let raw = self.runes_until(&[',']);
                            self.read_value(&raw.text, raw.start..raw.end)?
                        }
                    }
                };
                self.set_index(list, index, index_range, value)?;
                Ok(Flow::Set)
            }
            Some('[') => {
                self.check_depth(depth, index_range.clone())?;
                let open = self.pos - 1;
                let (next, next_range) = self.key_index(open)?;
                let i = index as usize;
                let (mut inner, old) = match list.get_mut(i) {
                    Some(existing) if !matches!(existing.value, Value::Null) => {
                        let old = std::mem::replace(existing, Node::new(index_span, Value::Null));
                        match old.value {
                            Value::Seq(items) => (items, Some((old.span, old.overrides))),
                            other => {
                                let old = Node {
                                    value: other,
                                    ..old
                                };
                                let d = self.conflict(index_span, &old, "a list");
                                list[i] = old;
                                return Err(d);
                            }
                        }
                    }
                    _ => (Vec::new(), None),
                };
                let flow = self.list_item(&mut inner, next, next_range, level, depth + 1);
                let taken = old.is_some();
                let (span, overrides) = old.unwrap_or((index_span, Vec::new()));
                let node = Node {
                    span,
                    value: Value::Seq(inner),
                    overrides,
                };
                match flow? {
                    // Helm leaves the item as it was.
                    Flow::Nothing => {
                        if taken {
                            list[i] = node;
                        }
                        Ok(Flow::Nothing)
                    }
                    Flow::Set => {
                        self.replace_index(list, index, index_range, node)?;
                        Ok(Flow::Set)
                    }
                }
            }
            Some(_) => {
                // `.`: an item that is not a mapping becomes one, as in Helm.
                self.check_depth(depth, index_range.clone())?;
                let i = index as usize;
                let mut node = match list.get_mut(i) {
                    Some(existing) if matches!(existing.value, Value::Map(_)) => {
                        std::mem::replace(existing, Node::new(index_span, Value::Null))
                    }
                    Some(existing) => {
                        let old = std::mem::replace(existing, Node::new(index_span, Value::Null));
                        let mut node = Node::empty_map(index_span);
                        if !matches!(old.value, Value::Null) || !old.overrides.is_empty() {
                            node.overrides.push(old.span);
                            node.overrides.extend(old.overrides);
                        }
                        node
                    }
                    None => Node::empty_map(index_span),
                };
                let Value::Map(entries) = &mut node.value else {
                    unreachable!("a mapping was just taken or made")
                };
                let flow = self.key(entries, level, depth + 1, true);
                if let Err(d) = flow {
                    if i < list.len() {
                        list[i] = node;
                    }
                    return Err(d);
                }
                self.replace_index(list, index, index_range, node)?;
                Ok(Flow::Set)
            }
        }
    }

    /// Helm's `valList`: a `{a,b}` list right after `=`.
    fn val_list(&mut self) -> Result<ListValue, Diagnostic> {
        let open = self.pos;
        match self.read_char() {
            None => return Ok(ListValue::End),
            Some('{') => {}
            Some(_) => {
                self.pos = open;
                return Ok(ListValue::NotList);
            }
        }
        let mut items = Vec::new();
        loop {
            let read = self.runes_until(&[',', '}']);
            match read.stop {
                None => {
                    items.push(self.read_value(&read.text, read.start..read.end)?);
                    self.unclosed = Some(Node::new(self.span(open..self.pos), Value::Seq(items)));
                    return Err(self.error(
                        open..self.pos,
                        "this list has no closing `}`",
                        "write list={a,b}; escape a `,` or `}` inside an item as `\\,`, `\\}`",
                    ));
                }
                Some('}') => {
                    let close = self.pos;
                    // A `,` right after `}` is consumed; anything else is the next item's.
                    let after = self.pos;
                    if self.read_char().is_some_and(|c| c != ',') {
                        self.pos = after;
                    }
                    items.push(self.read_value(&read.text, read.start..read.end)?);
                    return Ok(ListValue::List(Node::new(
                        self.span(open..close),
                        Value::Seq(items),
                    )));
                }
                Some(_) => items.push(self.read_value(&read.text, read.start..read.end)?),
            }
        }
    }

    /// Helm's `setIndex`: pads with `null` up to `index`.
    fn set_index(
        &mut self,
        list: &mut Vec<Node>,
        index: i64,
        index_range: std::ops::Range<usize>,
        mut value: Node,
    ) -> Result<(), Diagnostic> {
        let i = self.checked_index(index, index_range.clone())?;
        let pad = self.span(index_range.clone());
        self.pad(list, i, index_range)?;
        let old = std::mem::replace(&mut list[i], Node::new(pad, Value::Null));
        if !matches!(old.value, Value::Null) || !old.overrides.is_empty() {
            value.overrides.push(old.span);
            value.overrides.extend(old.overrides);
        }
        list[i] = value;
        Ok(())
    }

    /// [`Self::set_index`] for an item rebuilt from the one it replaces.
    fn replace_index(
        &mut self,
        list: &mut Vec<Node>,
        index: i64,
        index_range: std::ops::Range<usize>,
        value: Node,
    ) -> Result<(), Diagnostic> {
        let i = self.checked_index(index, index_range.clone())?;
        self.pad(list, i, index_range)?;
        list[i] = value;
        Ok(())
    }

    fn pad(
        &mut self,
        list: &mut Vec<Node>,
        i: usize,
        range: std::ops::Range<usize>,
    ) -> Result<(), Diagnostic> {
        let missing = (i + 1).saturating_sub(list.len());
        self.padded += missing;
        if self.padded > MAX_PADDING {
            return Err(self.error(
                range,
                format!("this flag pads lists with more than {MAX_PADDING} nulls"),
                "index lists near their end, or set whole lists with key={a,b}",
            ));
        }
        let pad = self.span(range);
        list.resize_with(list.len() + missing, || Node::new(pad, Value::Null));
        Ok(())
    }

    fn checked_index(
        &self,
        index: i64,
        range: std::ops::Range<usize>,
    ) -> Result<usize, Diagnostic> {
        if index > MAX_INDEX {
            return Err(self.error(
                range,
                format!("index of {index} is greater than maximum supported index of {MAX_INDEX}"),
                &format!("--set indexes lists of at most {} items", MAX_INDEX + 1),
            ));
        }
        Ok(index as usize)
    }

    /// A path that goes through `old` as if it were `wanted`: Helm fails
    /// (a Go type assertion); so does sluice, saying where `old` is from.
    fn conflict(&self, at: Span, old: &Node, wanted: &str) -> Diagnostic {
        let what = match &old.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        };
        Diagnostic::error(
            "set/conflict",
            format!("{} treats this value as {wanted}, but it is {what}", self.kind.flag()),
        )
        .at(at, "here")
        .also(old.span, format!("{what}, set here"))
        .help("set the whole value instead (key=... or key={a,b}), or remove it first in its values file")
    }
}

/// Takes `key`'s value out of `data`, leaving a `null` in its place for
/// [`put`] (so a key keeps its place in the mapping).
fn take(data: &mut [Entry], key: &str) -> Option<Node> {
    let entry = data.iter_mut().find(|e| e.key == key)?;
    Some(std::mem::replace(
        &mut entry.value,
        Node::new(entry.key_span, Value::Null),
    ))
}

/// Puts back (or adds) `key`'s value, keeping its key span: the path went
/// through it, the flag did not replace it.
fn put(data: &mut Vec<Entry>, key: &str, key_span: Span, value: Node) {
    match data.iter_mut().find(|e| e.key == key) {
        Some(entry) => entry.value = value,
        None => data.push(Entry {
            key: key.to_owned(),
            key_span,
            value,
        }),
    }
}

/// Helm's `set`: `key` now holds `value`, which overrides what it held.
fn set(data: &mut Vec<Entry>, key: &str, key_span: Span, mut value: Node) {
    match data.iter_mut().find(|e| e.key == key) {
        Some(entry) => {
            let old = std::mem::replace(&mut entry.value, Node::new(key_span, Value::Null));
            if !matches!(old.value, Value::Null) || !old.overrides.is_empty() {
                value.overrides.push(old.span);
                value.overrides.extend(old.overrides);
            }
            entry.key_span = key_span;
            entry.value = value;
        }
        None => data.push(Entry {
            key: key.to_owned(),
            key_span,
            value,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_files(_: &str, span: Span) -> Result<Value, Diagnostic> {
        Err(Diagnostic::error("set/file", "no file").at(span, "here"))
    }

    fn parse_kind(text: &str, kind: Kind) -> Result<Node, Diagnostic> {
        parse(FileId(0), text, kind, &mut |raw, span| match kind {
            Kind::File => no_files(raw, span),
            _ => Ok(typed(raw, kind)),
        })
    }

    fn set(text: &str) -> serde_json::Value {
        parse_kind(text, Kind::Typed)
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
            // Helm reads `{}` as one empty item.
            ("list={}", json!({"list": [""]})),
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
            // Kept, where Helm drops the item because the text ends.
            ("list[0].key=", json!({"list": [{"key": ""}]})),
            ("l[0]=x,l[0].a=1", json!({"l": [{"a": 1}]})),
        ];
        for (text, expected) in cases {
            assert_eq!(set(text), expected, "--set {text}");
        }
    }

    #[test]
    fn set_string_and_literal_keep_text() {
        let node = parse_kind("tag=1.10,enabled=true", Kind::String).unwrap();
        assert_eq!(node.to_json(), json!({"tag": "1.10", "enabled": "true"}));
        let node = parse_kind("a.b=x,y={z}", Kind::Literal).unwrap();
        assert_eq!(node.to_json(), json!({"a": {"b": "x,y={z}"}}));
    }

    #[test]
    fn malformed_flags_are_located() {
        let deep = format!("{}=1", vec!["a"; 10_000].join("."));
        let deep_lists = format!("a{}=1", "[0]".repeat(40));
        for (text, at) in [
            ("novalue", 0..7),
            ("a..b=1", 2..3),
            ("a[x]=1", 1..4),
            ("a[1=2", 1..5),
            ("=1", 0..1),
            ("[0]=x", 0..1),
            ("a=1,,b=2", 4..5),
            ("name1.=x", 6..7),
            ("a={x,y", 2..6),
            ("a[0]x=1", 4..5),
            ("a.", 1..2),
            ("a[0].", 4..5),
            ("a=1,b", 4..5),
            ("a[-1]=1", 1..5),
            ("a[65537]=1", 1..8),
            (deep.as_str(), 60..61),
            (deep_lists.as_str(), 94..97),
        ] {
            let d = parse_kind(text, Kind::Typed).expect_err(text);
            assert_eq!(d.code, "set/syntax", "--set {text}: {}", d.message);
            assert_eq!(d.primary.unwrap().span.range(), at, "--set {text}");
        }
    }

    #[test]
    fn padding_is_bounded_per_flag() {
        let four = "a[65536]=1,b[65536]=1,c[65536]=1,d[65536]=1";
        assert!(parse_kind(four, Kind::Typed).is_ok());
        let text = format!("{four},e[65536]=1");
        let d = parse_kind(&text, Kind::Typed).unwrap_err();
        assert_eq!(d.primary.unwrap().span.range(), 45..52);
    }

    #[test]
    fn a_path_through_a_value_of_another_kind_is_a_conflict() {
        for text in ["a=x,a.b=1", "a=x,a[0]=1", "a={x},a.b=1", "a[0]=x,a[0][0]=1"] {
            let d = parse_kind(text, Kind::Typed).expect_err(text);
            assert_eq!(d.code, "set/conflict", "--set {text}: {}", d.message);
        }
    }

    #[test]
    fn name_and_environments_are_never_reached() {
        for text in ["name=x", "a=1,environments.prod.a=1"] {
            let layer = parse_kind(text, Kind::Typed).unwrap();
            let d = check_reached(&layer, Kind::Typed).expect(text);
            assert_eq!(d.code, "set/ignored-key");
        }
        let layer = parse_kind("labels.name=x", Kind::Typed).unwrap();
        assert!(check_reached(&layer, Kind::Typed).is_none());
    }

    #[test]
    fn flags_edit_the_merged_lists_and_nulls_delete() {
        let yaml = "tolerations:\n  - key: gpu\n    effect: NoSchedule\nimage: {tag: '1'}\n";
        let mut values = crate::values::yaml::parse(FileId(1), yaml).unwrap();
        let flag = |text: &str, id: u32| Flag {
            kind: Kind::Typed,
            file: FileId(id),
            text: text.to_owned(),
            contents: Vec::new(),
        };
        apply(
            &mut values,
            &[
                flag("tolerations[0].operator=Exists", 2),
                flag("tolerations[2].key=spot,image.tag=null", 3),
            ],
        )
        .unwrap();
        assert_eq!(
            values.to_json(),
            json!({
                "tolerations": [
                    {"key": "gpu", "effect": "NoSchedule", "operator": "Exists"},
                    null,
                    {"key": "spot"},
                ],
                "image": {},
            })
        );
        // The set field points at its flag; the rest stays with its file.
        let Value::Seq(items) = &values.get("tolerations").unwrap().value else {
            panic!("tolerations is a list")
        };
        let first = &items[0];
        assert_eq!(first.get("operator").unwrap().span.file, FileId(2));
        assert_eq!(first.get("key").unwrap().span.file, FileId(1));
    }
}
