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

/// What the pipeline asks of an engine about a stream's rendered or live
/// object: the planner (impact), the diff and reports (state, requests),
/// prune (what a stop does to the state), `--wait` and `status` (health).
/// Each answer is the engine module's own (`crate::spark`, `crate::flink`).
impl Engine {
    /// The engine whose stream object has this kind.
    pub fn of_kind(kind: &str) -> Option<Engine> {
        Engine::ALL.iter().copied().find(|e| e.kind() == kind)
    }

    /// The engine whose stream object this is (by apiVersion and kind).
    pub fn of_object(object: &serde_json::Value) -> Option<Engine> {
        let text = |k: &str| object.get(k).and_then(serde_json::Value::as_str);
        let engine = Engine::of_kind(text("kind")?)?;
        let group = |av: &str| av.split_once('/').map_or("", |(g, _)| g).to_owned();
        (group(text("apiVersion").unwrap_or(engine.api_version())) == group(engine.api_version()))
            .then_some(engine)
    }

    /// The operator that runs the engine's streams.
    pub fn operator(self) -> &'static str {
        match self {
            Engine::Spark => "spark-operator",
            Engine::Flink => "the Flink Kubernetes Operator",
        }
    }

    /// The defaults sluice applies where these values say nothing (for
    /// `values --provenance`).
    pub fn defaults(self, values: &serde_json::Value) -> Vec<crate::spark::derive::Default> {
        match self {
            Engine::Spark => crate::spark::derive::defaults(values),
            Engine::Flink => crate::flink::build::defaults(values),
        }
    }

    /// What the reports' requests count for a stream of this engine.
    pub fn requests_basis(self) -> &'static str {
        match self {
            Engine::Spark => "driver + executors × instances, overhead included",
            Engine::Flink => "Flink: JobManagers × replicas + TaskManagers",
        }
    }

    /// Whether the engine's status has a lifecycle and savepoints, which
    /// `sluice status` shows as columns of their own.
    pub fn reports_lifecycle(self) -> bool {
        match self {
            Engine::Spark => false,
            Engine::Flink => true,
        }
    }

    /// The operator's error on a live object that stays until the
    /// operator looks at a new spec (Flink's `status.error`); a status
    /// with it is the previous spec's until then. Spark's status is
    /// replaced by a new submission instead.
    pub fn lingering_error(self, live: &serde_json::Value) -> Option<String> {
        match self {
            Engine::Spark => None,
            Engine::Flink => crate::flink::health::error(live),
        }
    }

    /// The apiVersion of the stream object.
    pub fn api_version(self) -> &'static str {
        match self {
            Engine::Spark => "sparkoperator.k8s.io/v1beta2",
            Engine::Flink => crate::flink::build::API_VERSION,
        }
    }

    /// The stream object's API resource (no discovery needed).
    pub fn resource(self) -> kube::core::ApiResource {
        let (group, version) = self.api_version().split_once('/').expect("a group");
        kube::core::ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: self.api_version().into(),
            kind: self.kind().into(),
            plural: format!("{}s", self.kind().to_ascii_lowercase()),
        }
    }

    /// Where the stream keeps its state (a Spark checkpoint, Flink's
    /// checkpoint directory), any credential in it masked.
    pub fn state_location(self, object: &serde_json::Value) -> Option<String> {
        let location = match self {
            Engine::Spark => crate::spark::stream::checkpoint(object),
            Engine::Flink => object
                .pointer("/spec/flinkConfiguration")
                .and_then(serde_json::Value::as_object)
                .and_then(crate::flink::build::checkpoint_dir),
        }?;
        Some(crate::secret::mask_text(location, &[] as &[&str]).into_owned())
    }

    /// Whether the object asks for the stream to be suspended.
    pub fn suspended(self, object: &serde_json::Value) -> bool {
        match self {
            Engine::Spark => crate::spark::stream::suspended(object),
            Engine::Flink => {
                object
                    .pointer("/spec/job/state")
                    .and_then(serde_json::Value::as_str)
                    == Some("suspended")
            }
        }
    }

    /// What a spec change does to the running stream, its state location
    /// the same on both sides (`spec_paths`: the changed spec fields).
    pub fn change_impact(
        self,
        before: &serde_json::Value,
        after: &serde_json::Value,
        spec_paths: &[Vec<String>],
    ) -> crate::plan::Impact {
        match self {
            Engine::Spark => crate::spark::stream::change_impact(before, after, spec_paths),
            Engine::Flink => crate::flink::impact::plan_impact(before, after, spec_paths),
        }
    }

    /// What pruning the live object does to the stream and its state.
    pub fn stop_impact(self, live: &serde_json::Value) -> crate::plan::Impact {
        let checkpoint = self.state_location(live);
        match self {
            Engine::Spark => crate::plan::Impact::Stop {
                checkpoint,
                savepoint: None,
                deletes_state: false,
            },
            Engine::Flink => crate::flink::impact::stop_impact(live, checkpoint),
        }
    }

    /// What identifies the stream across a rename.
    pub fn identity(self, object: &serde_json::Value) -> Option<String> {
        match self {
            Engine::Spark => crate::spark::stream::identity(object),
            Engine::Flink => crate::flink::impact::identity(object),
        }
    }

    /// What the object asks the cluster for (nothing while suspended).
    pub fn requests(self, object: &serde_json::Value) -> crate::resources::Requests {
        if self.suspended(object) {
            return crate::resources::Requests::default();
        }
        match self {
            Engine::Spark => crate::resources::spark(object),
            Engine::Flink => crate::flink::resources::of(object),
        }
    }

    /// Where the live stream stands (`None`: not created yet).
    pub fn assess(
        self,
        live: Option<&serde_json::Value>,
        expect: &crate::health::Expect,
    ) -> crate::health::Assessment {
        match self {
            Engine::Spark => crate::health::assess(live, expect),
            Engine::Flink => crate::flink::health::assess(live, expect),
        }
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
        // Two shared layers may write `podTemplate` in both forms (Spark's
        // roles in common.yaml, Flink's template in an environment): the
        // merge holds both; each stream keeps its engine's part.
        if let Some(Value::Map(template)) = entries
            .iter_mut()
            .find(|e| e.key == "podTemplate")
            .map(|e| &mut e.value.value)
        {
            let spark_role = |k: &str| k == "driver" || k == "executor";
            template.retain(|e| spark_role(&e.key) == (engine == Engine::Spark));
        }
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
        // Both forms merged from two layers: each engine keeps its part.
        let mixed = node("podTemplate: {driver: {spec: {}}, spec: {priorityClassName: low}}\n");
        for (engine, kept) in [(Engine::Flink, "spec"), (Engine::Spark, "driver")] {
            let mut values = mixed.clone();
            keep_applicable(&mut values, engine);
            let template = values.get("podTemplate").unwrap().as_map().unwrap();
            let keys: Vec<&str> = template.iter().map(|e| e.key.as_str()).collect();
            assert_eq!(keys, [kept], "{engine:?}");
        }
    }

    #[test]
    fn the_engine_is_spark_unless_named() {
        assert_eq!(Engine::of(&node("sink: x\n")), Engine::Spark);
        assert_eq!(Engine::of(&node("engine: flink\n")), Engine::Flink);
        assert_eq!(Engine::Flink.counterpart("driver"), Some("jobManager"));
        assert_eq!(Engine::Spark.counterpart("taskManager"), Some("executor"));
    }
}
