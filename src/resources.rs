//! What a stream asks the cluster for (pure), by its engine: for a
//! SparkApplication, CPU and memory of the driver plus the executors ×
//! instances, memory overhead included, as Spark computes it (a
//! FlinkDeployment's count is `crate::flink::resources`). For
//! merge-request reports and environment budgets.

use crate::rules::mebibytes;
use serde::Serialize;
use serde_json::Value;

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Requests {
    pub cores: f64,
    /// MiB.
    pub memory_mib: f64,
}

impl std::ops::Add for Requests {
    type Output = Requests;
    fn add(self, o: Requests) -> Requests {
        Requests {
            cores: self.cores + o.cores,
            memory_mib: self.memory_mib + o.memory_mib,
        }
    }
}

impl std::ops::Sub for Requests {
    type Output = Requests;
    fn sub(self, o: Requests) -> Requests {
        Requests {
            cores: self.cores - o.cores,
            memory_mib: self.memory_mib - o.memory_mib,
        }
    }
}

/// A Kubernetes CPU quantity (`3400m`, `0.5`, `2`) in cores.
pub fn cpu(text: &str) -> Option<f64> {
    match text.strip_suffix('m') {
        Some(milli) => milli.parse::<f64>().ok().map(|m| m / 1000.0),
        None => text.parse().ok(),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn role(spec: &Value, name: &str, python: bool) -> Requests {
    let r = spec.get(name).cloned().unwrap_or(Value::Null);
    let cores = r
        .get("coreRequest")
        .map(text)
        .and_then(|t| cpu(&t))
        .or_else(|| r.get("cores").and_then(Value::as_f64))
        .unwrap_or(1.0);
    let memory = r
        .get("memory")
        .map(text)
        .and_then(|t| mebibytes(&t))
        .unwrap_or(1024.0);
    let factor = if python { 0.4 } else { 0.1 };
    let overhead = r
        .get("memoryOverhead")
        .map(text)
        .and_then(|t| mebibytes(&t))
        .unwrap_or((memory * factor).max(384.0));
    Requests {
        cores,
        memory_mib: memory + overhead,
    }
}

/// The requests of one stream object, by its engine (zero for other kinds
/// and for a suspended stream, which runs no pods).
pub fn of(object: &Value) -> Requests {
    crate::engine::Engine::of_object(object).map_or_else(Requests::default, |e| e.requests(object))
}

/// The requests of a running SparkApplication.
pub fn spark(object: &Value) -> Requests {
    let spec = object.get("spec").cloned().unwrap_or(Value::Null);
    let python = matches!(
        spec.get("type").and_then(Value::as_str),
        Some("Python" | "R")
    );
    let executor = role(&spec, "executor", python);
    let dynamic = spec
        .pointer("/dynamicAllocation/enabled")
        .and_then(Value::as_bool)
        == Some(true);
    let instances = if dynamic {
        spec.pointer("/dynamicAllocation/maxExecutors")
            .and_then(Value::as_f64)
    } else {
        None
    }
    .or_else(|| spec.pointer("/executor/instances").and_then(Value::as_f64))
    .unwrap_or(1.0);
    let driver = role(&spec, "driver", python);
    Requests {
        cores: driver.cores + executor.cores * instances,
        memory_mib: driver.memory_mib + executor.memory_mib * instances,
    }
}

/// `12.5 cores, 96g`.
pub fn show(r: Requests) -> String {
    let cores = if r.cores.fract() == 0.0 {
        format!("{}", r.cores)
    } else {
        format!("{:.1}", r.cores)
    };
    format!("{cores} cores, {}", show_memory(r.memory_mib))
}

pub fn show_memory(mib: f64) -> String {
    if mib.abs() >= 1024.0 {
        format!("{:.1}g", mib / 1024.0).replace(".0g", "g")
    } else {
        format!("{mib:.0}m")
    }
}

/// `+2 cores, +8g` for a change.
pub fn show_delta(d: Requests) -> String {
    if d.cores == 0.0 && d.memory_mib == 0.0 {
        return "–".to_owned();
    }
    let sign = |x: f64| if x > 0.0 { "+" } else { "" };
    let cores = if d.cores.fract() == 0.0 {
        format!("{}", d.cores)
    } else {
        format!("{:.1}", d.cores)
    };
    format!(
        "{}{cores} cores, {}{}",
        sign(d.cores),
        sign(d.memory_mib),
        show_memory(d.memory_mib)
    )
}

/// An environment's `budget: {cores, memory}`.
pub fn budget(environment_file: &Value) -> Option<Requests> {
    let b = environment_file.get("budget")?;
    Some(Requests {
        cores: b
            .get("cores")
            .and_then(Value::as_f64)
            .unwrap_or(f64::INFINITY),
        memory_mib: b
            .get("memory")
            .map(text)
            .and_then(|t| mebibytes(&t))
            .unwrap_or(f64::INFINITY),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_follow_spark() {
        let app = json!({"kind": "SparkApplication", "spec": {
            "driver": {"cores": 1, "memory": "2g"},
            "executor": {"cores": 4, "coreRequest": "3400m", "memory": "8g", "memoryOverhead": "2g", "instances": 3}}});
        let r = of(&app);
        assert!((r.cores - (1.0 + 3.4 * 3.0)).abs() < 1e-9);
        // driver: 2g + max(384m, 10%) = 2048 + 384; executors: 3 × (8g + 2g)
        assert_eq!(r.memory_mib, 2048.0 + 384.0 + 3.0 * 10240.0);
        let suspended = json!({"kind": "SparkApplication", "spec": {"suspend": true}});
        assert_eq!(of(&suspended), Requests::default());
        assert_eq!(cpu("500m"), Some(0.5));
        assert_eq!(
            show_delta(Requests {
                cores: 2.0,
                memory_mib: 8192.0
            }),
            "+2 cores, +8g"
        );
    }
}
