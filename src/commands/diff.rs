//! `sluice diff --env E`: what applying would change in the cluster, per
//! stream, and whether it restarts the stream; or, with `--base REV`, what
//! a change of the values changes in the rendered manifests (offline, for
//! merge requests).

use super::cluster::{self, Desired, Planned};
use super::{Exit, Global, SetFlags};
use crate::cluster::{Cluster, ClusterError, ClusterOptions};
use crate::plan::{self, Action, Change};
use crate::resources::Requests;
use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffFormat {
    Human,
    Json,
    Markdown,
}

#[derive(Clone, Debug)]
pub struct DiffOptions {
    pub environment: String,
    pub sets: SetFlags,
    pub cluster: ClusterOptions,
    /// Offline: compare the render at this revision with `head`.
    pub base: Option<String>,
    /// The other side of an offline diff (default: the working tree).
    pub head: Option<String>,
    pub exit_code: bool,
    pub format: DiffFormat,
}

/// One object's entry in the report.
#[derive(Serialize)]
pub struct ObjectDiff {
    pub stream: String,
    pub kind: String,
    pub name: String,
    pub action: &'static str,
    pub restarts: bool,
    pub fields: Vec<String>,
    pub diff: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict: Option<String>,
}

/// One stream's line in the summary.
#[derive(Serialize)]
pub struct StreamSummary {
    pub stream: String,
    pub change: &'static str,
    pub restarts: bool,
    /// What the change adds to (or takes from) the cluster's requests.
    pub requests_delta: Requests,
}

/// What a diff found, whichever way it was made.
pub struct Report {
    pub environment: String,
    pub namespace: String,
    /// `context ...` for a live diff, `base..head` for an offline one.
    pub against: String,
    pub changes: Vec<Change>,
    pub diffs: Vec<ObjectDiff>,
    pub requests: Option<usize>,
    pub budget: Option<crate::resources::Requests>,
}

pub fn action_name(action: &Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update { .. } => "changed",
        Action::Unchanged => "unchanged",
        Action::Delete => "pruned",
    }
}

/// Per stream: pruned if all its objects go, created if its
/// SparkApplication is new, changed if anything changes, else unchanged.
pub fn summarize(changes: &[Change]) -> Vec<StreamSummary> {
    let mut sorted: Vec<&Change> = changes.iter().collect();
    sorted.sort_by(|a, b| a.stream.cmp(&b.stream));
    let mut out: Vec<StreamSummary> = Vec::new();
    for group in sorted.chunk_by(|a, b| a.stream == b.stream) {
        let all = |f: fn(&Action) -> bool| group.iter().all(|c| f(&c.action));
        let any = |f: fn(&Action) -> bool| group.iter().any(|c| f(&c.action));
        let change = if all(|a| matches!(a, Action::Delete)) {
            "pruned"
        } else if group
            .iter()
            .any(|c| c.kind == "SparkApplication" && c.action == Action::Create)
        {
            "created"
        } else if any(|a| !matches!(a, Action::Unchanged)) {
            "changed"
        } else {
            "unchanged"
        };
        let delta = group.iter().fold(Requests::default(), |acc, c| {
            acc + requests_after(c) - requests_before(c)
        });
        out.push(StreamSummary {
            stream: group[0].stream.clone(),
            change,
            restarts: group.iter().any(|c| c.restarts()),
            requests_delta: delta,
        });
    }
    out
}

fn requests_before(c: &Change) -> Requests {
    c.live
        .as_ref()
        .map(crate::resources::of)
        .unwrap_or_default()
}

fn requests_after(c: &Change) -> Requests {
    match c.action {
        Action::Delete => Requests::default(),
        _ => c
            .desired
            .as_ref()
            .map(crate::resources::of)
            .unwrap_or_default(),
    }
}

/// The environment's total requests before and after.
fn totals_requests(changes: &[Change]) -> (Requests, Requests) {
    changes
        .iter()
        .fold((Requests::default(), Requests::default()), |(b, a), c| {
            (b + requests_before(c), a + requests_after(c))
        })
}

fn over_budget(after: Requests, budget: Option<Requests>) -> Option<String> {
    let budget = budget?;
    let mut over = Vec::new();
    if after.cores > budget.cores {
        over.push(format!(
            "{:.1} cores requested, {} budgeted",
            after.cores, budget.cores
        ));
    }
    if after.memory_mib > budget.memory_mib {
        over.push(format!(
            "{} memory requested, {} budgeted",
            crate::resources::show_memory(after.memory_mib),
            crate::resources::show_memory(budget.memory_mib)
        ));
    }
    (!over.is_empty()).then(|| over.join("; "))
}

