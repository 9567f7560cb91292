//! Every kind of bad input gives a located diagnostic, the documented exit
//! code, and never a panic or a hang. One snapshot per diagnostic code shows
//! exactly what the user sees.

mod common;

use common::Repo;
use sluice::diag::CODES;

struct Case {
    name: &'static str,
    files: Vec<(&'static str, Option<String>)>,
    args: &'static [&'static str],
    code: &'static str,
    /// `path:line:` the diagnostic must point at.
    at: &'static str,
    exit: i32,
}

fn case(
    name: &'static str,
    code: &'static str,
    at: &'static str,
    files: &[(&'static str, &str)],
) -> Case {
    Case {
        name,
        files: files
            .iter()
            .map(|(p, t)| (*p, Some((*t).to_owned())))
            .collect(),
        args: &[],
        code,
        at,
        exit: 1,
    }
}

fn alias_bomb() -> String {
    let mut bomb =
        String::from("mainClass: x\nl0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let refs = vec![format!("*l{}", i - 1); 9].join(", ");
        bomb.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
    }
    bomb
}

fn cases() -> Vec<Case> {
    let deep = format!(
        "mainClass: x\narguments: {}{}\n",
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    let long_name = format!("name: {}\nmainClass: x\n", "a".repeat(64));
    let bomb = alias_bomb();
    vec![
        case(
            "other-engine-key",
            "values/other-engine-key",
            "values/streams/clicks.yaml:4:",
            &[(
                "values/streams/clicks.yaml",
                "engine: flink\nflink: {version: \"1.20\", image: flink:1.20}\nsink: s3a://lake/clicks\ndriver: {cores: 2}\n",
            )],
        ),
        case(
            "unknown-canary",
            "values/unknown-canary",
            "values/environments/dev.yaml:2:",
            &[(
                "values/environments/dev.yaml",
                "namespace: streams-dev\nrollout: {maxUnavailable: 2, canary: [ordres]}\n",
            )],
        ),
        case(
            "syntax-error",
            "yaml/syntax",
            "values/streams/orders.yaml:3:",
            &[(
                "values/streams/orders.yaml",
                "mainClass: com.example.Orders\narguments: [--topic, orders\nsink: s3a://x/y\n",
            )],
        ),
        case(
            "tab-indentation",
            "yaml/syntax",
            "values/streams/orders.yaml:3:",
            &[(
                "values/streams/orders.yaml",
                "mainClass: com.example.Orders\nexecutor:\n\tmemory: 4g\n",
            )],
        ),
        case(
            "duplicate-key",
            "yaml/duplicate-key",
            "values/streams/orders.yaml:4:",
            &[(
                "values/streams/orders.yaml",
                "mainClass: com.example.Orders\nexecutor:\n  memory: 4g\n  memory: 8g\n",
            )],
        ),
        case(
            "wrong-type",
            "values/type",
            "values/streams/orders.yaml:3:",
            &[(
                "values/streams/orders.yaml",
                "mainClass: com.example.Orders\nexecutor:\n  instances: \"4\"\n",
            )],
        ),
        case(
            "unknown-key",
            "values/unknown-key",
            "values/streams/orders.yaml:3:",
            &[(
                "values/streams/orders.yaml",
                "mainClass: com.example.Orders\nexecutor:\n  memroy: 4g\n",
            )],
        ),
        case(
            "bad-memory",
            "values/format",
            "values/streams/orders.yaml:3:",
            &[(
                "values/streams/orders.yaml",
                "mainClass: com.example.Orders\nexecutor:\n  memory: 4Gi\n",
            )],
        ),
        case(
            "bad-enum",
            "values/enum",
            "values/streams/orders.yaml:2:",
            &[(
                "values/streams/orders.yaml",
                "mainClass: com.example.Orders\nrestartPolicy: always\n",
            )],
        ),
        case(
            "invalid-stream-name",
            "values/stream-name",
            "values/streams/Orders_V2.yaml:1:",
            &[(
                "values/streams/Orders_V2.yaml",
                "mainClass: com.example.Orders\n",
            )],
        ),
        case(
            "too-long-stream-name",
            "values/stream-name",
            "values/streams/long.yaml:1:",
            &[("values/streams/long.yaml", long_name.as_str())],
        ),
        case(
            "alias-bomb",
            "yaml/too-complex",
            "values/streams/orders.yaml:",
            &[("values/streams/orders.yaml", bomb.as_str())],
        ),
        case(
            "deep-nesting",
            "yaml/too-complex",
            "values/streams/orders.yaml:2:",
            &[("values/streams/orders.yaml", deep.as_str())],
        ),
        case(
            "top-level-list",
            "yaml/not-a-mapping",
            "values/streams/orders.yaml:1:",
            &[(
                "values/streams/orders.yaml",
                "- mainClass: com.example.Orders\n",
            )],
        ),
        case(
            "multi-document",
            "yaml/multiple-documents",
            "values/streams/orders.yaml:2:",
            &[(
                "values/streams/orders.yaml",
                "mainClass: com.example.Orders\n---\nmainClass: com.example.Other\n",
            )],
        ),
        case(
            "environment-without-namespace",
            "values/required",
            "values/environments/dev.yaml:1:",
            &[("values/environments/dev.yaml", "kubeContext: dev\n")],
        ),
        case(
            "duplicate-stream",
            "values/duplicate-stream",
            "values/streams/orders.yaml:1:",
            &[(
                "values/common.yaml",
                &format!(
                    "{}streams:\n  - name: orders\n    mainClass: com.example.Legacy\n",
                    common::BASE[0].1
                ),
            )],
        ),
        case(
            "unknown-environment",
            "values/unknown-environment",
            "values/streams/orders.yaml:3:",
            &[(
                "values/streams/orders.yaml",
                "mainClass: com.example.Orders\nenvironments:\n  prdo:\n    executor: {instances: 4}\n",
            )],
        ),
        case(
            "literal-secret",
            "values/literal-secret",
            "values/streams/orders.yaml:3:",
            &[(
                "values/streams/orders.yaml",
                "mainClass: com.example.Orders\nhadoopConf:\n  fs.s3a.secret.key: wJalrXUtnFEMI-K7MDENG\n",
            )],
        ),
        case(
            "local-dirs",
            "values/local-dirs",
            "values/streams/orders.yaml:2:",
            &[(
                "values/streams/orders.yaml",
                "mainClass: com.example.Orders\nlocalDirs: {type: emptyDir, storageClass: gp3, size: 10Gi}\n",
            )],
        ),
        case(
            "inexact-number",
            "values/inexact-number",
            "values/streams/orders.yaml:2:",
            &[(
                "values/streams/orders.yaml",
                "mainClass: com.example.Orders\narguments: [--ratio, !!float \"1.50\"]\n",
            )],
        ),
        case(
            "missing-required",
            "values/required",
            "values/streams/payments.yaml:1:",
            &[(
                "values/streams/payments.yaml",
                "applicationFile: null\nmainClass: com.example.Payments\n",
            )],
        ),
        case(
            "out-of-range",
            "values/range",
            "values/streams/orders.yaml:3:",
            &[(
                "values/streams/orders.yaml",
                "mainClass: com.example.Orders\nexecutor:\n  instances: 0\n",
            )],
        ),
        case(
            "invalid-other",
            "values/invalid",
            "values/streams/orders.yaml:3:",
            &[(
                "values/streams/orders.yaml",
                "mainClass: com.example.Orders\nenvironments:\n  Prod_EU: {}\n",
            )],
        ),
        Case {
            exit: 0,
            ..case(
                "unordered-environment",
                "values/unordered-environment",
                "values/common.yaml:16:",
                &[(
                    "values/common.yaml",
                    "spark:\n  version: \"3.5.1\"\n  image: registry.example.com/spark:1.0.0\napplicationFile: local:///opt/app.jar\nrestartPolicy: Always\ndriver:\n  cores: 1\n  coreLimit: \"1\"\n  memory: 2g\nexecutor:\n  cores: 2\n  coreLimit: \"2\"\n  instances: 2\n  memory: 4g\npromotion:\n  order: [dev]\n",
                )],
            )
        },
        Case {
            exit: 0,
            ..case(
                "no-streams",
                "values/no-streams",
                "values/environments/prod.yaml:1:",
                &[
                    ("values/common.yaml", &format!("{}environments: {{}}\n", "")),
                    (
                        "values/environments/prod.yaml",
                        "namespace: streams-prod\nenabled: false\n",
                    ),
                    ("values/common.yaml", common::BASE[0].1),
                ],
            )
        },
        Case {
            files: vec![
                ("values/environments/dev.yaml", None),
                ("values/environments/prod.yaml", None),
            ],
            ..case(
                "no-environments",
                "repo/no-environments",
                "values/environments/:1:",
                &[],
            )
        },
        case(
            "template-error",
            "render/template",
            "templates/sparkapplication.yaml.j2:3:",
            &[(
                "templates/sparkapplication.yaml.j2",
                "apiVersion: sparkoperator.k8s.io/v1beta2\nkind: SparkApplication\nmetadata: {name: {{ stream.nmae | tojson }}}\n",
            )],
        ),
        case(
            "template-invalid-output",
            "render/invalid-output",
            "templates/extra.yaml.j2:1:",
            &[("templates/extra.yaml.j2", "kind: [unclosed\n")],
        ),
        case(
            "manifest-missing-name",
            "manifest/missing-field",
            "values/streams/orders.yaml:1:",
            &[(
                "templates/extra.yaml.j2",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: {{ environment.namespace | tojson }}\n",
            )],
        ),
        case(
            "manifest-wrong-namespace",
            "manifest/wrong-namespace",
            "values/streams/orders.yaml:1:",
            &[(
                "templates/extra.yaml.j2",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ stream.name | tojson }}\n  namespace: kube-system\n",
            )],
        ),
        case(
            "manifest-invalid-name",
            "manifest/invalid-name",
            "values/streams/orders.yaml:1:",
            &[(
                "templates/extra.yaml.j2",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ (stream.name ~ \"_Config\") | tojson }}\n  namespace: {{ environment.namespace | tojson }}\n",
            )],
        ),
        case(
            "manifest-duplicate",
            "manifest/duplicate",
            "values/streams/payments.yaml:1:",
            &[(
                "templates/extra.yaml.j2",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: {{ environment.namespace | tojson }}\n",
            )],
        ),
        case(
            "manifest-schema",
            "manifest/schema",
            "values/streams/orders.yaml:1:",
            &[(
                "templates/sparkapplication.yaml.j2",
                &format!("{}  driverr: {{}}\n", sluice::render::BUILTIN_TEMPLATE),
            )],
        ),
        Case {
            exit: 0,
            ..case(
                "manifest-unchecked-kind",
                "manifest/unchecked-kind",
                "values/streams/orders.yaml:1:",
                &[(
                    "templates/extra.yaml.j2",
                    "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata:\n  name: {{ stream.name | tojson }}\n  namespace: {{ environment.namespace | tojson }}\nspec:\n  selector: {}\n",
                )],
            )
        },
        case(
            "schema-invalid-crd",
            "schema/invalid-crd",
            "schemas/crds/podmonitors.yaml:1:",
            &[("schemas/crds/podmonitors.yaml", "kind: PodMonitor\n")],
        ),
        case(
            "manifest-kind-not-allowed",
            "manifest/kind-not-allowed",
            "values/streams/orders.yaml:1:",
            &[(
                "templates/extra.yaml.j2",
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: {{ stream.name | tojson }}\n  namespace: {{ environment.namespace | tojson }}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: default, namespace: kube-system}]\n",
            )],
        ),
        case(
            "values-kind-not-allowed",
            "values/kind-not-allowed",
            "values/environments/dev.yaml:3:",
            &[(
                "values/environments/dev.yaml",
                "namespace: streams-dev\nallowedKinds:\n  - RoleBinding.rbac.authorization.k8s.io\n",
            )],
        ),
        case(
            "shared-namespace",
            "repo/shared-namespace",
            "values/environments/staging.yaml:1:",
            &[(
                "values/environments/staging.yaml",
                "namespace: streams-dev\n",
            )],
        ),
        case(
            "conflicting-files",
            "repo/conflicting-files",
            "values/environments/dev.yml:1:",
            &[("values/environments/dev.yml", "namespace: other\n")],
        ),
        case(
            "invalid-environment-file-name",
            "repo/invalid-file-name",
            "values/environments/Prod.yaml:1:",
            &[("values/environments/Prod.yaml", "namespace: x\n")],
        ),
        case(
            "broken-schema-override",
            "schema/invalid",
            "schemas/values.schema.json:1:",
            &[("schemas/values.schema.json", "{\"$schema\": ")],
        ),
        Case {
            args: &["lint", "--set", "executor..memory=4g"],
            exit: 2,
            ..case("malformed-set", "set/syntax", "--set:1:", &[])
        },
        // `spark.image` is a string in the base common.yaml.
        Case {
            args: &["lint", "--set", "spark.image.tag=2"],
            ..case("set-conflict", "set/conflict", "--set:1:", &[])
        },
        Case {
            args: &["lint", "--set", "name=other"],
            exit: 2,
            ..case("set-ignored-key", "set/ignored-key", "--set:1:", &[])
        },
        Case {
            args: &[
                "lint",
                "--set-file",
                "mainClass=/nonexistent/sluice/main-class",
            ],
            exit: 2,
            ..case("set-file", "set/file", "--set-file:1:", &[])
        },
    ]
}

