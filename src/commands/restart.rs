//! `sluice restart --env E --stream S`: resubmit a stuck stream, keeping
//! its state, without changing what it runs. The live object is the
//! source: a restart resubmits what runs, never values not yet applied.
//!
//! - Spark (the spark-operator has no restart nonce): the SparkApplication
//!   is deleted (only if it is still the object looked at) and created
//!   again from its live labels, annotations and spec. The checkpoint
//!   location is in the spec, so the new run resumes from it.
//! - Flink: `spec.restartNonce` goes up by one (owned by the field manager
//!   `sluice-restart`, so an apply leaves it alone); the operator restarts
//!   the job with its `upgradeMode`.
//!
//! Asks for confirmation unless `--yes`, honours freeze windows, and is
//! recorded in the environment's history.

use super::cluster::{self, Desired};
use super::{ClusterFailure, Exit, Global, SetFlags, UsageError};
use crate::cluster::{Cluster, ClusterOptions};
use crate::engine::Engine;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The field manager of `spec.restartNonce`.
pub const NONCE_MANAGER: &str = "sluice-restart";

/// How long a deleted SparkApplication may take to go (finalizers).
const GONE_WITHIN: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartFormat {
    Human,
    Json,
}

#[derive(Clone, Debug)]
pub struct RestartOptions {
    pub environment: String,
    pub stream: String,
    pub cluster: ClusterOptions,
    pub yes: bool,
    pub ignore_freeze: bool,
    pub wait: bool,
    pub timeout: Duration,
    pub format: RestartFormat,
}

/// What the restart does to one live object.
struct Restart {
    engine: Engine,
    kind: String,
    name: String,
    /// Where the state is kept (checkpoint or Flink checkpoint dir).
    state: Option<String>,
    /// Flink: the nonce before and after.
    nonce: Option<(Option<i64>, i64)>,
    /// Flink: the job's upgrade mode.
    upgrade_mode: Option<String>,
}

impl Restart {
    fn describe(&self, namespace: &str) -> String {
        let state = match &self.state {
            Some(s) => format!("the state stays at {s}"),
            None => "it has no checkpoint location".to_owned(),
        };
        match self.engine {
            Engine::Spark => format!(
                "{}/{} in {namespace}: deleted (once its driver pod is gone) and created again as last applied, so the operator submits the driver and executors anew; {state}",
                self.kind, self.name
            ),
            Engine::Flink => {
                let (old, new) = self.nonce.expect("a Flink restart has a nonce");
                let mode = self.upgrade_mode.as_deref().unwrap_or("stateless");
                let kept = if mode == "stateless" {
                    "upgradeMode stateless: the job starts from empty state".to_owned()
                } else {
                    format!("upgradeMode {mode}: {state}")
                };
                format!(
                    "{}/{} in {namespace}: spec.restartNonce {} → {new}, so the operator restarts the job ({kept})",
                    self.kind,
                    self.name,
                    old.map_or("(not set)".to_owned(), |n| n.to_string())
                )
            }
        }
    }
}

