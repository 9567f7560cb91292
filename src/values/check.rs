//! Every check of the values stage, for the selected environments (pure).

use super::effective::{self, Effective};
use super::keys;
use super::repo::{Environment, FileKind, Origin, Repository, StreamDef};
use super::validate::Schema;
use super::yaml::{Node, Value};
use crate::diag::Diagnostic;
use crate::engine::{self as engines, Engine};
use crate::secret;
use crate::source::{FileId, Sources, Span};
use rayon::prelude::*;

/// The findings of checking every values file on its own.
pub struct FileFindings {
    pub diagnostics: Vec<Diagnostic>,
    /// Files with errors: streams in an environment whose file has one
    /// are checked, but not rendered.
    broken: Vec<FileId>,
}

/// Checks every values file of the selected environments on its own (so a
/// typo in `common.yaml` is found even if no stream uses it).
pub fn check_files(
    repo: &Repository,
    environments: &[&Environment],
    schema: &Schema,
    sources: &Sources,
) -> FileFindings {
    let selected: Vec<&str> = environments.iter().map(|e| e.name.as_str()).collect();
    let found: Vec<Vec<Diagnostic>> = repo
        .files
        .par_iter()
        .filter(|f| match f.kind {
            // An environment that is not selected is not checked.
            FileKind::Environment => repo
                .environments
                .iter()
                .any(|e| e.file == f.file && selected.contains(&e.name.as_str())),
            _ => true,
        })
        .map(|f| {
            let def = repo
                .streams
                .iter()
                .find(|d| d.origin == Origin::File && d.span.file == f.file);
            schema
                .check_file(f.kind, &f.root, sources)
                .into_iter()
                .filter_map(|(pointer, d)| attribute(d, &pointer, def, &selected))
                .collect()
        })
        .collect();
    let diagnostics: Vec<Diagnostic> = found.into_iter().flatten().collect();
    let broken = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .filter_map(|d| d.primary.as_ref().map(|l| l.span.file))
        .collect();
    FileFindings {
        diagnostics,
        broken,
    }
}

/// Every stream × environment the selected environments deploy, in
/// environment, then stream order.
pub fn pairs<'r>(
    repo: &'r Repository,
    environments: &[&'r Environment],
) -> Vec<(&'r Environment, &'r StreamDef)> {
    environments
        .iter()
        .flat_map(|env| {
            repo.streams
                .iter()
                .filter(|d| d.applies_to(&env.name))
                .map(move |d| (*env, d))
        })
        .collect()
}

/// One stream in one environment after the values stage: its effective
/// values, what was found about them, and whether they are sound enough to
/// render (no errors in them or in the environment's file).
pub struct Checked<'r> {
    pub effective: Effective<'r>,
    pub ok: bool,
    pub found: Vec<Diagnostic>,
    pub facts: Option<crate::rules::Facts>,
}

/// Merges one stream's layers for one environment and checks the result:
/// the schema, what Kubernetes and the operator refuse, literal
/// credentials, and (for sound values) the Spark-on-Kubernetes rules.
pub fn check_stream<'r>(
    repo: &'r Repository,
    environment: &'r Environment,
    def: &'r StreamDef,
    sets: &[super::set::Flag],
    schema: &Schema,
    sources: &Sources,
    files: &FileFindings,
) -> Checked<'r> {
    let (mut values, set_found) =
        crate::stats::MERGE.time(|| effective::values_and_findings(repo, def, environment, sets));
    let inexact = super::exact::keep_written_text(&mut values, sources);
    let e = Effective {
        def,
        environment,
        json: values.to_json(),
        engine: crate::engine::Engine::of(&values),
        values,
    };
    let mut found = set_found;
    if e.enabled() {
        found.extend(inexact);
        found.extend(other_engine_keys(def, environment, e.engine));
        let anchor = effective::anchor(def);
        found.extend(crate::stats::VALIDATE.time(|| {
            schema_and_preflight(
                schema.check_effective(&e.values, &e.json, anchor, sources),
                preflight(&e.values, anchor),
                anchor,
            )
        }));
    }
    // A credential in a disabled stream is still committed. The stream's
    // `lint.ignore` applies here: the finding would otherwise fail the
    // stream before the rules (which apply it to their own findings) run.
    // Output masks it either way.
    if !crate::rules::ignored(&e.values)
        .iter()
        .any(|c| c == LITERAL_SECRET)
    {
        found.extend(literal_secrets(&e.values));
    }
    let ok = !found.iter().any(Diagnostic::is_error) && !files.broken.contains(&environment.file);
    let mut found: Vec<Diagnostic> = found
        .into_iter()
        .map(|d| d.subject(&def.name, &environment.name))
        .collect();
    // The Spark-on-Kubernetes rules need sound values.
    let facts = (ok && e.enabled()).then(|| {
        let (rules_found, facts) = crate::stats::RULES.time(|| crate::rules::check_stream(&e));
        found.extend(rules_found);
        facts
    });
    Checked {
        effective: e,
        ok,
        found,
        facts,
    }
}

