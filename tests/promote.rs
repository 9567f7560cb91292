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
    let before = std::fs::read_to_string(repo.path().join("values/streams/orders.yaml")).unwrap();
    let out = repo.sluice(&["promote", "--from", "dev", "--to", "prod", "--dry-run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("+++ b/values/streams/orders.yaml")
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
        std::fs::read_to_string(repo.path().join("values/streams/orders.yaml")).unwrap(),
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