pub fn run(global: &Global, options: &RestartOptions) -> anyhow::Result<Exit> {
    let desired = cluster::desired(
        global,
        &options.environment,
        std::slice::from_ref(&options.stream),
        &SetFlags::default(),
    )?;
    let stream = &options.stream;
    let Some(object) = desired
        .objects
        .iter()
        .find(|(s, o)| s == stream && Engine::of_object(o).is_some())
        .map(|(_, o)| o.clone())
    else {
        return Err(UsageError::new(format!(
            "stream `{stream}` renders nothing to restart in {}",
            desired.environment
        ))
        .into());
    };
    cluster::refuse_if_frozen(&desired, "restart", options.ignore_freeze, false)?;
    let engine = Engine::of_object(&object).expect("a stream object");
    if engine == Engine::Flink && object.pointer("/spec/restartNonce").is_some() {
        return Err(UsageError::new(format!(
            "the values of stream `{stream}` set restartNonce: a restart by sluice would be undone by the next apply"
        ))
        .help("raise restartNonce in the values and apply, which restarts the job")
        .into());
    }
    let text = |o: &Value, p: &str| o.pointer(p).and_then(Value::as_str).map(str::to_owned);
    let name = text(&object, "/metadata/name").unwrap_or_default();
    let kind = engine.kind().to_owned();
    cluster::runtime().block_on(async {
        let cluster = cluster::connect(&options.cluster, &desired).await?;
        let resource = engine.resource();
        let ns = &desired.namespace;
        let live =
            cluster.get(&resource, ns, &name).await?.ok_or_else(|| {
                UsageError::new(format!(
                "{kind}/{name} is not in namespace {ns}: stream `{stream}` is not deployed in {}",
                desired.environment
            ))
            .help(format!("`sluice apply --env {}` creates it", desired.environment))
            })?;
        refuse_foreign(&desired, &live, &kind, &name)?;
        if engine.suspended(&live) {
            return Err(UsageError::new(format!(
                "stream `{stream}` is suspended in {}: there is nothing running to restart",
                desired.environment
            ))
            .help(format!(
                "`sluice resume --env {} --stream {stream}` starts it again",
                desired.environment
            ))
            .into());
        }
        let nonce = live.pointer("/spec/restartNonce").and_then(Value::as_i64);
        let restart = Restart {
            engine,
            kind: kind.clone(),
            name: name.clone(),
            state: engine.state_location(&live),
            nonce: match engine {
                Engine::Flink => Some((
                    nonce,
                    nonce.unwrap_or(0).checked_add(1).ok_or_else(|| {
                        UsageError::new(format!(
                            "{kind}/{name}: spec.restartNonce cannot go higher"
                        ))
                    })?,
                )),
                Engine::Spark => None,
            },
            upgrade_mode: text(&live, "/spec/job/upgradeMode"),
        };
        if engine == Engine::Spark {
            refuse_unless_as_applied(&desired, &object, &live, &kind, &name)?;
            // Asked before the delete: the restart waits for the old
            // driver pod to be gone, and a job that may not look cannot.
            cluster
                .list_selected(&pods(), ns, &driver_selector(&name))
                .await?;
        }
        let what = restart.describe(ns);
        eprintln!(
            "restart stream `{stream}` in {}: {what}",
            desired.environment
        );
        if !options.yes && !confirmed(&desired.environment)? {
            eprintln!("nothing was restarted");
            return Ok(Exit::Success);
        }
        let entries = super::history::entries(&cluster, &desired)
            .await
            .unwrap_or_default();
        let last = crate::history::last_revision(&entries, stream);
        let mut entry = crate::history::Entry {
            command: Some("restart".to_owned()),
            restarted: vec![stream.clone()],
            complete: true,
            revision: last.and_then(|e| e.revision.clone()),
            dirty: last.is_some_and(|e| e.dirty),
            rollback: false,
            ..super::apply::new_entry(global)
        };
        let result = match engine {
            Engine::Spark => recreate(&cluster, &desired, &resource, &object, &live).await,
            Engine::Flink => {
                let bump = json!({
                    "apiVersion": engine.api_version(),
                    "kind": kind,
                    "metadata": {"name": name, "namespace": ns},
                    "spec": {"restartNonce": restart.nonce.expect("Flink").1},
                });
                cluster
                    .apply_as(NONCE_MANAGER, &resource, ns, &bump, true, false)
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        Stop::Untouched(format!(
                            "{kind}/{name}: the restart was refused; nothing changed: {e}"
                        ))
                    })
            }
        };
        match result {
            Ok(()) => {}
            Err(Stop::Untouched(message)) => return Err(ClusterFailure::new(message).into()),
            Err(Stop::Deleted(message)) => {
                entry.complete = false;
                super::apply::append_history(&cluster, &desired, entry, "restart").await;
                return Err(ClusterFailure::new(message).into());
            }
        }
        super::apply::append_history(&cluster, &desired, entry, "restart").await;
        match options.format {
            RestartFormat::Human => eprintln!("restarted `{stream}`"),
            RestartFormat::Json => super::print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&json!({
                    "environment": desired.environment,
                    "namespace": ns,
                    "stream": stream,
                    "kind": kind,
                    "name": name,
                    "engine": engine,
                    "state": restart.state,
                    "restartNonce": restart.nonce.map(|n| n.1),
                }))?
            ))?,
        }
        if options.wait {
            // What runs now is the live spec (for Spark, what the values
            // give: checked above).
            let target = super::wait::Target::for_object(stream, &name, &live, Some(&live), true)
                .expect("a stream object");
            let terminal =
                std::io::IsTerminal::is_terminal(&std::io::stderr()) && global.styled(true);
            super::wait::wait(&cluster, ns, &[target], options.timeout, terminal).await?;
            eprintln!("`{stream}` is running again");
        }
        Ok(Exit::Success)
    })
}