/// The findings of the values stage, in order: each stream's (merged
/// values first: when a file finding is the same, the merged one carries
/// the richer "overrides" context), the rules across streams (and their
/// suppressions), the files', and an environment that deploys nothing.
/// `enabled` says, per environment, whether any stream is enabled there;
/// `defined`, whether a stream (by name) is deployed to an environment.
pub fn across(
    environments: &[&Environment],
    per_stream: Vec<Diagnostic>,
    facts: &[crate::rules::Facts],
    files: FileFindings,
    enabled: impl Fn(&str) -> bool,
    defined: impl Fn(&str, &str) -> bool,
) -> Vec<Diagnostic> {
    let mut diagnostics = per_stream;
    diagnostics.extend(crate::rules::check_across(facts));
    let mut diagnostics = crate::rules::suppress(diagnostics, facts);
    diagnostics.extend(files.diagnostics);
    for env in environments {
        if !enabled(&env.name) {
            diagnostics.push(
                Diagnostic::warning(
                    "values/no-streams",
                    format!("environment `{}` deploys no stream", env.name),
                )
                .at(Span::file_start(env.file), "this environment")
                .help("add a file under values/streams/, or enable a stream for this environment"),
            );
        }
        diagnostics.extend(unknown_canaries(env, |s| defined(&env.name, s)));
    }
    diagnostics
}

/// `rollout.canary` entries that name no stream of the environment: the
/// rollout would have no canary.
fn unknown_canaries(env: &Environment, defined: impl Fn(&str) -> bool) -> Vec<Diagnostic> {
    let Some(Value::Seq(items)) = env
        .root
        .get("rollout")
        .and_then(|r| r.get("canary"))
        .map(|n| &n.value)
    else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| Some((item, item.as_str()?)))
        .filter(|(_, name)| !defined(name))
        .map(|(item, name)| {
            Diagnostic::error(
                "values/unknown-canary",
                format!("`{name}` in rollout.canary is no stream of environment `{}`", env.name),
            )
            .at(item.span, "no such stream here")
            .help("name a stream the environment deploys (a file under values/streams/, or an entry of `streams:`), or remove the entry")
        })
        .collect()
}

/// A finding in a stream's file concerns that stream in the selected
/// environments, or only in one if it is inside its `environments:` block
/// (and none if that environment is not selected).
fn attribute(
    d: Diagnostic,
    pointer: &str,
    def: Option<&StreamDef>,
    selected: &[&str],
) -> Option<Diagnostic> {
    let block = pointer.strip_prefix("/environments/").map(|rest| {
        rest.split('/')
            .next()
            .unwrap_or(rest)
            .replace("~1", "/")
            .replace("~0", "~")
    });
    if let Some(env) = &block
        && !selected.contains(&env.as_str())
    {
        return None;
    }
    let Some(def) = def else { return Some(d) };
    let envs = selected
        .iter()
        .filter(|e| block.as_deref().is_none_or(|b| b == **e) && def.applies_to(e));
    Some(envs.fold(d, |d, e| d.subject(&def.name, e)))
}

const LITERAL_SECRET: &str = "values/literal-secret";

/// Literal credentials anywhere in a stream's values (see `secret` for what
/// counts: credential-looking keys and env names, credential flags in
/// lists, passwords in URLs and `key=value` settings, AWS keys), but not
/// references (`${VAR}`, `secrets:`, `valueFrom`, Spark's secret-mount
/// confs). The value itself is never printed.
fn literal_secrets(values: &Node) -> Vec<Diagnostic> {
    use secret::{Hidden, Seg, Why};
    let mut out = Vec::new();
    secret::visit(values, &mut |path, node: &Node, hidden| {
        if path.first() == Some(&Seg::Key("lint")) {
            return;
        }
        let walk = values.walk(&secret::pointer(path));
        let env_value = path.last() == Some(&Seg::Key("value"));
        let (span, label, help) = match &hidden {
            Hidden::Whole(_) if !is_literal(node) => return,
            Hidden::Whole(Why::Key) if env_value => (
                walk.key_span.unwrap_or(node.span),
                format!(
                    "the literal value of env variable `{}` (value not shown)",
                    values
                        .walk(&secret::pointer(&path[..path.len() - 1]))
                        .node
                        .get("name")
                        .and_then(Node::as_str)
                        .unwrap_or("?")
                ),
                "take it from a Kubernetes Secret instead: `valueFrom: {secretKeyRef: {name: my-secret, key: password}}`",
            ),
            Hidden::Whole(Why::Key) => (
                walk.key_span.unwrap_or(node.span),
                "credential-looking key with a literal value (value not shown)".to_owned(),
                "reference a Kubernetes Secret instead: `secrets: [{name: my-secret, env: {VAR: key}}]`",
            ),
            Hidden::Whole(Why::Flag) => (
                node.span,
                "the value of a credential flag (value not shown)".to_owned(),
                "pass it from a Kubernetes Secret instead: `secrets: [{name: my-secret, env: {VAR: key}}]`, and write `${VAR}` here",
            ),
            Hidden::Parts(parts) => (
                node.span,
                format!("{} (value not shown)", parts[0].what),
                "keep the credential in a Kubernetes Secret (`secrets: [{name: my-secret, env: {VAR: key}}]`) and write `${VAR}` in its place",
            ),
        };
        out.push(
            Diagnostic::error(
                LITERAL_SECRET,
                format!("`{}` holds a literal credential", secret::dotted(path)),
            )
            .at(span, label)
            .note("values files are committed and rendered manifests are stored in the cluster: a literal credential leaks to everyone who can read either")
            .help(help.to_owned()),
        );
    });
    out
}

