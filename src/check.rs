//! The offline check of rendered objects (pure): every object has the
//! fields the API server requires, legal names, one object per kind and
//! name, and every object passes a strict schema for its apiVersion and
//! kind: sluice's built-in SparkApplication schema, the built-in
//! Kubernetes schemas (schemas/k8s/, generated from the API server's
//! OpenAPI document), or a CRD from the repository's schemas/crds/ or
//! `lint --crd`. An object of a kind without a schema is a warning.

use crate::crd;
use crate::diag::Diagnostic;
use crate::render::Manifest;
use crate::source::Span;
use jsonschema::{Draft, Validator};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

pub const BUILTIN_SPARKAPPLICATION_SCHEMA: &str =
    include_str!("../schemas/sparkapplication.schema.json");

/// The built-in Kubernetes kinds, as `(apiVersion, kind, schema)`, written
/// by scripts/gen-k8s-schemas.py (one file per kind in schemas/k8s/).
pub const BUILTIN_K8S_SCHEMAS: &[(&str, &str, &str)] = &[
    (
        "v1",
        "ConfigMap",
        include_str!("../schemas/k8s/core.v1.ConfigMap.json"),
    ),
    (
        "v1",
        "PersistentVolumeClaim",
        include_str!("../schemas/k8s/core.v1.PersistentVolumeClaim.json"),
    ),
    (
        "v1",
        "Secret",
        include_str!("../schemas/k8s/core.v1.Secret.json"),
    ),
    (
        "v1",
        "Service",
        include_str!("../schemas/k8s/core.v1.Service.json"),
    ),
    (
        "v1",
        "ServiceAccount",
        include_str!("../schemas/k8s/core.v1.ServiceAccount.json"),
    ),
    (
        "networking.k8s.io/v1",
        "Ingress",
        include_str!("../schemas/k8s/networking.k8s.io.v1.Ingress.json"),
    ),
    (
        "networking.k8s.io/v1",
        "NetworkPolicy",
        include_str!("../schemas/k8s/networking.k8s.io.v1.NetworkPolicy.json"),
    ),
    (
        "networking.k8s.io/v1beta1",
        "Ingress",
        include_str!("../schemas/k8s/networking.k8s.io.v1beta1.Ingress.json"),
    ),
    (
        "policy/v1beta1",
        "PodDisruptionBudget",
        include_str!("../schemas/k8s/policy.v1beta1.PodDisruptionBudget.json"),
    ),
];

/// One kind's schema.
struct KindSchema {
    validator: Validator,
    /// The schema itself, for the fields a misspelt one might have meant.
    doc: Value,
    /// Shown in findings: "sluice's built-in schema" or the CRD's path.
    origin: String,
    /// The API server takes `null` as "unset" (a built-in kind decodes it
    /// so; a CRD's structural schema prunes nulls of non-nullable fields
    /// before validating), so fields set to null are not checked.
    nulls_are_unset: bool,
}

impl KindSchema {
    fn compile(
        doc: Value,
        draft: Draft,
        origin: String,
        nulls_are_unset: bool,
    ) -> Result<KindSchema, String> {
        let validator = jsonschema::options()
            .with_draft(draft)
            .build(&doc)
            .map_err(|e| format!("its schema does not compile: {e}"))?;
        Ok(KindSchema {
            validator,
            doc,
            origin,
            nulls_are_unset,
        })
    }
}

/// One way an object fails its schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Dotted, in the object (`spec.ports[0].port`).
    pub path: String,
    pub message: String,
    /// Where in the schema the failed rule is, as a JSON pointer.
    pub schema_path: String,
    pub help: String,
}