/// Where a restart stopped.
enum Stop {
    /// Nothing was changed.
    Untouched(String),
    /// The SparkApplication was deleted and not created again.
    Deleted(String),
}

fn pods() -> kube::core::ApiResource {
    kube::core::ApiResource::erase::<k8s_openapi::api::core::v1::Pod>(&())
}

/// The driver pod of a SparkApplication, as the operator labels it.
pub fn driver_selector(name: &str) -> String {
    format!("sparkoperator.k8s.io/app-name={name},spark-role=driver")
}

/// Only sluice's own object of this environment, and only one nothing
/// else owns, is restarted.
fn refuse_foreign(
    desired: &Desired,
    live: &Value,
    kind: &str,
    name: &str,
) -> Result<(), UsageError> {
    let ns = &desired.namespace;
    let id = crate::applyset::id(&desired.environment, ns);
    let label = live
        .pointer("/metadata/labels")
        .and_then(|l| l.get(crate::applyset::LABEL_PART_OF))
        .and_then(Value::as_str);
    if label != Some(id.as_str()) {
        return Err(UsageError::new(format!(
            "{kind}/{name} in {ns} is not sluice's (no `{}: {id}` label): sluice restarts only what it applied",
            crate::applyset::LABEL_PART_OF
        )));
    }
    if live.pointer("/metadata/deletionTimestamp").is_some() {
        return Err(UsageError::new(format!(
            "{kind}/{name} in {ns} is being deleted"
        )));
    }
    if live
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|o| !o.is_empty())
    {
        return Err(UsageError::new(format!(
            "{kind}/{name} in {ns} has owner references: something else owns it, and a restart would drop them"
        )));
    }
    Ok(())
}

