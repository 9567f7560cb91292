//! Shared by `diff`, `apply` and `status`: render an environment, connect
//! with the context guard, read what is live (one LIST per kind), and plan.

use super::{Global, SetFlags, UsageError};
use crate::applyset;
use crate::cluster::{Cluster, ClusterError, ClusterOptions};
use crate::plan::{self, Action, Change};
use futures::StreamExt;
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
    /// `protected: true`: state resets need `--allow-state-reset`.
    pub protected: bool,
    /// The environment's `cluster:` pin (server URL and/or kube-system uid).
    pub pin: Pin,
    /// The environment's `rollout:` (restart waves).
    pub rollout: Rollout,
    /// The environment's `freeze:` (change windows).
    pub freeze: Option<crate::freeze::Freeze>,
}

/// An environment file's `freeze:`, or the error naming the file.
pub fn freeze_of(
    environment: &str,
    root: &Value,
) -> Result<Option<crate::freeze::Freeze>, UsageError> {
    crate::freeze::Freeze::of(root).map_err(|e| {
        UsageError::new(format!("values/environments/{environment}.yaml: {e}"))
            .help("see the README's change windows: `freeze: {timeZone: Europe/Berlin, windows: [{start: 2026-12-21, end: 2027-01-04}]}`")
    })
}

/// Change windows, checked before the cluster is asked anything: inside
/// one, `verb` (`apply` or `restart`) is refused unless `ignore` (or `dry_run`,
/// which only says so).
pub fn refuse_if_frozen(
    desired: &Desired,
    verb: &str,
    ignore: bool,
    dry_run: bool,
) -> Result<(), UsageError> {
    let Some(frozen) = frozen_now(desired.freeze.as_ref())? else {
        return Ok(());
    };
    let (does, done) = match verb {
        "apply" => ("applies", "written"),
        _ => ("restarts", "restarted"),
    };
    if ignore {
        eprintln!("{frozen}; --ignore-freeze {does} anyway");
        return Ok(());
    }
    if dry_run {
        eprintln!("{frozen}");
        return Ok(());
    }
    let environment = &desired.environment;
    Err(UsageError::new(format!("environment `{environment}` is {frozen}")).help(format!(
        "nothing was {done}; the windows are in values/environments/{environment}.yaml (freeze:); to {verb} anyway, rerun with --ignore-freeze"
    )))
}

/// The line saying the environment is frozen now, and until when.
pub fn frozen_now(freeze: Option<&crate::freeze::Freeze>) -> Result<Option<String>, UsageError> {
    let Some(freeze) = freeze else {
        return Ok(None);
    };
    let now = crate::freeze::now().map_err(|e| UsageError::new(e.to_string()))?;
    Ok(freeze.frozen_line(now))
}

/// How `apply` restarts an environment's streams (its `rollout:`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rollout {
    /// The most streams one wave restarts (`None`: all at once).
    pub max_unavailable: Option<usize>,
    /// Streams restarted first, in a wave of their own.
    pub canary: Vec<String>,
}

impl Rollout {
    /// The most streams a wave restarts: `--max-unavailable`, else the
    /// environment's.
    pub fn max_unavailable(&self, flag: Option<usize>) -> Option<usize> {
        flag.or(self.max_unavailable)
    }

    /// The steps `apply` writes `changes` in (`flag`: `--max-unavailable`).
    /// `None` without a limit or a canary, or when every restart fits one
    /// wave with no canary to go first: one step, as without `rollout:`.
    pub fn waves(&self, changes: &[Change], flag: Option<usize>) -> Option<Vec<plan::waves::Wave>> {
        let max = self.max_unavailable(flag);
        (max.is_some() || !self.canary.is_empty())
            .then(|| plan::waves::waves(changes, max, &self.canary))
            .filter(|w| plan::waves::restart_waves(w) > 1 || w.iter().any(|w| w.canary))
    }

    /// Only the waves that restart streams, for reports (empty: one step).
    pub fn restarting(&self, changes: &[Change], flag: Option<usize>) -> Vec<plan::waves::Wave> {
        let mut waves = self.waves(changes, flag).unwrap_or_default();
        waves.retain(|w| w.restarts);
        waves
    }

