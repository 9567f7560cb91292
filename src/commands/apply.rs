//! `sluice apply --env E`: server-side apply of what changed, nothing else,
//! all or nothing: every planned write is dry-run first, and if the server
//! would refuse any of them, none is made.

use super::cluster::{self, Desired, Planned};
use super::diff::action_name;
use super::{ClusterFailure, Exit, Global, SetFlags, UsageError};
use crate::cluster::{Cluster, ClusterError, ClusterOptions};
use crate::plan::{self, Action, Change, Impact};
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;

/// Writes in flight at once.
const CONCURRENCY: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyFormat {
    Human,
    Json,
}

#[derive(Clone, Debug)]
pub struct ApplyOptions {
    pub environment: String,
    pub sets: SetFlags,
    pub cluster: ClusterOptions,
    pub force_conflicts: bool,
    pub dry_run: bool,
    pub prune: bool,
    pub allow_empty: bool,
    pub allow_state_reset: bool,
    pub allow_state_loss: bool,
    pub wait: bool,
    pub timeout: Duration,
    /// Restart at most this many streams at a time (else the
    /// environment's `rollout.maxUnavailable`, else all at once).
    pub max_unavailable: Option<usize>,
    /// Apply inside a freeze window.
    pub ignore_freeze: bool,
    pub format: ApplyFormat,
}

/// What happened to one planned write.
#[derive(Clone, Debug)]
enum Outcome {
    /// Not attempted (unchanged, or a dry run).
    Skipped,
    /// Written; the server's answer (none for a delete).
    Written(Option<Value>),
    /// `lost`: the connection to the cluster was lost.
    Failed { message: String, lost: bool },
    /// Not attempted because an earlier step failed.
    NotWritten,
}