/// What the objects are checked against: a schema per apiVersion and kind.
/// sluice's own schemas are compiled on first use, once per process: most
/// repositories render two or three kinds.
#[derive(Default)]
pub struct ManifestSchema {
    /// From CRDs, by `(apiVersion, kind)`.
    crds: HashMap<(String, String), Arc<KindSchema>>,
    /// `Kind.group` → the versions CRDs define for it and where from, for
    /// an object of a CRD's kind at a version the CRD does not have.
    crd_versions: HashMap<String, (String, BTreeSet<String>)>,
    /// A CRD's v1beta2 SparkApplication, which replaces the built-in one.
    crd_spark: Option<Arc<KindSchema>>,
}

static BUILTIN_SPARK: OnceLock<KindSchema> = OnceLock::new();
static BUILTIN_K8S: [OnceLock<KindSchema>; BUILTIN_K8S_SCHEMAS.len()] =
    [const { OnceLock::new() }; BUILTIN_K8S_SCHEMAS.len()];

fn builtin_spark() -> &'static KindSchema {
    BUILTIN_SPARK.get_or_init(|| {
        let doc: Value =
            serde_json::from_str(BUILTIN_SPARKAPPLICATION_SCHEMA).expect("built-in schema is JSON");
        KindSchema::compile(
            doc,
            Draft::Draft7,
            "sluice's built-in SparkApplication schema (spark-operator v2.5)".to_owned(),
            true,
        )
        .expect("built-in schema compiles")
    })
}

fn builtin_k8s(api_version: &str, kind: &str) -> Option<&'static KindSchema> {
    let i = BUILTIN_K8S_SCHEMAS
        .iter()
        .position(|(v, k, _)| *v == api_version && *k == kind)?;
    Some(BUILTIN_K8S[i].get_or_init(|| {
        let (api_version, kind, text) = BUILTIN_K8S_SCHEMAS[i];
        let doc: Value = serde_json::from_str(text).expect("built-in schema is JSON");
        let origin = format!(
            "sluice's built-in {api_version} {kind} schema ({})",
            doc.get("title")
                .and_then(Value::as_str)
                .and_then(|t| t.rsplit_once('(').map(|(_, v)| v.trim_end_matches(')')))
                .unwrap_or("Kubernetes")
        );
        KindSchema::compile(doc, Draft::Draft202012, origin, true)
            .expect("built-in schema compiles")
    }))
}

/// What [`ManifestSchema::lookup`] found for an apiVersion and kind.
enum Lookup<'a> {
    Schema(&'a KindSchema),
    /// A CRD defines the kind, but not at this version.
    NoSuchVersion {
        origin: &'a str,
        versions: &'a BTreeSet<String>,
    },
    None,
}

impl ManifestSchema {
    /// sluice's own schemas: SparkApplication and the Kubernetes kinds.
    pub fn builtin() -> ManifestSchema {
        ManifestSchema::default()
    }

    /// Adds every served version of every CRD in a file (`origin` names
    /// it in findings: "schemas/crds/podmonitors.yaml"); a kind and
    /// version already known is replaced. Returns what it defines, as
    /// `Kind.group/version`.
    pub fn add_crd(&mut self, text: &str, origin: &str) -> Result<Vec<String>, String> {
        let crds = crd::from_file(text).map_err(|e| e.to_string())?;
        let mut compiled = Vec::new();
        for c in crds {
            if c.kind.is_empty() || c.group.is_empty() {
                return Err("a CRD has no `spec.group` or `spec.names.kind`".to_owned());
            }
            let schema = KindSchema::compile(
                with_strict_metadata(c.schema),
                Draft::Draft4,
                format!("the CRD in {origin}"),
                true,
            )
            .map_err(|e| format!("{}.{} {}: {e}", c.kind, c.group, c.version))?;
            compiled.push((c.group, c.version, c.kind, Arc::new(schema)));
        }
        let mut defined = Vec::new();
        for (group, version, kind, schema) in compiled {
            if group == "sparkoperator.k8s.io" && kind == "SparkApplication" && version == "v1beta2"
            {
                self.crd_spark = Some(schema.clone());
            }
            let group_kind = format!("{kind}.{group}");
            let entry = self
                .crd_versions
                .entry(group_kind.clone())
                .or_insert_with(|| (format!("the CRD in {origin}"), BTreeSet::new()));
            entry.0 = format!("the CRD in {origin}");
            entry.1.insert(version.clone());
            defined.push(format!("{group_kind}/{version}"));
            self.crds
                .insert((format!("{group}/{version}"), kind), schema);
        }
        Ok(defined)
    }

