//! The offline check of rendered objects (pure): every object has the
//! fields the API server requires, legal names, one object per kind and
//! name, and every SparkApplication passes a strict schema (sluice's
//! built-in one, or the CRD the user supplies).

use crate::crd;
use crate::diag::Diagnostic;
use crate::render::Manifest;
use crate::source::Span;
use jsonschema::{Draft, Validator};
use serde_json::Value;

pub const BUILTIN_SPARKAPPLICATION_SCHEMA: &str =
    include_str!("../schemas/sparkapplication.schema.json");

/// What SparkApplications are checked against.
pub struct ManifestSchema {
    validator: Validator,
    /// Shown in findings: "sluice's built-in schema" or the CRD's path.
    pub origin: String,
}

impl ManifestSchema {
    pub fn builtin() -> ManifestSchema {
        let schema: Value =
            serde_json::from_str(BUILTIN_SPARKAPPLICATION_SCHEMA).expect("built-in schema is JSON");
        ManifestSchema {
            validator: jsonschema::options()
                .with_draft(Draft::Draft7)
                .build(&schema)
                .expect("built-in schema compiles"),
            origin: "sluice's built-in SparkApplication schema (spark-operator v2.5)".to_owned(),
        }
    }

    /// From a CRD file (for example the one the cluster runs).
    pub fn from_crd(text: &str, origin: &str) -> Result<ManifestSchema, String> {
        let crd = crd::from_crd(text, "v1beta2").map_err(|e| e.to_string())?;
        if crd.kind != "SparkApplication" || crd.group != "sparkoperator.k8s.io" {
            return Err(format!(
                "the CRD defines {}.{}, not sparkoperator.k8s.io SparkApplication",
                crd.kind, crd.group
            ));
        }
        let validator = jsonschema::options()
            .with_draft(Draft::Draft4)
            .build(&crd.schema)
            .map_err(|e| format!("its schema does not compile: {e}"))?;
        Ok(ManifestSchema {
            validator,
            origin: format!("the CRD in {origin}"),
        })
    }

    pub fn is_valid(&self, object: &Value) -> bool {
        self.validator.is_valid(object)
    }

    /// The violations of one object, as `(path, message)`.
    pub fn violations(&self, object: &Value) -> Vec<(String, String)> {
        self.validator
            .iter_errors(object)
            .map(|e| {
                let pointer = e.instance_path().as_str();
                let message = if crate::secret::pointer_is_secret(pointer) {
                    format!(
                        "the value fails `{}` (value hidden: the key looks like a credential)",
                        e.kind().keyword()
                    )
                } else {
                    e.to_string()
                };
                (crate::values::validate::dotted(pointer), message)
            })
            .collect()
    }
}

/// Identifies a rendered object, for the duplicate check across streams.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub environment: String,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub stream: String,
    pub template: String,
}

impl ObjectKey {
    pub fn of(m: &Manifest) -> ObjectKey {
        ObjectKey {
            environment: m.environment.clone(),
            api_version: m
                .object
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            kind: m.kind.clone(),
            name: m.name.clone(),
            stream: m.stream.clone(),
            template: m.template.clone(),
        }
    }
}

fn located(
    d: Diagnostic,
    stream: &str,
    environment: &str,
    template: &str,
    anchor: Option<Span>,
) -> Diagnostic {
    let d = d
        .subject(stream, environment)
        .note(format!("rendered by template `{template}`"));
    match anchor {
        Some(span) => d.at(span, format!("stream `{stream}`")),
        None => d,
    }
}

