//! Spark-on-Kubernetes rules (pure): what the schema cannot say about a
//! stream's merged values, from how spark-operator and Spark on Kubernetes
//! actually behave. Each rule has a stable code, a default severity, a
//! README entry and a fixture; a stream can switch a rule off with
//! `lint: {ignore: [code]}`.

use crate::diag::Diagnostic;
use crate::source::Span;
use crate::spark::derive;
use crate::values::effective::Effective;
use crate::values::yaml::{Node, Value};

/// The rules, for the README table and for `lint.ignore`.
pub const RULES: &[&str] = &[
    "rule/restart-never",
    "rule/on-failure-retries",
    "rule/memory-overhead",
    "rule/core-request",
    "rule/no-core-limit",
    "rule/shuffle-tracking",
    "rule/shared-checkpoint",
    "rule/shared-sink",
    "rule/mutable-image",
    "rule/local-application-file",
    "rule/forbidden-spark-conf",
    "rule/gang-scheduling",
    "rule/tmpfs-headroom",
];

/// The sparkConf keys spark-operator's webhook denies, with its reasons:
/// `deniedSparkConfKeys` in internal/webhook/sparkconf_validator.go of
/// kubeflow/spark-operator v2.5.2 (commit
/// 43afb8bbd32463037d8fb6e414e252c69081882b), the key names resolved from
/// pkg/common/spark.go. Besides these, `spark.kubernetes.namespace` is
/// denied unless it equals the application's namespace.
pub const DENIED_SPARK_CONF: &[(&str, &str)] = &[
    (
        "spark.kubernetes.authenticate.driver.serviceAccountName",
        "configure the service account via the CRD spec instead",
    ),
    (
        "spark.kubernetes.authenticate.executor.serviceAccountName",
        "configure the service account via the CRD spec instead",
    ),
    (
        "spark.kubernetes.authenticate.oauthTokenFile",
        "authentication credentials are managed by the operator",
    ),
    (
        "spark.kubernetes.authenticate.oauthToken",
        "authentication credentials are managed by the operator",
    ),
    (
        "spark.kubernetes.authenticate.driver.oauthTokenFile",
        "authentication credentials are managed by the operator",
    ),
    (
        "spark.kubernetes.authenticate.driver.oauthToken",
        "authentication credentials are managed by the operator",
    ),
    (
        "spark.kubernetes.authenticate.executor.oauthTokenFile",
        "authentication credentials are managed by the operator",
    ),
    (
        "spark.kubernetes.authenticate.executor.oauthToken",
        "authentication credentials are managed by the operator",
    ),
    ("spark.master", "this value is managed by the operator"),
    (
        "spark.kubernetes.driver.master",
        "this value is managed by the operator",
    ),
    (
        "spark.kubernetes.container.image",
        "use the image field on the CRD instead",
    ),
    (
        "spark.kubernetes.driver.container.image",
        "use the image field on the CRD instead",
    ),
    (
        "spark.kubernetes.executor.container.image",
        "use the image field on the CRD instead",
    ),
];

/// Which values key does what a denied conf tried to.
fn denied_hint(key: &str) -> &'static str {
    if key.ends_with("serviceAccountName") {
        ": set `driver.serviceAccount` / `executor.serviceAccount`"
    } else if key.ends_with("container.image") {
        ": set `spark.image` (or `image`, or `driver.image` / `executor.image`)"
    } else {
        ""
    }
}

/// Why the operator's webhook denies `key: value` in sparkConf, if it does
/// (`namespace` is the environment's).
pub fn denied_spark_conf(key: &str, value: &str, namespace: Option<&str>) -> Option<String> {
    if let Some((_, why)) = DENIED_SPARK_CONF.iter().find(|(k, _)| *k == key) {
        return Some(format!("{why}{}", denied_hint(key)));
    }
    (key == "spark.kubernetes.namespace" && namespace != Some(value)).then(|| {
        format!(
            "it must equal the application's namespace, which is the environment's: `{}`",
            namespace.unwrap_or("?")
        )
    })
}

/// Below this, an OnFailure stream runs out of retries in days.
pub const MIN_ON_FAILURE_RETRIES: i64 = 10;
/// From this many executors on, a partial start is likely on a busy cluster.
pub const MANY_EXECUTORS: i64 = 10;

