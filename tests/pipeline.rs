//! The pipelines, run by a real GitLab pipeline runner (gitlab-ci-local,
//! shell executor), which also checks them against GitLab's CI schema:
//! - sluice's own `.gitlab-ci.yml`: the `build` job compiles sluice, the
//!   `sluice-pipeline` job makes the streams child pipeline with that
//!   binary, and the child's jobs run on a merge request that adds one
//!   stream, then on the default branch (a promotion pushed to a remote);
//! - a repository made by `sluice init`: its `.gitlab-ci.yml` makes the
//!   child pipeline, for 2 environments and, after adding one file, 3.
//!
//! gitlab-ci-local's path comes from SLUICE_GITLAB_CI_LOCAL; the tests are
//! ignored unless asked for (`cargo test -- --include-ignored`, as in CI).

mod common;

use common::project_root;
use serde_json::Value;
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

/// The project's files as a fresh clone has them (tracked, and new ones
/// not ignored).
fn copy_project(to: &Path) {
    let root = project_root();
    let listing = git(
        &root,
        &["ls-files", "--cached", "--others", "--exclude-standard"],
    );
    for path in listing.lines().filter(|p| root.join(p).is_file()) {
        let target = to.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(root.join(path), target).unwrap();
    }
}

/// gitlab-ci-local with these arguments; `(ok, stdout, stdout and stderr)`.
fn try_run(dir: &Path, args: &[&str], path: Option<&Path>) -> (bool, String, String) {
    let mut command = std::process::Command::new(runner());
    command.current_dir(dir).args(args);
    if let Some(bin) = path {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![bin.to_path_buf()];
        dirs.extend(std::env::split_paths(&path));
        command.env("PATH", std::env::join_paths(dirs).unwrap());
    }
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    (out.status.success(), stdout, text)
}

fn run(dir: &Path, args: &[&str]) -> (String, String) {
    run_with_path(dir, args, None)
}

fn run_with_path(dir: &Path, args: &[&str], path: Option<&Path>) -> (String, String) {
    let (ok, stdout, text) = try_run(dir, args, path);
    assert!(ok, "gitlab-ci-local {args:?} failed:\n{text}");
    (stdout, text)
}

/// The jobs a pipeline would run, in order, with their `when` and `needs`
/// (GitLab's own evaluation of `rules:`, as gitlab-ci-local does it).
fn jobs(dir: &Path, file: &str, variables: &[&str]) -> Vec<(String, String, Vec<String>)> {
    let mut args = vec!["--file", file, "--list-json"];
    for v in variables {
        args.extend(["--variable", v]);
    }
    let (stdout, _) = run(dir, &args);
    // The listing follows any warnings.
    let json = stdout
        .find("\n[")
        .map_or(stdout.as_str(), |i| &stdout[i + 1..]);
    let list: Vec<Value> = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    list.iter()
        .filter(|j| j["when"] != "never")
        .map(|j| {
            let needs = j["needs"]
                .as_array()
                .map(|n| {
                    n.iter()
                        .filter(|n| n.get("pipeline").is_none())
                        .filter_map(|n| n["job"].as_str().or(n.as_str()).map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            (
                j["name"].as_str().unwrap().to_owned(),
                j["when"].as_str().unwrap().to_owned(),
                needs,
            )
        })
        .collect()
}

fn names(jobs: &[(String, String, Vec<String>)]) -> Vec<&str> {
    jobs.iter().map(|(n, _, _)| n.as_str()).collect()
}

fn job<'a>(
    jobs: &'a [(String, String, Vec<String>)],
    name: &str,
) -> &'a (String, String, Vec<String>) {
    jobs.iter()
        .find(|(n, _, _)| n == name)
        .unwrap_or_else(|| panic!("no job {name} in {jobs:?}"))
}

fn passed(output: &str, job: &str) -> bool {
    output
        .lines()
        .any(|l| l.contains("PASS") && l.split_whitespace().any(|w| w == job))
}

const MR: &str = "SLUICE_PIPELINE_SOURCE=merge_request_event";
const SCHEDULE: &str = "SLUICE_PIPELINE_SOURCE=schedule";
const PUSH: &str = "SLUICE_PIPELINE_SOURCE=push";

/// Where the build job's compilation is kept between runs (a release
/// build from scratch takes minutes).
fn build_cache() -> PathBuf {
    let base = std::env::var_os("SLUICE_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/sluice")
        });
    base.join("pipeline-build-target")
}

