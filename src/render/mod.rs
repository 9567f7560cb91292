//! The render stage: effective values → Kubernetes objects (pure).
//!
//! minijinja renders each stream's templates with strict undefined
//! variables and no auto-escaping; the output is parsed back at once, so a
//! template that produces broken YAML is reported against the template, and
//! sluice's own labels and annotations are added to every object afterwards.

pub mod emit;
pub mod fast_yaml;
pub mod guard;

use crate::diag::Diagnostic;
use crate::snapshot::{Content, Snapshot};
use crate::source::{FileId, Sources, Span};
use crate::values::effective::Effective;
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value};

/// The built-in SparkApplication template.
pub const BUILTIN_TEMPLATE: &str = include_str!("../../templates/sparkapplication.yaml.j2");
pub const MAIN_TEMPLATE: &str = "sparkapplication.yaml.j2";
/// What a Flink stream's FlinkDeployment is said to come from (it is
/// built natively, see `flink::build`).
pub const FLINK_TEMPLATE: &str = "<built-in>/flinkdeployment";
/// A repository's own FlinkDeployment template, which replaces the
/// built-in object for Flink streams (and is not rendered for Spark ones).
pub const FLINK_MAIN_TEMPLATE: &str = "flinkdeployment.yaml.j2";

pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const LABEL_ENVIRONMENT: &str = "sluice.dev/environment";
pub const LABEL_STREAM: &str = "sluice.dev/stream";
pub const ANNOTATION_SOURCE: &str = "sluice.dev/source";
/// On a SparkApplication whose values say `runsToCompletion: true`: its
/// `COMPLETED` is the goal, not a stopped stream (see `health`).
pub const ANNOTATION_RUNS_TO_COMPLETION: &str = "sluice.dev/runs-to-completion";

/// One rendered object.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    pub stream: String,
    pub environment: String,
    pub kind: String,
    pub name: String,
    /// The template it came from.
    pub template: String,
    pub object: Value,
}

/// The compiled templates of a repository: the built-in SparkApplication
/// template unless `templates/sparkapplication.yaml.j2` overrides it, plus
/// every other `templates/*.yaml.j2` (rendered once per stream). Other
/// `*.j2` files can be included or imported but are not rendered.
pub struct Templates {
    env: Environment<'static>,
    /// Templates rendered per stream, main first, then by name.
    pub rendered: Vec<String>,
    files: Vec<(String, FileId)>,
    /// The main template is the built-in one: built natively (see `spark`).
    builtin_main: bool,
}

