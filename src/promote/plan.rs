//! What a promotion changes (pure): for each stream, the values of the
//! promotion keys that the target must take from the source (removals
//! included), the layer each change goes to, and the check that the edited
//! repository gives exactly that and nothing else.
//!
//! Layers, lowest first: common.yaml < the environment file < the stream's
//! definition < its `environments: {E: ...}` block. An edit to the target's
//! environment file reaches every stream of the target that no higher layer
//! overrides; an edit to a stream's block reaches that stream in the target
//! only. The definition and common.yaml are shared by every environment, so
//! they are never edited (except the entry of a stream that an environment
//! file's own `streams:` list defines, which only that environment sees).

use super::edit::{self, Change, Op, Seg};
use crate::source::Sources;
use crate::values::effective::values_of;
use crate::values::repo::{Environment, Origin, Repository, STREAM_KEYS, StreamDef};
use crate::values::yaml::Node;
use serde_json::Value;
use std::collections::BTreeMap;

/// What `promotion.keys` defaults to.
pub const DEFAULT_KEYS: &[&str] = &[
    "spark.image",
    "image",
    "spark.version",
    "applicationFile",
    "mainClass",
    "arguments",
];

/// The CRD's names of sluice keys: a promotion key is promoted under both
/// names (the CRD's wins when a file writes it).
const ALIASES: &[(&str, &str)] = &[
    ("spark.version", "sparkVersion"),
    ("applicationFile", "mainApplicationFile"),
];

/// The promotion keys as written, checked, with their aliases.
pub fn promotion_keys(written: &[String]) -> Result<Vec<String>, Refusal> {
    let mut keys = Vec::new();
    for key in written {
        let ok = !key.is_empty()
            && key.split('.').all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
            });
        if !ok {
            return Err(Refusal(format!(
                "promotion.keys: `{key}` is not a key path (dot-separated names, like `spark.image`)"
            )));
        }
        let path: Vec<&str> = key.split('.').collect();
        if !crate::values::validate::is_values_path(&path) {
            return Err(Refusal(format!(
                "promotion.keys: `{key}` is not a values key (`sluice schema` lists them)"
            )));
        }
        keys.push(key.clone());
        for (a, b) in ALIASES {
            for (from, to) in [(a, b), (b, a)] {
                if key == from && !written.iter().any(|k| k == to) {
                    keys.push((*to).to_owned());
                }
            }
        }
    }
    keys.dedup();
    Ok(keys)
}

pub struct Request<'a> {
    pub repo: &'a Repository,
    pub sources: &'a Sources,
    pub from: &'a Environment,
    pub to: &'a Environment,
    /// Streams named with `--stream` (empty: every stream).
    pub streams: &'a [String],
    pub keys: &'a [String],
    /// Enable streams the target leaves out (`enabled: false`).
    pub include_new: bool,
}