/// Whether a hidden value is (or holds) a literal: a non-empty string that
/// is not a `${VAR}` reference, or a number.
fn is_literal(node: &Node) -> bool {
    match &node.value {
        Value::String(s) => !s.is_empty() && !secret::is_reference(s),
        Value::Number(_) => true,
        Value::Map(entries) => entries.iter().any(|e| is_literal(&e.value)),
        Value::Seq(items) => items.iter().any(is_literal),
        _ => false,
    }
}

pub const OTHER_ENGINE_KEY: &str = "values/other-engine-key";

/// Keys of the other engine in a stream's own file (and its block for this
/// environment): a shared file's are left out of its values, but here the
/// stream says it wants something its engine does not read.
fn other_engine_keys(
    def: &StreamDef,
    environment: &Environment,
    engine: Engine,
) -> Vec<Diagnostic> {
    let block = def.block(&environment.name);
    // A block that names the engine itself reads the definition as a
    // shared layer (see `effective`): only the block is the stream's word.
    let switched = block.is_some_and(|b| b.get("engine").is_some());
    let layers = (!switched).then(|| def.node()).into_iter().chain(block);
    let mut out = Vec::new();
    for layer in layers {
        for entry in layer.as_map().unwrap_or_default() {
            if super::repo::STREAM_KEYS.contains(&entry.key.as_str())
                || matches!(entry.value.value, Value::Null)
                || engine.takes(&entry.key, &entry.value)
            {
                continue;
            }
            let key = &entry.key;
            let (whose, help) = match engines::form_of(key, &entry.value) {
                Some(other) if Engine::owning(key).is_none() => (
                    format!("`{key}` is written in {}'s form", other.title()),
                    match (engine, key.as_str()) {
                        (Engine::Flink, "mode") => "Flink's modes are `native` (the default) and `standalone`".to_owned(),
                        (Engine::Flink, _) => "Flink's pod template is the template itself: `podTemplate: {spec: {...}}`; `jobManager.podTemplate` and `taskManager.podTemplate` are per role".to_owned(),
                        (Engine::Spark, "mode") => "Spark's modes are `cluster` (the default) and `client`".to_owned(),
                        (Engine::Spark, _) => "Spark's pod templates are per role: `podTemplate: {driver: {...}, executor: {...}}`".to_owned(),
                    },
                ),
                _ => {
                    let other = Engine::owning(key).unwrap_or(engine);
                    (
                        format!("`{key}` is a {} key", other.title()),
                        match engine.counterpart(key) {
                            Some(mine) => format!("{}'s counterpart is `{mine}`", engine.title()),
                            None => format!("remove it: {} streams do not read it", engine.title()),
                        },
                    )
                }
            };
            out.push(
                Diagnostic::error(
                    OTHER_ENGINE_KEY,
                    format!("{whose}, and stream `{}` runs on {}", def.name, engine.title()),
                )
                .at(entry.key_span, format!("not read by a {} stream", engine.title()))
                .note(format!(
                    "the stream's `engine` is `{}`; the other engine's keys in common.yaml or an environment file do not apply to it, but in its own file they are a mistake",
                    engine.name()
                ))
                .help(help),
            );
        }
    }
    out
}

/// The codes [`preflight`] reports (besides `values/required`).
pub const PREFLIGHT_CODES: &[&str] = &[
    "values/conflicting-keys",
    "values/label",
    "values/env-name",
    "values/service-account",
    "values/toleration",
    "values/container-image",
    "values/dynamic-allocation",
    "values/pod-template-version",
];

/// The schema's root-level "required" findings that [`preflight`] reports
/// in its own words (and with the CRD-named alternatives the schema's
/// `required` does not know).
const ROOT_REQUIRED: &[&str] = &[
    "`spark` is required",
    "`applicationFile` is required",
    "`mainClass` is required",
];

/// The schema's findings and [`preflight`]'s for one stream, each said
/// once: the schema's root `required` gives way to `values/required`, and
/// a preflight finding at a value the schema already flagged (a toleration
/// `operator` not in its enum, say) is left out.
fn schema_and_preflight(
    mut schema: Vec<Diagnostic>,
    pre: Vec<Diagnostic>,
    anchor: Span,
) -> Vec<Diagnostic> {
    schema.retain(|d| {
        !(d.code == "values/required"
            && d.primary.as_ref().is_some_and(|l| l.span == anchor)
            && ROOT_REQUIRED.contains(&d.message.as_str()))
    });
    // An unknown key is a different problem from what the key says.
    let flagged: Vec<Span> = schema
        .iter()
        .filter(|d| d.code != "values/unknown-key")
        .filter_map(|d| d.primary.as_ref().map(|l| l.span))
        .collect();
    schema.extend(pre.into_iter().filter(|d| {
        d.code == "values/required"
            || !d
                .primary
                .as_ref()
                .is_some_and(|l| flagged.contains(&l.span))
    }));
    schema
}

/// What Kubernetes or spark-operator would reject in a stream's merged
/// values, or what would fail once the pods start, that a JSON schema
/// cannot say: missing and conflicting keys, label and annotation syntax,
/// environment variable and service account names, tolerations, containers
/// without an image, dynamic allocation bounds, pod templates on Spark 2.
/// `anchor` is where a missing key is reported.
pub fn preflight(values: &Node, anchor: Span) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Engine::Flink = Engine::of(values) {
        required_of(
            values,
            anchor,
            &[keys::FLINK_VERSION, keys::FLINK_IMAGE, keys::JAR],
            &mut out,
        );
        conflicting(values, keys::FLINK_CONFLICTS, &mut out);
        metadata(values, &mut out);
        env_names(values, &mut out);
        return out;
    }
    required(values, anchor, &mut out);
    conflicting(values, keys::CONFLICTS, &mut out);
    metadata(values, &mut out);
    env_names(values, &mut out);
    service_accounts(values, &mut out);
    tolerations(values, &mut out);
    container_images(values, &mut out);
    dynamic_allocation(values, &mut out);
    pod_template_version(values, &mut out);
    local_dirs(values, &mut out);
    out
}

