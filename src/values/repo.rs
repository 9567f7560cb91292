//! Turn a [`Snapshot`] into the streams repository model: the common layer,
//! environments and stream definitions (pure).
//!
//! Every file is decoded and parsed here (in parallel), and every problem of
//! the repository's shape is reported as a diagnostic: non-UTF-8 files,
//! symlinks out of the repository, non-mapping documents, invalid names,
//! streams defined twice, overrides for environments that do not exist.

use super::yaml::{self, Node, Value};
use crate::diag::Diagnostic;
use crate::snapshot::{Content, Snapshot, is_yaml};
use crate::source::{FileId, Sources, Span};
use rayon::prelude::*;
use std::sync::Arc;

/// Keys of an environment file that describe the target, not values.
pub const ENVIRONMENT_KEYS: &[&str] = &[
    "namespace",
    "kubeContext",
    "protected",
    "nodeSize",
    "budget",
    "rollout",
    "freeze",
    "cluster",
    "allowedKinds",
    "streams",
];
/// Keys of `common.yaml` that are settings of sluice, not values.
pub const COMMON_KEYS: &[&str] = &["streams", "promotion"];
/// Keys of a stream definition that are structure, not values.
pub const STREAM_KEYS: &[&str] = &["name", "environments"];

#[derive(Debug)]
pub struct Repository {
    /// `values/common.yaml`, whole.
    pub common: Option<ParsedFile>,
    /// The values part of `common.yaml` (without `streams` and `promotion`).
    pub common_values: Option<Node>,
    pub environments: Vec<Environment>,
    /// Sorted by name, then by where they are defined.
    pub streams: Vec<StreamDef>,
    /// Every parsed values file, for file-level schema checks.
    pub files: Vec<ParsedFile>,
}

/// What kind of values file a parsed file is (selects its schema).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Common,
    Environment,
    Stream,
}

#[derive(Debug)]
pub struct ParsedFile {
    pub kind: FileKind,
    pub file: FileId,
    /// Shared with the stream it defines (a stream file is kept once).
    pub root: Arc<Node>,
}

#[derive(Debug)]
pub struct Environment {
    pub name: String,
    pub file: FileId,
    pub namespace: Option<String>,
    pub kube_context: Option<String>,
    pub protected: bool,
    /// The kinds its streams' templates may render.
    pub allowed: crate::kinds::Allowed,
    /// The file's values overrides (without the target keys).
    pub values: Node,
    /// The whole file.
    pub root: Arc<Node>,
}

/// Where a stream is defined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `values/streams/<name>.yaml`.
    File,
    /// An entry of a Helm-style `streams:` list in `common.yaml`.
    CommonList,
    /// An entry of a `streams:` list in an environment file: the stream
    /// exists in that environment only.
    EnvironmentList(String),
}

#[derive(Debug)]
pub struct StreamDef {
    pub name: String,
    /// The `name:` value, or the start of the file whose stem names it.
    pub name_span: Span,
    pub origin: Origin,
    /// Repository-relative path of the file that defines it.
    pub path: String,
    /// Where the definition starts (the file, or the list entry).
    pub span: Span,
    /// The definition: a stream file's root or a list entry, with its
    /// `name` and `environments` keys (skipped when merging).
    node: Definition,
}

/// Where a definition's tree is: a stream file's root, or an entry of a
/// file's `streams:` list, read in place (a 5000-entry list is not copied).
#[derive(Debug)]
enum Definition {
    File(Arc<Node>),
    Entry {
        root: Arc<Node>,
        /// The `streams` key's position in the root, and the entry's in it.
        key: usize,
        item: usize,
    },
}

impl StreamDef {
    /// The definition's tree.
    pub fn node(&self) -> &Node {
        match &self.node {
            Definition::File(root) => root,
            Definition::Entry { root, key, item } => match &root.value {
                Value::Map(entries) => match &entries[*key].value.value {
                    Value::Seq(items) => &items[*item],
                    _ => unreachable!("a list entry's key holds the list"),
                },
                _ => unreachable!("a list entry's root is a mapping"),
            },
        }
    }

    /// The `environments: {E: ...}` block for `environment`, if any (an
    /// empty block is no layer).
    pub fn block(&self, environment: &str) -> Option<&Node> {
        self.node()
            .get("environments")
            .and_then(|b| b.get(environment))
            .filter(|b| !matches!(b.value, Value::Null))
    }

