//! `sluice status --env E`: every stream's live state, and whether the
//! cluster still holds what the values say (drift).

use super::cluster;
use super::{Exit, Global, SetFlags};
use crate::cluster::ClusterOptions;
use crate::plan::Action;
use serde::Serialize;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFormat {
    Human,
    Json,
}

#[derive(Clone, Debug)]
pub struct StatusOptions {
    pub environment: String,
    pub sets: SetFlags,
    pub cluster: ClusterOptions,
    pub format: StatusFormat,
}

#[derive(Serialize)]
struct Row {
    stream: String,
    name: String,
    state: String,
    executors_running: usize,
    submission_attempts: Option<i64>,
    /// `none`, `changed` (the live spec differs from the render),
    /// `missing` (not deployed) or `extra` (deployed, no longer rendered).
    drift: &'static str,
    last_submission: Option<String>,
    error: Option<String>,
}

fn row(stream: &str, name: &str, live: Option<&Value>, drift: &'static str) -> Row {
    let (state, _, error) = super::wait::state_of(live);
    let executors_running = live
        .and_then(|o| o.pointer("/status/executorState"))
        .and_then(Value::as_object)
        .map_or(0, |m| {
            m.values().filter(|s| s.as_str() == Some("RUNNING")).count()
        });
    Row {
        stream: stream.to_owned(),
        name: name.to_owned(),
        state: if live.is_none() {
            "-".into()
        } else if state.is_empty() {
            "UNKNOWN".into()
        } else {
            state
        },
        executors_running,
        submission_attempts: live
            .and_then(|o| o.pointer("/status/submissionAttempts"))
            .and_then(Value::as_i64),
        drift,
        last_submission: live
            .and_then(|o| o.pointer("/status/lastSubmissionAttemptTime"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        error,
    }
}

pub fn run(global: &Global, options: &StatusOptions) -> anyhow::Result<Exit> {
    let desired = cluster::desired(global, &options.environment, &[], &options.sets)?;
    cluster::runtime().block_on(async {
        let cluster = cluster::connect(&options.cluster, &desired).await?;
        let planned = cluster::plan(&cluster, &desired).await?;
        let rows: Vec<Row> = planned
            .changes
            .iter()
            .filter(|c| c.kind == "SparkApplication")
            .map(|c| {
                let drift = match c.action {
                    Action::Unchanged => "none",
                    Action::Create => "missing",
                    Action::Delete => "extra",
                    Action::Update { .. } => "changed",
                };
                row(&c.stream, &c.name, c.live.as_ref(), drift)
            })
            .collect();
        let text = match options.format {
            StatusFormat::Json => format!(
                "{}\n",
                serde_json::to_string_pretty(&serde_json::json!({
                    "environment": desired.environment,
                    "namespace": desired.namespace,
                    "context": cluster.context,
                    "streams": rows,
                }))?
            ),
            StatusFormat::Human => human(&desired.environment, &desired.namespace, &rows),
        };
        super::print(&text)?;
        global.trace(|| format!("status: {} API requests", cluster.requests()));
        Ok(Exit::Success)
    })
}

fn human(environment: &str, namespace: &str, rows: &[Row]) -> String {
    let mut table = vec![[
        "STREAM".to_owned(),
        "STATE".into(),
        "EXECUTORS".into(),
        "ATTEMPTS".into(),
        "DRIFT".into(),
        "LAST SUBMISSION".into(),
    ]];
    for r in rows {
        table.push([
            r.stream.clone(),
            r.state.clone(),
            r.executors_running.to_string(),
            r.submission_attempts.map_or("-".into(), |a| a.to_string()),
            r.drift.to_owned(),
            r.last_submission.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| {
            table
                .iter()
                .map(|row| row[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = format!("environment `{environment}` (namespace `{namespace}`)\n");
    for row in &table {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    for r in rows.iter().filter(|r| r.error.is_some()) {
        out.push_str(&format!(
            "\n{}: {}\n",
            r.stream,
            r.error.as_deref().unwrap_or_default()
        ));
    }
    out
}
