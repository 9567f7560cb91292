//! `sluice render`: the manifests of one environment, on stdout or as one
//! file per object; all or nothing.

use super::select;
use super::{Exit, Global, SetFlags, UsageError};
use crate::check::ObjectKey;
use crate::diag::{self, Diagnostic};
use crate::render::{self, Manifest};
use crate::source::{Sources, Span};
use std::collections::HashMap;
use std::io::Write;
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
    super::require_readable_streams(global, &loaded, environment, streams)?;
    let chosen = |name: &str| {
        (streams.is_empty() || streams.iter().any(|s| s == name))
            && loaded
                .affected
                .as_ref()
                .is_none_or(|a| a.includes(environment, name))
    };
    let run = crate::pipeline::run(
        &loaded.input(&environments, &sets),
        |_, name| chosen(name),
        keep,
    );
    loaded.diagnostics.extend(run.diagnostics);
    let mut objects: Vec<(ObjectKey, T)> =
        run.outcomes.into_iter().flat_map(|o| o.result).collect();
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
        let mut text = super::shown(global, &loaded.sources, errors.iter().copied());
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
        let not_stream = |kind: &str| !crate::plan::is_stream_object(kind);
        (&a.stream, not_stream(&a.kind), &a.kind, &a.name).cmp(&(
            &b.stream,
            not_stream(&b.kind),
            &b.kind,
            &b.name,
        ))
    });
    Ok((loaded, objects))
}

