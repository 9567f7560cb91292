//! `sluice ci`: the child pipeline a streams repository gets, pinned as
//! users see it; what changes with the environments; the errors. (The
//! pipeline running under a real runner is tests/pipeline.rs.)

mod common;

use common::{Repo, project_root, sluice_in};
use serde_json::Value;

fn pipeline(repo: &Repo, args: &[&str]) -> Value {
    let mut all = vec!["ci", "--format", "json"];
    all.extend(args);
    let out = repo.sluice(&all);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

fn job_names(pipeline: &Value) -> Vec<&str> {
    pipeline
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|k| !["stages", "variables", "default"].contains(k))
        .collect()
}

#[test]
fn the_example_repositorys_pipeline() {
    let out = sluice_in(&project_root(), &["ci"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("example-pipeline", out.stdout);
    // YAML and JSON say the same.
    let json = sluice_in(&project_root(), &["ci", "--format", "json"]);
    let from_yaml: Value = serde_saphyr::from_str(&out.stdout).unwrap();
    let from_json: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(from_yaml, from_json);
}

#[test]
fn environments_come_in_promotion_order_with_their_variables() {
    let repo = Repo::with(&[
        (
            "values/environments/staging.yaml",
            Some("namespace: streams-staging\n"),
        ),
        (
            "values/environments/prod-eu.yaml",
            Some("namespace: streams-prod-eu\nprotected: true\n"),
        ),
    ]);
    let p = pipeline(&repo, &[]);
    assert_eq!(
        job_names(&p),
        [
            "lint",
            "render-dev",
            "render-staging",
            "render-prod",
            "render-prod-eu",
            "diff-dev",
            "diff-staging",
            "diff-prod",
            "diff-prod-eu",
            "diff-live-dev",
            "diff-live-staging",
            "diff-live-prod",
            "diff-live-prod-eu",
            "deploy-dev",
            "deploy-staging",
            "deploy-prod",
            "deploy-prod-eu",
            "drift-dev",
            "drift-staging",
            "drift-prod",
            "drift-prod-eu",
            "promote-dev-to-staging",
            "promote-staging-to-prod",
            "promote-prod-to-prod-eu",
        ]
    );
    // The first deploys by itself; each later one is manual, after the
    // previous one.
    assert!(p["deploy-dev"]["rules"][0].get("when").is_none());
    for (env, previous) in [("staging", "dev"), ("prod", "staging"), ("prod-eu", "prod")] {
        let deploy = &p[format!("deploy-{env}")];
        assert_eq!(deploy["rules"][0]["when"], "manual", "{env}");
        assert_eq!(
            deploy["needs"],
            serde_json::json!([
                "lint",
                format!("render-{env}"),
                format!("deploy-{previous}")
            ])
        );
        assert_eq!(deploy["resource_group"], format!("sluice-{env}"));
        assert_eq!(deploy["environment"]["name"], env);
    }
    assert_eq!(
        p["deploy-prod-eu"]["environment"]["deployment_tier"],
        "production"
    );
    assert_eq!(
        p["deploy-staging"]["environment"]["deployment_tier"],
        "staging"
    );
    assert_eq!(
        p["deploy-dev"]["environment"]["deployment_tier"],
        "development"
    );
    let script = p["deploy-prod-eu"]["script"].to_string();
    assert!(
        script.contains("--kubeconfig \\\"$PROD_EU_KUBECONFIG\\\""),
        "{script}"
    );
    assert!(script.contains("(type File, protected)"), "{script}");
    let drift = p["drift-prod-eu"]["script"][2].as_str().unwrap();
    assert!(
        drift.contains("--exit-code --format junit > drift-prod-eu.xml"),
        "{drift}"
    );
    assert_eq!(
        p["drift-prod-eu"]["artifacts"]["reports"]["junit"],
        "drift-prod-eu.xml"
    );

    // The header names every variable to set.
    let yaml = repo.sluice(&["ci"]).stdout;
    assert!(
        yaml.contains("#   PROD_EU_KUBECONFIG  prod-eu's kubeconfig, protected"),
        "{yaml}"
    );
    assert!(
        yaml.contains("#   STAGING_KUBECONFIG  staging's kubeconfig\n"),
        "{yaml}"
    );
}

#[test]
fn the_binary_can_come_from_a_parent_job() {
    let repo = Repo::with(&[]);
    let p = pipeline(
        &repo,
        &[
            "--sluice",
            "bin/sluice",
            "--artifacts-from",
            "build",
            "--image",
            "debian:bookworm",
        ],
    );
    assert_eq!(p["variables"]["SLUICE"], "bin/sluice");
    assert_eq!(p["default"]["image"], "debian:bookworm");
    // Every job, the first in its needs.
    for job in job_names(&p) {
        assert_eq!(
            p[job]["needs"][0],
            serde_json::json!({"pipeline": "$PARENT_PIPELINE_ID", "job": "build"}),
            "{job}"
        );
    }
    let defaults = pipeline(&repo, &[]);
    assert_eq!(defaults["default"]["image"], "$SLUICE_IMAGE");
    assert_eq!(defaults["lint"]["needs"], serde_json::json!([]));
}

/// What the child pipeline reads from its parent is what both shipped
/// parents pass.
#[test]
fn both_parents_pass_what_the_child_reads() {
    let child = sluice_in(&project_root(), &["ci"]).stdout;
    for file in [".gitlab-ci.yml", "ci/streams.gitlab-ci.yml"] {
        let text = std::fs::read_to_string(project_root().join(file)).unwrap();
        let parent: Value = serde_saphyr::from_str(&text).unwrap();
        let streams = &parent["streams"];
        assert_eq!(
            streams["variables"],
            serde_json::json!({
                "SLUICE_PIPELINE_SOURCE": "$CI_PIPELINE_SOURCE",
                "SLUICE_DIFF_BASE": "$CI_MERGE_REQUEST_DIFF_BASE_SHA",
                "PARENT_PIPELINE_ID": "$CI_PIPELINE_ID",
            }),
            "{file}"
        );
        for variable in ["SLUICE_PIPELINE_SOURCE", "SLUICE_DIFF_BASE"] {
            assert!(child.contains(&format!("${variable}")), "{variable}");
        }
        assert_eq!(
            streams["trigger"]["include"][0],
            serde_json::json!({"artifact": "sluice-pipeline.yml", "job": "sluice-pipeline"}),
            "{file}"
        );
        let generate = parent["sluice-pipeline"]["script"].to_string();
        assert!(
            generate.contains("ci ") && generate.contains("--output sluice-pipeline.yml"),
            "{file}: {generate}"
        );
    }
}

#[test]
fn output_file_and_errors() {
    let repo = Repo::with(&[]);
    let file = repo.path().join("child.yml");
    let out = repo.sluice(&["ci", "--output", file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains("jobs for dev → prod"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        repo.sluice(&["ci"]).stdout
    );

    let none = Repo::with(&[
        ("values/environments/dev.yaml", None),
        ("values/environments/prod.yaml", None),
    ]);
    let out = none.sluice(&["ci"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("no environments"), "{}", out.stderr);
    assert!(out.stdout.is_empty());

    let out = repo.sluice(&["ci", "--output", "/nonexistent/dir/child.yml"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("cannot write /nonexistent/dir/child.yml"),
        "{}",
        out.stderr
    );
}

/// The image's recipe, read as a build would: what it copies is a
/// buildable package (cargo reads its manifest, lock file and targets from
/// exactly those files), and the runtime stage is what a GitLab job needs.
/// (Building the image itself needs a registry to pull the base images
/// from; the tag pipeline does that.)
#[test]
fn the_containerfile_copies_a_buildable_package_and_runs_as_non_root() {
    let text = std::fs::read_to_string(project_root().join("Containerfile")).unwrap();
    let stages: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(stages.len(), 2, "a build stage and a runtime stage");
    assert!(
        stages[1].contains("debian:${DEBIAN_RELEASE}-slim"),
        "{}",
        stages[1]
    );
    let runtime = &text[text.rfind("\nFROM ").unwrap()..];
    let install = runtime
        .lines()
        .find(|l| l.contains("apt-get install"))
        .expect("the runtime stage installs packages");
    for needed in ["ca-certificates", "git", "bash-completion"] {
        assert!(
            install.split_whitespace().any(|w| w == needed),
            "the runtime stage installs {needed}: {install}"
        );
    }
    let user = runtime
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line");
    assert!(
        !user.starts_with('0') && !user.starts_with("root"),
        "{user}"
    );
    assert!(
        !runtime.contains("\nENTRYPOINT"),
        "GitLab's script: needs the shell"
    );
    for label in ["title", "version", "revision", "licenses"] {
        assert!(
            runtime.contains(&format!("org.opencontainers.image.{label}=")),
            "{label}"
        );
    }

    // Only what the build stage copies, then cargo's own reading of it.
    let build = &text[..text.rfind("\nFROM ").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let mut copied = 0;
    for line in build.lines().filter_map(|l| l.strip_prefix("COPY ")) {
        let mut words: Vec<&str> = line.split_whitespace().collect();
        let dest = words.pop().unwrap();
        for source in words {
            let from = project_root().join(source.trim_end_matches('/'));
            let to = if dest.ends_with('/') && dest != "./" {
                dir.path().join(dest.trim_end_matches('/'))
            } else {
                dir.path().join(source.trim_end_matches('/'))
            };
            copy(&from, &to);
            copied += 1;
        }
    }
    assert!(copied >= 4);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .current_dir(dir.path())
        .args([
            "metadata",
            "--locked",
            "--offline",
            "--format-version",
            "1",
            "--no-deps",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let targets: Vec<&str> = meta["packages"][0]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(targets.contains(&"sluice"), "{targets:?}");
    assert!(targets.contains(&"build-script-build"), "{targets:?}");
    // Every file the binary embeds is there too (the test modules' own
    // fixtures are not part of a release build).
    let mut missing = Vec::new();
    embedded(&dir.path().join("src"), &mut missing);
    assert_eq!(missing, Vec::<String>::new(), "embedded but not copied");
}

/// `include_str!`/`include_bytes!` paths under `dir` that do not resolve.
fn embedded(dir: &std::path::Path, missing: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            embedded(&path, missing);
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for macro_ in ["include_str!(\"", "include_bytes!(\""] {
            for (i, _) in text.match_indices(macro_) {
                let rest = &text[i + macro_.len()..];
                let target = &rest[..rest.find('"').unwrap()];
                if target.contains("/tests/") {
                    continue;
                }
                if !path.parent().unwrap().join(target).exists() {
                    missing.push(format!("{}: {target}", path.display()));
                }
            }
        }
    }
}

fn copy(from: &std::path::Path, to: &std::path::Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

#[test]
fn promotion_order_in_common_yaml_orders_the_environments() {
    let common = format!(
        "{}promotion:\n  order: [test, staging, prod]\n",
        common::BASE[0].1
    );
    let repo = Repo::with(&[
        ("values/common.yaml", Some(&common)),
        ("values/environments/dev.yaml", None),
        (
            "values/environments/test.yaml",
            Some("namespace: streams-test\n"),
        ),
        (
            "values/environments/staging.yaml",
            Some("namespace: streams-staging\n"),
        ),
    ]);
    assert_eq!(repo.sluice(&["lint"]).code, 0);
    // By name, staging would come before test.
    let p = pipeline(&repo, &["--jobs", "deploy"]);
    assert_eq!(
        job_names(&p),
        ["deploy-test", "deploy-staging", "deploy-prod"]
    );
    assert!(p["deploy-test"]["rules"][0].get("when").is_none());
    assert_eq!(
        p["deploy-staging"]["needs"],
        serde_json::json!(["deploy-test"])
    );
    // A new stream starts in the first.
    let out = repo.sluice(&["new", "stream", "clicks"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let stream = std::fs::read_to_string(repo.path().join("values/streams/clicks.yaml")).unwrap();
    assert!(
        stream.contains("  staging:\n    enabled: false\n"),
        "{stream}"
    );
    assert!(stream.contains("  prod:\n    enabled: false\n"), "{stream}");
    assert!(!stream.contains("  test:"), "{stream}");

    // An environment the order names but the repository has not.
    let typo = format!("{}promotion:\n  order: [dev, prdo]\n", common::BASE[0].1);
    let repo = Repo::with(&[("values/common.yaml", Some(&typo))]);
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "error[values/unknown-environment]: promotion.order names environment `prdo`, which has no file"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("help: did you mean `prod`?"),
        "{}",
        out.stdout
    );
    // ... and prod, which it does not list, comes last, with a warning.
    assert!(
        out.stdout.contains(
            "warning[values/unordered-environment]: promotion.order does not list environment `prod`"
        ),
        "{}",
        out.stdout
    );
}

#[test]
fn init_keeps_the_order_it_was_given() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("streams");
    let out = sluice_in(
        dir.path(),
        &[
            "init",
            root.to_str().unwrap(),
            "--env",
            "test",
            "--env",
            "staging",
            "--env",
            "prod",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = sluice_in(&root, &["ci", "--format", "json", "--jobs", "deploy"]);
    let p: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        job_names(&p),
        ["deploy-test", "deploy-staging", "deploy-prod"]
    );
}
