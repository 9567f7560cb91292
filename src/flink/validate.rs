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

/// Flink's `MemorySize` syntax: a whole number and an optional unit
/// (`1024m`, `2 gb`, `4g`).
fn is_flink_memory_size(text: &str) -> bool {
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

/// A memory the operator accepts in `resource.memory`: Flink's
/// `MemorySize`, else a Kubernetes quantity after the operator's own
/// normalisation (spaces dropped, upper-cased, a trailing `B` dropped, a
/// trailing `I` made `i`): `2048m`, `2g`, `2Gi`, `2.5G`, `2 GiB`.
pub fn is_memory_size(text: &str) -> bool {
    if is_flink_memory_size(text) {
        return true;
    }
    let mut q: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    if q.ends_with('B') {
        q.pop();
    }
    if q.ends_with('I') {
        q.pop();
        q.push('i');
    }
    let number = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (n, suffix) = q.split_at(number);
    let mut parts = n.split('.');
    let whole = parts.next().unwrap_or_default();
    let fraction = parts.next();
    parts.next().is_none()
        && (!whole.is_empty() || fraction.is_some_and(|f| !f.is_empty()))
        && fraction.is_none_or(|f| f.bytes().all(|b| b.is_ascii_digit()))
        && matches!(
            suffix,
            "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "M" | "G" | "T" | "P" | "E"
        )
}

/// Whether high availability is on: `high-availability.type` (or the
/// older `high-availability`) is set to anything but `NONE`, as Flink's
/// `HighAvailabilityMode.isHighAvailabilityModeActivated` decides.
pub fn ha_activated(spec: &Value) -> bool {
    ["high-availability.type", "high-availability"]
        .iter()
        .filter_map(|k| conf(spec, k))
        .any(|v| !v.eq_ignore_ascii_case("none"))
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
                format!("the {role} memory `{memory}` is not a memory size"),
                "write a Flink size (2048m, 2g) or a Kubernetes quantity (2Gi)",
            )),
            Some(_) => {}
            None if keys.iter().any(|k| conf(spec, k).is_some()) => {}
            None => out.push(finding(
                "flink/memory-missing",
                &path,
                format!("the {role} has no memory"),
                &format!("set `{field}.resource.memory`, for example 2048m (or `{}` in flinkConfiguration)", keys[0]),
            )),
        }
    }
    if let Some(job) = spec.get("job").filter(|j| j.is_object()) {
        // With `taskManager.replicas` the cluster's size is set; without,
        // the operator sizes it from the parallelism (0 when unset).
        match spec.pointer("/taskManager/replicas").and_then(Value::as_i64) {
            Some(r) if r < 1 => out.push(finding(
                "flink/replicas",
                "spec.taskManager.replicas",
                format!("the TaskManager has {r} replicas; it needs at least 1"),
                "set `taskManager.replicas` to 1 or more, or leave it out and set `job.parallelism`",
            )),
            Some(_) => {}
            None => {
                let p = job.get("parallelism").and_then(Value::as_i64).unwrap_or(0);
                if p < 1 {
                    out.push(finding(
                        "flink/parallelism",
                        "spec.job.parallelism",
                        if job.get("parallelism").is_none() {
                            "the job has no parallelism (and no `taskManager.replicas`)".to_owned()
                        } else {
                            format!("the job's parallelism is {p}; it must be at least 1")
                        },
                        "set `job.parallelism` to the number of parallel tasks, 1 or more",
                    ));
                }
            }
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
        if !savepoints {
            let needs = if mode == "savepoint" {
                Some("upgradeMode `savepoint`")
            } else if job
                .get("savepointTriggerNonce")
                .is_some_and(|n| !n.is_null())
            {
                Some("`job.savepointTriggerNonce`")
            } else if conf(spec, "kubernetes.operator.periodic.savepoint.interval").is_some() {
                Some("`kubernetes.operator.periodic.savepoint.interval`")
            } else {
                None
            };
            if let Some(needs) = needs {
                out.push(finding(
                    "flink/savepoint-dir",
                    "spec.flinkConfiguration",
                    format!("{needs} needs `state.savepoints.dir`, which is not set"),
                    "set `state.savepoints.dir` in flinkConfiguration",
                ));
            }
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
    if !ha_activated(spec) {
        if let Some(r) = replicas.filter(|r| *r > 1) {
            out.push(finding(
                "flink/ha-required",
                "spec.jobManager.replicas",
                format!("{r} JobManager replicas need high availability, which is off"),
                "set `high-availability.type: kubernetes` and `high-availability.storageDir` in flinkConfiguration, or use 1 replica",
            ));
        }
        if conf(spec, "kubernetes.operator.deployment.rollback.enabled")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            out.push(finding(
                "flink/ha-required",
                "spec.flinkConfiguration.kubernetes.operator.deployment.rollback.enabled",
                "rollbacks need high availability, which is off".into(),
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
    fn memory_sizes_are_flinks_or_kubernetes_quantities() {
        for ok in [
            "2048m",
            "2g",
            "1024 mb",
            "1073741824",
            "4 GB",
            "512kibibytes",
            "2Gi",
            "512Mi",
            "2.5g",
            "2 GiB",
            "1.5G",
        ] {
            assert!(is_memory_size(ok), "{ok}");
        }
        for bad in ["lots", "m", "", "-1g", "2x", "1.2.3g", "2Ki5"] {
            assert!(!is_memory_size(bad), "{bad}");
        }
    }

    #[test]
    fn any_high_availability_mode_but_none_counts() {
        let spec = json!({"flinkConfiguration": {"high-availability": {"type": "kubernetes"}}});
        assert!(ha_activated(&spec));
        assert!(ha_activated(
            &json!({"flinkConfiguration": {"high-availability.type": "zookeeper"}})
        ));
        assert!(!ha_activated(
            &json!({"flinkConfiguration": {"high-availability.type": "NONE"}})
        ));
        assert!(!ha_activated(&json!({"flinkConfiguration": {}})));
    }
}
