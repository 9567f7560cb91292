//! What values say reaches the manifest unchanged: numbers where text is
//! wanted keep the text that was written, and CRD fields written under
//! their own names pass through.

mod common;

use common::{Repo, findings, rendered};
use serde_json::Value;

fn spark_app<'a>(objects: &'a [Value], stream: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == "SparkApplication" && o["metadata"]["name"] == stream)
        .unwrap_or_else(|| panic!("no SparkApplication {stream}"))
}

#[test]
fn numbers_keep_the_text_they_were_written_as() {
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some(
            "mainClass: com.example.Orders\n\
             image: {repository: registry.example.com/orders, tag: 4.10}\n\
             arguments: [1.10, 1e3, --window, 0.50]\n\
             sparkConf:\n  spark.network.timeout: 1e3\n  spark.sql.shuffle.partitions: 064\n\
             executor:\n  env: {RATIO: 1.0}\n",
        ),
    )]);
    let objects = rendered(repo.path(), "dev", &[]);
    let spec = &spark_app(&objects, "orders")["spec"];
    assert_eq!(spec["image"], "registry.example.com/orders:4.10");
    assert_eq!(
        spec["arguments"],
        serde_json::json!(["1.10", "1e3", "--window", "0.50"])
    );
    assert_eq!(spec["sparkConf"]["spark.network.timeout"], "1e3");
    // YAML 1.2: a leading zero is a string already.
    assert_eq!(spec["sparkConf"]["spark.sql.shuffle.partitions"], "064");
    let env = spec["executor"]["env"].as_array().unwrap();
    assert!(
        env.iter()
            .any(|e| e["name"] == "RATIO" && e["value"] == "1.0"),
        "{env:?}"
    );
}

#[test]
fn provenance_names_every_default_sluice_applies() {
    let common = common::BASE[0].1.replace("restartPolicy: Always\n", "");
    let repo = Repo::with(&[
        ("values/common.yaml", Some(&common)),
        (
            "values/streams/orders.yaml",
            Some("mainClass: com.example.Orders\nlocalDirs: {type: tmpfs, size: 8Gi}\n"),
        ),
    ]);
    let out = repo.sluice(&[
        "values",
        "--env",
        "dev",
        "--stream",
        "orders",
        "--provenance",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for line in [
        "restartPolicy: Always",
        "type: Scala",
        "mode: cluster",
        "mountPath: /var/data/spark-local",
    ] {
        let shown = out
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(line))
            .unwrap_or_else(|| panic!("no `{line}` in\n{}", out.stdout));
        assert!(shown.contains("# sluice default: "), "{shown}");
    }
    assert!(
        out.stdout.contains("the operator's own default is Never"),
        "{}",
        out.stdout
    );
    // Without --provenance, values show what the files say.
    let plain = repo.sluice(&["values", "--env", "dev", "--stream", "orders"]);
    assert!(!plain.stdout.contains("restartPolicy"), "{}", plain.stdout);

    let json = repo.sluice(&[
        "values",
        "--env",
        "dev",
        "--stream",
        "orders",
        "--provenance",
        "--format",
        "json",
    ]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    let orders = &doc["orders"];
    assert_eq!(orders["values"]["restartPolicy"], "Always");
    assert!(
        orders["provenance"]["/restartPolicy"]["default"]
            .as_str()
            .is_some_and(|w| w.contains("Never")),
        "{orders}"
    );
    assert_eq!(
        orders["provenance"]["/localDirs/size"],
        serde_json::json!({"file": "values/streams/orders.yaml", "line": 2})
    );
    // And rendering agrees with what provenance claims.
    let objects = rendered(repo.path(), "dev", &[]);
    assert_eq!(
        spark_app(&objects, "orders")["spec"]["restartPolicy"],
        serde_json::json!({"type": "Always"})
    );
}

#[test]
fn kubernetes_fields_about_secrets_are_not_literal_secrets() {
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some(
            "mainClass: com.example.Orders\n\
             volumes:\n\
             - {name: creds, secret: {secretName: kafka-creds}}\n\
             - name: token\n  projected: {sources: [{serviceAccountToken: {path: token, audience: kafka}}]}\n\
             executor:\n  envSecretKeyRefs: {KAFKA_PASSWORD: {name: kafka-creds, key: password}}\n\
             hadoopConf:\n  fs.s3a.secret.key: AKIAWJALRXUTNFEMIK7MDENGBPXRFICYEXAMPLEKEY\n",
        ),
    )]);
    let secrets = findings(&repo, &["--env", "dev"], "values/literal-secret");
    // Only the real one.
    assert_eq!(secrets.len(), 1, "{secrets:?}");
    assert!(
        secrets[0].to_string().contains("fs.s3a.secret.key"),
        "{secrets:?}"
    );
}

#[test]
fn pod_template_labels_are_checked_like_every_other_label() {
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some(
            "mainClass: com.example.Orders\n\
             driver:\n  template:\n    metadata:\n      labels: {team: bi data eng}\n",
        ),
    )]);
    let out = repo.sluice(&["lint", "--env", "dev"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("error[values/label]"), "{}", out.stdout);
    assert!(
        out.stdout.contains("values/streams/orders.yaml:5:"),
        "{}",
        out.stdout
    );
}