/// One value that changes in the target.
#[derive(Clone, Debug, PartialEq)]
pub struct Leaf {
    /// Inside the values, e.g. `["spark", "image"]`.
    pub path: Vec<String>,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

impl Leaf {
    pub fn dotted(&self) -> String {
        self.path.join(".")
    }
}

#[derive(Debug)]
pub struct StreamPlan {
    pub name: String,
    pub leaves: Vec<Leaf>,
    /// The target left it out; this promotion enables it.
    pub enables: bool,
}

/// The edits of one file.
#[derive(Debug, Default)]
pub struct FileEdit {
    pub changes: Vec<Change>,
}

#[derive(Debug, Default)]
pub struct Plan {
    /// Streams whose promotion keys change in the target.
    pub streams: Vec<StreamPlan>,
    /// Streams the target leaves out (`enabled: false`) and that were not
    /// named: not promoted, not enabled.
    pub left_out: Vec<String>,
    /// Left-out streams that an environment-level edit also reaches: they
    /// take the source's value, which they would take when promoted.
    pub reached_left_out: Vec<String>,
    /// Streams only the source has (its own `streams:` list).
    pub only_in_source: Vec<String>,
    /// Why each environment-level edit was chosen.
    pub notes: Vec<String>,
    /// Repository-relative path → its edits.
    pub files: BTreeMap<String, FileEdit>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// A stream's layers in one environment, as JSON with numbers as written.
pub(super) struct Layers {
    pub common: Value,
    pub env: Value,
    /// The definition without `name` and `environments`.
    pub def: Value,
    pub block: Value,
}

impl Layers {
    /// One stream's layers in `env`, numbers as written.
    pub fn of(repo: &Repository, sources: &Sources, def: &StreamDef, env: &Environment) -> Layers {
        Layers {
            common: repo
                .common_values
                .as_ref()
                .map(|c| exact_json(c, sources))
                .unwrap_or(Value::Object(Default::default())),
            env: exact_json(&env.values, sources),
            def: definition_json(def, sources),
            block: def
                .block(&env.name)
                .map(|b| exact_json(b, sources))
                .unwrap_or(Value::Null),
        }
    }
}

/// A stream's effective values in an environment, numbers as written.
pub(super) fn effective(
    repo: &Repository,
    sources: &Sources,
    def: &StreamDef,
    env: &Environment,
) -> Value {
    let mut values = values_of(repo, def, env, &[]);
    crate::values::exact::keep_written_text(&mut values, sources);
    values.to_json()
}

fn key_paths(keys: &[String]) -> Vec<Vec<String>> {
    keys.iter()
        .map(|k| k.split('.').map(str::to_owned).collect())
        .collect()
}

fn exact_json(node: &Node, sources: &Sources) -> Value {
    let mut node = node.clone();
    crate::values::exact::keep_written_text(&mut node, sources);
    node.to_json()
}

fn definition_json(def: &StreamDef, sources: &Sources) -> Value {
    let mut value = exact_json(def.node(), sources);
    if let Some(map) = value.as_object_mut() {
        for key in STREAM_KEYS {
            map.shift_remove(*key);
        }
    }
    value
}

/// The value at `path` after merging `layers` (maps merge, `null` deletes,
/// anything else replaces), as the values merge does.
pub fn merged_at(layers: &[&Value], path: &[String]) -> Option<Value> {
    let mut result: Option<Value> = None;
    'layer: for layer in layers {
        let mut node = *layer;
        for (i, key) in path.iter().enumerate() {
            match node {
                Value::Object(map) => match map.get(key) {
                    Some(next) => node = next,
                    None => continue 'layer,
                },
                // A non-mapping (or null) above the path replaces it.
                _ if i > 0 => {
                    result = None;
                    continue 'layer;
                }
                _ => continue 'layer,
            }
        }
        result = match node {
            Value::Null => None,
            over => Some(merge_over(result, over)),
        };
    }
    result
}

/// `over` merged onto `base` (nothing: no lower layer says anything) by
/// the values merge itself.
fn merge_over(base: Option<Value>, over: &Value) -> Value {
    let span = crate::source::Span::file_start(crate::source::FileId(0));
    let base = base.map_or(Node::new(span, crate::values::yaml::Value::Null), |b| {
        Node::from_json(&b, span)
    });
    crate::values::merge::merge(base, &Node::from_json(over, span)).to_json()
}

/// Whether `layer` says anything at `path` (the value, or a non-mapping
/// above it).
pub(super) fn touches(layer: &Value, path: &[String]) -> bool {
    let mut node = layer;
    for (i, key) in path.iter().enumerate() {
        match node {
            Value::Object(map) => match map.get(key) {
                Some(next) => node = next,
                None => return false,
            },
            // A layer that is not a mapping says nothing.
            _ => return i > 0,
        }
    }
    true
}

pub(super) fn pointer_get<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, k| v.get(k.as_str()))
}

