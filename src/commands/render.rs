//! `sluice render`: the manifests of one environment, on stdout or as one
//! file per object; all or nothing.

use super::lint::select;
use super::{Exit, Global, SetFlags, UsageError};
use crate::check::{self, ManifestSchema, ObjectKey};
use crate::diag::{self, Diagnostic};
use crate::render::{self, Manifest, Templates};
use crate::source::Sources;
use crate::values::effective::Effective;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenderFormat {
    Yaml,
    Json,
}

#[derive(Clone, Debug)]
pub struct RenderOptions {
    pub environment: String,
    pub streams: Vec<String>,
    pub sets: SetFlags,
    pub output_dir: Option<PathBuf>,
    pub format: RenderFormat,
}

/// Renders one stream's objects and checks each on its own (the check
/// across streams is `check::duplicates`).
pub fn render_one(
    e: &Effective<'_>,
    templates: &Templates,
    schema: &ManifestSchema,
    sources: &Sources,
) -> (Vec<Manifest>, Vec<Diagnostic>) {
    match crate::stats::RENDER.time(|| templates.render(e, sources)) {
        Ok(manifests) => {
            let namespace = e.environment.namespace.as_deref();
            let found = manifests
                .iter()
                .flat_map(|m| {
                    crate::stats::CHECK
                        .time(|| check::check_object(m, namespace, schema, Some(e.def.name_span)))
                })
                .collect();
            (manifests, found)
        }
        Err(found) => (Vec::new(), found),
    }
}

/// Where findings about a stream point: its (first) definition.
pub fn anchor_in<'a>(
    repo: &'a crate::values::repo::Repository,
) -> impl Fn(&str) -> Option<crate::source::Span> + 'a {
    move |stream| {
        repo.streams
            .iter()
            .find(|d| d.name == stream)
            .map(|d| d.name_span)
    }
}

/// Renders the enabled streams of one environment (or the named ones) and
/// keeps what `keep` makes of each object, sorted by stream, kind (the
/// SparkApplication first) and name. Any error in the values, the templates
/// or the objects is a usage error (exit 2) showing every finding.
pub fn render_environment<T: Send>(
    global: &Global,
    environment: &str,
    streams: &[String],
    sets: &SetFlags,
    keep: impl Fn(&Manifest) -> T + Sync,
) -> anyhow::Result<(super::Loaded, Vec<(ObjectKey, T)>)> {
    render_environment_at(
        global,
        global.rev.as_deref(),
        environment,
        streams,
        sets,
        keep,
    )
}

/// [`render_environment`] at a git revision (`None`: the working tree).
pub fn render_environment_at<T: Send>(
    global: &Global,
    rev: Option<&str>,
    environment: &str,
    streams: &[String],
    sets: &SetFlags,
    keep: impl Fn(&Manifest) -> T + Sync,
) -> anyhow::Result<(super::Loaded, Vec<(ObjectKey, T)>)> {
    let loaded = super::load_from(global, rev)?;
    render_loaded(global, loaded, environment, streams, sets, keep)
}