/// What a stream contributes to the rules that look across streams.
#[derive(Clone, Debug)]
pub struct Facts {
    pub stream: String,
    pub environment: String,
    pub checkpoint: Option<(String, Span)>,
    pub sink: Option<(String, Span)>,
    pub ignore: Vec<String>,
}

fn span_of(values: &Node, pointer: &str, fallback: Span) -> Span {
    let walk = values.walk(pointer);
    if walk.complete {
        walk.caret()
    } else {
        fallback
    }
}

fn int(node: Option<&Node>) -> Option<i64> {
    match node.map(|n| &n.value) {
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    }
}

/// A Spark memory string in MiB (no unit means MiB, as Spark reads it).
pub fn mebibytes(text: &str) -> Option<f64> {
    let t = text.trim().to_ascii_lowercase();
    let t = t
        .strip_suffix('b')
        .filter(|r| r.ends_with(['k', 'm', 'g', 't', 'p']))
        .unwrap_or(&t);
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: f64 = digits.parse().ok()?;
    Some(match unit {
        "" | "m" => n,
        "k" => n / 1024.0,
        "g" => n * 1024.0,
        "t" => n * 1024.0 * 1024.0,
        "p" => n * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    })
}

fn show_mib(mib: f64) -> String {
    if mib >= 1024.0 && (mib / 1024.0).fract() == 0.0 {
        format!("{}g", mib / 1024.0)
    } else {
        format!("{}m", mib.ceil())
    }
}

