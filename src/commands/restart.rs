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
use serde_json::{Map, Value, json};
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
                "{}/{} in {namespace}: deleted and created again from its live spec, so the operator submits the driver and executors anew; {state}",
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
    let text = |o: &Value, p: &str| o.pointer(p).and_then(Value::as_str).map(str::to_owned);
    let name = text(&object, "/metadata/name").unwrap_or_default();
    let kind = engine.kind().to_owned();
    cluster::runtime().block_on(async {
        let cluster = cluster::connect(&options.cluster, &desired).await?;
        let resource = engine.resource();
        let ns = &desired.namespace;
        let live = cluster.get(&resource, ns, &name).await?.ok_or_else(|| {
            UsageError::new(format!(
                "{kind}/{name} is not in namespace {ns}: stream `{stream}` is not deployed in {}",
                desired.environment
            ))
            .help(format!("`sluice apply --env {}` creates it", desired.environment))
        })?;
        let id = crate::applyset::id(&desired.environment, ns);
        if live
            .pointer(&format!("/metadata/labels/{}", crate::applyset::LABEL_PART_OF.replace('/', "~1")))
            .and_then(Value::as_str)
            != Some(id.as_str())
        {
            return Err(UsageError::new(format!(
                "{kind}/{name} in {ns} is not sluice's (no `{}: {id}` label): sluice restarts only what it applied",
                crate::applyset::LABEL_PART_OF
            ))
            .into());
        }
        if live.pointer("/metadata/deletionTimestamp").is_some() {
            return Err(UsageError::new(format!("{kind}/{name} in {ns} is being deleted")).into());
        }
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
            nonce: (engine == Engine::Flink).then(|| (nonce, nonce.unwrap_or(0) + 1)),
            upgrade_mode: text(&live, "/spec/job/upgradeMode"),
        };
        let what = restart.describe(ns);
        eprintln!("restart stream `{stream}` in {}: {what}", desired.environment);
        if !options.yes && !confirmed(&desired.environment)? {
            eprintln!("nothing was restarted");
            return Ok(Exit::Success);
        }
        match engine {
            Engine::Spark => recreate(&cluster, &desired, &resource, &live).await?,
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
                    .map_err(|e| ClusterFailure::new(format!("{kind}/{name}: the restart was refused; nothing changed: {e}")))?;
            }
        }
        let entry = crate::history::Entry {
            command: Some("restart".to_owned()),
            complete: true,
            restarted: vec![stream.clone()],
            ..super::apply::new_entry(global)
        };
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
            let target = super::wait::Target::for_object(stream, &name, &object, Some(&live), true)
                .expect("a stream object");
            let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr()) && global.styled(true);
            super::wait::wait(&cluster, ns, &[target], options.timeout, terminal).await?;
            eprintln!("`{stream}` is running again");
        }
        Ok(Exit::Success)
    })
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

/// The object to create again: the live one's identity, labels,
/// annotations and spec, nothing the server or the operator set.
pub fn resubmission(live: &Value) -> Value {
    let mut metadata = Map::new();
    for key in ["name", "namespace", "labels", "annotations"] {
        if let Some(v) = live.pointer(&format!("/metadata/{key}")) {
            metadata.insert(key.to_owned(), v.clone());
        }
    }
    json!({
        "apiVersion": live.get("apiVersion").cloned().unwrap_or(Value::Null),
        "kind": live.get("kind").cloned().unwrap_or(Value::Null),
        "metadata": metadata,
        "spec": live.get("spec").cloned().unwrap_or(Value::Object(Map::new())),
    })
}

/// Spark: delete (only the object looked at), wait until it is gone, and
/// create it again.
async fn recreate(
    cluster: &Cluster,
    desired: &Desired,
    resource: &kube::core::ApiResource,
    live: &Value,
) -> anyhow::Result<()> {
    let ns = &desired.namespace;
    let text = |p: &str| live.pointer(p).and_then(Value::as_str).map(str::to_owned);
    let name = text("/metadata/name").unwrap_or_default();
    let again = resubmission(live);
    // The server checks the object it will create before anything goes.
    let mut probe = again.clone();
    probe["metadata"]["name"] = Value::String(format!("{name}-restart-check"));
    if let Some(refusal) = cluster.apply(resource, ns, &probe, true, true).await.err() {
        return Err(ClusterFailure::new(format!(
            "the server would not create SparkApplication/{name} again, so nothing was deleted: {refusal}"
        ))
        .into());
    }
    let precondition = crate::plan::Precondition {
        uid: text("/metadata/uid"),
        resource_version: text("/metadata/resourceVersion"),
    };
    cluster
        .delete(resource, ns, &name, &precondition, false)
        .await
        .map_err(|e| {
            ClusterFailure::new(format!(
                "SparkApplication/{name}: the delete was refused; nothing changed: {e}"
            ))
        })?;
    let started = Instant::now();
    loop {
        match cluster.get(resource, ns, &name).await {
            Ok(None) => break,
            Ok(Some(o)) if o.pointer("/metadata/uid") != live.pointer("/metadata/uid") => {
                return Err(ClusterFailure::new(format!(
                    "SparkApplication/{name} was deleted, and something else created it again meanwhile; sluice left that one alone"
                ))
                .into());
            }
            _ if started.elapsed() > GONE_WITHIN => {
                return Err(ClusterFailure::new(format!(
                    "SparkApplication/{name} is still being deleted after {}s (finalizers?); once it is gone, `sluice apply --env {}` creates it again",
                    GONE_WITHIN.as_secs(),
                    desired.environment
                ))
                .into());
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    cluster.apply(resource, ns, &again, true, false).await.map_err(|e| {
        ClusterFailure::new(format!(
            "SparkApplication/{name} was deleted but not created again: {e}\n  `sluice apply --env {}` creates it from the values (the checkpoint is where it was)",
            desired.environment
        ))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resubmission_keeps_only_what_sluice_wrote() {
        let live = json!({
            "apiVersion": "sparkoperator.k8s.io/v1beta2",
            "kind": "SparkApplication",
            "metadata": {
                "name": "orders", "namespace": "prod", "uid": "u", "resourceVersion": "7",
                "generation": 3, "creationTimestamp": "t", "managedFields": [],
                "labels": {"a": "b"}, "annotations": {"c": "d"},
            },
            "spec": {"mainClass": "C"},
            "status": {"applicationState": {"state": "RUNNING"}},
        });
        assert_eq!(
            resubmission(&live),
            json!({
                "apiVersion": "sparkoperator.k8s.io/v1beta2",
                "kind": "SparkApplication",
                "metadata": {"name": "orders", "namespace": "prod", "labels": {"a": "b"}, "annotations": {"c": "d"}},
                "spec": {"mainClass": "C"},
            })
        );
    }
}
