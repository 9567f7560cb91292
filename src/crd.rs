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
    let versions = doc
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let schema = versions
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(version))
        .and_then(|v| v.pointer("/schema/openAPIV3Schema"))
        .ok_or_else(|| Error::NoVersion(version.to_owned()))?;
    Ok(CrdSchema {
        group: doc
            .pointer("/spec/group")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        kind: doc
            .pointer("/spec/names/kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        version: version.to_owned(),
        schema: convert(schema),
    })
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
}
