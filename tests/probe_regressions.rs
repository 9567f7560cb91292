//! One regression test per hole a hostile-input probe found, each named
//! for what broke.

mod common;

use common::{Repo, git_in};

fn all_output(repo: &Repo, args: &[&str]) -> String {
    let out = repo.sluice(args);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    format!("{}{}", out.stdout, out.stderr)
}

#[test]
fn a_list_kind_smuggled_rbac_past_the_kind_check() {
    let repo = Repo::with(&[
        (
            "values/environments/dev.yaml",
            Some("namespace: streams-dev\nallowedKinds: [List]\n"),
        ),
        (
            "templates/extra.yaml.j2",
            Some(
                "apiVersion: v1\nkind: List\nmetadata:\n  name: x\n  namespace: {{ environment.namespace | tojson }}\nitems: [{apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRoleBinding, metadata: {name: pwn}}]\n",
            ),
        ),
    ]);
    let out = repo.sluice(&["render", "--env", "dev"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(!out.stdout.contains("ClusterRoleBinding"), "{}", out.stdout);
    assert!(
        out.stderr.contains("[manifest/kind-not-allowed]"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("[values/kind-not-allowed]"),
        "{}",
        out.stderr
    );
}

#[test]
fn cluster_scoped_kinds_missing_from_the_list_were_allowed() {
    for kind in [
        "VolumeAttributesClass.storage.k8s.io",
        "GatewayClass.gateway.networking.k8s.io",
    ] {
        let repo = Repo::with(&[(
            "values/environments/dev.yaml",
            Some(&format!("namespace: streams-dev\nallowedKinds: [{kind}]\n")),
        )]);
        let shown = all_output(&repo, &["lint", "--env", "dev"]);
        assert!(
            shown.contains("[values/kind-not-allowed]"),
            "{kind}: {shown}"
        );
    }
}

#[test]
fn snippets_of_schemas_and_templates_showed_credentials() {
    let repo = Repo::with(&[(
        "schemas/values.schema.json",
        Some(
            "{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\", \"const\": \"password=S3CR3T-sc1\", \"description\": \"token: S3CR3T-sc2\", \"type\": 5}\n",
        ),
    )]);
    for format in ["human", "junit", "json", "codequality"] {
        let shown = all_output(&repo, &["lint", "--format", format]);
        assert!(!shown.contains("S3CR3T"), "{format}: {shown}");
    }
    let repo = Repo::with(&[(
        "templates/extra.yaml.j2",
        Some("password: S3CR3T-tl2 {{ nope }}\n"),
    )]);
    for format in ["human", "junit"] {
        let shown = all_output(&repo, &["lint", "--format", format]);
        assert!(shown.contains("render/template"), "{shown}");
        assert!(!shown.contains("S3CR3T"), "{format}: {shown}");
    }
}

#[test]
fn a_known_credential_showed_in_the_snippet_of_another_field() {
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some(
            "mainClass: x\ndriver:\n  memory: \"S3CR3T-11\"\n  env: {DB_PASSWORD: \"S3CR3T-11\"}\n",
        ),
    )]);
    let shown = all_output(&repo, &["lint"]);
    assert!(shown.contains("literal-secret"), "{shown}");
    assert!(!shown.contains("S3CR3T"), "{shown}");
}

#[test]
fn credentials_outside_the_word_list_were_not_detected() {
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some(
            "mainClass: x\nsparkConf: {spark.es.net.http.auth.pass: S3CR3T-1, spark.redis.auth: S3CR3T-2}\ndriver:\n  env: {MYSQL_PWD: S3CR3T-3}\narguments: [\"jdbc:sqlserver://h;user=u;pwd=S3CR3T-4\", \"--passphrase\", \"S3CR3T-5\"]\n",
        ),
    )]);
    let shown = all_output(&repo, &["lint"]);
    assert_eq!(
        shown.matches("[values/literal-secret]").count(),
        5,
        "{shown}"
    );
    assert!(!shown.contains("S3CR3T"), "{shown}");
    let shown = all_output(&repo, &["values", "--env", "dev"]);
    assert!(!shown.contains("S3CR3T"), "{shown}");
}

