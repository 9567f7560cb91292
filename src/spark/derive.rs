//! What sluice computes from a stream's effective values before templating
//! (pure): the image reference, the operator's restart-policy object,
//! string-typed Spark and Hadoop confs with the derived checkpoint and
//! scratch-space settings, and the driver and executor specs.

use serde_json::{Map, Value, json};

/// Name of the on-demand local-dir volume: Spark uses volumes named
/// `spark-local-dir-*` as `spark.local.dir`.
pub const LOCAL_DIR_VOLUME: &str = "spark-local-dir-1";
pub const DEFAULT_LOCAL_DIR_MOUNT: &str = "/var/data/spark-local";

/// The checkpoint location sluice derives for a stream writing to `sink`.
pub fn checkpoint_for(sink: &str, stream: &str) -> String {
    format!("{}/_checkpoints/{stream}", sink.trim_end_matches('/'))
}

/// Top-level spec fields with no sluice key of their own: written in values
/// under their CRD names and passed through as they are, in this order.
pub const SPEC_PASSTHROUGH: &[&str] = &[
    "proxyUser",
    "sparkConfigMap",
    "hadoopConfigMap",
    "volumes",
    "memoryOverheadFactor",
    "failureRetries",
    "timeToLiveSeconds",
    "sparkUIOptions",
    "driverIngressOptions",
];

const OPERATOR_DEFAULT: &str = "the operator's own default";
const CLUSTER_MODE: &str = "the operator runs applications in cluster mode";
const ALWAYS_RESTART: &str =
    "a stream should come back after a failure; the operator's own default is Never";
const PYTHON: &str = "for Python streams";
const SHUFFLE: &str = "Kubernetes has no external shuffle service";
const METRICS: &str = "asking for monitoring means wanting the metrics";
const MOUNT: &str = "where the scratch volume is mounted";

/// The defaults themselves, where [`defaults`] states them and where
/// rendering applies them.
pub const DEFAULT_TYPE: &str = "Scala";
pub const DEFAULT_MODE: &str = "cluster";
pub const DEFAULT_RESTART_POLICY: &str = "Always";
pub const DEFAULT_PYTHON_VERSION: &str = "3";

/// Every reason a default applies, for `values --provenance`.
pub const DEFAULT_REASONS: &[&str] = &[
    OPERATOR_DEFAULT,
    CLUSTER_MODE,
    ALWAYS_RESTART,
    PYTHON,
    SHUFFLE,
    METRICS,
    MOUNT,
];

/// A default sluice applies where the values say nothing.
#[derive(Clone, Debug, PartialEq)]
pub struct Default {
    pub pointer: &'static str,
    pub value: Value,
    pub why: &'static str,
}

/// The defaults that apply to these values: `values --provenance` shows
/// them as "sluice default"; the schema and the README state them too.
pub fn defaults(values: &Value) -> Vec<Default> {
    let python = values.get("type").and_then(Value::as_str) == Some("Python");
    let has = |key: &str| values.get(key).is_some_and(Value::is_object);
    let candidates: [(bool, &'static str, Value, &'static str); 8] = [
        (true, "/type", json!(DEFAULT_TYPE), OPERATOR_DEFAULT),
        (true, "/mode", json!(DEFAULT_MODE), CLUSTER_MODE),
        (
            true,
            "/restartPolicy",
            json!(DEFAULT_RESTART_POLICY),
            ALWAYS_RESTART,
        ),
        (
            python,
            "/pythonVersion",
            json!(DEFAULT_PYTHON_VERSION),
            PYTHON,
        ),
        (
            has("dynamicAllocation"),
            "/dynamicAllocation/shuffleTrackingEnabled",
            json!(true),
            SHUFFLE,
        ),
        (
            has("monitoring"),
            "/monitoring/exposeDriverMetrics",
            json!(true),
            METRICS,
        ),
        (
            has("monitoring"),
            "/monitoring/exposeExecutorMetrics",
            json!(true),
            METRICS,
        ),
        (
            has("localDirs"),
            "/localDirs/mountPath",
            json!(DEFAULT_LOCAL_DIR_MOUNT),
            MOUNT,
        ),
    ];
    candidates
        .into_iter()
        .filter(|(applies, pointer, _, _)| *applies && crate::json::at(values, pointer).is_none())
        .map(|(_, pointer, value, why)| Default {
            pointer,
            value,
            why,
        })
        .collect()
}

