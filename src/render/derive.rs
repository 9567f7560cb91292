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

/// The `derived` object of the template context.
pub fn derive(stream: &str, values: &Value) -> Value {
    let mut out = Map::new();
    out.insert(
        "image".into(),
        image(values).map_or(Value::Null, Value::String),
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
    Value::Object(out)
}

/// `spark.image`, or `image.repository[:image.tag]` (which wins when both
/// are set: it is the more specific form).
pub fn image(values: &Value) -> Option<String> {
    if let Some(repo) = values.pointer("/image/repository").and_then(Value::as_str) {
        return Some(match values.pointer("/image/tag") {
            Some(tag) if !tag.is_null() => format!("{repo}:{}", text(tag)),
            _ => repo.to_owned(),
        });
    }
    values
        .pointer("/spark/image")
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
        _ => json!({ "type": "Always" }),
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
    values
        .pointer("/sparkConf/spark.sql.streaming.checkpointLocation")
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
            Some("tmpfs") => set("spark.kubernetes.local.dirs.tmpfs".into(), "true".into()),
            Some("pvc") => {
                let prefix = format!(
                    "spark.kubernetes.executor.volumes.persistentVolumeClaim.{LOCAL_DIR_VOLUME}"
                );
                set(format!("{prefix}.options.claimName"), "OnDemand".into());
                if let Some(class) = local.get("storageClass").and_then(Value::as_str) {
                    set(format!("{prefix}.options.storageClass"), class.to_owned());
                }
                if let Some(size) = local.get("size").and_then(Value::as_str) {
                    set(format!("{prefix}.options.sizeLimit"), size.to_owned());
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
            Some("emptyDir") => {
                if let Some(size) = local.get("size").and_then(Value::as_str) {
                    let prefix =
                        format!("spark.kubernetes.executor.volumes.emptyDir.{LOCAL_DIR_VOLUME}");
                    set(format!("{prefix}.options.sizeLimit"), size.to_owned());
                    set(format!("{prefix}.mount.path"), mount);
                }
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
    let empty = Value::Object(Map::new());
    let r = values.get(name).unwrap_or(&empty);
    let mut out = Map::new();
    let copy = |out: &mut Map<String, Value>, key: &str| {
        if let Some(v) = r.get(key) {
            out.insert(key.to_owned(), v.clone());
        }
    };
    copy(&mut out, "cores");
    for key in ["coreRequest", "coreLimit"] {
        if let Some(v) = r.get(key) {
            out.insert(key.to_owned(), Value::String(text(v)));
        }
    }
    copy(&mut out, "memory");
    copy(&mut out, "memoryOverhead");
    copy(
        &mut out,
        if name == "executor" {
            "instances"
        } else {
            "javaOptions"
        },
    );
    copy(&mut out, "deleteOnTermination");
    copy(&mut out, "serviceAccount");
    copy(&mut out, "labels");
    copy(&mut out, "annotations");
    let mut env: Vec<Value> = r
        .get("env")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| json!({"name": k, "value": text(v)}))
                .collect()
        })
        .unwrap_or_default();
    let mut secrets = Vec::new();
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
            secrets.push(json!({"name": secret_name, "path": path, "secretType": kind}));
        }
    }
    if !env.is_empty() {
        out.insert("env".into(), Value::Array(env));
    }
    if !secrets.is_empty() {
        out.insert("secrets".into(), Value::Array(secrets));
    }
    for key in ["nodeSelector", "tolerations"] {
        if let Some(v) = r.get(key).or_else(|| values.get(key)) {
            out.insert(key.to_owned(), v.clone());
        }
    }
    copy(&mut out, "sidecars");
    if let Some(template) = values.pointer(&format!("/podTemplate/{name}")) {
        out.insert("template".into(), template.clone());
    }
    Value::Object(out)
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
}