/// Checks one rendered object. `anchor` is where findings point (the
/// stream's definition). No stream or environment goes in a message: the
/// same template mistake in 1000 streams is one finding (diag::normalize).
pub fn check_object(
    m: &Manifest,
    namespace: Option<&str>,
    allowed: &crate::kinds::Allowed,
    schema: &ManifestSchema,
    anchor: Option<Span>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let at = |d: Diagnostic| located(d, &m.stream, &m.environment, &m.template, anchor);
    let what = format!(
        "the rendered {}",
        if m.kind.is_empty() { "object" } else { &m.kind }
    );
    let api_version = m
        .object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !m.kind.is_empty() && !api_version.is_empty() {
        let group_kind = crate::kinds::group_kind(api_version, &m.kind);
        if let Err(why) = allowed.check(&group_kind) {
            let help = if crate::kinds::never(&group_kind).is_some() {
                "a streams repository creates streams and the few namespaced objects they need; ask the platform team for anything else".to_owned()
            } else {
                format!(
                    "if the platform team agrees, allow it in values/environments/{}.yaml: `allowedKinds: [{group_kind}]`",
                    m.environment
                )
            };
            out.push(at(Diagnostic::error(
                "manifest/kind-not-allowed",
                format!("{what} ({group_kind}) may not be created: {why}"),
            )
            .help(help)));
            // Nothing else about an object that will never be sent.
            return out;
        }
    }
    for (pointer, field) in [
        ("/apiVersion", "apiVersion"),
        ("/kind", "kind"),
        ("/metadata/name", "metadata.name"),
    ] {
        if m.object
            .pointer(pointer)
            .is_none_or(|v| v.as_str().is_none_or(|s| s.is_empty()))
        {
            out.push(at(Diagnostic::error("manifest/missing-field", format!("{what} has no `{field}`"))
                .help("every Kubernetes object needs apiVersion, kind and metadata.name; check the template")));
        }
    }
    match m.object.pointer("/metadata/namespace").and_then(Value::as_str) {
        None => out.push(at(Diagnostic::error("manifest/missing-field", format!("{what} has no `metadata.namespace`"))
            .help("set `namespace: {{ environment.namespace | tojson }}` in the template's metadata"))),
        Some(ns) if namespace.is_some_and(|n| n != ns) => out.push(at(Diagnostic::error(
            "manifest/wrong-namespace",
            format!("{what} is in namespace `{ns}`, not the environment's `{}`", namespace.unwrap_or_default()),
        )
        .help("an environment deploys into its own namespace only; use `environment.namespace` in the template"))),
        _ => {}
    }
    if !m.name.is_empty() && !name_is_valid(&m.kind, &m.name) {
        let rule = if m.kind == "SparkApplication" {
            "a DNS-1035 label of at most 63 characters"
        } else {
            "a DNS-1123 subdomain of at most 253 characters"
        };
        out.push(at(Diagnostic::error(
            "manifest/invalid-name",
            format!("{what} has the invalid name `{}`", m.name),
        )
        .note(format!("a {} name must be {rule}", m.kind))));
    }
    if m.kind == "SparkApplication" && !schema.is_valid(&m.object) {
        for (path, message) in schema.violations(&m.object) {
            out.push(at(Diagnostic::error(
                "manifest/schema",
                format!("{what} fails the schema at `{path}`: {message}"),
            )
            .note(format!("checked against {}", schema.origin))));
        }
    }
    out
}

/// Two objects of an environment with the same kind and name would
/// overwrite each other in the cluster.
pub fn duplicates(
    keys: &mut [ObjectKey],
    anchor: &dyn Fn(&str) -> Option<Span>,
) -> Vec<Diagnostic> {
    keys.sort();
    let mut out = Vec::new();
    for pair in keys.windows(2) {
        let (first, second) = (&pair[0], &pair[1]);
        let same = (
            &first.environment,
            &first.api_version,
            &first.kind,
            &first.name,
        ) == (
            &second.environment,
            &second.api_version,
            &second.kind,
            &second.name,
        );
        if same && !second.name.is_empty() {
            out.push(located(
                Diagnostic::error(
                    "manifest/duplicate",
                    format!(
                        "the rendered {} is named `{}`, like the {} of stream `{}`",
                        second.kind, second.name, first.kind, first.stream
                    ),
                )
                .help("derive object names from the stream: `{{ stream.name }}-...`"),
                &second.stream,
                &second.environment,
                &second.template,
                anchor(&second.stream),
            ));
        }
    }
    out
}

fn name_is_valid(kind: &str, name: &str) -> bool {
    if kind == "SparkApplication" {
        return crate::values::repo::is_dns1035(name);
    }
    name.len() <= 253
        && name.split('.').all(|part| {
            let b = part.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}