    /// The entry's index in its file's `streams:` list (`None` for a
    /// stream file).
    pub fn list_entry(&self) -> Option<usize> {
        match &self.node {
            Definition::File(_) => None,
            Definition::Entry { item, .. } => Some(*item),
        }
    }

    pub fn applies_to(&self, environment: &str) -> bool {
        match &self.origin {
            Origin::EnvironmentList(e) => e == environment,
            _ => true,
        }
    }
}

impl Repository {
    /// The environments in the order streams are promoted through them:
    /// those `promotion.order` lists, in its order, then the others, the
    /// ones that are not `protected` first, by name.
    pub fn promotion_order(&self) -> Vec<&Environment> {
        let listed: Vec<&str> = self
            .common
            .as_ref()
            .map(|c| promotion_order_entries(&c.root))
            .unwrap_or_default()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        let mut order: Vec<&Environment> = self.environments.iter().collect();
        order.sort_by_key(|e| {
            (
                listed
                    .iter()
                    .position(|l| *l == e.name)
                    .unwrap_or(usize::MAX),
                e.protected,
                e.name.clone(),
            )
        });
        order
    }

    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }

    pub fn environment_names(&self) -> Vec<&str> {
        self.environments.iter().map(|e| e.name.as_str()).collect()
    }
}

/// Decodes and parses every values file of the snapshot. Findings go to
/// `diagnostics`; files with fatal problems are left out of the model.
pub fn load(
    snapshot: &Snapshot,
    sources: &mut Sources,
    diagnostics: &mut Vec<Diagnostic>,
) -> Repository {
    // Register texts first (ids are needed in spans), then parse in parallel.
    let mut pending = Vec::new();
    for file in snapshot.under("values") {
        // A directory the edge did not enter (outside the repository, or
        // one it entered already) is recorded under its own name.
        if !is_yaml(&file.path) {
            if !matches!(file.content, Content::Bytes(_)) {
                diagnostics.push(file_problem(&file.path, &file.content, sources, None));
            }
            continue;
        }
        let kind = match classify(&file.path) {
            Some(kind) => kind,
            None => continue,
        };
        match &file.content {
            Content::Bytes(bytes) => match std::str::from_utf8(bytes) {
                // A byte-order mark is not content: drop it, so columns
                // match what an editor shows.
                Ok(text) => pending.push((
                    kind,
                    sources.add(&file.path, text.strip_prefix('\u{FEFF}').unwrap_or(text)),
                )),
                Err(e) => {
                    let text = String::from_utf8_lossy(bytes).into_owned();
                    let at = e.valid_up_to();
                    let id = sources.add(&file.path, text);
                    redact_scanned(id, sources);
                    diagnostics.push(
                        Diagnostic::error("yaml/not-utf8", "the file is not UTF-8 text")
                            // The invalid byte shows as U+FFFD, three bytes long.
                            .at(Span::new(id, at..at + '\u{FFFD}'.len_utf8()), "this byte is not valid UTF-8")
                            .help("save the file as UTF-8 (Latin-1 and UTF-16 files are not accepted)"),
                    );
                }
            },
            other => diagnostics.push(file_problem(&file.path, other, sources, None)),
        }
    }
    let parsed: Vec<(FileKind, FileId, Result<Node, Diagnostic>)> = pending
        .par_iter()
        .map(|&(kind, id)| {
            (
                kind,
                id,
                crate::stats::PARSE.time(|| yaml::parse(id, &sources.get(id).text)),
            )
        })
        .collect();

    let mut files = Vec::new();
    for (_, file, result) in &parsed {
        match result {
            Ok(root) => redact_credentials(root, *file, sources),
            // The parser could not say where values are: scan the lines.
            Err(_) => redact_scanned(*file, sources),
        }
    }
    for (kind, file, result) in parsed {
        match result {
            Ok(root) if root.as_map().is_some() => files.push(ParsedFile {
                kind,
                file,
                root: Arc::new(root),
            }),
            Ok(root) => diagnostics.push(
                Diagnostic::error(
                    "yaml/not-a-mapping",
                    format!("a values file must be a mapping, but this one is a {}", root.type_name()),
                )
                .at(root.span, format!("a {} at the top level", root.type_name()))
                .help(match root.value {
                    Value::Seq(_) => "write `key: value` pairs at the top level; a list of streams goes under a `streams:` key",
                    _ => "write `key: value` pairs at the top level",
                }),
            ),
            Err(d) => diagnostics.push(d),
        }
    }
    build(files, sources, diagnostics)
}

