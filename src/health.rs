//! Stream health (pure stage): one live SparkApplication and what the
//! values ask of it → Ready, Waiting or Failed, with the state and one
//! human line. `apply --wait` and `sluice status` both decide with
//! [`assess`], so they never disagree.
//!
//! The executor rule is ported from Argo CD's SparkApplication health check
//! (`resource_customizations/sparkoperator.k8s.io/SparkApplication/health.lua`)
//! and tested against its own cases in `tests/health.rs`. Where sluice
//! decides otherwise, on purpose:
//! - `COMPLETED` is a stopped streaming query: a failure, unless the values
//!   say `runsToCompletion: true` (Argo CD calls it Healthy).
//! - `FAILING` waits: the operator reruns it under the restart policy, and
//!   reports `FAILED` when it gives up (Argo CD calls it Degraded).
//! - More running executors than asked is running (Argo CD wants exactly
//!   `spec.executor.instances` without dynamic allocation, and at most
//!   `maxExecutors` with it): extra executors are old ones still stopping.
//! - `SUSPENDED` is Suspended for a stream that asks for it (health.lua has
//!   no suspend branch: it says Progressing).
//! - A status carrying the submission seen before a resubmitting apply is
//!   not trusted: spark-operator has no observedGeneration.

use crate::render::ANNOTATION_RUNS_TO_COMPLETION;
use serde_json::Value;

/// What the values ask of a stream, beyond its spec.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expect {
    /// `spec.suspend: true`: the stream is meant to be stopped.
    pub suspended: bool,
    /// `runsToCompletion: true`: `COMPLETED` is the goal, not a failure.
    pub runs_to_completion: bool,
    /// The submission seen before an apply that resubmits the stream: a
    /// status with this id is the previous run's.
    pub stale_submission: Option<String>,
    /// A Flink stream's `status.error` seen before the apply: the previous
    /// spec's, until the operator observes the new one.
    pub stale_error: Option<String>,
}

impl Expect {
    /// Reads whether the stream is suspended (its engine's field) and
    /// sluice's runs-to-completion annotation from a rendered (or live)
    /// stream object.
    pub fn of(object: &Value, stale_submission: Option<String>) -> Expect {
        Expect {
            suspended: crate::engine::Engine::of_object(object)
                .is_some_and(|e| e.suspended(object)),
            runs_to_completion: object
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(ANNOTATION_RUNS_TO_COMPLETION))
                .and_then(Value::as_str)
                == Some("true"),
            stale_submission,
            stale_error: None,
        }
    }
}

/// What `--wait` does with a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// What the values ask for holds.
    Ready,
    /// Not yet: keep waiting.
    Waiting,
    /// It will not get there by waiting.
    Failed,
}

/// The same verdict in Argo CD's vocabulary, for `sluice status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Healthy,
    Progressing,
    Degraded,
    /// Ready, and suspended as asked.
    Suspended,
    /// No live object.
    Missing,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "Healthy",
            Health::Progressing => "Progressing",
            Health::Degraded => "Degraded",
            Health::Suspended => "Suspended",
            Health::Missing => "Missing",
        }
    }
}

/// Where one stream stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assessment {
    pub verdict: Verdict,
    pub health: Health,
    /// `status.applicationState.state`; `NEW` (spark-operator's empty
    /// state) when there is no status yet.
    pub state: String,
    /// Entries of `status.executorState` that are `RUNNING`.
    pub executors_running: usize,
    /// What the spec asks for: `executor.instances`, or with dynamic
    /// allocation its `minExecutors`.
    pub executors_wanted: usize,
    /// The operator's `status.applicationState.errorMessage`, when set.
    pub error: Option<String>,
    /// One human line: the state and why it is (not) ready.
    pub detail: String,
    /// A Flink stream's `status.lifecycleState`.
    pub lifecycle: Option<String>,
    /// A Flink stream's last savepoint.
    pub last_savepoint: Option<String>,
}