fn object_diff(
    c: &Change,
    after: Option<&Value>,
    conflict: Option<String>,
    sides: (&str, &str),
) -> ObjectDiff {
    let fields = match &c.action {
        Action::Update { paths, .. } => paths.clone(),
        _ => Vec::new(),
    };
    ObjectDiff {
        stream: c.stream.clone(),
        kind: c.kind.clone(),
        name: c.name.clone(),
        action: action_name(&c.action),
        restarts: c.restarts(),
        fields,
        diff: plan::unified_diff_between(
            c.live.as_ref(),
            after,
            &format!("{}/{}", c.kind, c.name),
            sides,
        ),
        conflict,
    }
}

/// The exact diff of every object that changes: a server-side dry run
/// (so defaulting and admission show), compared with the live object.
pub async fn object_diffs(
    cluster: &Cluster,
    desired: &Desired,
    planned: &Planned,
) -> Vec<ObjectDiff> {
    let jobs = planned
        .changes
        .iter()
        .filter(|c| c.writes())
        .map(|c| async move {
            let (after, conflict) = match (&c.action, &c.desired) {
                (Action::Delete, _) | (_, None) => (None, None),
                (_, Some(object)) => {
                    let resource = &planned.resources[&(c.api_version.clone(), c.kind.clone())];
                    match cluster
                        .apply(resource, &desired.namespace, object, false, true)
                        .await
                    {
                        Ok(result) => (Some(plan::without_server_fields(&result)), None),
                        Err(ClusterError::Conflict { fields, .. }) => {
                            (Some(object.clone()), Some(fields))
                        }
                        Err(e) => (Some(object.clone()), Some(e.to_string())),
                    }
                }
            };
            object_diff(c, after.as_ref(), conflict, ("live", "rendered"))
        });
    futures::stream::iter(jobs).buffered(8).collect().await
}

pub fn run(global: &Global, options: &DiffOptions) -> anyhow::Result<Exit> {
    let report = match &options.base {
        Some(base) => offline(global, options, base)?,
        None => live(global, options)?,
    };
    let text = match options.format {
        DiffFormat::Human => human(&report, global.styled(false)),
        DiffFormat::Json => json(&report),
        DiffFormat::Markdown => markdown(&report),
    };
    super::print(&text)?;
    let changed = report.changes.iter().any(Change::writes);
    Ok(if options.exit_code && changed {
        Exit::Findings
    } else {
        Exit::Success
    })
}

fn live(global: &Global, options: &DiffOptions) -> anyhow::Result<Report> {
    let desired = cluster::desired(global, &options.environment, &[], &options.sets)?;
    cluster::runtime().block_on(async {
        let cluster = cluster::connect(&options.cluster, &desired).await?;
        let planned = cluster::plan(&cluster, &desired).await?;
        for w in &planned.warnings {
            eprintln!("warning: {w}");
        }
        let diffs = object_diffs(&cluster, &desired, &planned).await;
        global.trace(|| format!("diff: {} API requests", cluster.requests()));
        Ok(Report {
            environment: desired.environment.clone(),
            namespace: desired.namespace.clone(),
            against: format!("the cluster (context `{}`)", cluster.context),
            changes: planned.changes,
            diffs,
            requests: Some(cluster.requests()),
            budget: desired.budget,
        })
    })
}