/// Credentials (see `secret`) are never shown in a snippet, even when a
/// finding about a neighbouring key shows their line, nor anywhere else
/// in a message: their text is remembered too.
pub fn redact_credentials(node: &Node, file: FileId, sources: &mut Sources) {
    for (n, hidden) in crate::secret::hidden_nodes(node) {
        match hidden {
            crate::secret::Hidden::Whole(_) => redact_all(n, file, sources),
            crate::secret::Hidden::Parts(parts) => {
                if let Some(s) = n.as_str() {
                    for p in parts {
                        sources.remember(&s[p.range]);
                    }
                }
                sources.redact(file, n.span.range());
            }
        }
    }
}

/// The finding for a file an edge could not hand over (`None` for one it
/// could): outside the repository, or unreadable. `instead` says what was
/// used in its place, if anything.
pub fn file_problem(
    path: &str,
    content: &Content,
    sources: &mut Sources,
    instead: Option<&str>,
) -> Diagnostic {
    let id = sources.add(path, "");
    let d = match content {
        Content::OutsideRoot { target } => Diagnostic::error("repo/outside-root", format!("`{path}` resolves outside the repository"))
            .at(Span::file_start(id), "symlink")
            .note(format!("it points to {target}"))
            .help("copy the file into the repository: sluice reads only files the repository holds, so a review sees every value"),
        Content::Unreadable { reason } => {
            Diagnostic::error("repo/unreadable", format!("cannot read `{path}`: {reason}")).at(Span::file_start(id), "unreadable")
        }
        Content::Bytes(_) => Diagnostic::error("repo/unreadable", format!("cannot use `{path}`")).at(Span::file_start(id), "here"),
    };
    match instead {
        Some(instead) => d.note(instead.to_owned()),
        None => d,
    }
}

/// Every scalar under a credential-looking key.
fn redact_all(node: &Node, file: FileId, sources: &mut Sources) {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .for_each(|e| redact_all(&e.value, file, sources)),
        Value::Seq(items) => items.iter().for_each(|i| redact_all(i, file, sources)),
        Value::String(s) => {
            sources.remember(s);
            sources.redact(file, node.span.range());
        }
        Value::Number(n) => {
            sources.remember(&n.to_string());
            sources.redact(file, node.span.range());
        }
        _ => sources.redact(file, node.span.range()),
    }
}

/// Redacts what a line scan finds, for text the parser rejected.
pub fn redact_scanned(file: FileId, sources: &mut Sources) {
    let text = std::sync::Arc::clone(&sources.get(file).text);
    for r in crate::secret::scan(&text) {
        sources.remember(text[r.clone()].trim());
        sources.redact(file, r);
    }
}

fn classify(path: &str) -> Option<FileKind> {
    let rest = path.strip_prefix("values/")?;
    if rest == "common.yaml" || rest == "common.yml" {
        Some(FileKind::Common)
    } else if rest.starts_with("environments/") && !rest["environments/".len()..].contains('/') {
        Some(FileKind::Environment)
    } else if rest.starts_with("streams/") {
        Some(FileKind::Stream)
    } else {
        None
    }
}

fn stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_suffix(".yaml")
        .or_else(|| name.strip_suffix(".yml"))
        .unwrap_or(name)
}

