//! The edge that reads a streams repository (the working tree, or a git
//! revision) and parses it: what every command starts from. The stages
//! after it are `pipeline`.

use super::{Global, UsageError};
use crate::check::ManifestSchema;
use crate::diag::Diagnostic;
use crate::snapshot::Content;
use crate::source::{Sources, Span};
use crate::values::repo::{self, Environment, Repository};
use crate::values::validate::Schema;
use std::time::Instant;

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

impl Loaded {
    /// What the pipeline reads of this repository, for these environments
    /// and `--set` flags.
    pub fn input<'a>(
        &'a self,
        environments: &'a [&'a Environment],
        sets: &'a [crate::values::set::Flag],
    ) -> crate::pipeline::Input<'a> {
        crate::pipeline::Input {
            repo: &self.repo,
            environments,
            sets,
            schema: &self.schema,
            templates: &self.templates,
            manifest_schema: &self.manifest_schema,
            sources: &self.sources,
        }
    }
}

pub fn load(global: &Global) -> anyhow::Result<Loaded> {
    load_from(global, global.rev.as_deref())
}

/// The repository as it is in the working tree (`None`) or at a git
/// revision, read from git objects without a checkout.
pub fn load_from(global: &Global, rev: Option<&str>) -> anyhow::Result<Loaded> {
    let started = Instant::now();
    // Almost every repository uses the built-in values schema (one with
    // its own, in its working tree, does not need it compiled).
    if rev.is_some() || !global.root.join("schemas/values.schema.json").exists() {
        Schema::prepare();
    }
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
