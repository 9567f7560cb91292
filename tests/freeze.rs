//! Change windows (`freeze:` in an environment file) with an injected
//! clock (`SLUICE_NOW`): apply refuses inside a window, before it asks the
//! cluster anything, unless `--ignore-freeze`; the diff and the MR report
//! say when the next allowed time is. No cluster and no real waiting: an
//! apply that gets past the check fails to connect (exit 3).

mod common;

use common::Repo;

const PROD: &str = "namespace: streams-prod\nfreeze:\n  timeZone: Europe/Berlin\n  windows:\n    - {start: \"2026-12-21\", end: \"2027-01-04\"}\n    - {days: [fri], start: \"16:00\", end: \"24:00\"}\n";

fn repo() -> Repo {
    Repo::with(&[("values/environments/prod.yaml", Some(PROD))])
}

fn apply(repo: &Repo, now: &str, extra: &[&str]) -> common::Output {
    let mut args = vec![
        "apply",
        "--env",
        "prod",
        "--kubeconfig",
        "/nonexistent/kubeconfig",
    ];
    args.extend_from_slice(extra);
    common::sluice_with_env(repo.path(), &args, &[("SLUICE_NOW", now)])
}

#[test]
fn apply_refuses_inside_a_window_before_asking_the_cluster() {
    let repo = repo();
    // Friday 2026-12-04, 17:00 in Berlin.
    let out = apply(&repo, "2026-12-04T16:00:00Z", &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("environment `prod` is frozen now (freeze windows): apply is allowed from 2026-12-05 00:00 Europe/Berlin"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--ignore-freeze"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("kubeconfig"),
        "the cluster was not asked: {}",
        out.stderr
    );

    // Inside the holiday freeze.
    let out = apply(&repo, "2026-12-24T12:00:00Z", &[]);
    assert!(
        out.stderr
            .contains("allowed from 2027-01-04 00:00 Europe/Berlin"),
        "{}",
        out.stderr
    );

    // Past the check: outside any window, with --ignore-freeze, or a dry
    // run (which says so); each then fails to reach the (absent) cluster.
    for (now, extra, says) in [
        ("2026-12-04T14:59:00Z", &[][..], None),
        (
            "2026-12-04T16:00:00Z",
            &["--ignore-freeze"][..],
            Some("--ignore-freeze applies anyway"),
        ),
        (
            "2026-12-04T16:00:00Z",
            &["--dry-run"][..],
            Some("frozen now"),
        ),
    ] {
        let out = apply(&repo, now, extra);
        assert_eq!(out.code, 3, "{now} {extra:?}: {}", out.stderr);
        if let Some(says) = says {
            assert!(out.stderr.contains(says), "{}", out.stderr);
        }
    }
}

#[test]
fn the_merge_request_report_says_when_the_next_allowed_time_is() {
    let repo = repo();
    let git = |args: &[&str]| common::git_in(repo.path(), args);
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "base"]);
    repo.write(
        "values/streams/orders.yaml",
        b"mainClass: com.example.Orders\narguments: [--topic, orders-v2]\nsink: s3a://lake/orders\n",
    );
    let diff = |now: &str, format: &str| {
        common::sluice_with_env(
            repo.path(),
            &[
                "diff", "--env", "prod", "--base", "HEAD", "--format", format,
            ],
            &[("SLUICE_NOW", now)],
        )
    };
    let frozen = diff("2026-12-24T12:00:00Z", "markdown");
    assert_eq!(frozen.code, 0, "{}", frozen.stderr);
    assert!(
        frozen.stdout.contains("> **Freeze:** the environment is frozen now (freeze windows): apply is allowed from 2027-01-04 00:00 Europe/Berlin."),
        "{}",
        frozen.stdout
    );
    let json: serde_json::Value =
        serde_json::from_str(&diff("2026-12-24T12:00:00Z", "json").stdout).unwrap();
    assert!(json["frozen"].as_str().unwrap().contains("2027-01-04"));
    let open = diff("2026-12-01T12:00:00Z", "markdown");
    assert!(!open.stdout.contains("Freeze"), "{}", open.stdout);
}

#[test]
fn a_window_that_cannot_be_read_is_named() {
    let repo = Repo::with(&[(
        "values/environments/prod.yaml",
        Some("namespace: streams-prod\nfreeze: {timeZone: Mars/Olympus, windows: []}\n"),
    )]);
    let out = apply(&repo, "2026-12-04T16:00:00Z", &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "values/environments/prod.yaml: freeze.timeZone: `Mars/Olympus` is no IANA time zone"
        ),
        "{}",
        out.stderr
    );
    // The schema knows the days of the week.
    repo.write(
        "values/environments/prod.yaml",
        b"namespace: streams-prod\nfreeze: {windows: [{days: [fry], start: \"16:00\", end: \"18:00\"}]}\n",
    );
    let lint = repo.sluice(&["lint"]);
    assert_eq!(lint.code, 1, "{}", lint.stdout);
    assert!(
        lint.stdout.contains("values/environments/prod.yaml:2:"),
        "{}",
        lint.stdout
    );
    let bad_now = apply(
        &Repo::with(&[("values/environments/prod.yaml", Some(PROD))]),
        "tomorrow",
        &[],
    );
    assert_eq!(bad_now.code, 2, "{}", bad_now.stderr);
    assert!(bad_now.stderr.contains("SLUICE_NOW"), "{}", bad_now.stderr);
}

#[test]
fn restart_refuses_inside_a_window_too() {
    let repo = repo();
    let restart = |extra: &[&str]| {
        let mut args = vec![
            "restart",
            "--env",
            "prod",
            "--stream",
            "orders",
            "--yes",
            "--kubeconfig",
            "/nonexistent/kubeconfig",
        ];
        args.extend_from_slice(extra);
        common::sluice_with_env(
            repo.path(),
            &args,
            &[("SLUICE_NOW", "2026-12-24T12:00:00Z")],
        )
    };
    let out = restart(&[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("frozen now"), "{}", out.stderr);
    assert!(
        out.stderr.contains("nothing was restarted"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("kubeconfig"), "{}", out.stderr);
    // Past the check with --ignore-freeze: then the (absent) cluster.
    let out = restart(&["--ignore-freeze"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("--ignore-freeze restarts anyway"),
        "{}",
        out.stderr
    );
}