/// [`render_environment`] of a repository already loaded (for instance
/// from an edited snapshot).
pub fn render_loaded<T: Send>(
    global: &Global,
    mut loaded: super::Loaded,
    environment: &str,
    streams: &[String],
    sets: &SetFlags,
    keep: impl Fn(&Manifest) -> T + Sync,
) -> anyhow::Result<(super::Loaded, Vec<(ObjectKey, T)>)> {
    let environments = select(&loaded.repo, &[environment.to_owned()])?;
    let sets = sets.parse(&mut loaded.sources, global)?;
    super::require_streams(&loaded.repo, environment, streams)?;
    let schema = ManifestSchema::builtin();
    let chosen = |name: &str| {
        (streams.is_empty() || streams.iter().any(|s| s == name))
            && loaded
                .affected
                .as_ref()
                .is_none_or(|a| a.includes(environment, name))
    };
    // Each stream is rendered and checked as soon as its values are
    // checked; only what `keep` returns is kept.
    let (found, outcomes) = crate::values::check::check(
        &loaded.repo,
        &environments,
        &sets,
        &loaded.schema,
        &loaded.sources,
        |e, ok| {
            if !(ok && e.enabled() && chosen(e.name())) {
                return (Vec::new(), Vec::new());
            }
            let (manifests, found) = render_one(e, &loaded.templates, &schema, &loaded.sources);
            let kept: Vec<(ObjectKey, T)> = manifests
                .iter()
                .map(|m| (ObjectKey::of(m), keep(m)))
                .collect();
            (found, kept)
        },
    );
    loaded.diagnostics.extend(found);
    let mut objects: Vec<(ObjectKey, T)> = Vec::new();
    for o in outcomes {
        let (found, kept) = o.result;
        loaded.diagnostics.extend(found);
        objects.extend(kept);
    }
    let mut keys: Vec<ObjectKey> = objects.iter().map(|(k, _)| k.clone()).collect();
    let duplicates = check::duplicates(&mut keys, &anchor_in(&loaded.repo));
    loaded.diagnostics.extend(duplicates);
    global.trace(|| {
        format!(
            "render: {} objects (CPU time: {})",
            objects.len(),
            crate::stats::summary()
        )
    });
    let diagnostics = diag::normalize(std::mem::take(&mut loaded.diagnostics), &loaded.sources);
    let errors: Vec<&Diagnostic> = diagnostics.iter().filter(|d| d.is_error()).collect();
    if !errors.is_empty() {
        let styled = global.styled(true);
        let mut text: String = errors
            .iter()
            .map(|d| {
                format!(
                    "{}\n",
                    crate::report::human::render(d, &loaded.sources, styled)
                )
            })
            .collect();
        text.push_str(&format!(
            "error: nothing rendered: {} error{} in the values or templates (`sluice lint --env {environment}` shows every finding)\n",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
        ));
        return Err(UsageError {
            message: String::new(),
            help: None,
            rendered: Some(text),
        }
        .into());
    }
    objects.sort_by(|(a, _), (b, _)| {
        (&a.stream, a.kind != "SparkApplication", &a.kind, &a.name).cmp(&(
            &b.stream,
            b.kind != "SparkApplication",
            &b.kind,
            &b.name,
        ))
    });
    Ok((loaded, objects))
}

pub fn run(global: &Global, options: &RenderOptions) -> anyhow::Result<Exit> {
    let (_, objects) = render_environment(
        global,
        &options.environment,
        &options.streams,
        &options.sets,
        |m| serialize(m, options.format),
    )?;
    match &options.output_dir {
        None => {
            let text = match options.format {
                RenderFormat::Yaml => objects
                    .iter()
                    .map(|(k, text)| {
                        format!(
                            "---\n# Source: {} (stream {}, environment {})\n{text}",
                            k.template, k.stream, k.environment
                        )
                    })
                    .collect::<String>(),
                RenderFormat::Json => {
                    let items: Vec<&str> = objects.iter().map(|(_, t)| t.trim_end()).collect();
                    format!(
                        "{{\n\"apiVersion\": \"v1\",\n\"kind\": \"List\",\n\"items\": [\n{}\n]\n}}\n",
                        items.join(",\n")
                    )
                }
            };
            super::print(&text)?;
        }
        Some(dir) => {
            let files = output_files(&objects, options.format);
            crate::fs::write_output_dir(dir, &files)?;
            global.trace(|| format!("render: wrote {} files to {}", files.len(), dir.display()));
            eprintln!(
                "wrote {} manifest{} to {}",
                files.len(),
                if files.len() == 1 { "" } else { "s" },
                dir.display()
            );
        }
    }
    Ok(Exit::Success)
}

fn serialize(m: &Manifest, format: RenderFormat) -> String {
    match format {
        RenderFormat::Yaml => render::object_yaml(&m.object),
        RenderFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&m.object).expect("JSON serializes")
        ),
    }
}

/// `<stream>/<kind>.yaml`, or `<stream>/<kind>-<name>.yaml` when a stream
/// has several objects of one kind.
fn output_files(objects: &[(ObjectKey, String)], format: RenderFormat) -> Vec<(String, String)> {
    let ext = match format {
        RenderFormat::Yaml => "yaml",
        RenderFormat::Json => "json",
    };
    objects
        .iter()
        .map(|(k, text)| {
            let kind = k.kind.to_lowercase();
            let same_kind = objects
                .iter()
                .filter(|(o, _)| o.stream == k.stream && o.kind == k.kind)
                .count();
            let file = if same_kind > 1 {
                format!("{}/{kind}-{}.{ext}", k.stream, k.name)
            } else {
                format!("{}/{kind}.{ext}", k.stream)
            };
            (file, text.clone())
        })
        .collect()
}
