//! Validate values against the values schema and map every violation back
//! to the file, line and column that caused it (pure).
//!
//! One schema document (`schemas/values.schema.json`, embedded; a
//! repository's own copy overrides it) describes the effective values of a
//! stream in an environment at its root, and each kind of file in `$defs`.
//! Files are checked on their own (so a typo in `common.yaml` is found even
//! if no stream uses it) and the merged values of every stream ×
//! environment are checked again (required keys, and values that only go
//! wrong in combination).

use super::repo::FileKind;
use super::yaml::Node;
use crate::diag::Diagnostic;
use crate::secret;
use crate::source::{Sources, Span};
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{Draft, Validator};
use serde_json::Value as Json;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

/// The built-in schema.
pub const BUILTIN_SCHEMA: &str = include_str!("../../schemas/values.schema.json");

/// [`BUILTIN_SCHEMA`] parsed, once per process.
fn builtin_doc() -> &'static Arc<Json> {
    static DOC: std::sync::LazyLock<Arc<Json>> = std::sync::LazyLock::new(|| {
        Arc::new(serde_json::from_str(BUILTIN_SCHEMA).expect("built-in schema is JSON"))
    });
    &DOC
}

pub struct Schema {
    doc: Arc<Json>,
    effective: Compiled,
    common: Compiled,
    environment: Compiled,
    stream: Compiled,
    /// Whether a `streams:` entry of a common / an environment file is,
    /// by this schema, a stream file with a `name` (so entries can be
    /// checked with the stream file's validator).
    entries_are_stream_files: (bool, bool),
}

/// See [`Schema::entries_are_stream_files`].
fn entries_are_stream_files(doc: &Json, def: &str) -> bool {
    let items = doc.pointer(&format!("/$defs/{def}/properties/streams/items"));
    let mut entry = doc.pointer("/$defs/streamEntry").cloned();
    let named = entry
        .as_mut()
        .and_then(Json::as_object_mut)
        .and_then(|e| e.remove("required"))
        == Some(serde_json::json!(["name"]));
    items == Some(&serde_json::json!({"$ref": "#/$defs/streamEntry"}))
        && named
        && entry.as_ref() == doc.pointer("/$defs/streamFile")
}

/// A validator: compiled at once (a repository's schema, whose errors are
/// findings), or, for the built-in schema (generated from the CRD, large),
/// on a thread of its own while the repository is read, and waited for on
/// first use.
struct Compiled {
    cell: OnceLock<Option<Validator>>,
    thread: Mutex<Option<JoinHandle<Option<Validator>>>>,
}

impl Compiled {
    fn ready(validator: Option<Validator>) -> Compiled {
        Compiled {
            cell: OnceLock::from(validator),
            thread: Mutex::new(None),
        }
    }

    /// The built-in schema `doc` rooted at `def` (the whole document if
    /// `None`).
    fn builtin(doc: &Arc<Json>, def: Option<&'static str>) -> Compiled {
        let doc = Arc::clone(doc);
        let thread = std::thread::spawn(move || {
            let compiled = match def {
                Some(name) => compile(&rooted_at(&doc, name)),
                None => compile(&doc),
            };
            Some(compiled.expect("the built-in values schema compiles"))
        });
        Compiled {
            cell: OnceLock::new(),
            thread: Mutex::new(Some(thread)),
        }
    }

