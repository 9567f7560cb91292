//! What runs a stream (pure): Spark (the spark-operator's
//! SparkApplication, the default) or Flink (the Flink Kubernetes
//! Operator's FlinkDeployment), chosen by the values key `engine`.
//!
//! Each engine owns some top-level values keys; the rest are shared
//! (`name`, `image`, `sink`, `labels`, ...). `common.yaml` and the
//! environment files are shared by every stream, so a key of the other
//! engine set there does not apply to a stream (a repository whose
//! `common.yaml` holds Spark defaults can add a Flink stream as it is);
//! in a stream's own file it is an error (`values/other-engine-key`).
//! Two keys both engines name take different forms: `mode` (Spark's
//! `cluster`/`client`, Flink's `native`/`standalone`) and `podTemplate`
//! (Spark's `driver`/`executor` templates, Flink's pod template itself);
//! a shared file's value in the other engine's form does not apply either.

use crate::values::yaml::{Node, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Spark,
    Flink,
}

/// Keys every engine reads.
pub const SHARED_KEYS: &[&str] = &[
    "name",
    "engine",
    "enabled",
    "suspend",
    "image",
    "imagePullPolicy",
    "imagePullSecrets",
    "mainClass",
    "applicationFile",
    "arguments",
    "labels",
    "annotations",
    "sink",
    "secrets",
    "monitoring",
    "lint",
    "mode",
    "podTemplate",
];

/// Keys only Flink streams read; every other key is Spark's.
pub const FLINK_KEYS: &[&str] = &[
    "flink",
    "flinkVersion",
    "flinkConfiguration",
    "job",
    "jobManager",
    "taskManager",
    "serviceAccount",
    "ingress",
    "logConfiguration",
    "restartNonce",
];

impl Engine {
    pub const ALL: &'static [Engine] = &[Engine::Spark, Engine::Flink];

    /// The engine the values name (`engine`), Spark unless set.
    pub fn of(values: &Node) -> Engine {
        Engine::named(values.get("engine").and_then(Node::as_str))
    }

    /// As [`of`](Self::of), for JSON values.
    pub fn of_json(values: &serde_json::Value) -> Engine {
        Engine::named(values.get("engine").and_then(serde_json::Value::as_str))
    }

    /// The engine a value of `engine` names (Spark for any other).
    pub fn named(name: Option<&str>) -> Engine {
        match name {
            Some("flink") => Engine::Flink,
            _ => Engine::Spark,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Spark => "spark",
            Engine::Flink => "flink",
        }
    }

    /// As a sentence names it.
    pub fn title(self) -> &'static str {
        match self {
            Engine::Spark => "Spark",
            Engine::Flink => "Flink",
        }
    }

    /// The kind of object a stream of this engine renders to.
    pub fn kind(self) -> &'static str {
        match self {
            Engine::Spark => "SparkApplication",
            Engine::Flink => "FlinkDeployment",
        }
    }

    /// Which engine owns a top-level key (`None`: shared).
    pub fn owning(key: &str) -> Option<Engine> {
        if SHARED_KEYS.contains(&key) {
            None
        } else if FLINK_KEYS.contains(&key) {
            Some(Engine::Flink)
        } else {
            Some(Engine::Spark)
        }
    }

    /// Whether a top-level key and its value apply to a stream of this
    /// engine: a shared key in this engine's form, or a key of its own.
    pub fn takes(self, key: &str, value: &Node) -> bool {
        match Engine::owning(key) {
            Some(owner) => owner == self,
            None => form_of(key, value).is_none_or(|e| e == self),
        }
    }

    /// This engine's key for a key of the other one, where there is one.
    pub fn counterpart(self, key: &str) -> Option<&'static str> {
        const PAIRS: &[(&str, &str)] = &[
            ("spark", "flink"),
            ("sparkVersion", "flinkVersion"),
            ("sparkConf", "flinkConfiguration"),
            ("driver", "jobManager"),
            ("executor", "taskManager"),
            ("mainApplicationFile", "job.jarURI (or applicationFile)"),
        ];
        PAIRS.iter().find_map(|(spark, flink)| match self {
            Engine::Flink if *spark == key => Some(*flink),
            Engine::Spark if *flink == key => Some(*spark),
            _ => None,
        })
    }
}

