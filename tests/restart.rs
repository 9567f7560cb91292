//! `sluice restart` against a real kube-apiserver (scripts/test-cluster.sh):
//! a Spark stream's SparkApplication is deleted and created again as last
//! applied (a new object, the same spec and checkpoint, the same field
//! ownership), and only when that is what is live; a Flink
//! stream's `restartNonce` goes up under its own field manager (so a later
//! apply leaves it), each is recorded in the history, and a restart
//! without `--yes` off a terminal, or of a suspended stream, changes
//! nothing. Ignored unless asked for, like tests/cluster.rs.

mod common;

use common::cluster::{Env, diff_json, kubeconfig};
use kube::api::{Api, DynamicObject};
use serde_json::Value;

const CLICKS: &str = "engine: flink\nflink:\n  version: \"1.20\"\n  image: registry.example.com/flink-streams:1.0.0\napplicationFile: local:///opt/flink/usrlib/clicks.jar\nmainClass: com.example.Clicks\nsink: s3a://lake/clicks\njobManager:\n  resource: {cpu: 1, memory: 2048m}\ntaskManager:\n  resource: {cpu: 2, memory: 4g}\njob:\n  parallelism: 4\n";

async fn flink_live(env: &Env) -> Value {
    let api: Api<DynamicObject> = Api::namespaced_with(
        env.client.clone(),
        &env.dev,
        &sluice::engine::Engine::Flink.resource(),
    );
    serde_json::to_value(api.get("clicks").await.unwrap()).unwrap()
}

