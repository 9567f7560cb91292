//! `sluice lint`: every check, every stream, every environment; all
//! findings in one run.

use super::{Exit, Global, SetFlags, UsageError, select};
use crate::diag::{self, Diagnostic, Subject};
use crate::report::{self, Coverage};
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LintFormat {
    Human,
    Json,
    Junit,
    CodeQuality,
}

#[derive(Clone, Debug)]
pub struct LintOptions {
    pub environments: Vec<String>,
    /// CRDs to check objects of their kinds against, before the
    /// repository's own and the built-in schemas.
    pub crd: Vec<std::path::PathBuf>,
    pub sets: SetFlags,
    pub format: LintFormat,
    /// Reports written to files besides stdout, from the same findings.
    pub reports: Vec<(LintFormat, std::path::PathBuf)>,
    /// Warnings fail the run too.
    pub strict: bool,
}

pub fn run(global: &Global, options: &LintOptions) -> anyhow::Result<Exit> {
    let started = Instant::now();
    let mut loaded = super::load(global)?;
    let environments = select(&loaded.repo, &options.environments)?;
    let sets = options.sets.parse(&mut loaded.sources, global)?;
    for path in &options.crd {
        let text = std::fs::read_to_string(path).map_err(|e| {
            UsageError::new(format!("cannot read the CRD `{}`: {e}", path.display()))
        })?;
        let defined = loaded
            .manifest_schema
            .add_crd(&text, &path.display().to_string())
            .map_err(|e| {
                UsageError::new(format!("`{}` is not a usable CRD: {e}", path.display()))
                    .help("pass a CustomResourceDefinition, e.g. from `kubectl get crd sparkapplications.sparkoperator.k8s.io -o yaml`")
            })?;
        global.trace(|| format!("lint: {} defines {}", path.display(), defined.join(", ")));
    }
    // Only findings and object keys are kept.
    let affected = loaded.affected.clone();
    let touched =
        |env: &str, stream: &str| affected.as_ref().is_none_or(|a| a.includes(env, stream));
    let run = crate::pipeline::run(&loaded.input(&environments, &sets), touched, |_| ());
    loaded.diagnostics.extend(run.diagnostics);
    let mut objects = 0;
    let mut cases = Vec::new();
    for o in run.outcomes {
        objects += o.result.len();
        if o.enabled && touched(&o.environment, &o.stream) {
            cases.push((
                Subject {
                    stream: o.stream,
                    environment: o.environment,
                },
                o.path,
            ));
        }
    }
    global.trace(|| format!("lint: rendered and checked {objects} objects"));
    let mut diagnostics = diag::normalize(loaded.diagnostics, &loaded.sources);
    if affected.is_some() {
        // Findings about untouched streams are not this change's.
        diagnostics.retain(|d| {
            d.subjects.is_empty()
                || d.subjects
                    .iter()
                    .any(|s| touched(&s.environment, &s.stream))
        });
        for d in &mut diagnostics {
            d.subjects.retain(|s| touched(&s.environment, &s.stream));
        }
    }
    global.trace(|| {
        format!(
            "lint: {} streams x environments checked in {:.1?} (CPU time: {})",
            cases.len(),
            started.elapsed(),
            crate::stats::summary()
        )
    });

    let coverage = Coverage {
        cases,
        environments: environments.iter().map(|e| e.name.clone()).collect(),
        files: loaded.repo.files.len(),
    };
    let checked = {
        let streams = coverage
            .cases
            .iter()
            .map(|(s, _)| &s.stream)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let envs = coverage.environments.len();
        let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
        format!(
            "{} in {}, {}",
            plural(streams, "stream"),
            plural(envs, "environment"),
            plural(coverage.files, "file")
        )
    };
    let text = |format: LintFormat, styled: bool| match format {
        LintFormat::Human => report::human::report(&diagnostics, &loaded.sources, styled, &checked),
        LintFormat::Json => {
            report::json::report(&diagnostics, &loaded.sources, coverage.cases.len())
        }
        LintFormat::Junit => report::junit::report(&diagnostics, &loaded.sources, &coverage),
        LintFormat::CodeQuality => report::codequality::report(&diagnostics, &loaded.sources),
    };
    // The files first: a pipeline keeps them even when the job fails.
    for (format, path) in &options.reports {
        std::fs::write(path, text(*format, false)).map_err(|e| {
            UsageError::new(format!("cannot write the report `{}`: {e}", path.display()))
        })?;
    }
    super::print(&text(options.format, global.styled(false)))?;
    let failing = |d: &Diagnostic| {
        d.is_error() || (options.strict && d.severity == crate::diag::Severity::Warning)
    };
    let exit = if diagnostics.iter().any(failing) {
        Exit::Findings
    } else {
        Exit::Success
    };
    super::leave((
        loaded.repo,
        loaded.sources,
        loaded.schema,
        loaded.manifest_schema,
        loaded.templates,
        coverage,
        diagnostics,
    ));
    Ok(exit)
}
