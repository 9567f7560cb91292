//! Desired objects vs live ones → a plan (pure).
//!
//! Whether an object needs a write is decided without asking the server:
//! from the live object (one LIST per kind and namespace) and the field set
//! the `sluice` field manager owns in its `managedFields`. A desired value
//! that differs, a desired field the object lacks, or a field sluice owns
//! that the values no longer set (it must be removed) all mean a write; an
//! object whose desired state already holds is left alone, so a no-op
//! apply sends no PATCH and the operator never restarts a stream for
//! nothing. A change restarts the stream when it touches `spec` (except
//! `suspend` and `timeToLiveSeconds`): spark-operator resubmits the
//! application on any other spec change.

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The field manager name sluice applies with.
pub const FIELD_MANAGER: &str = "sluice";

/// Spec fields whose change spark-operator applies without a resubmission.
const NO_RESTART_SPEC_FIELDS: &[&str] = &["suspend", "timeToLiveSeconds"];

type Path = Vec<String>;

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Create,
    /// `paths` are the fields that differ (dotted); `adopt` when the values
    /// already hold but sluice does not own them yet.
    Update {
        restarts: bool,
        paths: Vec<String>,
        adopt: bool,
    },
    Unchanged,
    /// Live, in the ApplySet, no longer rendered.
    Delete,
}

/// One object's part of the plan.
#[derive(Clone, Debug)]
pub struct Change {
    pub stream: String,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub action: Action,
    pub desired: Option<Value>,
    pub live: Option<Value>,
}

impl Change {
    pub fn restarts(&self) -> bool {
        match &self.action {
            Action::Update { restarts, .. } => *restarts,
            _ => false,
        }
    }

    pub fn writes(&self) -> bool {
        !matches!(self.action, Action::Unchanged)
    }
}

/// Compares one desired object with its live counterpart.
pub fn decide(desired: &Value, live: Option<&Value>) -> Action {
    let Some(live) = live else {
        return Action::Create;
    };
    let kind = desired.get("kind").and_then(Value::as_str).unwrap_or("");
    let wanted = leaves(desired);
    // (See `holds` for what counts as the same value.)
    let mut differing: BTreeSet<Path> = BTreeSet::new();
    let secret = kind == "Secret";
    for (path, value) in &wanted {
        if !holds(live, path, value, secret) {
            differing.insert(path.clone());
        }
    }
    let owned = owned_fields(live);
    if let Some(owned) = &owned {
        for path in owned {
            let still_wanted = wanted
                .keys()
                .any(|w| w.starts_with(path) || path.starts_with(w));
            if !still_wanted {
                differing.insert(path.clone());
            }
        }
    }
    if differing.is_empty() {
        return match owned {
            Some(_) => Action::Unchanged,
            // Right values, but not ours yet: apply once to take ownership,
            // so that removing a value later removes the field.
            None => Action::Update {
                restarts: false,
                paths: Vec::new(),
                adopt: true,
            },
        };
    }
    update(kind, &differing)
}

/// An update of the fields in `differing`: a SparkApplication restarts
/// when any of them is in `spec`, other than `suspend` and
/// `timeToLiveSeconds`.
fn update(kind: &str, differing: &BTreeSet<Path>) -> Action {
    let restarts = kind == "SparkApplication"
        && differing.iter().any(|p| {
            p.first().is_some_and(|f| f == "spec")
                && !p
                    .get(1)
                    .is_some_and(|f| NO_RESTART_SPEC_FIELDS.contains(&f.as_str()))
        });
    Action::Update {
        restarts,
        paths: differing.iter().map(|p| p.join(".")).collect(),
        adopt: false,
    }
}

/// Output order: by stream, the SparkApplication first, then kind and name.
pub fn sort(changes: &mut [Change]) {
    changes.sort_by(|a, b| {
        (&a.stream, a.kind != "SparkApplication", &a.kind, &a.name).cmp(&(
            &b.stream,
            b.kind != "SparkApplication",
            &b.kind,
            &b.name,
        ))
    });
}

/// Compares two renders of one object (offline, between git revisions):
/// every leaf counts, and a `spec` change other than `suspend` restarts.
pub fn compare(old: Option<&Value>, new: Option<&Value>) -> Action {
    let (old, new) = match (old, new) {
        (None, None) => return Action::Unchanged,
        (None, Some(_)) => return Action::Create,
        (Some(_), None) => return Action::Delete,
        (Some(o), Some(n)) => (o, n),
    };
    let (a, b) = (leaves(old), leaves(new));
    let mut differing: BTreeSet<Path> = BTreeSet::new();
    for (path, value) in &b {
        if a.get(path) != Some(value) {
            differing.insert(path.clone());
        }
    }
    for path in a.keys() {
        if !b.contains_key(path) {
            differing.insert(path.clone());
        }
    }
    if differing.is_empty() {
        return Action::Unchanged;
    }
    let kind = new.get("kind").and_then(Value::as_str).unwrap_or("");
    update(kind, &differing)
}

