//! The merge-request workflow offline: rendering at git revisions, the
//! diff between two revisions, and selecting the streams a change touches.
//! A fixture repository with a real git history is built per test.

mod common;

use common::{Output, Repo};
use serde_json::Value;

fn git(repo: &Repo, args: &[&str]) -> String {
    common::git_in(repo.path(), args)
}

/// main: orders, payments, old. The branch: adds refunds (dev only),
/// changes orders' arguments (a restart), relabels payments (no restart),
/// removes old.
fn history() -> (Repo, String, String) {
    let repo = Repo::with(&[(
        "values/streams/old.yaml",
        Some("mainClass: com.example.Old\n"),
    )]);
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "base"]);
    let base = git(&repo, &["rev-parse", "HEAD"]);
    git(&repo, &["checkout", "-qb", "add-refunds"]);
    repo.write(
        "values/streams/refunds.yaml",
        b"mainClass: com.example.Refunds\nenvironments:\n  prod:\n    enabled: false\n",
    );
    repo.write(
        "values/streams/orders.yaml",
        b"mainClass: com.example.Orders\narguments: [--topic, orders-v2]\n",
    );
    repo.write(
        "values/streams/payments.yaml",
        b"mainClass: com.example.Payments\nlabels: {team: payments}\n",
    );
    std::fs::remove_file(repo.path().join("values/streams/old.yaml")).unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "add refunds"]);
    let head = git(&repo, &["rev-parse", "HEAD"]);
    (repo, base, head)
}

