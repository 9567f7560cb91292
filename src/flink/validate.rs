//! What the Flink Kubernetes Operator's validator (`DefaultValidator`,
//! operator 1.15) refuses in a FlinkDeployment, found before the operator
//! does (pure): a refused spec is never reconciled, so the stream would
//! silently keep running its old version. Plus sluice's own rule that a
//! protected environment never upgrades statelessly.
//!
//! Rules that compare a spec with the live one (switching between
//! application and session mode, or native and standalone) belong to the
//! diff.

use serde_json::Value;

/// Every code this module reports.
pub const CODES: &[&str] = &[
    "flink/version-missing",
    "flink/memory-missing",
    "flink/memory-format",
    "flink/parallelism",
    "flink/replicas",
    "flink/checkpoint-dir",
    "flink/savepoint-dir",
    "flink/ha-required",
    "flink/forbidden-key",
    "flink/stateless-protected",
];

/// One refusal: its code, the field (dotted, in the object), what is
/// wrong and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub code: &'static str,
    pub path: String,
    pub message: String,
    pub help: String,
}

fn finding(code: &'static str, path: &str, message: String, help: &str) -> Finding {
    Finding {
        code,
        path: path.to_owned(),
        message,
        help: help.to_owned(),
    }
}

/// A `flinkConfiguration` value: the flat key the operator documents, or
/// the same key as nested maps (Flink 2's YAML configuration), as text.
fn conf(spec: &Value, key: &str) -> Option<String> {
    let c = spec.get("flinkConfiguration")?;
    if let Some(v) = c.get(key) {
        return text(v);
    }
    let mut node = c;
    for segment in key.split('.') {
        node = node.get(segment)?;
    }
    text(node)
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
    .filter(|s| !s.trim().is_empty())
}

/// Flink's `MemorySize` syntax: a number and an optional unit
/// (`1024m`, `2 gb`, `4g`), not Kubernetes' `2Gi`.
pub fn is_memory_size(text: &str) -> bool {
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let unit = t[digits..].trim_start().to_ascii_lowercase();
    matches!(
        unit.as_str(),
        "" | "b"
            | "bytes"
            | "k"
            | "kb"
            | "kibibytes"
            | "m"
            | "mb"
            | "mebibytes"
            | "g"
            | "gb"
            | "gibibytes"
            | "t"
            | "tb"
            | "tebibytes"
    )
}

/// Whether Kubernetes HA is on: `high-availability.type` (or the older
/// `high-availability`) is `kubernetes` or its factory class.
pub fn kubernetes_ha(spec: &Value) -> bool {
    ["high-availability.type", "high-availability"]
        .iter()
        .filter_map(|k| conf(spec, k))
        .any(|v| {
            v.eq_ignore_ascii_case("kubernetes")
                || v == "org.apache.flink.kubernetes.highavailability.KubernetesHaServicesFactory"
        })
}

/// The job's upgrade mode, the CRD's default (`stateless`) when unset.
pub fn upgrade_mode(spec: &Value) -> &str {
    spec.pointer("/job/upgradeMode")
        .and_then(Value::as_str)
        .unwrap_or("stateless")
}