/// The values that differ between `source` and `target` under `path`:
/// mappings are compared key by key, anything else as a whole.
fn leaves(
    path: &mut Vec<String>,
    source: Option<&Value>,
    target: Option<&Value>,
    out: &mut Vec<Leaf>,
) {
    match (source, target) {
        (Some(Value::Object(s)), Some(Value::Object(t))) if !(s.is_empty() && t.is_empty()) => {
            let mut keys: Vec<&String> = s.keys().collect();
            keys.extend(t.keys().filter(|k| !s.contains_key(*k)));
            for key in keys {
                path.push(key.clone());
                leaves(path, s.get(key), t.get(key), out);
                path.pop();
            }
        }
        (s, t) if s != t => out.push(Leaf {
            path: path.clone(),
            old: t.cloned(),
            new: s.cloned(),
        }),
        _ => {}
    }
}

fn enabled(values: &Value) -> bool {
    values.get("enabled").and_then(Value::as_bool) != Some(false)
}

/// Where the target-only layer of a stream is: its file, and the path of
/// its block (or, for a stream of the target's own `streams:` list, of the
/// entry) in that file.
pub(super) fn own_layer(
    def: &StreamDef,
    target: &str,
    path: &[String],
    layers: &Layers,
) -> (Vec<Seg>, bool) {
    let mut prefix = Vec::new();
    if let Some(i) = def.list_entry() {
        prefix.push(Seg::Key("streams".into()));
        prefix.push(Seg::Index(i));
    }
    let entry_is_own = matches!(&def.origin, Origin::EnvironmentList(e) if e == target);
    if entry_is_own && !touches(&layers.block, path) {
        return (prefix, false);
    }
    prefix.push(Seg::Key("environments".into()));
    prefix.push(Seg::Key(target.to_owned()));
    (prefix, true)
}

pub(super) fn segs(prefix: &[Seg], path: &[String]) -> Vec<Seg> {
    [prefix, &edit::keys(path)].concat()
}

/// The definition of `def`'s stream that the source environment reads.
fn source_def<'r>(repo: &'r Repository, def: &'r StreamDef, from: &str) -> Option<&'r StreamDef> {
    if def.applies_to(from) {
        return Some(def);
    }
    repo.streams
        .iter()
        .find(|d| d.name == def.name && d.applies_to(from))
}

/// One stream in the target.
struct Member<'r> {
    def: &'r StreamDef,
    layers: Layers,
    /// Effective values in the target (numbers as written).
    target: Value,
    /// In the source, when the source has the stream.
    source: Option<Value>,
    promoted: bool,
}

/// The edit that gives `want` at `path` in a stream's own layer, given the
/// value its lower layers give (`below`) and whether the layer already
/// says something there.
pub(super) fn own_edit(below: Option<&Value>, has: bool, want: Option<&Value>) -> Option<Op> {
    if below == want {
        return has.then_some(Op::Remove);
    }
    Some(Op::Set(want.cloned().unwrap_or(Value::Null)))
}