/// The rules about one stream in one environment.
pub fn check_stream(e: &Effective<'_>) -> (Vec<Diagnostic>, Facts) {
    // A Flink stream: the Spark rules do not apply (the operator's
    // validator's do, on the rendered object), nor does the
    // shared-checkpoint check: Flink writes each job's checkpoints under
    // its job ID, so one `state.checkpoints.dir` for every stream is normal.
    match e.engine {
        crate::engine::Engine::Flink => return (Vec::new(), facts_of(e, None)),
        crate::engine::Engine::Spark => {}
    }
    let v = &e.values;
    let anchor = e.def.name_span;
    let json = &e.json;
    let mut out = Vec::new();

    // Restart policy.
    let policy = derive::restart_policy(json);
    let policy_type = policy
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("Always");
    let policy_span = span_of(v, "/restartPolicy", anchor);
    if policy_type == "Never" {
        out.push(
            Diagnostic::warning("rule/restart-never", "restart policy `Never`: the stream stays down after its first failure")
                .at(policy_span, "set here")
                .note("a streaming query is meant to run forever; with `Never` the operator leaves the application FAILED after any crash")
                .help("use `restartPolicy: Always`"),
        );
    }
    if policy_type == "OnFailure" {
        let retries = policy.get("onFailureRetries").and_then(|r| r.as_i64());
        if retries.is_none_or(|r| r < MIN_ON_FAILURE_RETRIES) {
            let count = retries.map_or("no retry count".to_owned(), |r| format!("{r} retries"));
            out.push(
                Diagnostic::warning("rule/on-failure-retries", format!("`OnFailure` with {count}: a long-running stream will run out of them"))
                    .at(span_of(v, "/maxRetries", policy_span), "set here")
                    .note("spark-operator resets its failure counter only when the spec changes, so retries used up over weeks are never given back, and the stream ends FAILED")
                    .help("use `restartPolicy: Always` for streams"),
            );
        }
    }

    // Memory overhead.
    let python = matches!(v.get("type").and_then(Node::as_str), Some("Python" | "R"));
    for role in ["driver", "executor"] {
        let memory = v
            .get(role)
            .and_then(|r| r.get("memory"))
            .and_then(Node::as_str)
            .and_then(mebibytes);
        let overhead_node = v.get(role).and_then(|r| r.get("memoryOverhead"));
        let overhead = overhead_node.and_then(Node::as_str).and_then(mebibytes);
        if let (Some(memory), Some(overhead), Some(node)) = (memory, overhead, overhead_node) {
            let factor = if python { 0.4 } else { 0.1 };
            let needed = (memory * factor).max(384.0);
            if overhead < needed {
                out.push(
                    Diagnostic::warning(
                        "rule/memory-overhead",
                        format!("`{role}.memoryOverhead` is below the {}: {} < {}", if python { "40% (Python) or 384m minimum" } else { "10% or 384m minimum" }, show_mib(overhead), show_mib(needed)),
                    )
                    .at(node.span, "too small")
                    .note("off-heap memory (netty buffers, RocksDB state, Python workers) lives in the overhead; below this the kernel kills the pod with OOMKilled")
                    .help(format!("set `{role}.memoryOverhead: {}` or more", show_mib(needed))),
                );
            }
        }
    }

    // CPU requests and limits.
    let node_cpu: Option<f64> = e
        .environment
        .root
        .get("nodeSize")
        .and_then(|n| n.get("cpu"))
        .and_then(|c| match &c.value {
            Value::Number(n) => n.as_f64(),
            _ => None,
        });
    for role in ["driver", "executor"] {
        let r = v.get(role);
        let cores = int(r.and_then(|r| r.get("cores")));
        let role_span = v.entry(role).map_or(anchor, |en| en.key_span);
        if let (Some(cores), Some(node_cpu)) = (cores, node_cpu)
            && r.and_then(|r| r.get("coreRequest")).is_none()
            && cores as f64 >= node_cpu
        {
            let request = (node_cpu * 850.0).floor() as i64;
            out.push(
                    Diagnostic::info("rule/core-request", format!("`{role}.cores: {cores}` asks for a whole {node_cpu}-CPU node, which never has that much free"))
                        .at(span_of(v, &format!("/{role}/cores"), role_span), "requests this many CPUs")
                        .note("without coreRequest the pod requests `cores` CPUs; system pods and daemon sets take part of every node, so the pod waits Pending")
                        .help(format!("set `{role}.coreRequest: {request}m` (about 85% of the node) and keep `cores: {cores}` for Spark's task slots")),
                );
        }
        if cores.is_some() && r.and_then(|r| r.get("coreLimit")).is_none() {
            out.push(
                Diagnostic::info("rule/no-core-limit", format!("`{role}` has no `coreLimit`"))
                    .at(role_span, "no coreLimit")
                    .note("without a limit the pod may burst onto idle CPUs and run slower when neighbours are busy: request == limit gives predictable batch times")
                    .help(format!("set `{role}.coreLimit` to the CPUs it requests")),
            );
        }
    }

    // Dynamic allocation needs shuffle tracking on Kubernetes.
    if let Some(da) = v.get("dynamicAllocation") {
        let enabled = matches!(da.get("enabled").map(|n| &n.value), Some(Value::Bool(true)));
        let tracking_off = matches!(
            da.get("shuffleTrackingEnabled").map(|n| &n.value),
            Some(Value::Bool(false))
        );
        let conf_off = v
            .get("sparkConf")
            .and_then(|c| c.get("spark.dynamicAllocation.shuffleTracking.enabled"))
            .is_some_and(|n| derive::text(&n.to_json()) == "false");
        if enabled && (tracking_off || conf_off) {
            out.push(
                Diagnostic::error("rule/shuffle-tracking", "dynamic allocation without shuffle tracking")
                    .at(span_of(v, "/dynamicAllocation/shuffleTrackingEnabled", span_of(v, "/dynamicAllocation", anchor)), "turned off here")
                    .note("Kubernetes has no external shuffle service: without shuffle tracking, removing an executor loses its shuffle files and fails stages")
                    .help("remove `shuffleTrackingEnabled: false` (sluice turns it on), or disable dynamic allocation"),
            );
        }
    }

    // Image tags in protected environments.
    if e.environment.protected
        && let Some(image) = derive::image(json)
    {
        let last = image.rsplit('/').next().unwrap_or(&image);
        let tag = last
            .split_once('@')
            .map(|_| "digest")
            .or_else(|| last.split_once(':').map(|(_, t)| t));
        let problem = match tag {
            None => Some("has no tag, so it means `:latest`"),
            Some("latest") => Some("uses the `latest` tag"),
            _ => None,
        };
        if let Some(problem) = problem {
            let at = if v.walk("/image/repository").complete {
                span_of(v, "/image", anchor)
            } else {
                span_of(v, "/spark/image", anchor)
            };
            out.push(
                    Diagnostic::error("rule/mutable-image", format!("the image `{image}` {problem} in protected environment `{}`", e.environment.name))
                        .at(at, "mutable image reference")
                        .note("a mutable tag changes what runs without a change anyone reviewed, and a restarted executor may pull a different build than the driver")
                        .help("pin a version tag (or a digest) for protected environments"),
                );
        }
    }

    // The application file must be in the image or remote.
    for key in ["applicationFile", "mainApplicationFile"] {
        let Some(file) = v.get(key).and_then(Node::as_str) else {
            continue;
        };
        let scheme = file.split_once("://").map(|(s, _)| s);
        if matches!(scheme, Some("file")) || scheme.is_none() {
            out.push(
                Diagnostic::error("rule/local-application-file", format!("`{key}: {file}` points at the submitting machine"))
                    .at(span_of(v, &format!("/{key}"), anchor), "not reachable from the cluster")
                    .note("spark-operator submits from its own pod: files on the machine that ran sluice, or relative paths, do not exist there")
                    .help("use local:///path (a file inside the image), s3a://, or https://"),
            );
        }
    }

    // sparkConf keys the operator rejects or overrides.
    if let Some(Value::Map(conf)) = v.get("sparkConf").map(|c| &c.value) {
        for entry in conf {
            let key = entry.key.as_str();
            let value = derive::text(&entry.value.to_json());
            let why = denied_spark_conf(key, &value, e.environment.namespace.as_deref());
            if let Some(why) = why {
                out.push(
                    Diagnostic::error(
                        "rule/forbidden-spark-conf",
                        format!("spark-operator v2.5 rejects `sparkConf.{key}`"),
                    )
                    .at(entry.key_span, "rejected by the operator's webhook")
                    .note(why)
                    .help("remove the key"),
                );
            }
        }
    }

    // Gang scheduling for wide streams.
    let executors = int(v.get("executor").and_then(|x| x.get("instances")));
    let max_dynamic = v
        .get("dynamicAllocation")
        .filter(|d| matches!(d.get("enabled").map(|n| &n.value), Some(Value::Bool(true))))
        .and_then(|d| int(d.get("maxExecutors")));
    let widest = executors.into_iter().chain(max_dynamic).max();
    if let Some(n) = widest.filter(|n| *n >= MANY_EXECUTORS)
        && v.get("batchScheduler").is_none()
    {
        out.push(
                Diagnostic::info("rule/gang-scheduling", format!("{n} executors without a batch scheduler"))
                    .at(v.entry("executor").map_or(anchor, |en| en.key_span), "many executors")
                    .note("without gang scheduling a stream can start with part of its executors and hold them while waiting for the rest: two such streams can deadlock a full cluster")
                    .help("set `batchScheduler: volcano` (or yunikorn) if the cluster runs one"),
            );
    }

    // tmpfs local dirs eat into the pod's memory.
    let tmpfs = matches!(
        v.get("localDirs")
            .and_then(|l| l.get("type"))
            .and_then(Node::as_str),
        Some("tmpfs")
    );
    if tmpfs {
        let memory = v
            .get("executor")
            .and_then(|r| r.get("memory"))
            .and_then(Node::as_str)
            .and_then(mebibytes);
        let overhead = v
            .get("executor")
            .and_then(|r| r.get("memoryOverhead"))
            .and_then(Node::as_str)
            .and_then(mebibytes);
        let needed = memory.map_or(1024.0, |m| (m * 0.25).max(1024.0));
        if overhead.is_none_or(|o| o < needed) {
            out.push(
                Diagnostic::warning("rule/tmpfs-headroom", "tmpfs local dirs without memory headroom")
                    .at(span_of(v, "/localDirs/type", anchor), "tmpfs")
                    .note("spill and shuffle files in tmpfs count against the executor pod's memory limit (memory + memoryOverhead): a spill gets the pod OOMKilled")
                    .help(format!("raise `executor.memoryOverhead` to at least {} (25% of memory, 1g minimum), or use `localDirs.type: pvc`", show_mib(needed))),
            );
        }
    }

    let checkpoint = derive::checkpoint(e.name(), json).map(|c| {
        let span = [
            "/sparkConf/spark.sql.streaming.checkpointLocation",
            "/checkpointLocation",
            "/sink",
        ]
        .iter()
        .find(|p| v.walk(p).complete)
        .map_or(anchor, |p| span_of(v, p, anchor));
        (c.trim_end_matches('/').to_owned(), span)
    });
    let facts = facts_of(e, checkpoint);
    (
        out.into_iter()
            .map(|d| d.subject(e.name(), &e.environment.name))
            .collect(),
        facts,
    )
}