    /// sluice's built-in schemas and one CRD file (for example the one
    /// the cluster runs).
    pub fn from_crd(text: &str, origin: &str) -> Result<ManifestSchema, String> {
        let mut schema = ManifestSchema::builtin();
        schema.add_crd(text, origin)?;
        Ok(schema)
    }

    fn lookup(&self, api_version: &str, kind: &str) -> Lookup<'_> {
        if let Some(s) = self.crds.get(&(api_version.to_owned(), kind.to_owned())) {
            return Lookup::Schema(s);
        }
        if let Some(s) = builtin_k8s(api_version, kind) {
            return Lookup::Schema(s);
        }
        // Whatever its apiVersion: the built-in schema says which it wants.
        if kind == "SparkApplication" {
            return Lookup::Schema(self.crd_spark.as_deref().unwrap_or_else(|| builtin_spark()));
        }
        match self
            .crd_versions
            .get(&crate::kinds::group_kind(api_version, kind))
        {
            Some((origin, versions)) => Lookup::NoSuchVersion { origin, versions },
            None => Lookup::None,
        }
    }

    /// Whether an object passes its kind's schema (true for a kind
    /// without one).
    pub fn is_valid(&self, object: &Value) -> bool {
        let (api_version, kind) = api_version_kind(object);
        match self.lookup(api_version, kind) {
            Lookup::Schema(s) => s.validator.is_valid(&checked_form(s, object)),
            _ => true,
        }
    }

    /// The violations of one object, as `(path, message)`.
    pub fn violations(&self, object: &Value) -> Vec<(String, String)> {
        let (api_version, kind) = api_version_kind(object);
        match self.lookup(api_version, kind) {
            Lookup::Schema(s) => violations_of(s, object, kind == "Secret")
                .into_iter()
                .map(|v| (v.path, v.message))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The API server reads a custom resource's `metadata` as it reads any
/// object's, and drops a field ObjectMeta does not have: a CRD's
/// `metadata: {type: object}` is checked as the built-in ObjectMeta.
fn with_strict_metadata(mut schema: Value) -> Value {
    let open = schema
        .pointer("/properties/metadata")
        .is_some_and(|m| m.get("properties").is_none() && m.get("$ref").is_none());
    if !open || schema.get("$defs").is_some() {
        return schema;
    }
    let Some((_, _, text)) = BUILTIN_K8S_SCHEMAS
        .iter()
        .find(|(_, k, _)| *k == "ConfigMap")
    else {
        return schema;
    };
    let configmap: Value = serde_json::from_str(text).expect("built-in schema is JSON");
    let (Some(meta), Some(defs)) = (
        configmap.pointer("/properties/metadata"),
        configmap.get("$defs"),
    ) else {
        return schema;
    };
    schema["properties"]["metadata"] = meta.clone();
    schema["$defs"] = defs.clone();
    schema
}

fn api_version_kind(object: &Value) -> (&str, &str) {
    let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or_default();
    (text("apiVersion"), text("kind"))
}

/// The object as its schema sees it: for a built-in kind, without the
/// fields set to null.
fn checked_form<'a>(schema: &KindSchema, object: &'a Value) -> std::borrow::Cow<'a, Value> {
    if schema.nulls_are_unset && has_null_field(object) {
        let mut copy = object.clone();
        drop_null_fields(&mut copy);
        std::borrow::Cow::Owned(copy)
    } else {
        std::borrow::Cow::Borrowed(object)
    }
}