pub fn plan(request: &Request) -> Result<Plan, Refusal> {
    let Request {
        repo,
        sources,
        from,
        to,
        ..
    } = request;
    let mut plan = Plan::default();
    for name in request.streams {
        if !repo.streams.iter().any(|d| &d.name == name) {
            return Err(Refusal(format!("no stream `{name}`")));
        }
    }
    let named = |name: &str| request.streams.iter().any(|s| s == name);
    let common = repo
        .common_values
        .as_ref()
        .map(|c| exact_json(c, sources))
        .unwrap_or(Value::Object(Default::default()));
    let env = exact_json(&to.values, sources);
    let paths = key_paths(request.keys);

    let mut members = Vec::new();
    for def in repo.streams.iter().filter(|d| d.applies_to(&to.name)) {
        let layers = Layers {
            common: common.clone(),
            env: env.clone(),
            def: definition_json(def, sources),
            block: def
                .block(&to.name)
                .map(|b| exact_json(b, sources))
                .unwrap_or(Value::Null),
        };
        let exact = |def: &StreamDef, e: &Environment| effective(repo, sources, def, e);
        let target = exact(def, to);
        // The same stream in the source: this definition, or one of the
        // source's own `streams:` list.
        let source = source_def(repo, def, &from.name).map(|d| exact(d, from));
        let wanted = request.streams.is_empty() || named(&def.name);
        let promoted = match &source {
            Some(s) if wanted && enabled(s) => {
                if enabled(&target) || named(&def.name) || request.include_new {
                    true
                } else {
                    plan.left_out.push(def.name.clone());
                    false
                }
            }
            _ => false,
        };
        if named(&def.name) && source.is_none() {
            return Err(Refusal(format!(
                "stream `{}` is not in {}: {} defines it for {} only",
                def.name, from.name, def.path, to.name
            )));
        }
        if named(&def.name) && source.as_ref().is_some_and(|s| !enabled(s)) {
            return Err(Refusal(format!(
                "stream `{}` is left out of {} (`enabled: false`): there is nothing to promote",
                def.name, from.name
            )));
        }
        members.push(Member {
            def,
            layers,
            target,
            source,
            promoted,
        });
    }
    for def in &repo.streams {
        let in_target = repo
            .streams
            .iter()
            .any(|d| d.name == def.name && d.applies_to(&to.name));
        if def.applies_to(&from.name) && !in_target {
            if named(&def.name) {
                return Err(Refusal(
                    format!(
                        "stream `{}` is defined in {}'s own `streams:` list ({}), so {} cannot have it",
                        def.name, from.name, def.path, to.name
                    ) + "; move its definition to values/streams/ or common.yaml's `streams:` list",
                ));
            }
            plan.only_in_source.push(def.name.clone());
        }
    }

    // What each promoted stream's target must take from its source.
    let mut wanted: Vec<Vec<Leaf>> = Vec::with_capacity(members.len());
    for m in &members {
        let mut out = Vec::new();
        if m.promoted {
            let source = m.source.as_ref().expect("promoted streams have a source");
            for path in &paths {
                let mut p = path.clone();
                leaves(
                    &mut p,
                    pointer_get(source, path),
                    pointer_get(&m.target, path),
                    &mut out,
                );
            }
            // Overlapping keys (`image`, `image.tag`) give a value once.
            let mut seen = std::collections::HashSet::new();
            out.retain(|l| seen.insert(l.path.clone()));
        }
        wanted.push(out);
    }

    // Environment-level edits: one per path every promoted stream wants
    // the same value at, when that reaches no other stream.
    let mut env_after = env.clone();
    let mut env_changes: Vec<Change> = Vec::new();
    let mut at_env_level: Vec<Vec<String>> = Vec::new();
    let mut all_paths: Vec<Vec<String>> = wanted.iter().flatten().map(|l| l.path.clone()).collect();
    all_paths.sort();
    all_paths.dedup();
    for path in &all_paths {
        let promoted: Vec<usize> = (0..members.len())
            .filter(|&i| members[i].promoted)
            .collect();
        let want_of = |i: usize| pointer_get(members[i].source.as_ref().expect("source"), path);
        // The streams an environment-file edit reaches: a definition that
        // sets the value itself keeps its own (and gets a pin if needed).
        // A shared file's key of the other engine does not reach a stream
        // at all (see `engine`).
        let applies = |m: &Member<'_>| {
            let engine = crate::engine::Engine::of_json(&m.target);
            crate::engine::Engine::owning(&path[0]).is_none_or(|owner| owner == engine)
        };
        let reached: Vec<usize> = promoted
            .iter()
            .copied()
            .filter(|&i| applies(&members[i]) && !touches(&members[i].layers.def, path))
            .collect();
        let Some(&first) = reached.first() else {
            continue;
        };
        let want = want_of(first);
        if reached.iter().any(|&i| want_of(i) != want) {
            continue;
        }
        let below_env = merged_at(&[&common], path);
        let op = match want {
            Some(v) if pointer_get(&env, path) != Some(v) => Op::Set(v.clone()),
            Some(_) => continue,
            None if below_env.is_some() => Op::Set(Value::Null),
            None if touches(&env, path) => Op::Remove,
            None => continue,
        };
        let mut candidate = env.clone();
        apply_json_path(&mut candidate, path, &op);
        let mut edits = 1usize;
        let mut left_out_reached = Vec::new();
        let mut fine = true;
        for m in members.iter().filter(|m| applies(m)) {
            let l = &m.layers;
            let before = merged_at(&[&l.common, &l.env, &l.def, &l.block], path);
            let after = merged_at(&[&l.common, &candidate, &l.def, &l.block], path);
            if m.promoted {
                let below_own = merged_at(&[&l.common, &candidate, &l.def], path);
                if after.as_ref() != want || (touches(&l.block, path) && below_own.as_ref() == want)
                {
                    edits += 1;
                }
            } else if after != before {
                let toward_source = m.source.as_ref().map(|s| pointer_get(s, path).cloned());
                if !enabled(&m.target) && toward_source == Some(after.clone()) {
                    left_out_reached.push(m.def.name.clone());
                } else {
                    fine = false;
                    break;
                }
            }
        }
        let per_stream = promoted
            .iter()
            .filter(|&&i| applies(&members[i]) && pointer_get(&members[i].target, path) != want)
            .count();
        let better = edits < per_stream || (edits == per_stream && request.streams.is_empty());
        if fine && better {
            apply_json_path(&mut env_after, path, &op);
            env_changes.push(Change {
                path: edit::keys(path),
                op,
            });
            at_env_level.push(path.clone());
            plan.notes.push(format!(
                "`{}`: one edit to {} ({} promoted stream{} of {} take{} it)",
                path.join("."),
                sources.get(to.file).path,
                reached.len(),
                if reached.len() == 1 { "" } else { "s" },
                to.name,
                if reached.len() == 1 { "s" } else { "" },
            ));
            plan.reached_left_out.extend(left_out_reached);
        }
    }
    plan.reached_left_out.sort();
    plan.reached_left_out.dedup();
    if !env_changes.is_empty() {
        plan.files
            .entry(sources.get(to.file).path.clone())
            .or_default()
            .changes
            .extend(env_changes);
    }

    // Each promoted stream's own layer: what the environment file does
    // not give it, and pins the environment file now makes redundant.
    for (m, leaves) in members.iter().zip(&wanted) {
        if !m.promoted {
            continue;
        }
        let l = &m.layers;
        let mut stream_leaves = leaves.clone();
        let mut changes = Vec::new();
        let mut own = |path: &[String], want: Option<&Value>, only_removal: bool| {
            let (prefix, is_block) = own_layer(m.def, &to.name, path, l);
            let (below, has) = if is_block {
                (
                    merged_at(&[&l.common, &env_after, &l.def], path),
                    touches(&l.block, path),
                )
            } else {
                (
                    merged_at(&[&l.common, &env_after], path),
                    touches(&l.def, path),
                )
            };
            if let Some(op) = own_edit(below.as_ref(), has, want)
                && (!only_removal || op == Op::Remove)
            {
                changes.push(Change {
                    path: segs(&prefix, path),
                    op,
                });
            }
        };
        for leaf in leaves {
            let after = merged_at(&[&l.common, &env_after, &l.def, &l.block], &leaf.path);
            if after != leaf.new {
                own(&leaf.path, leaf.new.as_ref(), false);
            } else if at_env_level.contains(&leaf.path) {
                // A pin the environment-level edit makes redundant goes,
                // when the stream's lower layers now give the same value.
                own(&leaf.path, leaf.new.as_ref(), true);
            }
        }
        let enables = !enabled(&m.target);
        if enables {
            let path = ["enabled".to_owned()];
            own(&path, Some(&Value::Bool(true)), false);
            stream_leaves.push(Leaf {
                path: path.to_vec(),
                old: Some(Value::Bool(false)),
                new: Some(Value::Bool(true)),
            });
        }
        if !changes.is_empty() {
            plan.files
                .entry(m.def.path.clone())
                .or_default()
                .changes
                .extend(changes);
        }
        if !stream_leaves.is_empty() {
            plan.streams.push(StreamPlan {
                name: m.def.name.clone(),
                leaves: stream_leaves,
                enables,
            });
        }
    }
    Ok(plan)
}

