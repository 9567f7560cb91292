//! The effective values of each stream in each environment (pure).
//!
//! Lowest first: `common.yaml` < `environments/E.yaml` < the stream's
//! definition < its `environments: {E: ...}` block < `--set` flags.

use super::merge::merge_all;
use super::repo::{Environment, Repository, StreamDef};
use super::yaml::{Entry, Node, Value};
use crate::source::Span;
use rayon::prelude::*;

/// One stream in one environment.
#[derive(Debug)]
pub struct Effective<'r> {
    pub def: &'r StreamDef,
    pub environment: &'r Environment,
    pub values: Node,
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

/// The effective values of every stream defined for `environment`, in
/// stream-name order, enabled or not.
pub fn compute<'r>(
    repo: &'r Repository,
    environment: &'r Environment,
    sets: &[Node],
) -> Vec<Effective<'r>> {
    repo.streams
        .par_iter()
        .filter(|def| def.applies_to(&environment.name))
        .map(|def| Effective {
            def,
            environment,
            values: values_of(repo, def, environment, sets),
        })
        .collect()
}

pub fn values_of(
    repo: &Repository,
    def: &StreamDef,
    environment: &Environment,
    sets: &[Node],
) -> Node {
    let block = def
        .environment_blocks
        .iter()
        .filter(|b| b.environment == environment.name)
        .map(|b| &b.values);
    let layers = repo
        .common_values
        .iter()
        .chain(std::iter::once(&environment.values))
        .chain(std::iter::once(&def.values))
        .chain(block)
        .chain(sets.iter());
    let mut values = merge_all(Node::empty_map(def.span), layers);
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
    values
}

/// The span a "missing key" finding for this stream points at.
pub fn anchor(def: &StreamDef) -> Span {
    def.name_span
}
