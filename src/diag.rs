//! Findings about the user's input, as data (pure).
//!
//! A [`Diagnostic`] is what sluice found in a values file, a rendered
//! manifest or a flag: a stable code, a severity, a message, where, and what
//! to do about it. Reporters in `report/` turn the same list into human,
//! JSON, JUnit or GitLab Code Quality output. Failures of the tool itself
//! (an unreadable directory, a broken pipe) are errors, not diagnostics.

use crate::source::{Sources, Span};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// A span with the text shown under its caret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// A stream in an environment that a finding applies to (for JUnit's
/// one-test-case-per-stream-and-environment view).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Subject {
    pub stream: String,
    pub environment: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub primary: Option<Label>,
    pub secondary: Vec<Label>,
    pub notes: Vec<String>,
    pub help: Option<String>,
    pub subjects: Vec<Subject>,
}

impl Diagnostic {
    pub fn new(code: &'static str, severity: Severity, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            notes: Vec::new(),
            help: None,
            subjects: Vec::new(),
        }
    }

    pub fn error(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(code, Severity::Error, message)
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(code, Severity::Warning, message)
    }

    pub fn info(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(code, Severity::Info, message)
    }

    pub fn at(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.primary = Some(Label {
            span,
            message: label.into(),
        });
        self
    }

    pub fn also(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label {
            span,
            message: label.into(),
        });
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn subject(mut self, stream: &str, environment: &str) -> Diagnostic {
        self.subjects.push(Subject {
            stream: stream.to_owned(),
            environment: environment.to_owned(),
        });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The diagnostic with every credential masked in its message, labels,
    /// notes and help (see [`Sources::mask`]): what every report shows.
    pub fn redacted(mut self, sources: &Sources) -> Diagnostic {
        let mask = |text: &mut String| {
            if let std::borrow::Cow::Owned(masked) = sources.mask(text) {
                *text = masked;
            }
        };
        mask(&mut self.message);
        for label in self.primary.iter_mut().chain(self.secondary.iter_mut()) {
            mask(&mut label.message);
        }
        self.notes.iter_mut().for_each(mask);
        if let Some(help) = &mut self.help {
            mask(help);
        }
        self
    }
}

