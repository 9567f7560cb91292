//! `sluice status --env E`: every stream's live state, and whether the
//! cluster still holds what the values say (drift).

use super::cluster;
use super::{Exit, Global, SetFlags};
use crate::cluster::ClusterOptions;
use crate::health::{self, Expect, Verdict};
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
    /// `status.applicationState.state`: `NEW` before the operator wrote
    /// one, `-` when not deployed.
    state: String,
    /// `Healthy`, `Progressing`, `Degraded`, `Suspended` or `Missing`: the
    /// assessment `apply --wait` waits on (`health::assess`).
    health: &'static str,
    /// The assessment in one line: why the stream is (not) healthy.
    detail: String,
    executors_running: usize,
    /// What the spec asks for: `executor.instances`, or with dynamic
    /// allocation its `minExecutors`.
    executors_wanted: usize,
    submission_attempts: Option<i64>,
    /// `none`, `changed` (the live spec differs from the render),
    /// `missing` (not deployed) or `extra` (deployed, no longer rendered).
    drift: &'static str,
    last_submission: Option<String>,
    error: Option<String>,
    #[serde(skip)]
    verdict: Verdict,
}

/// A deployed stream is judged by what is deployed (its own `suspend` and
/// runs-to-completion annotation): the values' side of a difference is
/// what `drift` shows.
fn row(
    stream: &str,
    name: &str,
    live: Option<&Value>,
    desired: Option<&Value>,
    drift: &'static str,
) -> Row {
    let expect = live
        .or(desired)
        .map_or_else(Expect::default, |o| Expect::of(o, None));
    let a = health::assess(live, &expect);
    Row {
        stream: stream.to_owned(),
        name: name.to_owned(),
        state: if live.is_none() { "-".into() } else { a.state },
        health: a.health.as_str(),
        detail: a.detail,
        executors_running: a.executors_running,
        executors_wanted: a.executors_wanted,
        submission_attempts: live
            .and_then(|o| o.pointer("/status/submissionAttempts"))
            .and_then(Value::as_i64),
        drift,
        last_submission: live
            .and_then(|o| o.pointer("/status/lastSubmissionAttemptTime"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        error: a.error,
        verdict: a.verdict,
    }
}

pub fn run(global: &Global, options: &StatusOptions) -> anyhow::Result<Exit> {
    let desired = cluster::desired(global, &options.environment, &[], &options.sets)?;
    cluster::runtime().block_on(async {
        let cluster = cluster::connect(&options.cluster, &desired).await?;
        let mut planned = cluster::plan(&cluster, &desired).await?;
        // Drift as the server sees it: a candidate the dry run settles as
        // unchanged (a value the server prunes or normalises) is no drift.
        // A refused dry run leaves the candidate as it is: still drift.
        let _ = cluster::dry_run(&cluster, &desired, &mut planned, false).await;
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
                row(
                    &c.stream,
                    &c.name,
                    c.live.as_ref(),
                    c.desired.as_ref(),
                    drift,
                )
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
        "HEALTH".into(),
        "EXECUTORS".into(),
        "ATTEMPTS".into(),
        "DRIFT".into(),
        "LAST SUBMISSION".into(),
    ]];
    for r in rows {
        table.push([
            r.stream.clone(),
            r.state.clone(),
            r.health.to_owned(),
            if r.drift == "missing" {
                "-".into()
            } else {
                format!("{}/{}", r.executors_running, r.executors_wanted)
            },
            r.submission_attempts.map_or("-".into(), |a| a.to_string()),
            r.drift.to_owned(),
            r.last_submission.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    let widths: Vec<usize> = (0..table[0].len())
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
    // Why each unhealthy stream is so: the operator's message, or sluice's
    // reason when there is none (a stopped streaming query).
    for r in rows {
        let why = match (&r.error, r.verdict) {
            (_, Verdict::Failed) => Some(r.detail.as_str()),
            (Some(error), _) => Some(error.as_str()),
            _ => None,
        };
        if let Some(why) = why {
            out.push_str(&format!("\n{}: {why}\n", r.stream));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_table_shows_health_and_wanted_executors_and_why() {
        let running = json!({"spec": {"executor": {"instances": 4}},
            "status": {"applicationState": {"state": "RUNNING"}, "executorState": {"e-1": "RUNNING", "e-2": "PENDING"}}});
        let completed = json!({"spec": {}, "status": {"applicationState": {"state": "COMPLETED"}}});
        let desired = json!({"spec": {}});
        let rows = [
            row("orders", "orders", Some(&running), Some(&desired), "none"),
            row(
                "payments",
                "payments",
                Some(&completed),
                Some(&desired),
                "none",
            ),
            row("refunds", "refunds", None, Some(&desired), "missing"),
        ];
        assert_eq!(
            human("dev", "bi-dev", &rows),
            "environment `dev` (namespace `bi-dev`)
STREAM    STATE      HEALTH       EXECUTORS  ATTEMPTS  DRIFT    LAST SUBMISSION
orders    RUNNING    Progressing  1/4        -         none     -
payments  COMPLETED  Degraded     0/1        -         none     -
refunds   -          Missing      -          -         missing  -

payments: COMPLETED: the streaming query stopped (set runsToCompletion: true for a stream that is meant to finish)
"
        );
        let json = serde_json::to_value(&rows[0]).unwrap();
        assert_eq!(json["health"], "Progressing");
        assert_eq!(
            (
                json["executors_running"].as_u64(),
                json["executors_wanted"].as_u64()
            ),
            (Some(1), Some(4))
        );
        assert_eq!(
            json["detail"],
            "RUNNING (waiting for executors: 1/4 running)"
        );
        assert!(json.get("verdict").is_none());
    }
}
