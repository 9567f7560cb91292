//! A CustomResourceDefinition's `openAPIV3Schema` as a JSON Schema that
//! checks objects the way the API server does (pure).
//!
//! OpenAPI 3.0 is not JSON Schema: `nullable` becomes a `null` type,
//! `x-kubernetes-int-or-string` an `anyOf`, and objects with `properties`
//! but no `x-kubernetes-preserve-unknown-fields` get
//! `additionalProperties: false` — the server prunes unknown fields
//! silently, so a typo would pass unseen; sluice makes it an error. CEL
//! rules and list-map keys are not checked here (the server's dry run is).

use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not a YAML or JSON document: {0}")]
    Parse(String),
    #[error("not a CustomResourceDefinition (kind is `{0}`)")]
    NotACrd(String),
    #[error("the CRD has no version `{0}` with an openAPIV3Schema")]
    NoVersion(String),
    #[error("the CRD `{0}` has no served version with an openAPIV3Schema")]
    NoSchema(String),
    #[error("the file holds no CustomResourceDefinition")]
    Empty,
}

/// The strict JSON Schema of one version of a CRD, and its group/kind.
pub struct CrdSchema {
    pub group: String,
    pub kind: String,
    pub version: String,
    pub schema: Value,
}

pub fn from_crd(text: &str, version: &str) -> Result<CrdSchema, Error> {
    let doc: Value =
        serde_saphyr::from_str(text).map_err(|e| Error::Parse(e.without_snippet().to_string()))?;
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind != "CustomResourceDefinition" {
        return Err(Error::NotACrd(kind.to_owned()));
    }
    versions_of(&doc)
        .into_iter()
        .find(|s| s.version == version)
        .ok_or_else(|| Error::NoVersion(version.to_owned()))
}

/// Every served version, with a schema, of every CRD in a file: one or
/// more YAML documents, each a CRD or a `List` of them (what `kubectl get
/// crd -o yaml` prints).
pub fn from_file(text: &str) -> Result<Vec<CrdSchema>, Error> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text)
        .map_err(|e| Error::Parse(e.without_snippet().to_string()))?;
    let mut crds = Vec::new();
    for doc in docs.into_iter().filter(|d| !d.is_null()) {
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
        match kind {
            "CustomResourceDefinition" => crds.push(doc),
            "List" | "CustomResourceDefinitionList" => {
                for item in doc
                    .get("items")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let kind = item.get("kind").and_then(Value::as_str).unwrap_or("");
                    if kind != "CustomResourceDefinition" {
                        return Err(Error::NotACrd(kind.to_owned()));
                    }
                    crds.push(item.clone());
                }
            }
            other => return Err(Error::NotACrd(other.to_owned())),
        }
    }
    if crds.is_empty() {
        return Err(Error::Empty);
    }
    let mut out = Vec::new();
    for crd in &crds {
        let versions = versions_of(crd);
        if versions.is_empty() {
            let name = crd.pointer("/metadata/name").and_then(Value::as_str);
            return Err(Error::NoSchema(name.unwrap_or("").to_owned()));
        }
        out.extend(versions);
    }
    Ok(out)
}

/// The served versions of one CRD that have a schema. An
/// apiextensions.k8s.io/v1beta1 CRD may give one schema for all versions
/// in `spec.validation`.
fn versions_of(doc: &Value) -> Vec<CrdSchema> {
    let text = |pointer: &str| {
        doc.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let (group, kind) = (text("/spec/group"), text("/spec/names/kind"));
    let shared = doc.pointer("/spec/validation/openAPIV3Schema");
    let mut versions: Vec<(String, Option<&Value>)> = doc
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("served").and_then(Value::as_bool) != Some(false))
        .filter_map(|v| {
            let name = v.get("name").and_then(Value::as_str)?;
            Some((name.to_owned(), v.pointer("/schema/openAPIV3Schema")))
        })
        .collect();
    if versions.is_empty()
        && let Some(version) = doc.pointer("/spec/version").and_then(Value::as_str)
    {
        versions.push((version.to_owned(), None));
    }
    versions
        .into_iter()
        .filter_map(|(version, schema)| {
            Some(CrdSchema {
                group: group.clone(),
                kind: kind.clone(),
                version,
                schema: with_implicit_fields(convert(schema.or(shared)?)),
            })
        })
        .collect()
}

