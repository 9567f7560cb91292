//! The FlinkDeployment of a Flink stream (pure): what its effective values
//! mean for the operator, with the state locations derived from the sink.
//!
//! - `flinkConfiguration` is written as flat keys with string values,
//!   which every operator version accepts.
//! - From `sink`, per stream (unless set): `state.checkpoints.dir`
//!   (`<sink>/_checkpoints/<stream>`, as a Spark stream's checkpoint),
//!   `state.savepoints.dir` (`<sink>/_savepoints/<stream>`) and Kubernetes
//!   HA with `high-availability.storageDir` (`<sink>/_ha/<stream>`).
//! - Always (unless set): `kubernetes.operator.job.savepoint-on-deletion`,
//!   so deleting the object keeps the job's state in a savepoint, and
//!   `job.upgradeMode: savepoint`, so an upgrade carries the state over.
//! - The shared conveniences: `flink.version` (`1.20` → `v1_20`),
//!   `flink.image` or `image`, `applicationFile` → `job.jarURI`,
//!   `mainClass` → `job.entryClass`, `arguments` → `job.args`, `suspend`
//!   → `job.state`, `secrets` (environment variables and mounts in the
//!   main container of every pod), `imagePullSecrets` (in the pod
//!   template), `monitoring` (the Prometheus reporter).

use crate::spark::derive::{image as image_of, text};
use serde_json::{Map, Value, json};

pub const API_VERSION: &str = "flink.apache.org/v1beta1";
pub const KIND: &str = "FlinkDeployment";
pub const DEFAULT_UPGRADE_MODE: &str = "savepoint";
/// The container of a Flink pod that runs Flink, by the operator's name.
pub const MAIN_CONTAINER: &str = "flink-main-container";
pub const SAVEPOINT_ON_DELETION: &str = "kubernetes.operator.job.savepoint-on-deletion";
pub const CHECKPOINTS_DIR: &str = "state.checkpoints.dir";
pub const SAVEPOINTS_DIR: &str = "state.savepoints.dir";
pub const HA_DIR: &str = "high-availability.storageDir";
pub const MERGE_BY_NAME: &str = "kubernetes.operator.pod-template.merge-arrays-by-name";
const PROMETHEUS_PORT: u64 = 9249;

/// A state location sluice derives for a stream writing to `sink`.
pub fn state_dir(sink: &str, what: &str, stream: &str) -> String {
    format!("{}/_{what}/{stream}", sink.trim_end_matches('/'))
}

/// `1.20` or `v1_20` → `v1_20` (the CRD's form).
pub fn flink_version(values: &Value) -> Option<String> {
    if let Some(v) = values.get("flinkVersion").and_then(Value::as_str) {
        return Some(v.to_owned());
    }
    let short = values.pointer("/flink/version").and_then(Value::as_str)?;
    let digits = short.trim_start_matches('v').replace('.', "_");
    Some(format!("v{digits}"))
}

fn minor_at_least(version: &str, major: u64, minor: u64) -> bool {
    let mut parts = version.trim_start_matches('v').split('_');
    let a = parts
        .next()
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0);
    let b = parts
        .next()
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0);
    (a, b) >= (major, minor)
}

/// The image: `image` (a string or repository and tag), else `flink.image`.
pub fn image(values: &Value) -> Option<String> {
    if let Some(image) = values.pointer("/flink/image").and_then(Value::as_str) {
        return Some(image.to_owned());
    }
    let form = values.get("image")?;
    if form.is_string() || form.get("repository").is_some() {
        image_of(values)
    } else {
        None
    }
}

/// Whether the configuration turns HA on or off itself.
fn names_ha(conf: &Map<String, Value>) -> bool {
    conf.contains_key("high-availability") || conf.contains_key("high-availability.type")
}

/// Whether HA is on: Kubernetes or ZooKeeper, by either key.
fn ha_on(conf: &Map<String, Value>) -> bool {
    ["high-availability.type", "high-availability"]
        .iter()
        .find_map(|k| conf.get(*k).and_then(Value::as_str))
        .is_some_and(|mode| !mode.eq_ignore_ascii_case("none"))
}

