//! diff and apply against a real kube-apiserver (scripts/test-cluster.sh).
//! The tests read its kubeconfig from SLUICE_TEST_KUBECONFIG; they are
//! ignored unless asked for (`cargo test -- --include-ignored`, as in CI). Each test works
//! in its own namespace; the spark-operator does not run, so tests play it
//! where needed.

// The lock that keeps the CRD test alone is held across awaits on purpose:
// each test runs on its own current-thread runtime.
#![allow(clippy::await_holding_lock)]

mod common;

use common::cluster::{Env, apps, diff_json, finish, kubeconfig, requests, spawn};
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::sync::RwLock;

/// Most tests share the cluster; the one that removes the CRD has it alone.
static CLUSTER: RwLock<()> = RwLock::new(());

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn apply_creates_then_no_op_then_one_restart() {
    let kc = kubeconfig();
    let _shared = CLUSTER.read().unwrap_or_else(|e| e.into_inner());
    let env = Env::new(kc).await;

    let first = env.sluice(&["apply", "--env", "dev"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("applied: 2 created, 0 changed"),
        "{}",
        first.stdout
    );
    assert_eq!(env.names(&env.dev).await, ["orders", "payments"]);
    let before = env.live(&env.dev, "orders").await.unwrap();
    assert_eq!(
        before["metadata"]["labels"]["sluice.dev/environment"],
        "dev"
    );
    assert!(
        before["metadata"]["labels"]["applyset.kubernetes.io/part-of"]
            .as_str()
            .unwrap()
            .starts_with("applyset-")
    );

    // Re-applying what holds sends no PATCH: one GET (the ApplySet parent)
    // and one LIST.
    let again = env.sluice(&["apply", "--env", "dev"]);
    assert_eq!(again.code, 0);
    assert!(
        again
            .stdout
            .contains("applied: 0 created, 0 changed (0 restarts), 0 pruned, 2 unchanged"),
        "{}",
        again.stdout
    );
    assert_eq!(requests(&again), 2, "{}", again.stderr);
    let after = env.live(&env.dev, "orders").await.unwrap();
    assert_eq!(
        before["metadata"]["resourceVersion"],
        after["metadata"]["resourceVersion"]
    );
    let diff = diff_json(&env, &[]);
    assert_eq!(diff["summary"]["changed"], 0);
    assert_eq!(env.sluice(&["diff", "--env", "dev", "--exit-code"]).code, 0);

    // One changed value: exactly one update, flagged as a restart.
    env.write(
        "values/streams/orders.yaml",
        "mainClass: com.example.Orders\narguments: [--topic, orders-v2]\nsink: s3a://lake/orders\n",
    );
    let diff = diff_json(&env, &[]);
    let streams: Vec<(String, String, bool)> = diff["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stream"].as_str().unwrap().into(),
                s["change"].as_str().unwrap().into(),
                s["restarts"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        streams,
        [
            ("orders".into(), "changed".into(), true),
            ("payments".into(), "unchanged".into(), false)
        ]
    );
    assert!(
        diff["objects"][0]["diff"]
            .as_str()
            .unwrap()
            .contains("+  - orders-v2"),
        "{}",
        diff["objects"][0]["diff"]
    );
    assert_eq!(env.sluice(&["diff", "--env", "dev", "--exit-code"]).code, 1);
    let applied = env.sluice(&["apply", "--env", "dev"]);
    assert!(
        applied
            .stdout
            .contains("applied: 0 created, 1 changed (1 restart), 0 pruned, 1 unchanged"),
        "{}",
        applied.stdout
    );
    assert_eq!(
        env.live(&env.dev, "orders").await.unwrap()["spec"]["arguments"],
        json!(["--topic", "orders-v2"])
    );
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn metadata_only_and_removed_fields() {
    let kc = kubeconfig();
    let _shared = CLUSTER.read().unwrap_or_else(|e| e.into_inner());
    let env = Env::new(kc).await;
    env.write("values/streams/orders.yaml", "mainClass: com.example.Orders\nsink: s3a://lake/orders\nlabels: {team: a}\nexecutor: {memoryOverhead: 1g}\n");
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);

    // A label only: a change, but no restart.
    env.write("values/streams/orders.yaml", "mainClass: com.example.Orders\nsink: s3a://lake/orders\nlabels: {team: b}\nexecutor: {memoryOverhead: 1g}\n");
    let diff = diff_json(&env, &[]);
    assert_eq!(diff["streams"][0]["change"], "changed");
    assert_eq!(diff["streams"][0]["restarts"], false, "{diff:#}");
    // suspend: no restart either.
    let diff = diff_json(&env, &["--set", "suspend=true"]);
    assert_eq!(diff["objects"][0]["restarts"], false);
    assert_eq!(diff["summary"]["changed"], 2);

    // A field removed from the values disappears from the live object.
    env.write(
        "values/streams/orders.yaml",
        "mainClass: com.example.Orders\nsink: s3a://lake/orders\nlabels: {team: b}\n",
    );
    let diff = diff_json(&env, &[]);
    assert_eq!(diff["objects"][0]["restarts"], true);
    assert!(
        diff["objects"][0]["fields"]
            .as_array()
            .unwrap()
            .contains(&json!("spec.executor.memoryOverhead")),
        "{diff:#}"
    );
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    let live = env.live(&env.dev, "orders").await.unwrap();
    assert!(
        live["spec"]["executor"].get("memoryOverhead").is_none(),
        "{:#}",
        live["spec"]["executor"]
    );
    assert_eq!(live["metadata"]["labels"]["team"], "b");
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn conflicts_name_the_manager_and_force_wins() {
    let kc = kubeconfig();
    let _shared = CLUSTER.read().unwrap_or_else(|e| e.into_inner());
    let env = Env::new(kc).await;
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    // Someone scales the stream by hand, with their own field manager.
    let api: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), &env.dev, &apps());
    let patch = json!({"apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "SparkApplication", "metadata": {"name": "orders"}, "spec": {"executor": {"instances": 9}}});
    api.patch(
        "orders",
        &PatchParams::apply("platform-oncall").force(),
        &Patch::Apply(&patch),
    )
    .await
    .unwrap();

    // Our values change the same field: a conflict, named, exit 3.
    let out = env.sluice(&["apply", "--env", "dev", "--set", "executor.instances=3"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("409 Conflict"), "{}", out.stderr);
    assert!(out.stderr.contains("platform-oncall"), "{}", out.stderr);
    assert!(
        out.stderr.contains(".spec.executor.instances"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--force-conflicts"), "{}", out.stderr);
    assert_eq!(
        env.live(&env.dev, "orders").await.unwrap()["spec"]["executor"]["instances"],
        9
    );

    let out = env.sluice(&[
        "apply",
        "--env",
        "dev",
        "--set",
        "executor.instances=3",
        "--force-conflicts",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        env.live(&env.dev, "orders").await.unwrap()["spec"]["executor"]["instances"],
        3
    );
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn prune_deletes_only_what_left_this_environments_set() {
    let kc = kubeconfig();
    let _shared = CLUSTER.read().unwrap_or_else(|e| e.into_inner());
    let env = Env::new(kc).await;
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    assert_eq!(env.sluice(&["apply", "--env", "prod"]).code, 0);
    // A look-alike with sluice's labels but not in the ApplySet, and an
    // object of another environment in the same namespace.
    let api: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), &env.dev, &apps());
    let mut lookalike = env.live(&env.dev, "payments").await.unwrap();
    for key in [
        "resourceVersion",
        "uid",
        "creationTimestamp",
        "managedFields",
        "generation",
    ] {
        lookalike["metadata"].as_object_mut().unwrap().remove(key);
    }
    lookalike["metadata"]["name"] = json!("lookalike");
    lookalike["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("applyset.kubernetes.io/part-of");
    let mut other_env = lookalike.clone();
    other_env["metadata"]["name"] = json!("other-env");
    other_env["metadata"]["labels"]["sluice.dev/environment"] = json!("staging");
    other_env["metadata"]["labels"]["applyset.kubernetes.io/part-of"] = env
        .live(&env.dev, "payments")
        .await
        .unwrap()["metadata"]["labels"]["applyset.kubernetes.io/part-of"]
        .clone();
    for o in [lookalike, other_env] {
        api.create(&PostParams::default(), &serde_json::from_value(o).unwrap())
            .await
            .unwrap();
    }

    // payments leaves dev.
    env.write("values/streams/payments.yaml", "mainClass: com.example.Payments\nsink: s3a://lake/payments\nenvironments:\n  dev: {enabled: false}\n");
    let diff = diff_json(&env, &[]);
    assert_eq!(diff["summary"]["pruned"], 1, "{diff:#}");
    assert_eq!(
        diff["streams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stream"] == "payments")
            .unwrap()["change"],
        "pruned"
    );
    // Without --prune nothing is deleted.
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    assert!(env.names(&env.dev).await.contains(&"payments".to_owned()));
    let out = env.sluice(&["apply", "--env", "dev", "--prune"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("pruned    SparkApplication/payments"),
        "the plan lists deletions:\n{}",
        out.stderr
    );
    assert_eq!(
        env.names(&env.dev).await,
        ["lookalike", "orders", "other-env"]
    );
    // Another namespace (prod) is untouched.
    assert_eq!(env.names(&env.prod).await, ["orders", "payments"]);
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn an_empty_render_refuses_to_prune_everything() {
    let kc = kubeconfig();
    let _shared = CLUSTER.read().unwrap_or_else(|e| e.into_inner());
    let env = Env::new(kc).await;
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    env.write(
        "values/environments/dev.yaml",
        &format!(
            "namespace: {}\nkubeContext: admin\nenabled: false\n",
            env.dev
        ),
    );
    let out = env.sluice(&["apply", "--env", "dev", "--prune"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("refusing to prune its 2 live objects"),
        "{}",
        out.stderr
    );
    assert_eq!(env.names(&env.dev).await.len(), 2);
    let out = env.sluice(&["apply", "--env", "dev", "--prune", "--allow-empty"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(env.names(&env.dev).await.is_empty());
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn wrong_context_forbidden_and_missing_namespace() {
    let kc = kubeconfig();
    let _shared = CLUSTER.read().unwrap_or_else(|e| e.into_inner());
    let env = Env::new(kc).await;
    // dev may only be deployed through context `admin`.
    let out = env.sluice(&["apply", "--env", "dev", "--context", "limited"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains(
            "deploys only through kube context `admin`, but the context in use is `limited`"
        ),
        "{}",
        out.stderr
    );
    assert!(env.names(&env.dev).await.is_empty());
    // The read-only user may diff but not apply: a clear 403.
    let diff = env.sluice(&["diff", "--env", "prod", "--context", "limited"]);
    assert_eq!(diff.code, 0, "{}", diff.stderr);
    let out = env.sluice(&["apply", "--env", "prod", "--context", "limited"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("forbidden (403): the credentials may not patch"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("in namespace `{}`", env.prod)),
        "{}",
        out.stderr
    );
    // A namespace that does not exist.
    env.write(
        "values/environments/prod.yaml",
        "namespace: no-such-namespace\n",
    );
    let out = env.sluice(&["apply", "--env", "prod"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("namespace `no-such-namespace` does not exist"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn unreachable_cluster_and_bad_tls() {
    let kc = kubeconfig();
    let _shared = CLUSTER.read().unwrap_or_else(|e| e.into_inner());
    let env = Env::new(kc.clone()).await;
    let text = std::fs::read_to_string(&kc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 9 of loopback.
    let server = text
        .lines()
        .find(|l| l.trim_start().starts_with("server:"))
        .unwrap()
        .trim()
        .trim_start_matches("server:")
        .trim()
        .to_owned();
    let down = dir.path().join("down");
    std::fs::write(&down, text.replace(&server, "https://127.0.0.1:9")).unwrap();
    let out = env.repo.sluice(&[
        "diff",
        "--env",
        "prod",
        "--kubeconfig",
        down.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("cannot reach the cluster at https://127.0.0.1:9"),
        "{}",
        out.stderr
    );
    // A CA that did not sign the server's certificate.
    let ca_line = text
        .lines()
        .find(|l| l.contains("certificate-authority-data"))
        .unwrap()
        .to_owned();
    let bad = dir.path().join("bad-ca");
    let other_ca = include_str!("fixtures/other-ca.pem");
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(other_ca);
    std::fs::write(
        &bad,
        text.replace(
            &ca_line,
            &format!("    certificate-authority-data: {encoded}"),
        ),
    )
    .unwrap();
    let out = env.repo.sluice(&[
        "diff",
        "--env",
        "prod",
        "--kubeconfig",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("TLS failure"), "{}", out.stderr);
    // A wrong token: 401.
    let token_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("token:"))
        .unwrap()
        .to_owned();
    let wrong = dir.path().join("wrong-token");
    std::fs::write(
        &wrong,
        text.replacen(&token_line, "    token: not-a-valid-token", 1),
    )
    .unwrap();
    let out = env.repo.sluice(&[
        "diff",
        "--env",
        "prod",
        "--kubeconfig",
        wrong.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("401 Unauthorized"), "{}", out.stderr);
}

/// Plays spark-operator: writes a stream's status through the status
/// subresource, with as many RUNNING executors as the spec asks for (two
/// when it does not say).
async fn play(env: &Env, name: &str, state: &str, submission: &str, error: &str) {
    let api: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), &env.dev, &apps());
    let live = serde_json::to_value(api.get(name).await.unwrap()).unwrap();
    let instances = live
        .pointer("/spec/executor/instances")
        .and_then(Value::as_u64)
        .unwrap_or(2);
    let mut executors: serde_json::Map<String, Value> = (1..=instances)
        .map(|i| (format!("exec-{i}"), json!("RUNNING")))
        .collect();
    // A merge patch keeps keys it does not name: drop the ones of a
    // larger earlier run.
    for old in live
        .pointer("/status/executorState")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.keys())
    {
        executors.entry(old.clone()).or_insert(Value::Null);
    }
    let mut status = json!({"status": {"applicationState": {"state": state}, "submissionID": submission, "driverInfo": {},
        "submissionAttempts": 1, "lastSubmissionAttemptTime": "2026-11-21T10:00:00Z", "executorState": executors}});
    if !error.is_empty() {
        status["status"]["applicationState"]["errorMessage"] = json!(error);
    }
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

/// dev applied, and both streams running (submissions s1 and p1).
async fn running(kubeconfig: String) -> Env {
    let env = Env::new(kubeconfig).await;
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    play(&env, "orders", "RUNNING", "s1", "").await;
    play(&env, "payments", "RUNNING", "p1", "").await;
    env
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn wait_trusts_running_only_after_a_new_submission() {
    let kc = kubeconfig();
    let _shared = CLUSTER.read().unwrap_or_else(|e| e.into_inner());
    let env = running(kc).await;
    // Nothing changes: both already run.
    let out = env.sluice(&["apply", "--env", "dev", "--wait", "--timeout", "20s"]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    // orders restarts: its RUNNING status is stale until a new submission.
    let child = spawn(
        &env,
        &[
            "apply",
            "--env",
            "dev",
            "--wait",
            "--timeout",
            "60s",
            "--set",
            "executor.instances=3",
        ],
    );
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    play(&env, "payments", "RUNNING", "p2", "").await;
    play(&env, "orders", "SUBMITTED", "s2", "").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    play(&env, "orders", "RUNNING", "s2", "").await;
    let out = finish(child);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("orders") && out.stderr.contains("previous submission"),
        "the stale status was shown as such:\n{}",
        out.stderr
    );
    assert!(out.stderr.contains("all 2 streams ready"), "{}", out.stderr);
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn wait_times_out_on_a_stale_status_and_fails_fast_on_failure() {
    let kc = kubeconfig();
    let _shared = CLUSTER.read().unwrap_or_else(|e| e.into_inner());
    let env = running(kc).await;
    // The spec changes but the operator never resubmits: a stale RUNNING.
    let out = env.sluice(&[
        "apply",
        "--env",
        "dev",
        "--wait",
        "--timeout",
        "3s",
        "--set",
        "executor.instances=3",
    ]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("timed out after 3s waiting for: orders (RUNNING (previous submission"),
        "{}",
        out.stderr
    );

    // A failure of the new submission ends the wait at once, with the
    // operator's message.
    let child = spawn(
        &env,
        &[
            "apply",
            "--env",
            "dev",
            "--wait",
            "--timeout",
            "60s",
            "--set",
            "executor.instances=4",
        ],
    );
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let started = std::time::Instant::now();
    play(&env, "orders", "FAILED", "s3", "driver pod OOMKilled").await;
    play(&env, "payments", "FAILED", "p3", "driver pod OOMKilled").await;
    let out = finish(child);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("failed: FAILED: driver pod OOMKilled"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn status_shows_state_and_drift_after_a_manual_edit() {
    let kc = kubeconfig();
    let _shared = CLUSTER.read().unwrap_or_else(|e| e.into_inner());
    let env = Env::new(kc).await;
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    play(&env, "orders", "RUNNING", "s1", "").await;
    let api: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), &env.dev, &apps());
    api.patch(
        "payments",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"executor": {"instances": 7}}})),
    )
    .await
    .unwrap();
    let out = env.sluice(&["status", "--env", "dev", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let rows: Vec<(String, String, String, u64)> = doc["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["stream"].as_str().unwrap().into(),
                r["state"].as_str().unwrap().into(),
                r["drift"].as_str().unwrap().into(),
                r["executors_running"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("orders".into(), "RUNNING".into(), "none".into(), 2),
            ("payments".into(), "NEW".into(), "changed".into(), 0)
        ]
    );
    let human = env.sluice(&["status", "--env", "dev"]);
    assert!(
        human.stdout.contains(
            "STREAM    STATE    HEALTH       EXECUTORS  ATTEMPTS  DRIFT    LAST SUBMISSION"
        ),
        "{}",
        human.stdout
    );
    // The scheduled drift check: exit 1, payments fails as drift.
    let check = env.sluice(&["status", "--env", "dev", "--exit-code", "--format", "junit"]);
    assert_eq!(check.code, 1, "{}", check.stderr);
    assert!(
        check
            .stdout
            .contains(r#"<testsuites name="sluice status" tests="2" failures="1" errors="0">"#),
        "{}",
        check.stdout
    );
    assert!(
        check
            .stdout
            .contains(r#"<testcase classname="sluice.status.dev" name="orders"/>"#),
        "{}",
        check.stdout
    );
    assert!(
        check
            .stdout
            .contains(r#"<failure message="drift: the live spec differs from the values"#),
        "{}",
        check.stdout
    );
    // Without --exit-code, drift is information.
    assert_eq!(
        env.sluice(&["status", "--env", "dev", "--format", "junit"])
            .code,
        0
    );
    // Restored by apply: the check passes.
    let restored = env.sluice(&["apply", "--env", "dev", "--force-conflicts"]);
    assert_eq!(restored.code, 0, "{}", restored.stderr);
    let check = env.sluice(&["status", "--env", "dev", "--exit-code"]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn the_api_servers_422_names_the_field() {
    let kc = kubeconfig();
    let _shared = CLUSTER.read().unwrap_or_else(|e| e.into_inner());
    let env = Env::new(kc).await;
    // Passes sluice's own check of the rendered object (a template's
    // metadata labels are the API server's to judge) but not the server's
    // validation of object metadata.
    let template = sluice::render::BUILTIN_TEMPLATE.replace(
        "  namespace: {{ environment.namespace | tojson }}\n",
        "  namespace: {{ environment.namespace | tojson }}\n  labels: {\"team\": \"bi data eng\"}\n",
    );
    assert_ne!(template, sluice::render::BUILTIN_TEMPLATE);
    env.write("templates/sparkapplication.yaml.j2", &template);
    let out = env.sluice(&["apply", "--env", "dev"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("422 Invalid"), "{}", out.stderr);
    assert!(
        out.stderr.contains("metadata.labels") && out.stderr.contains("bi data eng"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn a_missing_crd_asks_whether_spark_operator_is_installed() {
    let kc = kubeconfig();
    // Removing the CRD would break the other tests: this one runs alone.
    let _alone = CLUSTER.write().unwrap_or_else(|e| e.into_inner());
    let env = Env::new(kc).await;
    let crds = ApiResource {
        group: "apiextensions.k8s.io".into(),
        version: "v1".into(),
        api_version: "apiextensions.k8s.io/v1".into(),
        kind: "CustomResourceDefinition".into(),
        plural: "customresourcedefinitions".into(),
    };
    let api: Api<DynamicObject> = Api::all_with(env.client.clone(), &crds);
    let name = "sparkapplications.sparkoperator.k8s.io";
    let saved = api.get(name).await.unwrap();
    api.delete(name, &Default::default()).await.unwrap();
    while api.get_opt(name).await.unwrap().is_some() {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let out = env.sluice(&["diff", "--env", "dev"]);
    // Put it back before asserting, whatever happened.
    let mut restored = serde_json::to_value(&saved).unwrap();
    for key in [
        "resourceVersion",
        "uid",
        "creationTimestamp",
        "managedFields",
        "generation",
    ] {
        restored["metadata"].as_object_mut().unwrap().remove(key);
    }
    restored.as_object_mut().unwrap().remove("status");
    api.create(
        &PostParams::default(),
        &serde_json::from_value(restored).unwrap(),
    )
    .await
    .unwrap();
    loop {
        let crd = api.get(name).await.unwrap();
        let conditions = serde_json::to_value(&crd).unwrap()["status"]["conditions"].clone();
        if conditions
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Established" && c["status"] == "True")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("is spark-operator installed in this cluster?"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn kubeconfig_from_several_files_in_kubeconfig() {
    let kc = kubeconfig();
    let _shared = CLUSTER.read().unwrap_or_else(|e| e.into_inner());
    let env = Env::new(kc.clone()).await;
    // Clusters and users in one file, contexts in another, as KUBECONFIG
    // lists them.
    let text = std::fs::read_to_string(&kc).unwrap();
    let contexts_at = text.find("contexts:").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("credentials"), dir.path().join("contexts"));
    std::fs::write(&a, &text[..contexts_at]).unwrap();
    std::fs::write(
        &b,
        format!("apiVersion: v1\nkind: Config\n{}", &text[contexts_at..]),
    )
    .unwrap();
    let out = assert_cmd::Command::cargo_bin("sluice")
        .unwrap()
        .arg("-C")
        .arg(env.repo.path())
        .args(["apply", "--env", "prod"])
        .env("KUBECONFIG", std::env::join_paths([&a, &b]).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.names(&env.prod).await, ["orders", "payments"]);
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn prune_with_changed_since_leaves_untouched_streams_alone() {
    let kc = kubeconfig();
    let _shared = CLUSTER.read().unwrap_or_else(|e| e.into_inner());
    let env = Env::new(kc).await;
    common::git_in(env.repo.path(), &["init", "-q", "-b", "main"]);
    common::git_in(env.repo.path(), &["add", "."]);
    common::git_in(env.repo.path(), &["commit", "-qm", "base"]);
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    env.write(
        "values/streams/orders.yaml",
        "mainClass: com.example.Orders\narguments: [--topic, orders-v3]\nsink: s3a://lake/orders\n",
    );
    let out = env.sluice(&[
        "apply",
        "--env",
        "dev",
        "--prune",
        "--changed-since",
        "HEAD",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("applied: 0 created, 1 changed (1 restart), 0 pruned"),
        "{}",
        out.stdout
    );
    assert_eq!(env.names(&env.dev).await, ["orders", "payments"]);
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn objects_of_another_environment_are_never_taken_over() {
    let kc = kubeconfig();
    let _shared = CLUSTER.read().unwrap_or_else(|e| e.into_inner());
    let env = Env::new(kc).await;
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    // prod is pointed at dev's namespace (and its lint guard is bypassed by
    // a different kubeContext naming the same cluster).
    env.write(
        "values/environments/prod.yaml",
        &format!("namespace: {}\nkubeContext: admin\n", env.dev),
    );
    env.write(
        "values/environments/dev.yaml",
        &format!("namespace: {}\nkubeContext: admin-again\n", env.dev),
    );
    let out = env.sluice(&["apply", "--env", "prod"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("belongs to environment `dev`, not `prod`"),
        "{}",
        out.stderr
    );
    let live = env.live(&env.dev, "orders").await.unwrap();
    assert_eq!(live["metadata"]["labels"]["sluice.dev/environment"], "dev");
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn values_the_server_normalizes_do_not_rewrite_or_restart() {
    let kc = kubeconfig();
    let _shared = CLUSTER.read().unwrap_or_else(|e| e.into_inner());
    let env = Env::new(kc).await;
    env.write("values/streams/orders.yaml", "mainClass: com.example.Orders\nsink: s3a://lake/orders\ndriver: {cores: 1.0}\ntolerations: [{key: spot, operator: Exists, effect: NoExecute, tolerationSeconds: 300.0}]\nexecutor:\n  sidecars: [{name: proxy, image: envoy, ports: [{containerPort: 80}]}]\n");
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    let again = env.sluice(&["apply", "--env", "dev"]);
    assert!(
        again.stdout.contains("0 changed"),
        "{}{}",
        again.stdout,
        again.stderr
    );
    assert_eq!(requests(&again), 2);
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn the_applyset_forgets_kinds_it_no_longer_has() {
    let kc = kubeconfig();
    let _shared = CLUSTER.read().unwrap_or_else(|e| e.into_inner());
    let env = Env::new(kc).await;
    let configmap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ (stream.name ~ \"-config\") | tojson }}\n  namespace: {{ environment.namespace | tojson }}\ndata: {a: b}\n";
    env.write("templates/config.yaml.j2", configmap);
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    let parent = |env: &Env| {
        let api: Api<k8s_openapi::api::core::v1::ConfigMap> =
            Api::namespaced(env.client.clone(), &env.dev);
        let name = "sluice-applyset-dev".to_owned();
        async move {
            api.get(&name).await.unwrap().metadata.annotations.unwrap()["applyset.kubernetes.io/contains-group-kinds"].clone()
        }
    };
    assert_eq!(
        parent(&env).await,
        "ConfigMap,SparkApplication.sparkoperator.k8s.io"
    );
    // A ConfigMap edited by hand is its stream's drift.
    let configmaps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(env.client.clone(), &env.dev);
    configmaps
        .patch(
            "orders-config",
            &PatchParams::default(),
            &Patch::Merge(&json!({"data": {"a": "edited"}})),
        )
        .await
        .unwrap();
    let check = env.sluice(&["status", "--env", "dev", "--exit-code", "--format", "junit"]);
    assert_eq!(check.code, 1, "{}{}", check.stdout, check.stderr);
    assert!(
        check.stdout.contains(
            r#"<failure message="drift: ConfigMap/orders-config: changed" type="drift">"#
        ),
        "{}",
        check.stdout
    );
    assert!(
        check
            .stdout
            .contains(r#"<testcase classname="sluice.status.dev" name="payments"/>"#),
        "{}",
        check.stdout
    );
    std::fs::remove_file(env.repo.path().join("templates/config.yaml.j2")).unwrap();
    let out = env.sluice(&["apply", "--env", "dev", "--prune"]);
    assert!(
        out.stdout.contains("2 pruned"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(parent(&env).await, "SparkApplication.sparkoperator.k8s.io");
    // The read-only user, who may not list Secrets or anything else now
    // unlisted, can still diff.
    assert_eq!(
        env.sluice(&["diff", "--env", "prod", "--context", "limited"])
            .code,
        0
    );
}