/// Renders `base` (from git objects) and `head` (git or the working tree)
/// and compares them object by object. No cluster is needed.
fn offline(global: &Global, options: &DiffOptions, base: &str) -> anyhow::Result<Report> {
    let base = &super::resolve_mr(base)?;
    let git =
        crate::git::Git::open(&global.root).map_err(|e| super::UsageError::new(e.to_string()))?;
    let base_commit = git
        .resolve(base)
        .map_err(|e| super::UsageError::new(e.to_string()))?;
    let budget = std::cell::Cell::new(None);
    let side = |rev: Option<&str>| -> anyhow::Result<Vec<(String, Value)>> {
        let (loaded, objects) = super::render::render_environment_at(
            global,
            rev,
            &options.environment,
            &[],
            &options.sets,
            |m| m.object.clone(),
        )?;
        budget.set(
            loaded
                .repo
                .environment(&options.environment)
                .and_then(|e| crate::resources::budget(&e.root.to_json())),
        );
        Ok(objects.into_iter().map(|(k, o)| (k.stream, o)).collect())
    };
    // The environment may not exist at the base (a new environment).
    let before = match side(Some(&base_commit)) {
        Ok(objects) => objects,
        Err(e)
            if e.downcast_ref::<super::UsageError>()
                .is_some_and(|u| u.message.contains("unknown environment")) =>
        {
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    let after = side(options.head.as_deref())?;
    let head = options
        .head
        .clone()
        .unwrap_or_else(|| "the working tree".to_owned());
    let against = format!("{} → {head}", &base_commit[..12.min(base_commit.len())]);
    Ok(compare_renders(
        &options.environment,
        &before,
        &after,
        against,
        budget.get(),
        ("base", "head"),
    ))
}

/// Compares two renders of an environment, object by object: what a merge
/// request (or a promotion) changes, without a cluster.
pub fn compare_renders(
    environment: &str,
    before: &[(String, Value)],
    after: &[(String, Value)],
    against: String,
    budget: Option<Requests>,
    sides: (&str, &str),
) -> Report {
    let namespace = after
        .first()
        .or(before.first())
        .and_then(|(_, o)| o.pointer("/metadata/namespace"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let key = |o: &Value| {
        let get = |p: &str| {
            o.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        // The namespace is part of an object's identity: moving an
        // environment to another namespace creates new objects there.
        (
            get("/apiVersion"),
            get("/kind"),
            format!("{}/{}", get("/metadata/namespace"), get("/metadata/name")),
        )
    };
    let mut changes: Vec<Change> = Vec::new();
    for (stream, new) in after {
        let old = before
            .iter()
            .find(|(_, o)| key(o) == key(new))
            .map(|(_, o)| o);
        let (api_version, kind, qualified) = key(new);
        let name = qualified.rsplit('/').next().unwrap_or_default().to_owned();
        changes.push(Change {
            stream: stream.clone(),
            api_version,
            kind,
            name,
            action: plan::compare(old, Some(new)),
            desired: Some(new.clone()),
            live: old.cloned(),
        });
    }
    for (stream, old) in before {
        if !after.iter().any(|(_, n)| key(n) == key(old)) {
            let (api_version, kind, qualified) = key(old);
            let name = qualified.rsplit('/').next().unwrap_or_default().to_owned();
            changes.push(Change {
                stream: stream.clone(),
                api_version,
                kind,
                name,
                action: Action::Delete,
                desired: None,
                live: Some(old.clone()),
            });
        }
    }
    plan::sort(&mut changes);
    let diffs = changes
        .iter()
        .filter(|c| c.writes())
        .map(|c| object_diff(c, c.desired.as_ref(), None, sides))
        .collect();
    Report {
        environment: environment.to_owned(),
        namespace,
        against,
        changes,
        diffs,
        requests: None,
        budget,
    }
}

/// How many changes do what `f` asks.
pub fn count(changes: &[Change], f: impl Fn(&Action) -> bool) -> usize {
    changes.iter().filter(|c| f(&c.action)).count()
}

pub fn totals(changes: &[Change]) -> String {
    let restarts = changes.iter().filter(|c| c.restarts()).count();
    format!(
        "{} created, {} changed ({} restart{}), {} pruned, {} unchanged",
        count(changes, |a| matches!(a, Action::Create)),
        count(changes, |a| matches!(a, Action::Update { .. })),
        restarts,
        if restarts == 1 { "" } else { "s" },
        count(changes, |a| matches!(a, Action::Delete)),
        count(changes, |a| matches!(a, Action::Unchanged)),
    )
}

fn colored_diff(diff: &str, styled: bool) -> String {
    if !styled {
        return diff.to_owned();
    }
    let (red, green, cyan) = (
        anstyle::AnsiColor::Red.on_default(),
        anstyle::AnsiColor::Green.on_default(),
        anstyle::AnsiColor::Cyan.on_default(),
    );
    diff.lines()
        .map(|l| {
            let style = if l.starts_with("+++") || l.starts_with("---") {
                anstyle::Style::new().bold()
            } else if l.starts_with('+') {
                green
            } else if l.starts_with('-') {
                red
            } else if l.starts_with("@@") {
                cyan
            } else {
                anstyle::Style::new()
            };
            format!("{style}{l}{style:#}\n")
        })
        .collect()
}

fn restarts_cell(s: &StreamSummary) -> &'static str {
    match s.change {
        "changed" if s.restarts => "yes",
        "changed" => "no",
        _ => "-",
    }
}

/// The human form of a report.
pub fn human(report: &Report, styled: bool) -> String {
    let mut out = format!(
        "environment `{}` (namespace `{}`) against {}\n",
        report.environment, report.namespace, report.against
    );
    for d in &report.diffs {
        let restarts = if d.action == "changed" {
            if d.restarts {
                ", restarts the stream"
            } else {
                ", no restart"
            }
        } else {
            ""
        };
        out.push_str(&format!(
            "\n{} {}/{} (stream {}){restarts}\n",
            d.action, d.kind, d.name, d.stream
        ));
        if let Some(conflict) = &d.conflict {
            out.push_str(&format!("  apply would fail: {conflict}\n"));
        }
        out.push_str(&colored_diff(&d.diff, styled));
    }
    out.push('\n');
    let streams = summarize(&report.changes);
    let width = streams
        .iter()
        .map(|s| s.stream.len())
        .max()
        .unwrap_or(6)
        .max(6);
    out.push_str(&format!(
        "{:<width$}  {:<9}  restarts\n",
        "stream", "change"
    ));
    for s in &streams {
        out.push_str(&format!(
            "{:<width$}  {:<9}  {}\n",
            s.stream,
            s.change,
            restarts_cell(s)
        ));
    }
    out.push_str(&format!("\n{}\n", totals(&report.changes)));
    out
}

fn json(report: &Report) -> String {
    let changes = &report.changes;
    let (before, after) = totals_requests(changes);
    let doc = serde_json::json!({
        "environment": report.environment,
        "namespace": report.namespace,
        "against": report.against,
        "requests": {"before": before, "after": after, "budget": report.budget, "over_budget": over_budget(after, report.budget)},
        "streams": summarize(changes),
        "objects": report.diffs,
        "summary": {
            "created": count(changes, |a| matches!(a, Action::Create)),
            "changed": count(changes, |a| matches!(a, Action::Update { .. })),
            "restarts": changes.iter().filter(|c| c.restarts()).count(),
            "pruned": count(changes, |a| matches!(a, Action::Delete)),
            "unchanged": count(changes, |a| matches!(a, Action::Unchanged)),
        },
        "api_requests": report.requests,
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&doc).expect("the report serializes")
    )
}

fn markdown(report: &Report) -> String {
    let restarts = report.changes.iter().filter(|c| c.restarts()).count();
    let mut out = format!(
        "### `{}` (namespace `{}`): {}\n\n",
        report.environment,
        report.namespace,
        totals(&report.changes)
    );
    if restarts > 0 {
        out.push_str(&format!(
            "**This restarts {restarts} stream{}.**\n\n",
            if restarts == 1 { "" } else { "s" }
        ));
    }
    out.push_str("| stream | change | restarts? | cores, memory |\n|---|---|---|---|\n");
    for s in summarize(&report.changes)
        .iter()
        .filter(|s| s.change != "unchanged")
    {
        let r = match restarts_cell(s) {
            "yes" => "**yes**",
            other => other,
        };
        out.push_str(&format!(
            "| `{}` | {} | {r} | {} |\n",
            s.stream,
            s.change,
            crate::resources::show_delta(s.requests_delta)
        ));
    }
    let (before, after) = totals_requests(&report.changes);
    out.push_str(&format!(
        "\nRequested by the environment's streams (driver + executors × instances, overhead included): {} → **{}**",
        crate::resources::show(before),
        crate::resources::show(after)
    ));
    match (report.budget, over_budget(after, report.budget)) {
        (_, Some(over)) => out.push_str(&format!(
            "\n\n> **Warning:** over the environment's budget: {over}.\n"
        )),
        (Some(b), None) => out.push_str(&format!(" (budget: {}).\n", crate::resources::show(b))),
        (None, None) => out.push_str(".\n"),
    }
    for d in &report.diffs {
        out.push_str(&format!("\n<details><summary>{} {}/{} (stream <code>{}</code>)</summary>\n\n```diff\n{}```\n\n</details>\n", d.action, d.kind, d.name, d.stream, d.diff));
    }
    out
}