/// The Kubernetes HA setting for a Flink version: `high-availability.type`
/// from 1.17, the old key with the short value in 1.16, the factory class
/// before.
fn kubernetes_ha(version: Option<&str>) -> (&'static str, &'static str) {
    match version {
        Some(v) if !minor_at_least(v, 1, 16) => (
            "high-availability",
            "org.apache.flink.kubernetes.highavailability.KubernetesHaServicesFactory",
        ),
        Some(v) if !minor_at_least(v, 1, 17) => ("high-availability", "kubernetes"),
        _ => ("high-availability.type", "kubernetes"),
    }
}

/// The keys, by their old and their Flink 2 names, of the checkpoint and
/// the savepoint directory.
const CHECKPOINT_KEYS: &[&str] = &[CHECKPOINTS_DIR, "execution.checkpointing.dir"];
const SAVEPOINT_KEYS: &[&str] = &[SAVEPOINTS_DIR, "execution.checkpointing.savepoint-dir"];

/// Where the job's checkpoints go, by either key.
pub fn checkpoint_dir(conf: &Map<String, Value>) -> Option<&str> {
    CHECKPOINT_KEYS
        .iter()
        .find_map(|k| conf.get(*k).and_then(Value::as_str))
}

/// Where the job's savepoints go, by either key.
pub fn savepoint_dir(conf: &Map<String, Value>) -> Option<&str> {
    SAVEPOINT_KEYS
        .iter()
        .find_map(|k| conf.get(*k).and_then(Value::as_str))
}

/// The flinkConfiguration sluice renders: the values' keys as text, then
/// what it derives where they are silent.
pub fn configuration(stream: &str, values: &Value) -> Map<String, Value> {
    let mut conf: Map<String, Value> = values
        .get("flinkConfiguration")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), Value::String(text(v))))
                .collect()
        })
        .unwrap_or_default();
    let sink = values.get("sink").and_then(Value::as_str);
    let unset =
        |conf: &Map<String, Value>, keys: &[&str]| keys.iter().all(|k| !conf.contains_key(*k));
    if let Some(sink) = sink {
        if unset(&conf, CHECKPOINT_KEYS) {
            conf.insert(
                CHECKPOINTS_DIR.into(),
                state_dir(sink, "checkpoints", stream).into(),
            );
        }
        if unset(&conf, SAVEPOINT_KEYS) {
            conf.insert(
                SAVEPOINTS_DIR.into(),
                state_dir(sink, "savepoints", stream).into(),
            );
        }
    }
    let mut default = |key: &str, value: String| {
        conf.entry(key.to_owned()).or_insert(Value::String(value));
    };
    default(SAVEPOINT_ON_DELETION, "true".to_owned());
    // The roles' pod templates merge over podTemplate container by
    // container, so the main container keeps the env and mounts of
    // `secrets` (the operator merges lists by position otherwise).
    default(MERGE_BY_NAME, "true".to_owned());
    if let Some(monitoring) = values.get("monitoring").filter(|m| m.is_object()) {
        let port = monitoring
            .pointer("/prometheus/port")
            .and_then(Value::as_u64)
            .unwrap_or(PROMETHEUS_PORT);
        default(
            "metrics.reporter.prom.factory.class",
            "org.apache.flink.metrics.prometheus.PrometheusReporterFactory".to_owned(),
        );
        default("metrics.reporter.prom.port", port.to_string());
    }
    if let Some(sink) = sink {
        if !names_ha(&conf) {
            let (key, value) = kubernetes_ha(flink_version(values).as_deref());
            conf.insert(key.to_owned(), Value::String(value.to_owned()));
        }
        if ha_on(&conf) {
            conf.entry(HA_DIR.to_owned())
                .or_insert_with(|| Value::String(state_dir(sink, "ha", stream)));
        }
    }
    conf
}

/// The job: the values' `job`, with the shared conveniences and sluice's
/// upgrade mode.
pub fn job(values: &Value) -> Map<String, Value> {
    let mut job = values
        .get("job")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    job.retain(|_, v| !v.is_null());
    let mut set = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            job.entry(key.to_owned()).or_insert(value);
        }
    };
    set("jarURI", values.get("applicationFile").cloned());
    set("entryClass", values.get("mainClass").cloned());
    set(
        "args",
        values
            .get("arguments")
            .and_then(Value::as_array)
            .map(|a| Value::Array(a.iter().map(|v| Value::String(text(v))).collect())),
    );
    set(
        "state",
        values
            .get("suspend")
            .and_then(Value::as_bool)
            .map(|s| Value::String(if s { "suspended" } else { "running" }.to_owned())),
    );
    set(
        "upgradeMode",
        Some(Value::String(DEFAULT_UPGRADE_MODE.into())),
    );
    // In the CRD's order of importance.
    let order = [
        "jarURI",
        "entryClass",
        "args",
        "parallelism",
        "state",
        "upgradeMode",
    ];
    let mut sorted = Map::new();
    for key in order {
        if let Some(v) = job.remove(key) {
            sorted.insert(key.into(), v);
        }
    }
    sorted.extend(job);
    sorted
}