    fn get(&self) -> Option<&Validator> {
        self.cell
            .get_or_init(|| {
                let thread = self
                    .thread
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take()
                    .expect("a pending validator has its thread");
                match thread.join() {
                    Ok(validator) => validator,
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            })
            .as_ref()
    }
}

fn compile(doc: &Json) -> Result<Validator, SchemaError> {
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .build(doc)
        .map_err(|e| SchemaError {
            message: format!("the schema does not compile: {e}"),
        })
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SchemaError {
    pub message: String,
}

/// The built-in schema's validators, compiling since [`Schema::prepare`].
static PREPARED: Mutex<Option<Schema>> = Mutex::new(None);

impl Schema {
    /// Starts compiling the built-in schema, to be taken by the next
    /// [`Schema::builtin`]: the compile then runs while the repository is
    /// read and parsed, not after.
    pub fn prepare() {
        let mut prepared = PREPARED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if prepared.is_none() {
            *prepared = Some(Schema::compile_builtin());
        }
    }

    pub fn builtin() -> Schema {
        let prepared = PREPARED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        prepared.unwrap_or_else(Schema::compile_builtin)
    }

    fn compile_builtin() -> Schema {
        // Parsed once, shared by the four compiles.
        let doc = Arc::clone(builtin_doc());
        Schema {
            entries_are_stream_files: (
                entries_are_stream_files(&doc, "commonFile"),
                entries_are_stream_files(&doc, "environmentFile"),
            ),
            effective: Compiled::builtin(&doc, None),
            common: Compiled::builtin(&doc, Some("commonFile")),
            environment: Compiled::builtin(&doc, Some("environmentFile")),
            stream: Compiled::builtin(&doc, Some("streamFile")),
            doc,
        }
    }

    /// Compiles a schema document (the built-in one, or a repository's).
    pub fn parse(text: &str) -> Result<Schema, SchemaError> {
        let doc: Json = serde_json::from_str(text).map_err(|e| SchemaError {
            message: format!(
                "invalid JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
        })?;
        let def = |name: &str| -> Result<Compiled, SchemaError> {
            if doc.pointer(&format!("/$defs/{name}")).is_none() {
                return Ok(Compiled::ready(None));
            }
            compile(&rooted_at(&doc, name)).map(|v| Compiled::ready(Some(v)))
        };
        Ok(Schema {
            entries_are_stream_files: (
                entries_are_stream_files(&doc, "commonFile"),
                entries_are_stream_files(&doc, "environmentFile"),
            ),
            effective: Compiled::ready(Some(compile(&doc)?)),
            common: def("commonFile")?,
            environment: def("environmentFile")?,
            stream: def("streamFile")?,
            doc: Arc::new(doc),
        })
    }

    /// Checks one values file on its own. Each finding comes with the JSON
    /// pointer it is about (to tell which environment block it is in).
    pub fn check_file(
        &self,
        kind: FileKind,
        root: &Node,
        sources: &Sources,
    ) -> Vec<(String, Diagnostic)> {
        let (validator, def) = match kind {
            FileKind::Common => (&self.common, "commonFile"),
            FileKind::Environment => (&self.environment, "environmentFile"),
            FileKind::Stream => (&self.stream, "streamFile"),
        };
        let Some(validator) = validator.get() else {
            return Vec::new();
        };
        if self.long_list_is_valid(kind, validator, root) {
            return Vec::new();
        }
        // In a layer, `key: null` deletes the key (Helm's rule): not a type error.
        let instance = without_nulls(root.to_json());
        let start = vec![
            self.doc
                .pointer(&format!("/$defs/{def}"))
                .unwrap_or(&Json::Null),
        ];
        let anchor = Span::file_start(root.span.file);
        validator
            .iter_errors(&instance)
            // Stream names are checked (once) when the repository is loaded.
            .filter(|e| !is_stream_name(e.instance_path().as_str(), kind))
            .flat_map(|e| {
                let pointer = e.instance_path().as_str().to_owned();
                self.diagnose(&e, root, &start, anchor, sources, kind)
                    .into_iter()
                    .map(move |d| (pointer.clone(), d))
            })
            .map(|(pointer, mut d)| {
                if let Some(p) = d
                    .primary
                    .as_mut()
                    .filter(|p| p.message == "for this stream")
                {
                    p.message = "missing in this file".to_owned();
                }
                (pointer, d)
            })
            .collect()
    }

    /// A file with a long `streams:` list (a common.yaml of thousands of
    /// streams) is valid if the rest of it is and each entry is a valid
    /// stream file with a `name` (which is what the list's item schema,
    /// `streamEntry`, says): that is checked entry by entry, in parallel,
    /// instead of converting the whole file at once. A file that is not
    /// valid is checked the whole way, for its findings.
    fn long_list_is_valid(&self, kind: FileKind, validator: &Validator, root: &Node) -> bool {
        use rayon::prelude::*;
        let checkable = match kind {
            FileKind::Common => self.entries_are_stream_files.0,
            FileKind::Environment => self.entries_are_stream_files.1,
            FileKind::Stream => false,
        };
        let Some(entries) = root.as_map().filter(|_| checkable) else {
            return false;
        };
        let Some((at, list)) = entries
            .iter()
            .enumerate()
            .find_map(|(i, e)| match &e.value.value {
                super::yaml::Value::Seq(items) if e.key == "streams" && items.len() > 64 => {
                    Some((i, items))
                }
                _ => None,
            })
        else {
            return false;
        };
        // Waited for only when there is a long list to check with it.
        let Some(stream) = self.stream.get() else {
            return false;
        };
        let rest: serde_json::Map<String, Json> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let value = if i == at {
                    Json::Array(Vec::new())
                } else {
                    e.value.to_json()
                };
                (e.key.clone(), value)
            })
            .collect();
        validator.is_valid(&without_nulls(Json::Object(rest)))
            && list.par_iter().all(|item| {
                item.get("name").is_some() && stream.is_valid(&without_nulls(item.to_json()))
            })
    }

    /// Checks the merged values of one stream in one environment.
    /// `anchor` is where "missing key" findings point (the stream's name).
    /// `json` is `values` as JSON (computed once per stream by the caller).
    pub fn check_effective(
        &self,
        values: &Node,
        json: &Json,
        anchor: Span,
        sources: &Sources,
    ) -> Vec<Diagnostic> {
        let effective = self
            .effective
            .get()
            .expect("the effective values have a schema");
        if effective.is_valid(json) {
            return Vec::new();
        }
        // A null inside a list item (`workingDir: null` in a sidecar) is
        // an unset field, to Kubernetes as to the merge.
        let json = &without_nulls(json.clone());
        if effective.is_valid(json) {
            return Vec::new();
        }
        let start = vec![&*self.doc];
        effective
            .iter_errors(json)
            .flat_map(|e| self.diagnose(&e, values, &start, anchor, sources, FileKind::Stream))
            .collect()
    }

    fn diagnose(
        &self,
        error: &jsonschema::ValidationError<'_>,
        tree: &Node,
        start: &[&Json],
        anchor: Span,
        sources: &Sources,
        kind: FileKind,
    ) -> Vec<Diagnostic> {
        let pointer = error.instance_path().as_str().to_owned();
        let walk = tree.walk(&pointer);
        let secret = secret::pointer_is_secret(&pointer);
        let path = dotted(values_pointer(&pointer));
        let found = describe(walk.node, secret);
        let at = walk.caret();
        let keyword_schema = self.keyword_schema(error.schema_path().as_str());
        let hint = keyword_schema
            .and_then(|s| s.get("x-sluice-help"))
            .and_then(Json::as_str);
        let mut out = Vec::new();
        let d = match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                let known = known_keys(&self.doc, start, &pointer);
                for key in unexpected {
                    let key_span = walk.node.entry(key).map_or(at, |e| e.key_span);
                    let place = if path.is_empty() {
                        "at the top level".to_owned()
                    } else {
                        format!("in `{}`", crate::diag::quote(&path))
                    };
                    let mut d = Diagnostic::error(
                        "values/unknown-key",
                        format!("unknown key `{}` {place}", crate::diag::quote(key)),
                    )
                    .at(key_span, "not a known key here");
                    let candidates = known.iter().map(String::as_str);
                    d = match crate::suggest::closest(key, candidates) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None if !known.is_empty() && known.len() <= 16 => {
                            d.help(format!("the keys allowed here are: {}", known.join(", ")))
                        }
                        None => d.help("see schemas/values.schema.json, or the values table in the README, for the keys allowed here"),
                    };
                    if kind == FileKind::Environment && path.is_empty() && key == "kubecontext" {
                        d = d.note("keys are case-sensitive");
                    }
                    out.push(with_provenance(d, walk.node, sources));
                }
                return out;
            }
            ValidationErrorKind::Type { kind } => {
                let expected = match kind {
                    TypeKind::Single(t) => article(&t.to_string()),
                    TypeKind::Multiple(set) => set
                        .iter()
                        .map(|t| article(&t.to_string()))
                        .collect::<Vec<_>>()
                        .join(" or "),
                };
                let mut d = Diagnostic::error(
                    "values/type",
                    format!("`{}` must be {expected}, not {found}", or_root(&path)),
                )
                .at(at, format!("expected {expected}"));
                if let (Some(text), false) = (walk.node.as_str(), secret)
                    && ((expected.contains("integer") && text.parse::<i64>().is_ok())
                        || (expected.contains("boolean") && (text == "true" || text == "false"))
                        || (expected.contains("number") && text.parse::<f64>().is_ok()))
                {
                    d = d.help(format!("remove the quotes: {text}"));
                }
                if d.help.is_none()
                    && let Some(hint) = hint
                {
                    d = d.help(hint.to_owned());
                }
                d
            }
            ValidationErrorKind::Enum { options } => {
                let allowed: Vec<String> = options
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(show_json)
                    .collect();
                let mut d = Diagnostic::error(
                    "values/enum",
                    format!(
                        "`{}` must be one of {}, not {found}",
                        or_root(&path),
                        allowed.join(", ")
                    ),
                )
                .at(at, "not an allowed value");
                let text = walk.node.to_json();
                let text = text
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| show_json(&text));
                let plain: Vec<String> = options
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|o| {
                        o.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| show_json(o))
                    })
                    .collect();
                d = match crate::suggest::closest(&text, plain.iter().map(String::as_str)) {
                    Some(s) if !secret => d.help(format!("did you mean `{s}`?")),
                    _ => d.help(format!("allowed values: {}", allowed.join(", "))),
                };
                d
            }
            ValidationErrorKind::Pattern { .. } => {
                let what = keyword_schema
                    .and_then(|s| s.get("x-sluice-format"))
                    .and_then(Json::as_str);
                let message = match what {
                    Some(what) => format!("`{}` must be {what}, not {found}", or_root(&path)),
                    None => format!(
                        "`{}` does not have the required format: {found}",
                        or_root(&path)
                    ),
                };
                let mut d = Diagnostic::error("values/format", message).at(at, "invalid format");
                if let Some(fix) = memory_fix(walk.node.as_str()).filter(|_| !secret) {
                    d = d.help(format!(
                        "write `{fix}`: {}",
                        hint.unwrap_or("Spark reads JVM memory units")
                    ));
                } else if let Some(hint) = hint {
                    d = d.help(format!("expected {hint}"));
                }
                if path.ends_with("name") || pointer == "/name" {
                    d.code = "values/stream-name";
                }
                d
            }
            ValidationErrorKind::Required { property } => {
                let key = property.as_str().unwrap_or("?");
                let full = if path.is_empty() {
                    key.to_owned()
                } else {
                    format!("{path}.{key}")
                };
                let span = if pointer.is_empty() { anchor } else { at };
                let mut d = Diagnostic::error("values/required", format!("`{full}` is required"))
                    .at(
                        span,
                        if pointer.is_empty() {
                            "for this stream".to_owned()
                        } else {
                            format!("`{key}` missing here")
                        },
                    );
                if let Some(desc) = self.describe_key(start, &pointer, key) {
                    d = d.note(format!("`{full}`: {desc}"));
                }
                d = d.help(match (full.as_str(), kind) {
                    ("namespace", FileKind::Environment) => "add `namespace: <the Kubernetes namespace of this environment>` to the file".to_owned(),
                    ("mainClass", _) => "set `mainClass` (Scala and Java streams), or `type: Python`".to_owned(),
                    _ => format!("set `{full}` in common.yaml, the environment file or the stream's file"),
                });
                d
            }
            ValidationErrorKind::Minimum { limit }
            | ValidationErrorKind::ExclusiveMinimum { limit }
            | ValidationErrorKind::Maximum { limit }
            | ValidationErrorKind::ExclusiveMaximum { limit } => {
                let word = match error.kind() {
                    ValidationErrorKind::Minimum { .. } => "at least",
                    ValidationErrorKind::ExclusiveMinimum { .. } => "greater than",
                    ValidationErrorKind::Maximum { .. } => "at most",
                    _ => "less than",
                };
                Diagnostic::error(
                    "values/range",
                    format!("`{}` must be {word} {limit}, not {found}", or_root(&path)),
                )
                .at(at, format!("must be {word} {limit}"))
            }
            ValidationErrorKind::MaxLength { limit } | ValidationErrorKind::MinLength { limit } => {
                let word = if matches!(error.kind(), ValidationErrorKind::MaxLength { .. }) {
                    "at most"
                } else {
                    "at least"
                };
                let mut d = Diagnostic::error(
                    "values/range",
                    format!(
                        "`{}` must be {word} {limit} characters long",
                        or_root(&path)
                    ),
                )
                .at(at, format!("{word} {limit} characters"));
                if path.ends_with("name") {
                    d.code = "values/stream-name";
                }
                d
            }
            _ => Diagnostic::error(
                "values/invalid",
                format!("`{}` is invalid: {}", or_root(&path), masked(error, secret)),
            )
            .at(at, "here"),
        };
        let mut d = with_provenance(d, walk.node, sources);
        if d.notes.is_empty()
            && let Some(desc) = self.describe_pointer(start, &pointer)
        {
            d = d.note(format!("`{}`: {desc}", or_root(&path)));
        }
        out.push(d);
        out
    }

    /// The schema object holding the failing keyword (for `x-sluice-help`).
    fn keyword_schema(&self, schema_path: &str) -> Option<&Json> {
        let mut segments: Vec<String> = schema_path.split('/').skip(1).map(unescape).collect();
        segments.pop();
        let mut node = &*self.doc;
        for seg in segments {
            node = match node.get(&seg) {
                Some(next) if seg != "$ref" => next,
                _ if seg == "$ref" => resolve_ref(&self.doc, node)?,
                _ => node
                    .as_array()
                    .and_then(|a| a.get(seg.parse::<usize>().ok()?))?,
            };
        }
        Some(node)
    }

    fn describe_pointer(&self, start: &[&Json], pointer: &str) -> Option<String> {
        subschemas(&self.doc, start, pointer)
            .iter()
            .find_map(|s| s.get("description").and_then(Json::as_str))
            .map(str::to_owned)
    }

    fn describe_key(&self, start: &[&Json], pointer: &str, key: &str) -> Option<String> {
        self.describe_pointer(start, &format!("{pointer}/{key}"))
    }
}

