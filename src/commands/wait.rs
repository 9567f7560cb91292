//! `apply --wait`: follow every stream until `health::assess` says it is
//! ready (running with the executors it asks for, suspended when suspended,
//! completed when it runs to completion), failing fast when it says it
//! failed. spark-operator has no observedGeneration: after a spec change a
//! status only counts once `status.submissionID` differs from the one seen
//! before the apply.

use crate::cluster::{Cluster, ClusterError};
use crate::health::{self, Assessment, Expect, Verdict};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

/// What one stream must reach.
#[derive(Clone, Debug)]
pub struct Target {
    pub stream: String,
    pub name: String,
    pub suspended: bool,
    /// The values say `runsToCompletion: true`: COMPLETED is the goal.
    pub runs_to_completion: bool,
    /// The submission seen before the apply, when the apply made the
    /// operator resubmit: a status with this id is stale.
    pub stale_submission: Option<String>,
}

impl Target {
    /// The target of a rendered SparkApplication.
    pub fn for_object(
        stream: &str,
        name: &str,
        desired: &Value,
        stale_submission: Option<String>,
    ) -> Target {
        let expect = Expect::of(desired, stale_submission);
        Target {
            stream: stream.to_owned(),
            name: name.to_owned(),
            suspended: expect.suspended,
            runs_to_completion: expect.runs_to_completion,
            stale_submission: expect.stale_submission,
        }
    }

    pub fn expect(&self) -> Expect {
        Expect {
            suspended: self.suspended,
            runs_to_completion: self.runs_to_completion,
            stale_submission: self.stale_submission.clone(),
        }
    }

    /// Where the stream stands (pure).
    pub fn assess(&self, live: Option<&Value>) -> Assessment {
        health::assess(live, &self.expect())
    }
}

/// `(state, submissionID, errorMessage)` of a live object, the state empty
/// when there is no status; `health::assess` is what decides on them.
pub fn state_of(live: Option<&Value>) -> (String, Option<String>, Option<String>) {
    let text = |pointer: &str| {
        live.and_then(|o| o.pointer(pointer))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    (
        text("/status/applicationState/state").unwrap_or_default(),
        health::submission(live),
        text("/status/applicationState/errorMessage").filter(|m| !m.is_empty()),
    )
}

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("stream `{stream}` failed: {message}")]
    Failed { stream: String, message: String },
    #[error("timed out after {timeout:?} waiting for: {waiting}")]
    Timeout { timeout: Duration, waiting: String },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// Polls the namespace (one LIST a second) until every target is ready.
pub async fn wait(
    cluster: &Cluster,
    namespace: &str,
    targets: &[Target],
    timeout: Duration,
    styled_terminal: bool,
) -> Result<(), WaitError> {
    let resource = crate::cluster::spark_application();
    let started = Instant::now();
    let mut shown: BTreeMap<String, (Verdict, String)> = BTreeMap::new();
    let mut drawn_lines = 0;
    let width = targets.iter().map(|t| t.stream.len()).max().unwrap_or(0);
    loop {
        let live = crate::plan::by_name(cluster.list(&resource, namespace).await?);
        let current: BTreeMap<String, Assessment> = targets
            .iter()
            .map(|t| (t.stream.clone(), t.assess(live.get(&t.name))))
            .collect();
        render(
            &current,
            targets,
            width,
            styled_terminal,
            &mut drawn_lines,
            &mut shown,
            started,
        );
        // Fail fast, in target order, with the operator's message.
        for t in targets {
            if let Some(a) = current.get(&t.stream)
                && a.verdict == Verdict::Failed
            {
                return Err(WaitError::Failed {
                    stream: t.stream.clone(),
                    message: a.detail.clone(),
                });
            }
        }
        if current.values().all(|a| a.verdict == Verdict::Ready) {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            return Err(WaitError::Timeout {
                timeout,
                waiting: waiting(targets, &current),
            });
        }
        tokio::time::sleep(
            Duration::from_secs(1)
                .min(timeout.saturating_sub(started.elapsed()) + Duration::from_millis(50)),
        )
        .await;
    }
}

