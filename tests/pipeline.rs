//! The `.gitlab-ci.yml` of a streams repository, run by a real GitLab
//! pipeline runner (gitlab-ci-local, shell executor) on a fixture
//! repository with a git history: a merge request that adds one stream.
//! gitlab-ci-local's path comes from SLUICE_GITLAB_CI_LOCAL; the test is
//! ignored unless asked for (`cargo test -- --include-ignored`, as in CI).

mod common;

use common::project_root;
use std::path::{Path, PathBuf};

fn runner() -> PathBuf {
    std::env::var_os("SLUICE_GITLAB_CI_LOCAL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!("SLUICE_GITLAB_CI_LOCAL is not set (npm install gitlab-ci-local@4.69.0, then point it at node_modules/.bin/gitlab-ci-local)")
        })
}

fn git(dir: &Path, args: &[&str]) -> String {
    common::git_in(dir, args)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Runs gitlab-ci-local; returns (stdout, stdout and stderr).
fn run(runner: &Path, dir: &Path, args: &[&str]) -> (String, String) {
    let out = std::process::Command::new(runner)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "gitlab-ci-local {args:?} failed:\n{text}"
    );
    (stdout, text)
}

#[test]
#[ignore = "needs gitlab-ci-local: SLUICE_GITLAB_CI_LOCAL=... cargo test -- --include-ignored"]
fn merge_request_pipeline_lints_renders_and_reports_the_new_stream() {
    let runner = runner();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    copy_dir(&project_root().join("values"), &repo.join("values"));
    std::fs::copy(
        project_root().join(".gitlab-ci.yml"),
        repo.join(".gitlab-ci.yml"),
    )
    .unwrap();
    git(repo, &["init", "-q", "-b", "main"]);
    git(repo, &["add", "."]);
    git(repo, &["commit", "-qm", "streams"]);
    let base = git(repo, &["rev-parse", "HEAD"]);
    git(repo, &["checkout", "-qb", "add-refunds"]);
    std::fs::write(
        repo.join("values/streams/refunds.yaml"),
        "# Refunds from the PSP.\nmainClass: com.example.bi.streams.Refunds\narguments: [--topic, psp.refunds.v1]\nsink: s3a://bi-lake-dev/raw/refunds\nenvironments:\n  prod:\n    enabled: false\n",
    )
    .unwrap();
    git(repo, &["add", "."]);
    git(repo, &["commit", "-qm", "Add the refunds stream"]);

    let sluice = assert_cmd::cargo::cargo_bin("sluice");
    let mr = [
        "--force-shell-executor",
        "--variable",
        "CI_PIPELINE_SOURCE=merge_request_event",
    ];
    // Which jobs an MR pipeline has, and a default-branch one.
    let (jobs, _) = run(&runner, repo, &[&mr[..], &["--list"]].concat());
    let names = |listing: &str| -> Vec<String> {
        listing
            .lines()
            .skip_while(|l| !l.starts_with("name"))
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect()
    };
    assert_eq!(names(&jobs), ["lint", "render", "diff"]);
    git(repo, &["checkout", "-q", "main"]);
    let (branch, _) = run(
        &runner,
        repo,
        &[
            "--list",
            "--variable",
            "CI_PIPELINE_SOURCE=push",
            "--variable",
            "CI_COMMIT_BRANCH=main",
            "--variable",
            "CI_DEFAULT_BRANCH=main",
        ],
    );
    assert_eq!(
        names(&branch),
        ["lint", "render", "deploy-dev", "deploy-prod"]
    );
    assert!(
        branch
            .lines()
            .any(|l| l.starts_with("deploy-prod") && l.contains("manual")),
        "{branch}"
    );
    git(repo, &["checkout", "-q", "add-refunds"]);

    // The MR pipeline's jobs, for real.
    let base_var = format!("CI_MERGE_REQUEST_DIFF_BASE_SHA={base}");
    let sluice_var = format!("SLUICE={}", sluice.display());
    let (_, output) = run(
        &runner,
        repo,
        &[
            &mr[..],
            &[
                "--variable",
                &base_var,
                "--variable",
                &sluice_var,
                "--artifacts-to-source",
                "lint",
                "render",
                "diff",
            ],
        ]
        .concat(),
    );
    for job in ["lint", "render", "diff"] {
        assert!(
            output
                .lines()
                .any(|l| l.contains("PASS") && l.contains(job)),
            "{job} did not pass:\n{output}"
        );
    }

    // Code Quality: a JSON array (empty: the example is clean).
    let quality: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo.join("gl-code-quality.json")).unwrap())
            .unwrap();
    assert_eq!(quality, serde_json::json!([]));
    // JUnit: one passing case per stream and environment, refunds in dev only.
    let junit = std::fs::read_to_string(repo.join("lint-junit.xml")).unwrap();
    assert!(
        junit.contains("<testsuites name=\"sluice lint\" tests=\"10\" failures=\"0\""),
        "{junit}"
    );
    assert!(
        junit.contains("<testcase classname=\"sluice.dev\" name=\"refunds\""),
        "{junit}"
    );
    assert!(
        !junit.contains("<testcase classname=\"sluice.prod\" name=\"refunds\""),
        "{junit}"
    );
    // Rendered manifests per environment.
    let refunds =
        std::fs::read_to_string(repo.join("rendered/dev/refunds/sparkapplication.yaml")).unwrap();
    assert!(
        refunds.contains("mainClass: com.example.bi.streams.Refunds"),
        "{refunds}"
    );
    assert!(
        repo.join("rendered/prod/orders/sparkapplication.yaml")
            .exists()
    );
    assert!(!repo.join("rendered/prod/refunds").exists());
    // The MR report: the new stream is created in dev, and prod is untouched.
    let report = std::fs::read_to_string(repo.join("sluice-diff.md")).unwrap();
    let dev = report.split("### `prod`").next().unwrap();
    assert!(
        dev.contains("### `dev`") && dev.contains("| `refunds` | created | - |"),
        "{report}"
    );
    assert!(
        report.contains("### `prod` (namespace `bi-streaming-prod`): 0 created, 0 changed"),
        "{report}"
    );
}