/// What the operator would refuse in this FlinkDeployment, and what a
/// protected environment must not run.
pub fn validate(object: &Value, protected: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(spec) = object.get("spec") else {
        return out;
    };
    if spec.get("flinkVersion").is_none_or(Value::is_null) {
        out.push(finding(
            "flink/version-missing",
            "spec.flinkVersion",
            "`spec.flinkVersion` is not set".into(),
            "set the Flink version the image runs, for example `flinkVersion: v1_20`",
        ));
    }
    for key in [
        "kubernetes.namespace",
        "kubernetes.cluster-id",
        "high-availability.cluster-id",
    ] {
        if conf(spec, key).is_some() {
            out.push(finding(
                "flink/forbidden-key",
                &format!("spec.flinkConfiguration.{key}"),
                format!("`{key}` may not be set: the operator sets it from the object's namespace and name"),
                "remove it from flinkConfiguration",
            ));
        }
    }
    for (role, field, keys) in [
        (
            "JobManager",
            "jobManager",
            [
                "jobmanager.memory.process.size",
                "jobmanager.memory.flink.size",
            ],
        ),
        (
            "TaskManager",
            "taskManager",
            [
                "taskmanager.memory.process.size",
                "taskmanager.memory.flink.size",
            ],
        ),
    ] {
        let path = format!("spec.{field}.resource.memory");
        match spec
            .pointer(&format!("/{field}/resource/memory"))
            .and_then(text)
        {
            Some(memory) if !is_memory_size(&memory) => out.push(finding(
                "flink/memory-format",
                &path,
                format!("the {role} memory `{memory}` is not a Flink memory size"),
                "write a number and a Flink unit: 2048m, 2g (not Kubernetes units like 2Gi)",
            )),
            Some(_) => {}
            None if keys.iter().any(|k| conf(spec, k).is_some()) => {}
            None => out.push(finding(
                "flink/memory-missing",
                &path,
                format!("the {role} has no memory"),
                &format!("set `{field}.resource.memory`, for example 2048m"),
            )),
        }
    }
    if let Some(job) = spec.get("job").filter(|j| j.is_object()) {
        if let Some(p) = job.get("parallelism").and_then(Value::as_i64)
            && p < 1
        {
            out.push(finding(
                "flink/parallelism",
                "spec.job.parallelism",
                format!("the job's parallelism is {p}; it must be at least 1"),
                "set `job.parallelism` to the number of parallel tasks, 1 or more",
            ));
        }
        let mode = upgrade_mode(spec);
        let checkpoints = ["state.checkpoints.dir", "execution.checkpointing.dir"]
            .iter()
            .any(|k| conf(spec, k).is_some());
        let savepoints = [
            "state.savepoints.dir",
            "execution.checkpointing.savepoint-dir",
        ]
        .iter()
        .any(|k| conf(spec, k).is_some());
        if mode != "stateless" && !checkpoints {
            out.push(finding(
                "flink/checkpoint-dir",
                "spec.flinkConfiguration",
                format!("upgradeMode `{mode}` needs `state.checkpoints.dir`, which is not set"),
                "set `state.checkpoints.dir` in flinkConfiguration: the job's state is kept there across upgrades",
            ));
        }
        if mode == "savepoint" && !savepoints {
            out.push(finding(
                "flink/savepoint-dir",
                "spec.flinkConfiguration",
                "upgradeMode `savepoint` needs `state.savepoints.dir`, which is not set".into(),
                "set `state.savepoints.dir` in flinkConfiguration, or use upgradeMode `last-state`",
            ));
        }
        if protected && mode == "stateless" {
            out.push(finding(
                "flink/stateless-protected",
                "spec.job.upgradeMode",
                format!(
                    "upgradeMode `stateless`{} in a protected environment: every upgrade would start the job without its state",
                    if job.get("upgradeMode").is_none() { " (the operator's default)" } else { "" }
                ),
                "use upgradeMode `savepoint` or `last-state`, with `state.checkpoints.dir` (and `state.savepoints.dir`) set",
            ));
        }
    }
    let replicas = spec.pointer("/jobManager/replicas").and_then(Value::as_i64);
    if let Some(r) = replicas.filter(|r| *r < 1) {
        out.push(finding(
            "flink/replicas",
            "spec.jobManager.replicas",
            format!("the JobManager has {r} replicas; it needs at least 1"),
            "set `jobManager.replicas` to 1, or more with Kubernetes HA",
        ));
    }
    if !kubernetes_ha(spec) {
        if let Some(r) = replicas.filter(|r| *r > 1) {
            out.push(finding(
                "flink/ha-required",
                "spec.jobManager.replicas",
                format!("{r} JobManager replicas need Kubernetes HA, which is off"),
                "set `high-availability.type: kubernetes` and `high-availability.storageDir` in flinkConfiguration, or use 1 replica",
            ));
        }
        if conf(spec, "kubernetes.operator.deployment.rollback.enabled")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            out.push(finding(
                "flink/ha-required",
                "spec.flinkConfiguration.kubernetes.operator.deployment.rollback.enabled",
                "rollbacks need Kubernetes HA, which is off".into(),
                "set `high-availability.type: kubernetes` and `high-availability.storageDir` in flinkConfiguration, or turn rollbacks off",
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn memory_sizes_are_flinks() {
        for ok in [
            "2048m",
            "2g",
            "1024 mb",
            "1073741824",
            "4 GB",
            "512kibibytes",
        ] {
            assert!(is_memory_size(ok), "{ok}");
        }
        for bad in ["2Gi", "512Mi", "m", "", "2.5g", "-1g", "2 g b"] {
            assert!(!is_memory_size(bad), "{bad}");
        }
    }

    #[test]
    fn nested_configuration_counts_as_flat() {
        let spec = json!({"flinkConfiguration": {"high-availability": {"type": "kubernetes"}}});
        assert!(kubernetes_ha(&spec));
        assert!(!kubernetes_ha(
            &json!({"flinkConfiguration": {"high-availability.type": "zookeeper"}})
        ));
    }
}
