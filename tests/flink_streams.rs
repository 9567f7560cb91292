//! Flink streams (`engine: flink`): values keys by the FlinkDeployment's
//! CRD names and sluice's shared conveniences, the state locations derived
//! from the sink, and a repository's Spark defaults left to its Spark
//! streams. What is rendered is checked against the upstream Flink
//! operator CRD, strictly.

mod common;

use common::{Repo, assert_passes, project_root, rendered};
use serde_json::{Value, json};

fn oracle() -> jsonschema::Validator {
    common::upstream_oracle("flinkdeployments.flink.apache.org-v1.yml", "v1beta1")
}

fn flink_objects(dir: &std::path::Path, env: &str) -> Vec<Value> {
    rendered(dir, env, &[])
        .into_iter()
        .filter(|o| o["kind"] == "FlinkDeployment")
        .collect()
}

const CLICKS: &str = "engine: flink\nflink:\n  version: \"1.20\"\n  image: registry.example.com/flink-streams:1.0.0\napplicationFile: local:///opt/flink/usrlib/clicks.jar\nmainClass: com.example.Clicks\narguments: [--topic, clicks, --gap, 30]\nsink: s3a://lake/clicks\njobManager:\n  resource: {cpu: 1, memory: 2048m}\ntaskManager:\n  resource: {cpu: 2, memory: 4g}\njob:\n  parallelism: 4\n";

#[test]
#[cfg_attr(sluice_no_upstream_crds, ignore = "needs ../shared/crds")]
fn example_flink_streams_pass_the_upstream_crd_strictly() {
    let validator = oracle();
    let mut checked = 0;
    for env in ["dev", "prod"] {
        for object in flink_objects(&project_root(), env) {
            assert_passes(&validator, &object);
            checked += 1;
        }
    }
    assert_eq!(checked, 2, "click-sessions in dev and prod");
}

#[test]
#[cfg_attr(sluice_no_upstream_crds, ignore = "needs ../shared/crds")]
fn the_oracle_rejects_a_field_the_crd_does_not_have() {
    let validator = oracle();
    let mut object = flink_objects(&project_root(), "dev").remove(0);
    assert!(validator.is_valid(&object));
    object["spec"]["taskManager"]["resourse"] = json!({"cpu": 1});
    assert!(!validator.is_valid(&object), "an unknown field must fail");
}

/// The base repository's common.yaml holds Spark defaults (spark.*,
/// driver, executor, restartPolicy) and an environment sets more: a Flink
/// stream is added as it is, and its FlinkDeployment has none of them.
#[test]
#[cfg_attr(sluice_no_upstream_crds, ignore = "needs ../shared/crds")]
fn spark_defaults_in_shared_files_leave_a_flink_stream_alone() {
    let repo = Repo::with(&[
        ("values/streams/clicks.yaml", Some(CLICKS)),
        (
            "values/environments/dev.yaml",
            Some(
                "namespace: streams-dev\nmode: cluster\npodTemplate: {driver: {spec: {priorityClassName: low}}}\nsparkConf: {spark.sql.shuffle.partitions: \"8\"}\nimagePullPolicy: Always\n",
            ),
        ),
    ]);
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.starts_with("ok: no findings (3 streams"),
        "{}",
        out.stdout
    );
    let validator = oracle();
    for env in ["dev", "prod"] {
        let objects = flink_objects(repo.path(), env);
        assert_eq!(objects.len(), 1, "{env}");
        let object = &objects[0];
        assert_passes(&validator, object);
        let spec = &object["spec"];
        assert_eq!(spec["flinkVersion"], "v1_20");
        assert_eq!(spec["image"], "registry.example.com/flink-streams:1.0.0");
        assert!(spec.get("mode").is_none(), "Spark's mode: {spec:#}");
        assert!(
            spec.get("podTemplate").is_none(),
            "Spark's pod templates: {spec:#}"
        );
        // The shared key does apply.
        assert_eq!(
            spec["imagePullPolicy"].as_str(),
            (env == "dev").then_some("Always")
        );
        assert_eq!(
            spec["job"],
            json!({"jarURI": "local:///opt/flink/usrlib/clicks.jar", "entryClass": "com.example.Clicks", "args": ["--topic", "clicks", "--gap", "30"], "parallelism": 4, "upgradeMode": "savepoint"})
        );
        let conf = &spec["flinkConfiguration"];
        assert_eq!(
            conf["state.checkpoints.dir"],
            "s3a://lake/clicks/_checkpoints/clicks"
        );
        assert_eq!(
            conf["state.savepoints.dir"],
            "s3a://lake/clicks/_savepoints/clicks"
        );
        assert_eq!(conf["high-availability.type"], "kubernetes");
        assert_eq!(
            conf["high-availability.storageDir"],
            "s3a://lake/clicks/_ha/clicks"
        );
        assert_eq!(
            conf["kubernetes.operator.job.savepoint-on-deletion"],
            "true"
        );
        for (_, v) in conf.as_object().unwrap() {
            assert!(v.is_string(), "flat keys with string values: {conf:#}");
        }
        assert_eq!(object["metadata"]["labels"]["sluice.dev/stream"], "clicks");
    }
    // The Spark streams still get them.
    let spark = rendered(repo.path(), "dev", &["--stream", "orders"]).remove(0);
    assert_eq!(spark["spec"]["mode"], "cluster");
    assert_eq!(spark["spec"]["driver"]["cores"], 1);
}