impl Templates {
    pub fn load(
        snapshot: &Snapshot,
        sources: &mut Sources,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Templates {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // A merge request controls the templates: bounded work per render.
        env.set_fuel(Some(guard::FUEL));
        env.set_formatter(|out, state, value| {
            // Refused before it is copied into the output, with its line.
            if value
                .as_str()
                .is_some_and(|s| s.len() > guard::MAX_OUTPUT_BYTES)
            {
                return Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    guard::output_exceeded(),
                ));
            }
            minijinja::escape_formatter(out, state, value)
        });
        // Manifests are YAML, not HTML: never escape values.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        // minijinja's own `tojson` turns an undefined value into `null`
        // even in strict mode: a typo (`values.sinkk | tojson`) would render
        // silently. This one refuses, and emits plain JSON (valid YAML).
        env.add_filter(
            "tojson",
            |value: &minijinja::Value| -> Result<String, minijinja::Error> {
                if value.is_undefined() {
                    return Err(minijinja::Error::new(
                        minijinja::ErrorKind::UndefinedError,
                        "`tojson` was given an undefined value",
                    ));
                }
                serde_json::to_string(value).map_err(|e| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        "cannot write the value as JSON",
                    )
                    .with_source(e)
                })
            },
        );
        let mut files = Vec::new();
        let mut sources_of: Vec<(String, String)> = Vec::new();
        for file in snapshot.under("templates") {
            let name = file.path.trim_start_matches("templates/").to_owned();
            match &file.content {
                Content::Bytes(bytes) => match String::from_utf8(bytes.clone()) {
                    Ok(text) => sources_of.push((name, text)),
                    Err(_) => {
                        let id = sources.add(&file.path, "");
                        diagnostics.push(
                            Diagnostic::error(
                                "render/template",
                                format!("template `{}` is not UTF-8 text", file.path),
                            )
                            .at(Span::file_start(id), "here"),
                        );
                    }
                },
                other => diagnostics.push(crate::values::repo::file_problem(
                    &file.path, other, sources, None,
                )),
            }
        }
        let builtin_main = !sources_of.iter().any(|(n, _)| n == MAIN_TEMPLATE);
        if builtin_main {
            sources_of.push((MAIN_TEMPLATE.to_owned(), BUILTIN_TEMPLATE.to_owned()));
        }
        let mut rendered = Vec::new();
        let watch = guard::watch_compiling();
        for (name, text) in sources_of {
            let path = if snapshot.get(&format!("templates/{name}")).is_some() {
                format!("templates/{name}")
            } else {
                format!("<built-in>/templates/{name}")
            };
            watch.compiling(&path);
            let id = sources.add(&path, text.as_str());
            files.push((name.clone(), id));
            match env.add_template_owned(name.clone(), text) {
                Ok(()) if name.ends_with(".yaml.j2") || name.ends_with(".yml.j2") => {
                    rendered.push(name)
                }
                Ok(()) => {}
                Err(e) => diagnostics.push(template_error(&e, id, sources)),
            }
        }
        drop(watch);
        rendered.sort_by(|a, b| {
            (a != MAIN_TEMPLATE)
                .cmp(&(b != MAIN_TEMPLATE))
                .then(a.cmp(b))
        });
        Templates {
            env,
            rendered,
            files,
            builtin_main,
        }
    }

    /// Every template file (rendered or included) with its text.
    pub fn texts<'a>(
        &'a self,
        sources: &'a Sources,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.files
            .iter()
            .map(|(n, id)| (n.as_str(), &*sources.get(*id).text))
    }

    fn file(&self, name: &str) -> Option<FileId> {
        self.files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| *id)
    }

    /// Renders every template for one stream in one environment.
    pub fn render(
        &self,
        e: &Effective<'_>,
        sources: &Sources,
    ) -> Result<Vec<Manifest>, Vec<Diagnostic>> {
        self.render_with(e, sources, self.builtin_main)
    }

    /// As [`render`](Self::render), evaluating the built-in template with
    /// minijinja too: the reference the native build is tested against.
    pub fn render_via_templates(
        &self,
        e: &Effective<'_>,
        sources: &Sources,
    ) -> Result<Vec<Manifest>, Vec<Diagnostic>> {
        self.render_with(e, sources, false)
    }

    fn render_with(
        &self,
        e: &Effective<'_>,
        sources: &Sources,
        native_main: bool,
    ) -> Result<Vec<Manifest>, Vec<Diagnostic>> {
        match e.engine {
            crate::engine::Engine::Flink => return self.render_flink(e, sources),
            crate::engine::Engine::Spark => {}
        }
        let derived = crate::spark::derive::derive(e.name(), &e.json);
        // The built-in object alone (no other template to render): the
        // derived fields are moved into it, not copied.
        if native_main && self.rendered.len() == 1 && self.rendered[0] == MAIN_TEMPLATE {
            let object = crate::spark::build::spark_application_from(
                e.name(),
                e.environment.namespace.as_deref(),
                &e.json,
                derived,
            );
            return Ok(vec![finish(object, e, MAIN_TEMPLATE)]);
        }
        let mut manifests = Vec::new();
        if native_main {
            let object = crate::spark::build::spark_application(
                e.name(),
                e.environment.namespace.as_deref(),
                &e.json,
                &derived,
            );
            manifests.push(finish(object, e, MAIN_TEMPLATE));
        }
        let others = self
            .rendered
            .iter()
            .filter(|n| !(native_main && *n == MAIN_TEMPLATE) && *n != FLINK_MAIN_TEMPLATE);
        self.render_templates(e, sources, &derived, others, manifests)
    }

    /// A Flink stream: its FlinkDeployment, built natively (unless
    /// `templates/flinkdeployment.yaml.j2` replaces it), then the
    /// repository's other templates (not the SparkApplication's), which
    /// see the FlinkDeployment's spec as `derived`.
    fn render_flink(
        &self,
        e: &Effective<'_>,
        sources: &Sources,
    ) -> Result<Vec<Manifest>, Vec<Diagnostic>> {
        let object = crate::flink::build::flink_deployment(
            e.name(),
            e.environment.namespace.as_deref(),
            &e.json,
        );
        let mut others = self
            .rendered
            .iter()
            .filter(|n| *n != MAIN_TEMPLATE)
            .peekable();
        // The object alone (no other template to render): no copy of its spec.
        if others.peek().is_none() {
            return Ok(vec![finish(object, e, FLINK_TEMPLATE)]);
        }
        let derived = object["spec"].clone();
        // The repository's own FlinkDeployment template replaces the
        // built-in object; it sees the built spec as `derived`.
        let manifests = if self.rendered.iter().any(|n| n == FLINK_MAIN_TEMPLATE) {
            Vec::new()
        } else {
            vec![finish(object, e, FLINK_TEMPLATE)]
        };
        self.render_templates(e, sources, &derived, others, manifests)
    }

    fn render_templates<'t>(
        &self,
        e: &Effective<'_>,
        sources: &Sources,
        derived: &Value,
        names: impl Iterator<Item = &'t String>,
        mut manifests: Vec<Manifest>,
    ) -> Result<Vec<Manifest>, Vec<Diagnostic>> {
        let context = Context {
            stream: StreamContext {
                name: e.name(),
                source: &e.def.path,
            },
            environment: EnvironmentContext {
                name: &e.environment.name,
                namespace: e.environment.namespace.as_deref(),
                protected: e.environment.protected,
            },
            derived,
            values: &e.json,
        };
        let mut errors = Vec::new();
        for name in names {
            let Ok(template) = self.env.get_template(name) else {
                continue;
            };
            let mut output = guard::Output::default();
            let rendered = {
                let path = self.file(name).map_or(name.as_str(), |id| sources.path(id));
                let _watch = guard::watch(path, e.name(), &e.environment.name);
                template
                    .render_captured_to(minijinja::value::Serde(&context), &mut output)
                    .map(drop)
            };
            let text = match rendered {
                Ok(()) => String::from_utf8(output.bytes)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
                Err(err) => {
                    let file = self.file(err.name().unwrap_or(name)).or(self.file(name));
                    let limit = if output.exceeded
                        || err.detail() == Some(guard::output_exceeded().as_str())
                    {
                        Some(guard::output_exceeded())
                    } else if err.kind() == minijinja::ErrorKind::OutOfFuel {
                        Some(guard::out_of_fuel())
                    } else {
                        None
                    };
                    errors.push(match (file, limit) {
                        (Some(id), Some(limit)) => limit_error(&err, &limit, id, sources, e),
                        (Some(id), None) => template_error(&err, id, sources),
                        (None, _) => Diagnostic::error("render/template", err.to_string()),
                    });
                    continue;
                }
            };
            match parse_output(&text) {
                Ok(objects) => {
                    for object in objects {
                        manifests.push(finish(object, e, name));
                    }
                }
                Err(message) => {
                    let mut d = Diagnostic::error(
                        "render/invalid-output",
                        format!("template `{name}` rendered invalid YAML: {message}"),
                    )
                    .note(format!("the rendered text was:\n{}", number_lines(&text)))
                    .help("quote values with `| tojson`, which always produces valid YAML");
                    if let Some(id) = self.file(name) {
                        d = d.at(Span::file_start(id), "this template");
                    }
                    errors.push(d.subject(e.name(), &e.environment.name));
                }
            }
        }
        if errors.is_empty() {
            Ok(manifests)
        } else {
            Err(errors)
        }
    }
}

