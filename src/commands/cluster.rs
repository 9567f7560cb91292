//! Shared by `diff`, `apply` and `status`: render an environment, connect
//! with the context guard, read what is live (one LIST per kind), and plan.

use super::{Global, SetFlags, UsageError};
use crate::applyset;
use crate::cluster::{Cluster, ClusterError, ClusterOptions};
use crate::plan::{self, Action, Change};
use crate::render::{LABEL_ENVIRONMENT, LABEL_MANAGED_BY, LABEL_STREAM};
use kube::api::ApiResource;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A rendered environment, ready to compare with the cluster.
pub struct Desired {
    pub environment: String,
    pub namespace: String,
    pub kube_context: Option<String>,
    /// (stream, object), sorted.
    pub objects: Vec<(String, Value)>,
    /// With `--changed-since`: only these streams are compared, written or
    /// pruned.
    pub affected: Option<crate::changes::Affected>,
    /// The environment's `budget`, if it sets one.
    pub budget: Option<crate::resources::Requests>,
}

/// Renders `environment` for the cluster: every object carries the
/// ApplySet membership label.
pub fn desired(
    global: &Global,
    environment: &str,
    streams: &[String],
    sets: &SetFlags,
) -> anyhow::Result<Desired> {
    let (loaded, objects) =
        super::render::render_environment(global, environment, streams, sets, |m| {
            m.object.clone()
        })?;
    let affected = loaded.affected.clone();
    let env = loaded
        .repo
        .environment(environment)
        .expect("render_environment checked the environment");
    let namespace = env
        .namespace
        .clone()
        .ok_or_else(|| UsageError::new(format!("environment `{environment}` has no namespace")))?;
    let id = applyset::id(environment, &namespace);
    let objects = objects
        .into_iter()
        .map(|(key, mut object)| {
            applyset::add_member_label(&mut object, &id);
            (key.stream, object)
        })
        .collect();
    Ok(Desired {
        environment: environment.to_owned(),
        namespace,
        kube_context: env.kube_context.clone(),
        objects,
        affected,
        budget: crate::resources::budget(&env.root.to_json()),
    })
}

/// Connects, refusing a context other than the environment's `kubeContext`.
pub async fn connect(options: &ClusterOptions, desired: &Desired) -> anyhow::Result<Cluster> {
    let cluster = Cluster::connect(options).await?;
    if let Some(expected) = &desired.kube_context
        && &cluster.context != expected
    {
        return Err(UsageError::new(format!(
                "environment `{}` deploys only through kube context `{expected}`, but the context in use is `{}`",
                desired.environment, cluster.context
            ))
            .help(format!("switch with `kubectl config use-context {expected}` or pass `--context {expected}`"))
            .into());
    }
    Ok(cluster)
}

/// What is live, and what to do about it.
pub struct Planned {
    pub changes: Vec<Change>,
    /// The ApplySet parent as it should be, and as it is.
    pub parent: Value,
    pub parent_live: Option<Value>,
    pub resources: BTreeMap<(String, String), ApiResource>,
    /// Group-kinds the parent lists that could not be looked at (a CRD
    /// that is gone, a kind the credentials may not list): not pruned.
    pub warnings: Vec<String>,
    /// The group-kinds the render has (what the parent lists after a prune).
    pub rendered_group_kinds: BTreeSet<String>,
}