/// The schema document with `$defs/{name}` as its root: the whole
/// document (every `$defs` entry) stays, so the result is self-contained.
fn rooted_at(doc: &Json, name: &str) -> Json {
    let mut sub = doc.clone();
    if let Json::Object(map) = &mut sub {
        for key in [
            "required",
            "if",
            "then",
            "else",
            "unevaluatedProperties",
            "properties",
            "additionalProperties",
            "allOf",
            "anyOf",
            "oneOf",
            "type",
        ] {
            map.remove(key);
        }
        map.insert("$ref".into(), Json::String(format!("#/$defs/{name}")));
    }
    sub
}

/// The schema of one kind of values file as written (a stream file with
/// its `environments:` blocks, an environment file, common.yaml), for
/// editors: `sluice schema --for stream`.
pub fn file_schema(kind: FileKind) -> String {
    let doc = builtin_doc();
    let (def, what, file) = match kind {
        FileKind::Stream => (
            "streamFile",
            "a stream file (values/streams/NAME.yaml)",
            "stream",
        ),
        FileKind::Environment => (
            "environmentFile",
            "an environment file (values/environments/ENV.yaml)",
            "environment",
        ),
        FileKind::Common => ("commonFile", "values/common.yaml", "common"),
    };
    let mut schema = rooted_at(&doc, def);
    if let Json::Object(map) = &mut schema {
        map.insert(
            "$id".into(),
            Json::String(format!("https://sluice.dev/schemas/{file}.schema.json")),
        );
        map.insert("title".into(), Json::String(format!("sluice: {what}")));
        map.insert(
            "description".into(),
            Json::String(format!(
                "One values file as written: {what}. Printed by `sluice schema --for {file}` from sluice's values schema. `key: null` (which deletes a key set by an earlier layer) is accepted by sluice but not by this schema."
            )),
        );
    }
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    text.push('\n');
    text
}