pub fn run(global: &Global, options: &ApplyOptions) -> anyhow::Result<Exit> {
    let desired = cluster::desired(global, &options.environment, &[], &options.sets)?;
    // Change windows, before the cluster is asked anything.
    cluster::refuse_if_frozen(&desired, "apply", options.ignore_freeze, options.dry_run)?;
    cluster::runtime().block_on(async {
        let cluster = cluster::connect(&options.cluster, &desired).await?;
        let mut planned = cluster::plan(&cluster, &desired).await?;
        if !options.prune {
            planned.changes.retain(|c| c.action != Action::Delete);
        }
        refuse_pruning_everything(&desired, &planned, options)?;
        refuse_state_loss(&planned, options)?;

        // All or nothing: the server dry-runs every planned write first.
        let refusals = cluster::dry_run(&cluster, &desired, &mut planned, options.force_conflicts).await;
        let configmaps = crate::cluster::known_resource("v1", "ConfigMap").expect("known");
        let parent_writes = plan::decide(&planned.parent, planned.parent_live.as_ref()) != Action::Unchanged;
        let mut refusals: Vec<(String, ClusterError)> = refusals.into_iter().map(|r| (r.object, r.error)).collect();
        let parent_name = format!("ConfigMap/{} (the ApplySet parent)", crate::applyset::parent_name(&desired.environment));
        if parent_writes
            && let Err(e) = cluster.apply(&configmaps, &desired.namespace, &planned.parent, true, true).await
        {
            refusals.push((parent_name.clone(), e));
        }
        // After a complete prune the parent lists exactly what is left
        // (KEP-3659). Not with --changed-since: the other streams' kinds
        // were not looked at. Dry-run too, like every write.
        let exact_parent = (options.prune
            && desired.affected.is_none()
            && planned.warnings.is_empty()
            && crate::applyset::listed_group_kinds(&planned.parent) != planned.rendered_group_kinds)
            .then(|| {
                let mut exact = crate::applyset::parent(&desired.environment, &desired.namespace, &planned.rendered_group_kinds);
                plan::add_digest(&mut exact);
                exact
            });
        if let Some(exact) = &exact_parent
            && !parent_writes
            && let Err(e) = cluster.apply(&configmaps, &desired.namespace, exact, true, true).await
        {
            refusals.push((parent_name.clone(), e));
        }
        eprint!("{}", plan_text(&desired, &planned, &cluster, options.dry_run));
        // Restart waves, from the impacts the server confirmed.
        let max_unavailable = desired.rollout.max_unavailable(options.max_unavailable);
        let waves = desired.rollout.waves(&planned.changes, options.max_unavailable);
        if let Some(waves) = &waves {
            eprintln!("restarts in {} waves{}:", plan::waves::restart_waves(waves), max_unavailable.map(|n| format!(" of at most {n}")).unwrap_or_default());
            for line in plan::waves::describe(waves) {
                eprintln!("  {line}");
            }
        }
        if !refusals.is_empty() {
            let total = planned.changes.iter().filter(|c| c.writes()).count() + usize::from(parent_writes);
            let mut message = format!(
                "the server refused {} of {total} planned write{} in its dry run; nothing was written:",
                refusals.len(),
                if total == 1 { "" } else { "s" }
            );
            for (object, e) in &refusals {
                message.push_str(&format!("\n  {object}: {}", indent(&e.to_string())));
            }
            return Err(ClusterFailure::new(message).into());
        }
        refuse_state_resets(&desired, &planned, options)?;
        if options.dry_run {
            let outcomes = vec![Outcome::Skipped; planned.changes.len()];
            report(options, &desired, &planned, &outcomes, &cluster)?;
            return Ok(Exit::Success);
        }

        // The parent first, listing every kind it will have members of.
        let mut parent = Vec::new();
        let mut outcomes = vec![Outcome::NotWritten; planned.changes.len()];
        if parent_writes {
            match cluster.apply(&configmaps, &desired.namespace, &planned.parent, true, false).await {
                Ok(_) => parent.push((parent_name.clone(), Outcome::Written(None))),
                Err(e) => parent.push((parent_name.clone(), failed(&e))),
            }
        }
        if parent.iter().all(|(_, o)| matches!(o, Outcome::Written(_))) {
            match &waves {
                None => outcomes = write(&cluster, &desired, &planned, options, None).await,
                Some(waves) => {
                    if let Err(stopped) = roll_out(global, &cluster, &desired, &planned, options, waves, &mut outcomes).await {
                        record(global, &cluster, &desired, &planned, &outcomes, false).await;
                        return Err(stopped);
                    }
                }
            }
        }
        let failed_so_far = |outcomes: &[Outcome], parent: &[(String, Outcome)]| {
            outcomes.iter().chain(parent.iter().map(|(_, o)| o)).any(|o| matches!(o, Outcome::Failed { .. }))
        };
        // Nothing is pruned after a failed write: a re-run converges.
        if options.prune && !failed_so_far(&outcomes, &parent) {
            prune(&cluster, &desired, &planned, &mut outcomes).await;
        } else {
            for (c, o) in planned.changes.iter().zip(outcomes.iter_mut()) {
                if c.action == Action::Delete && options.prune {
                    *o = Outcome::NotWritten;
                }
            }
        }
        if let Some(exact) = &exact_parent
            && !failed_so_far(&outcomes, &parent)
        {
            match cluster.apply(&configmaps, &desired.namespace, exact, true, false).await {
                Ok(_) => parent.push((format!("{parent_name}, listing what is left"), Outcome::Written(None))),
                Err(e) => parent.push((format!("{parent_name}, listing what is left"), failed(&e))),
            }
        }
        if let Some(failure) = failure_report(&planned, &outcomes, &parent) {
            record(global, &cluster, &desired, &planned, &outcomes, false).await;
            // What was written is listed; a re-run converges.
            return Err(ClusterFailure::new(failure).into());
        }
        // Restarts as the server answered them: the generation moved.
        for (c, o) in planned.changes.iter_mut().zip(&outcomes) {
            if let (Outcome::Written(Some(answer)), Some(live)) = (o, &c.live) {
                let generation = |v: &Value| v.pointer("/metadata/generation").and_then(Value::as_i64);
                c.impact = plan::impact(&c.kind, live, answer, Some(generation(live) != generation(answer)));
            }
        }
        record(global, &cluster, &desired, &planned, &outcomes, true).await;
        report(options, &desired, &planned, &outcomes, &cluster)?;
        if options.wait {
            let targets = wait_targets(&planned);
            if !targets.is_empty() {
                eprintln!("waiting for {} stream{} (timeout {:?})", targets.len(), if targets.len() == 1 { "" } else { "s" }, options.timeout);
                let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr()) && global.styled(true);
                super::wait::wait(&cluster, &desired.namespace, &targets, options.timeout, terminal).await?;
                eprintln!("all {} stream{} ready", targets.len(), if targets.len() == 1 { "" } else { "s" });
            }
        }
        global.trace(|| format!("apply: {} API requests", cluster.requests()));
        Ok(Exit::Success)
    })
}