#[test]
#[ignore = "needs gitlab-ci-local: SLUICE_GITLAB_CI_LOCAL=... cargo test -- --include-ignored"]
fn sluices_pipeline_builds_it_and_runs_the_generated_streams_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    copy_project(repo);
    git(repo, &["init", "-q", "-b", "main"]);
    git(repo, &["add", "."]);
    git(repo, &["commit", "-qm", "sluice"]);
    let base = git(repo, &["rev-parse", "HEAD"]);
    git(repo, &["checkout", "-qb", "add-refunds"]);
    std::fs::write(
        repo.join("values/streams/refunds.yaml"),
        "# Refunds from the PSP.\nmainClass: com.example.bi.streams.Refunds\narguments: [--topic, psp.refunds.v1]\nsink: s3a://bi-lake-dev/raw/refunds\nenvironments:\n  prod:\n    enabled: false\n",
    )
    .unwrap();
    git(repo, &["add", "."]);
    git(repo, &["commit", "-qm", "Add the refunds stream"]);

    // The parent pipeline: build once, then the generated child; a tag
    // publishes instead.
    let parent = |vars: &[&str]| {
        let mut v = vec!["CI_COMMIT_TAG="];
        v.extend(vars);
        jobs(repo, ".gitlab-ci.yml", &v)
    };
    let mr = parent(&["CI_PIPELINE_SOURCE=merge_request_event"]);
    assert_eq!(names(&mr), ["build", "sluice-pipeline", "streams"]);
    assert_eq!(job(&mr, "sluice-pipeline").2, ["build"]);
    let tag = jobs(
        repo,
        ".gitlab-ci.yml",
        &["CI_PIPELINE_SOURCE=push", "CI_COMMIT_TAG=v0.1.0"],
    );
    assert_eq!(
        names(&tag),
        ["build", "container-image", "publish", "release"]
    );
    assert_eq!(job(&tag, "release").2, ["publish", "container-image"]);

    // The build job, for real (its cargo target directory kept outside).
    let target = format!("CARGO_TARGET_DIR={}", build_cache().display());
    let cargo_home = format!(
        "CARGO_HOME={}",
        std::env::var("CARGO_HOME")
            .unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap()))
    );
    let (_, output) = run(
        repo,
        &[
            "--force-shell-executor",
            "--variable",
            "CI_PIPELINE_SOURCE=merge_request_event",
            "--variable",
            &target,
            "--variable",
            &cargo_home,
            "--artifacts-to-source",
            "build",
            "sluice-pipeline",
        ],
    );
    assert!(passed(&output, "build"), "{output}");
    assert!(passed(&output, "sluice-pipeline"), "{output}");
    let built = repo.join("bin/sluice");
    let version = std::process::Command::new(&built)
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout),
        format!("sluice {}\n", env!("CARGO_PKG_VERSION"))
    );
    let sums = std::process::Command::new("sha256sum")
        .current_dir(repo.join("bin"))
        .args(["--check", "sluice.sha256"])
        .output()
        .unwrap();
    assert!(
        sums.status.success(),
        "{}",
        String::from_utf8_lossy(&sums.stdout)
    );
    for page in ["sluice.1", "sluice-lint.1", "sluice-ci.1"] {
        assert!(repo.join("man").join(page).is_file(), "{page}");
    }
    let child = std::fs::read_to_string(repo.join("sluice-pipeline.yml")).unwrap();
    assert!(
        child.contains("  - pipeline: $PARENT_PIPELINE_ID\n    job: build\n"),
        "{child}"
    );

    // The child pipeline of a merge request, of the default branch, of a
    // schedule.
    let file = "sluice-pipeline.yml";
    let mr = jobs(repo, file, &[MR]);
    assert_eq!(
        names(&mr),
        ["lint", "render-dev", "render-prod", "diff-dev", "diff-prod"]
    );
    // The example has no clusters: checks only, on every branch.
    git(repo, &["checkout", "-q", "main"]);
    assert_eq!(
        names(&jobs(repo, file, &[PUSH])),
        ["lint", "render-dev", "render-prod"]
    );
    assert!(jobs(repo, file, &[SCHEDULE]).is_empty());
    git(repo, &["checkout", "-q", "add-refunds"]);

    // The merge request's jobs, for real, with the binary `build` made.
    let base_var = format!("SLUICE_DIFF_BASE={base}");
    let (_, output) = run(
        repo,
        &[
            "--file",
            file,
            "--force-shell-executor",
            "--variable",
            MR,
            "--variable",
            &base_var,
            "--artifacts-to-source",
            "lint",
            "render-dev",
            "render-prod",
            "diff-dev",
            "diff-prod",
        ],
    );
    for job in ["lint", "render-dev", "render-prod", "diff-dev", "diff-prod"] {
        assert!(passed(&output, job), "{job} did not pass:\n{output}");
    }
    // Code Quality: a JSON array (empty: the example is clean).
    let quality: Value =
        serde_json::from_str(&std::fs::read_to_string(repo.join("gl-code-quality.json")).unwrap())
            .unwrap();
    assert_eq!(quality, serde_json::json!([]));
    // JUnit: one passing case per stream and environment, refunds in dev only.
    let junit = std::fs::read_to_string(repo.join("lint-junit.xml")).unwrap();
    assert!(
        junit.contains("<testsuites name=\"sluice lint\" tests=\"12\" failures=\"0\""),
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
    let dev = std::fs::read_to_string(repo.join("sluice-diff-dev.md")).unwrap();
    assert!(
        dev.contains("### `dev`") && dev.contains("| `refunds` | created | - |"),
        "{dev}"
    );
    let prod = std::fs::read_to_string(repo.join("sluice-diff-prod.md")).unwrap();
    assert!(
        prod.contains("### `prod` (namespace `bi-streaming-prod`): 0 created, 0 changed"),
        "{prod}"
    );

    // A streams repository's whole pipeline, made by the binary `build`
    // made, on the default branch after dev took a new image.
    git(repo, &["checkout", "-q", "main"]);
    let dev_file = repo.join("values/environments/dev.yaml");
    let mut dev_values = std::fs::read_to_string(&dev_file).unwrap();
    dev_values.push_str("spark:\n  image: registry.example.com/bi/spark-streams:1.15.0\n");
    std::fs::write(&dev_file, dev_values).unwrap();
    git(
        repo,
        &[
            "commit",
            "-qm",
            "dev runs 1.15.0",
            "values/environments/dev.yaml",
        ],
    );
    let made = std::process::Command::new(&built)
        .current_dir(repo)
        .args([
            "ci",
            "--sluice",
            "bin/sluice",
            "--output",
            "full-pipeline.yml",
        ])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let file = "full-pipeline.yml";
    let branch = jobs(repo, file, &[PUSH]);
    assert_eq!(
        names(&branch),
        [
            "lint",
            "render-dev",
            "render-prod",
            "deploy-dev",
            "deploy-prod",
            "promote-dev-to-prod"
        ]
    );
    assert_eq!(job(&branch, "deploy-dev").1, "on_success");
    assert_eq!(
        job(&branch, "deploy-prod"),
        &(
            "deploy-prod".into(),
            "manual".into(),
            vec!["lint".into(), "render-prod".into(), "deploy-dev".into()]
        )
    );
    assert_eq!(job(&branch, "promote-dev-to-prod").1, "manual");
    assert_eq!(
        names(&jobs(repo, file, &[SCHEDULE])),
        ["drift-dev", "drift-prod"]
    );
    // The manual promote job commits the promotion and pushes it as a
    // branch, with the push options that open its merge request.
    let origin = tempfile::tempdir().unwrap();
    git(origin.path(), &["init", "-q", "--bare"]);
    git(
        origin.path(),
        &["config", "receive.advertisePushOptions", "true"],
    );
    // The remote records the push options it gets, as GitLab reads them.
    let hook = origin.path().join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\ni=0\nwhile [ $i -lt \"${GIT_PUSH_OPTION_COUNT:-0}\" ]; do eval \"echo \\$GIT_PUSH_OPTION_$i\"; i=$((i+1)); done > \"$GIT_DIR/push-options\"\n",
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x", hook.to_str().unwrap()])
        .status()
        .unwrap();
    let push_url = format!("SLUICE_PUSH_URL={}", origin.path().display());
    let (_, output) = run(
        repo,
        &[
            "--file",
            file,
            "--force-shell-executor",
            "--variable",
            PUSH,
            "--variable",
            &push_url,
            "--variable",
            "SLUICE_PUSH_TOKEN=s3cr3t-push-token",
            "promote-dev-to-prod",
        ],
    );
    assert!(passed(&output, "promote-dev-to-prod"), "{output}");
    let pushed = git(
        origin.path(),
        &["branch", "--list", "sluice/promote-dev-to-prod-*"],
    );
    let pushed = pushed.trim();
    assert!(!pushed.is_empty(), "{output}");
    let prod_values = git(
        origin.path(),
        &["show", &format!("{pushed}:values/environments/prod.yaml")],
    );
    assert!(
        prod_values.contains("image: registry.example.com/bi/spark-streams:1.15.0"),
        "{prod_values}"
    );
    assert_eq!(
        std::fs::read_to_string(origin.path().join("push-options")).unwrap(),
        "merge_request.create\nmerge_request.target=main\nmerge_request.title=Promote dev to prod\n"
    );
    // The token is in no line of the log, plain or as the header.
    for secret in [
        "s3cr3t-push-token",
        "Z2l0bGFiLWNpLXRva2VuOnMzY3IzdC1wdXNoLXRva2Vu",
    ] {
        assert!(!output.contains(secret), "{output}");
    }
    // The job's checkout is untouched: the commit is on the branch only.
    assert!(
        !std::fs::read_to_string(repo.join("values/environments/prod.yaml"))
            .unwrap()
            .contains("1.15.0")
    );
}

#[test]
#[ignore = "needs gitlab-ci-local: SLUICE_GITLAB_CI_LOCAL=... cargo test -- --include-ignored"]
fn an_init_repository_gets_jobs_for_each_of_its_environments() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("streams");
    let sluice = assert_cmd::cargo::cargo_bin("sluice");
    let bin = sluice.parent().unwrap();
    let out = std::process::Command::new(&sluice)
        .arg("init")
        .arg(&repo)
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = std::process::Command::new(&sluice)
        .args(["-C", repo.to_str().unwrap(), "new", "stream", "clicks"])
        .output()
        .unwrap();
    assert!(out.status.success());
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "streams"]);

    // The parent: make the child pipeline, trigger it.
    let parent = jobs(&repo, ".gitlab-ci.yml", &["CI_PIPELINE_SOURCE=push"]);
    assert_eq!(names(&parent), ["sluice-pipeline", "streams"]);
    let generate = |repo: &Path| {
        let (_, output) = run_with_path(
            repo,
            &[
                "--force-shell-executor",
                "--artifacts-to-source",
                "sluice-pipeline",
            ],
            Some(bin),
        );
        assert!(passed(&output, "sluice-pipeline"), "{output}");
    };
    generate(&repo);
    let file = "sluice-pipeline.yml";
    let two = jobs(&repo, file, &[PUSH]);
    assert_eq!(
        names(&two),
        [
            "lint",
            "render-dev",
            "render-prod",
            "deploy-dev",
            "deploy-prod",
            "promote-dev-to-prod"
        ]
    );
    assert_eq!(
        job(&two, "deploy-prod").2,
        ["lint", "render-prod", "deploy-dev"]
    );

    // A third environment is one file: its jobs come with it, in
    // promotion order.
    std::fs::write(
        repo.join("values/environments/staging.yaml"),
        "namespace: streams-staging\n",
    )
    .unwrap();
    // ... and its place in the order init wrote, which lint asks for.
    let lint = std::process::Command::new(&sluice)
        .args(["-C", repo.to_str().unwrap(), "--color", "never", "lint"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&lint.stdout)
            .contains("warning[values/unordered-environment]: promotion.order does not list environment `staging`"),
        "{}",
        String::from_utf8_lossy(&lint.stdout)
    );
    let common = repo.join("values/common.yaml");
    let text = std::fs::read_to_string(&common).unwrap();
    assert!(text.contains("  order: [dev, prod]\n"), "{text}");
    std::fs::write(
        &common,
        text.replace("  order: [dev, prod]\n", "  order: [dev, staging, prod]\n"),
    )
    .unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "staging"]);
    generate(&repo);
    let three = jobs(&repo, file, &[PUSH]);
    assert_eq!(
        names(&three),
        [
            "lint",
            "render-dev",
            "render-staging",
            "render-prod",
            "deploy-dev",
            "deploy-staging",
            "deploy-prod",
            "promote-dev-to-staging",
            "promote-staging-to-prod"
        ]
    );
    assert_eq!(job(&three, "deploy-dev").1, "on_success");
    assert_eq!(
        job(&three, "deploy-staging").2,
        ["lint", "render-staging", "deploy-dev"]
    );
    assert_eq!(job(&three, "deploy-staging").1, "manual");
    assert_eq!(
        job(&three, "deploy-prod").2,
        ["lint", "render-prod", "deploy-staging"]
    );
    assert_eq!(
        names(&jobs(&repo, file, &[SCHEDULE])),
        ["drift-dev", "drift-staging", "drift-prod"]
    );
    let mr = jobs(&repo, file, &[MR]);
    assert_eq!(
        names(&mr),
        [
            "lint",
            "render-dev",
            "render-staging",
            "render-prod",
            "diff-dev",
            "diff-staging",
            "diff-prod"
        ]
    );
    // The merge request's lint and staging render, for real.
    let (_, output) = run_with_path(
        &repo,
        &[
            "--file",
            file,
            "--force-shell-executor",
            "--variable",
            MR,
            "--artifacts-to-source",
            "lint",
            "render-dev",
            "render-staging",
        ],
        Some(bin),
    );
    for job in ["lint", "render-dev", "render-staging"] {
        assert!(passed(&output, job), "{job}: {output}");
    }
    // The stream was made before staging existed: it is disabled only in
    // prod, by name.
    for env in ["dev", "staging"] {
        let path = format!("rendered/{env}/clicks/sparkapplication.yaml");
        assert!(repo.join(&path).is_file(), "{path}");
    }
    // A deploy without the environment's kubeconfig says which variable.
    let (ok, _, output) = try_run(
        &repo,
        &[
            "--file",
            file,
            "--force-shell-executor",
            "--variable",
            PUSH,
            "deploy-dev",
        ],
        Some(bin),
    );
    assert!(!ok, "{output}");
    assert!(
        output.contains("the file variable DEV_KUBECONFIG is not set"),
        "{output}"
    );
}