/// Every diagnostic code sluice emits, with its default severity and a
/// one-line summary. The README's table is checked against this list.
pub const CODES: &[(&str, Severity, &str)] = &[
    ("yaml/syntax", Severity::Error, "the file is not valid YAML"),
    (
        "yaml/duplicate-key",
        Severity::Error,
        "a mapping sets the same key twice",
    ),
    (
        "yaml/not-a-mapping",
        Severity::Error,
        "a values file must be a mapping at the top level",
    ),
    (
        "yaml/multiple-documents",
        Severity::Error,
        "a values file holds exactly one YAML document",
    ),
    (
        "yaml/not-utf8",
        Severity::Error,
        "the file is not UTF-8 text",
    ),
    (
        "yaml/too-complex",
        Severity::Error,
        "nesting, node count, key length or alias expansion exceeds sluice's limits",
    ),
    (
        "repo/outside-root",
        Severity::Error,
        "a file or symlink resolves outside the repository",
    ),
    (
        "repo/unreadable",
        Severity::Error,
        "a file could not be read (not a regular file, too large, a symlink loop)",
    ),
    (
        "repo/conflicting-files",
        Severity::Error,
        "two files define the same environment or common values (`.yaml` and `.yml`)",
    ),
    (
        "repo/shared-namespace",
        Severity::Error,
        "two environments deploy into the same namespace of the same cluster",
    ),
    (
        "repo/no-environments",
        Severity::Error,
        "values/environments/ holds no environment file",
    ),
    (
        "repo/invalid-file-name",
        Severity::Error,
        "an environment or stream file name is not a valid name",
    ),
    (
        "values/unknown-key",
        Severity::Error,
        "a key the schema does not know (typo?)",
    ),
    ("values/type", Severity::Error, "a value has the wrong type"),
    (
        "values/enum",
        Severity::Error,
        "a value is not one of the allowed values",
    ),
    (
        "values/format",
        Severity::Error,
        "a value does not match the required format (memory size, name, URI)",
    ),
    (
        "values/range",
        Severity::Error,
        "a number or list is out of the allowed range",
    ),
    (
        "values/required",
        Severity::Error,
        "a required key is missing",
    ),
    (
        "values/invalid",
        Severity::Error,
        "any other schema violation",
    ),
    (
        "values/inexact-number",
        Severity::Error,
        "a number where text is wanted, whose written text cannot be kept",
    ),
    (
        "values/stream-name",
        Severity::Error,
        "a stream name is not a DNS-1035 label of at most 63 characters",
    ),
    (
        "values/duplicate-stream",
        Severity::Error,
        "a stream is defined twice for the same environment",
    ),
    (
        "values/unknown-environment",
        Severity::Error,
        "a stream overrides an environment that has no file, or `promotion.order` names one",
    ),
    (
        "flink/version-missing",
        Severity::Error,
        "a rendered FlinkDeployment has no `spec.flinkVersion`",
    ),
    (
        "flink/memory-missing",
        Severity::Error,
        "a rendered FlinkDeployment's JobManager or TaskManager has no memory",
    ),
    (
        "flink/memory-format",
        Severity::Error,
        "a FlinkDeployment memory is neither a Flink size (2048m) nor a Kubernetes quantity (2Gi)",
    ),
    (
        "flink/parallelism",
        Severity::Error,
        "a FlinkDeployment job's parallelism is below 1 or unset without taskManager.replicas",
    ),
    (
        "flink/replicas",
        Severity::Error,
        "a FlinkDeployment's JobManager or TaskManager has fewer than 1 replica",
    ),
    (
        "flink/checkpoint-dir",
        Severity::Error,
        "upgradeMode savepoint or last-state without `state.checkpoints.dir`",
    ),
    (
        "flink/savepoint-dir",
        Severity::Error,
        "savepoints (upgradeMode, trigger nonce, periodic) without `state.savepoints.dir`",
    ),
    (
        "flink/ha-required",
        Severity::Error,
        "several JobManager replicas, or rollbacks, without high availability",
    ),
    (
        "flink/forbidden-key",
        Severity::Error,
        "flinkConfiguration sets kubernetes.namespace, kubernetes.cluster-id or high-availability.cluster-id",
    ),
    (
        "flink/stateless-protected",
        Severity::Error,
        "a protected environment's FlinkDeployment upgrades statelessly (every upgrade drops the job's state)",
    ),
    (
        "values/unordered-environment",
        Severity::Warning,
        "an environment `promotion.order` does not list (it comes after those it lists)",
    ),
    (
        "values/no-streams",
        Severity::Warning,
        "an environment deploys no stream",
    ),
    (
        "values/unknown-canary",
        Severity::Error,
        "an environment's rollout.canary names no stream of the environment",
    ),
    (
        "values/literal-secret",
        Severity::Error,
        "a credential-looking key holds a literal value",
    ),
    (
        "values/conflicting-keys",
        Severity::Error,
        "a sluice key and the SparkApplication or FlinkDeployment field it fills are both set",
    ),
    (
        "values/other-engine-key",
        Severity::Error,
        "a stream's own file sets a key of the engine it does not run on",
    ),
    (
        "values/label",
        Severity::Error,
        "a label or annotation key or value Kubernetes rejects",
    ),
    (
        "values/env-name",
        Severity::Error,
        "an environment variable name Kubernetes rejects",
    ),
    (
        "values/service-account",
        Severity::Error,
        "a service account name that is not a DNS-1123 subdomain",
    ),
    (
        "values/toleration",
        Severity::Error,
        "a toleration Kubernetes rejects",
    ),
    (
        "values/container-image",
        Severity::Error,
        "a sidecar, init container or pod template container without an image",
    ),
    (
        "values/dynamic-allocation",
        Severity::Error,
        "dynamic allocation bounds out of order (min <= initial <= max)",
    ),
    (
        "values/pod-template-version",
        Severity::Error,
        "a pod template with a Spark version before 3.0",
    ),
    (
        "values/local-dirs",
        Severity::Error,
        "a `localDirs` key its type ignores",
    ),
    (
        "render/template",
        Severity::Error,
        "a template does not compile or fails to render (with the template line)",
    ),
    (
        "render/invalid-output",
        Severity::Error,
        "a template rendered text that is not YAML mappings",
    ),
    (
        "render/file-name",
        Severity::Error,
        "a rendered object's kind or name is not a plain file name for --output-dir",
    ),
    (
        "render/file-collision",
        Severity::Error,
        "two rendered objects would be written to one file of --output-dir",
    ),
    (
        "manifest/missing-field",
        Severity::Error,
        "a rendered object lacks apiVersion, kind, metadata.name or metadata.namespace",
    ),
    (
        "manifest/wrong-namespace",
        Severity::Error,
        "a rendered object is not in its environment's namespace",
    ),
    (
        "manifest/kind-not-allowed",
        Severity::Error,
        "a rendered object is of a kind the environment does not allow (RBAC and cluster-scoped kinds never)",
    ),
    (
        "values/kind-not-allowed",
        Severity::Error,
        "an environment's allowedKinds lists a kind that can never be allowed",
    ),
    (
        "manifest/invalid-name",
        Severity::Error,
        "a rendered object's name breaks Kubernetes' naming rules",
    ),
    (
        "manifest/duplicate",
        Severity::Error,
        "two rendered objects have the same kind and name",
    ),
    (
        "manifest/schema",
        Severity::Error,
        "a rendered object fails its kind's schema (built-in, schemas/crds/ or --crd)",
    ),
    (
        "manifest/unchecked-kind",
        Severity::Warning,
        "a rendered object's kind has no schema (built-in, schemas/crds/ or --crd), so it was not checked",
    ),
    (
        "rule/restart-never",
        Severity::Warning,
        "a stream with restart policy Never",
    ),
    (
        "rule/on-failure-retries",
        Severity::Warning,
        "OnFailure with a small retry count",
    ),
    (
        "rule/memory-overhead",
        Severity::Warning,
        "memoryOverhead below Spark's own minimum",
    ),
    (
        "rule/core-request",
        Severity::Info,
        "cores that fill a node, without a coreRequest",
    ),
    ("rule/no-core-limit", Severity::Info, "no coreLimit"),
    (
        "rule/shuffle-tracking",
        Severity::Error,
        "dynamic allocation without shuffle tracking",
    ),
    (
        "rule/shared-checkpoint",
        Severity::Error,
        "two streams with the same checkpoint location",
    ),
    (
        "rule/shared-sink",
        Severity::Warning,
        "two streams writing to the same sink",
    ),
    (
        "rule/mutable-image",
        Severity::Error,
        "`latest` or no image tag in a protected environment",
    ),
    (
        "rule/local-application-file",
        Severity::Error,
        "an application file on the submitting machine",
    ),
    (
        "rule/forbidden-spark-conf",
        Severity::Error,
        "a sparkConf key spark-operator v2.5 rejects",
    ),
    (
        "rule/gang-scheduling",
        Severity::Info,
        "many executors without a batch scheduler",
    ),
    (
        "rule/tmpfs-headroom",
        Severity::Warning,
        "tmpfs local dirs without memory headroom",
    ),
    (
        "schema/invalid",
        Severity::Error,
        "the repository's own values schema does not compile",
    ),
    (
        "schema/invalid-crd",
        Severity::Error,
        "a file in schemas/crds/ is not a usable CRD, or defines a kind another one does",
    ),
    ("set/syntax", Severity::Error, "a --set flag is malformed"),
    (
        "set/conflict",
        Severity::Error,
        "a --set path goes through a value of another kind",
    ),
    (
        "set/ignored-key",
        Severity::Error,
        "a --set flag sets a key the values never reach",
    ),
    (
        "set/file",
        Severity::Error,
        "a --set-file file cannot be read",
    ),
];