/// `secrets` as the main container's environment and mounts, merged into
/// the values' pod template (`None`: neither says anything).
fn pod_template(values: &Value) -> Option<Value> {
    let template = values.get("podTemplate").filter(|t| !t.is_null()).cloned();
    let secrets = values
        .get("secrets")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let pull: Vec<Value> = values
        .get("imagePullSecrets")
        .and_then(Value::as_array)
        .map_or(Vec::new(), |names| {
            names.iter().map(|n| json!({"name": text(n)})).collect()
        });
    if secrets.is_empty() && pull.is_empty() {
        return template;
    }
    let mut env = Vec::new();
    let mut mounts = Vec::new();
    let mut volumes = Vec::new();
    for secret in secrets {
        let Some(name) = secret.get("name").and_then(Value::as_str) else {
            continue;
        };
        if let Some(vars) = secret.get("env").and_then(Value::as_object) {
            for (var, key) in vars {
                env.push(
                    json!({"name": var, "valueFrom": {"secretKeyRef": {"name": name, "key": key}}}),
                );
            }
        }
        if let Some(path) = secret.get("path").and_then(Value::as_str) {
            let volume = format!("secret-{name}").replace('.', "-");
            mounts.push(json!({"name": volume, "mountPath": path, "readOnly": true}));
            volumes.push(json!({"name": volume, "secret": {"secretName": name}}));
            // The variable spark-operator sets for these secret types, so
            // a secret means the same on either engine.
            let variable = match secret.get("type").and_then(Value::as_str) {
                Some("GCPServiceAccount") => Some(("GOOGLE_APPLICATION_CREDENTIALS", "key.json")),
                Some("HadoopDelegationToken") => {
                    Some(("HADOOP_TOKEN_FILE_LOCATION", "hadoop.token"))
                }
                _ => None,
            };
            if let Some((var, file)) = variable {
                let at = format!("{}/{file}", path.trim_end_matches('/'));
                env.push(json!({"name": var, "value": at}));
            }
        }
    }
    let mut template = template.unwrap_or_else(|| json!({}));
    let Some(t) = template.as_object_mut() else {
        return Some(template);
    };
    let spec = t.entry("spec").or_insert_with(|| json!({}));
    let Some(spec) = spec.as_object_mut() else {
        return Some(template);
    };
    let for_main = !(env.is_empty() && mounts.is_empty());
    let containers = if for_main {
        spec.entry("containers")
            .or_insert_with(|| json!([]))
            .as_array_mut()
    } else {
        None
    };
    if let Some(list) = containers {
        let at = match list
            .iter()
            .position(|c| c.get("name").and_then(Value::as_str) == Some(MAIN_CONTAINER))
        {
            Some(at) => at,
            None => {
                list.push(json!({"name": MAIN_CONTAINER}));
                list.len() - 1
            }
        };
        if let Some(main) = list[at].as_object_mut() {
            append(main, [("env", env), ("volumeMounts", mounts)]);
        }
    }
    append(spec, [("volumes", volumes), ("imagePullSecrets", pull)]);
    Some(template)
}

/// Appends each non-empty list to the list `map` has under its key
/// (created if missing; a non-list there is left as it is).
fn append<const N: usize>(map: &mut Map<String, Value>, lists: [(&str, Vec<Value>); N]) {
    for (key, items) in lists {
        if items.is_empty() {
            continue;
        }
        let entry = map.entry(key).or_insert_with(|| json!([]));
        if let Some(existing) = entry.as_array_mut() {
            existing.extend(items);
        }
    }
}

