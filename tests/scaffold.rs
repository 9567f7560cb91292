//! `sluice init` and `sluice new stream`: what they write lints clean, is
//! pinned by snapshots, and nothing is ever overwritten.

mod common;

use common::{Repo, sluice_in};

fn errors(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let out = sluice_in(dir, &["lint", "--format", "json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .cloned()
        .collect()
}

#[test]
fn init_writes_a_repository_that_lints_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("streams");
    let out = sluice_in(
        dir.path(),
        &[
            "init",
            root.to_str().unwrap(),
            "--env",
            "dev",
            "--env",
            "staging",
            "--env",
            "prod",
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(errors(&root).is_empty());
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    insta::assert_snapshot!("init-common", read("values/common.yaml"));
    insta::assert_snapshot!("init-dev", read("values/environments/dev.yaml"));
    insta::assert_snapshot!("init-prod", read("values/environments/prod.yaml"));
    // The editor schemas are sluice's own.
    assert_eq!(
        read(".sluice/stream.schema.json"),
        sluice_in(&root, &["schema", "--for", "stream"]).stdout
    );
    // The shipped streams pipeline, which makes its jobs with `sluice ci`.
    assert_eq!(
        read(".gitlab-ci.yml"),
        std::fs::read_to_string(common::project_root().join("ci/streams.gitlab-ci.yml")).unwrap()
    );
    let ci = sluice_in(&root, &["ci", "--format", "json"]);
    assert_eq!(ci.code, 0, "{}", ci.stderr);
    let jobs: serde_json::Value = serde_json::from_str(&ci.stdout).unwrap();
    assert_eq!(
        jobs["deploy-staging"]["needs"][2], "deploy-dev",
        "{}",
        ci.stdout
    );
    assert_eq!(
        jobs["deploy-prod"]["needs"][2], "deploy-staging",
        "{}",
        ci.stdout
    );
    // Again: refused, and nothing changes.
    std::fs::write(root.join("values/common.yaml"), "# mine\n").unwrap();
    let out = sluice_in(dir.path(), &["init", root.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("already exist"), "{}", out.stderr);
    assert_eq!(read("values/common.yaml"), "# mine\n");

    // A new stream: enabled in dev only, lints clean.
    let out = sluice_in(&root, &["new", "stream", "clickstream"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    std::fs::write(root.join("values/common.yaml"), common_yaml(&root)).unwrap();
    assert!(errors(&root).is_empty());
    insta::assert_snapshot!("new-stream", read("values/streams/clickstream.yaml"));
    let names = |env: &str| -> Vec<String> {
        common::rendered(&root, env, &[])
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names("dev"), ["clickstream"]);
    assert!(names("prod").is_empty() && names("staging").is_empty());
    // A taken name, a bad name: refused.
    assert_eq!(sluice_in(&root, &["new", "stream", "clickstream"]).code, 2);
    assert_eq!(sluice_in(&root, &["new", "stream", "Click_Stream"]).code, 2);
}

/// init's common.yaml again (the test above overwrote it to check refusal).
fn common_yaml(_root: &std::path::Path) -> String {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(sluice_in(dir.path(), &["init"]).code, 0);
    std::fs::read_to_string(dir.path().join("values/common.yaml")).unwrap()
}

#[test]
fn a_new_stream_from_another_keeps_its_settings_but_not_its_sink() {
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some(
            "mainClass: com.example.Orders\nsink: s3a://lake/orders\nexecutor:\n  instances: 3\nenvironments:\n  prod:\n    sink: s3a://lake-prod/orders\n",
        ),
    )]);
    let out = repo.sluice(&["new", "stream", "returns", "--from", "orders"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let text = std::fs::read_to_string(repo.path().join("values/streams/returns.yaml")).unwrap();
    insta::assert_snapshot!("new-stream-from", text);
    assert!(errors(repo.path()).is_empty());
    let out = repo.sluice(&[
        "values", "--env", "dev", "--stream", "returns", "--format", "json",
    ]);
    let values: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(values["returns"]["executor"]["instances"], 3);
    assert!(values["returns"].get("sink").is_none());
}
