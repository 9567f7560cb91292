//! sluice's stream health against Argo CD's own SparkApplication health
//! check (`resource_customizations/sparkoperator.k8s.io/SparkApplication/`
//! in argoproj/argo-cd, copied to tests/fixtures/argocd-sparkapplication):
//! every case of its `health_test.yaml`, then cases beyond that table whose
//! Argo CD status is read from its `health.lua`.
//!
//! Argo CD's Healthy is sluice's Ready, Progressing is Waiting, Degraded is
//! Failed, and Suspended is Ready for a suspended stream. Where sluice
//! decides otherwise on purpose, the case is listed with the reason, and the
//! disagreement itself is asserted: the test fails if either side changes.

mod common;

use serde_json::{Value, json};
use sluice::health::{self, Assessment, Expect, Health, Verdict};

fn fixtures() -> String {
    common::argocd::folder("argocd-sparkapplication")
}

fn load(input_path: &str) -> Value {
    common::argocd::load(&fixtures(), input_path)
}

/// Argo CD's status as sluice's verdict.
fn verdict_for(argo: &str) -> Verdict {
    match argo {
        "Healthy" | "Suspended" => Verdict::Ready,
        "Progressing" => Verdict::Waiting,
        "Degraded" => Verdict::Failed,
        other => panic!("no sluice verdict for Argo CD's `{other}`"),
    }
}

/// How sluice sees an object, knowing only what the object says.
fn assess(object: &Value, stale_submission: Option<String>) -> Assessment {
    health::assess(Some(object), &Expect::of(object, stale_submission))
}

/// Cases of the upstream table where sluice decides otherwise on purpose:
/// (`inputPath`, sluice's health, why). None today: every upstream case
/// agrees (the deliberate differences are in the table below).
const UPSTREAM_DISAGREEMENTS: &[(&str, Health, &str)] = &[];

#[test]
fn every_case_of_argo_cds_health_test_table() {
    let table = common::argocd::table(&fixtures());
    assert!(
        table.tests.len() >= 7,
        "only {} cases read",
        table.tests.len()
    );
    let (mut agree, mut disagree) = (0, 0);
    for case in &table.tests {
        let object = load(&case.input_path);
        let a = assess(&object, None);
        let argo = case.health_status.status.as_str();
        let subject = format!("{} (Argo CD: {argo}): {a:?}", case.input_path);
        if let Some((_, health, why)) = UPSTREAM_DISAGREEMENTS
            .iter()
            .find(|(path, ..)| *path == case.input_path)
        {
            assert_eq!(a.health, *health, "{subject}");
            assert_ne!(
                a.health.as_str(),
                argo,
                "{subject} no longer disagrees ({why})"
            );
            disagree += 1;
            continue;
        }
        assert_eq!(a.health.as_str(), argo, "{subject}");
        assert_eq!(a.verdict, verdict_for(argo), "{subject}");
        if argo == "Suspended" {
            assert!(Expect::of(&object, None).suspended, "{subject}");
        }
        // Argo CD's Degraded message is the operator's errorMessage.
        if argo == "Degraded" {
            assert_eq!(
                a.error.as_deref(),
                Some(case.health_status.message.as_str()),
                "{subject}"
            );
        }
        agree += 1;
    }
    for (path, ..) in UPSTREAM_DISAGREEMENTS {
        assert!(
            table.tests.iter().any(|c| c.input_path == *path),
            "{path} is no longer in health_test.yaml"
        );
    }
    assert_eq!(agree + disagree, table.tests.len());
    println!(
        "Argo CD health_test.yaml: {agree} of {} cases agree, {disagree} deliberately disagree",
        table.tests.len()
    );
}

/// An upstream object, edited.
struct Variant {
    name: &'static str,
    base: &'static str,
    edit: fn(&mut Value),
    /// What Argo CD's health.lua returns for it (read from the Lua, not
    /// run: the branch is named).
    argo: &'static str,
    sluice: Health,
    /// Why sluice decides otherwise; `None` when they agree.
    why: Option<&'static str>,
    /// sluice saw this submission before a resubmitting apply.
    stale: bool,
}

