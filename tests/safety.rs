//! What keeps a deploy from doing harm, on the real API server: all or
//! nothing, a readable diff when the server refuses, deletes with
//! preconditions, the cluster identity guard, and state resets named and
//! refused in protected environments.

mod common;

use common::cluster::{Env, apps, kubeconfig};
use common::git_in;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

/// Another field manager takes `spec.executor.instances` of `name`.
async fn take_instances(env: &Env, name: &str, manager: &str) {
    let api: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), &env.dev, &apps());
    let patch = json!({"apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "SparkApplication", "metadata": {"name": name}, "spec": {"executor": {"instances": 9}}});
    api.patch(
        name,
        &PatchParams::apply(manager).force(),
        &Patch::Apply(&patch),
    )
    .await
    .unwrap();
}

fn json_out(out: &common::Output) -> Value {
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn one_refused_write_writes_nothing_and_every_refusal_is_listed() {
    let kc = kubeconfig();
    let env = Env::new(kc).await;
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    take_instances(&env, "orders", "oncall-a").await;
    take_instances(&env, "payments", "oncall-b").await;
    let before = env.live(&env.dev, "orders").await.unwrap();
    // Three planned writes: two would conflict, one create would pass.
    env.write(
        "values/streams/billing.yaml",
        "mainClass: com.example.Billing\nsink: s3a://lake/billing\n",
    );
    env.write(
        "values/streams/orders.yaml",
        "mainClass: com.example.Orders\narguments: [--topic, orders-v2]\nsink: s3a://lake/orders\n",
    );
    let out = env.sluice(&["apply", "--env", "dev", "--set", "executor.instances=3"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(
            "the server refused 2 of 3 planned writes in its dry run; nothing was written"
        ),
        "{}",
        out.stderr
    );
    for who in [
        "SparkApplication/orders",
        "SparkApplication/payments",
        "oncall-a",
        "oncall-b",
    ] {
        assert!(out.stderr.contains(who), "{who}: {}", out.stderr);
    }
    assert_eq!(out.stderr.matches("error:").count(), 1, "{}", out.stderr);
    // Nothing moved: no create, no update, not even metadata.
    assert!(env.live(&env.dev, "billing").await.is_none());
    let after = env.live(&env.dev, "orders").await.unwrap();
    assert_eq!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
    // A forbidden write is refused in the dry run too: nothing written.
    let out = env.sluice(&["apply", "--env", "prod", "--context", "limited"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("nothing was written"), "{}", out.stderr);
    assert!(out.stderr.contains("forbidden (403)"), "{}", out.stderr);
    assert!(env.names(&env.prod).await.is_empty());
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn a_refused_dry_run_still_shows_a_minimal_diff() {
    let kc = kubeconfig();
    let env = Env::new(kc).await;
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    take_instances(&env, "orders", "oncall").await;
    let out = env.sluice(&["diff", "--env", "dev", "--set", "executor.instances=3"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let section = out
        .stdout
        .split("\nchanged SparkApplication/orders")
        .nth(1)
        .unwrap_or_else(|| panic!("{}", out.stdout));
    let section = section.split("\nchanged ").next().unwrap();
    // The refusal comes first, then the diff.
    let refusal = section.find("apply would fail").expect("refusal shown");
    let hunk = section.find("@@").expect("a diff");
    assert!(refusal < hunk, "{section}");
    let changed = common::changed_lines(section);
    assert_eq!(
        changed,
        ["-    instances: 9", "+    instances: 3"],
        "{section}"
    );
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn deletes_never_hit_an_object_re_created_since_the_plan() {
    let kc = kubeconfig();
    let env = Env::new(kc).await;
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    let planned = env.live(&env.dev, "payments").await.unwrap();
    let precondition = sluice::plan::Precondition {
        uid: planned["metadata"]["uid"].as_str().map(str::to_owned),
        resource_version: planned["metadata"]["resourceVersion"]
            .as_str()
            .map(str::to_owned),
    };
    // Someone deletes it and sluice creates it again: a new object.
    let api: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), &env.dev, &apps());
    api.delete("payments", &Default::default()).await.unwrap();
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    let cluster = sluice::cluster::Cluster::connect(&sluice::cluster::ClusterOptions {
        kubeconfig: Some(env.kubeconfig.clone().into()),
        context: Some("admin".into()),
    })
    .await
    .unwrap();
    let stale = cluster
        .delete(&apps(), &env.dev, "payments", &precondition, false)
        .await;
    assert!(
        matches!(
            stale,
            Err(sluice::cluster::ClusterError::Api { code: 409, .. })
        ),
        "{stale:?}"
    );
    assert!(env.live(&env.dev, "payments").await.is_some());

    // An MR that only deletes one stream file prunes it under
    // --changed-since, without --allow-empty: the guard counts the whole
    // environment, not the selection.
    git_in(env.repo.path(), &["init", "-q", "-b", "main"]);
    git_in(env.repo.path(), &["add", "."]);
    git_in(env.repo.path(), &["commit", "-qm", "base"]);
    std::fs::remove_file(env.repo.path().join("values/streams/payments.yaml")).unwrap();
    let out = env.sluice(&[
        "apply",
        "--env",
        "dev",
        "--prune",
        "--changed-since",
        "HEAD",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("1 pruned"), "{}", out.stdout);
    assert_eq!(env.names(&env.dev).await, ["orders"]);
    // Deleting the last one is refused.
    git_in(env.repo.path(), &["add", "-A"]);
    git_in(env.repo.path(), &["commit", "-qm", "no payments"]);
    std::fs::remove_file(env.repo.path().join("values/streams/orders.yaml")).unwrap();
    env.write(
        "values/streams/placeholder.yaml",
        "enabled: false\nmainClass: x\n",
    );
    let out = env.sluice(&[
        "apply",
        "--env",
        "dev",
        "--prune",
        "--changed-since",
        "HEAD",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("would leave the environment with no object"),
        "{}",
        out.stderr
    );
    assert_eq!(env.names(&env.dev).await, ["orders"]);
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn a_context_that_reaches_another_cluster_is_refused() {
    let kc = kubeconfig();
    let env = Env::new(kc).await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(env.client.clone());
    let uid = namespaces
        .get("kube-system")
        .await
        .unwrap()
        .metadata
        .uid
        .unwrap();
    let pin = |extra: &str| {
        env.write(
            "values/environments/dev.yaml",
            &format!(
                "namespace: {}\nkubeContext: admin\ncluster:\n{extra}",
                env.dev
            ),
        );
    };
    pin("  uid: 00000000-0000-0000-0000-000000000000\n");
    let out = env.sluice(&["apply", "--env", "dev"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("kube-system namespace has uid 00000000-0000-0000-0000-000000000000")
            && out.stderr.contains(&uid),
        "{}",
        out.stderr
    );
    pin("  server: https://127.0.0.1:1\n");
    let out = env.sluice(&["diff", "--env", "dev"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("pinned to the cluster at https://127.0.0.1:1"),
        "{}",
        out.stderr
    );
    assert!(env.names(&env.dev).await.is_empty());
    // The real identity passes.
    let server = kube::config::Kubeconfig::read_from(&env.kubeconfig)
        .unwrap()
        .clusters[0]
        .cluster
        .as_ref()
        .unwrap()
        .server
        .clone()
        .unwrap();
    pin(&format!("  server: {server}/\n  uid: {uid}\n"));
    let out = env.sluice(&["apply", "--env", "dev"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(env.names(&env.dev).await, ["orders", "payments"]);
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn state_resets_are_named_everywhere_and_refused_when_protected() {
    let kc = kubeconfig();
    let env = Env::new(kc).await;
    env.write(
        "values/environments/prod.yaml",
        &format!("namespace: {}\nprotected: true\n", env.prod),
    );
    git_in(env.repo.path(), &["init", "-q", "-b", "main"]);
    git_in(env.repo.path(), &["add", "."]);
    git_in(env.repo.path(), &["commit", "-qm", "base"]);
    assert_eq!(env.sluice(&["apply", "--env", "prod"]).code, 0);
    // The sink moves: orders' checkpoint moves with it.
    env.write(
        "values/streams/orders.yaml",
        "mainClass: com.example.Orders\narguments: [--topic, orders]\nsink: s3a://new-lake/orders\n",
    );
    let from = "s3a://lake/orders/_checkpoints/orders";
    let to = "s3a://new-lake/orders/_checkpoints/orders";
    let phrase = format!("restarts from scratch: checkpoint moves from {from} to {to}");

    // Live diff: human, JSON and markdown.
    let human = env.sluice(&["diff", "--env", "prod"]);
    assert!(human.stdout.contains(&phrase), "{}", human.stdout);
    assert!(human.stdout.contains("1 from scratch"), "{}", human.stdout);
    let doc = json_out(&env.sluice(&["diff", "--env", "prod", "--format", "json"]));
    let orders = doc["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "orders")
        .unwrap();
    assert_eq!(
        orders["impact"],
        json!({"type": "state-reset", "from": from, "to": to})
    );
    assert_eq!(doc["summary"]["state_resets"], 1);
    let md = env.sluice(&["diff", "--env", "prod", "--format", "markdown"]);
    assert!(md.stdout.contains("**from scratch**"), "{}", md.stdout);
    assert!(
        md.stdout.contains(&format!("> - orders: {phrase}")),
        "{}",
        md.stdout
    );
    // Offline, between revisions.
    let offline = json_out(&env.sluice(&[
        "diff", "--env", "prod", "--base", "HEAD", "--format", "json",
    ]));
    assert_eq!(
        offline["streams"][0]["impact"]["type"], "state-reset",
        "{offline}"
    );

    // Protected: refused, nothing written; allowed with the flag.
    let out = env.sluice(&["apply", "--env", "prod"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("is protected"), "{}", out.stderr);
    assert!(out.stderr.contains(&phrase), "{}", out.stderr);
    assert!(out.stderr.contains("--allow-state-reset"), "{}", out.stderr);
    let live = env.live(&env.prod, "orders").await.unwrap();
    assert_eq!(
        live["spec"]["sparkConf"]["spark.sql.streaming.checkpointLocation"],
        from
    );
    let done = json_out(&env.sluice(&[
        "apply",
        "--env",
        "prod",
        "--allow-state-reset",
        "--format",
        "json",
    ]));
    assert_eq!(done["summary"]["state_resets"], 1, "{done}");
    let live = env.live(&env.prod, "orders").await.unwrap();
    assert_eq!(
        live["spec"]["sparkConf"]["spark.sql.streaming.checkpointLocation"],
        to
    );

    // Pruning a stream abandons its checkpoint: the plan says so.
    std::fs::remove_file(env.repo.path().join("values/streams/payments.yaml")).unwrap();
    let human = env.sluice(&["diff", "--env", "prod"]);
    assert!(
        human.stdout.contains(
            "payments: stops the stream and abandons its checkpoint s3a://lake/payments/_checkpoints/payments"
        ),
        "{}",
        human.stdout
    );
    let out = env.sluice(&["apply", "--env", "prod", "--prune", "--dry-run"]);
    assert!(
        out.stderr
            .contains("abandons its checkpoint s3a://lake/payments/_checkpoints/payments"),
        "{}",
        out.stderr
    );

    // A renamed stream restarts from scratch, and says from where.
    std::fs::rename(
        env.repo.path().join("values/streams/orders.yaml"),
        env.repo.path().join("values/streams/orders-v2.yaml"),
    )
    .unwrap();
    let doc = json_out(&env.sluice(&["diff", "--env", "prod", "--format", "json"]));
    let renamed = doc["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "orders-v2")
        .unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(renamed["impact"]["type"], "state-reset", "{renamed}");
    assert_eq!(renamed["impact"]["renamed_from"], "orders", "{renamed}");
    assert_eq!(renamed["impact"]["from"], to, "{renamed}");
}

/// Writes `.status` as spark-operator would (through the status
/// subresource): `running` of the executors RUNNING, the rest PENDING.
async fn play(env: &Env, name: &str, state: &str, running: usize, pending: usize, error: &str) {
    let api: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), &env.dev, &apps());
    let mut executors = serde_json::Map::new();
    for i in 0..running + pending {
        let s = if i < running { "RUNNING" } else { "PENDING" };
        executors.insert(format!("{name}-exec-{i}"), json!(s));
    }
    let mut status = json!({"status": {"applicationState": {"state": state}, "submissionID": format!("{name}-1"),
        "driverInfo": {}, "executorState": executors}});
    if !error.is_empty() {
        status["status"]["applicationState"]["errorMessage"] = json!(error);
    }
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn health_is_the_operators_health_in_wait_and_status() {
    let kc = kubeconfig();
    let env = Env::new(kc).await;
    env.write(
        "values/streams/orders.yaml",
        "mainClass: com.example.Orders\nsink: s3a://lake/orders\nexecutor:\n  instances: 4\n",
    );
    env.write(
        "values/streams/payments.yaml",
        "mainClass: com.example.Payments\nsink: s3a://lake/payments\nsuspend: true\n",
    );
    let wait =
        |timeout: &str| env.sluice(&["apply", "--env", "dev", "--wait", "--timeout", timeout]);
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    // No status yet: one name in both commands.
    let status = json_out(&env.sluice(&["status", "--env", "dev", "--format", "json"]));
    for s in status["streams"].as_array().unwrap() {
        assert_eq!(s["state"], "NEW", "{status}");
    }
    let out = wait("1s");
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("orders (NEW"), "{}", out.stderr);

    // A suspended stream that FAILED fails the wait at once.
    play(&env, "orders", "RUNNING", 1, 3, "").await;
    play(&env, "payments", "FAILED", 0, 0, "driver pod OOMKilled").await;
    let started = std::time::Instant::now();
    let out = wait("30s");
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    assert!(
        out.stderr.contains("driver pod OOMKilled"),
        "{}",
        out.stderr
    );

    // RUNNING with 1 of the 4 executors it asks for is not healthy; the
    // timeout names the state and the operator's message.
    play(
        &env,
        "orders",
        "RUNNING",
        1,
        3,
        "executor pods pending: insufficient cpu",
    )
    .await;
    play(&env, "payments", "SUSPENDED", 0, 0, "").await;
    let out = wait("2s");
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("1/4"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("executor pods pending: insufficient cpu"),
        "{}",
        out.stderr
    );
    let status = json_out(&env.sluice(&["status", "--env", "dev", "--format", "json"]));
    let orders = &status["streams"][0];
    assert_eq!(orders["stream"], "orders");
    assert_eq!(orders["health"], "Progressing", "{status}");
    assert_eq!(orders["executors_running"], 1);
    assert_eq!(orders["executors_wanted"], 4);
    play(&env, "orders", "RUNNING", 4, 0, "").await;
    assert_eq!(wait("5s").code, 0);

    // COMPLETED is a stopped streaming query, unless it runs to completion.
    play(&env, "orders", "COMPLETED", 0, 0, "").await;
    let out = wait("5s");
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("runsToCompletion"), "{}", out.stderr);
    env.write(
        "values/streams/orders.yaml",
        "mainClass: com.example.Orders\nsink: s3a://lake/orders\nexecutor:\n  instances: 4\nrunsToCompletion: true\n",
    );
    let out = wait("5s");
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn drift_inside_a_list_is_seen_and_a_digest_only_change_is_written_once() {
    let kc = kubeconfig();
    let env = Env::new(kc).await;
    let orders = "mainClass: com.example.Orders\nsink: s3a://lake/orders\ntolerations:\n  - {key: dedicated, operator: Exists}\n";
    env.write("values/streams/orders.yaml", orders);
    assert_eq!(env.sluice(&["apply", "--env", "dev"]).code, 0);
    // `kubectl edit` adds a field to the toleration: every value sluice set
    // still holds, but the list (replaced whole) now has another owner.
    let api: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), &env.dev, &apps());
    let live = env.live(&env.dev, "orders").await.unwrap();
    let mut tolerations = live["spec"]["driver"]["tolerations"].clone();
    tolerations[0]["tolerationSeconds"] = json!(30);
    let patch = json!({"spec": {"driver": {"tolerations": tolerations}}});
    api.patch(
        "orders",
        &PatchParams {
            field_manager: Some("kubectl-edit".into()),
            ..Default::default()
        },
        &Patch::Merge(&patch),
    )
    .await
    .unwrap();
    let status = json_out(&env.sluice(&["status", "--env", "dev", "--format", "json"]));
    assert_eq!(status["streams"][0]["stream"], "orders");
    assert_eq!(status["streams"][0]["drift"], "changed", "{status}");
    let diff = json_out(&env.sluice(&["diff", "--env", "dev", "--format", "json"]));
    assert_eq!(diff["summary"]["changed"], 1, "{diff}");
    let out = env.sluice(&["apply", "--env", "dev", "--force-conflicts"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let live = env.live(&env.dev, "orders").await.unwrap();
    assert!(
        live["spec"]["driver"]["tolerations"][0]
            .get("tolerationSeconds")
            .is_none(),
        "{}",
        live["spec"]["driver"]
    );

    // `cores: 1` becomes `cores: 1.0`: the values changed, the object
    // does not. Written once (the digest), then never again.
    env.write(
        "values/streams/orders.yaml",
        &format!("{orders}driver:\n  cores: 1.0\n"),
    );
    let first = json_out(&env.sluice(&["apply", "--env", "dev", "--format", "json"]));
    assert_eq!(first["writes"], 1, "{first}");
    assert_eq!(first["summary"]["restarts"], 0, "{first}");
    let again = json_out(&env.sluice(&["apply", "--env", "dev", "--format", "json"]));
    assert_eq!(again["writes"], 0, "{again}");
    assert_eq!(again["api_requests"], 2, "{again}");
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn an_allowed_kind_the_cluster_says_is_cluster_scoped_is_never_written() {
    let kc = kubeconfig();
    let env = Env::new(kc).await;
    // A cluster-scoped custom kind no built-in list can know about.
    let crds = kube::api::ApiResource {
        group: "apiextensions.k8s.io".into(),
        version: "v1".into(),
        api_version: "apiextensions.k8s.io/v1".into(),
        kind: "CustomResourceDefinition".into(),
        plural: "customresourcedefinitions".into(),
    };
    let api: Api<DynamicObject> = Api::all_with(env.client.clone(), &crds);
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.probe.example.com"},
        "spec": {"group": "probe.example.com", "scope": "Cluster",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                 "versions": [{"name": "v1", "served": true, "storage": true,
                               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    api.patch(
        "widgets.probe.example.com",
        &PatchParams::apply("test").force(),
        &Patch::Apply(&crd),
    )
    .await
    .unwrap();
    // Discovery catches up with a new CRD within a few seconds.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    env.write(
        "values/environments/dev.yaml",
        &format!(
            "namespace: {}\nkubeContext: admin\nallowedKinds: [Widget.probe.example.com]\n",
            env.dev
        ),
    );
    env.write(
        "templates/widget.yaml.j2",
        "apiVersion: probe.example.com/v1\nkind: Widget\nmetadata:\n  name: {{ stream.name | tojson }}\n  namespace: {{ environment.namespace | tojson }}\n",
    );
    let out = env.sluice(&["apply", "--env", "dev"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("is cluster-scoped in this cluster"),
        "{}",
        out.stderr
    );
    assert!(env.names(&env.dev).await.is_empty());
    let widgets = kube::api::ApiResource {
        group: "probe.example.com".into(),
        version: "v1".into(),
        api_version: "probe.example.com/v1".into(),
        kind: "Widget".into(),
        plural: "widgets".into(),
    };
    let all: Api<DynamicObject> = Api::all_with(env.client.clone(), &widgets);
    assert!(
        all.list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}