/// `--prune` must not empty the environment by accident. The guard looks
/// at the whole environment: with `--changed-since`, deleting one stream
/// file of many is an ordinary prune.
fn refuse_pruning_everything(
    desired: &Desired,
    planned: &Planned,
    options: &ApplyOptions,
) -> anyhow::Result<()> {
    let deletions = super::diff::count(&planned.changes, |a| matches!(a, Action::Delete));
    if options.prune && deletions > 0 && planned.members_left == 0 && !options.allow_empty {
        return Err(UsageError::new(format!(
            "applying `{}` would leave the environment with no object: refusing to prune its {deletions} live object{}",
            desired.environment,
            if deletions == 1 { "" } else { "s" }
        ))
        .help("if every stream is meant to go, rerun with --allow-empty")
        .into());
    }
    Ok(())
}

/// A prune never deletes a Flink stream's state unasked: without
/// `savepoint-on-deletion` on the live deployment, the operator deletes its
/// checkpoints and HA metadata with it.
fn refuse_state_loss(planned: &Planned, options: &ApplyOptions) -> anyhow::Result<()> {
    if !options.prune || options.allow_state_loss {
        return Ok(());
    }
    let lost: Vec<String> = planned
        .changes
        .iter()
        .filter(|c| {
            c.action == Action::Delete
                && matches!(
                    c.impact,
                    Impact::Stop {
                        deletes_state: true,
                        ..
                    }
                )
        })
        .map(|c| format!("  {}: {}", c.stream, c.impact.phrase()))
        .collect();
    if lost.is_empty() {
        return Ok(());
    }
    Err(UsageError::new(format!(
        "pruning would delete the state of {} Flink stream{} (the live deployment takes no savepoint on deletion):\n{}",
        lost.len(),
        if lost.len() == 1 { "" } else { "s" },
        lost.join("\n")
    ))
    .help(format!(
        "nothing was written; to keep the state, apply `{}: \"true\"` in flinkConfiguration first (sluice renders it unless a stream sets it otherwise), then prune; if losing it is intended, rerun with --allow-state-loss",
        crate::flink::build::SAVEPOINT_ON_DELETION
    ))
    .into())
}

/// A protected environment never loses a stream's state by accident.
fn refuse_state_resets(
    desired: &Desired,
    planned: &Planned,
    options: &ApplyOptions,
) -> anyhow::Result<()> {
    if !desired.protected || options.allow_state_reset {
        return Ok(());
    }
    let resets: Vec<String> = planned
        .changes
        .iter()
        .filter(|c| c.writes() && c.impact.resets_state())
        .map(|c| format!("  {}: {}", c.stream, c.impact.phrase()))
        .collect();
    if resets.is_empty() {
        return Ok(());
    }
    Err(UsageError::new(format!(
        "environment `{}` is protected, and this apply restarts {} stream{} without its state (offsets and aggregations are lost; data is reprocessed or skipped):\n{}",
        desired.environment,
        resets.len(),
        if resets.len() == 1 { "" } else { "s" },
        resets.join("\n")
    ))
    .help("nothing was written; if the reset is intended, rerun with --allow-state-reset")
    .into())
}

fn indent(text: &str) -> String {
    text.replace('\n', "\n    ")
}