fn has_null_field(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.values().any(|v| v.is_null() || has_null_field(v)),
        Value::Array(items) => items.iter().any(has_null_field),
        _ => false,
    }
}

fn drop_null_fields(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_null_fields);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null_fields),
        _ => {}
    }
}

/// `all_secret`: every value of the object is a credential (a Secret).
fn violations_of(schema: &KindSchema, object: &Value, all_secret: bool) -> Vec<Violation> {
    let object = checked_form(schema, object);
    schema
        .validator
        .iter_errors(&object)
        .map(|e| {
            let pointer = e.instance_path().as_str();
            // Only these messages show no value, just field names.
            let names_only = matches!(
                e.kind(),
                jsonschema::error::ValidationErrorKind::AdditionalProperties { .. }
                    | jsonschema::error::ValidationErrorKind::Required { .. }
            );
            let in_secret = all_secret && !names_only;
            let message = if in_secret || crate::secret::pointer_is_secret(pointer) {
                format!(
                    "the value fails `{}` (value hidden: {})",
                    e.kind().keyword(),
                    if in_secret {
                        "it is in a Secret"
                    } else {
                        "the key looks like a credential"
                    }
                )
            } else {
                e.to_string()
            };
            let schema_path = e.schema_path().as_str().to_owned();
            Violation {
                path: crate::values::validate::dotted(pointer),
                help: help_for(e.kind(), &schema.doc, &schema_path),
                message,
                schema_path,
            }
        })
        .collect()
}