#[test]
fn every_bad_input_is_located_with_its_code_and_exit_code() {
    for c in cases() {
        let files: Vec<(&str, Option<&str>)> =
            c.files.iter().map(|(p, t)| (*p, t.as_deref())).collect();
        let repo = Repo::with(&files);
        let args = if c.args.is_empty() {
            &["lint"][..]
        } else {
            c.args
        };
        let out = repo.sluice(args);
        let shown = format!("{}{}", out.stdout, out.stderr);
        assert!(!shown.contains("panicked"), "{}: panic\n{shown}", c.name);
        assert_eq!(out.code, c.exit, "{}: exit code\n{shown}", c.name);
        assert!(
            shown.contains(&format!("[{}]", c.code)),
            "{}: no {} finding\n{shown}",
            c.name,
            c.code
        );
        assert!(
            shown.contains(&format!("--> {}", c.at)),
            "{}: not located at {}\n{shown}",
            c.name,
            c.at
        );
        insta::assert_snapshot!(c.name, shown);
    }
}

#[test]
fn every_diagnostic_code_has_a_fixture() {
    let mut covered: Vec<&str> = cases().iter().map(|c| c.code).collect();
    // Covered by the file-system cases below.
    covered.extend(["yaml/not-utf8", "repo/outside-root", "repo/unreadable"]);
    // `render --output-dir` only: tests/hostile_output.rs.
    covered.extend(["render/file-name", "render/file-collision"]);
    // Every rule has its own fixture in tests/rules.rs.
    covered.extend(sluice::rules::RULES);
    // Every preflight check has its own fixture in tests/preflight.rs.
    covered.extend(sluice::values::check::PREFLIGHT_CODES);
    // Every Flink validator rule has its own fixture in tests/flink_rules.rs.
    covered.extend(sluice::flink::validate::CODES);
    let missing: Vec<&str> = CODES
        .iter()
        .map(|(c, ..)| *c)
        .filter(|c| !covered.contains(c))
        .collect();
    assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
}

