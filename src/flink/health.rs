//! A live FlinkDeployment's health (pure), as the Flink Kubernetes
//! Operator 1.15 reports it in the status:
//! - running: the operator has seen this spec (`observedGeneration` ≥
//!   `metadata.generation`), deployed it (`reconciliationStatus.state`
//!   DEPLOYED), the deployment is STABLE and the job RUNNING;
//! - failed: lifecycleState FAILED or ROLLED_BACK for this spec, or an
//!   `error` the operator set after the change (one already there before
//!   the apply, for an older spec, is not this change's);
//! - suspended: lifecycleState SUSPENDED, or still CREATED for a deployment
//!   created suspended (the operator never reconciles those).
//!
//! Argo CD's FlinkDeployment health check (`resource_customizations/
//! flink.apache.org/FlinkDeployment/health.lua`) is the oracle of
//! `tests/health.rs`: it calls a deployment Healthy once its spec is
//! deployed (`reconciliationStatus` DEPLOYED, or `success` before operator
//! 1.0) and Degraded on a JobManager deployment ERROR. sluice also asks
//! the job to run and the deployment to be STABLE (where the operator
//! reports a lifecycle), since a stream whose job is RESTARTING is not
//! running.

use crate::health::{Assessment, Expect, Health, NEW, Verdict};
use serde_json::Value;

/// `status.lifecycleState`, `status.jobStatus.state` and where the last
/// savepoint is, for `sluice status`.
pub fn lifecycle(live: &Value) -> Option<&str> {
    text(live, "/status/lifecycleState")
}

pub fn job_state(live: &Value) -> Option<&str> {
    text(live, "/status/jobStatus/state")
}

/// Where the last savepoint is, any credential in it masked (it is shown).
pub fn last_savepoint(live: &Value) -> Option<String> {
    text(
        live,
        "/status/jobStatus/savepointInfo/lastSavepoint/location",
    )
    .or_else(|| text(live, "/status/jobStatus/upgradeSavepointPath"))
    .map(masked)
}

/// `status.error`, the operator's last error (`reconciliationStatus.error`
/// before operator 1.0), any credential in it masked: the operator's
/// errors quote storage URIs and configuration.
pub fn error(live: &Value) -> Option<String> {
    text(live, "/status/error")
        .or_else(|| text(live, "/status/reconciliationStatus/error"))
        .map(masked)
}

fn masked(text: &str) -> String {
    crate::secret::mask_text(text, &[] as &[&str]).into_owned()
}

fn text<'a>(live: &'a Value, pointer: &str) -> Option<&'a str> {
    live.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Whether the status is about the spec applied last: its
/// `observedGeneration` (operator 1.8 on), or else the generation the
/// operator recorded with the spec it last reconciled (from 1.4).
fn observed(live: &Value) -> bool {
    let generation = live.pointer("/metadata/generation").and_then(Value::as_i64);
    let observed = live
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64)
        .or_else(|| {
            let spec = text(live, "/status/reconciliationStatus/lastReconciledSpec")?;
            serde_json::from_str::<Value>(spec)
                .ok()?
                .pointer("/resource_metadata/metadata/generation")?
                .as_i64()
        });
    match (observed, generation) {
        (Some(o), Some(g)) => o >= g,
        // No generation (not from a server): trust the status.
        (_, None) => true,
        (None, Some(_)) => false,
    }
}

/// The TaskManagers a spec runs: `taskManager.replicas`, else
/// ceil(parallelism / `taskmanager.numberOfTaskSlots`) (one slot unless
/// set), as the operator sizes a native application cluster.
pub fn task_managers(spec: &Value) -> usize {
    let count = |v: &Value| match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    if let Some(n) = spec.pointer("/taskManager/replicas").and_then(count) {
        return n as usize;
    }
    let parallelism = spec
        .pointer("/job/parallelism")
        .and_then(count)
        .unwrap_or(1);
    let slots = spec
        .get("flinkConfiguration")
        .and_then(|c| c.get("taskmanager.numberOfTaskSlots"))
        .and_then(count)
        .filter(|s| *s > 0)
        .unwrap_or(1);
    parallelism.div_ceil(slots) as usize
}