    /// An environment file's `rollout:`.
    pub fn of(root: &Value) -> Rollout {
        Rollout {
            max_unavailable: root
                .pointer("/rollout/maxUnavailable")
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n > 0),
            canary: root
                .pointer("/rollout/canary")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        }
    }
}

/// Which cluster an environment must reach, beyond its context's name.
#[derive(Clone, Debug, Default)]
pub struct Pin {
    pub server: Option<String>,
    pub uid: Option<String>,
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
            plan::add_digest(&mut object);
            (key.stream, object)
        })
        .collect();
    let root = env.root.to_json();
    let pinned = |key: &str| {
        root.pointer(&format!("/cluster/{key}"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Ok(Desired {
        environment: environment.to_owned(),
        namespace,
        kube_context: env.kube_context.clone(),
        objects,
        affected,
        budget: crate::resources::budget(&root),
        protected: env.protected,
        pin: Pin {
            server: pinned("server"),
            uid: pinned("uid"),
        },
        rollout: Rollout::of(&root),
        freeze: freeze_of(environment, &root)?,
    })
}

/// Connects, refusing a context other than the environment's
/// `kubeContext`, and a cluster other than the one its `cluster:` pins
/// (a context can be named anything; the server and its kube-system
/// namespace are the cluster's own). Both before any write.
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
    let file = format!("values/environments/{}.yaml", desired.environment);
    if let Some(server) = &desired.pin.server
        && !same_server(server, &cluster.server)
    {
        return Err(UsageError::new(format!(
            "environment `{}` is pinned to the cluster at {server} ({file}: cluster.server), but context `{}` reaches {}",
            desired.environment, cluster.context, cluster.server
        ))
        .help("point the context at the right cluster, or fix cluster.server in the environment file")
        .into());
    }
    if let Some(uid) = &desired.pin.uid {
        let found = match cluster.identity().await {
            Err(ClusterError::Forbidden { .. }) => {
                return Err(UsageError::new(format!(
                    "environment `{}` pins its cluster by uid ({file}: cluster.uid), but the credentials of context `{}` may not read namespace kube-system to check it",
                    desired.environment, cluster.context
                ))
                .help("grant `get` on namespaces/kube-system (a ClusterRole with resourceNames: [kube-system]), or pin cluster.server instead")
                .into());
            }
            found => found?,
        };
        if &found != uid {
            return Err(UsageError::new(format!(
                "environment `{}` is pinned to the cluster whose kube-system namespace has uid {uid} ({file}: cluster.uid), but context `{}` reaches a cluster whose kube-system uid is {}",
                desired.environment,
                cluster.context,
                if found.is_empty() { "(none)" } else { &found }
            ))
            .help("this context points at another cluster: fix the kubeconfig, or cluster.uid if the cluster was rebuilt (`kubectl get namespace kube-system -o jsonpath='{.metadata.uid}'`)")
            .into());
        }
    }
    Ok(cluster)
}

/// Two API server URLs name the same server: the scheme and host compare
/// without case, a default port (`:443` for https, `:80` for http) and a
/// trailing slash do not count; the path compares as it is.
fn same_server(a: &str, b: &str) -> bool {
    let norm = |u: &str| {
        let u = u.trim();
        let (scheme, rest) = u.split_once("://").unwrap_or(("", u));
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let scheme = scheme.to_ascii_lowercase();
        let mut authority = authority.to_ascii_lowercase();
        let default = match scheme.as_str() {
            "https" => ":443",
            "http" => ":80",
            _ => "",
        };
        if !default.is_empty() && authority.ends_with(default) {
            authority.truncate(authority.len() - default.len());
        }
        format!("{scheme}://{authority}/{}", path.trim_end_matches('/'))
    };
    norm(a) == norm(b)
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
    /// Live members of the environment left after the plan (whole
    /// environment, whatever `--changed-since` selected).
    pub members_left: usize,
    /// Per change (same index): the server's dry-run answer, once
    /// [`dry_run`] ran.
    pub answers: Vec<Option<Value>>,
}

/// A planned write the server's dry run refused.
pub struct Refusal {
    pub object: String,
    pub stream: String,
    pub error: ClusterError,
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
            let engine = crate::engine::Engine::of_kind(kind)
                .filter(|e| e.api_version().starts_with(&format!("{group}/")));
            let api_version = match (engine, group) {
                (Some(engine), _) => engine.api_version().to_owned(),
                (None, "") => "v1".to_owned(),
                (None, group) => format!("{group}/v1"),
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

    let affected = desired.affected.clone();
    let selected = move |stream: &str| {
        affected
            .as_ref()
            .is_none_or(|a| a.includes(&desired.environment, stream))
    };
    let input = plan::Input {
        environment: &desired.environment,
        namespace: ns,
        applyset_id: &id,
        desired: &desired.objects,
        live: &live,
        selected: &selected,
    };
    let changes = plan::plan(&input).map_err(|e| match e {
        plan::PlanError::Owned {
            kind,
            name,
            namespace,
            owner,
            environment,
        } => ClusterError::Owned {
            object: format!("{kind} `{name}` in namespace `{namespace}`"),
            owner,
            environment,
        },
    })?;
    let members_left = plan::members_left(&input, &changes);
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
    let mut parent = applyset::parent(&desired.environment, ns, &group_kinds);
    plan::add_digest(&mut parent);
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
        members_left,
        answers: Vec::new(),
    })
}