/// The leaf fields of a desired object (lists are atomic, as in a CRD
/// without list-type markers), without the object's identity.
pub fn leaves(object: &Value) -> BTreeMap<Path, &Value> {
    let mut out = BTreeMap::new();
    let mut path = Vec::new();
    if let Value::Object(map) = object {
        for (k, v) in map {
            if k == "apiVersion" || k == "kind" || k == "status" {
                continue;
            }
            if k == "metadata" {
                for key in ["labels", "annotations"] {
                    if let Some(v) = v.get(key) {
                        path.push("metadata".to_owned());
                        path.push(key.to_owned());
                        collect(v, &mut path, &mut out);
                        path.clear();
                    }
                }
                continue;
            }
            path.push(k.clone());
            collect(v, &mut path, &mut out);
            path.pop();
        }
    }
    out
}

fn collect<'a>(value: &'a Value, path: &mut Path, out: &mut BTreeMap<Path, &'a Value>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                path.push(k.clone());
                collect(v, path, out);
                path.pop();
            }
        }
        _ => {
            out.insert(path.clone(), value);
        }
    }
}

/// Whether the live object holds the desired value at `path`, as the API
/// server stores it: numbers compare by value (`1.0` is stored as `1`),
/// fields the server defaulted inside objects and list items are allowed,
/// an empty map or list may be dropped, and a Secret's write-only
/// `stringData` is compared with its `data`.
fn holds(live: &Value, path: &[String], desired: &Value, secret: bool) -> bool {
    if secret && path.first().is_some_and(|p| p == "stringData") {
        use base64::Engine;
        let encoded = desired
            .as_str()
            .map(|s| base64::engine::general_purpose::STANDARD.encode(s));
        let data: Vec<String> = std::iter::once("data".to_owned())
            .chain(path[1..].iter().cloned())
            .collect();
        return pointer(live, &data).and_then(Value::as_str) == encoded.as_deref();
    }
    match pointer(live, path) {
        Some(found) => matches(desired, found),
        None => {
            matches!(desired, Value::Object(m) if m.is_empty())
                || matches!(desired, Value::Array(a) if a.is_empty())
        }
    }
}

fn matches(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Number(a), Value::Number(b)) => a == b || a.as_f64() == b.as_f64(),
        (Value::Object(a), Value::Object(b)) => a.iter().all(|(k, v)| {
            b.get(k).is_some_and(|l| matches(v, l)) || (v.is_null() && !b.contains_key(k))
        }),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| matches(x, y))
        }
        (a, b) => a == b,
    }
}

fn pointer<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, k| v.get(k))
}

/// The leaf fields the `sluice` manager owns through apply, from the live
/// object's `managedFields`; `None` if it owns none.
pub fn owned_fields(live: &Value) -> Option<BTreeSet<Path>> {
    let entries = live.pointer("/metadata/managedFields")?.as_array()?;
    let entry = entries.iter().find(|e| {
        e.get("manager").and_then(Value::as_str) == Some(FIELD_MANAGER)
            && e.get("operation").and_then(Value::as_str) == Some("Apply")
    })?;
    let mut out = BTreeSet::new();
    if let Some(fields) = entry.get("fieldsV1") {
        walk_fields(fields, &mut Vec::new(), &mut out);
    }
    // Identity fields are not ours to remove.
    out.retain(
        |p| !matches!(p.as_slice(), [m, n] if m == "metadata" && (n == "name" || n == "namespace")),
    );
    Some(out)
}

fn walk_fields(fields: &Value, path: &mut Path, out: &mut BTreeSet<Path>) {
    let Some(map) = fields.as_object() else {
        return;
    };
    let named: Vec<(&String, &Value)> = map.iter().filter(|(k, _)| k.starts_with("f:")).collect();
    // List elements (`k:`, `v:`, `i:`) make the list itself the leaf: sluice
    // writes lists whole.
    let element = map
        .keys()
        .any(|k| k.starts_with("k:") || k.starts_with("v:") || k.starts_with("i:"));
    if (named.is_empty() || element) && !path.is_empty() {
        out.insert(path.clone());
        return;
    }
    for (k, child) in named {
        path.push(k[2..].to_owned());
        walk_fields(child, path, out);
        path.pop();
    }
}