/// The engine a value of a shared key is written for, if only one takes
/// it: `mode: cluster` is Spark's, `podTemplate: {driver: ...}` too.
pub fn form_of(key: &str, value: &Node) -> Option<Engine> {
    match (key, &value.value) {
        ("mode", Value::String(mode)) => match mode.as_str() {
            "cluster" | "client" => Some(Engine::Spark),
            "native" | "standalone" => Some(Engine::Flink),
            _ => None,
        },
        ("podTemplate", Value::Map(entries)) => {
            let spark = entries
                .iter()
                .any(|e| e.key == "driver" || e.key == "executor");
            let flink = entries
                .iter()
                .any(|e| e.key != "driver" && e.key != "executor");
            match (spark, flink) {
                (true, false) => Some(Engine::Spark),
                (false, true) => Some(Engine::Flink),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Leaves out of a shared layer's values the top-level keys that do not
/// apply to a stream of `engine`.
pub fn keep_applicable(values: &mut Node, engine: Engine) {
    if let Value::Map(entries) = &mut values.value {
        entries.retain(|e| engine.takes(&e.key, &e.value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    fn node(yaml: &str) -> Node {
        crate::values::yaml::parse(FileId(0), yaml).unwrap()
    }

    #[test]
    fn keys_belong_to_an_engine_or_to_both() {
        assert_eq!(Engine::owning("driver"), Some(Engine::Spark));
        assert_eq!(Engine::owning("sparkConf"), Some(Engine::Spark));
        assert_eq!(Engine::owning("jobManager"), Some(Engine::Flink));
        assert_eq!(Engine::owning("sink"), None);
        let flink = node("mode: standalone\npodTemplate: {spec: {}}\n");
        let spark = node("mode: cluster\npodTemplate: {driver: {}}\n");
        for key in ["mode", "podTemplate"] {
            assert!(Engine::Flink.takes(key, flink.get(key).unwrap()), "{key}");
            assert!(!Engine::Spark.takes(key, flink.get(key).unwrap()), "{key}");
            assert!(Engine::Spark.takes(key, spark.get(key).unwrap()), "{key}");
            assert!(!Engine::Flink.takes(key, spark.get(key).unwrap()), "{key}");
        }
        // A form neither engine owns alone is left to the schema to judge.
        let odd = node("mode: sideways\npodTemplate: {driver: {}, spec: {}}\n");
        assert!(Engine::Flink.takes("mode", odd.get("mode").unwrap()));
        assert!(Engine::Spark.takes("podTemplate", odd.get("podTemplate").unwrap()));
    }

    #[test]
    fn a_shared_layer_keeps_what_applies() {
        let mut values =
            node("sink: s3a://b/x\ndriver: {cores: 1}\nmode: cluster\njobManager: {replicas: 1}\n");
        keep_applicable(&mut values, Engine::Flink);
        let keys: Vec<&str> = values
            .as_map()
            .unwrap()
            .iter()
            .map(|e| e.key.as_str())
            .collect();
        assert_eq!(keys, ["sink", "jobManager"]);
    }

    #[test]
    fn the_engine_is_spark_unless_named() {
        assert_eq!(Engine::of(&node("sink: x\n")), Engine::Spark);
        assert_eq!(Engine::of(&node("engine: flink\n")), Engine::Flink);
        assert_eq!(Engine::Flink.counterpart("driver"), Some("jobManager"));
        assert_eq!(Engine::Spark.counterpart("taskManager"), Some("executor"));
    }
}