/// The `derived` object of the template context.
pub fn derive(stream: &str, values: &Value) -> Value {
    let mut out = Map::new();
    out.insert(
        "image".into(),
        image(values).map_or(Value::Null, Value::String),
    );
    out.insert(
        "sparkVersion".into(),
        spark_version(values).map_or(Value::Null, Value::String),
    );
    out.insert(
        "mainApplicationFile".into(),
        application_file(values).map_or(Value::Null, Value::String),
    );
    out.insert(
        "mode".into(),
        values
            .get("mode")
            .cloned()
            .unwrap_or_else(|| Value::String(DEFAULT_MODE.into())),
    );
    out.insert(
        "arguments".into(),
        Value::Array(
            values
                .get("arguments")
                .and_then(Value::as_array)
                .map_or(Vec::new(), |a| {
                    a.iter().map(|v| Value::String(text(v))).collect()
                }),
        ),
    );
    out.insert("restartPolicy".into(), restart_policy(values));
    out.insert(
        "sparkConf".into(),
        Value::Object(spark_conf(stream, values)),
    );
    out.insert(
        "hadoopConf".into(),
        Value::Object(strings(values.get("hadoopConf"))),
    );
    out.insert("dynamicAllocation".into(), dynamic_allocation(values));
    out.insert("monitoring".into(), monitoring(values));
    out.insert("driver".into(), role(values, "driver"));
    out.insert("executor".into(), role(values, "executor"));
    out.insert(
        "extra".into(),
        Value::Object(
            SPEC_PASSTHROUGH
                .iter()
                .filter_map(|k| Some(((*k).to_owned(), values.get(*k)?.clone())))
                .filter(|(_, v)| !v.is_null())
                .collect(),
        ),
    );
    Value::Object(out)
}

/// `sparkVersion` (the CRD's name), else `spark.version`.
pub fn spark_version(values: &Value) -> Option<String> {
    values
        .get("sparkVersion")
        .or_else(|| crate::json::at(values, "/spark/version"))
        .filter(|v| !v.is_null())
        .map(text)
}

/// `mainApplicationFile` (the CRD's name), else `applicationFile`.
pub fn application_file(values: &Value) -> Option<String> {
    values
        .get("mainApplicationFile")
        .or_else(|| values.get("applicationFile"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// `image` as a string (the CRD's form), `spark.image`, or
/// `image.repository[:image.tag]` (which wins over `spark.image` when both
/// are set: it is the more specific form).
pub fn image(values: &Value) -> Option<String> {
    if let Some(image) = values.get("image").and_then(Value::as_str) {
        return Some(image.to_owned());
    }
    if let Some(repo) = crate::json::at(values, "/image/repository").and_then(Value::as_str) {
        return Some(match crate::json::at(values, "/image/tag") {
            Some(tag) if !tag.is_null() => format!("{repo}:{}", text(tag)),
            _ => repo.to_owned(),
        });
    }
    crate::json::at(values, "/spark/image")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A scalar as the text the operator expects.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn strings(map: Option<&Value>) -> Map<String, Value> {
    map.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), Value::String(text(v))))
                .collect()
        })
        .unwrap_or_default()
}

/// The operator's object form. A plain string becomes `{type}`; the flat
/// retry keys fill in what the object does not set. Streams default to
/// `Always`.
pub fn restart_policy(values: &Value) -> Value {
    let mut policy = match values.get("restartPolicy") {
        Some(Value::String(s)) => json!({ "type": s }),
        Some(Value::Object(o)) => Value::Object(o.clone()),
        _ => json!({ "type": DEFAULT_RESTART_POLICY }),
    };
    let flat = [
        ("maxRetries", "onFailureRetries"),
        ("retryInterval", "onFailureRetryInterval"),
        ("maxSubmissionRetries", "onSubmissionFailureRetries"),
        (
            "submissionRetryInterval",
            "onSubmissionFailureRetryInterval",
        ),
    ];
    if let Value::Object(p) = &mut policy {
        for (from, to) in flat {
            if let (Some(v), false) = (values.get(from), p.contains_key(to)) {
                p.insert(to.to_owned(), v.clone());
            }
        }
    }
    policy
}