/// The object as a reader compares it: without what the server owns.
pub fn without_server_fields(object: &Value) -> Value {
    let mut object = object.clone();
    if let Value::Object(map) = &mut object {
        map.remove("status");
        if let Some(Value::Object(meta)) = map.get_mut("metadata") {
            for key in [
                "managedFields",
                "resourceVersion",
                "generation",
                "uid",
                "creationTimestamp",
                "selfLink",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ] {
                meta.remove(key);
            }
            if let Some(Value::Object(annotations)) = meta.get_mut("annotations") {
                annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
                if annotations.is_empty() {
                    meta.remove("annotations");
                }
            }
        }
    }
    object
}

/// Masks values no diff may show: Secret data, and values of
/// credential-looking keys. Equal values mask equally, so a change still
/// shows as a changed line.
pub fn masked(object: &Value) -> Value {
    let secret = object.get("kind").and_then(Value::as_str) == Some("Secret");
    let mut object = object.clone();
    if let Value::Object(map) = &mut object {
        for (k, v) in map.iter_mut() {
            if secret && (k == "data" || k == "stringData") {
                if let Value::Object(data) = v {
                    for value in data.values_mut() {
                        *value = Value::String(fingerprint(value));
                    }
                }
            } else {
                mask_credentials(v);
            }
        }
    }
    object
}

fn mask_credentials(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let name = map.get("name").and_then(Value::as_str).map(str::to_owned);
            for (k, v) in map.iter_mut() {
                let secret = crate::secret::hides(k, name.as_deref());
                if secret && !v.is_object() && !v.is_array() {
                    *v = Value::String(fingerprint(v));
                } else {
                    mask_credentials(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_credentials),
        _ => {}
    }
}

/// A short hash that shows whether a hidden value changed. Salted per
/// process, so it cannot be looked up or matched across runs.
fn fingerprint(value: &Value) -> String {
    use sha2::{Digest, Sha256};
    use std::hash::{BuildHasher, Hasher};
    static SALT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let salt = SALT.get_or_init(|| {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    });
    let digest = Sha256::digest(format!("{salt}:{value}").as_bytes());
    let short: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("<hidden {short}>")
}

/// A unified diff of two objects as YAML (either may be absent).
pub fn unified_diff(before: Option<&Value>, after: Option<&Value>, label: &str) -> String {
    unified_diff_between(before, after, label, ("live", "rendered"))
}

/// [`unified_diff`] with the names of the two sides.
pub fn unified_diff_between(
    before: Option<&Value>,
    after: Option<&Value>,
    label: &str,
    sides: (&str, &str),
) -> String {
    let text = |v: Option<&Value>| {
        v.map(|v| crate::render::object_yaml(&masked(&without_server_fields(v))))
            .unwrap_or_default()
    };
    let (a, b) = (text(before), text(after));
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("{}/{label}", sides.0),
            &format!("{}/{label}", sides.1),
        )
        .to_string()
}