/// What a template sees (serialized by reference: the values are not
/// copied before minijinja reads them).
#[derive(serde::Serialize)]
struct Context<'a> {
    stream: StreamContext<'a>,
    environment: EnvironmentContext<'a>,
    derived: &'a Value,
    values: &'a Value,
}

#[derive(serde::Serialize)]
struct StreamContext<'a> {
    name: &'a str,
    source: &'a str,
}

#[derive(serde::Serialize)]
struct EnvironmentContext<'a> {
    name: &'a str,
    namespace: Option<&'a str>,
    protected: bool,
}

fn number_lines(text: &str) -> String {
    text.lines()
        .enumerate()
        .map(|(i, l)| format!("{:>4} | {l}", i + 1))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where in the template a minijinja error points: its expression, its
/// line, or (for an error with neither) the file.
fn error_span(err: &minijinja::Error, file: FileId, sources: &Sources) -> Span {
    let src = sources.get(file);
    match (err.range(), err.line()) {
        (Some(range), _) if range.end <= src.text.len() => Span::new(file, range),
        (_, Some(line)) => {
            let start = src.offset_of(line, 1);
            Span::new(file, start..start + src.line_text(line).len())
        }
        _ => Span::file_start(file),
    }
}

/// A render that reached one of [`guard`]'s limits: named for the stream,
/// since how far a template gets depends on the stream's values.
fn limit_error(
    err: &minijinja::Error,
    limit: &str,
    file: FileId,
    sources: &Sources,
    e: &Effective<'_>,
) -> Diagnostic {
    Diagnostic::error(
        "render/template",
        format!("stream `{}` in `{}`: {limit}", e.name(), e.environment.name),
    )
    .at(error_span(err, file, sources), "the limit was reached here")
    .help("a template renders a few objects per stream: look for a loop that does not end, or a value repeated (`*`) or joined (`~`) without bound")
    .subject(e.name(), &e.environment.name)
}

fn template_error(err: &minijinja::Error, file: FileId, sources: &Sources) -> Diagnostic {
    let span = error_span(err, file, sources);
    let mut message = err
        .detail()
        .map_or_else(|| err.kind().to_string(), str::to_owned);
    if err.kind() == minijinja::ErrorKind::UndefinedError && err.detail().is_none() {
        message = "undefined value".to_owned();
    }
    let help = match err.kind() {
        minijinja::ErrorKind::UndefinedError => {
            "optional values need a guard: `{% if values.key is defined %}` or `values.key | default(...)`"
        }
        minijinja::ErrorKind::SyntaxError => "check the `{{ }}` and `{% %}` tags around this line",
        _ => "see the minijinja documentation for this template construct",
    };
    Diagnostic::error("render/template", format!("template error: {message}"))
        .at(span, "here")
        .help(help)
}

/// Parses a template's output: zero or more YAML documents, each a mapping.
fn parse_output(text: &str) -> Result<Vec<Value>, String> {
    if let Some(docs) = fast_yaml::parse(text) {
        // Debug builds (the test suite) check every fast read against the
        // full parser.
        #[cfg(debug_assertions)]
        {
            let full: Vec<Value> = serde_saphyr::from_multiple_with_options::<Value>(text, serde_saphyr::options! { strict_booleans: true, leading_zero_numbers_as_strings: true, underscored_numbers_as_strings: true })
                .expect("text the fast reader accepts is YAML")
                .into_iter()
                .filter(|d| !d.is_null())
                .collect();
            assert_eq!(
                docs, full,
                "fast YAML reader disagrees with the full parser on:\n{text}"
            );
        }
        return docs
            .into_iter()
            .map(|d| {
                if d.is_object() {
                    Ok(d)
                } else {
                    Err("a rendered document is not a mapping".to_owned())
                }
            })
            .collect();
    }
    let docs: Vec<Value> = serde_saphyr::from_multiple_with_options(text, serde_saphyr::options! { strict_booleans: true, leading_zero_numbers_as_strings: true, underscored_numbers_as_strings: true })
        .map_err(|e| e.without_snippet().to_string())?;
    docs.into_iter()
        .filter(|d| !d.is_null())
        .map(|d| {
            if d.is_object() {
                Ok(d)
            } else {
                Err("a rendered document is not a mapping".to_owned())
            }
        })
        .collect()
}

/// Adds sluice's labels and annotations, whatever the template did.
fn finish(mut object: Value, e: &Effective<'_>, template: &str) -> Manifest {
    drop_empty_maps(&mut object);
    if let Value::Object(map) = &mut object {
        // Here, not in the template: health depends on it, so a
        // repository's own template cannot drop it.
        let runs_to_completion = map.get("kind").and_then(Value::as_str)
            == Some("SparkApplication")
            && e.json.get("runsToCompletion").and_then(Value::as_bool) == Some(true);
        let metadata = map
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if !metadata.is_object() {
            *metadata = Value::Object(Map::new());
        }
        let Value::Object(metadata) = metadata else {
            unreachable!()
        };
        let labels = metadata
            .entry("labels")
            .or_insert_with(|| Value::Object(Map::new()));
        if !labels.is_object() {
            *labels = Value::Object(Map::new());
        }
        if let Value::Object(labels) = labels {
            labels.insert(LABEL_MANAGED_BY.into(), "sluice".into());
            labels.insert(LABEL_ENVIRONMENT.into(), e.environment.name.clone().into());
            labels.insert(LABEL_STREAM.into(), e.name().into());
        }
        let annotations = metadata
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if !annotations.is_object() {
            *annotations = Value::Object(Map::new());
        }
        if let Value::Object(annotations) = annotations {
            annotations.insert(ANNOTATION_SOURCE.into(), e.def.path.clone().into());
            if runs_to_completion {
                annotations.insert(ANNOTATION_RUNS_TO_COMPLETION.into(), "true".into());
            }
        }
    }
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let name = crate::json::at(&object, "/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    Manifest {
        stream: e.name().to_owned(),
        environment: e.environment.name.clone(),
        kind,
        name,
        template: template.to_owned(),
        object,
    }
}

/// Keys whose value is a map of strings, where empty means the same as
/// absent to the API server and the operator.
const STRING_MAPS: &[&str] = &[
    "labels",
    "annotations",
    "nodeSelector",
    "sparkConf",
    "hadoopConf",
    "serviceLabels",
    "serviceAnnotations",
    "envVars",
];

/// Removes empty string maps (labels, annotations, confs, node selectors)
/// outside lists. Server-side apply cannot empty such a map after an
/// earlier apply filled it: the API server turns `{}` into `null` and
/// refuses it. Other empty maps keep their meaning (`driver: {}` is a
/// required field, a selector `{}` selects everything) and stay.
pub fn drop_empty_maps(value: &mut Value) {
    if let Value::Object(map) = value {
        for child in map.values_mut() {
            drop_empty_maps(child);
        }
        map.retain(|k, v| {
            !(STRING_MAPS.contains(&k.as_str()) && matches!(v, Value::Object(m) if m.is_empty()))
        });
    }
}

pub fn object_yaml(object: &Value) -> String {
    if let Some(text) = emit::yaml(object) {
        return text;
    }
    let mut text = serde_saphyr::to_string(object).expect("JSON values serialize as YAML");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_empty_string_maps_are_dropped() {
        let mut v = serde_json::json!({"metadata": {"labels": {}}, "spec": {"driver": {}, "executor": {"labels": {}},
            "selector": {}, "sparkConf": {}, "volumes": [{"name": "x", "emptyDir": {}, "labels": {}}]}});
        super::drop_empty_maps(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"metadata": {}, "spec": {"driver": {}, "executor": {},
            "selector": {}, "volumes": [{"name": "x", "emptyDir": {}, "labels": {}}]}})
        );
    }
}