fn api_version_kind(object: &Value) -> (String, String) {
    let get = |k: &str| {
        object
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (get("apiVersion"), get("kind"))
}

/// One GET (the ApplySet parent) and one LIST per kind in the environment's
/// namespace, then the plan; nothing is written.
pub async fn plan(cluster: &Cluster, desired: &Desired) -> Result<Planned, ClusterError> {
    let ns = &desired.namespace;
    let id = applyset::id(&desired.environment, ns);
    let configmaps = crate::cluster::known_resource("v1", "ConfigMap").expect("ConfigMap is known");
    let parent_live = cluster
        .get(
            &configmaps,
            ns,
            &applyset::parent_name(&desired.environment),
        )
        .await?;

    let mut kinds: BTreeSet<(String, String)> = desired
        .objects
        .iter()
        .map(|(_, o)| api_version_kind(o))
        .collect();
    // Kinds that held members before: prune must look at them too.
    let listed = parent_live
        .as_ref()
        .map(applyset::listed_group_kinds)
        .unwrap_or_default();
    for gk in &listed {
        let (kind, group) = gk.split_once('.').unwrap_or((gk.as_str(), ""));
        let known = kinds
            .iter()
            .any(|(av, k)| k == kind && applyset::group_kind(av, k) == *gk);
        if !known {
            let api_version = match (kind, group) {
                ("SparkApplication", "sparkoperator.k8s.io") => {
                    "sparkoperator.k8s.io/v1beta2".to_owned()
                }
                (_, "") => "v1".to_owned(),
                (_, group) => format!("{group}/v1"),
            };
            kinds.insert((api_version, kind.to_owned()));
        }
    }
    let mut resources = BTreeMap::new();
    let mut live: BTreeMap<(String, String), serde_json::Map<String, Value>> = BTreeMap::new();
    let rendered: BTreeSet<(String, String)> = desired
        .objects
        .iter()
        .map(|(_, o)| api_version_kind(o))
        .collect();
    let mut warnings = Vec::new();
    for (api_version, kind) in &kinds {
        // A kind only the parent lists (its members were pruned, or
        // templates stopped rendering it) must not break the run.
        let only_listed = !rendered.contains(&(api_version.clone(), kind.clone()));
        let found = match cluster.resource(api_version, kind).await {
            Ok(resource) => cluster
                .list(&resource, ns)
                .await
                .map(|objects| (resource, objects)),
            Err(e) => Err(e),
        };
        let (resource, objects) = match found {
            Ok(found) => found,
            Err(
                e @ (ClusterError::UnknownKind { .. }
                | ClusterError::CrdMissing { .. }
                | ClusterError::Forbidden { .. }),
            ) if only_listed => {
                warnings.push(format!("{kind} ({api_version}) is listed in the ApplySet but cannot be read, so none is pruned: {e}"));
                continue;
            }
            Err(e) => return Err(e),
        };
        // Items of a LIST come without apiVersion and kind.
        let objects = objects
            .into_iter()
            .map(|mut o| {
                if let Value::Object(map) = &mut o {
                    map.insert("apiVersion".into(), Value::String(api_version.clone()));
                    map.insert("kind".into(), Value::String(kind.clone()));
                }
                o
            })
            .collect();
        live.insert((api_version.clone(), kind.clone()), plan::by_name(objects));
        resources.insert((api_version.clone(), kind.clone()), resource);
    }

    let mut changes = Vec::new();
    let mut wanted: BTreeSet<(String, String, String)> = BTreeSet::new();
    for (stream, object) in &desired.objects {
        let (api_version, kind) = api_version_kind(object);
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let current = live
            .get(&(api_version.clone(), kind.clone()))
            .and_then(|m| m.get(&name));
        // An object another environment deploys is never taken over, even
        // in a shared namespace: all environments apply as `sluice`, so the
        // server would not report a conflict.
        if let Some(owner) = current
            .and_then(|o| {
                o.pointer(&format!(
                    "/metadata/labels/{}",
                    LABEL_ENVIRONMENT.replace('/', "~1")
                ))
            })
            .and_then(Value::as_str)
            .filter(|owner| *owner != desired.environment)
        {
            return Err(ClusterError::Owned {
                object: format!("{kind} `{name}` in namespace `{}`", desired.namespace),
                owner: owner.to_owned(),
                environment: desired.environment.clone(),
            });
        }
        wanted.insert((api_version.clone(), kind.clone(), name.clone()));
        changes.push(Change {
            stream: stream.clone(),
            api_version,
            kind,
            name,
            action: plan::decide(object, current),
            desired: Some(object.clone()),
            live: current.cloned(),
        });
    }
    // Prune candidates: members of this environment's set, with sluice's
    // labels for this environment, that are no longer rendered. Nothing
    // else is ever deleted.
    for ((api_version, kind), objects) in &live {
        for (name, object) in objects {
            let label = |k: &str| {
                object
                    .pointer(&format!("/metadata/labels/{}", k.replace('/', "~1")))
                    .and_then(Value::as_str)
            };
            let member = label(applyset::LABEL_PART_OF) == Some(id.as_str())
                && label(LABEL_MANAGED_BY) == Some("sluice")
                && label(LABEL_ENVIRONMENT) == Some(desired.environment.as_str());
            if member && !wanted.contains(&(api_version.clone(), kind.clone(), name.clone())) {
                changes.push(Change {
                    stream: label(LABEL_STREAM).unwrap_or("?").to_owned(),
                    api_version: api_version.clone(),
                    kind: kind.clone(),
                    name: name.clone(),
                    action: Action::Delete,
                    desired: None,
                    live: Some(object.clone()),
                });
            }
        }
    }
    // With --changed-since, only the touched streams are compared, written
    // or pruned: an untouched stream is not "no longer rendered".
    if let Some(affected) = &desired.affected {
        changes.retain(|c| affected.includes(&desired.environment, &c.stream));
    }
    plan::sort(&mut changes);
    // The parent lists every group-kind it has members of, old and new
    // (KEP-3659: a superset while members change).
    let mut group_kinds: BTreeSet<String> = desired
        .objects
        .iter()
        .map(|(_, o)| {
            let (av, k) = api_version_kind(o);
            applyset::group_kind(&av, &k)
        })
        .collect();
    group_kinds.extend(listed);
    let parent = applyset::parent(&desired.environment, ns, &group_kinds);
    let rendered_group_kinds = rendered
        .iter()
        .map(|(av, k)| applyset::group_kind(av, k))
        .collect();
    Ok(Planned {
        changes,
        parent,
        parent_live,
        resources,
        warnings,
        rendered_group_kinds,
    })
}

/// `--kubeconfig` and `--context`, as given.
pub fn options(kubeconfig: Option<std::path::PathBuf>, context: Option<String>) -> ClusterOptions {
    ClusterOptions {
        kubeconfig,
        context,
    }
}

/// A runtime for the cluster commands (two worker threads: the machine
/// has two cores, and the work is waiting on the network).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
}
