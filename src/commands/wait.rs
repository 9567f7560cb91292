//! `apply --wait`: follow every stream's `status.applicationState.state`
//! until it runs (or is suspended), failing fast when the operator reports
//! a failure. spark-operator has no observedGeneration: after a spec change
//! a RUNNING status only counts once `status.submissionID` differs from the
//! one seen before the apply.

use crate::cluster::{Cluster, ClusterError};
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
    /// The submission seen before the apply, when the apply made the
    /// operator resubmit: a status with this id is stale.
    pub stale_submission: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    Waiting(String),
    Ready(String),
    Failed(String),
}

pub fn state_of(live: Option<&Value>) -> (String, Option<String>, Option<String>) {
    let state = live
        .and_then(|o| o.pointer("/status/applicationState/state"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let submission = live
        .and_then(|o| o.pointer("/status/submissionID"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let error = live
        .and_then(|o| o.pointer("/status/applicationState/errorMessage"))
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .map(str::to_owned);
    (state, submission, error)
}

/// Where one stream stands (pure).
pub fn progress(target: &Target, live: Option<&Value>) -> Progress {
    let (state, submission, error) = state_of(live);
    let shown = if state.is_empty() {
        "PENDING".to_owned()
    } else {
        state.clone()
    };
    let stale = target.stale_submission.is_some() && submission == target.stale_submission;
    if stale {
        return Progress::Waiting(format!(
            "{shown} (previous submission; waiting for the operator to resubmit)"
        ));
    }
    match state.as_str() {
        "SUSPENDED" if target.suspended => Progress::Ready(state),
        "RUNNING" | "COMPLETED" if !target.suspended => Progress::Ready(state),
        "FAILED" | "SUBMISSION_FAILED" if !target.suspended => Progress::Failed(format!(
            "{state}: {}",
            error.unwrap_or_else(|| "the operator gave no error message".into())
        )),
        _ => Progress::Waiting(shown),
    }
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
    let mut shown: BTreeMap<String, Progress> = BTreeMap::new();
    let mut drawn_lines = 0;
    let width = targets.iter().map(|t| t.stream.len()).max().unwrap_or(0);
    loop {
        let live = crate::plan::by_name(cluster.list(&resource, namespace).await?);
        let current: BTreeMap<String, Progress> = targets
            .iter()
            .map(|t| (t.stream.clone(), progress(t, live.get(&t.name))))
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
            if let Some(Progress::Failed(message)) = current.get(&t.stream) {
                return Err(WaitError::Failed {
                    stream: t.stream.clone(),
                    message: message.clone(),
                });
            }
        }
        let all_ready = current.values().all(|p| matches!(p, Progress::Ready(_)));
        if all_ready {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            let waiting: Vec<String> = current
                .iter()
                .filter_map(|(s, p)| match p {
                    Progress::Waiting(state) => Some(format!("{s} ({state})")),
                    _ => None,
                })
                .collect();
            return Err(WaitError::Timeout {
                timeout,
                waiting: waiting.join(", "),
            });
        }
        tokio::time::sleep(
            Duration::from_secs(1)
                .min(timeout.saturating_sub(started.elapsed()) + Duration::from_millis(50)),
        )
        .await;
    }
}

/// One line per stream: redrawn in place on a terminal, printed when it
/// changes otherwise (CI logs).
fn render(
    current: &BTreeMap<String, Progress>,
    targets: &[Target],
    width: usize,
    terminal: bool,
    drawn: &mut usize,
    shown: &mut BTreeMap<String, Progress>,
    started: Instant,
) {
    let mut err = std::io::stderr().lock();
    let line = |stream: &str, p: &Progress| {
        let (mark, text) = match p {
            Progress::Waiting(s) => ("…", s.as_str()),
            Progress::Ready(s) => ("✓", s.as_str()),
            Progress::Failed(s) => ("✗", s.as_str()),
        };
        format!("  {mark} {stream:<width$}  {text}")
    };
    if terminal {
        if *drawn > 0 {
            let _ = write!(err, "\x1b[{}A", *drawn);
        }
        for t in targets {
            if let Some(p) = current.get(&t.stream) {
                let _ = writeln!(err, "\x1b[2K{}", line(&t.stream, p));
            }
        }
        let _ = writeln!(err, "\x1b[2K  waiting {:.0?}", started.elapsed());
        *drawn = current.len() + 1;
    } else {
        for t in targets {
            if let Some(p) = current.get(&t.stream)
                && shown.get(&t.stream) != Some(p)
            {
                let _ = writeln!(err, "{}", line(&t.stream, p));
                shown.insert(t.stream.clone(), p.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(state: &str, id: &str) -> Value {
        json!({"status": {"applicationState": {"state": state, "errorMessage": "driver OOMKilled"}, "submissionID": id}})
    }

    #[test]
    fn states() {
        let fresh = Target {
            stream: "s".into(),
            name: "s".into(),
            suspended: false,
            stale_submission: None,
        };
        assert_eq!(progress(&fresh, None), Progress::Waiting("PENDING".into()));
        assert_eq!(
            progress(&fresh, Some(&live("RUNNING", "a"))),
            Progress::Ready("RUNNING".into())
        );
        assert_eq!(
            progress(&fresh, Some(&live("FAILED", "a"))),
            Progress::Failed("FAILED: driver OOMKilled".into())
        );
        let restarted = Target {
            stale_submission: Some("a".into()),
            ..fresh.clone()
        };
        assert!(matches!(
            progress(&restarted, Some(&live("RUNNING", "a"))),
            Progress::Waiting(_)
        ));
        assert!(
            matches!(
                progress(&restarted, Some(&live("FAILED", "a"))),
                Progress::Waiting(_)
            ),
            "a stale failure is not this apply's"
        );
        assert_eq!(
            progress(&restarted, Some(&live("RUNNING", "b"))),
            Progress::Ready("RUNNING".into())
        );
        let suspended = Target {
            suspended: true,
            ..fresh
        };
        assert_eq!(
            progress(&suspended, Some(&live("SUSPENDED", "a"))),
            Progress::Ready("SUSPENDED".into())
        );
        assert!(matches!(
            progress(&suspended, Some(&live("RUNNING", "a"))),
            Progress::Waiting(_)
        ));
    }
}