fn apply_json_path(root: &mut Value, path: &[String], op: &Op) {
    edit::apply_json(
        root,
        &Change {
            path: edit::keys(path),
            op: op.clone(),
        },
    );
}

pub(super) fn strip(value: &mut Value, path: &[String]) {
    apply_json_path(value, path, &Op::Remove);
}

fn shown(value: Option<&Value>) -> String {
    value.map_or("(not set)".to_owned(), |v| v.to_string())
}

/// Which key gives a stream's image (the first that is set wins).
fn image_key(values: &Value) -> Option<&'static str> {
    if values.get("image").is_some_and(Value::is_string) {
        Some("image")
    } else if values.pointer("/image/repository").is_some() {
        Some("image.repository")
    } else if values.pointer("/spark/image").is_some() {
        Some("spark.image")
    } else {
        None
    }
}

/// The promise, checked on the edited repository: every promoted stream's
/// target values equal its source's for the promotion keys (removals
/// included), and nothing else changes in any stream in any environment.
pub fn verify(
    before: (&Repository, &Sources),
    after: (&Repository, &Sources),
    from: &str,
    to: &str,
    keys: &[String],
    plan: &Plan,
) -> Result<(), Refusal> {
    let paths = key_paths(keys);
    let exact = |(repo, sources): (&Repository, &Sources), def: &StreamDef, env: &Environment| {
        effective(repo, sources, def, env)
    };
    let source_env = before
        .0
        .environment(from)
        .ok_or_else(|| Refusal(format!("no environment `{from}`")))?;
    let planned: std::collections::HashMap<&str, &StreamPlan> =
        plan.streams.iter().map(|s| (s.name.as_str(), s)).collect();
    for env in &before.0.environments {
        let env_after = after
            .0
            .environment(&env.name)
            .ok_or_else(|| Refusal(format!("the edits would remove environment `{}`", env.name)))?;
        let names = |repo: &Repository, e: &str| -> Vec<String> {
            repo.streams
                .iter()
                .filter(|d| d.applies_to(e))
                .map(|d| d.name.clone())
                .collect()
        };
        if names(before.0, &env.name) != names(after.0, &env.name) {
            return Err(Refusal(format!(
                "the edits would change which streams {} has",
                env.name
            )));
        }
        let defs_after: std::collections::HashMap<&str, &StreamDef> = after
            .0
            .streams
            .iter()
            .filter(|d| d.applies_to(&env.name))
            .map(|d| (d.name.as_str(), d))
            .collect();
        for def in before.0.streams.iter().filter(|d| d.applies_to(&env.name)) {
            let def_after = defs_after[def.name.as_str()];
            let mut old = exact(before, def, env);
            let after_values = exact(after, def_after, env_after);
            let mut new = after_values.clone();
            let stream = planned.get(def.name.as_str()).copied();
            if env.name == to {
                let source = source_def(before.0, def, from).map(|d| exact(before, d, source_env));
                for path in &paths {
                    let (was, is) = (pointer_get(&old, path), pointer_get(&new, path));
                    let from_source = source.as_ref().and_then(|s| pointer_get(s, path));
                    let may_change = stream.is_some() || plan.reached_left_out.contains(&def.name);
                    if was != is && !(may_change && is == from_source) {
                        return Err(Refusal(format!(
                            "stream `{}` in {to}: `{}` would be {} instead of {}",
                            def.name,
                            path.join("."),
                            shown(is),
                            shown(if stream.is_some() { from_source } else { was }),
                        )));
                    }
                    if stream.is_some() && is != from_source {
                        return Err(Refusal(format!(
                            "stream `{}` in {to}: `{}` would stay {}, not {from}'s {}",
                            def.name,
                            path.join("."),
                            shown(is),
                            shown(from_source)
                        )));
                    }
                }
                // Compared first, stripped after: keys may overlap
                // (`image` and `image.tag`).
                for path in &paths {
                    strip(&mut old, path);
                    strip(&mut new, path);
                }
                if let Some(s) = stream {
                    if s.enables {
                        if !enabled(&new) {
                            return Err(Refusal(format!(
                                "stream `{}` would stay left out of {to}",
                                def.name
                            )));
                        }
                        strip(&mut old, &["enabled".to_owned()]);
                        strip(&mut new, &["enabled".to_owned()]);
                    }
                    // The image the stream runs, as rendering derives it.
                    let source = source.as_ref().expect("a promoted stream has a source");
                    let (want, got) = (
                        crate::spark::derive::image(source),
                        crate::spark::derive::image(&after_values),
                    );
                    let image_keys = ["image", "spark.image"];
                    if want != got && keys.iter().any(|k| image_keys.contains(&k.as_str())) {
                        let winner = image_key(&after_values).unwrap_or("image");
                        let theirs = image_key(source).unwrap_or("spark.image");
                        return Err(Refusal(
                            format!(
                                "stream `{}`: {to} sets `{winner}`, which overrides `{theirs}`, so it would still run {} instead of {from}'s {}",
                                def.name,
                                got.as_deref().unwrap_or("no image"),
                                want.as_deref().unwrap_or("no image"),
                            ) + &format!(
                                "; add `{}` to `promotion.keys` in common.yaml, or remove it from {to}",
                                winner.split('.').next().unwrap_or(winner)
                            ),
                        ));
                    }
                }
            }
            if old != new {
                return Err(Refusal(format!(
                    "the edits would also change stream `{}` in {} outside the promotion keys",
                    def.name, env.name
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Vec<String> {
        s.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn merged_at_follows_the_values_merge() {
        let common = json!({"spark": {"image": "a", "version": "3"}, "image": {"repository": "r", "tag": "1"}});
        let env = json!({"spark": {"image": "b"}, "image": null});
        let def = json!({"spark": "not a map"});
        assert_eq!(
            merged_at(&[&common, &env], &p("spark.image")),
            Some(json!("b"))
        );
        assert_eq!(merged_at(&[&common, &env], &p("image.tag")), None);
        assert_eq!(merged_at(&[&common, &env], &p("image")), None);
        assert_eq!(merged_at(&[&common, &env, &def], &p("spark.image")), None);
        assert_eq!(
            merged_at(&[&common, &json!({"image": {"tag": null}})], &p("image")),
            Some(json!({"repository": "r"}))
        );
    }

    #[test]
    fn leaves_compare_mappings_key_by_key() {
        let mut out = Vec::new();
        leaves(
            &mut p("image"),
            Some(&json!({"repository": "r", "tag": "2"})),
            Some(&json!({"repository": "r", "tag": "1", "pullPolicy": "Always"})),
            &mut out,
        );
        assert_eq!(
            out,
            [
                Leaf {
                    path: p("image.tag"),
                    old: Some(json!("1")),
                    new: Some(json!("2"))
                },
                Leaf {
                    path: p("image.pullPolicy"),
                    old: Some(json!("Always")),
                    new: None
                }
            ]
        );
    }
}