/// Every custom resource has `apiVersion`, `kind` and `metadata`, which
/// the API server allows whether the CRD's schema names them or not.
fn with_implicit_fields(mut schema: Value) -> Value {
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for (field, kind) in [
            ("apiVersion", "string"),
            ("kind", "string"),
            ("metadata", "object"),
        ] {
            props
                .entry(field)
                .or_insert_with(|| serde_json::json!({ "type": kind }));
        }
    }
    schema
}

/// OpenAPI v3 (structural schema) → JSON Schema draft 4.
pub fn convert(node: &Value) -> Value {
    let Value::Object(map) = node else {
        return node.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        match key.as_str() {
            "properties" | "patternProperties" | "definitions" => {
                let converted = value
                    .as_object()
                    .map(|props| props.iter().map(|(k, v)| (k.clone(), convert(v))).collect());
                out.insert(key.clone(), converted.map_or(Value::Null, Value::Object));
            }
            "items" | "additionalProperties" | "not" if value.is_object() => {
                out.insert(key.clone(), convert(value));
            }
            "allOf" | "anyOf" | "oneOf" => {
                out.insert(
                    key.clone(),
                    Value::Array(
                        value
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(convert)
                            .collect(),
                    ),
                );
            }
            k if k.starts_with("x-kubernetes-")
                || k == "nullable"
                || k == "default"
                || k == "example"
                || k == "externalDocs" => {}
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        out.remove("type");
        out.insert(
            "anyOf".into(),
            serde_json::json!([{"type": "integer"}, {"type": "string"}]),
        );
    }
    if map.get("nullable") == Some(&Value::Bool(true))
        && let Some(Value::String(t)) = out.get("type").cloned()
    {
        out.insert("type".into(), serde_json::json!([t, "null"]));
    }
    let preserve = map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    if !preserve && map.contains_key("properties") && !map.contains_key("additionalProperties") {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conversion_rules() {
        let crd = json!({
            "type": "object",
            "properties": {
                "a": {"type": "string", "nullable": true, "default": ""},
                "q": {"x-kubernetes-int-or-string": true, "type": "string"},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"x": {"type": "string"}}},
                "m": {"type": "object", "additionalProperties": {"type": "string"}}
            }
        });
        let s = convert(&crd);
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(s["properties"]["a"], json!({"type": ["string", "null"]}));
        assert_eq!(
            s["properties"]["q"],
            json!({"anyOf": [{"type": "integer"}, {"type": "string"}]})
        );
        assert!(
            s["properties"]["free"]
                .get("additionalProperties")
                .is_none()
        );
        assert_eq!(
            s["properties"]["m"]["additionalProperties"],
            json!({"type": "string"})
        );
    }

    #[test]
    fn every_crd_of_a_file_and_every_served_version() {
        let v1 = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec:\n  group: example.com\n  names: {kind: Widget, plural: widgets}\n  versions:\n  - {name: v1, served: true, schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object}}}}}\n  - {name: v2, served: true, schema: {openAPIV3Schema: {type: object}}}\n  - {name: v0, served: false, schema: {openAPIV3Schema: {type: object}}}\n";
        let beta = "apiVersion: apiextensions.k8s.io/v1beta1\nkind: CustomResourceDefinition\nmetadata: {name: gadgets.example.com}\nspec:\n  group: example.com\n  names: {kind: Gadget, plural: gadgets}\n  version: v1alpha1\n  validation: {openAPIV3Schema: {type: object, properties: {spec: {type: object}}}}\n";
        let both = format!("{v1}---\n{beta}");
        let found = from_file(&both).unwrap();
        let names: Vec<String> = found
            .iter()
            .map(|c| format!("{}.{}/{}", c.kind, c.group, c.version))
            .collect();
        assert_eq!(
            names,
            [
                "Widget.example.com/v1",
                "Widget.example.com/v2",
                "Gadget.example.com/v1alpha1"
            ]
        );
        // The implicit fields are there, and the schema stays strict.
        let props = &found[0].schema["properties"];
        assert_eq!(props["apiVersion"], json!({"type": "string"}));
        assert_eq!(props["metadata"], json!({"type": "object"}));
        assert_eq!(found[0].schema["additionalProperties"], false);
        // A List, as `kubectl get crd -o yaml` prints several.
        let list = format!(
            "apiVersion: v1\nkind: List\nitems:\n- {}\n",
            serde_json::to_string(&serde_saphyr::from_str::<Value>(beta).unwrap()).unwrap()
        );
        assert_eq!(from_file(&list).unwrap().len(), 1);
        assert!(matches!(from_file(""), Err(Error::Empty)));
        assert!(matches!(from_file("kind: Secret\n"), Err(Error::NotACrd(k)) if k == "Secret"));
    }
}