/// `localDirs` keys its type ignores: `storageClass` only means something
/// for an on-demand PVC.
fn local_dirs(values: &Node, out: &mut Vec<Diagnostic>) {
    let Some(local) = keys::set(values, "/localDirs") else {
        return;
    };
    let kind = local.get("type").and_then(Node::as_str).unwrap_or("");
    if let (true, Some(entry)) = (kind != "pvc", local.entry("storageClass")) {
        out.push(
            Diagnostic::error(
                "values/local-dirs",
                format!("`localDirs.storageClass` does nothing with `type: {kind}`"),
            )
            .at(entry.key_span, "ignored by this type")
            .note("emptyDir and tmpfs scratch space lives on the node (disk or memory); only `type: pvc` claims a volume of a storage class")
            .help("remove `storageClass`, or use `type: pvc`"),
        );
    }
}

fn required(values: &Node, anchor: Span, out: &mut Vec<Diagnostic>) {
    let mut needs = vec![keys::VERSION, keys::IMAGE, keys::APPLICATION_FILE];
    if matches!(keys::app_type(values), "Scala" | "Java") {
        needs.push(keys::MAIN_CLASS);
    }
    required_of(values, anchor, &needs, out);
}

fn required_of(
    values: &Node,
    anchor: Span,
    needs: &[keys::Requirement],
    out: &mut Vec<Diagnostic>,
) {
    let engine = Engine::of(values);
    let app_type = keys::app_type(values);
    for &r in needs {
        if keys::satisfied(values, &r).is_some() {
            continue;
        }
        // Each role may name its own image instead.
        if r.what == keys::IMAGE.what
            && keys::ROLES.iter().all(|role| {
                keys::set(values, &format!("/{role}/image"))
                    .is_some_and(|n| n.as_str().is_some_and(|s| !s.is_empty()))
            })
        {
            continue;
        }
        let options: Vec<String> = r
            .any_of
            .iter()
            .map(|p| format!("`{}`", keys::dotted(p)))
            .collect();
        let mut d = Diagnostic::error("values/required", format!("no {} is set", r.what))
            .at(anchor, "for this stream")
            .note(format!("any of {} gives it", options.join(", ")));
        if r.what == keys::MAIN_CLASS.what {
            d = d.note(format!(
                "a {app_type} application starts at its main class; spark-submit fails without one"
            ));
        } else {
            d = d.note(format!(
                "the {} cannot be rendered without it; nothing is rendered for this stream",
                engine.kind()
            ));
        }
        out.push(d.help(r.help));
    }
}

fn conflicting(values: &Node, conflicts: &[keys::Conflict], out: &mut Vec<Diagnostic>) {
    let kind = Engine::of(values).kind();
    for c in conflicts {
        let Some(field) = keys::set(values, c.field) else {
            continue;
        };
        if c.string_only && field.as_str().is_none() {
            continue;
        }
        for conv in c.convenience {
            if keys::set(values, conv).is_none() {
                continue;
            }
            let (f, v) = (keys::dotted(c.field), keys::dotted(conv));
            let at = |p: &str| keys::key_span(values, p).unwrap_or(field.span);
            out.push(
                Diagnostic::error("values/conflicting-keys", format!("`{f}` and `{v}` set the same field"))
                    .at(at(c.field), format!("`{f}` set here"))
                    .also(at(conv), format!("`{v}` set here"))
                    .note(format!("`{v}` is sluice's short form of the {kind}'s `{f}`: with both, one would silently win"))
                    .help(format!("keep one of them: `{v}` or `{f}`")),
            );
        }
    }
}

