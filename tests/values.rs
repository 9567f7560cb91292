//! The merged values users get: the example repository per environment
//! (with provenance, so a review sees which layer a change moves), and the
//! Helm-chart-shaped layout teams migrate from.

mod common;

use common::{Repo, project_root, sluice_in};

#[test]
fn example_repository_effective_values() {
    for env in ["dev", "prod"] {
        let out = sluice_in(&project_root(), &["values", "--env", env, "--provenance"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        insta::assert_snapshot!(format!("example-{env}"), out.stdout);
    }
}

/// The layout of the Helm chart sluice replaces: one values file per
/// environment and a `streams:` list of names and arguments.
const HELM_COMMON: &str = r#"
spark:
  version: "3.4.1"
  image: registry.example.com/spark-streams:2.3.0
nodeSelector:
  pool: spark
tolerations:
  - {key: spark, operator: Exists, effect: NoSchedule}
mainClass: com.example.StreamRunner
applicationFile: local:///opt/spark/jars/streams.jar
restartPolicy: Always
maxSubmissionRetries: 3
driver:
  cores: 1
  memory: 2g
executor:
  cores: 2
  instances: 2
  memory: 4g
sink: s3a://lake/raw
streams:
  - name: orders
    arguments: [--topic, orders]
  - name: payments
    arguments: [--topic, payments]
    executor:
      instances: 4
"#;

#[test]
fn helm_chart_shaped_values() {
    let repo = Repo::with(&[
        ("values/common.yaml", Some(HELM_COMMON)),
        ("values/streams/orders.yaml", None),
        ("values/streams/payments.yaml", None),
        (
            "values/environments/prod.yaml",
            Some(
                "namespace: streams-prod\nexecutor:\n  memory: 8g\nstreams:\n  - name: refunds\n    arguments: [--topic, refunds]\n",
            ),
        ),
    ]);
    let lint = repo.sluice(&["lint"]);
    assert_eq!(lint.code, 0, "{}", lint.stdout);
    let values = |env: &str| -> serde_json::Value {
        let out = repo.sluice(&["values", "--env", env, "--format", "json"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        serde_json::from_str(&out.stdout).unwrap()
    };
    let dev = values("dev");
    let prod = values("prod");
    // Streams from common.yaml's list exist everywhere; the prod list adds one.
    let names = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&dev), ["orders", "payments"]);
    assert_eq!(names(&prod), ["orders", "payments", "refunds"]);
    assert_eq!(
        dev["orders"]["arguments"],
        serde_json::json!(["--topic", "orders"])
    );
    assert_eq!(dev["orders"]["mainClass"], "com.example.StreamRunner");
    // The entry overrides the chart-wide value; the environment file sits below the entry.
    assert_eq!(dev["payments"]["executor"]["instances"], 4);
    assert_eq!(prod["payments"]["executor"]["memory"], "8g");
    assert_eq!(prod["refunds"]["tolerations"][0]["key"], "spark");
    assert!(
        dev["orders"].get("streams").is_none(),
        "the list is not a value"
    );
}

#[test]
fn stream_files_and_lists_side_by_side_and_defined_twice() {
    let repo = Repo::with(&[(
        "values/common.yaml",
        Some(&format!(
            "{}streams:\n  - name: legacy\n    mainClass: com.example.Legacy\n",
            common::BASE[0].1
        )),
    )]);
    let out = repo.sluice(&["values", "--env", "dev", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["legacy", "orders", "payments"]
    );

    // The same name in the prod list and in a stream file clashes in prod only.
    repo.write(
        "values/environments/prod.yaml",
        b"namespace: p\nstreams:\n  - name: orders\n    mainClass: com.example.Other\n",
    );
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout
            .contains("error[values/duplicate-stream]: stream `orders` is defined twice"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("both definitions apply to environment `prod`"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("--> values/streams/orders.yaml:1:1"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("::: values/environments/prod.yaml:3:11"),
        "{}",
        out.stdout
    );
}

#[test]
fn enabled_and_suspend_per_environment() {
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some(
            "mainClass: x\nenvironments:\n  prod:\n    enabled: false\n  dev:\n    suspend: true\n",
        ),
    )]);
    let json = |env: &str| -> serde_json::Value {
        serde_json::from_str(
            &repo
                .sluice(&["values", "--env", env, "--format", "json"])
                .stdout,
        )
        .unwrap()
    };
    assert!(json("prod").get("orders").is_none());
    assert_eq!(json("dev")["orders"]["suspend"], true);
    // Named explicitly, a disabled stream is still shown, marked as such.
    let out = repo.sluice(&["values", "--env", "prod", "--stream", "orders"]);
    assert!(
        out.stdout
            .contains("# stream `orders` in environment `prod` (disabled: `enabled: false`)"),
        "{}",
        out.stdout
    );
    let out = repo.sluice(&["values", "--env", "prod", "--stream", "ordres"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("did you mean `orders`?"),
        "{}",
        out.stderr
    );
}

/// A long `streams:` list is checked entry by entry when all is well; one
/// bad entry, or a bad key beside the list, is still found at its line.
#[test]
fn a_long_list_keeps_its_findings() {
    let mut common = String::from(
        "spark: {version: \"3.5.1\", image: \"r/i:1\"}\napplicationFile: local:///a.jar\nsink: s3a://lake/raw\nstreams:\n",
    );
    for i in 0..100 {
        common.push_str(&format!("  - name: s{i}\n    mainClass: A{i}\n"));
    }
    let env = "namespace: dev\n";
    let clean = Repo::with(&[
        ("values/common.yaml", Some(common.as_str())),
        ("values/environments/dev.yaml", Some(env)),
    ]);
    assert_eq!(clean.sluice(&["lint"]).code, 0);
    let bad_entry = common.replace(
        "    mainClass: A57\n",
        "    mainClass: A57\n    executor: {instances: many}\n",
    );
    let repo = Repo::with(&[
        ("values/common.yaml", Some(bad_entry.as_str())),
        ("values/environments/dev.yaml", Some(env)),
    ]);
    let found = common::findings(&repo, &[], "values/type");
    assert!(
        found
            .iter()
            .any(|d| d["location"]["line"] == 121 || d.to_string().contains("\"line\":121")),
        "{found:?}"
    );
    let bad_key = format!("executr: {{instances: 2}}\n{common}");
    let repo = Repo::with(&[
        ("values/common.yaml", Some(bad_key.as_str())),
        ("values/environments/dev.yaml", Some(env)),
    ]);
    assert!(!common::findings(&repo, &[], "values/unknown-key").is_empty());
}
