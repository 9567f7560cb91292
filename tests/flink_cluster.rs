//! Flink streams against a real kube-apiserver with the upstream Flink
//! operator CRD (scripts/test-cluster.sh installs it): apply, the diff's
//! Flink impact, `--wait` (the test plays the operator through the status
//! subresource), suspend, resume, status, and the prune guard. Ignored
//! unless asked for, like tests/cluster.rs.

mod common;

use common::cluster::{Env, diff_json, finish, kubeconfig, spawn};
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};
use std::time::Duration;

const CLICKS: &str = "engine: flink\nflink:\n  version: \"1.20\"\n  image: registry.example.com/flink-streams:1.0.0\napplicationFile: local:///opt/flink/usrlib/clicks.jar\nmainClass: com.example.Clicks\nsink: s3a://lake/clicks\njobManager:\n  resource: {cpu: 1, memory: 2048m}\ntaskManager:\n  resource: {cpu: 2, memory: 4g}\njob:\n  parallelism: 4\nflinkConfiguration:\n  taskmanager.numberOfTaskSlots: 2\n";

fn flink() -> ApiResource {
    sluice::engine::Engine::Flink.resource()
}

/// dev with one Flink stream, `clicks` (the Spark streams removed).
async fn flink_env() -> Env {
    let env = Env::new(kubeconfig()).await;
    for spark in ["orders", "payments"] {
        std::fs::remove_file(env.repo.path().join(format!("values/streams/{spark}.yaml"))).unwrap();
    }
    env.write("values/streams/clicks.yaml", CLICKS);
    env
}

async fn live(env: &Env) -> Option<Value> {
    let api: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), &env.dev, &flink());
    api.get_opt("clicks")
        .await
        .unwrap()
        .map(|o| serde_json::to_value(o).unwrap())
}