fn set_state(o: &mut Value, state: &str) {
    o["status"]["applicationState"]["state"] = json!(state);
}

fn running_executors(o: &mut Value, states: &[&str]) {
    let map: serde_json::Map<String, Value> = states
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("exec-{}", i + 1), json!(s)))
        .collect();
    o["status"]["executorState"] = Value::Object(map);
}

#[test]
fn cases_beyond_the_upstream_table() {
    const RUNNING: &str = "testdata/healthy.yaml";
    let variants = [
        Variant {
            name: "a streaming query that COMPLETED",
            base: RUNNING,
            edit: |o| set_state(o, "COMPLETED"),
            argo: "Healthy", // state == "COMPLETED"
            sluice: Health::Degraded,
            why: Some(
                "a stream that completes has stopped; only runsToCompletion makes it the goal",
            ),
            stale: false,
        },
        Variant {
            name: "COMPLETED, runsToCompletion",
            base: RUNNING,
            edit: |o| {
                set_state(o, "COMPLETED");
                o["metadata"]["annotations"] =
                    json!({sluice::render::ANNOTATION_RUNS_TO_COMPLETION: "true"});
            },
            argo: "Healthy",
            sluice: Health::Healthy,
            why: None,
            stale: false,
        },
        Variant {
            name: "1 of 4 executors running",
            base: RUNNING,
            edit: |o| running_executors(o, &["RUNNING", "PENDING", "PENDING", "FAILED"]),
            argo: "Progressing", // count ~= instances, no range: "Waiting for Executor pods"
            sluice: Health::Progressing,
            why: None,
            stale: false,
        },
        Variant {
            name: "RUNNING without executorState",
            base: RUNNING,
            edit: |o| {
                o["status"].as_object_mut().unwrap().remove("executorState");
            },
            argo: "Progressing", // executorState == nil: falls through
            sluice: Health::Progressing,
            why: None,
            stale: false,
        },
        Variant {
            name: "5 executors running for 4 instances",
            base: RUNNING,
            edit: |o| running_executors(o, &["RUNNING"; 5]),
            argo: "Progressing", // instances ~= count and no dynamic allocation range
            sluice: Health::Healthy,
            why: Some(
                "more executors than asked is a stream that runs (old executors still stopping)",
            ),
            stale: false,
        },
        Variant {
            name: "dynamic allocation below minExecutors",
            base: "testdata/healthy_dynamic_alloc_operator_api.yaml",
            edit: |o| running_executors(o, &["RUNNING", "PENDING"]),
            argo: "Progressing", // count < min_executor_instances
            sluice: Health::Progressing,
            why: None,
            stale: false,
        },
        Variant {
            name: "dynamic allocation in sparkConf below minExecutors",
            base: "testdata/healthy_dynamic_alloc_dstream.yaml",
            edit: |o| running_executors(o, &["RUNNING"]),
            argo: "Progressing",
            sluice: Health::Progressing,
            why: None,
            stale: false,
        },
        Variant {
            name: "FAILING",
            base: "testdata/degraded.yaml",
            edit: |o| set_state(o, "FAILING"),
            argo: "Degraded", // state == "FAILING"
            sluice: Health::Progressing,
            why: Some(
                "the operator reruns a failing stream under its restart policy, and reports FAILED when it gives up",
            ),
            stale: false,
        },
        Variant {
            name: "suspended and SUSPENDED",
            base: RUNNING,
            edit: |o| {
                o["spec"]["suspend"] = json!(true);
                set_state(o, "SUSPENDED");
                o["status"].as_object_mut().unwrap().remove("executorState");
            },
            argo: "Progressing", // no SUSPENDED branch: "Waiting for Executor pods"
            sluice: Health::Suspended,
            why: Some(
                "a stream the values suspend is where it should be (Argo CD's own Suspended status)",
            ),
            stale: false,
        },
        Variant {
            name: "suspended and FAILED",
            base: "testdata/degraded.yaml",
            edit: |o| o["spec"]["suspend"] = json!(true),
            argo: "Degraded",
            sluice: Health::Degraded,
            why: None,
            stale: false,
        },
        Variant {
            name: "SUBMISSION_FAILED",
            base: "testdata/degraded.yaml",
            edit: |o| set_state(o, "SUBMISSION_FAILED"),
            argo: "Degraded",
            sluice: Health::Degraded,
            why: None,
            stale: false,
        },
        Variant {
            name: "SUBMITTED",
            base: RUNNING,
            edit: |o| set_state(o, "SUBMITTED"),
            argo: "Progressing",
            sluice: Health::Progressing,
            why: None,
            stale: false,
        },
        Variant {
            name: "SUCCEEDING",
            base: RUNNING,
            edit: |o| set_state(o, "SUCCEEDING"),
            argo: "Progressing",
            sluice: Health::Progressing,
            why: None,
            stale: false,
        },
        Variant {
            name: "UNKNOWN",
            base: RUNNING,
            edit: |o| set_state(o, "UNKNOWN"),
            argo: "Progressing",
            sluice: Health::Progressing,
            why: None,
            stale: false,
        },
        Variant {
            name: "INVALIDATING",
            base: RUNNING,
            edit: |o| set_state(o, "INVALIDATING"),
            argo: "Missing", // state == "INVALIDATING"
            sluice: Health::Progressing,
            why: Some(
                "the operator is about to resubmit after a spec change; sluice's Missing is an object that does not exist",
            ),
            stale: false,
        },
        Variant {
            name: "empty state",
            base: RUNNING,
            edit: |o| set_state(o, ""),
            argo: "Progressing", // "enqueuing it for submission"
            sluice: Health::Progressing,
            why: None,
            stale: false,
        },
        Variant {
            name: "no status",
            base: RUNNING,
            edit: |o| {
                o.as_object_mut().unwrap().remove("status");
            },
            argo: "Progressing", // obj.status == nil: falls through
            sluice: Health::Progressing,
            why: None,
            stale: false,
        },
        Variant {
            name: "RUNNING, but the previous submission",
            base: RUNNING,
            edit: |_| {},
            argo: "Healthy",
            sluice: Health::Progressing,
            why: Some(
                "spark-operator has no observedGeneration: after a resubmitting apply, the old run's status is not this apply's",
            ),
            stale: true,
        },
    ];
    let (mut agree, mut disagree) = (0, 0);
    for v in &variants {
        let mut object = load(v.base);
        (v.edit)(&mut object);
        let stale = v.stale.then(|| health::submission(Some(&object)).unwrap());
        let a = assess(&object, stale);
        let subject = format!("{} (Argo CD: {}): {a:?}", v.name, v.argo);
        assert_eq!(a.health, v.sluice, "{subject}");
        match v.why {
            None => {
                assert_eq!(a.health.as_str(), v.argo, "{subject}");
                agree += 1;
            }
            Some(why) => {
                assert_ne!(
                    a.health.as_str(),
                    v.argo,
                    "{subject} no longer disagrees ({why})"
                );
                disagree += 1;
            }
        }
    }
    println!(
        "beyond the table: {agree} of {} cases agree with health.lua, {disagree} deliberately disagree",
        variants.len()
    );
}

#[test]
fn states_keep_their_names() {
    let mut object = load("testdata/healthy.yaml");
    set_state(&mut object, "UNKNOWN");
    assert_eq!(assess(&object, None).state, "UNKNOWN");
    set_state(&mut object, "");
    assert_eq!(assess(&object, None).state, health::NEW);
    let completed = {
        set_state(&mut object, "COMPLETED");
        assess(&object, None)
    };
    assert_eq!(
        completed.detail,
        "COMPLETED: the streaming query stopped (set runsToCompletion: true for a stream that is meant to finish)"
    );
}
