//! The built-in SparkApplication, built natively (pure).
//!
//! The same object the built-in template (`templates/sparkapplication.yaml.j2`)
//! renders, key for key and in the same order, without evaluating a
//! template and parsing its text back: about a tenth of the cost per
//! stream. A repository's own `templates/sparkapplication.yaml.j2` still
//! goes through minijinja. `tests/native.rs` renders every fixture both
//! ways and requires the same bytes.

use super::derive;
use serde_json::{Map, Value};

/// The object the built-in template renders for one stream in one
/// environment (before sluice's labels and annotations are added).
pub fn spark_application(
    stream: &str,
    namespace: Option<&str>,
    values: &Value,
    derived: &Value,
) -> Value {
    spark_application_from(stream, namespace, values, derived.clone())
}

/// [`spark_application`], moving what it needs out of `derived` instead
/// of copying it (when nothing else renders from it).
pub fn spark_application_from(
    stream: &str,
    namespace: Option<&str>,
    values: &Value,
    mut derived: Value,
) -> Value {
    let get = |key: &str| values.get(key);
    let truthy = |v: &Value| match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    };
    let mut derived_of = |key: &str| derived.get_mut(key).map_or(Value::Null, Value::take);

    let mut metadata = Map::new();
    metadata.insert("name".into(), Value::String(stream.to_owned()));
    metadata.insert(
        "namespace".into(),
        namespace.map_or(Value::Null, |n| Value::String(n.to_owned())),
    );
    for key in ["labels", "annotations"] {
        if let Some(v) = get(key) {
            metadata.insert(key.into(), v.clone());
        }
    }

    let mut spec = Map::new();
    let kind = get("type")
        .cloned()
        .unwrap_or_else(|| Value::String(derive::DEFAULT_TYPE.into()));
    let python = kind == "Python";
    spec.insert("type".into(), kind);
    if python {
        spec.insert(
            "pythonVersion".into(),
            get("pythonVersion")
                .cloned()
                .unwrap_or_else(|| Value::String(derive::DEFAULT_PYTHON_VERSION.into())),
        );
    }
    spec.insert("sparkVersion".into(), derived_of("sparkVersion"));
    spec.insert("mode".into(), derived_of("mode"));
    spec.insert("image".into(), derived_of("image"));
    for key in ["imagePullPolicy", "imagePullSecrets", "mainClass"] {
        if let Some(v) = get(key) {
            spec.insert(key.into(), v.clone());
        }
    }
    spec.insert(
        "mainApplicationFile".into(),
        derived_of("mainApplicationFile"),
    );
    let arguments = derived_of("arguments");
    if truthy(&arguments) {
        spec.insert("arguments".into(), arguments);
    }
    spec.insert("restartPolicy".into(), derived_of("restartPolicy"));
    if let Some(v) = get("suspend") {
        spec.insert("suspend".into(), v.clone());
    }
    for key in ["sparkConf", "hadoopConf"] {
        let v = derived_of(key);
        if truthy(&v) {
            spec.insert(key.into(), v);
        }
    }
    if let Some(v) = get("deps") {
        spec.insert("deps".into(), v.clone());
    }
    for key in ["dynamicAllocation", "monitoring"] {
        let v = derived_of(key);
        if truthy(&v) {
            spec.insert(key.into(), v);
        }
    }
    for key in ["batchScheduler", "batchSchedulerOptions"] {
        if let Some(v) = get(key) {
            spec.insert(key.into(), v.clone());
        }
    }
    if let Value::Object(extra) = derived_of("extra") {
        for (k, v) in extra {
            spec.insert(k, v);
        }
    }
    spec.insert("driver".into(), derived_of("driver"));
    spec.insert("executor".into(), derived_of("executor"));

    let mut object = Map::new();
    object.insert(
        "apiVersion".into(),
        Value::String("sparkoperator.k8s.io/v1beta2".into()),
    );
    object.insert("kind".into(), Value::String("SparkApplication".into()));
    object.insert("metadata".into(), Value::Object(metadata));
    object.insert("spec".into(), Value::Object(spec));
    Value::Object(object)
}