fn metadata(values: &Node, out: &mut Vec<Diagnostic>) {
    use keys::Metadata;
    for (pointer, kind) in keys::METADATA_MAPS {
        let Some(Value::Map(entries)) = keys::set(values, pointer).map(|n| &n.value) else {
            continue;
        };
        let path = keys::dotted(pointer);
        let what = match kind {
            Metadata::Labels => "label",
            Metadata::Annotations => "annotation",
        };
        let rejects = if pointer.matches('/').count() == 1 {
            "the API server rejects the SparkApplication"
        } else {
            "the API server rejects the pod or Service that carries it, and the stream does not start"
        };
        let mut bytes = 0;
        for e in entries {
            let text = keys::scalar_text(&e.value);
            bytes += e.key.len() + text.as_deref().map_or(0, str::len);
            // Kubernetes checks annotation keys in lower case.
            let key_check = match kind {
                Metadata::Labels => keys::qualified_name(&e.key),
                Metadata::Annotations => keys::qualified_name(&e.key.to_ascii_lowercase()),
            };
            if let Err(why) = key_check {
                out.push(
                    Diagnostic::error("values/label", format!("`{}` is not a valid {what} key in `{path}`", crate::diag::quote(&e.key)))
                        .at(e.key_span, format!("invalid {what} key"))
                        .note(format!("a {what} key is a name of at most 63 characters with an optional DNS subdomain prefix (`example.com/name`): {why}; {rejects}"))
                        .help(format!("rename the key, e.g. `{}`", suggest_name(&e.key))),
                );
            }
            if *kind == Metadata::Labels
                && let Some(text) = &text
                && let Err(why) = keys::label_value(text)
            {
                out.push(
                    Diagnostic::error(
                        "values/label",
                        format!(
                            "the value of label `{path}.{}` is not a valid label value",
                            crate::diag::quote(&e.key)
                        ),
                    )
                    .at(e.value.span, "invalid label value")
                    .note(format!("a label value {why}; {rejects}"))
                    .help(format!(
                        "use e.g. `{}`, or move free text to an annotation",
                        suggest_name(text)
                    )),
                );
            }
        }
        if *kind == Metadata::Annotations && bytes > keys::MAX_ANNOTATIONS_BYTES {
            out.push(
                Diagnostic::error("values/label", format!("the annotations in `{path}` take {bytes} bytes, more than Kubernetes' 256 KiB"))
                    .at(keys::caret(values, pointer, entries[0].key_span), "too large")
                    .note(format!("Kubernetes limits an object's annotations to 262144 bytes of keys and values; {rejects}"))
                    .help("keep large data in a ConfigMap and reference it"),
            );
        }
    }
}

