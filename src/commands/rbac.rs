//! `sluice rbac --env E`: the least-privilege Role (and RoleBinding) a
//! deploy job needs for one environment: the kinds its streams render plus
//! the ApplySet parent, in its namespace, with exactly the verbs diff,
//! apply, prune, wait and status use (and listing pods, for restart).
//! Pure after the render.

use super::{Exit, Global, SetFlags, UsageError};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug)]
pub struct RbacOptions {
    pub environment: String,
    pub sets: SetFlags,
    /// The deploy job's service account, and its namespace (default: the
    /// environment's).
    pub service_account: String,
    pub service_account_namespace: Option<String>,
    pub json: bool,
}

/// Verbs, and what uses them: get (the ApplySet parent), list (the plan,
/// --wait, status), create and patch (server-side apply creates with a
/// PATCH, which the API server authorizes as create too), delete (prune,
/// and its dry run).
const VERBS: &[&str] = &["get", "list", "create", "patch", "delete"];

/// The plural of a kind sluice knows; else the usual English rule, marked
/// as a guess.
fn plural(api_version: &str, kind: &str) -> (String, bool) {
    match crate::cluster::known_resource(api_version, kind) {
        Some(r) => (r.plural, false),
        None => {
            let k = kind.to_ascii_lowercase();
            let plural = if let Some(stem) = k
                .strip_suffix('y')
                .filter(|s| !s.ends_with(['a', 'e', 'o', 'u']))
            {
                format!("{stem}ies")
            } else if k.ends_with('s') || k.ends_with('x') || k.ends_with("ch") || k.ends_with("sh")
            {
                format!("{k}es")
            } else {
                format!("{k}s")
            };
            (plural, true)
        }
    }
}

/// The Role, RoleBinding and, for a `cluster.uid` pin, the ClusterRole and
/// ClusterRoleBinding to read the kube-system namespace.
pub fn objects(
    environment: &str,
    namespace: &str,
    kinds: &BTreeSet<(String, String)>,
    service_account: &str,
    service_account_namespace: &str,
    uid_pin: bool,
) -> (Vec<Value>, Vec<String>) {
    let name = format!("sluice-deploy-{environment}");
    let mut by_group: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut guesses = Vec::new();
    for (api_version, kind) in kinds {
        let group = api_version
            .split_once('/')
            .map_or("", |(g, _)| g)
            .to_owned();
        let (plural, guessed) = plural(api_version, kind);
        if guessed {
            guesses.push(format!(
                "the resource name `{plural}` of {kind} ({api_version}) is a guess: check it with `kubectl api-resources`"
            ));
        }
        by_group.entry(group).or_default().insert(plural);
    }
    let mut rules: Vec<Value> = by_group
        .iter()
        .map(|(group, resources)| {
            json!({"apiGroups": [group], "resources": resources, "verbs": VERBS})
        })
        .collect();
    // `sluice restart` of a Spark stream waits until the old driver pod
    // is gone before it creates the SparkApplication again.
    if kinds.iter().any(|(_, kind)| kind == "SparkApplication") {
        rules.push(json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}));
    }
    let subject = json!([{"kind": "ServiceAccount", "name": service_account, "namespace": service_account_namespace}]);
    let labels =
        json!({"app.kubernetes.io/managed-by": "sluice", "sluice.dev/environment": environment});
    let mut out = vec![
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
               "metadata": {"name": name, "namespace": namespace, "labels": labels},
               "rules": rules}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": name, "namespace": namespace, "labels": labels},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
               "subjects": subject}),
    ];
    if uid_pin {
        let cluster_name = format!("sluice-cluster-identity-{environment}");
        out.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": cluster_name, "labels": labels},
            "rules": [{"apiGroups": [""], "resources": ["namespaces"], "resourceNames": ["kube-system"], "verbs": ["get"]}]}));
        out.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": cluster_name, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_name},
            "subjects": subject}));
    }
    (out, guesses)
}

pub fn run(global: &Global, options: &RbacOptions) -> anyhow::Result<Exit> {
    let (loaded, objects) =
        super::render::render_environment(global, &options.environment, &[], &options.sets, |m| {
            let get = |k: &str| {
                m.object
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            (get("apiVersion"), get("kind"))
        })?;
    let env = loaded
        .repo
        .environment(&options.environment)
        .expect("render_environment checked the environment");
    let namespace = env.namespace.clone().ok_or_else(|| {
        UsageError::new(format!(
            "environment `{}` has no namespace",
            options.environment
        ))
    })?;
    let mut kinds: BTreeSet<(String, String)> = objects.into_iter().map(|(_, k)| k).collect();
    // The ApplySet parent.
    kinds.insert(("v1".into(), "ConfigMap".into()));
    let uid_pin = env.root.get("cluster").and_then(|c| c.get("uid")).is_some();
    let (docs, guesses) = objects_for(options, &namespace, &kinds, uid_pin);
    for g in guesses {
        eprintln!("warning: {g}");
    }
    let text = if options.json {
        format!(
            "{}\n",
            serde_json::to_string_pretty(
                &json!({"apiVersion": "v1", "kind": "List", "items": docs})
            )?
        )
    } else {
        let mut text = format!(
            "# The least privilege a deploy job needs for environment `{}` (sluice rbac).\n# Apply it as a cluster admin: kubectl apply -f <this file>\n",
            options.environment
        );
        for d in &docs {
            text.push_str("---\n");
            text.push_str(&crate::render::object_yaml(d));
        }
        text
    };
    super::print(&text)?;
    Ok(Exit::Success)
}

fn objects_for(
    options: &RbacOptions,
    namespace: &str,
    kinds: &BTreeSet<(String, String)>,
    uid_pin: bool,
) -> (Vec<Value>, Vec<String>) {
    objects(
        &options.environment,
        namespace,
        kinds,
        &options.service_account,
        options
            .service_account_namespace
            .as_deref()
            .unwrap_or(namespace),
        uid_pin,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_per_group_and_a_guess_is_said() {
        let kinds: BTreeSet<(String, String)> = [
            ("sparkoperator.k8s.io/v1beta2", "SparkApplication"),
            ("v1", "ConfigMap"),
            ("v1", "Service"),
            ("networking.k8s.io/v1", "NetworkPolicy"),
        ]
        .iter()
        .map(|(a, k)| ((*a).to_owned(), (*k).to_owned()))
        .collect();
        let (docs, guesses) = objects("prod", "bi-prod", &kinds, "deployer", "ci", false);
        assert_eq!(docs.len(), 2);
        let rules = docs[0]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 4);
        assert_eq!(rules[0]["apiGroups"], json!([""]));
        // `restart` waits for a Spark stream's old driver pod.
        assert_eq!(
            rules[3],
            json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]})
        );
        assert_eq!(rules[0]["resources"], json!(["configmaps", "services"]));
        assert_eq!(rules[2]["resources"], json!(["sparkapplications"]));
        assert_eq!(guesses.len(), 1, "{guesses:?}");
        assert_eq!(rules[1]["resources"], json!(["networkpolicies"]));
        assert_eq!(docs[1]["subjects"][0]["namespace"], "ci");
        let (docs, _) = objects("prod", "bi-prod", &kinds, "deployer", "ci", true);
        assert_eq!(docs.len(), 4);
        assert_eq!(docs[2]["rules"][0]["resourceNames"], json!(["kube-system"]));
    }
}
