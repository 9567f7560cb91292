//! `sluice diff --env E`: what applying would change in the cluster, per
//! stream, and whether it restarts the stream.

use super::cluster::{self, Desired, Planned};
use super::{Exit, Global, SetFlags};
use crate::cluster::{Cluster, ClusterError, ClusterOptions};
use crate::plan::{self, Action, Change};
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
    let mut out: Vec<StreamSummary> = Vec::new();
    for group in changes.chunk_by(|a, b| a.stream == b.stream) {
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
        out.push(StreamSummary {
            stream: group[0].stream.clone(),
            change,
            restarts: group.iter().any(Change::restarts),
        });
    }
    out
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
            let label = format!("{}/{}", c.kind, c.name);
            let (after, conflict) = match (&c.action, &c.desired) {
                (Action::Delete, _) | (_, None) => (None, None),
                (_, Some(object)) => {
                    let resource = &planned.resources[&(c.api_version.clone(), c.kind.clone())];
                    match cluster
                        .apply(resource, &desired.namespace, object, false, true)
                        .await
                    {
                        Ok(result) => (Some(plan::strip_like(&result)), None),
                        Err(ClusterError::Conflict { fields, .. }) => {
                            (Some(object.clone()), Some(fields))
                        }
                        Err(e) => (Some(object.clone()), Some(e.to_string())),
                    }
                }
            };
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
                diff: plan::unified_diff(c.live.as_ref(), after.as_ref(), &label),
                conflict,
            }
        });
    futures::stream::iter(jobs).buffered(8).collect().await
}

pub fn run(global: &Global, options: &DiffOptions) -> anyhow::Result<Exit> {
    let desired = cluster::desired(global, &options.environment, &[], &options.sets)?;
    cluster::runtime().block_on(async {
        let cluster = cluster::connect(&options.cluster, &desired).await?;
        let planned = cluster::plan(&cluster, &desired).await?;
        let diffs = object_diffs(&cluster, &desired, &planned).await;
        let streams = summarize(&planned.changes);
        let text = match options.format {
            DiffFormat::Human => human(
                &desired,
                &cluster,
                &planned,
                &diffs,
                &streams,
                global.styled(false),
            ),
            DiffFormat::Json => json(&desired, &cluster, &planned, &diffs, &streams),
            DiffFormat::Markdown => markdown(&desired, &planned, &diffs, &streams),
        };
        super::print(&text)?;
        global.trace(|| format!("diff: {} API requests", cluster.requests()));
        let changed = planned.changes.iter().any(Change::writes);
        Ok(if options.exit_code && changed {
            Exit::Findings
        } else {
            Exit::Success
        })
    })
}

pub fn totals(planned: &Planned) -> String {
    let restarts = planned.changes.iter().filter(|c| c.restarts()).count();
    format!(
        "{} created, {} changed ({} restart{}), {} pruned, {} unchanged",
        planned.count(|a| matches!(a, Action::Create)),
        planned.count(|a| matches!(a, Action::Update { .. })),
        restarts,
        if restarts == 1 { "" } else { "s" },
        planned.count(|a| matches!(a, Action::Delete)),
        planned.count(|a| matches!(a, Action::Unchanged)),
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

fn human(
    desired: &Desired,
    cluster: &Cluster,
    planned: &Planned,
    diffs: &[ObjectDiff],
    streams: &[StreamSummary],
    styled: bool,
) -> String {
    let mut out = format!(
        "environment `{}` (namespace `{}`, context `{}`)\n",
        desired.environment, desired.namespace, cluster.context
    );
    for d in diffs {
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
    for s in streams {
        let restarts = match s.change {
            "changed" if s.restarts => "yes",
            "changed" => "no",
            _ => "-",
        };
        out.push_str(&format!(
            "{:<width$}  {:<9}  {restarts}\n",
            s.stream, s.change
        ));
    }
    out.push_str(&format!("\n{}\n", totals(planned)));
    out
}

fn json(
    desired: &Desired,
    cluster: &Cluster,
    planned: &Planned,
    diffs: &[ObjectDiff],
    streams: &[StreamSummary],
) -> String {
    let doc = serde_json::json!({
        "environment": desired.environment,
        "namespace": desired.namespace,
        "context": cluster.context,
        "streams": streams,
        "objects": diffs,
        "summary": {
            "created": planned.count(|a| matches!(a, Action::Create)),
            "changed": planned.count(|a| matches!(a, Action::Update { .. })),
            "restarts": planned.changes.iter().filter(|c| c.restarts()).count(),
            "pruned": planned.count(|a| matches!(a, Action::Delete)),
            "unchanged": planned.count(|a| matches!(a, Action::Unchanged)),
        },
        "requests": cluster.requests(),
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&doc).expect("the report serializes")
    )
}

fn markdown(
    desired: &Desired,
    planned: &Planned,
    diffs: &[ObjectDiff],
    streams: &[StreamSummary],
) -> String {
    let restarts = planned.changes.iter().filter(|c| c.restarts()).count();
    let mut out = format!(
        "### `{}` (namespace `{}`): {}\n\n",
        desired.environment,
        desired.namespace,
        totals(planned)
    );
    if restarts > 0 {
        out.push_str(&format!(
            "**This restarts {restarts} stream{}.**\n\n",
            if restarts == 1 { "" } else { "s" }
        ));
    }
    out.push_str("| stream | change | restarts? |\n|---|---|---|\n");
    for s in streams.iter().filter(|s| s.change != "unchanged") {
        let r = if s.change == "changed" {
            if s.restarts { "**yes**" } else { "no" }
        } else {
            "–"
        };
        out.push_str(&format!("| `{}` | {} | {r} |\n", s.stream, s.change));
    }
    for d in diffs {
        out.push_str(&format!("\n<details><summary>{} {}/{} (stream <code>{}</code>)</summary>\n\n```diff\n{}```\n\n</details>\n", d.action, d.kind, d.name, d.stream, d.diff));
    }
    out
}

/// For `Value` users of the report.
pub fn to_value(d: &ObjectDiff) -> Value {
    serde_json::to_value(d).expect("serializes")
}