fn history(env: &Env) -> Vec<Value> {
    let out = env.sluice(&["history", "--env", "dev", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    doc["entries"].as_array().unwrap().clone()
}

fn uid(object: &Value) -> &str {
    object["metadata"]["uid"].as_str().unwrap()
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn a_spark_stream_is_created_again_as_last_applied() {
    let env = Env::new(kubeconfig()).await;
    let first = env.sluice(&["apply", "--env", "dev"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let before = env.live(&env.dev, "orders").await.unwrap();
    let payments = env.live(&env.dev, "payments").await.unwrap();

    // Off a terminal and without --yes: asks nothing, changes nothing.
    let refused = env.sluice(&["restart", "--env", "dev", "--stream", "orders"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert_eq!(
        uid(&env.live(&env.dev, "orders").await.unwrap()),
        uid(&before)
    );

    let out = env.sluice(&[
        "restart", "--env", "dev", "--stream", "orders", "--yes", "--format", "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("deleted (once its driver pod is gone) and created again as last applied")
            && out
                .stderr
                .contains("the state stays at s3a://lake/orders/_checkpoints/orders"),
        "{}",
        out.stderr
    );
    let result: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(result["state"], "s3a://lake/orders/_checkpoints/orders");

    let after = env.live(&env.dev, "orders").await.unwrap();
    assert_ne!(
        uid(&after),
        uid(&before),
        "a new SparkApplication, so a new submission"
    );
    assert_eq!(
        after["spec"], before["spec"],
        "the same spec, checkpoint included"
    );
    assert_eq!(after["metadata"]["labels"], before["metadata"]["labels"]);
    assert_eq!(
        after["metadata"]["annotations"],
        before["metadata"]["annotations"]
    );
    assert_eq!(
        env.live(&env.dev, "payments").await.unwrap()["metadata"]["resourceVersion"],
        payments["metadata"]["resourceVersion"],
        "the other stream is not touched"
    );
    // What the cluster runs is still what the values say, and sluice's.
    let diff = diff_json(&env, &[]);
    assert_eq!(diff["summary"]["changed"], 0, "{diff:#}");
    assert_eq!(diff["summary"]["created"], 0, "{diff:#}");
    let names: Vec<String> = env.names(&env.dev).await;
    assert_eq!(names, ["orders", "payments"]);

    let managers = |o: &Value| -> Vec<String> {
        o["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["manager"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        managers(&after),
        managers(&before),
        "owned as an apply owns it"
    );

    let entries = history(&env);
    let last = entries.last().unwrap();
    assert_eq!(last["command"], "restart", "{entries:#?}");
    assert_eq!(last["restarted"], serde_json::json!(["orders"]));
    let shown = env.sluice(&["history", "--env", "dev"]).stdout;
    assert!(shown.contains("(sluice restart)"), "{shown}");
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn a_flink_stream_gets_a_new_restart_nonce_that_apply_leaves_alone() {
    let env = Env::new(kubeconfig()).await;
    env.write("values/streams/clicks.yaml", CLICKS);
    let first = env.sluice(&["apply", "--env", "dev"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let before = flink_live(&env).await;
    assert!(before["spec"].get("restartNonce").is_none());

    let out = env.sluice(&["restart", "--env", "dev", "-s", "clicks", "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("spec.restartNonce (not set) → 1")
            && out.stderr.contains(
                "upgradeMode savepoint: the state stays at s3a://lake/clicks/_checkpoints/clicks"
            ),
        "{}",
        out.stderr
    );
    let after = flink_live(&env).await;
    assert_eq!(after["spec"]["restartNonce"], 1);
    assert_eq!(uid(&after), uid(&before));
    let mut spec = after["spec"].clone();
    spec.as_object_mut().unwrap().remove("restartNonce");
    assert_eq!(spec, before["spec"], "nothing else in the spec moved");
    let managers: Vec<&str> = after["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["fieldsV1"]["f:spec"].get("f:restartNonce").is_some())
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers, ["sluice-restart"]);

    // An apply keeps the nonce (sluice's own fields do not include it),
    // and sees nothing to do.
    let again = env.sluice(&["apply", "--env", "dev"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.contains("unchanged"), "{}", again.stdout);
    assert_eq!(flink_live(&env).await["spec"]["restartNonce"], 1);
    let out = env.sluice(&["restart", "--env", "dev", "-s", "clicks", "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(flink_live(&env).await["spec"]["restartNonce"], 2);
    let restarts = history(&env)
        .iter()
        .filter(|e| e["command"] == "restart")
        .count();
    assert_eq!(restarts, 2);

    // A suspended stream has nothing to restart.
    let suspend = env
        .repo
        .sluice(&["suspend", "--env", "dev", "-s", "clicks"]);
    assert_eq!(suspend.code, 0, "{}", suspend.stderr);
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    let refused = env.sluice(&["restart", "--env", "dev", "-s", "clicks", "--yes"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("sluice resume --env dev --stream clicks"),
        "{}",
        refused.stderr
    );
    assert_eq!(flink_live(&env).await["spec"]["restartNonce"], 2);

    // Not deployed: said, nothing written.
    let missing = env.sluice(&["restart", "--env", "prod", "-s", "clicks", "--yes"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("not deployed in prod"),
        "{}",
        missing.stderr
    );
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn a_spark_restart_never_deploys_or_drops_anything() {
    let env = Env::new(kubeconfig()).await;
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    let uid_now = |o: Option<Value>| uid(&o.unwrap()).to_owned();
    let before = uid_now(env.live(&env.dev, "orders").await);

    // Values changed since the apply: a re-create would deploy them.
    env.write(
        "values/streams/orders.yaml",
        "mainClass: com.example.Orders\narguments: [--topic, orders-v2]\nsink: s3a://lake/orders\n",
    );
    let out = env.sluice(&["restart", "--env", "dev", "-s", "orders", "--yes"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("sluice diff --env dev"),
        "{}",
        out.stderr
    );
    assert_eq!(uid_now(env.live(&env.dev, "orders").await), before);

    // Another manager's field: a re-create would drop it.
    let api: Api<DynamicObject> =
        Api::namespaced_with(env.client.clone(), &env.dev, &common::cluster::apps());
    api.patch(
        "payments",
        &kube::api::PatchParams::apply("hotfix").force(),
        &kube::api::Patch::Apply(serde_json::json!({
            "apiVersion": "sparkoperator.k8s.io/v1beta2",
            "kind": "SparkApplication",
            "metadata": {"name": "payments", "labels": {"team": "payments"}},
        })),
    )
    .await
    .unwrap();
    let payments = uid_now(env.live(&env.dev, "payments").await);
    let out = env.sluice(&["restart", "--env", "dev", "-s", "payments", "--yes"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("`hotfix`"), "{}", out.stderr);
    assert_eq!(uid_now(env.live(&env.dev, "payments").await), payments);
}