fn lint_json(repo: &Repo) -> (i32, Vec<Value>) {
    let out = repo.sluice(&["lint", "--format", "json"]);
    let report: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", out.stdout, out.stderr));
    (
        out.code,
        report["diagnostics"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
    )
}

fn with_code<'a>(found: &'a [Value], code: &str) -> Vec<&'a Value> {
    found.iter().filter(|d| d["code"] == code).collect()
}

#[test]
fn the_other_engines_keys_in_a_streams_own_file_are_errors_naming_the_engine() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "values/streams/clicks.yaml",
            "driver: {cores: 2}\n",
            "`driver` is a Spark key, and stream `clicks` runs on Flink",
            "Flink's counterpart is `jobManager`",
        ),
        (
            "values/streams/clicks.yaml",
            "mode: cluster\n",
            "`mode` is written in Spark's form, and stream `clicks` runs on Flink",
            "Flink's modes are `native` (the default) and `standalone`",
        ),
        (
            "values/streams/clicks.yaml",
            "environments:\n  prod:\n    restartPolicy: Never\n",
            "`restartPolicy` is a Spark key, and stream `clicks` runs on Flink",
            "remove it: Flink streams do not read it",
        ),
        (
            "values/streams/orders.yaml",
            "taskManager: {replicas: 2}\n",
            "`taskManager` is a Flink key, and stream `orders` runs on Spark",
            "Spark's counterpart is `executor`",
        ),
    ];
    for (file, extra, message, help) in cases {
        let text = if file.ends_with("clicks.yaml") {
            format!("{CLICKS}{extra}")
        } else {
            format!("mainClass: com.example.Orders\n{extra}")
        };
        let repo = Repo::with(&[
            ("values/streams/clicks.yaml", Some(CLICKS)),
            (file, Some(&text)),
        ]);
        let (code, found) = lint_json(&repo);
        assert_eq!(code, 1, "{extra}: {found:#?}");
        let found = with_code(&found, "values/other-engine-key");
        assert_eq!(found.len(), 1, "{extra}: {found:#?}");
        let d = found[0].to_string();
        assert!(d.contains(message), "{message}: {d}");
        assert!(d.contains(help), "{help}: {d}");
        assert!(d.contains(file), "{file}: {d}");
    }
}

#[test]
fn a_flink_stream_needs_a_version_an_image_and_a_jar() {
    let repo = Repo::with(&[
        ("values/common.yaml", Some("sink: s3a://lake/\n")),
        ("values/streams/orders.yaml", None),
        ("values/streams/payments.yaml", None),
        ("values/streams/clicks.yaml", Some("engine: flink\n")),
    ]);
    let (code, found) = lint_json(&repo);
    assert_eq!(code, 1);
    let required: Vec<String> = with_code(&found, "values/required")
        .iter()
        .map(|d| d["message"].as_str().unwrap().to_owned())
        .collect();
    for what in [
        "no Flink version is set",
        "no container image is set",
        "no job jar is set",
    ] {
        assert!(required.iter().any(|m| m == what), "{what}: {required:?}");
    }
}

#[test]
fn a_convenience_and_the_field_it_fills_conflict() {
    let repo = Repo::with(&[(
        "values/streams/clicks.yaml",
        Some(
            &format!("{CLICKS}flinkVersion: v1_19\n")
                .replace("job:\n", "job:\n  entryClass: com.example.Other\n"),
        ),
    )]);
    let (code, found) = lint_json(&repo);
    assert_eq!(code, 1);
    let messages: Vec<String> = with_code(&found, "values/conflicting-keys")
        .iter()
        .map(|d| d["message"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        messages.contains(&"`flinkVersion` and `flink.version` set the same field".to_owned()),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"`job.entryClass` and `mainClass` set the same field".to_owned()),
        "{messages:?}"
    );
}