/// The state shown when the operator has written none.
pub const NEW: &str = "NEW";

const COMPLETED_STREAM: &str = "COMPLETED: the streaming query stopped (set runsToCompletion: true for a stream that is meant to finish)";

/// Assesses a live SparkApplication (`None`: not created yet).
pub fn assess(live: Option<&Value>, expect: &Expect) -> Assessment {
    let text = |pointer: &str| {
        live.and_then(|o| o.pointer(pointer))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let state = text("/status/applicationState/state")
        .unwrap_or(NEW)
        .to_owned();
    let error = text("/status/applicationState/errorMessage").map(str::to_owned);
    let executor_state = live
        .and_then(|o| o.pointer("/status/executorState"))
        .and_then(Value::as_object);
    let executors_running = executor_state.map_or(0, |m| {
        m.values().filter(|s| s.as_str() == Some("RUNNING")).count()
    });
    let executors_wanted = live.and_then(|o| o.get("spec")).map_or(0, wanted_executors);
    let verdict_of = |verdict: Verdict, detail: String| {
        let health = match verdict {
            _ if live.is_none() => Health::Missing,
            Verdict::Ready if expect.suspended => Health::Suspended,
            Verdict::Ready => Health::Healthy,
            Verdict::Waiting => Health::Progressing,
            Verdict::Failed => Health::Degraded,
        };
        Assessment {
            verdict,
            health,
            state: state.clone(),
            executors_running,
            executors_wanted,
            error: error.clone(),
            detail,
            lifecycle: None,
            last_savepoint: None,
        }
    };

    if live.is_none() {
        return verdict_of(Verdict::Waiting, format!("{NEW} (not created yet)"));
    }
    if expect.stale_submission.is_some() && submission(live) == expect.stale_submission {
        return verdict_of(
            Verdict::Waiting,
            format!("{state} (previous submission; waiting for the operator to resubmit)"),
        );
    }
    match state.as_str() {
        // The operator leaves a terminated application as it is, suspended
        // or not: waiting cannot help.
        "FAILED" | "SUBMISSION_FAILED" => verdict_of(
            Verdict::Failed,
            format!(
                "{state}: {}",
                error
                    .as_deref()
                    .unwrap_or("the operator gave no error message")
            ),
        ),
        "SUSPENDED" if expect.suspended => verdict_of(Verdict::Ready, state.clone()),
        // A terminated application is never suspended, and runs nothing.
        "COMPLETED" if expect.suspended => {
            verdict_of(Verdict::Ready, format!("{state} (suspended: nothing runs)"))
        }
        _ if expect.suspended => verdict_of(
            Verdict::Waiting,
            format!("{state} (waiting for the operator to suspend it)"),
        ),
        "COMPLETED" if expect.runs_to_completion => {
            verdict_of(Verdict::Ready, format!("{state} (runs to completion)"))
        }
        "COMPLETED" => verdict_of(Verdict::Failed, COMPLETED_STREAM.to_owned()),
        "RUNNING" => {
            let counts = format!("{executors_running}/{executors_wanted}");
            // No executorState at all: the operator has not seen the
            // executors yet, unless none are asked for.
            if executors_running >= executors_wanted
                && (executor_state.is_some() || executors_wanted == 0)
            {
                verdict_of(Verdict::Ready, format!("{state} ({counts} executors)"))
            } else {
                verdict_of(
                    Verdict::Waiting,
                    format!("{state} (waiting for executors: {counts} running)"),
                )
            }
        }
        _ => verdict_of(Verdict::Waiting, state.clone()),
    }
}

/// `status.submissionID`: which run a status is about.
pub fn submission(live: Option<&Value>) -> Option<String> {
    live.and_then(|o| o.pointer("/status/submissionID"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The executors a spec asks for, as health.lua reads them: dynamic
/// allocation (`spec.dynamicAllocation`, else the `spark.streaming.` and
/// then the `spark.` sparkConf keys) asks for `minExecutors` (Spark's
/// default 0); otherwise `executor.instances`, else the
/// `spark.executor.instances` conf, else 1 (spark-operator's default, and
/// health.lua's "at least one").
fn wanted_executors(spec: &Value) -> usize {
    let count = |v: &Value| match v {
        Value::Number(n) => n.as_u64().map(|n| n as usize),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    if spec
        .pointer("/dynamicAllocation/enabled")
        .and_then(Value::as_bool)
        == Some(true)
    {
        return spec
            .pointer("/dynamicAllocation/minExecutors")
            .and_then(count)
            .unwrap_or(0);
    }
    let conf = |key: &str| spec.get("sparkConf").and_then(|c| c.get(key));
    for prefix in [
        "spark.streaming.dynamicAllocation",
        "spark.dynamicAllocation",
    ] {
        if conf(&format!("{prefix}.enabled")).and_then(Value::as_str) == Some("true") {
            return conf(&format!("{prefix}.minExecutors"))
                .and_then(count)
                .unwrap_or(0);
        }
    }
    spec.pointer("/executor/instances")
        .and_then(count)
        .or_else(|| conf("spark.executor.instances").and_then(count))
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(instances: u64, state: &str, executors: &[&str]) -> Value {
        let executors: serde_json::Map<String, Value> = executors
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("exec-{}", i + 1), json!(s)))
            .collect();
        json!({
            "spec": {"executor": {"instances": instances}},
            "status": {
                "applicationState": {"state": state, "errorMessage": "driver OOMKilled"},
                "submissionID": "a",
                "executorState": executors,
            }
        })
    }

    fn plain() -> Expect {
        Expect::default()
    }

    #[test]
    fn one_of_four_executors_running_waits() {
        let a = assess(
            Some(&app(
                4,
                "RUNNING",
                &["RUNNING", "PENDING", "PENDING", "FAILED"],
            )),
            &plain(),
        );
        assert_eq!(a.verdict, Verdict::Waiting);
        assert_eq!((a.executors_running, a.executors_wanted), (1, 4));
        assert_eq!(a.detail, "RUNNING (waiting for executors: 1/4 running)");
        let all = app(4, "RUNNING", &["RUNNING"; 4]);
        assert_eq!(assess(Some(&all), &plain()).verdict, Verdict::Ready);
        assert_eq!(assess(Some(&all), &plain()).health, Health::Healthy);
    }

    #[test]
    fn running_without_executor_state_waits() {
        let mut live = app(2, "RUNNING", &[]);
        live["status"]
            .as_object_mut()
            .unwrap()
            .remove("executorState");
        assert_eq!(assess(Some(&live), &plain()).verdict, Verdict::Waiting);
        // Unless the spec asks for no executor.
        live["spec"] = json!({"dynamicAllocation": {"enabled": true}});
        let a = assess(Some(&live), &plain());
        assert_eq!((a.verdict, a.executors_wanted), (Verdict::Ready, 0));
    }

    #[test]
    fn dynamic_allocation_asks_for_min_executors() {
        let mut live = app(4, "RUNNING", &["RUNNING", "RUNNING"]);
        live["spec"]["dynamicAllocation"] = json!({"enabled": true, "minExecutors": 2});
        assert_eq!(assess(Some(&live), &plain()).verdict, Verdict::Ready);
        live["spec"]["dynamicAllocation"]["minExecutors"] = json!(3);
        assert_eq!(assess(Some(&live), &plain()).verdict, Verdict::Waiting);
        // Off in the spec: the sparkConf keys count, as in health.lua.
        live["spec"]["dynamicAllocation"] = json!({"enabled": false});
        live["spec"]["sparkConf"] = json!({"spark.dynamicAllocation.enabled": "true", "spark.dynamicAllocation.minExecutors": "2"});
        assert_eq!(assess(Some(&live), &plain()).executors_wanted, 2);
        // Neither instances nor dynamic allocation: the operator's one.
        assert_eq!(wanted_executors(&json!({"executor": {}})), 1);
        assert_eq!(
            wanted_executors(&json!({"sparkConf": {"spark.executor.instances": "3"}})),
            3
        );
    }

    #[test]
    fn failures_fail_at_once_even_when_suspended() {
        let suspended = Expect {
            suspended: true,
            ..plain()
        };
        for state in ["FAILED", "SUBMISSION_FAILED"] {
            for expect in [&plain(), &suspended] {
                let a = assess(Some(&app(2, state, &[])), expect);
                assert_eq!(a.verdict, Verdict::Failed, "{state} {expect:?}");
                assert_eq!(a.detail, format!("{state}: driver OOMKilled"));
                assert_eq!(a.health, Health::Degraded);
            }
        }
        let ok = assess(Some(&app(2, "SUSPENDED", &[])), &suspended);
        assert_eq!((ok.verdict, ok.health), (Verdict::Ready, Health::Suspended));
        let running = assess(Some(&app(1, "RUNNING", &["RUNNING"])), &suspended);
        assert_eq!(running.verdict, Verdict::Waiting);
    }

    #[test]
    fn a_stale_submission_waits() {
        let restarted = Expect {
            stale_submission: Some("a".into()),
            ..plain()
        };
        for state in ["RUNNING", "FAILED", "COMPLETED"] {
            let a = assess(Some(&app(1, state, &["RUNNING"])), &restarted);
            assert_eq!(a.verdict, Verdict::Waiting, "{state}");
            assert_eq!(
                a.detail,
                format!("{state} (previous submission; waiting for the operator to resubmit)")
            );
        }
        let mut fresh = app(1, "RUNNING", &["RUNNING"]);
        fresh["status"]["submissionID"] = json!("b");
        assert_eq!(assess(Some(&fresh), &restarted).verdict, Verdict::Ready);
    }

    #[test]
    fn no_status_is_new() {
        let created = json!({"spec": {"executor": {"instances": 2}}});
        let a = assess(Some(&created), &plain());
        assert_eq!((a.state.as_str(), a.verdict), (NEW, Verdict::Waiting));
        assert_eq!(a.health, Health::Progressing);
        let empty = json!({"status": {"applicationState": {"state": ""}}});
        assert_eq!(assess(Some(&empty), &plain()).state, NEW);
        let missing = assess(None, &plain());
        assert_eq!(
            (missing.state.as_str(), missing.health),
            (NEW, Health::Missing)
        );
        // The operator's own UNKNOWN is shown as such.
        assert_eq!(
            assess(Some(&app(1, "UNKNOWN", &[])), &plain()).state,
            "UNKNOWN"
        );
    }

    #[test]
    fn completed_fails_unless_the_stream_runs_to_completion() {
        let done = app(2, "COMPLETED", &[]);
        let a = assess(Some(&done), &plain());
        assert_eq!(a.verdict, Verdict::Failed);
        assert_eq!(a.detail, COMPLETED_STREAM);
        assert!(a.detail.contains("runsToCompletion: true"));
        let batch = Expect {
            runs_to_completion: true,
            ..plain()
        };
        assert_eq!(assess(Some(&done), &batch).verdict, Verdict::Ready);
    }

    #[test]
    fn expect_reads_the_rendered_object() {
        let object = json!({
            "kind": "SparkApplication",
            "metadata": {"annotations": {ANNOTATION_RUNS_TO_COMPLETION: "true"}},
            "spec": {"suspend": true}
        });
        assert_eq!(
            Expect::of(&object, Some("x".into())),
            Expect {
                suspended: true,
                runs_to_completion: true,
                stale_submission: Some("x".into()),
                stale_error: None,
            }
        );
        assert_eq!(Expect::of(&json!({}), None), Expect::default());
    }
}
