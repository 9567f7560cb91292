//! `sluice apply --env E`: server-side apply of what changed, nothing else.

use super::cluster::{self};
use super::diff::action_name;
use super::{Exit, Global, SetFlags, UsageError};
use crate::cluster::{ClusterError, ClusterOptions};
use crate::plan::{self, Action};
use futures::StreamExt;
use std::time::Duration;

/// Writes in flight at once.
const CONCURRENCY: usize = 8;

#[derive(Clone, Debug)]
pub struct ApplyOptions {
    pub environment: String,
    pub sets: SetFlags,
    pub cluster: ClusterOptions,
    pub force_conflicts: bool,
    pub dry_run: bool,
    pub prune: bool,
    pub allow_empty: bool,
    pub wait: bool,
    pub timeout: Duration,
}

/// Every SparkApplication of the render, and which submission would be
/// stale for it: the one before the apply, when the apply resubmits it.
fn wait_targets(planned: &super::cluster::Planned) -> Vec<super::wait::Target> {
    planned
        .changes
        .iter()
        .filter(|c| c.kind == "SparkApplication" && c.desired.is_some())
        .map(|c| {
            let suspended = c
                .desired
                .as_ref()
                .and_then(|d| d.pointer("/spec/suspend"))
                .and_then(serde_json::Value::as_bool)
                == Some(true);
            let (_, before, _) = super::wait::state_of(c.live.as_ref());
            super::wait::Target {
                stream: c.stream.clone(),
                name: c.name.clone(),
                suspended,
                stale_submission: if c.restarts() { before } else { None },
            }
        })
        .collect()
}

pub fn run(global: &Global, options: &ApplyOptions) -> anyhow::Result<Exit> {
    let desired = cluster::desired(global, &options.environment, &[], &options.sets)?;
    cluster::runtime().block_on(async {
        let cluster = cluster::connect(&options.cluster, &desired).await?;
        let mut planned = cluster::plan(&cluster, &desired).await?;
        let deletions = super::diff::count(&planned.changes, |a| matches!(a, Action::Delete));
        if options.prune && desired.objects.is_empty() && deletions > 0 && !options.allow_empty {
            return Err(UsageError::new(format!(
                "the render of `{}` produced no object, but the environment has {deletions} live object{}: refusing to prune them all",
                desired.environment,
                if deletions == 1 { "" } else { "s" }
            ))
            .help("if every stream is meant to go, rerun with --allow-empty")
            .into());
        }
        if !options.prune {
            planned.changes.retain(|c| c.action != Action::Delete);
        }
        // The plan, deletions first: the part a reviewer must not miss.
        let mut out = String::new();
        let verb = if options.dry_run { "would apply" } else { "applying" };
        out.push_str(&format!("{verb} to environment `{}` (namespace `{}`, context `{}`)\n", desired.environment, desired.namespace, cluster.context));
        let mut lines: Vec<&plan::Change> = planned.changes.iter().filter(|c| c.writes()).collect();
        lines.sort_by_key(|c| c.action != Action::Delete);
        for c in &lines {
            let note = match &c.action {
                Action::Update { restarts: true, .. } => " (restarts the stream)",
                Action::Update { adopt: true, .. } => " (takes ownership, no change)",
                _ => "",
            };
            out.push_str(&format!("  {:<9} {}/{}  stream {}{note}\n", action_name(&c.action), c.kind, c.name, c.stream));
        }
        for w in &planned.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        eprint!("{out}");
        if options.dry_run {
            println!("{} (dry run: nothing was written)", super::diff::totals(&planned.changes));
            return Ok(Exit::Success);
        }

        // The parent first, listing every kind it will have members of.
        let configmaps = crate::cluster::known_resource("v1", "ConfigMap").expect("known");
        if plan::decide(&planned.parent, planned.parent_live.as_ref()) != Action::Unchanged {
            cluster.apply(&configmaps, &desired.namespace, &planned.parent, true, false).await?;
        }
        let writes = planned.changes.iter().filter(|c| matches!(c.action, Action::Create | Action::Update { .. }));
        let results: Vec<Result<(), (String, ClusterError)>> = futures::stream::iter(writes.map(|c| {
            let cluster = &cluster;
            let planned = &planned;
            let namespace = &desired.namespace;
            async move {
                let resource = &planned.resources[&(c.api_version.clone(), c.kind.clone())];
                let object = c.desired.as_ref().expect("writes have a desired object");
                cluster
                    .apply(resource, namespace, object, options.force_conflicts, false)
                    .await
                    .map(|_| ())
                    .map_err(|e| (format!("{}/{}", c.kind, c.name), e))
            }
        }))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
        let failures: Vec<(String, ClusterError)> = results.into_iter().filter_map(Result::err).collect();
        if !failures.is_empty() {
            // The first failure is the error; the others are listed before it.
            let mut failures = failures.into_iter();
            let (_, first) = failures.next().expect("non-empty");
            for (object, e) in failures {
                eprintln!("error: {object}: {e}");
            }
            // Nothing is pruned after a failed write: a re-run converges.
            return Err(first.into());
        }
        if options.prune {
            for c in planned.changes.iter().filter(|c| c.action == Action::Delete) {
                let resource = &planned.resources[&(c.api_version.clone(), c.kind.clone())];
                cluster.delete(resource, &desired.namespace, &c.name).await?;
            }
            // After a complete prune the parent lists exactly what is left
            // (KEP-3659). Not with --changed-since: the other streams' kinds
            // were not looked at.
            if desired.affected.is_none() && planned.warnings.is_empty() {
                if crate::applyset::listed_group_kinds(&planned.parent) != planned.rendered_group_kinds {
                    let exact = crate::applyset::parent(&desired.environment, &desired.namespace, &planned.rendered_group_kinds);
                    cluster.apply(&configmaps, &desired.namespace, &exact, true, false).await?;
                }
            }
        }
        println!("applied: {}", super::diff::totals(&planned.changes));
        if options.wait {
            let targets = wait_targets(&planned);
            if !targets.is_empty() {
                eprintln!("waiting for {} stream{} (timeout {:?})", targets.len(), if targets.len() == 1 { "" } else { "s" }, options.timeout);
                let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr()) && global.styled(true);
                super::wait::wait(&cluster, &desired.namespace, &targets, options.timeout, terminal).await?;
                eprintln!("all {} stream{} running", targets.len(), if targets.len() == 1 { "" } else { "s" });
            }
        }
        global.trace(|| format!("apply: {} API requests", cluster.requests()));
        Ok(Exit::Success)
    })
}