/// The rules that compare streams of one environment.
pub fn check_across(facts: &[Facts]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut by_env: std::collections::BTreeMap<&str, Vec<&Facts>> = Default::default();
    for f in facts {
        by_env.entry(&f.environment).or_default().push(f);
    }
    for streams in by_env.values() {
        let mut seen: std::collections::HashMap<&str, &Facts> = Default::default();
        for f in streams {
            let Some((path, span)) = &f.checkpoint else {
                continue;
            };
            let Some(first) = seen.get(path.as_str()) else {
                seen.insert(path, f);
                continue;
            };
            let mut d = Diagnostic::error("rule/shared-checkpoint", format!("streams `{}` and `{}` use the same checkpoint location", first.stream, f.stream))
                .note(format!("both checkpoint to {path}: each overwrites the other's offsets and state, and both resume from the wrong place"))
                .help("give each stream its own `sink` or `checkpointLocation`")
                .at(*span, format!("checkpoint of `{}`", f.stream))
                .subject(&f.stream, &f.environment)
                .subject(&first.stream, &first.environment);
            if let Some((_, s)) = &first.checkpoint {
                d = d.also(*s, format!("checkpoint of `{}`", first.stream));
            }
            out.push(d);
        }
        // One finding per shared sink, naming every stream that sets it.
        let mut sinks: std::collections::BTreeMap<&str, Vec<&Facts>> = Default::default();
        for f in streams {
            if let Some((path, _)) = &f.sink {
                sinks.entry(path).or_default().push(f);
            }
        }
        for (path, sharing) in sinks.into_iter().filter(|(_, s)| s.len() > 1) {
            let names: Vec<String> = sharing.iter().map(|f| format!("`{}`", f.stream)).collect();
            let first = sharing[0];
            let span = first
                .sink
                .as_ref()
                .map(|(_, s)| *s)
                .expect("grouped by sink");
            let mut d = Diagnostic::warning(
                "rule/shared-sink",
                format!("{} streams write to the same sink: {}", sharing.len(), names.join(", ")),
            )
            .note(format!("each sets `sink: {path}` itself; unless they are meant to share a table, one stream's files end up in another's"))
            .help("give each stream its own `sink`, or set the shared root once in common.yaml or the environment file")
            .at(span, format!("sink of `{}`", first.stream));
            for f in &sharing {
                d = d.subject(&f.stream, &f.environment);
            }
            for f in &sharing[1..] {
                if let Some((_, s)) = &f.sink {
                    d = d.also(*s, format!("sink of `{}`", f.stream));
                }
            }
            out.push(d);
        }
    }
    out
}