/// The plan, deletions first: the part a reviewer must not miss.
fn plan_text(desired: &Desired, planned: &Planned, cluster: &Cluster, dry_run: bool) -> String {
    let mut out = String::new();
    let verb = if dry_run { "would apply" } else { "applying" };
    out.push_str(&format!(
        "{verb} to environment `{}` (namespace `{}`, context `{}`)\n",
        desired.environment, desired.namespace, cluster.context
    ));
    let mut lines: Vec<&Change> = planned.changes.iter().filter(|c| c.writes()).collect();
    lines.sort_by_key(|c| c.action != Action::Delete);
    for c in &lines {
        let note = match (&c.action, &c.impact) {
            (Action::Update { adopt: true, .. }, Impact::None) => {
                " (takes ownership, no change)".to_owned()
            }
            (Action::Update { .. }, Impact::None) => String::new(),
            (_, Impact::None | Impact::Start) => String::new(),
            (_, impact) => format!(" ({})", impact.phrase()),
        };
        out.push_str(&format!(
            "  {:<9} {}/{}  stream {}{note}\n",
            action_name(&c.action),
            c.kind,
            c.name,
            c.stream
        ));
    }
    for w in &planned.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

/// The creates and updates, a few at a time. After the first failure no
/// new write starts.
/// Writes the plan's creates and updates (`only`: just these changes, by
/// index; the others are left `NotWritten`).
async fn write(
    cluster: &Cluster,
    desired: &Desired,
    planned: &Planned,
    options: &ApplyOptions,
    only: Option<&[usize]>,
) -> Vec<Outcome> {
    let stop = std::sync::atomic::AtomicBool::new(false);
    let jobs = planned.changes.iter().enumerate().map(|(i, c)| {
        let stop = &stop;
        async move {
            if !matches!(c.action, Action::Create | Action::Update { .. }) {
                return Outcome::Skipped;
            }
            if only.is_some_and(|only| !only.contains(&i)) {
                return Outcome::NotWritten;
            }
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                return Outcome::NotWritten;
            }
            let resource = &planned.resources[&(c.api_version.clone(), c.kind.clone())];
            let object = c.desired.as_ref().expect("writes have a desired object");
            match cluster
                .apply(
                    resource,
                    &desired.namespace,
                    object,
                    options.force_conflicts,
                    false,
                )
                .await
            {
                Ok(answer) => Outcome::Written(Some(answer)),
                Err(e) => {
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    failed(&e)
                }
            }
        }
    });
    futures::stream::iter(jobs)
        .buffered(CONCURRENCY)
        .collect()
        .await
}

/// Writes the plan wave by wave: each restarting wave once the previous
/// one is healthy (the health `--wait` waits for). A failed write stops
/// the rollout (the failure report lists what was written); a stream that
/// fails or times out stops it with the streams on the new values, the
/// failed one and those not touched.
async fn roll_out(
    global: &Global,
    cluster: &Cluster,
    desired: &Desired,
    planned: &Planned,
    options: &ApplyOptions,
    waves: &[plan::waves::Wave],
    outcomes: &mut [Outcome],
) -> anyhow::Result<()> {
    let total = plan::waves::restart_waves(waves);
    let mut done: Vec<&str> = Vec::new();
    let mut k = 0;
    for wave in waves {
        if wave.restarts {
            k += 1;
            eprintln!(
                "wave {k} of {total}{}: restarting {}",
                if wave.canary { " (canary)" } else { "" },
                wave.streams.join(", ")
            );
        }
        let written = write(cluster, desired, planned, options, Some(&wave.changes)).await;
        for &i in &wave.changes {
            outcomes[i] = written[i].clone();
        }
        if wave
            .changes
            .iter()
            .any(|&i| matches!(outcomes[i], Outcome::Failed { .. }))
        {
            return Ok(());
        }
        if !wave.restarts {
            done.extend(wave.streams.iter().map(String::as_str));
            continue;
        }
        let targets: Vec<super::wait::Target> = wait_targets(planned)
            .into_iter()
            .filter(|t| wave.streams.contains(&t.stream))
            .collect();
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr()) && global.styled(true);
        if let Err(e) = super::wait::wait(
            cluster,
            &desired.namespace,
            &targets,
            options.timeout,
            terminal,
        )
        .await
        {
            let untouched: Vec<&str> = waves
                .iter()
                .skip_while(|w| !std::ptr::eq(*w, wave))
                .skip(1)
                .flat_map(|w| w.streams.iter().map(String::as_str))
                .collect();
            let failed = match &e {
                super::wait::WaitError::Failed { stream, .. } => stream.clone(),
                _ => wave.streams.join(", "),
            };
            let on_new: Vec<&str> = done
                .iter()
                .copied()
                .chain(wave.streams.iter().map(String::as_str))
                .filter(|s| *s != failed)
                .collect();
            let list = |l: &[&str]| {
                if l.is_empty() {
                    "none".to_owned()
                } else {
                    l.join(", ")
                }
            };
            return Err(ClusterFailure::new(format!(
                "the rollout stopped in wave {k} of {total}: {e}\n  on the new values: {}\n  failed: {failed}\n  not touched (no later wave was written): {}",
                list(&on_new),
                list(&untouched)
            ))
            .into());
        }
        eprintln!("wave {k} of {total} ready");
        done.extend(wave.streams.iter().map(String::as_str));
    }
    Ok(())
}

