//! Every check of the values stage, for the selected environments (pure).

use super::effective::{self, Effective};
use super::repo::{Environment, FileKind, Origin, Repository, StreamDef};
use super::validate::Schema;
use super::yaml::{Node, Value};
use crate::diag::Diagnostic;
use crate::secret;
use crate::source::{FileId, Sources, Span};
use rayon::prelude::*;

/// What the values stage found for one stream in one environment, with
/// what the caller's per-stream step made of it.
#[derive(Debug)]
pub struct Outcome<R> {
    pub stream: String,
    pub environment: String,
    /// The file that defines the stream.
    pub path: String,
    pub enabled: bool,
    pub result: R,
}

/// Checks every values file on its own, then the effective values of every
/// stream in each of `environments`, calling `each` on every stream's
/// effective values as soon as they are checked (with `true` when neither
/// they nor the environment's file have errors). The effective values are
/// dropped right after, so memory stays flat however many streams there
/// are. Outcomes come in environment, then stream order.
pub fn check<'r, R: Send>(
    repo: &'r Repository,
    environments: &[&'r Environment],
    sets: &[super::set::Flag],
    schema: &Schema,
    sources: &Sources,
    each: impl Fn(&Effective<'r>, bool) -> R + Sync,
) -> (Vec<Diagnostic>, Vec<Outcome<R>>) {
    let selected: Vec<&str> = environments.iter().map(|e| e.name.as_str()).collect();
    let file_findings: Vec<Vec<Diagnostic>> = repo
        .files
        .par_iter()
        .filter(|f| match f.kind {
            // An environment that is not selected is not checked.
            FileKind::Environment => repo
                .environments
                .iter()
                .any(|e| e.file == f.file && selected.contains(&e.name.as_str())),
            _ => true,
        })
        .map(|f| {
            let def = repo
                .streams
                .iter()
                .find(|d| d.origin == Origin::File && d.span.file == f.file);
            schema
                .check_file(f.kind, &f.root, sources)
                .into_iter()
                .filter_map(|(pointer, d)| attribute(d, &pointer, def, &selected))
                .collect()
        })
        .collect();
    let file_findings: Vec<Diagnostic> = file_findings.into_iter().flatten().collect();
    let broken_env_files: Vec<FileId> = file_findings
        .iter()
        .filter(|d| d.is_error())
        .filter_map(|d| d.primary.as_ref().map(|l| l.span.file))
        .collect();

    let pairs: Vec<(&Environment, &StreamDef)> = environments
        .iter()
        .flat_map(|env| {
            repo.streams
                .iter()
                .filter(|d| d.applies_to(&env.name))
                .map(move |d| (*env, d))
        })
        .collect();
    let per_stream: Vec<(Vec<Diagnostic>, Option<crate::rules::Facts>, Outcome<R>)> = pairs
        .par_iter()
        .map(|&(environment, def)| {
            let (mut values, set_found) = crate::stats::MERGE
                .time(|| effective::values_and_findings(repo, def, environment, sets));
            let inexact = super::exact::keep_written_text(&mut values, sources);
            let e = Effective {
                def,
                environment,
                json: values.to_json(),
                values,
            };
            let mut found = set_found;
            if e.enabled() {
                found.extend(inexact);
                found.extend(crate::stats::VALIDATE.time(|| {
                    schema.check_effective(&e.values, &e.json, effective::anchor(def), sources)
                }));
            }
            // A credential in a disabled stream is still committed. The
            // stream's `lint.ignore` applies here: the finding would
            // otherwise fail the stream before the rules (which apply it
            // to their own findings) run. Output masks it either way.
            if !crate::rules::ignored(&e.values)
                .iter()
                .any(|c| c == LITERAL_SECRET)
            {
                found.extend(literal_secrets(&e.values));
            }
            let ok = !found.iter().any(Diagnostic::is_error)
                && !broken_env_files.contains(&environment.file);
            let mut found: Vec<Diagnostic> = found
                .into_iter()
                .map(|d| d.subject(&def.name, &environment.name))
                .collect();
            // The Spark-on-Kubernetes rules need sound values.
            let facts = (ok && e.enabled()).then(|| {
                let (rules_found, facts) =
                    crate::stats::RULES.time(|| crate::rules::check_stream(&e));
                found.extend(rules_found);
                facts
            });
            let result = each(&e, ok);
            let outcome = Outcome {
                stream: def.name.clone(),
                environment: environment.name.clone(),
                path: def.path.clone(),
                enabled: e.enabled(),
                result,
            };
            (found, facts, outcome)
        })
        .collect();
    // Merged-values findings first: when a file finding is the same, the
    // merged one carries the richer "overrides" context.
    let mut diagnostics = Vec::new();
    let mut outcomes = Vec::with_capacity(per_stream.len());
    let mut facts = Vec::new();
    for (found, f, outcome) in per_stream {
        diagnostics.extend(found);
        facts.extend(f);
        outcomes.push(outcome);
    }
    diagnostics.extend(crate::rules::check_across(&facts));
    let mut diagnostics = crate::rules::suppress(diagnostics, &facts);
    diagnostics.extend(file_findings);
    for env in environments {
        if !outcomes
            .iter()
            .any(|o| o.environment == env.name && o.enabled)
        {
            diagnostics.push(
                Diagnostic::warning(
                    "values/no-streams",
                    format!("environment `{}` deploys no stream", env.name),
                )
                .at(Span::file_start(env.file), "this environment")
                .help("add a file under values/streams/, or enable a stream for this environment"),
            );
        }
    }
    (diagnostics, outcomes)
}

/// A finding in a stream's file concerns that stream in the selected
/// environments, or only in one if it is inside its `environments:` block
/// (and none if that environment is not selected).
fn attribute(
    d: Diagnostic,
    pointer: &str,
    def: Option<&StreamDef>,
    selected: &[&str],
) -> Option<Diagnostic> {
    let block = pointer.strip_prefix("/environments/").map(|rest| {
        rest.split('/')
            .next()
            .unwrap_or(rest)
            .replace("~1", "/")
            .replace("~0", "~")
    });
    if let Some(env) = &block
        && !selected.contains(&env.as_str())
    {
        return None;
    }
    let Some(def) = def else { return Some(d) };
    let envs = selected
        .iter()
        .filter(|e| block.as_deref().is_none_or(|b| b == **e) && def.applies_to(e));
    Some(envs.fold(d, |d, e| d.subject(&def.name, e)))
}

const LITERAL_SECRET: &str = "values/literal-secret";

/// Literal credentials anywhere in a stream's values (see `secret` for what
/// counts: credential-looking keys and env names, credential flags in
/// lists, passwords in URLs and `key=value` settings, AWS keys), but not
/// references (`${VAR}`, `secrets:`, `valueFrom`, Spark's secret-mount
/// confs). The value itself is never printed.
fn literal_secrets(values: &Node) -> Vec<Diagnostic> {
    use secret::{Hidden, Seg, Why};
    let mut out = Vec::new();
    secret::visit(values, &mut |path, node: &Node, hidden| {
        if path.first() == Some(&Seg::Key("lint")) {
            return;
        }
        let walk = values.walk(&secret::pointer(path));
        let env_value = path.last() == Some(&Seg::Key("value"));
        let (span, label, help) = match &hidden {
            Hidden::Whole(_) if !is_literal(node) => return,
            Hidden::Whole(Why::Key) if env_value => (
                walk.key_span.unwrap_or(node.span),
                format!(
                    "the literal value of env variable `{}` (value not shown)",
                    values
                        .walk(&secret::pointer(&path[..path.len() - 1]))
                        .node
                        .get("name")
                        .and_then(Node::as_str)
                        .unwrap_or("?")
                ),
                "take it from a Kubernetes Secret instead: `valueFrom: {secretKeyRef: {name: my-secret, key: password}}`",
            ),
            Hidden::Whole(Why::Key) => (
                walk.key_span.unwrap_or(node.span),
                "credential-looking key with a literal value (value not shown)".to_owned(),
                "reference a Kubernetes Secret instead: `secrets: [{name: my-secret, env: {VAR: key}}]`",
            ),
            Hidden::Whole(Why::Flag) => (
                node.span,
                "the value of a credential flag (value not shown)".to_owned(),
                "pass it from a Kubernetes Secret instead: `secrets: [{name: my-secret, env: {VAR: key}}]`, and write `${VAR}` here",
            ),
            Hidden::Parts(parts) => (
                node.span,
                format!("{} (value not shown)", parts[0].what),
                "keep the credential in a Kubernetes Secret (`secrets: [{name: my-secret, env: {VAR: key}}]`) and write `${VAR}` in its place",
            ),
        };
        out.push(
            Diagnostic::error(
                LITERAL_SECRET,
                format!("`{}` holds a literal credential", secret::dotted(path)),
            )
            .at(span, label)
            .note("values files are committed and rendered manifests are stored in the cluster: a literal credential leaks to everyone who can read either")
            .help(help.to_owned()),
        );
    });
    out
}

/// Whether a hidden value is (or holds) a literal: a non-empty string that
/// is not a `${VAR}` reference, or a number.
fn is_literal(node: &Node) -> bool {
    match &node.value {
        Value::String(s) => !s.is_empty() && !secret::is_reference(s),
        Value::Number(_) => true,
        Value::Map(entries) => entries.iter().any(|e| is_literal(&e.value)),
        Value::Seq(items) => items.iter().any(is_literal),
        _ => false,
    }
}