/// Settles every candidate write with a server-side dry run (so
/// defaulting, pruning and admission show), and dry-runs every delete.
/// Afterwards each change is what the server says applying would do:
/// unchanged if nothing would change, restarting only if the generation
/// would move. Returns what the server refused; nothing is written.
pub async fn dry_run(
    cluster: &Cluster,
    desired: &Desired,
    planned: &mut Planned,
    force: bool,
) -> Vec<Refusal> {
    let ns = &desired.namespace;
    let resources = &planned.resources;
    let jobs = planned.changes.iter().map(|c| async move {
        if !c.writes() {
            return Ok(None);
        }
        let resource = &resources[&(c.api_version.clone(), c.kind.clone())];
        match (&c.action, &c.desired) {
            (Action::Delete, _) | (_, None) => cluster
                .delete(resource, ns, &c.name, &c.precondition(), true)
                .await
                .map(|()| None),
            (_, Some(object)) => cluster
                .apply(resource, ns, object, force, true)
                .await
                .map(Some),
        }
    });
    let results: Vec<Result<Option<Value>, ClusterError>> =
        futures::stream::iter(jobs).buffered(8).collect().await;
    let mut refusals = Vec::new();
    let mut answers = Vec::with_capacity(results.len());
    for (c, result) in planned.changes.iter_mut().zip(results) {
        match result {
            Ok(Some(answer)) => {
                if c.action != Action::Create {
                    let (action, impact) = plan::confirm(c, &answer);
                    c.action = action;
                    c.impact = impact;
                }
                answers.push(Some(answer));
            }
            Ok(None) => answers.push(None),
            Err(error) => {
                refusals.push(Refusal {
                    object: format!("{}/{}", c.kind, c.name),
                    stream: c.stream.clone(),
                    error,
                });
                answers.push(None);
            }
        }
    }
    planned.answers = answers;
    refusals
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

#[cfg(test)]
mod tests {
    #[test]
    fn servers_compare_by_scheme_host_port_and_path() {
        use super::same_server;
        assert!(same_server(
            "https://API.example.com:443/",
            "https://api.example.com"
        ));
        assert!(same_server(
            "https://10.0.0.1:6443",
            "https://10.0.0.1:6443/"
        ));
        assert!(!same_server(
            "https://10.0.0.1:6443",
            "https://10.0.0.2:6443"
        ));
        assert!(!same_server(
            "https://a.example.com:4430",
            "https://a.example.com:443"
        ));
        assert!(!same_server(
            "https://proxy/k8s/clusters/c-AbC",
            "https://proxy/k8s/clusters/c-abc"
        ));
        assert!(!same_server("http://a:80", "https://a"));
    }
}