/// Plays the Flink operator: a status for the generation now live (or,
/// with `observed_lag`, for an older one), with the lifecycle and job state
/// given.
async fn play(env: &Env, lifecycle: &str, job: &str, error: Option<&str>, observed_lag: i64) {
    let api: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), &env.dev, &flink());
    let object = live(env).await.expect("the deployment exists");
    let generation = object["metadata"]["generation"].as_i64().unwrap();
    let reconciliation = match lifecycle {
        "UPGRADING" => "UPGRADING",
        "ROLLED_BACK" => "ROLLED_BACK",
        _ => "DEPLOYED",
    };
    let status = json!({"status": {
        "observedGeneration": generation - observed_lag,
        "lifecycleState": lifecycle,
        "jobManagerDeploymentStatus": "READY",
        "reconciliationStatus": {"state": reconciliation},
        "jobStatus": {"state": job, "jobId": "0000-clicks",
            "savepointInfo": {"lastSavepoint": {"location": "s3a://lake/clicks/_savepoints/clicks/savepoint-1", "timeStamp": 1, "triggerType": "UPGRADE"}}},
        "taskManager": {"replicas": 2},
        "error": error,
    }});
    api.patch_status("clicks", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

/// `apply --env dev --wait` in the background, for the test to play the
/// operator meanwhile.
fn apply_waiting(env: &Env, extra: &[&str]) -> std::process::Child {
    let mut args = vec!["apply", "--env", "dev", "--wait", "--timeout", "60s"];
    args.extend_from_slice(extra);
    spawn(env, &args)
}

/// The live generation now.
async fn generation(env: &Env) -> i64 {
    live(env).await.unwrap()["metadata"]["generation"]
        .as_i64()
        .unwrap()
}

/// Waits until sluice has written a generation after `before`, and has
/// had time to look at the status it finds (it polls once a second): the
/// test then plays the operator's answer to that write, however slow the
/// machine.
async fn written_after(env: &Env, before: i64) {
    for _ in 0..300 {
        if generation(env).await > before {
            tokio::time::sleep(Duration::from_millis(1200)).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("sluice wrote no new generation after {before} in 30 s");
}

fn stream(report: &Value) -> &Value {
    &report["streams"][0]
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn apply_then_the_diff_says_what_each_change_does_to_the_job() {
    let env = flink_env().await;
    let first = env.sluice(&["apply", "--env", "dev"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("applied: 1 created"),
        "{}",
        first.stdout
    );
    let object = live(&env).await.unwrap();
    let conf = &object["spec"]["flinkConfiguration"];
    assert_eq!(
        conf["kubernetes.operator.job.savepoint-on-deletion"],
        "true"
    );
    assert_eq!(
        conf["state.checkpoints.dir"],
        "s3a://lake/clicks/_checkpoints/clicks"
    );
    assert_eq!(object["spec"]["job"]["upgradeMode"], "savepoint");

    // Re-applying changes nothing.
    let again = env.sluice(&["apply", "--env", "dev"]);
    assert!(again.stdout.contains("1 unchanged"), "{}", again.stdout);

    let cases: &[(&[&str], Value, bool)] = &[
        (
            &["--set", "job.parallelism=8"],
            json!({"type": "upgrade", "upgrade_mode": "savepoint", "keeps_state": true}),
            true,
        ),
        (
            &[
                "--set",
                "job.parallelism=8",
                "--set",
                "job.upgradeMode=stateless",
            ],
            json!({"type": "upgrade", "upgrade_mode": "stateless", "keeps_state": false}),
            true,
        ),
        (
            &["--set", "job.savepointTriggerNonce=7"],
            json!({"type": "none"}),
            false,
        ),
        (
            &["--set", "job.upgradeMode=last-state"],
            json!({"type": "none"}),
            false,
        ),
        (
            &[
                "--set",
                "job.savepointRedeployNonce=1",
                "--set",
                "job.initialSavepointPath=s3a://lake/clicks/_savepoints/clicks/savepoint-1",
            ],
            json!({"type": "redeploy-from-savepoint", "savepoint": "s3a://lake/clicks/_savepoints/clicks/savepoint-1"}),
            true,
        ),
        (
            &["--set", "suspend=true"],
            json!({"type": "suspend"}),
            false,
        ),
        (
            &["--set", "sink=s3a://lake/clicks-v2"],
            json!({"type": "state-reset", "from": "s3a://lake/clicks/_checkpoints/clicks", "to": "s3a://lake/clicks-v2/_checkpoints/clicks"}),
            true,
        ),
    ];
    for (args, impact, restarts) in cases {
        let report = diff_json(&env, args);
        assert_eq!(stream(&report)["impact"], *impact, "{args:?}: {report:#}");
        assert_eq!(stream(&report)["restarts"], *restarts, "{args:?}");
    }
    let stateless = diff_json(
        &env,
        &[
            "--set",
            "job.parallelism=8",
            "--set",
            "job.upgradeMode=stateless",
        ],
    );
    assert_eq!(stateless["summary"]["state_resets"], 1);
    let human = env.sluice(&[
        "diff",
        "--env",
        "dev",
        "--set",
        "job.parallelism=8",
        "--set",
        "job.upgradeMode=stateless",
    ]);
    assert!(human.stdout.contains("state lost:"), "{}", human.stdout);
    assert!(
        human
            .stdout
            .contains("WITHOUT its state (upgradeMode stateless)"),
        "{}",
        human.stdout
    );

    // The report counts the JobManager and ceil(8 / 2) TaskManagers.
    let bigger = diff_json(&env, &["--set", "job.parallelism=8"]);
    assert_eq!(bigger["requests"]["before"]["cores"], 1.0 + 2.0 * 2.0);
    assert_eq!(bigger["requests"]["after"]["cores"], 1.0 + 4.0 * 2.0);
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn wait_follows_the_operators_status_through_suspend_and_resume() {
    let env = flink_env().await;
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    play(&env, "STABLE", "RUNNING", None, 0).await;
    let out = env.sluice(&["apply", "--env", "dev", "--wait", "--timeout", "20s"]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    // An upgrade: the status of the previous generation is not trusted.
    let before = generation(&env).await;
    let child = apply_waiting(&env, &["--set", "job.parallelism=6"]);
    written_after(&env, before).await;
    play(&env, "UPGRADING", "RECONCILING", None, 0).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    play(&env, "STABLE", "RUNNING", None, 0).await;
    let out = finish(child);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("waiting for the operator to observe the change"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("all 1 stream ready"), "{}", out.stderr);

    // A failure of the new spec ends the wait at once, with the error.
    let before = generation(&env).await;
    let child = apply_waiting(&env, &["--set", "job.parallelism=7"]);
    written_after(&env, before).await;
    play(
        &env,
        "FAILED",
        "FAILED",
        Some("java.lang.OutOfMemoryError: Java heap space"),
        0,
    )
    .await;
    let out = finish(child);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("OutOfMemoryError"), "{}", out.stderr);

    // Suspend: ready once the operator says SUSPENDED.
    let before = generation(&env).await;
    let child = apply_waiting(&env, &["--set", "suspend=true"]);
    written_after(&env, before).await;
    play(&env, "SUSPENDED", "FINISHED", None, 0).await;
    let out = finish(child);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("suspends the stream"), "{}", out.stderr);
    assert_eq!(
        live(&env).await.unwrap()["spec"]["job"]["state"],
        "suspended"
    );

    // Resume: from the kept state, ready once running again.
    let before = generation(&env).await;
    let child = apply_waiting(&env, &[]);
    written_after(&env, before).await;
    play(&env, "STABLE", "RUNNING", None, 0).await;
    let out = finish(child);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("resumes the stream"), "{}", out.stderr);

    let status = env.sluice(&["status", "--env", "dev", "--format", "json"]);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    let row = &status["streams"][0];
    assert_eq!(row["engine"], "flink");
    assert_eq!(row["health"], "Healthy", "{row:#}");
    assert_eq!(row["lifecycle"], "STABLE");
    assert_eq!(
        row["last_savepoint"],
        "s3a://lake/clicks/_savepoints/clicks/savepoint-1"
    );
    let human = env.sluice(&["status", "--env", "dev"]);
    assert!(human.stdout.contains("LAST SAVEPOINT"), "{}", human.stdout);
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn prune_refuses_to_delete_a_flink_streams_state_unasked() {
    let env = flink_env().await;
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    std::fs::remove_file(env.repo.path().join("values/streams/clicks.yaml")).unwrap();

    // With savepoint-on-deletion (sluice's default) the plan names the
    // savepoint the operator takes.
    let report = diff_json(&env, &[]);
    assert_eq!(
        stream(&report)["impact"],
        json!({"type": "stop", "checkpoint": "s3a://lake/clicks/_checkpoints/clicks", "savepoint": "s3a://lake/clicks/_savepoints/clicks"})
    );

    // Someone turned it off on the live object: pruning would delete the
    // job's checkpoints and HA metadata.
    let api: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), &env.dev, &flink());
    let off = json!({"spec": {"flinkConfiguration": {"kubernetes.operator.job.savepoint-on-deletion": "false"}}});
    api.patch("clicks", &PatchParams::default(), &Patch::Merge(&off))
        .await
        .unwrap();
    let report = diff_json(&env, &[]);
    assert_eq!(
        stream(&report)["impact"]["deletes_state"],
        true,
        "{report:#}"
    );
    let refused = env.sluice(&["apply", "--env", "dev", "--prune", "--allow-empty"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("clicks: stops the job and deletes its state"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("--allow-state-loss"),
        "{}",
        refused.stderr
    );
    assert!(live(&env).await.is_some(), "nothing was deleted");

    let allowed = env.sluice(&[
        "apply",
        "--env",
        "dev",
        "--prune",
        "--allow-empty",
        "--allow-state-loss",
    ]);
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    assert!(live(&env).await.is_none());
}
