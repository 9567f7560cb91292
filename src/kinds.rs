//! What a streams repository may create (pure): the engine kinds and a
//! short list of namespaced kinds streams need, plus what an environment
//! file allows with `allowedKinds`. RBAC, admission, API-extension and
//! cluster-scoped kinds are never allowed, whatever a file says: whoever
//! opens a merge request controls the templates, and the deploy job holds
//! the cluster credentials.

use std::collections::BTreeSet;

/// Allowed in every environment, as `Kind.group` (`Kind` for the core
/// group), the form the ApplySet annotation uses.
pub const BUILTIN: &[&str] = &[
    "SparkApplication.sparkoperator.k8s.io",
    "FlinkDeployment.flink.apache.org",
    "ConfigMap",
    "Service",
    "PersistentVolumeClaim",
    "PodDisruptionBudget.policy",
    "PodMonitor.monitoring.coreos.com",
    "ServiceMonitor.monitoring.coreos.com",
    "PrometheusRule.monitoring.coreos.com",
];

/// API groups whose kinds change who may do what, or what the API server
/// itself does.
const NEVER_GROUPS: &[(&str, &str)] = &[
    (
        "rbac.authorization.k8s.io",
        "RBAC objects grant permissions",
    ),
    (
        "admissionregistration.k8s.io",
        "admission webhooks and policies act on every request",
    ),
    (
        "apiextensions.k8s.io",
        "custom resource definitions change the API itself",
    ),
    (
        "apiregistration.k8s.io",
        "API services change the API itself",
    ),
    ("authentication.k8s.io", "it is part of authentication"),
    ("authorization.k8s.io", "it is part of authorization"),
    (
        "certificates.k8s.io",
        "certificate requests mint credentials",
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "API priority and fairness is cluster configuration",
    ),
];

/// Kinds that are cluster-scoped, as `Kind.group`.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "ComponentStatus",
    "StorageClass.storage.k8s.io",
    "CSIDriver.storage.k8s.io",
    "CSINode.storage.k8s.io",
    "VolumeAttachment.storage.k8s.io",
    "PriorityClass.scheduling.k8s.io",
    "RuntimeClass.node.k8s.io",
    "IngressClass.networking.k8s.io",
    "PodSecurityPolicy.policy",
    "ClusterIssuer.cert-manager.io",
    "VolumeAttributesClass.storage.k8s.io",
    "GatewayClass.gateway.networking.k8s.io",
    "ClusterTrustBundle.certificates.k8s.io",
    "DeviceClass.resource.k8s.io",
    "ResourceSlice.resource.k8s.io",
    "StorageVersionMigration.storagemigration.k8s.io",
];

/// The `Kind.group` of an apiVersion and kind.
pub fn group_kind(api_version: &str, kind: &str) -> String {
    crate::applyset::group_kind(api_version, kind)
}

fn group_of(group_kind: &str) -> &str {
    group_kind.split_once('.').map_or("", |(_, g)| g)
}

/// Why a kind may never be created from a repository, if it may not.
pub fn never(group_kind: &str) -> Option<String> {
    let group = group_of(group_kind);
    if let Some((_, why)) = NEVER_GROUPS.iter().find(|(g, _)| *g == group) {
        return Some(format!(
            "{why}, so a streams repository may never create them"
        ));
    }
    let kind = group_kind.split('.').next().unwrap_or_default();
    if kind == "List" || kind.ends_with("List") {
        return Some(
            "a list wraps other objects, which would escape every check; render each object as a document of its own"
                .into(),
        );
    }
    if CLUSTER_SCOPED.contains(&group_kind) || kind.starts_with("Cluster") {
        return Some(
            "it is cluster-scoped, and a streams repository creates objects only in its environment's namespace"
                .into(),
        );
    }
    None
}

/// The kinds an environment allows: the built-in ones and its own
/// `allowedKinds` (never the ones [`never`] refuses).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allowed {
    extra: BTreeSet<String>,
}

impl Allowed {
    pub fn new<'a>(extra: impl IntoIterator<Item = &'a str>) -> Allowed {
        Allowed {
            extra: extra
                .into_iter()
                .filter(|k| never(k).is_none())
                .map(str::to_owned)
                .collect(),
        }
    }

    /// `Ok` or why not.
    pub fn check(&self, group_kind: &str) -> Result<(), String> {
        if let Some(why) = never(group_kind) {
            return Err(why);
        }
        if BUILTIN.contains(&group_kind) || self.extra.contains(group_kind) {
            return Ok(());
        }
        Err(format!(
            "it is not among the kinds the environment allows ({})",
            self.all().join(", ")
        ))
    }

    /// Every allowed kind, the built-in ones first.
    pub fn all(&self) -> Vec<String> {
        BUILTIN
            .iter()
            .map(|s| (*s).to_owned())
            .chain(self.extra.iter().cloned())
            .collect()
    }

    /// The environment's own additions.
    pub fn extra(&self) -> &BTreeSet<String> {
        &self.extra
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_may_be_created() {
        let allowed = Allowed::new([
            "NetworkPolicy.networking.k8s.io",
            "ClusterRole.rbac.authorization.k8s.io",
        ]);
        assert!(
            allowed
                .check("SparkApplication.sparkoperator.k8s.io")
                .is_ok()
        );
        assert!(allowed.check("ConfigMap").is_ok());
        assert!(allowed.check("NetworkPolicy.networking.k8s.io").is_ok());
        // Not on any list.
        assert!(allowed.check("Secret").is_err());
        assert!(allowed.check("Deployment.apps").is_err());
        // Never, even when a file lists it.
        for k in [
            "ClusterRole.rbac.authorization.k8s.io",
            "RoleBinding.rbac.authorization.k8s.io",
            "ClusterRoleBinding.rbac.authorization.k8s.io",
            "MutatingWebhookConfiguration.admissionregistration.k8s.io",
            "CustomResourceDefinition.apiextensions.k8s.io",
            "Namespace",
            "PersistentVolume",
            "StorageClass.storage.k8s.io",
            "ClusterIssuer.cert-manager.io",
            "ClusterPolicy.kyverno.io",
            "List",
            "ConfigMapList",
            "VolumeAttributesClass.storage.k8s.io",
            "GatewayClass.gateway.networking.k8s.io",
        ] {
            assert!(allowed.check(k).is_err(), "{k}");
            assert!(never(k).is_some(), "{k}");
        }
        assert!(
            !allowed
                .extra()
                .contains("ClusterRole.rbac.authorization.k8s.io")
        );
    }
}