/// Records the apply in the environment's history (see `crate::history`),
/// when it wrote anything and the cluster is still reachable. A history
/// that cannot be written is a warning: the apply itself happened.
async fn record(
    global: &Global,
    cluster: &Cluster,
    desired: &Desired,
    planned: &Planned,
    outcomes: &[Outcome],
    complete: bool,
) {
    let lost = outcomes
        .iter()
        .any(|o| matches!(o, Outcome::Failed { lost: true, .. }));
    let written: Vec<&Change> = planned
        .changes
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| matches!(o, Outcome::Written(_)))
        .map(|(c, _)| c)
        .collect();
    let streams = |f: &dyn Fn(&Change) -> bool| -> Vec<String> {
        let set: std::collections::BTreeSet<String> = written
            .iter()
            .filter(|c| f(c))
            .map(|c| c.stream.clone())
            .collect();
        set.into_iter().collect()
    };
    let created = streams(&|c| c.action == Action::Create && plan::is_stream_object(&c.kind));
    let entry = crate::history::Entry {
        changed: streams(&|c| {
            matches!(c.action, Action::Update { .. })
                || (c.action == Action::Create && !plan::is_stream_object(&c.kind))
        })
        .into_iter()
        .filter(|s| !created.contains(s))
        .collect(),
        restarted: streams(&|c| matches!(c.action, Action::Update { .. }) && c.restarts()),
        pruned: streams(&|c| c.action == Action::Delete),
        created,
        complete,
        ..new_entry(global)
    };
    if lost || (entry.created.is_empty() && entry.changed.is_empty() && entry.pruned.is_empty()) {
        return;
    }
    append_history(cluster, desired, entry, "apply").await;
}

