//! The stages every command runs, in one place (pure): merge → validate →
//! render → check, for each stream of the chosen environments, then the
//! check across streams. `lint`, `render`, `diff`, `apply`, `status` and
//! `promote` call [`run`], `values` calls [`values`] (the stages up to
//! the effective values); none of them calls another command for it. The
//! stages themselves are plain functions of the modules that own them:
//! `values::check` (files, then each stream), `render`, `check`.
//!
//! Loading (the file system or git) stays at the edge, in `commands`.

use crate::check::{self, ManifestSchema, ObjectKey};
use crate::diag::Diagnostic;
use crate::render::{Manifest, Templates};
use crate::source::{Sources, Span};
use crate::values::check::{across, check_files, check_stream, pairs};
use crate::values::effective::Effective;
use crate::values::repo::{Environment, Repository};
use crate::values::set::Flag;
use crate::values::validate::Schema;
use rayon::prelude::*;
use std::collections::HashSet;

/// What the stages read: the loaded repository.
pub struct Input<'a> {
    pub repo: &'a Repository,
    pub environments: &'a [&'a Environment],
    pub sets: &'a [Flag],
    pub schema: &'a Schema,
    pub templates: &'a Templates,
    pub manifest_schema: &'a ManifestSchema,
    pub sources: &'a Sources,
}

/// What the pipeline made of one stream in one environment.
#[derive(Debug)]
pub struct Outcome<R> {
    pub stream: String,
    pub environment: String,
    /// The file that defines the stream.
    pub path: String,
    pub enabled: bool,
    pub result: R,
}

/// What came out: every finding, and per stream × environment what `keep`
/// made of each of its objects (nothing for a stream that was not rendered).
pub struct Run<T> {
    pub diagnostics: Vec<Diagnostic>,
    pub outcomes: Vec<Outcome<Vec<(ObjectKey, T)>>>,
}

/// The values stage for every stream × environment, in parallel: each
/// file checked on its own, then each stream's layers merged and checked,
/// and `each` called on its effective values as soon as they are (with
/// `true` when neither they nor the environment's file have errors). The
/// effective values are dropped right after, so memory stays flat however
/// many streams there are; `values` shows them, [`run`] renders them.
/// Outcomes come in environment, then stream order.
pub fn values<'r, R: Send>(
    input: &Input<'r>,
    each: impl Fn(&Effective<'r>, bool) -> R + Sync,
) -> (Vec<Diagnostic>, Vec<Outcome<R>>) {
    let files = check_files(input.repo, input.environments, input.schema, input.sources);
    let per_stream: Vec<_> = pairs(input.repo, input.environments)
        .par_iter()
        .map(|&(environment, def)| {
            let checked = check_stream(
                input.repo,
                environment,
                def,
                input.sets,
                input.schema,
                input.sources,
                &files,
            );
            let e = &checked.effective;
            let outcome = Outcome {
                stream: def.name.clone(),
                environment: environment.name.clone(),
                path: def.path.clone(),
                enabled: e.enabled(),
                result: each(e, checked.ok),
            };
            (checked.found, checked.facts, outcome)
        })
        .collect();
    let mut found = Vec::new();
    let mut facts = Vec::new();
    let mut outcomes = Vec::with_capacity(per_stream.len());
    for (f, fact, outcome) in per_stream {
        found.extend(f);
        facts.extend(fact);
        outcomes.push(outcome);
    }
    let diagnostics = across(
        input.environments,
        found,
        &facts,
        files,
        |env| outcomes.iter().any(|o| o.environment == env && o.enabled),
        |env, stream| {
            outcomes
                .iter()
                .any(|o| o.environment == env && o.stream == stream)
        },
    );
    (diagnostics, outcomes)
}

/// Runs every stage. Streams `chosen` says no to, disabled streams,
/// streams whose values have errors and streams defined twice are not
/// rendered; every stream that is is checked object by object as soon as
/// it is rendered, and only what `keep` returns is kept (a 10,000-stream
/// lint holds findings and keys, not manifests).
pub fn run<T: Send>(
    input: &Input<'_>,
    chosen: impl Fn(&str, &str) -> bool + Sync,
    keep: impl Fn(&Manifest) -> T + Sync,
) -> Run<T> {
    // Which definition would it be? (Two environments may each define a
    // stream of the same name in their own `streams:` list.)
    let twice: HashSet<&str> = input
        .repo
        .streams
        .windows(2)
        .filter(|w| w[0].name == w[1].name)
        .map(|w| w[0].name.as_str())
        .collect();
    let defined_twice = |env: &str, name: &str| {
        twice.contains(name)
            && input
                .repo
                .streams
                .iter()
                .filter(|d| d.name == name && d.applies_to(env))
                .count()
                > 1
    };
    let (mut diagnostics, outcomes) = values(input, |e, ok| {
        if !(ok
            && e.enabled()
            && !defined_twice(&e.environment.name, e.name())
            && chosen(&e.environment.name, e.name()))
        {
            return (Vec::new(), Vec::new());
        }
        let (manifests, found) = render_stream(e, input);
        (
            found,
            manifests
                .iter()
                .map(|m| (ObjectKey::of(m), keep(m)))
                .collect(),
        )
    });
    let mut keys = Vec::new();
    let outcomes: Vec<Outcome<Vec<(ObjectKey, T)>>> = outcomes
        .into_iter()
        .map(|o| {
            let (found, kept) = o.result;
            diagnostics.extend(found);
            keys.extend(kept.iter().map(|(k, _)| k.clone()));
            Outcome {
                stream: o.stream,
                environment: o.environment,
                path: o.path,
                enabled: o.enabled,
                result: kept,
            }
        })
        .collect();
    diagnostics.extend(check::duplicates(&mut keys, &anchor_in(input.repo)));
    Run {
        diagnostics,
        outcomes,
    }
}

/// Renders one stream's objects and checks each on its own (the check
/// across streams is `check::duplicates`).
fn render_stream(e: &Effective<'_>, input: &Input<'_>) -> (Vec<Manifest>, Vec<Diagnostic>) {
    match crate::stats::RENDER.time(|| input.templates.render(e, input.sources)) {
        Ok(manifests) => {
            let namespace = e.environment.namespace.as_deref();
            let found = manifests
                .iter()
                .flat_map(|m| {
                    crate::stats::CHECK.time(|| {
                        check::check_object(
                            m,
                            namespace,
                            &e.environment.allowed,
                            e.environment.protected,
                            input.manifest_schema,
                            Some(e.def.name_span),
                        )
                    })
                })
                .collect();
            (manifests, found)
        }
        Err(found) => (Vec::new(), found),
    }
}

/// Where findings about a stream point: its (first) definition.
pub fn anchor_in(repo: &Repository) -> impl Fn(&str) -> Option<Span> + '_ {
    move |stream| {
        repo.streams
            .iter()
            .find(|d| d.name == stream)
            .map(|d| d.name_span)
    }
}