/// The checkpoint location a stream ends up with: its own sparkConf
/// setting, else `checkpointLocation`, else derived from `sink`.
pub fn checkpoint(stream: &str, values: &Value) -> Option<String> {
    crate::json::at(values, "/sparkConf/spark.sql.streaming.checkpointLocation")
        .map(text)
        .or_else(|| {
            values
                .get("checkpointLocation")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .or_else(|| {
            values
                .get("sink")
                .and_then(Value::as_str)
                .map(|s| checkpoint_for(s, stream))
        })
}

fn spark_conf(stream: &str, values: &Value) -> Map<String, Value> {
    let mut conf = strings(values.get("sparkConf"));
    let mut set = |key: String, value: String| {
        // What the user wrote in sparkConf wins over what sluice derives.
        conf.entry(key).or_insert(Value::String(value));
    };
    if let Some(checkpoint) = checkpoint(stream, values) {
        set("spark.sql.streaming.checkpointLocation".into(), checkpoint);
    }
    if let Some(sink) = values.get("sink").and_then(Value::as_str) {
        set("spark.sluice.sink".into(), sink.to_owned());
    }
    if let Some(local) = values.get("localDirs") {
        let mount = local
            .get("mountPath")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_LOCAL_DIR_MOUNT)
            .to_owned();
        match local.get("type").and_then(Value::as_str) {
            // Both declare the volume, so `size` and `mountPath` hold;
            // `tmpfs` backs it with memory.
            Some(kind @ ("tmpfs" | "emptyDir")) => {
                let prefix =
                    format!("spark.kubernetes.executor.volumes.emptyDir.{LOCAL_DIR_VOLUME}");
                if kind == "tmpfs" {
                    set("spark.kubernetes.local.dirs.tmpfs".into(), "true".into());
                    set(format!("{prefix}.options.medium"), "Memory".into());
                }
                if let Some(size) = local.get("size").map(text) {
                    set(format!("{prefix}.options.sizeLimit"), size);
                }
                set(format!("{prefix}.mount.path"), mount);
                set(format!("{prefix}.mount.readOnly"), "false".into());
            }
            Some("pvc") => {
                let prefix = format!(
                    "spark.kubernetes.executor.volumes.persistentVolumeClaim.{LOCAL_DIR_VOLUME}"
                );
                set(format!("{prefix}.options.claimName"), "OnDemand".into());
                if let Some(class) = local.get("storageClass").and_then(Value::as_str) {
                    set(format!("{prefix}.options.storageClass"), class.to_owned());
                }
                if let Some(size) = local.get("size").map(text) {
                    set(format!("{prefix}.options.sizeLimit"), size);
                }
                set(format!("{prefix}.mount.path"), mount);
                set(format!("{prefix}.mount.readOnly"), "false".into());
                // Executors that are replaced pick up the volume of the one they replace.
                set(
                    "spark.kubernetes.driver.ownPersistentVolumeClaim".into(),
                    "true".into(),
                );
                set(
                    "spark.kubernetes.driver.reusePersistentVolumeClaim".into(),
                    "true".into(),
                );
            }
            _ => {}
        }
    }
    conf
}

fn dynamic_allocation(values: &Value) -> Value {
    match values.get("dynamicAllocation") {
        Some(Value::Object(da)) => {
            let mut da = da.clone();
            // Kubernetes has no external shuffle service: without shuffle
            // tracking, dynamic allocation loses shuffle data.
            da.entry("shuffleTrackingEnabled")
                .or_insert(Value::Bool(true));
            Value::Object(da)
        }
        _ => Value::Null,
    }
}

/// The operator requires both expose flags once monitoring is set; asking
/// for monitoring means wanting the metrics, so both default to on.
fn monitoring(values: &Value) -> Value {
    match values.get("monitoring") {
        Some(Value::Object(m)) => {
            let mut m = m.clone();
            m.entry("exposeDriverMetrics").or_insert(Value::Bool(true));
            m.entry("exposeExecutorMetrics")
                .or_insert(Value::Bool(true));
            Value::Object(m)
        }
        _ => Value::Null,
    }
}

fn role(values: &Value, name: &str) -> Value {
    let empty = Map::new();
    let r = values
        .get(name)
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let given = |key: &str| r.get(key).filter(|v| !v.is_null()).cloned();
    // sluice's map form `{NAME: value}`, or the CRD's list of EnvVar, then
    // what `secrets` puts in the environment; and the Secrets it mounts.
    let mut env: Vec<Value> = match r.get("env") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| json!({"name": k, "value": text(v)}))
            .collect(),
        Some(Value::Array(items)) => items.iter().map(env_var).collect(),
        _ => Vec::new(),
    };
    let mut mounted = Vec::new();
    for secret in values
        .get("secrets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(secret_name) = secret.get("name").and_then(Value::as_str) else {
            continue;
        };
        for (var, key) in secret
            .get("env")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            env.push(json!({"name": var, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": text(key)}}}));
        }
        if let Some(path) = secret.get("path").and_then(Value::as_str) {
            let kind = secret
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("Generic");
            mounted.push(json!({"name": secret_name, "path": path, "secretType": kind}));
        }
    }
    let mut env = Some(env).filter(|e| !e.is_empty()).map(Value::Array);
    // Every field of the CRD's pod spec is written in values under its own
    // name and passes through; the few below are reshaped or filled in
    // (those filled in from outside the role are ROLE_FROM_ELSEWHERE).
    let mut field = |key: &str| -> Option<Value> {
        match key {
            "env" => env.take(),
            // The CRD's own `secrets` list first, then the ones `secrets` mounts.
            "secrets" if !mounted.is_empty() => {
                let mut all = r
                    .get("secrets")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                all.append(&mut mounted);
                Some(Value::Array(all))
            }
            "nodeSelector" | "tolerations" => r.get(key).or_else(|| values.get(key)).cloned(),
            "template" => values
                .get("podTemplate")
                .and_then(|t| t.get(name))
                .filter(|t| !t.is_null())
                .cloned()
                .or_else(|| given(key)),
            "coreRequest" | "coreLimit" | "memory" | "memoryOverhead" | "memoryLimit" => {
                match r.get(key) {
                    Some(v) if v.is_number() => Some(Value::String(text(v))),
                    _ => given(key),
                }
            }
            "labels" | "annotations" | "serviceLabels" | "serviceAnnotations" => match r.get(key) {
                Some(m) if m.is_object() => Some(Value::Object(strings(Some(m)))),
                _ => given(key),
            },
            _ => given(key),
        }
    };
    // The keys sluice has always rendered keep their place; every other
    // CRD field follows in the order the values give it.
    let mut out = Map::new();
    for key in ROLE_ORDER {
        // A role sets a few of these keys: a pass over its keys is cheaper
        // than a hashed lookup of each.
        if (ROLE_FROM_ELSEWHERE.contains(key) || r.keys().any(|k| k == key))
            && let Some(v) = field(key)
        {
            out.insert((*key).to_owned(), v);
        }
    }
    for key in r.keys() {
        if !ROLE_ORDER.contains(&key.as_str())
            && let Some(v) = field(key)
        {
            out.insert(key.clone(), v);
        }
    }
    Value::Object(out)
}