/// Every object of a kind that a plan covers, keyed by name.
pub fn by_name(objects: Vec<Value>) -> Map<String, Value> {
    objects
        .into_iter()
        .filter_map(|o| Some((o.pointer("/metadata/name")?.as_str()?.to_owned(), o)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(spec: Value, labels: Value) -> Value {
        json!({"apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "SparkApplication",
               "metadata": {"name": "orders", "namespace": "ns", "labels": labels}, "spec": spec})
    }

    /// A live object as the server returns it after sluice applied `applied`.
    fn live_after(applied: &Value, extra_spec: Value) -> Value {
        let mut live = applied.clone();
        let mut fields = json!({});
        for path in leaves(applied).keys() {
            let mut node = &mut fields;
            for seg in path {
                node = node
                    .as_object_mut()
                    .unwrap()
                    .entry(format!("f:{seg}"))
                    .or_insert(json!({}));
            }
        }
        live["metadata"]["managedFields"] = json!([{"manager": "sluice", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": fields}]);
        live["metadata"]["resourceVersion"] = json!("42");
        if let Value::Object(extra) = extra_spec {
            for (k, v) in extra {
                live["spec"][k] = v;
            }
        }
        live
    }

    #[test]
    fn decisions() {
        let desired = app(
            json!({"type": "Scala", "arguments": ["--a", "1"], "driver": {"cores": 1}}),
            json!({"team": "bi"}),
        );
        assert_eq!(decide(&desired, None), Action::Create);
        // The same, plus fields a webhook defaulted: unchanged.
        let live = live_after(&desired, json!({"mode": "cluster"}));
        assert_eq!(decide(&desired, Some(&live)), Action::Unchanged);
        // A spec value changes: restart.
        let changed = app(
            json!({"type": "Scala", "arguments": ["--a", "2"], "driver": {"cores": 1}}),
            json!({"team": "bi"}),
        );
        assert_eq!(
            decide(&changed, Some(&live)),
            Action::Update {
                restarts: true,
                paths: vec!["spec.arguments".into()],
                adopt: false
            }
        );
        // A label changes: no restart.
        let relabelled = app(
            json!({"type": "Scala", "arguments": ["--a", "1"], "driver": {"cores": 1}}),
            json!({"team": "data"}),
        );
        assert!(matches!(
            decide(&relabelled, Some(&live)),
            Action::Update {
                restarts: false,
                ..
            }
        ));
        // suspend: no restart.
        let suspended = app(
            json!({"type": "Scala", "arguments": ["--a", "1"], "driver": {"cores": 1}, "suspend": true}),
            json!({"team": "bi"}),
        );
        assert!(matches!(
            decide(&suspended, Some(&live)),
            Action::Update {
                restarts: false,
                ..
            }
        ));
        // A field removed from the values: sluice owns it, so it must go.
        let removed = app(
            json!({"type": "Scala", "arguments": ["--a", "1"]}),
            json!({"team": "bi"}),
        );
        assert_eq!(
            decide(&removed, Some(&live)),
            Action::Update {
                restarts: true,
                paths: vec!["spec.driver.cores".into()],
                adopt: false
            }
        );
        // Right values, not owned by sluice: adopt without restart.
        let mut foreign = desired.clone();
        foreign["metadata"]["managedFields"] =
            json!([{"manager": "kubectl", "operation": "Apply", "fieldsV1": {}}]);
        assert_eq!(
            decide(&desired, Some(&foreign)),
            Action::Update {
                restarts: false,
                paths: vec![],
                adopt: true
            }
        );
    }

    #[test]
    fn values_as_the_server_stores_them_are_unchanged() {
        let desired = app(
            json!({"driver": {"cores": 1.0}, "driver2": {"ports": [{"containerPort": 80}]}, "empty": {}}),
            json!({"a": "b"}),
        );
        let mut live = live_after(&desired, json!({}));
        live["spec"]["driver"]["cores"] = json!(1);
        live["spec"]["driver2"]["ports"] = json!([{"containerPort": 80, "protocol": "TCP"}]);
        live["spec"].as_object_mut().unwrap().remove("empty");
        assert_eq!(decide(&desired, Some(&live)), Action::Unchanged);
        live["spec"]["driver"]["cores"] = json!(2);
        assert!(matches!(
            decide(&desired, Some(&live)),
            Action::Update { .. }
        ));
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "labels": {"a": "b"}}, "stringData": {"k": "v"}});
        let mut live = live_after(&secret, json!({}));
        live.as_object_mut().unwrap().remove("stringData");
        live["data"] = json!({"k": "dg=="});
        assert_eq!(decide(&secret, Some(&live)), Action::Unchanged);
        live["data"]["k"] = json!("eA==");
        assert!(matches!(
            decide(&secret, Some(&live)),
            Action::Update { .. }
        ));
    }

    #[test]
    fn owned_lists_are_leaves() {
        let live = json!({"metadata": {"managedFields": [{"manager": "sluice", "operation": "Apply", "fieldsV1": {
            "f:metadata": {"f:labels": {"f:a": {}}},
            "f:spec": {"f:arguments": {}, "f:driver": {"f:env": {"k:{\"name\":\"X\"}": {".": {}, "f:value": {}}}}}
        }}]}});
        let owned: Vec<String> = owned_fields(&live)
            .unwrap()
            .iter()
            .map(|p| p.join("."))
            .collect();
        assert_eq!(
            owned,
            ["metadata.labels.a", "spec.arguments", "spec.driver.env"]
        );
    }

    #[test]
    fn diffs_hide_secrets_but_show_that_they_changed() {
        let a = json!({"kind": "SparkApplication", "metadata": {"name": "x"}, "spec": {"sparkConf": {"spark.password": "one"}}});
        let b = json!({"kind": "SparkApplication", "metadata": {"name": "x"}, "spec": {"sparkConf": {"spark.password": "two"}}});
        let diff = unified_diff(Some(&a), Some(&b), "x");
        assert!(!diff.contains("one") && !diff.contains("two"), "{diff}");
        assert!(diff.contains("-    spark.password: <hidden"), "{diff}");
        let s = json!({"kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "c2VjcmV0"}});
        assert!(!unified_diff(None, Some(&s), "s").contains("c2VjcmV0"));
        let env = json!({"kind": "SparkApplication", "metadata": {"name": "x"}, "spec": {"driver": {"env": [{"name": "DB_PASSWORD", "value": "hunter2"}]}}});
        assert!(!unified_diff(None, Some(&env), "x").contains("hunter2"));
    }
}