/// A history entry of this run: the time, sluice's version, the GitLab
/// job and user, and the revision the values were read from.
pub(super) fn new_entry(global: &Global) -> crate::history::Entry {
    crate::history::Entry {
        time: jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .unwrap_or_else(|_| jiff::Timestamp::now())
            .to_string(),
        sluice_version: env!("CARGO_PKG_VERSION").to_owned(),
        job_url: std::env::var("CI_JOB_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .map(|u| crate::secret::mask_text(&u, &[] as &[&str]).into_owned()),
        user: std::env::var("GITLAB_USER_LOGIN")
            .ok()
            .filter(|u| !u.is_empty()),
        ..revision(global)
    }
}

/// Adds `entry` to the environment's history. A history that cannot be
/// written is a warning: what it records happened.
pub(super) async fn append_history(
    cluster: &Cluster,
    desired: &Desired,
    entry: crate::history::Entry,
    what: &str,
) {
    let configmaps = crate::cluster::known_resource("v1", "ConfigMap").expect("known");
    let name = crate::history::configmap_name(&desired.environment);
    let result = async {
        let live = cluster.get(&configmaps, &desired.namespace, &name).await?;
        let entries = crate::history::append(crate::history::read(live.as_ref()), entry);
        let map = crate::history::configmap(&desired.environment, &desired.namespace, &entries);
        cluster
            .apply(&configmaps, &desired.namespace, &map, true, false)
            .await
    }
    .await;
    if let Err(e) = result {
        eprintln!("warning: the {what} was not recorded in ConfigMap/{name}: {e}");
    }
}

/// The revision the values were read from: `--rev`'s commit (a rollback
/// when it is not HEAD's), else HEAD's and whether the working tree has
/// changes it does not hold (untracked files included: they render too).
fn revision(global: &Global) -> crate::history::Entry {
    let Ok(git) = crate::git::Git::open(&global.root) else {
        return crate::history::Entry::default();
    };
    let head = git.resolve("HEAD").ok();
    match &global.rev {
        Some(rev) => {
            let commit = git.resolve(rev).ok();
            crate::history::Entry {
                rollback: commit.is_some() && commit != head,
                revision: commit,
                ..Default::default()
            }
        }
        None => crate::history::Entry {
            dirty: head.is_some() && !git.is_pristine().unwrap_or(false),
            revision: head,
            ..Default::default()
        },
    }
}

/// Deletes with preconditions: an object re-created since the plan is not
/// the one to delete.
async fn prune(cluster: &Cluster, desired: &Desired, planned: &Planned, outcomes: &mut [Outcome]) {
    let mut stopped = false;
    for (c, outcome) in planned.changes.iter().zip(outcomes.iter_mut()) {
        if c.action != Action::Delete {
            continue;
        }
        if stopped {
            *outcome = Outcome::NotWritten;
            continue;
        }
        let resource = &planned.resources[&(c.api_version.clone(), c.kind.clone())];
        let mut precondition = c.precondition();
        let mut result = cluster
            .delete(resource, &desired.namespace, &c.name, &precondition, false)
            .await;
        // The operator writes a running stream's status every few seconds,
        // which moves its resourceVersion. Still the same object (uid) and
        // still this environment's member: delete it as it is now, once.
        if let Err(ClusterError::Api { code: 409, .. }) = result
            && let Ok(Some(now)) = cluster.get(resource, &desired.namespace, &c.name).await
            && plan::still_prunable(c, &now)
        {
            precondition.resource_version = now
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_owned);
            result = cluster
                .delete(resource, &desired.namespace, &c.name, &precondition, false)
                .await;
        }
        *outcome = match result {
            Ok(()) => Outcome::Written(None),
            Err(ClusterError::Api { code: 409, .. }) => Outcome::Failed {
                message: "it changed after the plan was made (another object of that name, or no longer this environment's), so it was not deleted; run apply again to see the new plan".into(),
                lost: false,
            },
            Err(e) => {
                stopped = true;
                failed(&e)
            }
        };
    }
}

fn failed(e: &ClusterError) -> Outcome {
    Outcome::Failed {
        // For a lost connection, what happened to it: the headline says
        // the rest.
        message: match e {
            ClusterError::ConnectionLost { server, detail }
            | ClusterError::Unreachable { server, detail } => format!("{server}: {detail}"),
            e => e.to_string(),
        },
        lost: e.is_connection_lost(),
    }
}