fn is_stream_name(pointer: &str, kind: FileKind) -> bool {
    let entry = pointer
        .strip_prefix("/streams/")
        .and_then(|rest| rest.split_once('/'));
    (kind == FileKind::Stream && pointer == "/name")
        || entry.is_some_and(|(index, key)| key == "name" && index.parse::<usize>().is_ok())
}

fn without_nulls(value: Json) -> Json {
    match value {
        Json::Object(map) => Json::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Adds "overrides ..." context when the offending value replaced another.
fn with_provenance(mut d: Diagnostic, node: &Node, sources: &Sources) -> Diagnostic {
    if let Some(&old) = node.overrides.first() {
        let set_in = sources.path(node.span.file).to_owned();
        let old_at = sources.location(old).to_string();
        d = d.also(old, format!("overridden by {set_in}")).note(format!(
            "{} the one at {old_at} (this value is set in {set_in})",
            crate::diag::OVERRIDES_NOTE
        ));
    }
    d
}

/// What a rare schema violation says, without the instance (which can be
/// a whole mapping, credentials included).
fn masked(error: &jsonschema::ValidationError<'_>, _secret: bool) -> String {
    format!(
        "the value fails the schema's `{}` rule",
        error.kind().keyword()
    )
}

/// `4Gi` → `4g`: the one memory mistake everybody makes.
fn memory_fix(text: Option<&str>) -> Option<String> {
    let text = text?.trim();
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[digits.len()..];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let letter = match unit {
        "Ki" | "K" | "KB" | "Ki B" => "k",
        "Mi" | "M" | "MB" | "MiB" => "m",
        "Gi" | "G" | "GB" | "GiB" => "g",
        "Ti" | "T" | "TB" | "TiB" => "t",
        "ki" | "kib" | "KiB" => "k",
        "mi" | "mib" => "m",
        "gi" | "gib" => "g",
        _ => return None,
    };
    Some(format!("{digits}{letter}"))
}

fn article(t: &str) -> String {
    let t = match t {
        "object" => "mapping",
        "array" => "list",
        other => other,
    };
    if t.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {t}")
    } else {
        format!("a {t}")
    }
}

fn describe(node: &Node, secret: bool) -> String {
    use super::yaml::Value;
    if secret {
        return format!(
            "{} (value hidden: the key looks like a credential)",
            article(node.type_name())
        );
    }
    match &node.value {
        Value::String(s) if s.chars().count() <= 60 => format!("the string `{s}`"),
        Value::Number(n) => format!("{} `{n}`", article(node.type_name())),
        Value::Bool(b) => format!("`{b}`"),
        Value::Null => "null".to_owned(),
        _ => article(node.type_name()),
    }
}

fn show_json(v: &Json) -> String {
    match v {
        Json::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

fn or_root(path: &str) -> &str {
    if path.is_empty() { "(the file)" } else { path }
}

fn unescape(seg: &str) -> String {
    crate::json::token(seg).into_owned()
}

/// The part of a file's pointer that is a values key: the same finding in
/// a stream's `environments.prod` block, in a `streams:` list entry or in the
/// merged values reads `executor.memory` in all three.
fn values_pointer(pointer: &str) -> &str {
    let strip = |p: &str, prefix: &str| -> Option<usize> {
        let rest = p.strip_prefix(prefix)?;
        let seg = rest.split('/').next()?;
        Some(prefix.len() + seg.len())
    };
    let mut p = pointer;
    if let Some(n) = strip(p, "/streams/").filter(|&n| p[9..n].parse::<usize>().is_ok()) {
        p = &p[n..];
    }
    if let Some(n) = strip(p, "/environments/") {
        p = &p[n..];
    }
    p
}

/// `/executor/env/0` → `executor.env[0]`.
pub fn dotted(pointer: &str) -> String {
    let mut out = String::with_capacity(pointer.len() + 4);
    for raw in pointer.split('/').skip(1) {
        let seg = crate::json::token(raw);
        if seg.parse::<usize>().is_ok() {
            out.push('[');
            out.push_str(&seg);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

fn resolve_ref<'a>(doc: &'a Json, node: &'a Json) -> Option<&'a Json> {
    let reference = node.get("$ref")?.as_str()?;
    doc.pointer(reference.strip_prefix('#')?)
}

/// Every schema object that applies at `pointer`, starting from `start`,
/// following `$ref`, `allOf`, `if/then/else`, `properties`,
/// `additionalProperties` and `items`.
fn subschemas<'a>(doc: &'a Json, start: &[&'a Json], pointer: &str) -> Vec<&'a Json> {
    let mut current: Vec<&Json> = expand(doc, start);
    for seg in pointer.split('/').skip(1) {
        let seg = unescape(seg);
        let mut next = Vec::new();
        for s in &current {
            if let Some(p) = s.get("properties").and_then(|p| p.get(&seg)) {
                next.push(p);
            } else if let Some(a) = s.get("additionalProperties").filter(|a| a.is_object()) {
                next.push(a);
            }
            if seg.parse::<usize>().is_ok()
                && let Some(items) = s.get("items")
            {
                next.push(items);
            }
        }
        current = expand(doc, &next);
    }
    current
}

fn expand<'a>(doc: &'a Json, schemas: &[&'a Json]) -> Vec<&'a Json> {
    let mut out: Vec<&Json> = Vec::new();
    let mut stack: Vec<&Json> = schemas.to_vec();
    while let Some(s) = stack.pop() {
        if out.iter().any(|o| std::ptr::eq(*o, s)) || out.len() > 64 {
            continue;
        }
        out.push(s);
        if let Some(r) = resolve_ref(doc, s) {
            stack.push(r);
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            if let Some(list) = s.get(key).and_then(Json::as_array) {
                stack.extend(list.iter());
            }
        }
        for key in ["then", "else"] {
            if let Some(sub) = s.get(key) {
                stack.push(sub);
            }
        }
    }
    out
}

/// The keys the schema allows at `pointer`, for "did you mean".
fn known_keys(doc: &Json, start: &[&Json], pointer: &str) -> Vec<String> {
    let mut keys: Vec<String> = subschemas(doc, start, pointer)
        .iter()
        .filter_map(|s| s.get("properties").and_then(Json::as_object))
        .flat_map(|p| p.keys().cloned())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Whether a dotted key path names a values key of the built-in schema: each
/// name is a property of the one before, until a map of free keys
/// (`sparkConf`, labels, ...).
pub fn is_values_path(path: &[&str]) -> bool {
    let doc: &'static Json = builtin_doc();
    let resolve = |mut node: &'static Json| {
        for _ in 0..16 {
            match node.get("$ref").and_then(Json::as_str) {
                Some(r) => match r.strip_prefix('#').and_then(|p| doc.pointer(p)) {
                    Some(target) => node = target,
                    None => return node,
                },
                None => return node,
            }
        }
        node
    };
    let Some(mut node) = doc.pointer("/$defs/values") else {
        return false;
    };
    for name in path {
        node = resolve(node);
        match node.get("properties").and_then(|p| p.get(*name)) {
            Some(next) => node = next,
            None => {
                let free = node.get("patternProperties").is_some()
                    || node
                        .get("additionalProperties")
                        .is_some_and(|a| a != &Json::Bool(false))
                    || node.get("properties").is_none();
                return free;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in schema's list entries are stream files with a name,
    /// so a long list is checked entry by entry; a schema whose entries
    /// are anything else is checked the whole way.
    #[test]
    fn long_lists_are_checked_by_entry_only_when_the_schema_says_so() {
        let builtin = Schema::builtin();
        assert_eq!(builtin.entries_are_stream_files, (true, true));
        let mut doc: Json = serde_json::from_str(BUILTIN_SCHEMA).unwrap();
        doc["$defs"]["streamEntry"]["required"] = serde_json::json!(["name", "mainClass"]);
        let custom = Schema::parse(&doc.to_string()).unwrap();
        assert_eq!(custom.entries_are_stream_files, (false, false));
    }

    /// Every property `check` finds, with where it is.
    fn properties(path: &str, v: &Json, check: &dyn Fn(&Json) -> bool, missing: &mut Vec<String>) {
        if let Some(props) = v.get("properties").and_then(Json::as_object) {
            for (k, p) in props {
                let here = format!("{path}.{k}");
                if !check(p) {
                    missing.push(here.clone());
                }
                properties(&here, p, check, missing);
            }
        }
        for key in ["items", "additionalProperties", "else", "then"] {
            if let Some(sub) = v.get(key).filter(|s| s.is_object()) {
                properties(path, sub, check, missing);
            }
        }
        if let Some(defs) = v.get("$defs").and_then(Json::as_object) {
            for (name, d) in defs {
                properties(&format!("#{name}"), d, check, missing);
            }
        }
    }

    /// sluice's own keys (the hand-kept part) have a description and
    /// examples; every key of the generated schema, the CRD's included,
    /// has a description.
    #[test]
    fn builtin_schema_compiles_and_documents_every_key() {
        let schema = Schema::builtin();
        let base: Json =
            serde_json::from_str(include_str!("../../schemas/src/values.base.json")).unwrap();
        let mut missing = Vec::new();
        properties(
            "",
            &base,
            &|p| p.get("description").is_some() && p.get("examples").is_some(),
            &mut missing,
        );
        let missing: Vec<_> = missing
            .into_iter()
            .filter(|m| !m.contains("restartPolicy."))
            .collect();
        assert!(
            missing.is_empty(),
            "keys without description or examples: {missing:?}"
        );
        let mut undescribed = Vec::new();
        properties(
            "",
            &schema.doc,
            &|p| p.get("description").is_some(),
            &mut undescribed,
        );
        assert!(
            undescribed.is_empty(),
            "keys without description: {undescribed:?}"
        );
    }

    #[test]
    fn every_example_validates_against_its_own_schema() {
        let schema = Schema::builtin();
        let mut checked = 0;
        let mut stack: Vec<&Json> = vec![&*schema.doc];
        while let Some(s) = stack.pop() {
            let standalone = !s.to_string().contains("\"$ref\"");
            if let (Some(examples), true) = (s.get("examples").and_then(Json::as_array), standalone)
            {
                let v = jsonschema::options()
                    .with_draft(Draft::Draft202012)
                    .build(&strip_examples(s))
                    .unwrap();
                for e in examples {
                    assert!(v.is_valid(e), "example {e} fails {s}");
                    checked += 1;
                }
            }
            if let Json::Object(map) = s {
                stack.extend(map.values());
            }
        }
        assert!(checked > 80, "only {checked} examples checked");
    }

    fn strip_examples(s: &Json) -> Json {
        let mut s = s.clone();
        if let Json::Object(m) = &mut s {
            m.remove("examples");
        }
        s
    }

    #[test]
    fn values_pointers() {
        assert_eq!(
            values_pointer("/environments/prod/executor/memory"),
            "/executor/memory"
        );
        assert_eq!(values_pointer("/streams/3/environments/dev/sink"), "/sink");
        assert_eq!(values_pointer("/streams/3/name"), "/name");
        assert_eq!(values_pointer("/streams"), "/streams");
        assert_eq!(values_pointer("/environments"), "/environments");
    }

    #[test]
    fn dotted_paths() {
        assert_eq!(dotted(""), "");
        assert_eq!(dotted("/executor/memory"), "executor.memory");
        assert_eq!(dotted("/tolerations/0/key"), "tolerations[0].key");
        assert_eq!(dotted("/sparkConf/spark.sql.x"), "sparkConf.spark.sql.x");
    }

    #[test]
    fn memory_fixes() {
        assert_eq!(memory_fix(Some("4Gi")).as_deref(), Some("4g"));
        assert_eq!(memory_fix(Some("512Mi")).as_deref(), Some("512m"));
        assert_eq!(memory_fix(Some("lots")), None);
    }

    #[test]
    fn known_keys_follow_refs() {
        let schema = Schema::builtin();
        let keys = known_keys(&schema.doc, &[&schema.doc], "/executor");
        assert!(
            keys.contains(&"memory".to_owned()) && keys.contains(&"instances".to_owned()),
            "{keys:?}"
        );
        let keys = known_keys(&schema.doc, &[&schema.doc], "");
        assert!(keys.contains(&"sparkConf".to_owned()));
    }
}
