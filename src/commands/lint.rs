//! `sluice lint`: every check, every stream, every environment; all
//! findings in one run.

use super::{Exit, Global, SetFlags, UsageError};
use crate::check::{ManifestSchema, ObjectKey};
use crate::diag::{self, Diagnostic, Subject};
use crate::report::{self, Coverage};
use crate::snapshot::Content;
use crate::source::{Sources, Span};
use crate::values::check::check;
use crate::values::repo::{self, Environment, Repository};
use crate::values::validate::Schema;
use std::collections::HashSet;
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
}

pub fn run(global: &Global, options: &LintOptions) -> anyhow::Result<Exit> {
    let started = Instant::now();
    let mut loaded = super::load(global)?;
    let environments = select(&loaded.repo, &options.environments)?;
    let sets = options.sets.parse(&mut loaded.sources, global)?;
    let mut manifest_schema = std::mem::take(&mut loaded.manifest_schema);
    for path in &options.crd {
        let text = std::fs::read_to_string(path).map_err(|e| {
            UsageError::new(format!("cannot read the CRD `{}`: {e}", path.display()))
        })?;
        let defined = manifest_schema
            .add_crd(&text, &path.display().to_string())
            .map_err(|e| {
                UsageError::new(format!("`{}` is not a usable CRD: {e}", path.display()))
                    .help("pass a CustomResourceDefinition, e.g. from `kubectl get crd sparkapplications.sparkoperator.k8s.io -o yaml`")
            })?;
        global.trace(|| format!("lint: {} defines {}", path.display(), defined.join(", ")));
    }
    // Streams defined twice are not rendered: which definition would it be?
    let twice: HashSet<&str> = loaded
        .repo
        .streams
        .windows(2)
        .filter(|w| w[0].name == w[1].name)
        .map(|w| w[0].name.as_str())
        .collect();
    // Every stream whose values are sound is rendered and its objects
    // checked as soon as its values are checked; only findings and object
    // keys are kept.
    let affected = loaded.affected.clone();
    let touched =
        |env: &str, stream: &str| affected.as_ref().is_none_or(|a| a.includes(env, stream));
    let (found, outcomes) = check(
        &loaded.repo,
        &environments,
        &sets,
        &loaded.schema,
        &loaded.sources,
        |e, ok| {
            if !(ok
                && e.enabled()
                && !twice.contains(e.name())
                && touched(&e.environment.name, e.name()))
            {
                return (Vec::new(), Vec::new());
            }
            let (manifests, found) =
                super::render::render_one(e, &loaded.templates, &manifest_schema, &loaded.sources);
            (
                found,
                manifests.iter().map(ObjectKey::of).collect::<Vec<_>>(),
            )
        },
    );
    loaded.diagnostics.extend(found);
    let mut keys = Vec::new();
    let mut cases = Vec::new();
    for o in outcomes {
        let (found, objects) = o.result;
        loaded.diagnostics.extend(found);
        keys.extend(objects);
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
    global.trace(|| format!("lint: rendered and checked {} objects", keys.len()));
    loaded.diagnostics.extend(crate::check::duplicates(
        &mut keys,
        &super::render::anchor_in(&loaded.repo),
    ));
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
    let text = match options.format {
        LintFormat::Human => report::human::report(
            &diagnostics,
            &loaded.sources,
            global.styled(false),
            &checked,
        ),
        LintFormat::Json => {
            report::json::report(&diagnostics, &loaded.sources, coverage.cases.len())
        }
        LintFormat::Junit => report::junit::report(&diagnostics, &loaded.sources, &coverage),
        LintFormat::CodeQuality => report::codequality::report(&diagnostics, &loaded.sources),
    };
    super::print(&text)?;
    Ok(if diagnostics.iter().any(Diagnostic::is_error) {
        Exit::Findings
    } else {
        Exit::Success
    })
}

/// The environments named on the command line (all when none is named).
pub fn select<'r>(
    repo: &'r Repository,
    names: &[String],
) -> Result<Vec<&'r Environment>, UsageError> {
    if names.is_empty() {
        return Ok(repo.environments.iter().collect());
    }
    let known = repo.environment_names();
    let mut out = Vec::new();
    for name in names {
        match repo.environment(name) {
            Some(env) if !out.iter().any(|e: &&Environment| e.name == env.name) => out.push(env),
            Some(_) => {}
            None => {
                let mut err = UsageError::new(format!(
                    "unknown environment `{name}`; the environments are: {} (files in values/environments/)",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ));
                if let Some(s) = crate::suggest::closest(name, known.iter().copied()) {
                    err = err.help(format!("did you mean `{s}`?"));
                }
                return Err(err);
            }
        }
    }
    Ok(out)
}

/// The repository, read and parsed, with the findings of loading it.
pub struct Loaded {
    pub sources: Sources,
    pub repo: Repository,
    pub schema: Schema,
    pub templates: crate::render::Templates,
    pub diagnostics: Vec<Diagnostic>,
    /// With `--changed-since`: the streams the changes touch.
    pub affected: Option<crate::changes::Affected>,
    /// What rendered objects are checked against: the built-in schemas
    /// and the repository's CRDs (schemas/crds/).
    pub manifest_schema: ManifestSchema,
}

pub fn load(global: &Global) -> anyhow::Result<Loaded> {
    load_from(global, global.rev.as_deref())
}

