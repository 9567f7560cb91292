//! What a repository may create: the allow list at lint, render and apply
//! time, `allowedKinds`, and the merge-request report's section on changes
//! that widen it.

mod common;

use common::{Repo, git_in};
use std::time::Instant;

const NETWORK_POLICY: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {{ stream.name | tojson }}\n  namespace: {{ environment.namespace | tojson }}\nspec:\n  podSelector: {}\n";

#[test]
fn rbac_cluster_scoped_and_unlisted_kinds_are_refused_with_a_location() {
    let cases = [
        (
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: x\n  namespace: {{ environment.namespace | tojson }}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\n",
            "RBAC objects grant permissions",
        ),
        (
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ stream.name | tojson }}\n  namespace: {{ environment.namespace | tojson }}\n",
            "cluster-scoped",
        ),
        (
            "apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: {{ stream.name | tojson }}\n  namespace: {{ environment.namespace | tojson }}\n",
            "admission webhooks",
        ),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ stream.name | tojson }}\n  namespace: {{ environment.namespace | tojson }}\n",
            "not among the kinds the environment allows",
        ),
        (
            NETWORK_POLICY,
            "allowedKinds: [NetworkPolicy.networking.k8s.io]",
        ),
    ];
    for (template, why) in cases {
        let repo = Repo::with(&[("templates/extra.yaml.j2", Some(template))]);
        let started = Instant::now();
        for args in [&["lint"][..], &["render", "--env", "dev"]] {
            let out = repo.sluice(args);
            let shown = format!("{}{}", out.stdout, out.stderr);
            assert_eq!(
                out.code,
                if args[0] == "lint" { 1 } else { 2 },
                "{args:?}: {shown}"
            );
            assert!(shown.contains("[manifest/kind-not-allowed]"), "{shown}");
            assert!(
                shown.contains("--> values/streams/orders.yaml:1:"),
                "{shown}"
            );
            assert!(
                shown.contains("rendered by template `extra.yaml.j2`"),
                "{shown}"
            );
            assert!(shown.contains(why), "{why}: {shown}");
            assert!(
                !out.stdout.contains("kind: "),
                "render printed objects: {shown}"
            );
        }
        assert!(started.elapsed().as_secs_f64() < 2.0);
    }
}

#[test]
fn an_environment_may_allow_a_kind_but_never_rbac() {
    let repo = Repo::with(&[
        ("templates/extra.yaml.j2", Some(NETWORK_POLICY)),
        (
            "values/environments/dev.yaml",
            Some("namespace: streams-dev\nallowedKinds: [NetworkPolicy.networking.k8s.io]\n"),
        ),
    ]);
    let out = repo.sluice(&["render", "--env", "dev"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("kind: NetworkPolicy"), "{}", out.stdout);
    // prod does not allow it.
    let out = repo.sluice(&["render", "--env", "prod"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "values/environments/prod.yaml: `allowedKinds: [NetworkPolicy.networking.k8s.io]`"
        ),
        "{}",
        out.stderr
    );
    // RBAC cannot be allowed.
    repo.write(
        "values/environments/dev.yaml",
        b"namespace: streams-dev\nallowedKinds:\n  - NetworkPolicy.networking.k8s.io\n  - ClusterRoleBinding.rbac.authorization.k8s.io\n",
    );
    let out = repo.sluice(&["lint", "--env", "dev"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("[values/kind-not-allowed]"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("--> values/environments/dev.yaml:4:5"),
        "{}",
        out.stdout
    );
}

#[test]
fn the_merge_request_report_calls_out_what_widens_what_sluice_creates() {
    let repo = Repo::with(&[]);
    git_in(repo.path(), &["init", "-q", "-b", "main"]);
    git_in(repo.path(), &["add", "."]);
    git_in(repo.path(), &["commit", "-qm", "base"]);
    repo.write("templates/extra.yaml.j2", NETWORK_POLICY.as_bytes());
    repo.write(
        "values/environments/dev.yaml",
        b"namespace: streams-dev\nallowedKinds: [NetworkPolicy.networking.k8s.io]\n",
    );
    let out = repo.sluice(&[
        "diff", "--env", "dev", "--base", "HEAD", "--format", "markdown",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let md = out.stdout;
    let section = md
        .split("#### What sluice may create changes")
        .nth(1)
        .unwrap_or_else(|| panic!("{md}"));
    for line in [
        "- allows a new kind: NetworkPolicy.networking.k8s.io",
        "- renders a kind it did not before: NetworkPolicy.networking.k8s.io",
        "- adds the template templates/extra.yaml.j2",
    ] {
        assert!(section.contains(line), "{line}\n{md}");
    }
    let json = repo.sluice(&["diff", "--env", "dev", "--base", "HEAD", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["widening"].as_array().unwrap().len(), 3, "{doc}");
    // A change that widens nothing has no such section.
    git_in(repo.path(), &["add", "."]);
    git_in(repo.path(), &["commit", "-qm", "policy"]);
    repo.write(
        "values/streams/orders.yaml",
        b"mainClass: com.example.Orders\narguments: [--topic, orders-v2]\n",
    );
    let out = repo.sluice(&[
        "diff", "--env", "dev", "--base", "HEAD", "--format", "markdown",
    ]);
    assert!(
        !out.stdout.contains("What sluice may create"),
        "{}",
        out.stdout
    );
}
