//! sluice's Flink stream health against Argo CD's own FlinkDeployment
//! health check (`resource_customizations/flink.apache.org/FlinkDeployment/`
//! in argoproj/argo-cd, copied to tests/fixtures/argocd-flinkdeployment):
//! every case of its `health_test.yaml`, then cases beyond that table (the
//! operator 1.15 status: observedGeneration, lifecycleState, error) whose
//! Argo CD status is read from its `health.lua`.
//!
//! Argo CD's Healthy is sluice's Ready (Suspended for a suspended stream),
//! Progressing is Waiting, Degraded is Failed. Where sluice decides
//! otherwise on purpose, the case says why, and the disagreement itself is
//! asserted: the test fails if either side changes.

mod common;

use serde_json::{Value, json};
use sluice::engine::Engine;
use sluice::health::{Assessment, Expect, Health, Verdict};

fn fixtures() -> String {
    common::argocd::folder("argocd-flinkdeployment")
}

fn load(input_path: &str) -> Value {
    common::argocd::load(&fixtures(), input_path)
}

/// How sluice sees an object, knowing only what the object says.
fn assess(object: &Value, expect: &Expect) -> Assessment {
    Engine::of_object(object)
        .expect("a FlinkDeployment")
        .assess(Some(object), expect)
}

/// Argo CD's status as sluice's health for this object.
fn health_for(argo: &str, suspended: bool) -> Health {
    match argo {
        "Healthy" if suspended => Health::Suspended,
        "Healthy" => Health::Healthy,
        "Progressing" => Health::Progressing,
        "Degraded" => Health::Degraded,
        other => panic!("no sluice health for Argo CD's `{other}`"),
    }
}

#[test]
fn every_case_of_argo_cds_health_test_table() {
    let table = common::argocd::table(&fixtures());
    assert!(
        table.tests.len() >= 7,
        "only {} cases read",
        table.tests.len()
    );
    for case in &table.tests {
        let object = load(&case.input_path);
        let expect = Expect::of(&object, None);
        let a = assess(&object, &expect);
        let argo = case.health_status.status.as_str();
        let subject = format!("{} (Argo CD: {argo}): {a:?}", case.input_path);
        assert_eq!(a.health, health_for(argo, expect.suspended), "{subject}");
        let verdict = match argo {
            "Healthy" => Verdict::Ready,
            "Progressing" => Verdict::Waiting,
            _ => Verdict::Failed,
        };
        assert_eq!(a.verdict, verdict, "{subject}");
        // Argo CD's Degraded message is the operator's error.
        if argo == "Degraded" {
            assert_eq!(
                a.error.as_deref(),
                Some(case.health_status.message.as_str()),
                "{subject}"
            );
            assert!(a.detail.contains(&case.health_status.message), "{subject}");
        }
    }
}

/// An operator 1.15 status: this spec observed, deployed, stable, running.
fn stable() -> Value {
    json!({
        "apiVersion": "flink.apache.org/v1beta1",
        "kind": "FlinkDeployment",
        "metadata": {"name": "clicks", "generation": 2},
        "spec": {"job": {"state": "running", "parallelism": 2}},
        "status": {
            "observedGeneration": 2,
            "lifecycleState": "STABLE",
            "jobManagerDeploymentStatus": "READY",
            "reconciliationStatus": {"state": "DEPLOYED"},
            "jobStatus": {"state": "RUNNING", "jobId": "j-1"},
            "taskManager": {"replicas": 2}
        }
    })
}

struct Variant {
    name: &'static str,
    edit: fn(&mut Value),
    /// What health.lua returns for it (read from the Lua, not run: the
    /// branch is named).
    argo: &'static str,
    sluice: Health,
    /// Why sluice decides otherwise; `None` when they agree.
    why: Option<&'static str>,
}

