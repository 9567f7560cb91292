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
use std::collections::HashMap;

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

/// Checks the rendered objects of one environment. `anchor` gives, per
/// stream, where findings point (the stream's definition).
pub fn check(
    manifests: &[Manifest],
    namespace: Option<&str>,
    schema: &ManifestSchema,
    anchor: &dyn Fn(&str) -> Option<Span>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut seen: HashMap<(String, String, String), &Manifest> = HashMap::new();
    for m in manifests {
        let at = |d: Diagnostic| {
            let d = d
                .subject(&m.stream, &m.environment)
                .note(format!("rendered by template `{}`", m.template));
            match anchor(&m.stream) {
                Some(span) => d.at(span, format!("stream `{}`", m.stream)),
                None => d,
            }
        };
        // No stream or environment in the message: the same template
        // mistake in 1000 streams is one finding (see diag::normalize).
        let what = format!(
            "the rendered {}",
            if m.kind.is_empty() { "object" } else { &m.kind }
        );
        for (pointer, field) in [
            ("/apiVersion", "apiVersion"),
            ("/kind", "kind"),
            ("/metadata/name", "metadata.name"),
        ] {
            if !m
                .object
                .pointer(pointer)
                .is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()))
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
        let key = (
            m.object
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            m.kind.clone(),
            m.name.clone(),
        );
        if let Some(first) = seen.get(&key) {
            out.push(at(Diagnostic::error(
                "manifest/duplicate",
                format!(
                    "{what} is named `{}`, like the {} of stream `{}`",
                    m.name, first.kind, first.stream
                ),
            )
            .help(
                "derive object names from the stream: `{{ stream.name }}-...`",
            )));
        } else {
            seen.insert(key, m);
        }
        if m.kind == "SparkApplication" {
            for (path, message) in schema.violations(&m.object) {
                out.push(at(Diagnostic::error(
                    "manifest/schema",
                    format!("{what} fails the schema at `{path}`: {message}"),
                )
                .note(format!("checked against {}", schema.origin))));
            }
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