/// DNS-1035 label, at most 63 characters: what spark-operator accepts as
/// an application name.
pub fn is_dns1035(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

fn without_keys(node: &Node, keys: &[&str]) -> Node {
    match &node.value {
        Value::Map(entries) => Node::new(
            node.span,
            Value::Map(
                entries
                    .iter()
                    .filter(|e| !keys.contains(&e.key.as_str()))
                    .cloned()
                    .collect(),
            ),
        ),
        _ => node.clone(),
    }
}

fn build(
    mut files: Vec<ParsedFile>,
    sources: &Sources,
    diagnostics: &mut Vec<Diagnostic>,
) -> Repository {
    // `common.yaml` beside `common.yml`, or `dev.yaml` beside `dev.yml`:
    // which one counts would be a guess.
    let mut kept: Vec<(FileKind, String, FileId)> = Vec::new();
    files.retain(|f| {
        if f.kind == FileKind::Stream {
            return true;
        }
        let stem = stem(sources.path(f.file)).to_owned();
        if let Some((_, _, first)) = kept.iter().find(|(k, s, _)| *k == f.kind && *s == stem) {
            diagnostics.push(
                Diagnostic::error(
                    "repo/conflicting-files",
                    format!(
                        "`{}` and `{}` define the same thing",
                        sources.path(*first),
                        sources.path(f.file)
                    ),
                )
                .at(Span::file_start(f.file), "ignored")
                .also(Span::file_start(*first), "used")
                .help("keep one of the two files (sluice reads `.yaml` and `.yml` alike)"),
            );
            return false;
        }
        kept.push((f.kind, stem, f.file));
        true
    });
    let mut repo = Repository {
        common: None,
        common_values: None,
        environments: Vec::new(),
        streams: Vec::new(),
        files: Vec::new(),
    };
    // Environments first: stream definitions refer to them.
    for f in files.iter().filter(|f| f.kind == FileKind::Environment) {
        let path = sources.path(f.file);
        let name = stem(path).to_owned();
        if !is_dns1035(&name) {
            diagnostics.push(
                Diagnostic::error("repo/invalid-file-name", format!("`{name}` is not a valid environment name"))
                    .at(Span::file_start(f.file), "the environment's name is this file's name")
                    .help("name environment files with lower-case letters, digits and '-', starting with a letter (dev.yaml, prod-eu.yaml)"),
            );
            continue;
        }
        let text_of = |key: &str| f.root.get(key).and_then(Node::as_str).map(str::to_owned);
        repo.environments.push(Environment {
            name,
            file: f.file,
            namespace: text_of("namespace"),
            kube_context: text_of("kubeContext"),
            protected: matches!(
                f.root.get("protected").map(|n| &n.value),
                Some(Value::Bool(true))
            ),
            allowed: allowed_kinds(f, diagnostics),
            values: without_keys(&f.root, ENVIRONMENT_KEYS),
            root: Arc::clone(&f.root),
        });
    }
    repo.environments.sort_by(|a, b| a.name.cmp(&b.name));
    // Two environments deploying into one namespace of one cluster would
    // overwrite each other's objects (and prune each other's).
    for (i, env) in repo.environments.iter().enumerate() {
        let Some(ns) = &env.namespace else { continue };
        let clash = repo.environments[..i].iter().find(|o| {
            o.namespace.as_ref() == Some(ns)
                && (o.kube_context.is_none()
                    || env.kube_context.is_none()
                    || o.kube_context == env.kube_context)
        });
        if let Some(other) = clash {
            let at = |e: &Environment| {
                e.root
                    .get("namespace")
                    .map_or(Span::file_start(e.file), |n| n.span)
            };
            diagnostics.push(
                Diagnostic::error("repo/shared-namespace", format!("environments `{}` and `{}` deploy into the same namespace `{ns}`", other.name, env.name))
                    .at(at(env), "same namespace")
                    .also(at(other), "as here")
                    .note("their objects have the same names: each apply would take over the other's streams")
                    .help("give each environment its own namespace, or different `kubeContext`s if they are different clusters"),
            );
        }
    }
    let env_names: Vec<String> = repo.environments.iter().map(|e| e.name.clone()).collect();

    for f in &files {
        let path = sources.path(f.file).to_owned();
        match f.kind {
            FileKind::Common => {
                repo.common_values = Some(without_keys(&f.root, COMMON_KEYS));
                let listed = promotion_order_entries(&f.root);
                if let Some(order) = f.root.get("promotion").and_then(|p| p.get("order")) {
                    for env in repo
                        .environments
                        .iter()
                        .filter(|e| !listed.iter().any(|(n, _)| *n == e.name))
                    {
                        diagnostics.push(
                            Diagnostic::warning(
                                "values/unordered-environment",
                                format!("promotion.order does not list environment `{}`", env.name),
                            )
                            .at(order.span, "the order of the environments")
                            .note("an environment it does not list comes after those it lists: deployed last, promoted to last")
                            .help(format!("add `{}` where it belongs in the promotion order", env.name)),
                        );
                    }
                }
                for (name, span) in listed {
                    if env_names.iter().any(|e| e == name) {
                        continue;
                    }
                    let d = Diagnostic::error(
                        "values/unknown-environment",
                        format!("promotion.order names environment `{name}`, which has no file"),
                    )
                    .at(span, "no values/environments/ file has this name");
                    diagnostics.push(
                        match crate::suggest::closest(name, env_names.iter().map(String::as_str)) {
                            Some(s) => d.help(format!("did you mean `{s}`?")),
                            None => {
                                d.help(format!("the environments are: {}", env_names.join(", ")))
                            }
                        },
                    );
                }
                list_streams(
                    &f.root,
                    &path,
                    Origin::CommonList,
                    &env_names,
                    &mut repo.streams,
                    diagnostics,
                );
            }
            FileKind::Environment => {
                let name = stem(&path).to_owned();
                if env_names.contains(&name) {
                    list_streams(
                        &f.root,
                        &path,
                        Origin::EnvironmentList(name),
                        &env_names,
                        &mut repo.streams,
                        diagnostics,
                    );
                }
            }
            FileKind::Stream => {
                let (name, name_span) = match f.root.get("name") {
                    Some(node) => match node.as_str() {
                        Some(name) => (name.to_owned(), node.span),
                        // A non-string name is a schema finding; fall back to the stem.
                        None => (stem(&path).to_owned(), Span::file_start(f.file)),
                    },
                    None => (stem(&path).to_owned(), Span::file_start(f.file)),
                };
                if let Some(def) = stream_def(
                    Definition::File(Arc::clone(&f.root)),
                    name,
                    name_span,
                    Origin::File,
                    &path,
                    Span::file_start(f.file),
                    &env_names,
                    diagnostics,
                ) {
                    repo.streams.push(def);
                }
            }
        }
    }
    repo.common = files
        .iter()
        .position(|f| f.kind == FileKind::Common)
        .map(|i| ParsedFile {
            kind: FileKind::Common,
            file: files[i].file,
            root: Arc::clone(&files[i].root),
        });
    repo.streams.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then_with(|| a.path.cmp(&b.path))
            .then(a.span.start.cmp(&b.span.start))
    });
    check_duplicates(&repo, diagnostics);
    repo.files = files;
    repo
}