pub fn run(global: &Global, options: &RenderOptions) -> anyhow::Result<Exit> {
    let (loaded, objects) = render_environment(
        global,
        &options.environment,
        &options.streams,
        &options.sets,
        |m| serialize(m, options.format),
    )?;
    match &options.output_dir {
        // Written object by object: a 5000-stream render is megabytes.
        None => {
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            match options.format {
                RenderFormat::Yaml => {
                    for (k, text) in &objects {
                        // A template's file name is the user's: no control
                        // character (or line break) gets into the YAML.
                        write!(
                            out,
                            "---\n# Source: {} (stream {}, environment {})\n{text}",
                            crate::report::escape::line(&k.template),
                            k.stream,
                            k.environment
                        )?;
                    }
                }
                RenderFormat::Json => {
                    out.write_all(
                        b"{\n\"apiVersion\": \"v1\",\n\"kind\": \"List\",\n\"items\": [\n",
                    )?;
                    for (i, (_, text)) in objects.iter().enumerate() {
                        if i > 0 {
                            out.write_all(b",\n")?;
                        }
                        out.write_all(text.trim_end().as_bytes())?;
                    }
                    out.write_all(b"\n]\n}\n")?;
                }
            }
            out.flush()?;
            drop(out);
            super::leave((loaded, objects));
        }
        Some(dir) => {
            let files = output_files(
                &objects,
                options.format,
                &loaded.sources,
                &crate::pipeline::anchor_in(&loaded.repo),
            )
            .map_err(|found| refusal(global, &loaded, found, "nothing written"))?;
            write_into(global, dir, &files, "the manifests", "rendered/")?;
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

/// Writes `files` as the output directory `dir`, never into the
/// repository's own input (that would feed the output back into the next
/// run, and replace the input).
pub fn write_into(
    global: &Global,
    dir: &std::path::Path,
    files: &[(String, String)],
    what: &str,
    example: &str,
) -> anyhow::Result<()> {
    let protected: Vec<PathBuf> = ["values", "templates", "schemas"]
        .iter()
        .map(|d| global.root.join(d))
        .collect();
    crate::fs::write_output_dir(dir, files, &protected).map_err(|e| match e {
        crate::fs::OutputError::Protected { .. } => UsageError::new(e.to_string())
            .help(format!(
                "write {what} outside values/, templates/ and schemas/, e.g. --output-dir {example}"
            ))
            .into(),
        e => anyhow::Error::from(e),
    })
}

/// A usage error (exit 2) showing every finding, then one line saying
/// what was not done.
fn refusal(
    global: &Global,
    loaded: &super::Loaded,
    found: Vec<Diagnostic>,
    outcome: &str,
) -> UsageError {
    let mut text = super::shown(global, &loaded.sources, found.iter());
    text.push_str(&format!(
        "error: {outcome}: {} error{} in the rendered objects' file names\n",
        found.len(),
        if found.len() == 1 { "" } else { "s" },
    ));
    UsageError {
        message: String::new(),
        help: None,
        rendered: Some(text),
    }
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
/// has several objects of one kind (the kind in lower case). Kinds and
/// names come from templates, so each name must be a plain file name:
/// `[a-z0-9][a-z0-9.-]*` without `..`, and no two objects may land in one
/// file (kinds that differ only in case would). Anything else is a finding
/// at the template, and nothing is written.
fn output_files(
    objects: &[(ObjectKey, String)],
    format: RenderFormat,
    sources: &Sources,
    anchor: &dyn Fn(&str) -> Option<Span>,
) -> Result<Vec<(String, String)>, Vec<Diagnostic>> {
    let ext = match format {
        RenderFormat::Yaml => "yaml",
        RenderFormat::Json => "json",
    };
    let mut per_kind: HashMap<(&str, &str), usize> = HashMap::new();
    for (k, _) in objects {
        *per_kind.entry((&k.stream, &k.kind)).or_default() += 1;
    }
    let template_at = |k: &ObjectKey| {
        let candidates = [
            format!("templates/{}", k.template),
            format!("<built-in>/templates/{}", k.template),
        ];
        sources
            .iter()
            .find(|(_, f)| candidates.contains(&f.path))
            .map(|(id, _)| Span::file_start(id))
    };
    let located = |d: Diagnostic, k: &ObjectKey, label: &str| {
        let d = d.subject(&k.stream, &k.environment);
        let d = match template_at(k) {
            Some(span) => d.at(span, label.to_owned()),
            None => d.note(format!("rendered by template `{}`", k.template)),
        };
        match anchor(&k.stream) {
            Some(span) => d.also(span, format!("stream `{}`", k.stream)),
            None => d,
        }
    };
    let mut found = Vec::new();
    let mut files: Vec<(String, String)> = Vec::with_capacity(objects.len());
    // File (case-folded) → the object written there first.
    let mut taken: HashMap<String, &ObjectKey> = HashMap::new();
    for (k, text) in objects {
        let kind = k.kind.to_ascii_lowercase();
        let stem = if per_kind[&(k.stream.as_str(), k.kind.as_str())] > 1 {
            format!("{kind}-{}", k.name)
        } else {
            kind
        };
        let bad = [&k.stream, &stem]
            .into_iter()
            .find(|part| !is_plain_file_name(part));
        if let Some(part) = bad {
            found.push(
                located(
                    Diagnostic::error(
                        "render/file-name",
                        format!(
                            "the rendered {} `{}` cannot be written to --output-dir: `{part}` is not a plain file name",
                            if k.kind.is_empty() { "object" } else { &k.kind },
                            k.name
                        ),
                    ),
                    k,
                    "renders this object",
                )
                .note("a file name is made of the stream, the kind and the name: lower-case letters, digits, '.' and '-', starting with a letter or digit, without `..` or `/`")
                .help("render a Kubernetes kind (`ConfigMap`, `Service`, ...) and a valid object name"),
            );
            continue;
        }
        let file = format!("{}/{stem}.{ext}", k.stream);
        match taken.get(&file.to_lowercase()) {
            Some(first) => found.push(
                located(
                    Diagnostic::error(
                        "render/file-collision",
                        format!(
                            "the rendered {} `{}` and the {} `{}` would both be written to `{file}`",
                            k.kind, k.name, first.kind, first.name
                        ),
                    ),
                    k,
                    "renders the second object",
                )
                .note("file names are in lower case, so kinds that differ only in case collide")
                .help("spell the kind as Kubernetes does (`SparkApplication`, `ConfigMap`)"),
            ),
            None => {
                taken.insert(file.to_lowercase(), k);
                files.push((file, text.clone()));
            }
        }
    }
    if found.is_empty() {
        Ok(files)
    } else {
        Err(diag::normalize(found, sources))
    }
}

/// One component of a path under --output-dir: never a separator, `.`,
/// `..` or a hidden file, and only characters every file system and
/// shell takes as they are.
fn is_plain_file_name(part: &str) -> bool {
    part.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && part
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && !part.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: &str, name: &str, template: &str) -> (ObjectKey, String) {
        let key = ObjectKey {
            environment: "dev".into(),
            api_version: "v1".into(),
            kind: kind.into(),
            name: name.into(),
            stream: "orders".into(),
            template: template.into(),
        };
        (key, format!("kind: {kind}\n"))
    }

    fn sources() -> (Sources, Span) {
        let mut sources = Sources::new();
        sources.add("templates/extra.yaml.j2", "kind: x\n");
        let stream = sources.add("values/streams/orders.yaml", "mainClass: x\n");
        (sources, Span::file_start(stream))
    }

    #[test]
    fn kinds_that_are_paths_are_findings_at_their_template() {
        let (sources, stream) = sources();
        let objects = [
            key("SparkApplication", "orders", "sparkapplication.yaml.j2"),
            key("../../../escaped/Pwned", "orders-x", "extra.yaml.j2"),
            key(".hidden", "orders-y", "extra.yaml.j2"),
        ];
        let found =
            output_files(&objects, RenderFormat::Yaml, &sources, &|_| Some(stream)).unwrap_err();
        assert_eq!(found.len(), 2, "{found:#?}");
        for d in &found {
            assert_eq!(d.code, "render/file-name");
            let at = d.primary.as_ref().unwrap().span;
            assert_eq!(sources.path(at.file), "templates/extra.yaml.j2");
            assert_eq!(d.secondary[0].span, stream, "names the stream");
        }
        assert!(
            found[0]
                .message
                .contains("`../../../escaped/pwned` is not a plain file name")
        );
    }

    #[test]
    fn kinds_that_differ_in_case_collide() {
        let (sources, stream) = sources();
        let objects = [
            key("SparkApplication", "orders", "sparkapplication.yaml.j2"),
            key("sparkapplication", "orders-lower", "extra.yaml.j2"),
        ];
        let found =
            output_files(&objects, RenderFormat::Json, &sources, &|_| Some(stream)).unwrap_err();
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].code, "render/file-collision");
        assert!(found[0].message.contains("`orders/sparkapplication.json`"));
        // Several of one kind: one file each, named after the object.
        let objects = [
            key("ConfigMap", "orders-a", "extra.yaml.j2"),
            key("ConfigMap", "orders-b", "extra.yaml.j2"),
        ];
        let files = output_files(&objects, RenderFormat::Yaml, &sources, &|_| None).unwrap();
        let names: Vec<&str> = files.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            names,
            [
                "orders/configmap-orders-a.yaml",
                "orders/configmap-orders-b.yaml"
            ]
        );
    }

    #[test]
    fn plain_file_names() {
        for ok in ["sparkapplication", "configmap-orders.v2", "0-a"] {
            assert!(is_plain_file_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "a..b",
            "a/b",
            "a\\b",
            "Pwned",
            "a b",
            "caf\u{e9}",
            "\u{212a}ind",
            "a\u{1b}b",
            "../../../escaped/pwned",
        ] {
            assert!(!is_plain_file_name(bad), "{bad:?}");
        }
    }
}
