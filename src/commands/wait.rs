//! `apply --wait`: follow every stream until its engine's assessment says
//! it is ready (running with the executors or TaskManagers it asks for,
//! suspended when suspended, completed when it runs to completion),
//! failing fast when it says it failed. spark-operator has no
//! observedGeneration: after a spec change a status only counts once
//! `status.submissionID` differs from the one seen before the apply. The
//! Flink operator has one, and its status counts once it has observed the
//! applied generation.

use crate::cluster::{Cluster, ClusterError};
use crate::engine::Engine;
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
    pub engine: Engine,
    pub suspended: bool,
    /// The values say `runsToCompletion: true`: COMPLETED is the goal.
    pub runs_to_completion: bool,
    /// The submission seen before the apply, when the apply made the
    /// operator resubmit: a status with this id is stale.
    pub stale_submission: Option<String>,
    /// A Flink stream's `status.error` before the apply: the previous
    /// spec's until the operator observes the new one.
    pub stale_error: Option<String>,
}

impl Target {
    /// The target of a rendered stream object (`None`: another kind).
    /// `live` is the object before the apply; `restarts` whether the
    /// apply restarts the stream, making the live status stale.
    pub fn for_object(
        stream: &str,
        name: &str,
        desired: &Value,
        live: Option<&Value>,
        restarts: bool,
    ) -> Option<Target> {
        let engine = Engine::of_object(desired)?;
        let (_, submission, _) = state_of(live);
        let expect = Expect::of(desired, if restarts { submission } else { None });
        Some(Target {
            stream: stream.to_owned(),
            name: name.to_owned(),
            engine,
            suspended: expect.suspended,
            runs_to_completion: expect.runs_to_completion,
            stale_submission: expect.stale_submission,
            stale_error: live.and_then(|l| engine.lingering_error(l)),
        })
    }

    pub fn expect(&self) -> Expect {
        Expect {
            suspended: self.suspended,
            runs_to_completion: self.runs_to_completion,
            stale_submission: self.stale_submission.clone(),
            stale_error: self.stale_error.clone(),
        }
    }

    /// Where the stream stands (pure).
    pub fn assess(&self, live: Option<&Value>) -> Assessment {
        self.engine.assess(live, &self.expect())
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
    let engines: std::collections::BTreeSet<Engine> = targets.iter().map(|t| t.engine).collect();
    let started = Instant::now();
    let mut shown: BTreeMap<String, (Verdict, String)> = BTreeMap::new();
    let mut drawn_lines = 0;
    let width = targets.iter().map(|t| t.stream.len()).max().unwrap_or(0);
    loop {
        let mut live = BTreeMap::new();
        for engine in &engines {
            let objects = crate::plan::by_name(cluster.list(&engine.resource(), namespace).await?);
            live.insert(*engine, objects);
        }
        let current: BTreeMap<String, Assessment> = targets
            .iter()
            .map(|t| {
                let object = live.get(&t.engine).and_then(|m| m.get(&t.name));
                (t.stream.clone(), t.assess(object))
            })
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
        let desired = json!({"kind": "SparkApplication", "metadata": {"annotations": {crate::render::ANNOTATION_RUNS_TO_COMPLETION: "true"}}, "spec": {"suspend": true}});
        let t =
            Target::for_object("s", "app", &desired, Some(&live("RUNNING", "a")), true).unwrap();
        assert!(t.suspended && t.runs_to_completion);
        assert_eq!((t.stream.as_str(), t.name.as_str()), ("s", "app"));
        assert_eq!(t.expect().stale_submission.as_deref(), Some("a"));
        let plain = spark("s", false);
        assert!(!plain.suspended && !plain.runs_to_completion);
        assert!(Target::for_object("s", "s", &json!({"kind": "ConfigMap"}), None, false).is_none());
        // A Flink stream: suspended by job.state; an error before the
        // apply is the previous spec's.
        let flink = json!({"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment", "spec": {"job": {"state": "suspended"}}});
        let before = json!({"status": {"error": "old"}});
        let t = Target::for_object("f", "f", &flink, Some(&before), false).unwrap();
        assert_eq!((t.engine, t.suspended), (Engine::Flink, true));
        assert_eq!(t.expect().stale_error.as_deref(), Some("old"));
    }

    fn spark(name: &str, restarted: bool) -> Target {
        let desired = json!({"kind": "SparkApplication", "spec": {}});
        Target::for_object(name, name, &desired, Some(&live("RUNNING", "a")), restarted).unwrap()
    }

    #[test]
    fn a_timeout_names_the_state_and_the_operators_message() {
        let targets = [
            spark("orders", true),
            spark("payments", false),
            spark("refunds", false),
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