/// The FlinkDeployment of one stream in one environment (before sluice's
/// labels and annotations are added).
pub fn flink_deployment(stream: &str, namespace: Option<&str>, values: &Value) -> Value {
    let get = |key: &str| values.get(key).filter(|v| !v.is_null());
    let mut metadata = Map::new();
    metadata.insert("name".into(), stream.into());
    metadata.insert(
        "namespace".into(),
        namespace.map_or(Value::Null, |n| Value::String(n.to_owned())),
    );
    for key in ["labels", "annotations"] {
        if let Some(Value::Object(map)) = get(key) {
            let texts = map
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(text(v))))
                .collect();
            metadata.insert(key.into(), Value::Object(texts));
        }
    }
    let mut spec = Map::new();
    spec.insert(
        "image".into(),
        image(values).map_or(Value::Null, Value::String),
    );
    if let Some(v) = get("imagePullPolicy") {
        spec.insert("imagePullPolicy".into(), v.clone());
    }
    spec.insert(
        "flinkVersion".into(),
        flink_version(values).map_or(Value::Null, Value::String),
    );
    for key in ["mode", "serviceAccount", "restartNonce"] {
        if let Some(v) = get(key) {
            spec.insert(key.into(), v.clone());
        }
    }
    spec.insert(
        "flinkConfiguration".into(),
        Value::Object(configuration(stream, values)),
    );
    for key in ["logConfiguration", "ingress"] {
        if let Some(v) = get(key) {
            spec.insert(key.into(), v.clone());
        }
    }
    if let Some(template) = pod_template(values) {
        spec.insert("podTemplate".into(), template);
    }
    for role in ["jobManager", "taskManager"] {
        spec.insert(role.into(), get(role).cloned().unwrap_or_else(|| json!({})));
    }
    spec.insert("job".into(), Value::Object(job(values)));
    json!({
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata,
        "spec": spec,
    })
}

const UPGRADE: &str = "an upgrade carries the job's state over in a savepoint";
const ON_DELETION: &str = "deleting the FlinkDeployment keeps the job's state in a savepoint first";
const STATE_DIRS: &str = "the job's state lives under its sink, per stream";
const HA: &str = "JobManager failover resumes the job from its HA metadata, under its sink";
const METRICS: &str = "asking for monitoring means wanting the metrics";
const MERGE: &str = "a role's pod template keeps the main container's env and mounts";

/// Every reason a Flink default applies, for `values --provenance`.
pub const DEFAULT_REASONS: &[&str] = &[UPGRADE, ON_DELETION, STATE_DIRS, HA, METRICS, MERGE];

