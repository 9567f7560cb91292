//! The kubectl ApplySet (KEP-3659) that tracks an environment's objects
//! (pure): a parent ConfigMap per environment names the group-kinds it
//! contains, and every member carries its id, so prune lists exactly the
//! members and `kubectl` understands the set too.

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

pub const LABEL_ID: &str = "applyset.kubernetes.io/id";
pub const LABEL_PART_OF: &str = "applyset.kubernetes.io/part-of";
pub const ANNOTATION_TOOLING: &str = "applyset.kubernetes.io/tooling";
pub const ANNOTATION_GROUP_KINDS: &str = "applyset.kubernetes.io/contains-group-kinds";

/// The parent's name for an environment.
pub fn parent_name(environment: &str) -> String {
    format!("sluice-applyset-{environment}")
}

/// KEP-3659's id: `applyset-<base64url(sha256(name.namespace.kind.group))>-v1`
/// (the parent is a core ConfigMap: empty group).
pub fn id(environment: &str, namespace: &str) -> String {
    let digest =
        Sha256::digest(format!("{}.{namespace}.ConfigMap.", parent_name(environment)).as_bytes());
    format!(
        "applyset-{}-v1",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

/// `Kind.group` (just `Kind` for the core group), as the annotation lists them.
pub fn group_kind(api_version: &str, kind: &str) -> String {
    match api_version.split_once('/') {
        Some((group, _)) => format!("{kind}.{group}"),
        None => kind.to_owned(),
    }
}

/// The parent ConfigMap, listing `group_kinds`.
pub fn parent(environment: &str, namespace: &str, group_kinds: &BTreeSet<String>) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": parent_name(environment),
            "namespace": namespace,
            "labels": {
                LABEL_ID: id(environment, namespace),
                crate::render::LABEL_MANAGED_BY: "sluice",
                crate::render::LABEL_ENVIRONMENT: environment,
            },
            "annotations": {
                ANNOTATION_TOOLING: format!("sluice/{}", env!("CARGO_PKG_VERSION")),
                ANNOTATION_GROUP_KINDS: group_kinds.iter().cloned().collect::<Vec<_>>().join(","),
            },
        },
    })
}

/// The group-kinds a live parent lists (what prune must look at).
pub fn listed_group_kinds(parent: &Value) -> BTreeSet<String> {
    parent
        .pointer(&format!(
            "/metadata/annotations/{}",
            ANNOTATION_GROUP_KINDS.replace('/', "~1")
        ))
        .and_then(Value::as_str)
        .map(|s| {
            s.split(',')
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Marks an object as a member.
pub fn add_member_label(object: &mut Value, id: &str) {
    if let Some(Value::Object(labels)) = object.pointer_mut("/metadata/labels") {
        labels.insert(LABEL_PART_OF.into(), Value::String(id.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_kep() {
        let a = id("prod", "bi-prod");
        assert!(a.starts_with("applyset-") && a.ends_with("-v1"), "{a}");
        assert_eq!(a.len(), "applyset-".len() + 43 + "-v1".len());
        assert_ne!(a, id("dev", "bi-prod"));
        assert_ne!(a, id("prod", "other"));
        assert_eq!(
            group_kind("sparkoperator.k8s.io/v1beta2", "SparkApplication"),
            "SparkApplication.sparkoperator.k8s.io"
        );
        assert_eq!(group_kind("v1", "ConfigMap"), "ConfigMap");
    }
}
