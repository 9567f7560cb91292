//! The effective values of each stream in each environment (pure).
//!
//! Lowest first: `common.yaml` < `environments/E.yaml` < the stream's
//! definition < its `environments: {E: ...}` block < `--set` flags.

use super::merge::{merge, merge_skipping};
use super::repo::{Environment, Repository, STREAM_KEYS, StreamDef};
use super::set::{self, Flag};
use super::yaml::{Entry, Node, Value};
use crate::diag::Diagnostic;
use crate::engine::{self, Engine};
use crate::source::Span;

/// One stream in one environment.
#[derive(Debug)]
pub struct Effective<'r> {
    pub def: &'r StreamDef,
    pub environment: &'r Environment,
    pub values: Node,
    /// `values` as plain JSON, for the schema, the rules and the templates.
    pub json: serde_json::Value,
    /// What runs the stream.
    pub engine: Engine,
}

impl Effective<'_> {
    pub fn name(&self) -> &str {
        &self.def.name
    }

    /// `enabled: false` at any layer leaves the stream out.
    pub fn enabled(&self) -> bool {
        !matches!(
            self.values.get("enabled").map(|n| &n.value),
            Some(Value::Bool(false))
        )
    }
}

/// The effective values; a flag that cannot apply to them is left out
/// (see [`values_and_findings`] for why).
pub fn values_of(
    repo: &Repository,
    def: &StreamDef,
    environment: &Environment,
    sets: &[Flag],
) -> Node {
    values_and_findings(repo, def, environment, sets).0
}

/// The effective values, and the error of the first flag that cannot apply
/// to them (one whose path goes through a value of another kind in this
/// stream): as in Helm, the flags after it are not applied. What
/// `common.yaml` and the environment file say for the other engine is left
/// out (see `engine`).
pub fn values_and_findings(
    repo: &Repository,
    def: &StreamDef,
    environment: &Environment,
    sets: &[Flag],
) -> (Node, Vec<Diagnostic>) {
    // Its own file names the engine, or else a shared layer.
    let named = def
        .block(&environment.name)
        .into_iter()
        .chain([def.node(), &environment.values])
        .chain(repo.common_values.iter().rev())
        .find_map(|layer| layer.get("engine"));
    let engine = Engine::named(named.and_then(Node::as_str));
    let (values, found) = layered(repo, def, environment, sets, engine);
    // `--set engine=...` decides last.
    match Engine::of(&values) {
        e if e == engine => (values, found),
        e => layered(repo, def, environment, sets, e),
    }
}

fn layered(
    repo: &Repository,
    def: &StreamDef,
    environment: &Environment,
    sets: &[Flag],
    engine: Engine,
) -> (Node, Vec<Diagnostic>) {
    let mut values = Node::empty_map(def.span);
    for layer in repo
        .common_values
        .iter()
        .chain(std::iter::once(&environment.values))
    {
        values = merge(values, layer);
    }
    engine::keep_applicable(&mut values, engine);
    // The definition without its structure keys, then its block.
    values = merge_skipping(values, def.node(), STREAM_KEYS);
    let block = def.block(&environment.name);
    // A block that switches the engine (trying a stream on Flink in dev)
    // makes the definition a shared layer for it.
    if block.is_some_and(|b| b.get("engine").is_some()) {
        engine::keep_applicable(&mut values, engine);
    }
    if let Some(block) = block {
        values = merge(values, block);
    }
    let found: Vec<Diagnostic> = set::apply(&mut values, sets).err().into_iter().collect();
    // The name is the definition's, whatever a layer says.
    if let Value::Map(entries) = &mut values.value {
        entries.retain(|e| e.key != "name");
        entries.insert(
            0,
            Entry {
                key: "name".to_owned(),
                key_span: def.name_span,
                value: Node::new(def.name_span, Value::String(def.name.clone())),
            },
        );
    }
    (values, found)
}

/// The span a "missing key" finding for this stream points at.
pub fn anchor(def: &StreamDef) -> Span {
    def.name_span
}