/// The defaults sluice applies to a Flink stream's values where they say
/// nothing (what [`flink_deployment`] adds), for `values --provenance`.
pub fn defaults(values: &Value) -> Vec<crate::spark::derive::Default> {
    use crate::spark::derive::Default;
    let stream = values.get("name").and_then(Value::as_str).unwrap_or("");
    let mut out = Vec::new();
    if values.pointer("/job/upgradeMode").is_none() {
        out.push(Default {
            pointer: "/job/upgradeMode",
            value: json!(DEFAULT_UPGRADE_MODE),
            why: UPGRADE,
        });
    }
    let written = values.get("flinkConfiguration").and_then(Value::as_object);
    for (key, value) in configuration(stream, values) {
        if written.is_some_and(|w| w.contains_key(&key)) {
            continue;
        }
        let (pointer, why) = match key.as_str() {
            CHECKPOINTS_DIR => ("/flinkConfiguration/state.checkpoints.dir", STATE_DIRS),
            SAVEPOINTS_DIR => ("/flinkConfiguration/state.savepoints.dir", STATE_DIRS),
            SAVEPOINT_ON_DELETION => (
                "/flinkConfiguration/kubernetes.operator.job.savepoint-on-deletion",
                ON_DELETION,
            ),
            "high-availability.type" => ("/flinkConfiguration/high-availability.type", HA),
            "high-availability" => ("/flinkConfiguration/high-availability", HA),
            HA_DIR => ("/flinkConfiguration/high-availability.storageDir", HA),
            "metrics.reporter.prom.factory.class" => (
                "/flinkConfiguration/metrics.reporter.prom.factory.class",
                METRICS,
            ),
            "metrics.reporter.prom.port" => {
                ("/flinkConfiguration/metrics.reporter.prom.port", METRICS)
            }
            _ => continue,
        };
        out.push(Default {
            pointer,
            value,
            why,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flink_image_comes_first() {
        let both = json!({"image": {"repository": "reg/spark", "tag": "3.5"}, "flink": {"image": "reg/flink:2.3"}});
        assert_eq!(image(&both).as_deref(), Some("reg/flink:2.3"));
        assert_eq!(
            image(&json!({"image": "reg/f:1"})).as_deref(),
            Some("reg/f:1")
        );
        assert_eq!(
            image(&json!({"image": {"repository": "reg/f", "tag": 2}})).as_deref(),
            Some("reg/f:2")
        );
        // A tag alone is no image, and never Spark's.
        assert_eq!(
            image(&json!({"image": {"tag": "1"}, "spark": {"image": "s"}})),
            None
        );
    }

    #[test]
    fn versions_take_the_crds_form() {
        assert_eq!(
            flink_version(&json!({"flink": {"version": "1.20"}})).as_deref(),
            Some("v1_20")
        );
        assert_eq!(
            flink_version(&json!({"flink": {"version": "v2_0"}})).as_deref(),
            Some("v2_0")
        );
        assert_eq!(
            flink_version(&json!({"flinkVersion": "v1_18"})).as_deref(),
            Some("v1_18")
        );
        assert!(minor_at_least("v1_17", 1, 17) && minor_at_least("v2_0", 1, 17));
        assert!(!minor_at_least("v1_16", 1, 17));
    }

    #[test]
    fn state_locations_come_from_the_sink_unless_set() {
        let conf = configuration(
            "clicks",
            &json!({"sink": "s3a://lake/clicks/", "flink": {"version": "1.20"}, "flinkConfiguration": {"taskmanager.numberOfTaskSlots": 2, "state.savepoints.dir": "s3a://other/sp"}}),
        );
        assert_eq!(
            conf["state.checkpoints.dir"],
            "s3a://lake/clicks/_checkpoints/clicks"
        );
        assert_eq!(conf["state.savepoints.dir"], "s3a://other/sp");
        assert_eq!(conf["high-availability.type"], "kubernetes");
        assert_eq!(
            conf["high-availability.storageDir"],
            "s3a://lake/clicks/_ha/clicks"
        );
        assert_eq!(conf[SAVEPOINT_ON_DELETION], "true");
        assert_eq!(conf["taskmanager.numberOfTaskSlots"], "2");
        // Older Flink names HA by its old key; a configuration naming HA decides.
        let old = configuration("c", &json!({"sink": "s3a://l", "flinkVersion": "v1_16"}));
        assert_eq!(old["high-availability"], "kubernetes");
        let off = configuration(
            "c",
            &json!({"sink": "s3a://l", "flinkConfiguration": {"high-availability.type": "NONE"}}),
        );
        assert_eq!(off["high-availability.type"], "NONE");
        assert!(!off.contains_key(HA_DIR));
    }

    #[test]
    fn conveniences_fill_the_job() {
        let job = job(
            &json!({"applicationFile": "local:///j.jar", "mainClass": "C", "arguments": ["--n", 3], "suspend": true, "job": {"parallelism": 2}}),
        );
        assert_eq!(
            Value::Object(job),
            json!({"jarURI": "local:///j.jar", "entryClass": "C", "args": ["--n", "3"], "parallelism": 2, "state": "suspended", "upgradeMode": "savepoint"})
        );
    }

    #[test]
    fn secrets_reach_the_main_container() {
        let t = pod_template(&json!({"secrets": [{"name": "kafka", "env": {"PASS": "password"}, "path": "/mnt/kafka"}], "podTemplate": {"spec": {"containers": [{"name": "sidecar", "image": "s"}]}}})).unwrap();
        let containers = t["spec"]["containers"].as_array().unwrap();
        assert_eq!(containers[0]["name"], "sidecar");
        assert_eq!(containers[1]["name"], MAIN_CONTAINER);
        assert_eq!(
            containers[1]["env"][0]["valueFrom"]["secretKeyRef"],
            json!({"name": "kafka", "key": "password"})
        );
        assert_eq!(containers[1]["volumeMounts"][0]["mountPath"], "/mnt/kafka");
        assert_eq!(t["spec"]["volumes"][0]["secret"]["secretName"], "kafka");
        // A GCP key gets the variable spark-operator would set.
        let t = pod_template(&json!({"secrets": [{"name": "gcp", "path": "/mnt/gcp/", "type": "GCPServiceAccount"}]})).unwrap();
        assert_eq!(
            t["spec"]["containers"][0]["env"],
            json!([{"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": "/mnt/gcp/key.json"}])
        );
    }
}