/// The keys of a role that come first, in this order.
const ROLE_ORDER: &[&str] = &[
    "cores",
    "coreRequest",
    "coreLimit",
    "memory",
    "memoryOverhead",
    "instances",
    "javaOptions",
    "deleteOnTermination",
    "serviceAccount",
    "labels",
    "annotations",
    "env",
    "secrets",
    "nodeSelector",
    "tolerations",
    "sidecars",
    "template",
];

/// The keys of a role that `role` may fill in from outside it (`secrets`,
/// the stream's own `nodeSelector` and `tolerations`, `podTemplate`): the
/// only ones it looks up when the role does not set them.
const ROLE_FROM_ELSEWHERE: &[&str] = &["env", "secrets", "nodeSelector", "tolerations", "template"];

/// An EnvVar of the CRD's list form, its `value` as text.
fn env_var(item: &Value) -> Value {
    let mut item = item.clone();
    if let Some(v) = item.get_mut("value")
        && !v.is_string()
        && !v.is_null()
    {
        *v = Value::String(text(v));
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_forms() {
        assert_eq!(
            image(&json!({"spark": {"image": "a:1"}})).as_deref(),
            Some("a:1")
        );
        assert_eq!(
            image(&json!({"image": {"repository": "r", "tag": 2}})).as_deref(),
            Some("r:2")
        );
        assert_eq!(
            image(&json!({"spark": {"image": "a:1"}, "image": {"repository": "r", "tag": "t"}}))
                .as_deref(),
            Some("r:t")
        );
        assert_eq!(image(&json!({})), None);
    }

    #[test]
    fn restart_policy_forms() {
        assert_eq!(restart_policy(&json!({})), json!({"type": "Always"}));
        assert_eq!(
            restart_policy(
                &json!({"restartPolicy": "OnFailure", "maxSubmissionRetries": 5, "maxRetries": 3, "retryInterval": 30, "submissionRetryInterval": 20})
            ),
            json!({"type": "OnFailure", "onFailureRetries": 3, "onFailureRetryInterval": 30, "onSubmissionFailureRetries": 5, "onSubmissionFailureRetryInterval": 20})
        );
        assert_eq!(
            restart_policy(
                &json!({"restartPolicy": {"type": "OnFailure", "onFailureRetries": 9}, "maxRetries": 3})
            ),
            json!({"type": "OnFailure", "onFailureRetries": 9})
        );
    }

    #[test]
    fn checkpoint_and_local_dirs() {
        let v = json!({"sink": "s3a://lake/raw/orders/", "sparkConf": {"spark.x": 1, "spark.y": true}, "localDirs": {"type": "pvc", "storageClass": "gp3", "size": "100Gi"}});
        let conf = spark_conf("orders", &v);
        assert_eq!(
            conf["spark.sql.streaming.checkpointLocation"],
            "s3a://lake/raw/orders/_checkpoints/orders"
        );
        assert_eq!(conf["spark.x"], "1");
        assert_eq!(conf["spark.y"], "true");
        assert_eq!(
            conf["spark.kubernetes.executor.volumes.persistentVolumeClaim.spark-local-dir-1.options.claimName"],
            "OnDemand"
        );
        assert_eq!(
            conf["spark.kubernetes.executor.volumes.persistentVolumeClaim.spark-local-dir-1.options.sizeLimit"],
            "100Gi"
        );
        let explicit = json!({"sink": "s3a://a", "checkpointLocation": "s3a://cp/orders"});
        assert_eq!(
            spark_conf("orders", &explicit)["spark.sql.streaming.checkpointLocation"],
            "s3a://cp/orders"
        );
        let user = json!({"sink": "s3a://a", "sparkConf": {"spark.sql.streaming.checkpointLocation": "s3a://mine"}});
        assert_eq!(
            spark_conf("orders", &user)["spark.sql.streaming.checkpointLocation"],
            "s3a://mine"
        );
        assert_eq!(
            spark_conf("o", &json!({"localDirs": {"type": "tmpfs"}}))["spark.kubernetes.local.dirs.tmpfs"],
            "true"
        );
    }

    #[test]
    fn roles_take_secrets_env_and_placement() {
        let v = json!({
            "nodeSelector": {"pool": "spark"},
            "executor": {"cores": 2, "coreRequest": 1.5, "instances": 3, "env": {"A": 1}, "nodeSelector": {"pool": "spot"}},
            "secrets": [{"name": "kafka", "env": {"PASS": "password"}}, {"name": "gcp", "path": "/mnt/gcp", "type": "GCPServiceAccount"}],
            "podTemplate": {"driver": {"spec": {"priorityClassName": "high"}}}
        });
        let e = role(&v, "executor");
        assert_eq!(e["coreRequest"], "1.5");
        assert_eq!(
            e["env"],
            json!([{"name": "A", "value": "1"}, {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "kafka", "key": "password"}}}])
        );
        assert_eq!(
            e["secrets"],
            json!([{"name": "gcp", "path": "/mnt/gcp", "secretType": "GCPServiceAccount"}])
        );
        assert_eq!(e["nodeSelector"], json!({"pool": "spot"}));
        let d = role(&v, "driver");
        assert_eq!(d["nodeSelector"], json!({"pool": "spark"}));
        assert_eq!(
            d["template"],
            json!({"spec": {"priorityClassName": "high"}})
        );
        assert!(d.get("instances").is_none());
    }

    #[test]
    fn crd_fields_pass_through_under_their_own_names() {
        let v = json!({
            "sparkVersion": "3.5.1",
            "mainApplicationFile": "local:///app.jar",
            "image": "spark:3.5.1",
            "timeToLiveSeconds": 30,
            "volumes": [{"name": "v", "emptyDir": {}}],
            "proxyUser": "etl",
            "executor": {
                "securityContext": {"runAsUser": 185},
                "volumeMounts": [{"name": "v", "mountPath": "/v"}],
                "env": [{"name": "A", "value": 1}, {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
                "instances": 2
            }
        });
        let d = derive("s", &v);
        assert_eq!(d["sparkVersion"], "3.5.1");
        assert_eq!(d["mainApplicationFile"], "local:///app.jar");
        assert_eq!(d["image"], "spark:3.5.1");
        assert_eq!(d["mode"], "cluster");
        assert_eq!(
            d["extra"],
            json!({"proxyUser": "etl", "volumes": [{"name": "v", "emptyDir": {}}], "timeToLiveSeconds": 30})
        );
        let e = &d["executor"];
        assert_eq!(e["securityContext"], json!({"runAsUser": 185}));
        assert_eq!(e["volumeMounts"], json!([{"name": "v", "mountPath": "/v"}]));
        assert_eq!(
            e["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}])
        );
        // Known keys keep their place before the rest.
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["instances", "env", "securityContext", "volumeMounts"]
        );
    }

    /// CRD fields after sluice's own keys, in the order the values give
    /// them, however many there are.
    #[test]
    fn passthrough_fields_keep_the_values_order() {
        let v = json!({"executor": {
            "securityContext": {"runAsUser": 185},
            "priorityClassName": "high",
            "memory": 4,
            "volumeMounts": [],
            "hostAliases": [],
            "schedulerName": "s",
            "cores": 2
        }});
        let e = role(&v, "executor");
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "cores",
                "memory",
                "securityContext",
                "priorityClassName",
                "volumeMounts",
                "hostAliases",
                "schedulerName"
            ]
        );
        assert_eq!(e["memory"], "4");
    }

    #[test]
    fn local_dirs_honour_size_and_mount_path() {
        let prefix = format!("spark.kubernetes.executor.volumes.emptyDir.{LOCAL_DIR_VOLUME}");
        for kind in ["tmpfs", "emptyDir"] {
            let conf = spark_conf(
                "o",
                &json!({"localDirs": {"type": kind, "size": "8Gi", "mountPath": "/scratch"}}),
            );
            assert_eq!(
                conf[&format!("{prefix}.options.sizeLimit")],
                "8Gi",
                "{kind}"
            );
            assert_eq!(conf[&format!("{prefix}.mount.path")], "/scratch", "{kind}");
            assert_eq!(
                conf.get(&format!("{prefix}.options.medium")).is_some(),
                kind == "tmpfs"
            );
        }
        // Without a size the volume is still declared, at the default path.
        let conf = spark_conf("o", &json!({"localDirs": {"type": "emptyDir"}}));
        assert_eq!(
            conf[&format!("{prefix}.mount.path")],
            DEFAULT_LOCAL_DIR_MOUNT
        );
    }
}
