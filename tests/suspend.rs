//! `sluice suspend|resume`: the values edit that stops a stream in one
//! environment, checked by rendering (the SparkApplication's
//! `spec.suspend`, the FlinkDeployment's `job.state`), by the bytes of
//! the files (a resume gives back the file a suspend started from), and
//! by git (a commit, or a new branch with the tree left as it is).

mod common;

use common::{Repo, git_in};
use serde_json::Value;

fn render(repo: &Repo, env: &str) -> Vec<Value> {
    let out = repo.sluice(&["render", "--env", env, "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    match doc {
        Value::Array(items) => items,
        other => other["items"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| vec![other]),
    }
}

fn object<'a>(objects: &'a [Value], name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {objects:#?}"))
}

fn read(repo: &Repo, path: &str) -> String {
    std::fs::read_to_string(repo.path().join(path)).unwrap()
}

const ORDERS: &str = "# The order stream.\nmainClass: com.example.Orders   # entry point\narguments: [--topic, orders]\n\nenvironments:\n  prod:\n    executor:\n      instances: 4   # peak load\n";

#[test]
fn suspend_edits_only_the_streams_own_block_and_resume_gives_the_file_back() {
    let repo = Repo::with(&[("values/streams/orders.yaml", Some(ORDERS))]);
    let before_dev = render(&repo, "dev");
    let before_prod = render(&repo, "prod");

    let out = repo.sluice(&["suspend", "--env", "prod", "--stream", "orders"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("suspends the stream"), "{}", out.stdout);
    assert_eq!(
        read(&repo, "values/streams/orders.yaml"),
        ORDERS.replace("# peak load\n", "# peak load\n    suspend: true\n"),
        "one line added, comments and order kept"
    );
    let prod = render(&repo, "prod");
    assert_eq!(object(&prod, "orders")["spec"]["suspend"], true);
    // Nothing else: the other stream in prod, and all of dev.
    assert_eq!(object(&prod, "payments"), object(&before_prod, "payments"));
    let mut unsuspended = object(&prod, "orders").clone();
    unsuspended["spec"]
        .as_object_mut()
        .unwrap()
        .remove("suspend");
    let before = object(&before_prod, "orders").clone();
    assert_eq!(unsuspended["spec"], before["spec"]);
    assert_eq!(render(&repo, "dev"), before_dev);

    // Again: nothing to edit.
    let again = repo.sluice(&["suspend", "--env", "prod", "--stream", "orders"]);
    assert_eq!(again.code, 0);
    assert!(
        again.stdout.contains("already suspended"),
        "{}",
        again.stdout
    );

    let out = repo.sluice(&["resume", "--env", "prod", "--stream", "orders"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(read(&repo, "values/streams/orders.yaml"), ORDERS);
    assert_eq!(render(&repo, "prod"), before_prod);
}

#[test]
fn a_stream_of_a_streams_list_is_edited_in_its_entry() {
    let common = format!(
        "{}streams:\n  - name: a\n    mainClass: A\n  - name: b   # second\n    mainClass: B\n",
        common::BASE[0].1
    );
    let repo = Repo::with(&[
        ("values/common.yaml", Some(&common)),
        ("values/streams/orders.yaml", None),
        ("values/streams/payments.yaml", None),
    ]);
    let out = repo.sluice(&["suspend", "--env", "dev", "--stream", "b"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let edited = read(&repo, "values/common.yaml");
    assert_eq!(
        edited,
        common.replace(
            "    mainClass: B\n",
            "    mainClass: B\n    environments:\n      dev:\n        suspend: true\n"
        ),
        "{edited}"
    );
    let dev = render(&repo, "dev");
    assert_eq!(object(&dev, "b")["spec"]["suspend"], true);
    assert!(object(&dev, "a")["spec"].get("suspend").is_none());
    assert!(
        object(&render(&repo, "prod"), "b")["spec"]
            .get("suspend")
            .is_none()
    );
    let out = repo.sluice(&["resume", "--env", "dev", "--stream", "b"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(read(&repo, "values/common.yaml"), common);
}

#[test]
fn resume_overrides_an_environment_wide_suspend_with_false() {
    let repo = Repo::with(&[(
        "values/environments/dev.yaml",
        Some("namespace: streams-dev\nsuspend: true   # a quiet dev\n"),
    )]);
    let out = repo.sluice(&["resume", "--env", "dev", "--stream", "orders"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        read(&repo, "values/streams/orders.yaml")
            .ends_with("environments:\n  dev:\n    suspend: false\n"),
        "{}",
        read(&repo, "values/streams/orders.yaml")
    );
    let dev = render(&repo, "dev");
    assert_eq!(object(&dev, "orders")["spec"]["suspend"], false);
    assert_eq!(object(&dev, "payments")["spec"]["suspend"], true);
}

#[test]
fn a_flink_stream_is_suspended_through_its_job_state() {
    let repo = Repo::with(&[(
        "values/streams/clicks.yaml",
        Some(
            "engine: flink\nflink:\n  version: \"1.20\"\n  image: registry.example.com/flink:1\napplicationFile: local:///opt/flink/usrlib/clicks.jar\nmainClass: com.example.Clicks\nsink: s3a://lake/clicks\njob:\n  parallelism: 2\njobManager:\n  resource: {cpu: 1, memory: 2048m}\ntaskManager:\n  resource: {cpu: 1, memory: 2048m}\n",
        ),
    )]);
    let out = repo.sluice(&["suspend", "--env", "dev", "--stream", "clicks"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        object(&render(&repo, "dev"), "clicks")["spec"]["job"]["state"],
        "suspended"
    );
    assert!(
        object(&render(&repo, "prod"), "clicks")["spec"]["job"]
            .get("state")
            .is_none()
    );
}

#[test]
fn commit_and_branch() {
    let repo = Repo::with(&[("values/streams/orders.yaml", Some(ORDERS))]);
    let git = |args: &[&str]| git_in(repo.path(), args);
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "."]);
    git(&[
        "-c",
        "user.name=A",
        "-c",
        "user.email=a@example.com",
        "commit",
        "-qm",
        "base",
    ]);
    let author = "On Call <oncall@example.com>";

    let out = repo.sluice(&[
        "suspend",
        "--env",
        "prod",
        "-s",
        "orders",
        "--branch",
        "suspend/orders",
        "--author",
        author,
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("on new branch `suspend/orders`"),
        "{}",
        out.stdout
    );
    assert_eq!(
        read(&repo, "values/streams/orders.yaml"),
        ORDERS,
        "the working tree is left as it is"
    );
    assert_eq!(git(&["status", "--porcelain"]), "");
    assert!(git(&["show", "suspend/orders:values/streams/orders.yaml"]).contains("suspend: true"));

    let out = repo.sluice(&[
        "suspend", "--env", "prod", "-s", "orders", "--commit", "--author", author,
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let message = git(&["log", "-1", "--format=%an <%ae>%n%B"]);
    assert!(
        message.starts_with(
            "On Call <oncall@example.com>\nSuspend orders in prod\n\n- orders: suspend: true\n"
        ),
        "{message}"
    );
    assert!(
        message.contains("`sluice suspend --env prod --stream orders`"),
        "{message}"
    );
    assert_eq!(git(&["status", "--porcelain"]), "");

    // A dirty tree is never committed on top of.
    repo.write(
        "values/streams/payments.yaml",
        b"mainClass: com.example.Payments2\n",
    );
    let out = repo.sluice(&["resume", "--env", "prod", "-s", "orders", "--commit"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("uncommitted changes"), "{}", out.stderr);
    assert!(read(&repo, "values/streams/orders.yaml").contains("suspend: true"));
}

#[test]
fn refusals_name_the_stream() {
    let repo = Repo::with(&[(
        "values/streams/refunds.yaml",
        Some("mainClass: R\nenvironments:\n  prod:\n    enabled: false\n"),
    )]);
    for (args, says) in [
        (
            &["suspend", "--env", "prod", "-s", "nope"][..],
            "no stream `nope`",
        ),
        (
            &["suspend", "--env", "prod", "-s", "refunds"][..],
            "left out of prod",
        ),
        (&["suspend", "--env", "qa", "-s", "orders"][..], "qa"),
        (
            &[
                "suspend", "--env", "prod", "-s", "orders", "--author", "A <a@b>",
            ][..],
            "--author is for --commit",
        ),
    ] {
        let out = repo.sluice(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
    assert_eq!(read(&repo, "values/streams/orders.yaml"), common::BASE[3].1);
}
