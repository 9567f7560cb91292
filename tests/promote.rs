//! `sluice promote`: prod runs what dev runs, by minimal edits that keep
//! every comment and every other line as it was, optionally committed.

mod common;

use common::Repo;

fn git(repo: &Repo, args: &[&str]) -> String {
    common::git_in(repo.path(), args)
}

const REFUNDS: &str = "# Refunds from the PSP: new, dev only for now.\nmainClass: com.example.Refunds   # the entry point\narguments:\n  - --topic\n  - psp.refunds.v1\n\nenvironments:\n  # Not in prod until promoted.\n  prod:\n    enabled: false\n    sink: s3a://lake-prod/refunds\n";

/// dev runs image 1.1.0 and the refunds stream; prod runs 1.0.0 without it.
fn fixture() -> Repo {
    let repo = Repo::with(&[
        (
            "values/environments/dev.yaml",
            Some("namespace: streams-dev\nspark:\n  image: registry.example.com/spark:1.1.0\n"),
        ),
        ("values/streams/refunds.yaml", Some(REFUNDS)),
    ]);
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["config", "user.name", "Release Bot"]);
    git(&repo, &["config", "user.email", "release@example.com"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "base"]);
    repo
}

fn prod_image(repo: &Repo, stream: &str) -> String {
    let out = repo.sluice(&[
        "render", "--env", "prod", "--stream", stream, "--format", "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    doc["items"][0]["spec"]["image"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn promote_brings_a_new_stream_to_prod_with_a_minimal_edit_and_a_commit() {
    let repo = fixture();
    // Not in prod yet.
    let out = repo.sluice(&["render", "--env", "prod", "--stream", "refunds"]);
    assert!(!out.stdout.contains("name: refunds"));
    let head_before = git(&repo, &["rev-parse", "HEAD"]);

    let out = repo.sluice(&[
        "promote", "--from", "dev", "--to", "prod", "--stream", "refunds", "--commit",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    insta::assert_snapshot!(
        "promote-refunds",
        out.stdout
            .lines()
            .filter(|l| !l.starts_with("committed "))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // The stream now runs in prod, on dev's image.
    assert_eq!(
        prod_image(&repo, "refunds"),
        "registry.example.com/spark:1.1.0"
    );
    // Only the lines that had to change changed: comments and layout stay.
    let after = std::fs::read_to_string(repo.path().join("values/streams/refunds.yaml")).unwrap();
    let diff = git(
        &repo,
        &[
            "diff",
            "--unified=0",
            &head_before,
            "HEAD",
            "--",
            "values/streams/refunds.yaml",
        ],
    );
    let changed = common::changed_lines(&diff);
    assert_eq!(
        changed,
        [
            "-    enabled: false",
            "+    enabled: true",
            "+    spark:",
            "+      image: registry.example.com/spark:1.1.0"
        ]
    );
    for comment in [
        "# Refunds from the PSP",
        "# the entry point",
        "# Not in prod until promoted.",
    ] {
        assert!(after.contains(comment));
    }
    // One commit, on the current branch, saying what was promoted.
    assert_eq!(git(&repo, &["rev-parse", "HEAD~1"]), head_before);
    assert_eq!(git(&repo, &["rev-parse", "--abbrev-ref", "HEAD"]), "main");
    let message = git(&repo, &["log", "-1", "--format=%B"]);
    assert!(
        message.starts_with("Promote dev to prod: refunds"),
        "{message}"
    );
    assert!(
        message.contains(
            "- refunds (enabled by this promotion)\n    spark.image: registry.example.com/spark:1.0.0 → registry.example.com/spark:1.1.0\n"
        ),
        "{message}"
    );
    assert_eq!(git(&repo, &["log", "-1", "--format=%an"]), "Release Bot");
    assert!(git(&repo, &["status", "--porcelain"]).is_empty());
    // Promoting it again has nothing to do.
    let out = repo.sluice(&[
        "promote", "--from", "dev", "--to", "prod", "--stream", "refunds",
    ]);
    assert!(out.stdout.contains("nothing to promote"), "{}", out.stdout);
}

#[test]
fn dry_run_writes_nothing_and_commit_refuses_a_dirty_tree() {
    let repo = fixture();
    let before =
        std::fs::read_to_string(repo.path().join("values/environments/prod.yaml")).unwrap();
    let out = repo.sluice(&["promote", "--from", "dev", "--to", "prod", "--dry-run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("+++ b/values/environments/prod.yaml")
            && out.stdout.contains("dry run: nothing was written"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("changed SparkApplication/orders (stream orders), restarts the stream"),
        "{}",
        out.stdout
    );
    assert_eq!(
        std::fs::read_to_string(repo.path().join("values/environments/prod.yaml")).unwrap(),
        before
    );
    assert!(git(&repo, &["status", "--porcelain"]).is_empty());

    repo.write(
        "values/streams/payments.yaml",
        b"mainClass: com.example.Payments\n# a local edit\n",
    );
    let out = repo.sluice(&["promote", "--from", "dev", "--to", "prod", "--commit"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("uncommitted changes"), "{}", out.stderr);
    assert_eq!(git(&repo, &["rev-list", "--count", "HEAD"]), "1");
}

#[test]
fn promotion_keys_come_from_common_yaml() {
    let repo = fixture();
    // Only the Spark version is promoted; the image stays.
    repo.write(
        "values/common.yaml",
        format!("{}promotion:\n  keys: [spark.version]\n", common::BASE[0].1).as_bytes(),
    );
    repo.write("values/environments/dev.yaml", b"namespace: streams-dev\nspark:\n  image: registry.example.com/spark:1.1.0\n  version: \"3.5.2\"\n");
    let out = repo.sluice(&[
        "promote", "--from", "dev", "--to", "prod", "--stream", "orders",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let orders = std::fs::read_to_string(repo.path().join("values/streams/orders.yaml")).unwrap();
    assert!(
        orders.ends_with("environments:\n  prod:\n    spark:\n      version: \"3.5.2\"\n"),
        "{orders}"
    );
    assert_eq!(
        prod_image(&repo, "orders"),
        "registry.example.com/spark:1.0.0"
    );
}

#[test]
fn promote_refuses_an_edit_that_would_reach_other_environments() {
    let repo = fixture();
    // prod and qa share the top-level block through an alias.
    repo.write("values/environments/qa.yaml", b"namespace: streams-qa\n");
    repo.write(
        "values/streams/orders.yaml",
        b"mainClass: com.example.Orders\nenvironments:\n  prod: &base\n    mainClass: com.example.Orders\n  qa: *base\n",
    );
    let out = repo.sluice(&[
        "promote", "--from", "dev", "--to", "prod", "--stream", "orders",
    ]);
    // Either the aliased block is left alone (a new key under prod) or the
    // edit is refused; qa must never change.
    let qa = repo.sluice(&[
        "values", "--env", "qa", "--stream", "orders", "--format", "json",
    ]);
    let qa: serde_json::Value = serde_json::from_str(&qa.stdout).unwrap();
    assert!(
        qa["orders"].get("spark").is_none()
            || qa["orders"]["spark"]["image"] != "registry.example.com/spark:1.1.0",
        "qa changed:\n{}{}",
        out.stdout,
        out.stderr
    );
}

// ---- Promotion by outcome, in every layout --------------------------------

const HELM_COMMON: &str = "spark:\n  version: \"3.5.1\"\n  image: registry.example.com/spark-streams:1.14.0\napplicationFile: local:///opt/app.jar\nrestartPolicy: Always\ndriver:\n  cores: 1\n  coreLimit: \"1\"\n  memory: 2g\nexecutor:\n  cores: 2\n  coreLimit: \"2\"\n  instances: 2\n  memory: 4g\n\nstreams:\n  - name: orders\n    mainClass: com.example.Orders\n    environments:\n      dev:\n        arguments: [--topic, orders.v2, --verbose]\n      prod:\n        arguments:\n          - --topic\n          # still on v1\n          - orders.v1  # old\n          - --verbose\n  - name: payments\n    mainClass: com.example.Payments\n  - name: refunds\n    mainClass: com.example.Refunds\n    environments:\n      prod:\n        enabled: false\n";

/// One common.yaml with a `streams:` list; dev runs 1.15.0, prod 1.14.0.
fn helm_shaped() -> Repo {
    let repo = Repo::with(&[
        ("values/common.yaml", Some(HELM_COMMON)),
        (
            "values/environments/dev.yaml",
            Some(
                "namespace: streams-dev\nspark:\n  image: registry.example.com/spark-streams:1.15.0\n",
            ),
        ),
        ("values/streams/orders.yaml", None),
        ("values/streams/payments.yaml", None),
    ]);
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "base"]);
    repo
}

fn read(repo: &Repo, path: &str) -> String {
    std::fs::read_to_string(repo.path().join(path)).unwrap()
}

fn spec(repo: &Repo, env: &str) -> std::collections::BTreeMap<String, serde_json::Value> {
    common::rendered(repo.path(), env, &[])
        .into_iter()
        .filter(|o| o["kind"] == "SparkApplication")
        .map(|o| {
            (
                o["metadata"]["name"].as_str().unwrap().to_owned(),
                o["spec"].clone(),
            )
        })
        .collect()
}

fn promote(repo: &Repo, args: &[&str]) -> common::Output {
    let mut all = vec!["promote", "--from", "dev", "--to", "prod"];
    all.extend_from_slice(args);
    repo.sluice(&all)
}

#[test]
fn a_helm_shaped_repository_has_something_to_promote() {
    let repo = helm_shaped();
    let dev_before = spec(&repo, "dev");
    let out = promote(&repo, &["--dry-run"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("nothing to promote"), "{}", out.stdout);
    insta::assert_snapshot!("promote-helm-shaped-dry-run", out.stdout);
    // One edit to prod.yaml for the image every promoted stream takes.
    assert!(
        out.stdout.contains("+++ b/values/environments/prod.yaml"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("`spark.image`: one edit to values/environments/prod.yaml"),
        "{}",
        out.stdout
    );
    // The stream prod leaves out stays out, and is listed.
    assert!(
        out.stdout
            .contains("left out of prod (`enabled: false`), not promoted: refunds"),
        "{}",
        out.stdout
    );

    let out = promote(&repo, &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let prod = spec(&repo, "prod");
    for stream in ["orders", "payments"] {
        assert_eq!(
            prod[stream]["image"],
            "registry.example.com/spark-streams:1.15.0"
        );
    }
    assert!(!prod.contains_key("refunds"), "refunds went live unasked");
    assert_eq!(
        prod["orders"]["arguments"],
        serde_json::json!(["--topic", "orders.v2", "--verbose"])
    );
    // dev is untouched.
    assert_eq!(spec(&repo, "dev"), dev_before);
    // The block list stays a block list; the comment above the entry stays,
    // the one on the replaced line goes and is reported.
    let diff = git(&repo, &["diff", "--unified=0", "--", "values/common.yaml"]);
    assert_eq!(
        common::changed_lines(&diff),
        ["-          - orders.v1  # old", "+          - orders.v2"]
    );
    assert!(read(&repo, "values/common.yaml").contains("          # still on v1\n"));
    assert!(
        out.stdout.contains("values/common.yaml:26: # old"),
        "{}",
        out.stdout
    );
    let diff = git(
        &repo,
        &["diff", "--unified=0", "--", "values/environments/prod.yaml"],
    );
    assert_eq!(
        common::changed_lines(&diff),
        [
            "+spark:",
            "+  image: registry.example.com/spark-streams:1.15.0"
        ]
    );
    // Promoting again: nothing to do.
    let out = promote(&repo, &[]);
    assert!(out.stdout.contains("nothing to promote"), "{}", out.stdout);
}

#[test]
fn a_stream_of_a_streams_list_is_promoted_in_its_entry() {
    let repo = helm_shaped();
    let out = promote(&repo, &["--stream", "orders"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let prod = spec(&repo, "prod");
    assert_eq!(
        prod["orders"]["image"],
        "registry.example.com/spark-streams:1.15.0"
    );
    // Named: the edit stays with the stream, payments keeps its image.
    assert_eq!(
        prod["payments"]["image"],
        "registry.example.com/spark-streams:1.14.0"
    );
    assert!(
        read(&repo, "values/environments/prod.yaml")
            .find("image")
            .is_none()
    );
    // A left-out stream goes live only when named (or with --include-new).
    let out = promote(&repo, &["--stream", "refunds"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(spec(&repo, "prod").contains_key("refunds"));
}

#[test]
fn include_new_enables_the_streams_the_target_leaves_out() {
    let repo = helm_shaped();
    let out = promote(&repo, &["--include-new"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let prod = spec(&repo, "prod");
    assert_eq!(
        prod["refunds"]["image"],
        "registry.example.com/spark-streams:1.15.0"
    );
    assert!(
        out.stdout.contains("- refunds (enabled by this promotion)"),
        "{}",
        out.stdout
    );
}

#[test]
fn an_override_in_the_target_is_promoted_away_or_named() {
    // prod pins image.repository, which wins over spark.image.
    let repo = fixture();
    repo.write(
        "values/environments/prod.yaml",
        b"namespace: streams-prod\nprotected: true\nimage:\n  repository: registry.example.com/legacy\n  tag: \"0.9\"\n",
    );
    git(&repo, &["commit", "-qam", "prod pins an image"]);
    // With `image` a promotion key, the pin goes: prod runs dev's image.
    let out = promote(&repo, &["--dry-run"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("-image:\n-  repository: registry.example.com/legacy\n-  tag: \"0.9\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("+  image: registry.example.com/spark:1.1.0"),
        "{}",
        out.stdout
    );

    // With only spark.image promoted, the render would not change: refused,
    // with the reason.
    repo.write(
        "values/common.yaml",
        format!("{}promotion:\n  keys: [spark.image]\n", common::BASE[0].1).as_bytes(),
    );
    let out = promote(&repo, &[]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("prod sets `image.repository`, which overrides `spark.image`"),
        "{}",
        out.stderr
    );
    assert!(git(&repo, &["status", "--porcelain"]).contains("common.yaml"));
    assert_eq!(git(&repo, &["status", "--porcelain"]).lines().count(), 1);
}

#[test]
fn a_removal_is_promoted() {
    let repo = fixture();
    // dev dropped orders' arguments; prod still has them.
    repo.write(
        "values/streams/orders.yaml",
        b"mainClass: com.example.Orders\narguments: [--topic, orders]\nenvironments:\n  dev:\n    arguments: null\n",
    );
    git(&repo, &["commit", "-qam", "dev drops the arguments"]);
    let out = promote(&repo, &["--stream", "orders"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("arguments: [\"--topic\",\"orders\"] → (not set)"),
        "{}",
        out.stdout
    );
    let prod = spec(&repo, "prod");
    assert!(
        prod["orders"].get("arguments").is_none(),
        "{}",
        prod["orders"]
    );
}

#[test]
fn commit_without_an_identity_writes_nothing() {
    let repo = fixture();
    let home = tempfile::tempdir().unwrap();
    let env = [
        ("HOME", home.path().to_str().unwrap()),
        ("XDG_CONFIG_HOME", home.path().to_str().unwrap()),
        ("GIT_CONFIG_NOSYSTEM", "1"),
        ("GIT_AUTHOR_NAME", ""),
        ("GIT_AUTHOR_EMAIL", ""),
    ];
    git(&repo, &["config", "--unset", "user.name"]);
    git(&repo, &["config", "--unset", "user.email"]);
    let args = ["promote", "--from", "dev", "--to", "prod", "--commit"];
    let out = common::sluice_with_env(repo.path(), &args, &env);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("no commit identity"), "{}", out.stderr);
    assert!(
        git(&repo, &["status", "--porcelain"]).is_empty(),
        "files were written"
    );
    // The retry, with an identity from the environment, works.
    let mut with = env[..3].to_vec();
    with.extend([
        ("GIT_AUTHOR_NAME", "Rel Eng"),
        ("GIT_AUTHOR_EMAIL", "rel@example.com"),
    ]);
    let out = common::sluice_with_env(repo.path(), &args, &with);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        git(&repo, &["log", "-1", "--format=%an <%ae>"]),
        "Rel Eng <rel@example.com>"
    );
    assert!(git(&repo, &["status", "--porcelain"]).is_empty());
    // Or from --author.
    repo.write(
        "values/environments/dev.yaml",
        b"namespace: streams-dev\nspark:\n  image: registry.example.com/spark:1.2.0\n",
    );
    git(&repo, &["commit", "-qam", "dev on 1.2.0"]);
    let out = common::sluice_with_env(
        repo.path(),
        &[
            "promote",
            "--from",
            "dev",
            "--to",
            "prod",
            "--commit",
            "--author",
            "Ann Other <ann@example.com>",
        ],
        &env,
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(git(&repo, &["log", "-1", "--format=%an"]), "Ann Other");
}

#[test]
fn branch_commits_for_a_merge_request_and_leaves_the_tree() {
    let repo = fixture();
    let head = git(&repo, &["rev-parse", "HEAD"]);
    let out = promote(&repo, &["--branch", "promote/dev-to-prod"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("git push -o merge_request.create origin promote/dev-to-prod"),
        "{}",
        out.stdout
    );
    // The working tree and the current branch are as they were.
    assert_eq!(git(&repo, &["rev-parse", "HEAD"]), head);
    assert!(git(&repo, &["status", "--porcelain"]).is_empty());
    assert_eq!(git(&repo, &["rev-parse", "promote/dev-to-prod~1"]), head);
    let message = git(&repo, &["log", "-1", "--format=%B", "promote/dev-to-prod"]);
    insta::assert_snapshot!("promote-branch-message", message);
    // The branch holds the promotion.
    git(&repo, &["checkout", "-q", "promote/dev-to-prod"]);
    let prod = spec(&repo, "prod");
    assert_eq!(prod["orders"]["image"], "registry.example.com/spark:1.1.0");
    // An existing branch is refused.
    git(&repo, &["checkout", "-q", "main"]);
    let out = promote(&repo, &["--branch", "promote/dev-to-prod"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
}

#[test]
fn check_reports_how_far_the_target_lags() {
    let repo = helm_shaped();
    let out = promote(&repo, &["--check"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    insta::assert_snapshot!("promote-check", out.stdout);
    let out = promote(&repo, &["--check", "--format", "json"]);
    assert_eq!(out.code, 1);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["behind"].as_array().unwrap().len(), 2);
    assert_eq!(doc["leftOut"], serde_json::json!(["refunds"]));
    assert!(git(&repo, &["status", "--porcelain"]).is_empty());
    assert_eq!(promote(&repo, &[]).code, 0);
    let out = promote(&repo, &["--check"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
}

#[test]
fn streams_of_the_environment_files_own_lists_are_promoted_by_name() {
    // Each environment defines `clicks` in its own `streams:` list.
    let repo = fixture();
    repo.write(
        "values/environments/dev.yaml",
        b"namespace: streams-dev\nstreams:\n  - name: clicks\n    mainClass: com.example.Clicks\n    spark:\n      image: registry.example.com/spark:2.0.0\n    arguments: [--v2]\n",
    );
    repo.write(
        "values/environments/prod.yaml",
        b"namespace: streams-prod\nprotected: true\nstreams:\n  - name: clicks   # prod's own\n    mainClass: com.example.Clicks\n    arguments:\n      - --v1\n",
    );
    git(&repo, &["commit", "-qam", "clicks per environment"]);
    let out = promote(&repo, &["--stream", "clicks"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let diff = git(
        &repo,
        &["diff", "--unified=0", "--", "values/environments/prod.yaml"],
    );
    assert_eq!(
        common::changed_lines(&diff),
        [
            "-      - --v1",
            "+      - --v2",
            "+    spark:",
            "+      image: registry.example.com/spark:2.0.0"
        ]
    );
    let prod = spec(&repo, "prod");
    assert_eq!(prod["clicks"]["image"], "registry.example.com/spark:2.0.0");
    assert_eq!(prod["clicks"]["arguments"], serde_json::json!(["--v2"]));
}

// ---- Found by probing ---------------------------------------------------

#[test]
fn a_file_reached_through_a_symlink_is_not_edited() {
    let repo = fixture();
    std::os::unix::fs::symlink(
        "orders.yaml",
        repo.path().join("values/streams/orders-eu.yaml"),
    )
    .unwrap();
    repo.write(
        "values/streams/orders.yaml",
        b"mainClass: com.example.Orders\nenvironments:\n  dev:\n    mainClass: com.example.OrdersV2\n",
    );
    for args in [
        &["--stream", "orders", "--dry-run"][..],
        &["--stream", "orders"],
    ] {
        let out = promote(&repo, args);
        assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
        assert!(
            out.stderr
                .contains("orders-eu.yaml is a symlink to values/streams/orders.yaml"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn a_commit_that_cannot_be_made_leaves_branch_index_and_files() {
    let repo = fixture();
    let head = git(&repo, &["rev-parse", "HEAD"]);
    std::fs::write(repo.path().join(".git/index.lock"), b"").unwrap();
    let out = promote(&repo, &["--commit"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    std::fs::remove_file(repo.path().join(".git/index.lock")).unwrap();
    assert_eq!(git(&repo, &["rev-parse", "HEAD"]), head);
    assert!(git(&repo, &["status", "--porcelain"]).is_empty());
    // Untracked work in progress is never committed.
    repo.write("values/environments/dev.yaml", b"namespace: streams-dev\n");
    git(&repo, &["commit", "-qam", "dev like prod"]);
    repo.write(
        "values/streams/scratch.yaml",
        b"mainClass: com.example.Scratch  # WIP\nenvironments:\n  dev:\n    mainClass: com.example.Scratch2\n",
    );
    let out = promote(&repo, &["--commit"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("scratch.yaml is not tracked by git"),
        "{}",
        out.stderr
    );
    assert_eq!(
        git(&repo, &["status", "--porcelain"]),
        "?? values/streams/scratch.yaml"
    );
}

#[test]
fn the_crds_names_of_a_key_are_promoted_with_it() {
    let repo = fixture();
    repo.write(
        "values/common.yaml",
        common::BASE[0]
            .1
            .replace("  version: \"3.5.1\"\n", "")
            .as_bytes(),
    );
    repo.write(
        "values/environments/dev.yaml",
        b"namespace: streams-dev\nsparkVersion: \"3.5.2\"\n",
    );
    repo.write(
        "values/environments/prod.yaml",
        b"namespace: streams-prod\nprotected: true\nsparkVersion: \"3.5.1\"\n",
    );
    git(&repo, &["commit", "-qam", "versions by their CRD name"]);
    let out = promote(&repo, &["--check"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(promote(&repo, &[]).code == 0);
    assert_eq!(spec(&repo, "prod")["orders"]["sparkVersion"], "3.5.2");
}

#[test]
fn a_stream_with_its_own_value_does_not_block_the_environment_edit() {
    let repo = fixture();
    repo.write(
        "values/streams/payments.yaml",
        b"mainClass: com.example.Payments\nspark:\n  image: r/pyspark:7\n",
    );
    repo.write(
        "values/streams/billing.yaml",
        b"mainClass: com.example.Billing\n",
    );
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "payments on its own image"]);
    let out = promote(&repo, &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let changed = git(&repo, &["status", "--porcelain"]);
    assert_eq!(changed, "M values/environments/prod.yaml", "{}", out.stdout);
    assert_eq!(spec(&repo, "prod")["payments"]["image"], "r/pyspark:7");
}

#[test]
fn overlapping_keys_and_emptied_maps() {
    let repo = fixture();
    repo.write(
        "values/common.yaml",
        format!(
            "{}sparkConf:\n  spark.a: \"1\"\npromotion:\n  keys: [spark, spark.image, sparkConf]\n",
            common::BASE[0].1
        )
        .as_bytes(),
    );
    repo.write(
        "values/environments/dev.yaml",
        b"namespace: streams-dev\nspark:\n  image: registry.example.com/spark:1.1.0\nsparkConf:\n  spark.a: null\n",
    );
    git(&repo, &["commit", "-qam", "dev drops spark.a"]);
    let out = promote(&repo, &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let prod = spec(&repo, "prod");
    assert_eq!(prod["orders"]["image"], "registry.example.com/spark:1.1.0");
    assert!(
        prod["orders"]["sparkConf"].get("spark.a").is_none(),
        "{}",
        prod["orders"]
    );
}

#[test]
fn bad_promotion_keys_and_options_are_refused() {
    let repo = fixture();
    for keys in ["[\"\"]", "[a..b]", "[spark.imgae]", "[spark.image, 4.10]"] {
        repo.write(
            "values/common.yaml",
            format!("{}promotion:\n  keys: {keys}\n", common::BASE[0].1).as_bytes(),
        );
        let out = promote(&repo, &["--check"]);
        assert!(
            out.code == 2 || out.code == 1 && out.stdout.is_empty(),
            "{keys}: {}{}",
            out.stdout,
            out.stderr
        );
        assert!(!out.stdout.contains("behind"), "{keys}: {}", out.stdout);
    }
    git(&repo, &["checkout", "-q", "--", "."]);
    for args in [
        &["--author", "A <a@b.c>"][..],
        &["--format", "json"],
        &["--branch", "@"],
        &["--branch", "refs/heads/x"],
    ] {
        let out = promote(&repo, args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
    }
}
