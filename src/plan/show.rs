//! How plans are shown (pure): objects without what the server owns,
//! secrets masked, keys in one order, as unified diffs.

use serde_json::Value;

/// The object as a reader compares it: without what the server owns, and
/// without sluice's digest.
pub fn without_server_fields(object: &Value) -> Value {
    let mut object = without_server_state(object);
    if let Some(Value::Object(meta)) = object.get_mut("metadata")
        && let Some(Value::Object(annotations)) = meta.get_mut("annotations")
    {
        annotations.remove(super::DIGEST_ANNOTATION);
        if annotations.is_empty() {
            meta.remove("annotations");
        }
    }
    object
}

/// The object without what the server keeps for itself (status,
/// managedFields, resourceVersion, generation, uid, ...).
pub fn without_server_state(object: &Value) -> Value {
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

/// Masks values no diff may show: Secret data, and credentials (see
/// `secret`: credential-looking keys and env entries, values after a
/// credential flag in a list, credentials inside strings such as JDBC URLs
/// and `-Dx.password=` options). Equal values mask equally, so a change
/// still shows as a changed line.
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
    *value = crate::secret::masked_json(value, fingerprint);
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
    diff_of(before, after, label, sides, false)
}

/// [`unified_diff_between`] with every map's keys sorted on both sides:
/// for an "after" side that did not come from the server (a refused dry
/// run), so that key order alone never shows as a change.
pub fn sorted_diff_between(
    before: Option<&Value>,
    after: Option<&Value>,
    label: &str,
    sides: (&str, &str),
) -> String {
    diff_of(before, after, label, sides, true)
}

fn diff_of(
    before: Option<&Value>,
    after: Option<&Value>,
    label: &str,
    sides: (&str, &str),
    sort: bool,
) -> String {
    let text = |v: Option<&Value>| {
        v.map(|v| {
            let shown = masked(&without_server_fields(v));
            crate::render::object_yaml(&if sort { sorted(&shown) } else { shown })
        })
        .unwrap_or_default()
    };
    diff_texts(&text(before), &text(after), label, sides)
}

/// A copy with every map's keys in sorted order.
pub fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn diff_texts(a: &str, b: &str, label: &str, sides: (&str, &str)) -> String {
    similar::TextDiff::from_lines(a, b)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("{}/{label}", sides.0),
            &format!("{}/{label}", sides.1),
        )
        .to_string()
}