fn json(out: &Output) -> Value {
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

fn streams(doc: &Value) -> Vec<(String, String, bool)> {
    doc["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stream"].as_str().unwrap().into(),
                s["change"].as_str().unwrap().into(),
                s["restarts"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn offline_diff_between_revisions() {
    let (repo, base, head) = history();
    let dev = json(&repo.sluice(&[
        "diff", "--env", "dev", "--base", &base, "--head", &head, "--format", "json",
    ]));
    assert_eq!(
        streams(&dev),
        [
            ("old".into(), "pruned".into(), false),
            ("orders".into(), "changed".into(), true),
            ("payments".into(), "changed".into(), false),
            ("refunds".into(), "created".into(), false),
        ]
    );
    let orders = dev["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["stream"] == "orders")
        .unwrap();
    assert!(
        orders["diff"].as_str().unwrap().contains("+  - orders-v2"),
        "{}",
        orders["diff"]
    );
    assert!(
        orders["diff"]
            .as_str()
            .unwrap()
            .starts_with("--- base/SparkApplication/orders\n+++ head/SparkApplication/orders")
    );
    // refunds is dev-only: not created in prod.
    let prod = json(&repo.sluice(&[
        "diff", "--env", "prod", "--base", &base, "--head", &head, "--format", "json",
    ]));
    assert!(
        !streams(&prod).iter().any(|(s, ..)| s == "refunds"),
        "{prod:#}"
    );
    // --exit-code, and the working tree as the head (it equals HEAD here).
    assert_eq!(
        repo.sluice(&["diff", "--env", "dev", "--base", &base, "--exit-code"])
            .code,
        1
    );
    assert_eq!(
        repo.sluice(&["diff", "--env", "dev", "--base", &head, "--exit-code"])
            .code,
        0
    );
    // `mr` is GitLab's merge request base.
    let out = repo.sluice(&["diff", "--env", "dev", "--base", "mr"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("CI_MERGE_REQUEST_DIFF_BASE_SHA"),
        "{}",
        out.stderr
    );
    let out = assert_cmd::Command::cargo_bin("sluice")
        .unwrap()
        .arg("-C")
        .arg(repo.path())
        .args(["diff", "--env", "dev", "--base", "mr", "--format", "json"])
        .env("CI_MERGE_REQUEST_DIFF_BASE_SHA", &base)
        .output()
        .unwrap();
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["summary"]["created"], 1);
}

#[test]
fn the_markdown_report_for_a_merge_request() {
    let (repo, base, head) = history();
    let out = repo.sluice(&[
        "diff", "--env", "dev", "--base", &base, "--head", &head, "--format", "markdown",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("mr-report-dev", out.stdout);
}

#[test]
fn rev_reads_git_objects_and_never_touches_the_working_tree() {
    let (repo, base, _) = history();
    // An uncommitted edit in the working tree.
    repo.write(
        "values/streams/orders.yaml",
        b"mainClass: com.example.Orders\narguments: [--topic, uncommitted]\n",
    );
    let status_before = git(&repo, &["status", "--porcelain"]);
    let at_head = repo.sluice(&[
        "render", "--env", "dev", "--stream", "orders", "--rev", "HEAD",
    ]);
    assert!(
        at_head.stdout.contains("orders-v2") && !at_head.stdout.contains("uncommitted"),
        "{}",
        at_head.stdout
    );
    let at_base = repo.sluice(&["render", "--env", "dev", "--rev", &base]);
    assert!(at_base.stdout.contains("name: old"), "{}", at_base.stdout);
    let working = repo.sluice(&["render", "--env", "dev", "--stream", "orders"]);
    assert!(working.stdout.contains("uncommitted"));
    assert_eq!(repo.sluice(&["lint", "--rev", &base]).code, 0);
    // Nothing was checked out or changed.
    assert_eq!(git(&repo, &["status", "--porcelain"]), status_before);
    assert_eq!(
        git(&repo, &["rev-parse", "--abbrev-ref", "HEAD"]),
        "add-refunds"
    );
    assert!(
        std::fs::read_to_string(repo.path().join("values/streams/orders.yaml"))
            .unwrap()
            .contains("uncommitted")
    );
    let out = repo.sluice(&["render", "--env", "dev", "--rev", "no-such-branch"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("unknown revision `no-such-branch`"),
        "{}",
        out.stderr
    );
}

fn rendered_streams(out: &Output) -> Vec<String> {
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stdout
        .lines()
        .filter_map(|l| l.strip_prefix("# Source: sparkapplication.yaml.j2 (stream "))
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect()
}

#[test]
fn changed_since_selects_the_streams_a_change_touches() {
    let (repo, _, head) = history();
    let render = |env: &str| {
        rendered_streams(&repo.sluice(&["render", "--env", env, "--changed-since", &head]))
    };
    // Nothing changed since HEAD.
    assert!(render("dev").is_empty());
    // A stream file → that stream.
    repo.write(
        "values/streams/payments.yaml",
        b"mainClass: com.example.Payments\nlabels: {team: billing}\n",
    );
    assert_eq!(render("dev"), ["payments"]);
    // A new, untracked stream file counts too.
    repo.write(
        "values/streams/returns.yaml",
        b"mainClass: com.example.Returns\n",
    );
    assert_eq!(render("dev"), ["payments", "returns"]);
    git(&repo, &["checkout", "-q", "--", "."]);
    std::fs::remove_file(repo.path().join("values/streams/returns.yaml")).unwrap();
    // An environment file → that environment's streams only.
    repo.write(
        "values/environments/prod.yaml",
        b"namespace: streams-prod\nprotected: true\nexecutor: {instances: 3}\n",
    );
    assert!(render("dev").is_empty());
    assert_eq!(render("prod"), ["orders", "payments"]);
    git(&repo, &["checkout", "-q", "--", "."]);
    // common.yaml, a template, the schema → everything.
    for (path, text) in [
        (
            "values/common.yaml",
            format!("{}sink: s3a://lake/x\n", common::BASE[0].1),
        ),
        ("templates/extra.yaml.j2", String::new()),
        (
            "schemas/values.schema.json",
            sluice::values::validate::BUILTIN_SCHEMA.to_owned(),
        ),
    ] {
        repo.write(path, text.as_bytes());
        assert_eq!(render("dev"), ["orders", "payments", "refunds"], "{path}");
        git(&repo, &["checkout", "-q", "--", "."]);
        git(&repo, &["clean", "-qfd"]);
    }
    // lint and the offline diff honour it too.
    repo.write(
        "values/streams/orders.yaml",
        b"mainClass: com.example.Orders\nexecutor: {memory: 4Gi}\n",
    );
    repo.write(
        "values/streams/payments.yaml",
        b"mainClass: com.example.Payments\nexecutor: {memory: 4Gi}\n",
    );
    git(&repo, &["add", "values/streams/payments.yaml"]);
    git(&repo, &["commit", "-qm", "break payments"]);
    let out = repo.sluice(&["lint", "--changed-since", "HEAD"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("values/streams/orders.yaml")
            && !out.stdout.contains("values/streams/payments.yaml"),
        "{}",
        out.stdout
    );
}

#[test]
fn the_report_warns_when_an_environment_goes_over_budget() {
    let (repo, _, head) = history();
    repo.write(
        "values/environments/dev.yaml",
        b"namespace: streams-dev\nbudget: {cores: 16, memory: 40g}\n",
    );
    let out = repo.sluice(&[
        "diff", "--env", "dev", "--base", &head, "--format", "markdown",
    ]);
    assert!(
        out.stdout.contains("(budget: 16 cores, 40g)"),
        "{}",
        out.stdout
    );
    repo.write("values/streams/orders.yaml", b"mainClass: com.example.Orders\narguments: [--topic, orders-v2]\nexecutor: {instances: 4}\n");
    let out = repo.sluice(&[
        "diff", "--env", "dev", "--base", &head, "--format", "markdown",
    ]);
    assert!(
        out.stdout.contains(
            "> **Warning:** over the environment's budget: 19.0 cores requested, 16 budgeted"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("| `orders` | changed | **yes** | +4 cores, +8.8g |"),
        "{}",
        out.stdout
    );
    let json: Value = serde_json::from_str(
        &repo
            .sluice(&["diff", "--env", "dev", "--base", &head, "--format", "json"])
            .stdout,
    )
    .unwrap();
    assert!(
        json["requests"]["over_budget"]
            .as_str()
            .unwrap()
            .contains("cores"),
        "{json:#}"
    );
}

#[test]
fn moving_an_environment_to_another_namespace_creates_and_removes() {
    let (repo, _, head) = history();
    repo.write(
        "values/environments/dev.yaml",
        b"namespace: streams-dev-2\n",
    );
    let doc = json(&repo.sluice(&["diff", "--env", "dev", "--base", &head, "--format", "json"]));
    assert_eq!(doc["summary"]["created"], 3, "{doc:#}");
    assert_eq!(doc["summary"]["pruned"], 3, "{doc:#}");
}

#[test]
fn a_shallow_clone_without_the_base_says_how_to_fetch_it() {
    let (origin, base, _head) = history();
    git(
        &origin,
        &["config", "uploadpack.allowAnySHA1InWant", "true"],
    );
    let dir = tempfile::tempdir().unwrap();
    let clone = dir.path().join("clone");
    let url = format!("file://{}", origin.path().display());
    common::git_in(
        dir.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            "--branch",
            "add-refunds",
            &url,
            "clone",
        ],
    );
    // Depth 1: the base commit is not there.
    for args in [
        vec!["diff", "--env", "dev", "--base", base.as_str()],
        vec!["render", "--env", "dev", "--changed-since", base.as_str()],
    ] {
        let out = common::sluice_in(&clone, &args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("this is a shallow clone"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains(&format!("git fetch --depth=1 origin {base}")),
            "{}",
            out.stderr
        );
    }
    // The fix it names works, still shallow.
    common::git_in(&clone, &["fetch", "-q", "--depth=1", "origin", &base]);
    assert_eq!(
        common::git_in(&clone, &["rev-parse", "--is-shallow-repository"]),
        "true"
    );
    let out = common::sluice_in(
        &clone,
        &["diff", "--env", "dev", "--base", &base, "--format", "json"],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let doc = json(&out);
    assert!(
        streams(&doc)
            .iter()
            .any(|(s, action, _)| s == "refunds" && action == "created"),
        "{doc}"
    );
    let out = common::sluice_in(
        &clone,
        &["render", "--env", "dev", "--changed-since", &base],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}
