//! The environment's history on a real kube-apiserver
//! (scripts/test-cluster.sh): what each apply records, with a dirty tree,
//! CI variables and a rollback, and what `history` and `status` show of it.
//! Ignored unless asked for, like tests/cluster.rs.

mod common;

use common::cluster::{Env, kubeconfig};
use serde_json::Value;

fn git(env: &Env, args: &[&str]) -> String {
    common::git_in(env.repo.path(), args)
}

fn with_env(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> common::Output {
    let mut all = args.to_vec();
    all.extend(["--kubeconfig", &env.kubeconfig]);
    common::sluice_with_env(env.repo.path(), &all, vars)
}

fn history(env: &Env, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["history", "--env", "dev", "--format", "json"];
    args.extend_from_slice(extra);
    let out = env.sluice(&args);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    doc["entries"].as_array().unwrap().clone()
}

fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn each_apply_records_its_revision_job_and_streams() {
    let env = Env::new(kubeconfig()).await;
    git(&env, &["init", "-q", "-b", "main"]);
    git(&env, &["add", "."]);
    git(&env, &["commit", "-qm", "base"]);
    let base = git(&env, &["rev-parse", "HEAD"]);
    assert_eq!(history(&env, &[]).len(), 0, "nothing recorded yet");

    let first = env.sluice(&["apply", "--env", "dev"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    // A no-op apply writes nothing, and records nothing.
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);

    // An uncommitted change, applied from a CI job.
    env.write(
        "values/streams/orders.yaml",
        "mainClass: com.example.Orders\narguments: [--topic, orders-v2]\nsink: s3a://lake/orders\n",
    );
    let ci = with_env(
        &env,
        &["apply", "--env", "dev"],
        &[
            (
                "CI_JOB_URL",
                "https://gitlab.example.com/bi/streams/-/jobs/42",
            ),
            ("GITLAB_USER_LOGIN", "jdoe"),
        ],
    );
    assert_eq!(ci.code, 0, "{}", ci.stderr);
    git(&env, &["commit", "-qam", "orders v2"]);

    // Back to the base revision: a rollback.
    let back = env.sluice(&["apply", "--env", "dev", "--rev", &base]);
    assert_eq!(back.code, 0, "{}", back.stderr);

    let entries = history(&env, &[]);
    assert_eq!(entries.len(), 3, "{entries:#?}");
    assert_eq!(entries[0]["revision"], base.as_str());
    assert_eq!(entries[0]["dirty"], false);
    assert_eq!(names(&entries[0]["created"]), ["orders", "payments"]);
    assert_eq!(entries[1]["dirty"], true);
    assert_eq!(entries[1]["revision"], base.as_str());
    assert_eq!(entries[1]["user"], "jdoe");
    assert_eq!(
        entries[1]["job_url"],
        "https://gitlab.example.com/bi/streams/-/jobs/42"
    );
    assert_eq!(names(&entries[1]["changed"]), ["orders"]);
    assert_eq!(names(&entries[1]["restarted"]), ["orders"]);
    assert_eq!(entries[2]["rollback"], true);
    assert_eq!(entries[2]["revision"], base.as_str());
    assert_eq!(names(&entries[2]["restarted"]), ["orders"]);
    for e in &entries {
        assert!(e["sluice_version"].is_string() && e["time"].as_str().unwrap().ends_with('Z'));
    }
    // Only the applies that touched a stream.
    assert_eq!(history(&env, &["--stream", "payments"]).len(), 1);

    // Never values: the ConfigMap holds names, revisions and the job URL.
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(env.client.clone(), &env.dev);
    let configmap = serde_json::to_string(&api.get("sluice-history-dev").await.unwrap()).unwrap();
    assert!(configmap.contains("jobs/42"), "{configmap}");
    assert!(
        !configmap.contains("s3a://")
            && !configmap.contains("orders-v2")
            && !configmap.contains("com.example"),
        "{configmap}"
    );
    let shown = env.sluice(&["history", "--env", "dev"]).stdout;
    assert!(
        shown.contains("(rollback)") && shown.contains("(with uncommitted changes)"),
        "{shown}"
    );

    // status shows where each stream was last applied from.
    let status = env.sluice(&["status", "--env", "dev", "--format", "json"]);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    for row in status["streams"].as_array().unwrap() {
        assert_eq!(row["last_applied_revision"], &base[..12], "{row:#}");
    }
    let human = env.sluice(&["status", "--env", "dev"]);
    assert!(human.stdout.contains("APPLIED FROM"), "{}", human.stdout);
}

/// What the live object holds of what sluice applies.
fn applied(object: &Value) -> Value {
    serde_json::json!({
        "spec": object["spec"],
        "labels": object["metadata"]["labels"],
        "annotations": object["metadata"]["annotations"],
    })
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn rollback_two_applies_back_restores_the_objects_exactly() {
    let env = Env::new(kubeconfig()).await;
    git(&env, &["init", "-q", "-b", "main"]);
    git(&env, &["add", "."]);
    git(&env, &["commit", "-qm", "a"]);
    let a = git(&env, &["rev-parse", "HEAD"]);
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    let mut at_a = Vec::new();
    for s in ["orders", "payments"] {
        at_a.push(applied(&env.live(&env.dev, s).await.unwrap()));
    }
    for (file, text, message) in [
        (
            "orders",
            "mainClass: com.example.Orders\narguments: [--topic, orders-v2]\nsink: s3a://lake/orders\n",
            "b",
        ),
        (
            "payments",
            "mainClass: com.example.Payments\nsink: s3a://lake/payments-v2\n",
            "c",
        ),
    ] {
        env.write(&format!("values/streams/{file}.yaml"), text);
        git(&env, &["commit", "-qam", message]);
        let out = env.sluice(&["apply", "--env", "dev", "--allow-state-reset"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }

    let none = env.sluice(&["rollback", "--env", "dev", "--to", "5"]);
    assert_eq!(none.code, 2, "{}", none.stderr);
    assert!(
        none.stderr.contains("there is none 5 before the last"),
        "{}",
        none.stderr
    );

    // The plan names what restarts and the checkpoint that moves back.
    let plan = env.sluice(&["rollback", "--env", "dev", "--to", "2", "--dry-run"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stderr
            .contains(&format!("rolling back environment `dev` to {}", &a[..12])),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stderr.contains("orders (restarts the stream)"),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stderr.contains("checkpoint moves from s3a://lake/payments-v2/_checkpoints/payments to s3a://lake/payments/_checkpoints/payments"),
        "{}",
        plan.stderr
    );

    let back = env.sluice(&["rollback", "--env", "dev", "--to", "2"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    for (s, then) in ["orders", "payments"].iter().zip(&at_a) {
        assert_eq!(&applied(&env.live(&env.dev, s).await.unwrap()), then, "{s}");
    }
    // The exact-apply differential: each live object equals a fresh
    // server-side create of revision a's render, in a namespace of its own.
    let rendered = env
        .repo
        .sluice(&["render", "--env", "dev", "--rev", &a, "--format", "json"]);
    assert_eq!(rendered.code, 0, "{}", rendered.stderr);
    let rendered: Value = serde_json::from_str(&rendered.stdout).unwrap();
    let oracle = common::cluster::unique("oracle");
    common::cluster::namespace(&env.client, &oracle).await;
    let api: kube::Api<kube::api::DynamicObject> =
        kube::Api::namespaced_with(env.client.clone(), &oracle, &common::cluster::apps());
    for object in rendered["items"].as_array().unwrap() {
        let mut object = object.clone();
        object["metadata"]["namespace"] = Value::String(oracle.clone());
        let name = object["metadata"]["name"].as_str().unwrap().to_owned();
        let created = api
            .create(
                &Default::default(),
                &serde_json::from_value(object).unwrap(),
            )
            .await
            .unwrap();
        let live = env.live(&env.dev, &name).await.unwrap();
        assert_eq!(
            common::cluster::comparable(&live),
            common::cluster::comparable(&serde_json::to_value(created).unwrap()),
            "{name}"
        );
    }
    let entries = history(&env, &[]);
    let last = entries.last().unwrap();
    assert_eq!(
        (last["revision"].as_str(), last["rollback"].as_bool()),
        (Some(a.as_str()), Some(true))
    );
    // Rolling back is an apply: applying it again changes nothing.
    let again = env.sluice(&["rollback", "--env", "dev", "--to", "3"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.contains("0 changed"), "{}", again.stdout);
}