/// Assesses a live FlinkDeployment (`None`: not created yet).
pub fn assess(live: Option<&Value>, expect: &Expect) -> Assessment {
    let get = |f: fn(&Value) -> Option<&str>| live.and_then(f).map(str::to_owned);
    let job = get(job_state);
    let lifecycle_state = get(lifecycle);
    let error = live.and_then(error);
    let state = job
        .clone()
        .or_else(|| lifecycle_state.clone())
        .unwrap_or_else(|| NEW.to_owned());
    let running = live
        .and_then(|o| o.pointer("/status/taskManager/replicas"))
        .and_then(Value::as_u64)
        .unwrap_or(0) as usize;
    let wanted = live.and_then(|o| o.get("spec")).map_or(0, task_managers);
    let verdict_of = |verdict: Verdict, detail: String| Assessment {
        verdict,
        health: match verdict {
            _ if live.is_none() => Health::Missing,
            Verdict::Ready if expect.suspended => Health::Suspended,
            Verdict::Ready => Health::Healthy,
            Verdict::Waiting => Health::Progressing,
            Verdict::Failed => Health::Degraded,
        },
        state: state.clone(),
        executors_running: running,
        executors_wanted: wanted,
        error: error.clone(),
        detail,
        lifecycle: lifecycle_state.clone(),
        last_savepoint: live.and_then(last_savepoint),
    };
    let Some(object) = live else {
        return verdict_of(Verdict::Waiting, format!("{NEW} (not created yet)"));
    };
    let fresh = observed(object);
    let lifecycle = lifecycle_state.as_deref().unwrap_or("");
    // Before operator 1.0 a reconciliation said `success: true`.
    let reconciled = match object.pointer("/status/reconciliationStatus/state") {
        Some(Value::String(s)) => s.as_str(),
        _ if object.pointer("/status/reconciliationStatus/success") == Some(&Value::Bool(true)) => {
            "DEPLOYED"
        }
        _ => "",
    };
    let job_manager = text(object, "/status/jobManagerDeploymentStatus").unwrap_or("");
    // An error already there before the apply is an older spec's, until
    // the operator has looked at this one.
    let new_error = error
        .as_ref()
        .filter(|e| fresh || expect.stale_error.as_ref() != Some(*e));
    if let Some(e) = new_error {
        return verdict_of(Verdict::Failed, format!("{}: {e}", or_new(lifecycle)));
    }
    if fresh && (matches!(lifecycle, "FAILED" | "ROLLED_BACK") || job_manager == "ERROR") {
        let (state, why) = match lifecycle {
            "ROLLED_BACK" => (
                lifecycle,
                "the operator rolled the upgrade back to the last stable spec",
            ),
            "FAILED" => (lifecycle, "the operator gave no error message"),
            _ => (
                "ERROR",
                "the JobManager deployment failed (the operator gave no error message)",
            ),
        };
        return verdict_of(Verdict::Failed, format!("{state}: {why}"));
    }
    if expect.suspended {
        // Operators before 1.3 say so in the job state only.
        let job_suspended = job.as_deref() == Some("SUSPENDED") && lifecycle.is_empty();
        return match lifecycle {
            "SUSPENDED" => verdict_of(Verdict::Ready, "SUSPENDED".into()),
            _ if job_suspended => verdict_of(Verdict::Ready, "SUSPENDED".into()),
            // Created suspended: the operator never deploys it.
            "CREATED" | "" if object.pointer("/status/jobStatus/jobId").is_none() => verdict_of(
                Verdict::Ready,
                "CREATED (created suspended: nothing runs)".into(),
            ),
            _ => verdict_of(
                Verdict::Waiting,
                format!(
                    "{} (waiting for the operator to suspend it)",
                    or_new(lifecycle)
                ),
            ),
        };
    }
    if !fresh {
        return verdict_of(
            Verdict::Waiting,
            format!(
                "{} (waiting for the operator to observe the change)",
                or_new(lifecycle)
            ),
        );
    }
    let job = job.as_deref().unwrap_or("");
    // A deployed job that ended will not run again by waiting: a stream is
    // meant to run.
    if reconciled == "DEPLOYED"
        && matches!(lifecycle, "STABLE" | "DEPLOYED" | "")
        && matches!(job, "FINISHED" | "CANCELED" | "FAILED")
    {
        let why = match job {
            "FAILED" => "the job failed and Flink gave up restarting it",
            _ => "the job ended (a streaming job is meant to run; was it bounded?)",
        };
        return verdict_of(Verdict::Failed, format!("{job}: {why}"));
    }
    // Operators before 1.3 report no lifecycle state.
    if reconciled == "DEPLOYED" && matches!(lifecycle, "STABLE" | "") && job == "RUNNING" {
        return verdict_of(
            Verdict::Ready,
            format!("RUNNING ({running}/{wanted} TaskManagers)"),
        );
    }
    verdict_of(
        Verdict::Waiting,
        format!(
            "{} (lifecycle {}, reconciliation {})",
            or_new(job),
            or_new(lifecycle),
            or_new(reconciled)
        ),
    )
}