fn help_for(
    kind: &jsonschema::error::ValidationErrorKind,
    doc: &Value,
    schema_path: &str,
) -> String {
    use jsonschema::error::ValidationErrorKind as K;
    match kind {
        K::AdditionalProperties { unexpected } => {
            // The rule's own object lists the fields there are.
            let known: Vec<&str> = schema_path
                .rsplit_once('/')
                .and_then(|(parent, _)| doc.pointer(parent))
                .and_then(|node| node.get("properties"))
                .and_then(Value::as_object)
                .map(|props| props.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let mut meant = Vec::new();
            let mut unknown = Vec::new();
            for field in unexpected {
                match crate::suggest::closest(field, known.iter().copied()) {
                    Some(k) => meant.push(format!("`{k}` for `{field}`")),
                    None => unknown.push(format!("`{field}`")),
                }
            }
            let mut fix = Vec::new();
            if !meant.is_empty() {
                fix.push(format!("did you mean {}?", meant.join(", ")));
            }
            if !unknown.is_empty() {
                fix.push(format!(
                    "remove {} from the template: the schema has no such field there.",
                    unknown.join(", ")
                ));
            }
            format!(
                "{} The API server drops a field its schema does not have without a word.",
                fix.join(" ")
            )
        }
        K::Type { .. } => "render the type the schema wants: a number or boolean is quoted for a string field (`{{ x | string | tojson }}`), and a string is not quoted for a number".to_owned(),
        K::Required { .. } => "add the required field in the template".to_owned(),
        K::Enum { .. } | K::Constant { .. } => "use one of the values the schema allows".to_owned(),
        _ => "change the template so that the object passes the schema".to_owned(),
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
    if !m.kind.is_empty() && !api_version.is_empty() {
        out.extend(schema_findings(m, api_version, &what, schema).map(at));
    }
    out
}

/// The object against its kind's schema, or a warning that it has none.
fn schema_findings(
    m: &Manifest,
    api_version: &str,
    what: &str,
    schema: &ManifestSchema,
) -> impl Iterator<Item = Diagnostic> {
    let mut out = Vec::new();
    match schema.lookup(api_version, &m.kind) {
        Lookup::Schema(s) => {
            if !s.validator.is_valid(&checked_form(s, &m.object)) {
                for v in violations_of(s, &m.object, m.kind == "Secret") {
                    out.push(
                        Diagnostic::error(
                            "manifest/schema",
                            format!(
                                "{what} fails the schema at {}: {}",
                                if v.path.is_empty() {
                                    "the top level".to_owned()
                                } else {
                                    format!("`{}`", v.path)
                                },
                                v.message
                            ),
                        )
                        .note(format!("checked against {}", s.origin))
                        .note(format!("the rule is at `{}` in the schema", v.schema_path))
                        .help(v.help),
                    );
                }
            }
        }
        Lookup::NoSuchVersion { origin, versions } => out.push(
            Diagnostic::error(
                "manifest/schema",
                format!(
                    "{what} has apiVersion `{api_version}`, a version {origin} does not define",
                ),
            )
            .note(format!(
                "it defines {}",
                versions
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .help("use a version the CRD serves, or update the CRD to the one the cluster runs"),
        ),
        Lookup::None => {
            let group_kind = crate::kinds::group_kind(api_version, &m.kind);
            let group = group_kind.split_once('.').map_or("", |(_, g)| g);
            let d = Diagnostic::warning(
                "manifest/unchecked-kind",
                format!(
                    "{what} ({api_version}) was not checked against a schema: sluice has none for it"
                ),
            );
            out.push(if is_builtin_group(group) {
                d.note(format!(
                    "sluice's built-in Kubernetes schemas are {}",
                    BUILTIN_K8S_SCHEMAS
                        .iter()
                        .map(|(v, k, _)| format!("{v} {k}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .help("only the API server's dry run (`sluice diff`) checks it; for a kind sluice has a schema of, use the apiVersion it has")
            } else {
                d.help(format!(
                    "add its CRD to the repository as schemas/crds/<name>.yaml (`kubectl get crd <plural>.{group} -o yaml`), or pass it to `sluice lint --crd FILE`"
                ))
            });
        }
    }
    out.into_iter()
}

/// Kubernetes' own API groups (those without a dot: core, apps, batch,
/// policy, ...), for which there are no CRDs. Not every `*.k8s.io` group
/// is one: sparkoperator.k8s.io and gateway.networking.k8s.io are CRDs.
fn is_builtin_group(group: &str) -> bool {
    const DOTTED: &[&str] = &[
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "certificates.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "internal.apiserver.k8s.io",
        "networking.k8s.io",
        "node.k8s.io",
        "rbac.authorization.k8s.io",
        "resource.k8s.io",
        "scheduling.k8s.io",
        "storage.k8s.io",
        "storagemigration.k8s.io",
    ];
    !group.contains('.') || DOTTED.contains(&group)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// schemas/k8s/ as scripts/gen-k8s-schemas.py names its files.
    fn file_of(api_version: &str, kind: &str) -> String {
        let (group, version) = api_version.split_once('/').unwrap_or(("core", api_version));
        format!("{group}.{version}.{kind}.json")
    }

    #[test]
    fn every_generated_schema_is_embedded_under_its_kind() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/k8s");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = BUILTIN_K8S_SCHEMAS
            .iter()
            .map(|(v, k, _)| file_of(v, k))
            .collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
        for (api_version, kind, text) in BUILTIN_K8S_SCHEMAS {
            let doc: Value = serde_json::from_str(text).unwrap();
            assert_eq!(doc["properties"]["apiVersion"]["const"], *api_version);
            assert_eq!(doc["properties"]["kind"]["const"], *kind);
        }
    }

    fn object(api_version: &str, kind: &str, rest: Value) -> Value {
        let mut o = json!({"apiVersion": api_version, "kind": kind,
            "metadata": {"name": "orders", "namespace": "streams-dev"}});
        o.as_object_mut()
            .unwrap()
            .extend(rest.as_object().unwrap().clone());
        o
    }

    #[test]
    fn builtin_kinds_are_strict_but_null_is_unset() {
        let s = ManifestSchema::builtin();
        let ok = object(
            "v1",
            "Service",
            json!({"metadata": {"name": "x", "creationTimestamp": null},
                "spec": {"ports": [{"port": 4040, "targetPort": "ui"}, {"port": 80, "targetPort": 8080}]},
                "status": {}}),
        );
        assert!(s.is_valid(&ok), "{:?}", s.violations(&ok));
        let typo = object("v1", "Service", json!({"spec": {"portz": []}}));
        let found = s.violations(&typo);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "spec");
        assert!(found[0].1.contains("'portz' was unexpected"), "{found:?}");
        // A quantity may be a bare number, as the API server decodes it.
        let pvc = object(
            "v1",
            "PersistentVolumeClaim",
            json!({"spec": {"resources": {"requests": {"storage": 1}}}}),
        );
        assert!(s.is_valid(&pvc), "{:?}", s.violations(&pvc));
        let pdb = object(
            "policy/v1beta1",
            "PodDisruptionBudget",
            json!({"spec": {"minAvailable": "50%", "selector": {"matchLabels": {"a": "b"}}}}),
        );
        assert!(s.is_valid(&pdb), "{:?}", s.violations(&pdb));
        let pdb = object(
            "policy/v1beta1",
            "PodDisruptionBudget",
            json!({"spec": {"minAvailable": true}}),
        );
        assert!(!s.is_valid(&pdb));
    }

    #[test]
    fn secret_values_are_never_shown() {
        let s = ManifestSchema::builtin();
        let secret = object(
            "v1",
            "Secret",
            json!({"data": {"token": "hunter2-is-not-base64!"}, "stringData": {"pw": 12345}, "typo": 1}),
        );
        let found = s.violations(&secret);
        assert_eq!(found.len(), 3, "{found:?}");
        let text = format!("{found:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("12345"), "{text}");
        assert!(text.contains("'typo' was unexpected"), "{text}");
    }

    #[test]
    fn a_crd_serves_its_versions_and_no_other() {
        let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec:\n  group: example.com\n  names: {kind: Widget, plural: widgets}\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          spec: {type: object, properties: {size: {type: integer}}}\n  - name: v0\n    served: false\n    storage: false\n    schema: {openAPIV3Schema: {type: object}}\n";
        let mut s = ManifestSchema::builtin();
        assert_eq!(
            s.add_crd(crd, "widgets.yaml").unwrap(),
            ["Widget.example.com/v1"]
        );
        let bad = object("example.com/v1", "Widget", json!({"spec": {"size": "big"}}));
        assert!(!s.is_valid(&bad));
        // apiVersion, kind and metadata need not be in the CRD's schema,
        // and metadata is ObjectMeta, strictly.
        let good = object("example.com/v1", "Widget", json!({"spec": {"size": 3}}));
        assert!(s.is_valid(&good), "{:?}", s.violations(&good));
        let typo = object(
            "example.com/v1",
            "Widget",
            json!({"metadata": {"name": "w", "label": {"a": "b"}}}),
        );
        let found = s.violations(&typo);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "metadata");
        assert!(found[0].1.contains("'label' was unexpected"), "{found:?}");
        assert!(matches!(
            s.lookup("example.com/v0", "Widget"),
            Lookup::NoSuchVersion { .. }
        ));
        assert!(matches!(s.lookup("example.com/v1", "Gadget"), Lookup::None));
        assert!(s.add_crd("kind: ConfigMap\n", "x.yaml").is_err());
        assert!(s.add_crd("", "x.yaml").is_err());
    }

    #[test]
    fn kubernetes_groups_are_told_from_crd_groups() {
        for g in ["", "apps", "policy", "networking.k8s.io", "storage.k8s.io"] {
            assert!(is_builtin_group(g), "{g}");
        }
        for g in [
            "sparkoperator.k8s.io",
            "gateway.networking.k8s.io",
            "monitoring.coreos.com",
        ] {
            assert!(!is_builtin_group(g), "{g}");
        }
    }
}