/// A name in Kubernetes' label alphabet, for the help of a finding.
fn suggest_name(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    let trimmed = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() {
        "name".to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn env_names(values: &Node, out: &mut Vec<Diagnostic>) {
    // The path of a name is spelled only for a finding.
    let mut check = |name: &str, span: Span, path: &dyn Fn() -> String| {
        if let Err(why) = keys::env_var_name(name) {
            out.push(
                Diagnostic::error("values/env-name", format!("`{}` in `{}` is not a valid environment variable name", crate::diag::quote(name), path()))
                    .at(span, "invalid name")
                    .note(format!("an environment variable name {why}; the API server rejects the pod, and the stream does not start"))
                    .help(format!("rename it, e.g. `{}`", suggest_env(name))),
            );
        }
    };
    for role in keys::ROLES {
        let Some(r) = keys::set(values, &format!("/{role}")) else {
            continue;
        };
        for key in ["env", "envVars", "envSecretKeyRefs"] {
            let path = || format!("{role}.{key}");
            match r.get(key).map(|n| &n.value) {
                Some(Value::Map(entries)) => {
                    for e in entries {
                        check(&e.key, e.key_span, &path);
                    }
                }
                Some(Value::Seq(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(name) = item.get("name")
                            && let Some(text) = name.as_str()
                        {
                            check(text, name.span, &|| format!("{}[{i}].name", path()));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if let Some(Value::Seq(secrets)) = keys::set(values, "/secrets").map(|n| &n.value) {
        for (i, s) in secrets.iter().enumerate() {
            if let Some(Value::Map(entries)) = s.get("env").map(|n| &n.value) {
                for e in entries {
                    check(&e.key, e.key_span, &|| format!("secrets[{i}].env"));
                }
            }
        }
    }
}

fn suggest_env(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) || s.is_empty() {
        s.insert(0, '_');
    }
    s
}

fn service_accounts(values: &Node, out: &mut Vec<Diagnostic>) {
    for role in keys::ROLES {
        let pointer = format!("/{role}/serviceAccount");
        let Some(node) = keys::set(values, &pointer) else {
            continue;
        };
        let Some(name) = node.as_str() else { continue };
        if let Err(why) = keys::dns1123_subdomain(name) {
            out.push(
                Diagnostic::error("values/service-account", format!("`{role}.serviceAccount: {}` is not a valid service account name", crate::diag::quote(name)))
                    .at(node.span, "invalid name")
                    .note(format!("a ServiceAccount name is a DNS-1123 subdomain: it {why}; no such ServiceAccount can exist, so the {role} pod is never created"))
                    .help(format!("use the ServiceAccount's real name, e.g. `{}`", suggest_name(&name.to_ascii_lowercase()).replace(['_', '/'], "-"))),
            );
        }
    }
}

const EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

fn tolerations(values: &Node, out: &mut Vec<Diagnostic>) {
    for pointer in keys::TOLERATION_LISTS {
        let Some(Value::Seq(items)) = keys::set(values, pointer).map(|n| &n.value) else {
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            if item.as_map().is_none() {
                continue;
            }
            let path = format!("{}[{i}]", keys::dotted(pointer));
            let text = |k: &str| item.get(k).and_then(keys::scalar_text);
            let span = |k: &str| item.get(k).map_or(item.span, |n| n.span);
            let operator = text("operator").unwrap_or_default();
            let key = text("key").unwrap_or_default();
            let value = text("value").unwrap_or_default();
            let effect = text("effect").unwrap_or_default();
            let mut bad = |at: Span, message: String, note: &str, help: &str| {
                out.push(
                    Diagnostic::error("values/toleration", format!("`{path}`: {message}"))
                        .at(at, "rejected by Kubernetes")
                        .note(format!(
                            "{note}; the API server rejects the pod, and the stream does not start"
                        ))
                        .help(help.to_owned()),
                );
            };
            match operator.as_str() {
                "Exists" if !value.is_empty() => bad(
                    span("value"),
                    format!(
                        "`operator: Exists` with `value: {}`",
                        crate::diag::quote(&value)
                    ),
                    "`Exists` matches any value of the taint, so Kubernetes requires the value to be empty",
                    "remove `value`, or use `operator: Equal`",
                ),
                "" | "Equal" | "Exists" => {}
                other => bad(
                    span("operator"),
                    format!(
                        "`operator: {}` is not an operator",
                        crate::diag::quote(other)
                    ),
                    "a toleration's operator is `Exists` or `Equal`",
                    "use `operator: Equal` (with a value) or `operator: Exists` (without)",
                ),
            }
            if key.is_empty() && matches!(operator.as_str(), "" | "Equal") {
                bad(
                    item.entry("operator").map_or(item.span, |e| e.key_span),
                    "no `key` with operator `Equal`".to_owned(),
                    "a toleration without a key matches every taint, which Kubernetes allows only with `operator: Exists`",
                    "set `key`, or use `operator: Exists` without a value",
                );
            }
            if !key.is_empty()
                && let Err(why) = keys::qualified_name(&key)
            {
                bad(
                    span("key"),
                    format!(
                        "`key: {}` is not a valid taint key",
                        crate::diag::quote(&key)
                    ),
                    &format!("a taint key is a label key: {why}"),
                    "use the taint's key as `kubectl describe node` shows it",
                );
            }
            if matches!(operator.as_str(), "" | "Equal")
                && let Err(why) = keys::label_value(&value)
            {
                bad(
                    span("value"),
                    format!(
                        "`value: {}` is not a valid taint value",
                        crate::diag::quote(&value)
                    ),
                    &format!("a taint value is a label value: it {why}"),
                    "use the taint's value as `kubectl describe node` shows it",
                );
            }
            if !effect.is_empty() && !EFFECTS.contains(&effect.as_str()) {
                bad(
                    span("effect"),
                    format!(
                        "`effect: {}` is not a taint effect",
                        crate::diag::quote(&effect)
                    ),
                    "a toleration's effect is NoSchedule, PreferNoSchedule or NoExecute (or empty for all)",
                    "use one of NoSchedule, PreferNoSchedule, NoExecute",
                );
            }
            if keys::set(item, "/tolerationSeconds").is_some() && effect != "NoExecute" {
                bad(
                    item.entry("tolerationSeconds")
                        .map_or(item.span, |e| e.key_span),
                    format!(
                        "`tolerationSeconds` with {}",
                        if effect.is_empty() {
                            "no effect".to_owned()
                        } else {
                            format!("`effect: {effect}`")
                        }
                    ),
                    "only a NoExecute taint evicts running pods, so Kubernetes allows tolerationSeconds only with `effect: NoExecute`",
                    "set `effect: NoExecute`, or remove `tolerationSeconds`",
                );
            }
        }
    }
}

fn container_images(values: &Node, out: &mut Vec<Diagnostic>) {
    for (pointer, role, spark_first) in keys::CONTAINER_LISTS {
        let Some(Value::Seq(items)) = keys::set(values, pointer).map(|n| &n.value) else {
            continue;
        };
        // Spark fills in its own container's image: the first one, or the
        // one the conf names.
        let spark_container = spark_first.then(|| {
            values
                .get("sparkConf")
                .and_then(|c| c.get(&format!("spark.kubernetes.{role}.podTemplateContainerName")))
                .and_then(keys::scalar_text)
        });
        for (i, item) in items.iter().enumerate() {
            if item.as_map().is_none() {
                continue;
            }
            let name = item.get("name").and_then(Node::as_str);
            match &spark_container {
                Some(None) if i == 0 => continue,
                Some(Some(n)) if name == Some(n.as_str()) => continue,
                _ => {}
            }
            let image = item.get("image").and_then(keys::scalar_text);
            if image.is_some_and(|s| !s.trim().is_empty()) {
                continue;
            }
            let path = format!("{}[{i}]", keys::dotted(pointer));
            let shown = name.map_or(String::new(), |n| format!(" (`{}`)", crate::diag::quote(n)));
            let at = item
                .entry("image")
                .or_else(|| item.entry("name"))
                .map_or(item.span, |e| e.key_span);
            out.push(
                Diagnostic::error("values/container-image", format!("the container `{path}`{shown} has no image"))
                    .at(at, "no `image`")
                    .note(format!("Kubernetes requires an image for every container but Spark's own; the {role} pod is rejected and the stream does not start"))
                    .help("set `image: registry/image:tag` on the container"),
            );
        }
    }
}

fn dynamic_allocation(values: &Node, out: &mut Vec<Diagnostic>) {
    let Some(da) = keys::set(values, "/dynamicAllocation") else {
        return;
    };
    if matches!(
        da.get("enabled").map(|n| &n.value),
        Some(Value::Bool(false))
    ) {
        return;
    }
    let int = |k: &str| {
        da.get(k).and_then(|n| match &n.value {
            Value::Number(x) => x.as_i64().map(|x| (x, n.span)),
            _ => None,
        })
    };
    let (min, initial, max) = (
        int("minExecutors"),
        int("initialExecutors"),
        int("maxExecutors"),
    );
    let mut bad = |lo: (&str, (i64, Span)), hi: (&str, (i64, Span)), primary_lo: bool| {
        if lo.1.0 <= hi.1.0 {
            return;
        }
        let (p, s) = if primary_lo { (lo, hi) } else { (hi, lo) };
        out.push(
            Diagnostic::error("values/dynamic-allocation", format!("`dynamicAllocation.{}: {}` is greater than `dynamicAllocation.{}: {}`", lo.0, lo.1.0, hi.0, hi.1.0))
                .at(p.1.1, format!("`{}`", p.0))
                .also(s.1.1, format!("`{}`", s.0))
                .note("Spark requires minExecutors <= initialExecutors <= maxExecutors and fails the driver at start otherwise")
                .help("make minExecutors <= initialExecutors <= maxExecutors"),
        );
    };
    if let (Some(min), Some(max)) = (min, max) {
        bad(("minExecutors", min), ("maxExecutors", max), true);
    }
    if let (Some(min), Some(initial)) = (min, initial) {
        bad(("minExecutors", min), ("initialExecutors", initial), false);
    }
    if let (Some(initial), Some(max)) = (initial, max) {
        bad(("initialExecutors", initial), ("maxExecutors", max), true);
    }
}

fn pod_template_version(values: &Node, out: &mut Vec<Diagnostic>) {
    let Some((version_at, version)) = keys::spark_version(values) else {
        return;
    };
    let Some(text) = keys::scalar_text(version) else {
        return;
    };
    if keys::at_least_3(&text) {
        return;
    }
    for template in keys::POD_TEMPLATES {
        if keys::set(values, template).is_none() {
            continue;
        }
        let why = if keys::semver(&text).is_none() {
            format!(
                "`{text}` is not a semantic version, which the operator takes as older than 3.0.0"
            )
        } else {
            format!("Spark {text} is older than 3.0.0")
        };
        out.push(
            Diagnostic::error("values/pod-template-version", format!("`{}` needs Spark 3.0 or later, and the stream runs `{}: {text}`", keys::dotted(template), keys::dotted(version_at)))
                .at(version.span, "older than 3.0.0")
                .also(keys::key_span(values, template).unwrap_or(version.span), "pod template")
                .note(format!("spark-operator's webhook rejects a SparkApplication with a pod template unless its sparkVersion is 3.0.0 or later: {why}"))
                .help("upgrade to Spark 3, or remove the pod template"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::yaml;

    fn codes(text: &str) -> Vec<(&'static str, String)> {
        let values = yaml::parse(FileId(0), text).expect("valid YAML");
        preflight(&values, Span::file_start(FileId(0)))
            .into_iter()
            .map(|d| (d.code, d.message))
            .collect()
    }

    const BASE: &str = "spark: {version: \"3.5.1\", image: r/i:1}\napplicationFile: local:///a.jar\nmainClass: x.Y\n";

    #[test]
    fn a_complete_stream_needs_nothing() {
        assert_eq!(codes(BASE), vec![]);
        assert_eq!(
            codes(
                "sparkVersion: \"3.5.1\"\nimage: r/i:1\nmainApplicationFile: local:///a.jar\ntype: Python\n"
            ),
            vec![]
        );
    }

    #[test]
    fn each_requirement() {
        let found = codes("type: Java\n");
        let messages: Vec<&str> = found.iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(
            messages,
            [
                "no Spark version is set",
                "no container image is set",
                "no application file is set",
                "no main class is set"
            ]
        );
        assert!(found.iter().all(|(c, _)| *c == "values/required"));
        // The image of both roles will do; `image` as a mapping needs its repository.
        assert_eq!(
            codes(
                "sparkVersion: \"3.5.1\"\nmainApplicationFile: x\ntype: Python\ndriver: {image: a}\nexecutor: {image: b}\n"
            ),
            vec![]
        );
        assert_eq!(
            codes("sparkVersion: \"3.5.1\"\nmainApplicationFile: x\ntype: Python\nimage: {tag: \"1\"}\n").len(),
            1
        );
    }

    fn only(text: &str) -> Vec<String> {
        codes(&format!("{BASE}{text}"))
            .into_iter()
            .map(|(c, m)| format!("{c}: {m}"))
            .collect()
    }

    #[test]
    fn tolerations_as_kubernetes_validates_them() {
        let t = |items: &str| only(&format!("tolerations:\n{items}"));
        assert_eq!(
            t(
                "  - {key: k, operator: Exists, effect: NoExecute, tolerationSeconds: 5}\n  - {operator: Exists}\n  - {key: k, value: v}\n"
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            t("  - {key: k, operator: In, value: v}\n"),
            ["values/toleration: `tolerations[0]`: `operator: In` is not an operator"]
        );
        assert_eq!(
            t("  - {key: k, operator: Equal, value: v, effect: NoRun}\n"),
            ["values/toleration: `tolerations[0]`: `effect: NoRun` is not a taint effect"]
        );
        assert_eq!(
            t("  - {operator: Equal, value: v}\n"),
            ["values/toleration: `tolerations[0]`: no `key` with operator `Equal`"]
        );
        assert_eq!(
            t("  - {key: k, value: \"a b\"}\n"),
            ["values/toleration: `tolerations[0]`: `value: a b` is not a valid taint value"]
        );
        assert_eq!(
            t("  - {key: k, operator: Exists, tolerationSeconds: 5, effect: NoSchedule}\n"),
            ["values/toleration: `tolerations[0]`: `tolerationSeconds` with `effect: NoSchedule`"]
        );
        assert_eq!(
            only("driver:\n  tolerations: [{key: \"a b\", operator: Exists}]\n"),
            ["values/toleration: `driver.tolerations[0]`: `key: a b` is not a valid taint key"]
        );
    }

    #[test]
    fn labels_and_annotations() {
        // Kubernetes checks annotation keys in lower case.
        assert_eq!(
            only("annotations: {Example.com/Owner: x, note: \"free text, any length\"}\n"),
            Vec::<String>::new()
        );
        assert_eq!(only("labels: {Example.com/team: x}\n").len(), 1);
        assert_eq!(
            only("labels: {team: 4.10, on: true}\n"),
            Vec::<String>::new()
        );
        let big = "x".repeat(keys::MAX_ANNOTATIONS_BYTES);
        assert_eq!(
            only(&format!("driver:\n  annotations: {{big: {big}}}\n")),
            [format!(
                "values/label: the annotations in `driver.annotations` take {} bytes, more than Kubernetes' 256 KiB",
                big.len() + 3
            )]
        );
    }

    #[test]
    fn the_spark_container_of_a_template_needs_no_image() {
        let containers = "podTemplate:\n  driver:\n    spec:\n      containers: [{name: logger, image: l:1}, {name: spark}]\n";
        assert_eq!(
            only(containers),
            [
                "values/container-image: the container `podTemplate.driver.spec.containers[1]` (`spark`) has no image"
            ]
        );
        assert_eq!(
            only(&format!(
                "{containers}sparkConf: {{spark.kubernetes.driver.podTemplateContainerName: spark}}\n"
            )),
            Vec::<String>::new()
        );
        assert_eq!(
            only("executor:\n  sidecars: [{name: s, image: \"\"}]\n").len(),
            1
        );
    }

    #[test]
    fn dynamic_allocation_bounds() {
        let da = |body: &str| only(&format!("dynamicAllocation: {{{body}}}\n"));
        assert_eq!(
            da("enabled: true, minExecutors: 1, initialExecutors: 1, maxExecutors: 1"),
            Vec::<String>::new()
        );
        assert_eq!(
            da("enabled: true, minExecutors: 2, initialExecutors: 1"),
            [
                "values/dynamic-allocation: `dynamicAllocation.minExecutors: 2` is greater than `dynamicAllocation.initialExecutors: 1`"
            ]
        );
        assert_eq!(
            da("enabled: true, initialExecutors: 9, maxExecutors: 4"),
            [
                "values/dynamic-allocation: `dynamicAllocation.initialExecutors: 9` is greater than `dynamicAllocation.maxExecutors: 4`"
            ]
        );
        // Nothing fails while it is off.
        assert_eq!(
            da("enabled: false, minExecutors: 5, maxExecutors: 2"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn pod_templates_and_versions() {
        let with = |version: &str| {
            codes(&format!("spark: {{version: \"{version}\", image: r/i:1}}\napplicationFile: a\nmainClass: x\ndriver: {{template: {{spec: {{}}}}}}\n"))
                .into_iter()
                .map(|(c, _)| c)
                .collect::<Vec<_>>()
        };
        assert_eq!(with("3.0.0"), Vec::<&str>::new());
        assert_eq!(with("2.4.8"), ["values/pod-template-version"]);
        assert_eq!(with("3.0.0-rc1"), ["values/pod-template-version"]);
        assert_eq!(with("3.5.1.2"), ["values/pod-template-version"]);
        // A null template is no template.
        assert_eq!(
            codes(
                "spark: {version: \"2.4.8\", image: r/i:1}\napplicationFile: a\nmainClass: x\npodTemplate: {driver: null}\n"
            ),
            vec![]
        );
    }

    #[test]
    fn conflicts_need_both_keys() {
        // `image` as a mapping is sluice's own form, not the CRD's string.
        assert_eq!(only("image: {repository: r/j}\n"), Vec::<String>::new());
        assert_eq!(
            only("image: r/j:2\n"),
            ["values/conflicting-keys: `image` and `spark.image` set the same field"]
        );
        assert_eq!(
            only("restartPolicy: OnFailure\nmaxRetries: 3\n"),
            Vec::<String>::new()
        );
        assert_eq!(
            only(
                "retryInterval: 10\nrestartPolicy: {type: OnFailure, onFailureRetryInterval: 20}\n"
            ),
            [
                "values/conflicting-keys: `restartPolicy.onFailureRetryInterval` and `retryInterval` set the same field"
            ]
        );
    }

    #[test]
    fn the_schemas_root_required_gives_way() {
        let anchor = Span::file_start(FileId(0));
        let schema = vec![
            Diagnostic::error("values/required", "`spark` is required")
                .at(anchor, "for this stream"),
            Diagnostic::error("values/enum", "bad operator").at(Span::new(FileId(0), 5..7), "x"),
            Diagnostic::error("values/unknown-key", "unknown").at(Span::new(FileId(0), 9..11), "x"),
        ];
        let pre = vec![
            Diagnostic::error("values/required", "no Spark version is set")
                .at(anchor, "for this stream"),
            Diagnostic::error("values/toleration", "same place as the enum")
                .at(Span::new(FileId(0), 5..7), "x"),
            Diagnostic::error("values/conflicting-keys", "same place as the unknown key")
                .at(Span::new(FileId(0), 9..11), "x"),
        ];
        let kept: Vec<&str> = schema_and_preflight(schema, pre, anchor)
            .iter()
            .map(|d| d.code)
            .collect();
        assert_eq!(
            kept,
            [
                "values/enum",
                "values/unknown-key",
                "values/required",
                "values/conflicting-keys"
            ]
        );
    }
}