fn or_new(s: &str) -> &str {
    if s.is_empty() { NEW } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(generation: i64, observed: i64, lifecycle: &str, job: &str) -> Value {
        json!({
            "metadata": {"generation": generation},
            "spec": {"job": {"parallelism": 4}, "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "2"}},
            "status": {
                "observedGeneration": observed,
                "lifecycleState": lifecycle,
                "reconciliationStatus": {"state": "DEPLOYED"},
                "taskManager": {"replicas": 2},
                "jobStatus": {"state": job, "jobId": "abc",
                    "savepointInfo": {"lastSavepoint": {"location": "s3://b/_savepoints/s/sp-1"}}}
            }
        })
    }

    fn verdict(live: &Value, expect: &Expect) -> (Verdict, String) {
        let a = assess(Some(live), expect);
        (a.verdict, a.detail)
    }

    #[test]
    fn running_needs_the_spec_observed_deployed_stable_and_the_job_running() {
        let plain = Expect::default();
        let ok = live(3, 3, "STABLE", "RUNNING");
        let a = assess(Some(&ok), &plain);
        assert_eq!(a.verdict, Verdict::Ready, "{}", a.detail);
        assert_eq!((a.executors_running, a.executors_wanted), (2, 2));
        assert_eq!(
            a.last_savepoint.as_deref(),
            Some("s3://b/_savepoints/s/sp-1")
        );
        assert_eq!(
            verdict(&live(4, 3, "STABLE", "RUNNING"), &plain).0,
            Verdict::Waiting
        );
        assert_eq!(
            verdict(&live(3, 3, "DEPLOYED", "RUNNING"), &plain).0,
            Verdict::Waiting
        );
        assert_eq!(
            verdict(&live(3, 3, "STABLE", "RESTARTING"), &plain).0,
            Verdict::Waiting
        );
        let mut upgrading = ok.clone();
        upgrading["status"]["reconciliationStatus"]["state"] = json!("UPGRADING");
        assert_eq!(verdict(&upgrading, &plain).0, Verdict::Waiting);
    }

    #[test]
    fn failed_and_rolled_back_fail_once_observed() {
        let plain = Expect::default();
        for state in ["FAILED", "ROLLED_BACK"] {
            assert_eq!(
                verdict(&live(3, 3, state, "RUNNING"), &plain).0,
                Verdict::Failed
            );
            // The previous spec's outcome: wait for this one.
            assert_eq!(
                verdict(&live(4, 3, state, "RUNNING"), &plain).0,
                Verdict::Waiting
            );
        }
    }

    #[test]
    fn an_error_fails_unless_it_was_there_before_the_change() {
        let mut failed = live(4, 3, "UPGRADING", "RUNNING");
        failed["status"]["error"] = json!("ValidationError: bad memory");
        let (v, detail) = verdict(&failed, &Expect::default());
        assert_eq!(v, Verdict::Failed);
        assert!(detail.contains("bad memory"), "{detail}");
        let before = Expect {
            stale_error: Some("ValidationError: bad memory".into()),
            ..Expect::default()
        };
        assert_eq!(verdict(&failed, &before).0, Verdict::Waiting);
        // Once the operator has seen the new spec, the error is its.
        failed["status"]["observedGeneration"] = json!(4);
        assert_eq!(verdict(&failed, &before).0, Verdict::Failed);
    }

    #[test]
    fn suspended_is_suspended_or_created_suspended() {
        let suspended = Expect {
            suspended: true,
            ..Expect::default()
        };
        let a = assess(Some(&live(3, 3, "SUSPENDED", "FINISHED")), &suspended);
        assert_eq!((a.verdict, a.health), (Verdict::Ready, Health::Suspended));
        let created = json!({"metadata": {"generation": 1}, "spec": {}, "status": {"lifecycleState": "CREATED"}});
        assert_eq!(verdict(&created, &suspended).0, Verdict::Ready);
        let no_status = json!({"metadata": {"generation": 1}, "spec": {}});
        assert_eq!(verdict(&no_status, &suspended).0, Verdict::Ready);
        assert_eq!(
            verdict(&live(3, 3, "STABLE", "RUNNING"), &suspended).0,
            Verdict::Waiting
        );
        assert_eq!(assess(None, &suspended).health, Health::Missing);
    }

    #[test]
    fn task_managers_follow_replicas_or_parallelism_over_slots() {
        assert_eq!(task_managers(&json!({"taskManager": {"replicas": 3}})), 3);
        assert_eq!(
            task_managers(
                &json!({"job": {"parallelism": 5}, "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "2"}})
            ),
            3
        );
        assert_eq!(task_managers(&json!({"job": {"parallelism": 2}})), 2);
        assert_eq!(task_managers(&json!({})), 1);
    }
}
