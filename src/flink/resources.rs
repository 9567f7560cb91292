//! What a FlinkDeployment asks the cluster for (pure): the JobManager
//! (replicas × resources) and the TaskManagers (`taskManager.replicas`, or
//! else ceil(parallelism / `taskmanager.numberOfTaskSlots`), × resources).

use crate::resources::Requests;
use serde_json::Value;

/// A memory size as the operator reads `resource.memory`, in MiB: Flink's
/// `MemorySize` (`2048m`, `2g`, `1024 mb`; a bare number is bytes), else a
/// Kubernetes quantity (`2Gi`, `1.5G`).
pub fn memory_mib(text: &str) -> Option<f64> {
    const MIB: f64 = 1024.0 * 1024.0;
    let t = text.trim();
    let number_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let n: f64 = t[..number_end].parse().ok()?;
    let unit = t[number_end..].trim();
    let flink = match unit.to_ascii_lowercase().as_str() {
        _ if t[..number_end].contains('.') => None,
        "" | "b" | "bytes" => Some(1.0),
        "k" | "kb" | "kibibytes" => Some(1024.0),
        "m" | "mb" | "mebibytes" => Some(MIB),
        "g" | "gb" | "gibibytes" => Some(MIB * 1024.0),
        "t" | "tb" | "tebibytes" => Some(MIB * 1024.0 * 1024.0),
        _ => None,
    };
    let bytes_per_unit = flink.or(match unit {
        "Ki" => Some(1024.0),
        "Mi" => Some(MIB),
        "Gi" => Some(MIB * 1024.0),
        "Ti" => Some(MIB * 1024.0 * 1024.0),
        "K" => Some(1e3),
        "M" => Some(1e6),
        "G" => Some(1e9),
        "T" => Some(1e12),
        _ => None,
    })?;
    Some(n * bytes_per_unit / MIB)
}

fn role(spec: &Value, name: &str) -> Requests {
    let resource = spec.pointer(&format!("/{name}/resource"));
    let cores = resource
        .and_then(|r| r.get("cpu"))
        .and_then(Value::as_f64)
        .unwrap_or(1.0);
    let memory = resource
        .and_then(|r| r.get("memory"))
        .and_then(Value::as_str)
        .and_then(memory_mib)
        .unwrap_or(0.0);
    Requests {
        cores,
        memory_mib: memory,
    }
}

/// The requests of a FlinkDeployment (running; the caller zeroes a
/// suspended one).
pub fn of(object: &Value) -> Requests {
    let null = Value::Null;
    let spec = object.get("spec").unwrap_or(&null);
    let job_managers = spec
        .pointer("/jobManager/replicas")
        .and_then(Value::as_f64)
        .unwrap_or(1.0);
    let task_managers = super::health::task_managers(spec) as f64;
    let (jm, tm) = (role(spec, "jobManager"), role(spec, "taskManager"));
    Requests {
        cores: jm.cores * job_managers + tm.cores * task_managers,
        memory_mib: jm.memory_mib * job_managers + tm.memory_mib * task_managers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn memory_reads_flink_sizes_and_kubernetes_quantities() {
        assert_eq!(memory_mib("2048m"), Some(2048.0));
        assert_eq!(memory_mib("2g"), Some(2048.0));
        assert_eq!(memory_mib("1024 mb"), Some(1024.0));
        assert_eq!(memory_mib("2Gi"), Some(2048.0));
        assert_eq!(memory_mib("1048576"), Some(1.0));
        assert_eq!(memory_mib("1.5Gi"), Some(1536.0));
        assert_eq!(memory_mib("lots"), None);
    }

    #[test]
    fn job_manager_replicas_and_task_managers_count() {
        let d = json!({"spec": {
            "jobManager": {"replicas": 2, "resource": {"cpu": 0.5, "memory": "1g"}},
            "taskManager": {"resource": {"cpu": 2, "memory": "4096m"}},
            "job": {"parallelism": 6},
            "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "4"}
        }});
        // 2 × (0.5, 1g) + ceil(6 / 4) = 2 × (2, 4g).
        assert_eq!(
            of(&d),
            Requests {
                cores: 5.0,
                memory_mib: 2.0 * 1024.0 + 2.0 * 4096.0
            }
        );
        let mut fixed = d.clone();
        fixed["spec"]["taskManager"]["replicas"] = json!(3);
        assert_eq!(of(&fixed).cores, 1.0 + 6.0);
    }
}