#[test]
#[cfg_attr(sluice_no_upstream_crds, ignore = "needs ../shared/crds")]
fn secrets_and_pull_secrets_reach_every_flink_pod() {
    let repo = Repo::with(&[(
        "values/streams/clicks.yaml",
        Some(&format!(
            "{CLICKS}imagePullSecrets: [registry-pull]\nsecrets:\n  - name: kafka\n    env: {{KAFKA_PASSWORD: password}}\n    path: /mnt/kafka\nsuspend: true\n"
        )),
    )]);
    let objects = flink_objects(repo.path(), "dev");
    let spec = &objects[0]["spec"];
    assert_passes(&oracle(), &objects[0]);
    let pod = &spec["podTemplate"]["spec"];
    assert_eq!(pod["imagePullSecrets"], json!([{"name": "registry-pull"}]));
    assert_eq!(pod["containers"][0]["name"], "flink-main-container");
    assert_eq!(
        pod["containers"][0]["env"],
        json!([{"name": "KAFKA_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "kafka", "key": "password"}}}])
    );
    assert_eq!(pod["volumes"][0]["secret"]["secretName"], "kafka");
    assert_eq!(spec["job"]["state"], "suspended");
}

#[test]
fn provenance_shows_the_flink_defaults_and_why() {
    let repo = Repo::with(&[("values/streams/clicks.yaml", Some(CLICKS))]);
    let out = repo.sluice(&[
        "values",
        "--env",
        "prod",
        "--stream",
        "clicks",
        "--provenance",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for line in [
        "upgradeMode: savepoint",
        "# sluice default: an upgrade carries the job's state over in a savepoint",
        "state.checkpoints.dir: s3a://lake/clicks/_checkpoints/clicks",
        "kubernetes.operator.job.savepoint-on-deletion: \"true\"",
    ] {
        assert!(out.stdout.contains(line), "{line}:\n{}", out.stdout);
    }
    // Not Spark's.
    assert!(!out.stdout.contains("restartPolicy"), "{}", out.stdout);
    assert!(!out.stdout.contains("driver"), "{}", out.stdout);
}

/// A Spark stream tried on Flink in dev first: its `environments.dev`
/// block names the engine, so its own Spark keys are a shared layer there.
#[test]
fn an_environment_block_can_switch_the_engine() {
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some(
            "mainClass: com.example.Orders\ndriver: {cores: 2}\nsink: s3a://lake/orders\nenvironments:\n  dev:\n    engine: flink\n    flink: {version: \"1.20\", image: reg/flink:1}\n    applicationFile: local:///opt/flink/usrlib/orders.jar\n    jobManager: {resource: {cpu: 1, memory: 2g}}\n    taskManager: {resource: {cpu: 1, memory: 2g}}\n    job: {parallelism: 2}\n",
        ),
    )]);
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let dev = rendered(repo.path(), "dev", &["--stream", "orders"]);
    assert_eq!(dev[0]["kind"], "FlinkDeployment");
    assert_eq!(dev[0]["spec"]["job"]["entryClass"], "com.example.Orders");
    let prod = rendered(repo.path(), "prod", &["--stream", "orders"]);
    assert_eq!(prod[0]["kind"], "SparkApplication");
    assert_eq!(prod[0]["spec"]["driver"]["cores"], 2);
}

/// One checkpoint root for every Flink stream is normal: Flink writes
/// each job's checkpoints under its job ID.
#[test]
fn flink_streams_may_share_a_checkpoint_root() {
    let second = CLICKS.replace("com.example.Clicks", "com.example.Views");
    let repo = Repo::with(&[
        ("values/streams/clicks.yaml", Some(CLICKS)),
        ("values/streams/views.yaml", Some(&second)),
        (
            "values/environments/dev.yaml",
            Some(
                "namespace: streams-dev\nflinkConfiguration: {state.checkpoints.dir: \"s3a://lake/checkpoints\"}\n",
            ),
        ),
    ]);
    let out = repo.sluice(&["lint", "--env", "dev"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

/// The merge request's view of a Flink change, offline between two
/// revisions: which changes keep the job's state and which lose it, in
/// JSON and in the report a reviewer reads.
#[test]
fn the_offline_diff_says_which_upgrades_lose_state() {
    let repo = Repo::with(&[
        ("values/streams/clicks.yaml", Some(CLICKS)),
        (
            "values/streams/views.yaml",
            Some(&CLICKS.replace("clicks", "views")),
        ),
        (
            "values/streams/carts.yaml",
            Some(&CLICKS.replace("clicks", "carts")),
        ),
    ]);
    let git = |args: &[&str]| common::git_in(repo.path(), args);
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "base"]);
    // clicks scales (an upgrade through a savepoint), views goes stateless
    // as it scales (state lost), carts only triggers a savepoint.
    repo.write(
        "values/streams/clicks.yaml",
        CLICKS
            .replace("parallelism: 4", "parallelism: 8")
            .as_bytes(),
    );
    repo.write(
        "values/streams/views.yaml",
        CLICKS
            .replace("clicks", "views")
            .replace("parallelism: 4", "parallelism: 8\n  upgradeMode: stateless")
            .as_bytes(),
    );
    repo.write(
        "values/streams/carts.yaml",
        CLICKS
            .replace("clicks", "carts")
            .replace(
                "parallelism: 4",
                "parallelism: 4\n  savepointTriggerNonce: 1",
            )
            .as_bytes(),
    );
    let out = repo.sluice(&["diff", "--env", "dev", "--base", "HEAD", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let impact = |stream: &str| {
        report["streams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stream"] == stream)
            .map(|s| s["impact"].clone())
            .unwrap()
    };
    assert_eq!(
        impact("clicks"),
        json!({"type": "upgrade", "upgrade_mode": "savepoint", "keeps_state": true})
    );
    assert_eq!(
        impact("views"),
        json!({"type": "upgrade", "upgrade_mode": "stateless", "keeps_state": false})
    );
    assert_eq!(impact("carts"), json!({"type": "none"}));
    assert_eq!(report["summary"]["state_resets"], 1);
    let markdown = repo.sluice(&[
        "diff", "--env", "dev", "--base", "HEAD", "--format", "markdown",
    ]);
    assert_eq!(markdown.code, 0, "{}", markdown.stderr);
    let summary = markdown
        .stdout
        .split("\n<details>")
        .next()
        .unwrap()
        .to_owned();
    insta::assert_snapshot!("flink-merge-request-report", summary);
}

/// `templates/flinkdeployment.yaml.j2` replaces the built-in
/// FlinkDeployment (seeing the built spec as `derived`), is not rendered
/// for Spark streams, and what it renders still meets the upstream CRD.
#[test]
#[cfg_attr(sluice_no_upstream_crds, ignore = "needs ../shared/crds")]
fn a_repository_flinkdeployment_template_replaces_the_built_in_one() {
    let template = "apiVersion: flink.apache.org/v1beta1\nkind: FlinkDeployment\nmetadata:\n  name: {{ stream.name }}\n  namespace: {{ environment.namespace }}\n  labels: {team: web}\nspec: {{ derived | tojson }}\n";
    let repo = Repo::with(&[
        ("values/streams/clicks.yaml", Some(CLICKS)),
        ("templates/flinkdeployment.yaml.j2", Some(template)),
    ]);
    let objects = rendered(repo.path(), "dev", &[]);
    let flink: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "FlinkDeployment")
        .collect();
    assert_eq!(flink.len(), 1, "the template's object only: {objects:#?}");
    assert_eq!(flink[0]["metadata"]["labels"]["team"], "web");
    assert_eq!(
        flink[0]["metadata"]["labels"]["sluice.dev/stream"],
        "clicks"
    );
    assert_eq!(flink[0]["spec"]["job"]["upgradeMode"], "savepoint");
    assert_passes(&oracle(), flink[0]);
    let spark: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "SparkApplication")
        .collect();
    assert_eq!(spark.len(), 2, "the Spark streams still render theirs");
}

/// A field the CRD does not have, deep in a pod template (a shared
/// definition of the generated schema), is named with the field meant.
#[test]
fn a_typo_in_a_rendered_pod_template_names_the_field_meant() {
    let typo = "apiVersion: flink.apache.org/v1beta1\nkind: FlinkDeployment\nmetadata:\n  name: {{ stream.name }}\n  namespace: {{ environment.namespace }}\nspec:\n  flinkVersion: v1_20\n  image: flink:1.20\n  jobManager: {resource: {cpu: 1, memory: 1g}}\n  taskManager:\n    resource: {cpu: 1, memory: 1g}\n    podTemplate:\n      spec:\n        priorityClasName: low\n  job: {jarURI: \"local:///a.jar\", parallelism: 1, upgradeMode: stateless}\n";
    let repo = Repo::with(&[
        ("values/streams/clicks.yaml", Some(CLICKS)),
        ("templates/flinkdeployment.yaml.j2", Some(typo)),
    ]);
    let (code, found) = lint_json(&repo);
    assert_eq!(code, 1);
    let helps: Vec<String> = found
        .iter()
        .filter(|d| {
            d["message"]
                .as_str()
                .unwrap_or("")
                .contains("priorityClasName")
        })
        .map(|d| d.to_string())
        .collect();
    assert!(!helps.is_empty(), "{found:#?}");
    assert!(
        helps
            .iter()
            .any(|h| h.contains("did you mean `priorityClassName`")),
        "{helps:#?}"
    );
}
