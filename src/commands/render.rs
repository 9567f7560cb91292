//! `sluice render`: the manifests of one environment, on stdout or as one
//! file per object; all or nothing.

use super::lint::select;
use super::{Exit, Global, SetFlags, UsageError};
use crate::check::{self, ManifestSchema};
use crate::diag::{self, Diagnostic};
use crate::render::{self, Manifest, Templates};
use crate::source::Sources;
use crate::values::effective::Effective;
use rayon::prelude::*;
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

/// Renders the enabled streams among `effective` and checks the result.
/// Returns the manifests in output order and the findings.
pub fn render_all(
    effective: &[&Effective<'_>],
    templates: &Templates,
    schema: &ManifestSchema,
    sources: &Sources,
) -> (Vec<Manifest>, Vec<Diagnostic>) {
    let results: Vec<Result<Vec<Manifest>, Vec<Diagnostic>>> = effective
        .par_iter()
        .map(|e| templates.render(e, sources))
        .collect();
    let mut manifests = Vec::new();
    let mut diagnostics = Vec::new();
    for r in results {
        match r {
            Ok(m) => manifests.extend(m),
            Err(d) => diagnostics.extend(d),
        }
    }
    render::sort(&mut manifests);
    // Group by environment for the namespace check.
    let mut start = 0;
    while start < manifests.len() {
        let env = manifests[start].environment.clone();
        let end = start
            + manifests[start..]
                .iter()
                .take_while(|m| m.environment == env)
                .count();
        let namespace = effective
            .iter()
            .find(|e| e.environment.name == env)
            .and_then(|e| e.environment.namespace.as_deref());
        let anchor = |stream: &str| {
            effective
                .iter()
                .find(|e| e.name() == stream)
                .map(|e| e.def.name_span)
        };
        diagnostics.extend(check::check(
            &manifests[start..end],
            namespace,
            schema,
            &anchor,
        ));
        start = end;
    }
    (manifests, diagnostics)
}

pub fn run(global: &Global, options: &RenderOptions) -> anyhow::Result<Exit> {
    let mut loaded = super::load(global)?;
    let environments = select(&loaded.repo, std::slice::from_ref(&options.environment))?;
    let sets = options.sets.parse(&mut loaded.sources, global)?;
    let (found, effective) = crate::values::check::check(
        &loaded.repo,
        &environments,
        &sets,
        &loaded.schema,
        &loaded.sources,
    );
    loaded.diagnostics.extend(found);
    for name in &options.streams {
        if !effective.iter().any(|e| e.name() == name) {
            let known: Vec<&str> = effective.iter().map(|e| e.name()).collect();
            let mut err = UsageError::new(format!(
                "no stream `{name}` in environment `{}`; its streams are: {}",
                options.environment,
                known.join(", ")
            ));
            if let Some(s) = crate::suggest::closest(name, known.iter().copied()) {
                err = err.help(format!("did you mean `{s}`?"));
            }
            return Err(err.into());
        }
    }
    let chosen: Vec<&Effective> = effective
        .iter()
        .filter(|e| {
            e.enabled()
                && (options.streams.is_empty() || options.streams.iter().any(|s| s == e.name()))
        })
        .collect();
    // Bad values stop here: rendering them would only repeat the findings.
    let errors_before = loaded.diagnostics.iter().any(Diagnostic::is_error);
    let (manifests, found) = if errors_before {
        (Vec::new(), Vec::new())
    } else {
        render_all(
            &chosen,
            &loaded.templates,
            &ManifestSchema::builtin(),
            &loaded.sources,
        )
    };
    loaded.diagnostics.extend(found);
    let diagnostics = diag::normalize(loaded.diagnostics, &loaded.sources);
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
            "error: nothing rendered: {} error{} in the values or templates (`sluice lint --env {}` shows every finding)\n",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            options.environment
        ));
        return Err(UsageError {
            message: String::new(),
            help: None,
            rendered: Some(text),
        }
        .into());
    }
    match &options.output_dir {
        None => {
            let text = match options.format {
                RenderFormat::Yaml => render::to_yaml(&manifests),
                RenderFormat::Json => {
                    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": manifests.iter().map(|m| &m.object).collect::<Vec<_>>()});
                    format!("{}\n", serde_json::to_string_pretty(&list)?)
                }
            };
            super::print(&text)?;
        }
        Some(dir) => {
            let files = output_files(&manifests, options.format);
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

/// `<stream>/<kind>.yaml`, or `<stream>/<kind>-<name>.yaml` when a stream
/// has several objects of one kind.
fn output_files(manifests: &[Manifest], format: RenderFormat) -> Vec<(String, String)> {
    let ext = match format {
        RenderFormat::Yaml => "yaml",
        RenderFormat::Json => "json",
    };
    manifests
        .iter()
        .map(|m| {
            let kind = m.kind.to_lowercase();
            let same_kind = manifests
                .iter()
                .filter(|o| o.stream == m.stream && o.kind == m.kind)
                .count();
            let file = if same_kind > 1 {
                format!("{}/{kind}-{}.{ext}", m.stream, m.name)
            } else {
                format!("{}/{kind}.{ext}", m.stream)
            };
            let body = match format {
                RenderFormat::Yaml => render::object_yaml(&m.object),
                RenderFormat::Json => format!(
                    "{}\n",
                    serde_json::to_string_pretty(&m.object).expect("JSON serializes")
                ),
            };
            (file, body)
        })
        .collect()
}