/// A Spark restart creates the object sluice applies: only when that is
/// what is live (the digest sluice left matches the values), and when no
/// other manager set fields a re-create would drop.
fn refuse_unless_as_applied(
    desired: &Desired,
    object: &Value,
    live: &Value,
    kind: &str,
    name: &str,
) -> Result<(), UsageError> {
    let digest = |o: &Value| {
        o.pointer("/metadata/annotations")
            .and_then(|a| a.get(crate::plan::DIGEST_ANNOTATION))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if digest(object) != digest(live) {
        return Err(UsageError::new(format!(
            "{kind}/{name} is not what the values give (they changed since the last apply, or it was edited live): a restart re-creates what sluice applied, so it would also deploy the difference"
        ))
        .help(format!(
            "`sluice diff --env {0}` shows the difference; `sluice apply --env {0}` applies it (a spec change restarts the stream)",
            desired.environment
        )));
    }
    let others: std::collections::BTreeSet<String> = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|m| m.get("manager").and_then(Value::as_str) != Some(crate::plan::FIELD_MANAGER))
        .filter(|m| m.get("subresource").and_then(Value::as_str) != Some("status"))
        .filter(|m| {
            m.pointer("/fieldsV1")
                .and_then(Value::as_object)
                .is_some_and(|f| f.keys().any(|k| k != "f:status"))
        })
        .filter_map(|m| m.get("manager").and_then(Value::as_str).map(str::to_owned))
        .collect();
    if !others.is_empty() {
        return Err(UsageError::new(format!(
            "{kind}/{name} has fields set by {} besides sluice: re-creating it would drop them",
            others
                .into_iter()
                .map(|m| format!("`{}`", crate::report::escape::line(&m)))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .help("put them in the values (or remove them), apply, then restart"));
    }
    Ok(())
}

/// Asks on the terminal; refuses to guess anywhere else.
fn confirmed(environment: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Err(UsageError::new(
            "restart asks for confirmation, and standard input is not a terminal",
        )
        .help(format!(
            "pass --yes to restart without asking (in {environment})"
        ))
        .into());
    }
    eprint!("restart it? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Spark: delete (only the object looked at, read again now), wait until
/// it and its driver pod are gone, and create it as apply does.
async fn recreate(
    cluster: &Cluster,
    desired: &Desired,
    resource: &kube::core::ApiResource,
    object: &Value,
    seen: &Value,
) -> Result<(), Stop> {
    let ns = &desired.namespace;
    let text = |o: &Value, p: &str| o.pointer(p).and_then(Value::as_str).map(str::to_owned);
    let name = text(object, "/metadata/name").unwrap_or_default();
    let env = &desired.environment;
    // The server checks the object it will create before anything goes
    // (with a name it generates: no existing object stands in for it).
    let mut probe = object.clone();
    if let Some(meta) = probe.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("name");
        meta.insert("generateName".into(), Value::String(format!("{name}-")));
    }
    if let Err(refusal) = cluster.create_dry_run(resource, ns, &probe).await {
        return Err(Stop::Untouched(format!(
            "the server would not create SparkApplication/{name} again, so nothing was deleted: {refusal}"
        )));
    }
    // The operator rewrites the status of a struggling application every
    // few seconds: the precondition is the object as it is now, as long
    // as it is the same object with the same spec.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let now = match cluster.get(resource, ns, &name).await {
            Ok(Some(now)) => now,
            Ok(None) => {
                return Err(Stop::Untouched(format!(
                    "SparkApplication/{name} is gone already; `sluice apply --env {env}` creates it"
                )));
            }
            Err(e) => {
                return Err(Stop::Untouched(format!(
                    "SparkApplication/{name}: {e}; nothing changed"
                )));
            }
        };
        let same = |p: &str| now.pointer(p) == seen.pointer(p);
        if !same("/metadata/uid") || !same("/metadata/generation") {
            return Err(Stop::Untouched(format!(
                "SparkApplication/{name} changed while the restart was being confirmed; nothing changed: run the restart again"
            )));
        }
        let precondition = crate::plan::Precondition {
            uid: text(&now, "/metadata/uid"),
            resource_version: text(&now, "/metadata/resourceVersion"),
        };
        match cluster
            .delete(resource, ns, &name, &precondition, false)
            .await
        {
            Ok(()) => break,
            Err(crate::cluster::ClusterError::Api { code: 409, .. }) if attempt < 5 => continue,
            Err(e) => {
                return Err(Stop::Untouched(format!(
                    "SparkApplication/{name}: the delete was refused; nothing changed: {e}"
                )));
            }
        }
    }
    let started = Instant::now();
    let mut last_error = None;
    // The object, then its driver pod (the garbage collector deletes it):
    // a new driver must not run beside the old one on the same checkpoint.
    loop {
        let object_gone = match cluster.get(resource, ns, &name).await {
            Ok(None) => true,
            Ok(Some(o)) if o.pointer("/metadata/uid") != seen.pointer("/metadata/uid") => {
                return Err(Stop::Deleted(format!(
                    "SparkApplication/{name} was deleted, and something else created it again meanwhile; sluice left that one alone"
                )));
            }
            Ok(Some(_)) => false,
            Err(e) => {
                last_error = Some(e.to_string());
                false
            }
        };
        let pod_gone = object_gone
            && match cluster
                .list_selected(&pods(), ns, &driver_selector(&name))
                .await
            {
                Ok(pods) => pods.is_empty(),
                Err(e) => {
                    last_error = Some(e.to_string());
                    false
                }
            };
        if pod_gone {
            break;
        }
        if started.elapsed() > GONE_WITHIN {
            return Err(Stop::Deleted(format!(
                "SparkApplication/{name} was deleted, but it or its driver pod was still there after {}s{}; once both are gone, `sluice apply --env {env}` creates it again (the checkpoint is where it was)",
                GONE_WITHIN.as_secs(),
                last_error
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default()
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    cluster.apply(resource, ns, object, true, false).await.map_err(|e| {
        Stop::Deleted(format!(
            "SparkApplication/{name} was deleted but not created again: {e}\n  `sluice apply --env {env}` creates it from the values (the checkpoint is where it was)"
        ))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_pod_is_found_by_the_operators_labels() {
        assert_eq!(
            driver_selector("orders"),
            "sparkoperator.k8s.io/app-name=orders,spark-role=driver"
        );
    }
}