fn list_streams(
    root: &Arc<Node>,
    path: &str,
    origin: Origin,
    env_names: &[String],
    streams: &mut Vec<StreamDef>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let Some((key, items)) = root.as_map().and_then(|entries| {
        entries
            .iter()
            .position(|e| e.key == "streams")
            .and_then(|i| match &entries[i].value.value {
                Value::Seq(items) => Some((i, items)),
                _ => None, // a non-list `streams:` is a schema finding
            })
    }) else {
        return;
    };
    for (index, item) in items.iter().enumerate() {
        let Some(name_node) = item.get("name") else {
            continue;
        };
        let Some(name) = name_node.as_str() else {
            continue;
        };
        if let Some(def) = stream_def(
            Definition::Entry {
                root: Arc::clone(root),
                key,
                item: index,
            },
            name.to_owned(),
            name_node.span,
            origin.clone(),
            path,
            item.span,
            env_names,
            diagnostics,
        ) {
            streams.push(def);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn stream_def(
    node: Definition,
    name: String,
    name_span: Span,
    origin: Origin,
    path: &str,
    span: Span,
    env_names: &[String],
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<StreamDef> {
    if !is_dns1035(&name) {
        let length = name.chars().count();
        let why = if length > 63 {
            format!("it is {length} characters long; the limit is 63")
        } else {
            "it must be lower-case letters, digits and '-', start with a letter and not end with '-'".to_owned()
        };
        let label = if name_span.start == 0 && name_span.end == 0 && origin == Origin::File {
            "the stream's name is this file's name"
        } else {
            "invalid name"
        };
        diagnostics.push(
            Diagnostic::error("values/stream-name", format!("`{name}` is not a valid stream name"))
                .at(name_span, label)
                .note(why)
                .note("spark-operator names pods and services after the stream, so it accepts only DNS-1035 labels")
                .help(format!("try `{}`", suggest_name(&name))),
        );
        return None;
    }
    let def = StreamDef {
        name,
        name_span,
        origin,
        path: path.to_owned(),
        span,
        node,
    };
    let name = &def.name;
    if let Some(entries) = def.node().get("environments").and_then(Node::as_map) {
        for entry in entries {
            if !env_names.contains(&entry.key) {
                let mut d = Diagnostic::error(
                    "values/unknown-environment",
                    format!(
                        "stream `{name}` overrides environment `{}`, which has no file",
                        entry.key
                    ),
                )
                .at(entry.key_span, "no values/environments/ file has this name");
                d = match crate::suggest::closest(&entry.key, env_names.iter().map(String::as_str))
                {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help(format!("the environments are: {}", env_names.join(", "))),
                };
                diagnostics.push(d);
                continue;
            }
        }
    }
    Some(def)
}

/// The names `promotion.order` lists in common.yaml, with their spans
/// (entries that are not strings are the schema's to report).
fn promotion_order_entries(common: &Node) -> Vec<(&str, Span)> {
    match common
        .get("promotion")
        .and_then(|p| p.get("order"))
        .map(|o| &o.value)
    {
        Some(crate::values::yaml::Value::Seq(items)) => items
            .iter()
            .filter_map(|n| n.as_str().map(|s| (s, n.span)))
            .collect(),
        _ => Vec::new(),
    }
}

/// A valid name close to an invalid one, for the help line.
fn suggest_name(name: &str) -> String {
    let mut out: String = name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let mut out = out.trim_matches('-').to_owned();
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.insert_str(0, "s-");
    }
    out.truncate(63);
    out.trim_end_matches('-').to_owned()
}

/// A name defined twice for one environment is an error naming both places.
fn check_duplicates(repo: &Repository, diagnostics: &mut Vec<Diagnostic>) {
    for group in repo.streams.chunk_by(|a, b| a.name == b.name) {
        for (i, later) in group.iter().enumerate().skip(1) {
            let Some(earlier) = group[..i].iter().find(|e| {
                repo.environments
                    .iter()
                    .any(|env| e.applies_to(&env.name) && later.applies_to(&env.name))
            }) else {
                continue;
            };
            diagnostics.push(
                Diagnostic::error("values/duplicate-stream", format!("stream `{}` is defined twice", later.name))
                    .at(later.name_span, "defined again here")
                    .also(earlier.name_span, "first defined here")
                    .note(format!("both definitions apply to {}", shared_envs(repo, earlier, later)))
                    .help("keep one definition; put per-environment differences in the stream's `environments:` block"),
            );
        }
    }
}

fn shared_envs(repo: &Repository, a: &StreamDef, b: &StreamDef) -> String {
    let names: Vec<&str> = repo
        .environments
        .iter()
        .filter(|e| a.applies_to(&e.name) && b.applies_to(&e.name))
        .map(|e| e.name.as_str())
        .collect();
    match names.as_slice() {
        [one] => format!("environment `{one}`"),
        _ => format!("environments {}", names.join(", ")),
    }
}

/// An environment file's `allowedKinds`; entries that may never be
/// allowed are findings at their place in the file, and left out.
fn allowed_kinds(f: &ParsedFile, diagnostics: &mut Vec<Diagnostic>) -> crate::kinds::Allowed {
    let Some(Value::Seq(items)) = f.root.get("allowedKinds").map(|n| &n.value) else {
        return crate::kinds::Allowed::default();
    };
    let mut kinds = Vec::new();
    for item in items {
        let Some(kind) = item.as_str() else { continue };
        match crate::kinds::never(kind) {
            Some(why) => diagnostics.push(
                Diagnostic::error(
                    "values/kind-not-allowed",
                    format!("`{kind}` cannot be allowed: {why}"),
                )
                .at(item.span, "listed in allowedKinds")
                .help("remove it; the platform team creates such objects outside the streams repository"),
            ),
            None => kinds.push(kind),
        }
    }
    crate::kinds::Allowed::new(kinds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns1035() {
        for ok in ["orders", "a", "orders-v2", &"a".repeat(63)] {
            assert!(is_dns1035(ok), "{ok}");
        }
        for bad in [
            "",
            "Orders",
            "2fast",
            "orders-",
            "orders_v2",
            "ord.ers",
            &"a".repeat(64),
        ] {
            assert!(!is_dns1035(bad), "{bad}");
        }
        assert_eq!(suggest_name("Orders_V2"), "orders-v2");
        assert_eq!(suggest_name("2fast"), "s-2fast");
    }
}