/// Most characters of the user's text (a key, a path) a message quotes.
pub const QUOTE_CHARS: usize = 80;

/// The user's text as a message quotes it: whole up to [`QUOTE_CHARS`]
/// characters, else its start and its length, so that a megabyte key
/// makes a one-line message (the snippet still points at all of it).
pub fn quote(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(QUOTE_CHARS) {
        None => std::borrow::Cow::Borrowed(text),
        Some((cut, _)) => std::borrow::Cow::Owned(format!(
            "{}… ({} characters)",
            &text[..cut],
            text.chars().count()
        )),
    }
}

/// How notes about overridden values start (see `normalize`).
pub const OVERRIDES_NOTE: &str = "this value overrides";

/// Sorts findings by file, line and code, and merges findings that point at
/// the same place with the same message (a typo in `common.yaml` is one
/// finding, not one per stream), keeping every stream/environment it affects.
/// Credentials are masked in every finding's text first.
pub fn normalize(diagnostics: Vec<Diagnostic>, sources: &Sources) -> Vec<Diagnostic> {
    let mut diagnostics: Vec<Diagnostic> = diagnostics
        .into_iter()
        .map(|d| d.redacted(sources))
        .collect();
    let key = |d: &Diagnostic| {
        let (path, offset) = d.primary.as_ref().map_or((String::new(), 0), |l| {
            (sources.path(l.span.file).to_owned(), l.span.start)
        });
        (path, offset, d.code, d.message.clone())
    };
    diagnostics.sort_by_cached_key(key);
    let mut merged: Vec<(Diagnostic, bool)> = Vec::with_capacity(diagnostics.len());
    for d in diagnostics {
        match merged.last_mut() {
            Some((last, varied))
                if last.code == d.code
                    && last.message == d.message
                    && last.primary == d.primary =>
            {
                // One value (say a --set flag) can override different values
                // in different streams: then no single "overrides" is right.
                // A finding without context (from checking a file on its
                // own) takes the context of its twin from the merged values.
                if last.secondary.is_empty() && !d.secondary.is_empty() && !*varied {
                    last.secondary = d.secondary;
                    last.notes = d.notes;
                } else if !d.secondary.is_empty() && last.secondary != d.secondary {
                    *varied = true;
                }
                last.subjects.extend(d.subjects);
            }
            _ => merged.push((d, false)),
        }
    }
    let merged: Vec<Diagnostic> = merged
        .into_iter()
        .map(|(mut d, varied)| {
            d.subjects.sort();
            d.subjects.dedup();
            if varied {
                d.secondary.clear();
                d.notes.retain(|n| !n.starts_with(OVERRIDES_NOTE));
                d.notes.insert(
                    0,
                    format!(
                        "{OVERRIDES_NOTE} different values in different streams and environments"
                    ),
                );
            }
            d
        })
        .collect();
    across_streams(merged)
}