/// The codes a stream's `lint.ignore` switches off.
pub fn ignored(values: &Node) -> Vec<String> {
    match values
        .get("lint")
        .and_then(|l| l.get("ignore"))
        .map(|n| &n.value)
    {
        Some(Value::Seq(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Drops findings a stream switched off with `lint.ignore`. Only rules
/// (and the literal-secret check, for false positives) can be switched off:
/// the schema's findings would break rendering.
pub fn suppress(diagnostics: Vec<Diagnostic>, facts: &[Facts]) -> Vec<Diagnostic> {
    let ignored = |code: &str, stream: &str, env: &str| {
        facts.iter().any(|f| {
            f.stream == stream && f.environment == env && f.ignore.iter().any(|i| i == code)
        })
    };
    diagnostics
        .into_iter()
        .filter_map(|mut d| {
            if !(d.code.starts_with("rule/") || d.code == "values/literal-secret")
                || d.subjects.is_empty()
            {
                return Some(d);
            }
            d.subjects
                .retain(|s| !ignored(d.code, &s.stream, &s.environment));
            (!d.subjects.is_empty()).then_some(d)
        })
        .collect()
}

/// What the checks across streams need of one stream: its checkpoint (and
/// where it is set), the sink its own definition sets, what it ignores.
fn facts_of(e: &Effective<'_>, checkpoint: Option<(String, Span)>) -> Facts {
    let v = &e.values;
    let ignore = ignored(v);
    // A sink inherited from common.yaml or an environment file is the
    // lake root every stream shares (each gets its own checkpoint under
    // it): only a sink the stream's own definition sets can clash.
    let own = |span: Span| {
        let set_here = |layer: Option<&Node>| {
            layer
                .and_then(|l| l.get("sink"))
                .is_some_and(|n| n.span == span)
        };
        set_here(Some(e.def.node())) || set_here(e.def.block(&e.environment.name))
    };
    let sink = v.get("sink").filter(|s| own(s.span)).and_then(|s| {
        s.as_str()
            .map(|t| (t.trim_end_matches('/').to_owned(), s.span))
    });
    Facts {
        stream: e.name().to_owned(),
        environment: e.environment.name.clone(),
        checkpoint,
        sink,
        ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The upstream list, copied from `deniedSparkConfKeys` in
    /// kubeflow/spark-operator internal/webhook/sparkconf_validator.go at
    /// v2.5.2 (commit 43afb8bbd32463037d8fb6e414e252c69081882b), with the
    /// constants of pkg/common/spark.go spelled out.
    const UPSTREAM_DENIED: &[&str] = &[
        "spark.kubernetes.authenticate.driver.serviceAccountName",
        "spark.kubernetes.authenticate.executor.serviceAccountName",
        "spark.kubernetes.authenticate.oauthTokenFile",
        "spark.kubernetes.authenticate.oauthToken",
        "spark.kubernetes.authenticate.driver.oauthTokenFile",
        "spark.kubernetes.authenticate.driver.oauthToken",
        "spark.kubernetes.authenticate.executor.oauthTokenFile",
        "spark.kubernetes.authenticate.executor.oauthToken",
        "spark.master",
        "spark.kubernetes.driver.master",
        "spark.kubernetes.container.image",
        "spark.kubernetes.driver.container.image",
        "spark.kubernetes.executor.container.image",
    ];

    #[test]
    fn denied_spark_conf_is_the_webhooks_list() {
        let ours: Vec<&str> = DENIED_SPARK_CONF.iter().map(|(k, _)| *k).collect();
        assert_eq!(ours, UPSTREAM_DENIED);
        for key in UPSTREAM_DENIED {
            assert!(denied_spark_conf(key, "x", Some("ns")).is_some(), "{key}");
        }
        // The namespace only when it differs.
        assert!(denied_spark_conf("spark.kubernetes.namespace", "other", Some("ns")).is_some());
        assert!(denied_spark_conf("spark.kubernetes.namespace", "ns", Some("ns")).is_none());
        // The webhook matches keys exactly: neighbours pass.
        for key in [
            "spark.kubernetes.authenticate.submission.oauthToken",
            "spark.kubernetes.authenticate.caCertFile",
            "spark.Master",
            "spark.kubernetes.driver.podTemplateFile",
            "spark.kubernetes.executor.podNamePrefix",
            "spark.sql.shuffle.partitions",
        ] {
            assert!(denied_spark_conf(key, "x", Some("ns")).is_none(), "{key}");
        }
    }

    #[test]
    fn memory_strings() {
        assert_eq!(mebibytes("512m"), Some(512.0));
        assert_eq!(mebibytes("4g"), Some(4096.0));
        assert_eq!(mebibytes("4G"), Some(4096.0));
        assert_eq!(mebibytes("2gb"), Some(2048.0));
        assert_eq!(mebibytes("1024"), Some(1024.0));
        assert_eq!(mebibytes("4Gi"), None);
        assert_eq!(show_mib(384.0), "384m");
        assert_eq!(show_mib(2048.0), "2g");
    }
}