/// One headline and what was and was not written, or `None` when every
/// write went through.
fn failure_report(
    planned: &Planned,
    outcomes: &[Outcome],
    parent: &[(String, Outcome)],
) -> Option<String> {
    let name = |c: &Change| {
        format!(
            "{} {}/{} (stream {})",
            action_name(&c.action),
            c.kind,
            c.name,
            c.stream
        )
    };
    let attempted: Vec<(String, &Outcome)> = parent
        .iter()
        .map(|(p, o)| (format!("apply {p}"), o))
        .chain(
            planned
                .changes
                .iter()
                .zip(outcomes)
                .filter(|(c, o)| c.writes() && !matches!(o, Outcome::Skipped))
                .map(|(c, o)| (name(c), o)),
        )
        .collect();
    let failures: Vec<(&String, &String, bool)> = attempted
        .iter()
        .filter_map(|(c, o)| match o {
            Outcome::Failed { message, lost } => Some((c, message, *lost)),
            _ => None,
        })
        .collect();
    if failures.is_empty() {
        return None;
    }
    let total = attempted.len();
    let written: Vec<&String> = attempted
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Written(_)))
        .map(|(c, _)| c)
        .collect();
    let not_written: Vec<&String> = attempted
        .iter()
        .filter(|(_, o)| !matches!(o, Outcome::Written(_)))
        .map(|(c, _)| c)
        .collect();
    let mut out = if let Some((_, detail, _)) = failures.iter().find(|(_, _, lost)| *lost) {
        format!(
            "lost the connection to the cluster after {} of {total} writes ({detail})",
            written.len()
        )
    } else {
        let mut head = format!(
            "{} of {total} writes failed after the dry run had accepted them ({} written):",
            failures.len(),
            written.len()
        );
        for (c, m, _) in &failures {
            head.push_str(&format!("\n  {c}: {}", indent(m)));
        }
        head
    };
    out.push_str(&format!("\n  written ({}):", written.len()));
    for c in &written {
        out.push_str(&format!("\n    {c}"));
    }
    out.push_str(&format!("\n  not written ({}):", not_written.len()));
    for c in &not_written {
        out.push_str(&format!("\n    {c}"));
    }
    out.push_str("\n  applying again converges: what was written is not written twice");
    Some(out)
}

fn report(
    options: &ApplyOptions,
    desired: &Desired,
    planned: &Planned,
    outcomes: &[Outcome],
    cluster: &Cluster,
) -> anyhow::Result<()> {
    let totals = super::diff::totals(&planned.changes);
    match options.format {
        ApplyFormat::Human if options.dry_run => {
            println!("{totals} (dry run: nothing was written)")
        }
        ApplyFormat::Human => println!("applied: {totals}"),
        ApplyFormat::Json => {
            let generation = |v: Option<&Value>| {
                v.and_then(|v| v.pointer("/metadata/generation"))
                    .and_then(Value::as_i64)
            };
            let objects: Vec<Value> = planned
                .changes
                .iter()
                .zip(outcomes)
                .map(|(c, o)| {
                    let answer = match o {
                        Outcome::Written(a) => a.as_ref(),
                        _ => None,
                    };
                    json!({
                        "stream": c.stream,
                        "kind": c.kind,
                        "name": c.name,
                        "action": action_name(&c.action),
                        "impact": c.impact,
                        "restarts": c.restarts(),
                        "written": matches!(o, Outcome::Written(_)),
                        "generation": {"before": generation(c.live.as_ref()), "after": generation(answer).or(generation(c.live.as_ref()))},
                    })
                })
                .collect();
            let doc = json!({
                "environment": desired.environment,
                "namespace": desired.namespace,
                "context": cluster.context,
                "dry_run": options.dry_run,
                "waves": desired.rollout.restarting(&planned.changes, options.max_unavailable),
                "objects": objects,
                "summary": super::diff::summary_counts(&planned.changes),
                "writes": outcomes.iter().filter(|o| matches!(o, Outcome::Written(_))).count(),
                "api_requests": cluster.requests(),
            });
            super::print(&format!("{}\n", serde_json::to_string_pretty(&doc)?))?;
        }
    }
    Ok(())
}

/// Every stream object of the render, and which status would be stale for
/// it: the one before the apply, when the apply restarted it.
fn wait_targets(planned: &Planned) -> Vec<super::wait::Target> {
    planned
        .changes
        .iter()
        .filter_map(|c| {
            super::wait::Target::for_object(
                &c.stream,
                &c.name,
                c.desired.as_ref()?,
                c.live.as_ref(),
                c.restarts(),
            )
        })
        .collect()
}