#[test]
fn non_utf8_file() {
    let repo = Repo::with(&[]);
    repo.write(
        "values/streams/orders.yaml",
        b"mainClass: com.example.Orders\nsink: s3a://caf\xe9/x\n",
    );
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains("error[yaml/not-utf8]"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("--> values/streams/orders.yaml:2:16"),
        "{}",
        out.stdout
    );
    insta::assert_snapshot!("non-utf8", out.stdout);
}

#[cfg(unix)]
#[test]
fn symlink_out_of_the_repository() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("evil.yaml"),
        "mainClass: com.example.Evil\n",
    )
    .unwrap();
    let repo = Repo::with(&[]);
    std::os::unix::fs::symlink(
        outside.path().join("evil.yaml"),
        repo.path().join("values/streams/evil.yaml"),
    )
    .unwrap();
    // A symlink that stays inside the repository is fine.
    std::os::unix::fs::symlink(
        "payments.yaml",
        repo.path().join("values/streams/payments-copy.yaml"),
    )
    .unwrap();
    // A broken one is unreadable.
    std::os::unix::fs::symlink(
        "nowhere.yaml",
        repo.path().join("values/streams/broken.yaml"),
    )
    .unwrap();
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains(
            "error[repo/outside-root]: `values/streams/evil.yaml` resolves outside the repository"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("--> values/streams/evil.yaml:1:1"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("error[repo/unreadable]"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("payments-copy"), "{}", out.stdout);
}

#[test]
fn secrets_never_appear_in_any_format() {
    let secret = "wJalrXUtnFEMI-K7MDENG";
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some(
            "mainClass: com.example.Orders\nhadoopConf:\n  fs.s3a.secret.key: wJalrXUtnFEMI-K7MDENG\nsparkConf:\n  spark.ssl.keyPassword: 12\n",
        ),
    )]);
    for format in ["human", "json", "junit", "codequality"] {
        let out = repo.sluice(&["lint", "--format", format]);
        assert_eq!(out.code, 1);
        assert!(
            out.stdout.contains("literal-secret"),
            "{format}: {}",
            out.stdout
        );
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "{format} leaks the secret:\n{}",
            out.stdout
        );
    }
    // Also when the finding is about the value's type, and through --set.
    let out = repo.sluice(&[
        "lint",
        "--set",
        "sparkConf.spark\\.ssl\\.keyPassword=hunter2hunter2",
    ]);
    assert!(
        !out.stdout.contains("hunter2hunter2") && !out.stderr.contains("hunter2hunter2"),
        "{}",
        out.stdout
    );
}

#[test]
fn all_findings_are_reported_in_one_run_sorted_by_file_and_line() {
    let repo = Repo::with(&[
        (
            "values/streams/orders.yaml",
            Some("mainClass: com.example.Orders\nexecutor:\n  memory: 4Gi\n  memroy: 4g\n"),
        ),
        (
            "values/streams/payments.yaml",
            Some("mainClass: com.example.Payments\nrestartPolicy: never\n"),
        ),
        (
            "values/environments/dev.yaml",
            Some("namespace: streams-dev\nexecutor: {instances: zero}\n"),
        ),
    ]);
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 1);
    let locations: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("--> "))
        .collect();
    assert_eq!(
        locations,
        [
            "values/environments/dev.yaml:2:23",
            "values/streams/orders.yaml:3:11",
            "values/streams/orders.yaml:4:3",
            "values/streams/payments.yaml:2:16",
        ],
        "{}",
        out.stdout
    );
}