#[test]
fn cases_beyond_the_upstream_table() {
    let variants = [
        Variant {
            name: "stable and running",
            edit: |_| {},
            argo: "Healthy", // reconciliationStatus.state == "DEPLOYED"
            sluice: Health::Healthy,
            why: None,
        },
        Variant {
            name: "deployed, the job RESTARTING",
            edit: |o| o["status"]["jobStatus"]["state"] = json!("RESTARTING"),
            argo: "Healthy",
            sluice: Health::Progressing,
            why: Some(
                "a job that restarts is not running; the operator's DEPLOYED is about the spec",
            ),
        },
        Variant {
            name: "deployed, lifecycle DEPLOYED (not yet STABLE)",
            edit: |o| o["status"]["lifecycleState"] = json!("DEPLOYED"),
            argo: "Healthy",
            sluice: Health::Progressing,
            why: Some(
                "the operator calls a deployment stable only once it ran long enough; before that an upgrade may still roll back",
            ),
        },
        Variant {
            name: "a newer generation not observed yet",
            edit: |o| o["metadata"]["generation"] = json!(3),
            argo: "Healthy",
            sluice: Health::Progressing,
            why: Some("the status is about the previous spec"),
        },
        Variant {
            name: "the job FINISHED",
            edit: |o| o["status"]["jobStatus"]["state"] = json!("FINISHED"),
            argo: "Healthy",
            sluice: Health::Degraded,
            why: Some("a streaming job that ended does not run again by waiting"),
        },
        Variant {
            name: "no observedGeneration (operator < 1.8): the last reconciled spec's generation",
            edit: |o| {
                o["status"]
                    .as_object_mut()
                    .unwrap()
                    .remove("observedGeneration");
                o["status"]["reconciliationStatus"]["lastReconciledSpec"] = json!(
                    r#"{"spec":{},"resource_metadata":{"apiVersion":"flink.apache.org/v1beta1","metadata":{"generation":2},"firstDeployment":false}}"#
                );
            },
            argo: "Healthy",
            sluice: Health::Healthy,
            why: None,
        },
        Variant {
            name: "no observedGeneration, an older spec reconciled last",
            edit: |o| {
                o["status"]
                    .as_object_mut()
                    .unwrap()
                    .remove("observedGeneration");
                o["status"]["reconciliationStatus"]["lastReconciledSpec"] =
                    json!(r#"{"spec":{},"resource_metadata":{"metadata":{"generation":1}}}"#);
            },
            argo: "Healthy",
            sluice: Health::Progressing,
            why: Some("the status is about the previous spec"),
        },
        Variant {
            name: "UPGRADING",
            edit: |o| {
                o["status"]["reconciliationStatus"]["state"] = json!("UPGRADING");
                o["status"]["lifecycleState"] = json!("UPGRADING");
            },
            argo: "Progressing", // falls through: "Waiting for Flink operator"
            sluice: Health::Progressing,
            why: None,
        },
        Variant {
            name: "lifecycle FAILED",
            edit: |o| {
                o["status"]["lifecycleState"] = json!("FAILED");
                o["status"]["reconciliationStatus"]["state"] = json!("UPGRADING");
                o["status"]["jobStatus"]["state"] = json!("FAILED");
            },
            argo: "Progressing",
            sluice: Health::Degraded,
            why: Some("FAILED is final: the operator will not get there by itself"),
        },
        Variant {
            name: "ROLLED_BACK",
            edit: |o| {
                o["status"]["lifecycleState"] = json!("ROLLED_BACK");
                o["status"]["reconciliationStatus"]["state"] = json!("ROLLED_BACK");
            },
            argo: "Progressing",
            sluice: Health::Degraded,
            why: Some("the new spec was given up: the stream runs the old one"),
        },
        Variant {
            name: "an error, the JobManager in ERROR",
            edit: |o| {
                o["status"]["error"] = json!("back-off pulling image");
                o["status"]["jobManagerDeploymentStatus"] = json!("ERROR");
                o["status"]["reconciliationStatus"]["state"] = json!("UPGRADING");
            },
            argo: "Degraded",
            sluice: Health::Degraded,
            why: None,
        },
        Variant {
            name: "suspended",
            edit: |o| {
                o["spec"]["job"]["state"] = json!("suspended");
                o["status"]["lifecycleState"] = json!("SUSPENDED");
                o["status"]["jobStatus"]["state"] = json!("FINISHED");
                o["status"]["jobManagerDeploymentStatus"] = json!("MISSING");
            },
            argo: "Healthy",
            sluice: Health::Suspended,
            why: None,
        },
        Variant {
            name: "created suspended: never reconciled",
            edit: |o| {
                o["spec"]["job"]["state"] = json!("suspended");
                o["status"] = json!({"lifecycleState": "CREATED"});
            },
            argo: "Progressing", // no reconciliationStatus
            sluice: Health::Suspended,
            why: Some("the operator never deploys a deployment created suspended: it is as asked"),
        },
    ];
    for v in &variants {
        let mut object = stable();
        (v.edit)(&mut object);
        let expect = Expect::of(&object, None);
        let a = assess(&object, &expect);
        let argo = health_for(v.argo, expect.suspended);
        assert_eq!(a.health, v.sluice, "{}: {a:?}", v.name);
        match v.why {
            None => assert_eq!(a.health, argo, "{}", v.name),
            Some(why) => assert_ne!(a.health, argo, "{} no longer disagrees ({why})", v.name),
        }
    }
}

#[test]
fn an_error_from_before_the_apply_waits_for_the_operator() {
    let mut object = stable();
    object["metadata"]["generation"] = json!(3);
    object["status"]["error"] = json!("the previous spec's error");
    let before = Expect {
        stale_error: Some("the previous spec's error".into()),
        ..Expect::of(&object, None)
    };
    assert_eq!(assess(&object, &before).verdict, Verdict::Waiting);
    assert_eq!(
        assess(&object, &Expect::of(&object, None)).verdict,
        Verdict::Failed
    );
}