/// The repository as it is in the working tree (`None`) or at a git
/// revision, read from git objects without a checkout.
pub fn load_from(global: &Global, rev: Option<&str>) -> anyhow::Result<Loaded> {
    let started = Instant::now();
    let snapshot = match rev {
        None => crate::fs::read_repository(&global.root)?,
        Some(rev) => crate::git::Git::open(&global.root)
            .and_then(|git| git.snapshot(rev))
            .map_err(|e| UsageError::new(e.to_string()))?,
    };
    load_snapshot(global, snapshot, started)
}

/// The repository from files already read (the working tree, a revision,
/// or an edited copy).
pub fn load_snapshot(
    global: &Global,
    snapshot: crate::snapshot::Snapshot,
    started: Instant,
) -> anyhow::Result<Loaded> {
    if !snapshot.has_values_dir {
        return Err(UsageError::new(format!(
            "no values/ directory in `{}`: this is not a streams repository",
            global.root.display()
        ))
        .help("run sluice at the root of a streams repository, or point at one with -C DIR")
        .into());
    }
    let mut sources = Sources::new();
    let mut diagnostics = Vec::new();
    let repo = repo::load(&snapshot, &mut sources, &mut diagnostics);
    if repo.environments.is_empty()
        && !diagnostics
            .iter()
            .any(|d| d.code == "repo/invalid-file-name")
    {
        let id = sources.add("values/environments/", "");
        diagnostics.push(
            Diagnostic::error(
                "repo/no-environments",
                "values/environments/ holds no environment file",
            )
            .at(Span::file_start(id), "no *.yaml file here")
            .help("add values/environments/dev.yaml with at least `namespace: <namespace>`"),
        );
    }
    let schema = match snapshot.get("schemas/values.schema.json") {
        Some(file) => match &file.content {
            Content::Bytes(bytes) => {
                let text = String::from_utf8_lossy(bytes).into_owned();
                let id = sources.add(&file.path, text.as_str());
                match Schema::parse(&text) {
                    Ok(schema) => schema,
                    Err(e) => {
                        diagnostics.push(
                            Diagnostic::error("schema/invalid", format!("the repository's values schema is unusable: {e}"))
                                .at(Span::file_start(id), "this schema overrides the built-in one")
                                .note("sluice checked the values against its built-in schema instead")
                                .help("fix the file, or delete it to use the built-in schema (`sluice schema` prints it)"),
                        );
                        Schema::builtin()
                    }
                }
            }
            other => {
                diagnostics.push(repo::file_problem(
                    &file.path,
                    other,
                    &mut sources,
                    Some("the built-in schema was used instead"),
                ));
                Schema::builtin()
            }
        },
        None => Schema::builtin(),
    };
    let templates = crate::render::Templates::load(&snapshot, &mut sources, &mut diagnostics);
    let manifest_schema = repository_crds(&snapshot, &mut sources, &mut diagnostics);
    global.trace(|| {
        format!(
            "load: {} files in {:.1?}",
            snapshot.files.len(),
            started.elapsed()
        )
    });
    let affected = super::affected(global, &repo)?;
    Ok(Loaded {
        sources,
        repo,
        schema,
        templates,
        diagnostics,
        affected,
        manifest_schema,
    })
}

/// The built-in schemas and the CRDs in schemas/crds/*.yaml: objects of a
/// CRD's kinds are checked against it. A file that is not a usable CRD is
/// a finding, and its kinds stay unchecked.
fn repository_crds(
    snapshot: &crate::snapshot::Snapshot,
    sources: &mut Sources,
    diagnostics: &mut Vec<Diagnostic>,
) -> ManifestSchema {
    let mut schema = ManifestSchema::builtin();
    // Kind.group/version → the file that defined it first.
    let mut first: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for file in snapshot.under(crate::snapshot::CRDS_DIR) {
        if !crate::snapshot::is_yaml(&file.path) {
            continue;
        }
        let text = match &file.content {
            Content::Bytes(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            other => {
                diagnostics.push(repo::file_problem(
                    &file.path,
                    other,
                    sources,
                    Some("objects of the kinds it defines are not checked"),
                ));
                continue;
            }
        };
        let id = sources.add(&file.path, text.as_str());
        match schema.add_crd(&text, &file.path) {
            Ok(defined) => {
                for d in defined {
                    if let Some(earlier) = first.get(&d) {
                        diagnostics.push(
                            Diagnostic::error(
                                "schema/invalid-crd",
                                format!("`{}` defines {d}, as `{earlier}` does", file.path),
                            )
                            .at(Span::file_start(id), "defined again here")
                            .note(format!("objects of that kind are checked against `{}`, the later file", file.path))
                            .help("keep one CRD per kind in schemas/crds/"),
                        );
                    } else {
                        first.insert(d, file.path.clone());
                    }
                }
            }
            Err(e) => diagnostics.push(
                Diagnostic::error(
                    "schema/invalid-crd",
                    format!("`{}` is not a usable CRD: {e}", file.path),
                )
                .at(Span::file_start(id), "in schemas/crds/")
                .note("objects of the kinds it would define are not checked against it")
                .help("put CustomResourceDefinitions there, as `kubectl get crd <plural>.<group> -o yaml` prints them"),
            ),
        }
    }
    schema
}