/// Each stream still waiting, with its state and the operator's last
/// error message, in target order.
fn waiting(targets: &[Target], current: &BTreeMap<String, Assessment>) -> String {
    targets
        .iter()
        .filter_map(|t| {
            let a = current
                .get(&t.stream)
                .filter(|a| a.verdict == Verdict::Waiting)?;
            Some(match &a.error {
                Some(error) => format!("{} ({}; the operator says: {error})", t.stream, a.detail),
                None => format!("{} ({})", t.stream, a.detail),
            })
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line per stream: redrawn in place on a terminal, printed when it
/// changes otherwise (CI logs).
fn render(
    current: &BTreeMap<String, Assessment>,
    targets: &[Target],
    width: usize,
    terminal: bool,
    drawn: &mut usize,
    shown: &mut BTreeMap<String, (Verdict, String)>,
    started: Instant,
) {
    let mut err = std::io::stderr().lock();
    let line = |stream: &str, a: &Assessment| {
        let mark = match a.verdict {
            Verdict::Waiting => "…",
            Verdict::Ready => "✓",
            Verdict::Failed => "✗",
        };
        format!("  {mark} {stream:<width$}  {}", a.detail)
    };
    if terminal {
        if *drawn > 0 {
            let _ = write!(err, "\x1b[{}A", *drawn);
        }
        for t in targets {
            if let Some(a) = current.get(&t.stream) {
                let _ = writeln!(err, "\x1b[2K{}", line(&t.stream, a));
            }
        }
        let _ = writeln!(err, "\x1b[2K  waiting {:.0?}", started.elapsed());
        *drawn = current.len() + 1;
    } else {
        for t in targets {
            if let Some(a) = current.get(&t.stream) {
                let now = (a.verdict, a.detail.clone());
                if shown.get(&t.stream) != Some(&now) {
                    let _ = writeln!(err, "{}", line(&t.stream, a));
                    shown.insert(t.stream.clone(), now);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(state: &str, id: &str) -> Value {
        json!({"spec": {"executor": {"instances": 1}},
            "status": {"applicationState": {"state": state, "errorMessage": "driver OOMKilled"}, "submissionID": id, "executorState": {"e-1": "RUNNING"}}})
    }

    #[test]
    fn a_target_reads_the_rendered_object() {
        let desired = json!({"metadata": {"annotations": {crate::render::ANNOTATION_RUNS_TO_COMPLETION: "true"}}, "spec": {"suspend": true}});
        let t = Target::for_object("s", "app", &desired, Some("a".into()));
        assert!(t.suspended && t.runs_to_completion);
        assert_eq!((t.stream.as_str(), t.name.as_str()), ("s", "app"));
        assert_eq!(t.expect().stale_submission.as_deref(), Some("a"));
        let plain = Target::for_object("s", "s", &json!({"spec": {}}), None);
        assert!(!plain.suspended && !plain.runs_to_completion);
    }

    #[test]
    fn a_timeout_names_the_state_and_the_operators_message() {
        let targets = [
            Target::for_object("orders", "orders", &json!({}), Some("a".into())),
            Target::for_object("payments", "payments", &json!({}), None),
            Target::for_object("refunds", "refunds", &json!({}), None),
        ];
        let mut rerun = live("PENDING_RERUN", "b");
        rerun["status"]["applicationState"]["errorMessage"] = json!("executor lost");
        let current: BTreeMap<String, Assessment> = [
            ("orders", targets[0].assess(Some(&live("RUNNING", "a")))),
            ("payments", targets[1].assess(Some(&rerun))),
            ("refunds", targets[2].assess(Some(&live("RUNNING", "c")))),
        ]
        .into_iter()
        .map(|(s, a)| (s.to_owned(), a))
        .collect();
        assert_eq!(
            waiting(&targets, &current),
            "orders (RUNNING (previous submission; waiting for the operator to resubmit); the operator says: driver OOMKilled), \
             payments (PENDING_RERUN; the operator says: executor lost)"
        );
    }
}