#[test]
fn promote_dry_run_printed_credentials_in_the_file_diff() {
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some(
            "mainClass: x\nlint:\n  ignore: [values/literal-secret]\nenvironments:\n  dev:\n    arguments: [\"jdbc:postgresql://u:S3CR3T-p2@h/db\"]\n",
        ),
    )]);
    git_in(repo.path(), &["init", "-q", "-b", "main"]);
    git_in(repo.path(), &["add", "."]);
    git_in(repo.path(), &["commit", "-qm", "base"]);
    let shown = all_output(
        &repo,
        &["promote", "--from", "dev", "--to", "prod", "--dry-run"],
    );
    assert!(!shown.contains("S3CR3T"), "{shown}");
}

#[test]
fn bidi_overrides_and_line_separators_reached_the_terminal() {
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some("mainClass: x\nunknwn\u{202e}key: 1\nother\u{2028}key: 2\n"),
    )]);
    let shown = all_output(&repo, &["lint"]);
    assert!(shown.contains("unknown-key"), "{shown}");
    assert!(
        !shown.contains('\u{202e}') && !shown.contains('\u{2028}'),
        "{shown:?}"
    );
}

#[test]
fn an_invalid_stream_file_name_was_hidden_behind_no_such_stream() {
    let repo = Repo::with(&[("values/streams/Orders_V2.yaml", Some("mainClass: x\n"))]);
    for command in ["values", "render"] {
        let out = repo.sluice(&[command, "--env", "dev", "--stream", "Orders_V2"]);
        assert_eq!(out.code, 2);
        assert!(
            out.stderr.contains("[values/stream-name]"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("--> values/streams/Orders_V2.yaml:1:"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn the_fast_reader_accepted_raw_controls_and_deep_nesting() {
    for data in [
        "data: {\"k\": \"a\u{7f}b\"}",
        "data: {\"k\": \"a\u{9b}b\"}",
        &format!("data: {{\"k\": {}{}}}", "[".repeat(100), "]".repeat(100)),
    ] {
        let template = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{{ stream.name | tojson }}}}-x\n  namespace: {{{{ environment.namespace | tojson }}}}\n{data}\n"
        );
        let repo = Repo::with(&[("templates/extra.yaml.j2", Some(&template))]);
        let out = repo.sluice(&["render", "--env", "dev"]);
        assert_eq!(out.code, 2, "{data:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("render/invalid-output"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn a_symlink_inside_the_repository_read_differently_at_a_revision() {
    let repo = Repo::with(&[]);
    std::os::unix::fs::symlink("orders.yaml", repo.path().join("values/streams/copy.yaml"))
        .unwrap();
    std::os::unix::fs::symlink(
        "../../../../etc/passwd",
        repo.path().join("values/streams/out.yaml"),
    )
    .unwrap();
    git_in(repo.path(), &["init", "-q", "-b", "main"]);
    git_in(repo.path(), &["add", "."]);
    git_in(repo.path(), &["commit", "-qm", "base"]);
    let tree = repo.sluice(&["lint", "--format", "json"]);
    let rev = repo.sluice(&["lint", "--rev", "HEAD", "--format", "json"]);
    assert_eq!(tree.code, rev.code, "{}\n{}", tree.stdout, rev.stdout);
    let codes = |o: &common::Output| -> Vec<String> {
        let doc: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        let mut codes: Vec<String> = doc["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| format!("{} {}", d["code"], d["file"]))
            .collect();
        codes.sort();
        codes
    };
    assert_eq!(codes(&tree), codes(&rev));
    assert!(
        codes(&tree).iter().any(|c| c.contains("outside-root")),
        "{:?}",
        codes(&tree)
    );
    let render = |args: &[&str]| repo.sluice(args).stdout;
    assert!(
        render(&["render", "--env", "dev"]).is_empty()
            == render(&["render", "--rev", "HEAD", "--env", "dev"]).is_empty()
    );
}