/// Findings about rendered output (a template mistake, a schema the
/// templates break) repeat for every stream they touch: one finding per
/// code and message, pointing at the first stream and naming the others.
fn across_streams(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let per_stream =
        |d: &Diagnostic| d.code.starts_with("manifest/") || d.code.starts_with("render/");
    let mut out: Vec<Diagnostic> = Vec::with_capacity(diagnostics.len());
    let mut index: std::collections::HashMap<(&'static str, String), usize> =
        std::collections::HashMap::new();
    for d in diagnostics {
        if !per_stream(&d) {
            out.push(d);
            continue;
        }
        match index.get(&(d.code, d.message.clone())) {
            Some(&i) => out[i].subjects.extend(d.subjects),
            None => {
                index.insert((d.code, d.message.clone()), out.len());
                out.push(d);
            }
        }
    }
    for d in out.iter_mut().filter(|d| per_stream(d)) {
        d.subjects.sort();
        d.subjects.dedup();
        let streams: std::collections::BTreeSet<&str> =
            d.subjects.iter().map(|s| s.stream.as_str()).collect();
        if streams.len() > 1 {
            let shown: Vec<&str> = streams.iter().take(8).copied().collect();
            let more = streams.len().saturating_sub(shown.len());
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            d.notes.insert(
                0,
                format!("in {} streams: {}{more}", streams.len(), shown.join(", ")),
            );
        }
    }
    out
}

/// Counts by severity, for summaries and exit codes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
}

impl Counts {
    pub fn of(diagnostics: &[Diagnostic]) -> Counts {
        let mut counts = Counts::default();
        for d in diagnostics {
            match d.severity {
                Severity::Error => counts.errors += 1,
                Severity::Warning => counts.warnings += 1,
                Severity::Info => counts.infos += 1,
            }
        }
        counts
    }
}
