//! What Kubernetes or spark-operator would reject, found in the values:
//! each check fails on a fixture, at the line of the key or value that is
//! wrong (and names the other place when two keys clash); required keys
//! stop rendering instead of failing in the template or the CRD schema;
//! the webhook's sparkConf deny list; Spark confs that name Secrets are no
//! literal credentials.

mod common;

use common::Repo;
use serde_json::Value as Json;
use sluice::values::check::PREFLIGHT_CODES;

const STREAM: &str = "values/streams/orders.yaml";

struct Case {
    code: &'static str,
    /// The stream file `orders.yaml`.
    stream: &'static str,
    /// `path:line` of the finding.
    at: &'static str,
    /// `path:line` of a second label, if any.
    also: Option<&'static str>,
}

const fn case(code: &'static str, stream: &'static str, at: &'static str) -> Case {
    Case {
        code,
        stream,
        at,
        also: None,
    }
}

const fn case2(
    code: &'static str,
    stream: &'static str,
    at: &'static str,
    also: &'static str,
) -> Case {
    Case {
        code,
        stream,
        at,
        also: Some(also),
    }
}

const CASES: &[Case] = &[
    case(
        "values/label",
        "mainClass: x\nlabels:\n  team: bi data eng\n",
        "values/streams/orders.yaml:3",
    ),
    case(
        "values/label",
        "mainClass: x\nannotations:\n  owner email: bi@example.com\n",
        "values/streams/orders.yaml:3",
    ),
    case(
        "values/label",
        "mainClass: x\nexecutor:\n  labels:\n    example.com/team: \"-bi\"\n",
        "values/streams/orders.yaml:4",
    ),
    case(
        "values/label",
        "mainClass: x\ndriver:\n  serviceLabels: {\"a/b/c\": x}\n",
        "values/streams/orders.yaml:3",
    ),
    case(
        "values/env-name",
        "mainClass: x\nexecutor:\n  env:\n    MY VAR: x\n",
        "values/streams/orders.yaml:4",
    ),
    case(
        "values/env-name",
        "mainClass: x\ndriver:\n  env:\n    - name: 1ST\n      value: x\n",
        "values/streams/orders.yaml:4",
    ),
    case(
        "values/env-name",
        "mainClass: x\nsecrets:\n  - name: creds\n    env: {\"DB PASS\": password}\n",
        "values/streams/orders.yaml:4",
    ),
    case(
        "values/service-account",
        "mainClass: x\ndriver:\n  serviceAccount: Spark_SA\n",
        "values/streams/orders.yaml:3",
    ),
    case(
        "values/service-account",
        "mainClass: x\nexecutor:\n  serviceAccount: spark_sa\n",
        "values/streams/orders.yaml:3",
    ),
    case(
        "values/toleration",
        "mainClass: x\ntolerations:\n  - key: dedicated\n    operator: Exists\n    value: spark\n",
        "values/streams/orders.yaml:5",
    ),
    case(
        "values/toleration",
        "mainClass: x\nexecutor:\n  tolerations:\n    - key: k\n      operator: Exists\n      effect: NoSchedule\n      tolerationSeconds: 30\n",
        "values/streams/orders.yaml:7",
    ),
    case(
        "values/container-image",
        "mainClass: x\ndriver:\n  sidecars:\n    - name: fluent-bit\n",
        "values/streams/orders.yaml:4",
    ),
    case(
        "values/container-image",
        "mainClass: x\nexecutor:\n  initContainers:\n    - name: init\n      command: [sh]\n",
        "values/streams/orders.yaml:4",
    ),
    case(
        "values/container-image",
        "mainClass: x\npodTemplate:\n  executor:\n    spec:\n      containers:\n        - name: spark\n        - name: logger\n",
        "values/streams/orders.yaml:7",
    ),
    case(
        "values/container-image",
        "mainClass: x\ndriver:\n  template:\n    spec:\n      initContainers:\n        - name: init\n",
        "values/streams/orders.yaml:6",
    ),
    case2(
        "values/dynamic-allocation",
        "mainClass: x\ndynamicAllocation:\n  enabled: true\n  minExecutors: 5\n  maxExecutors: 2\n",
        "values/streams/orders.yaml:4",
        "values/streams/orders.yaml:5",
    ),
    case2(
        "values/pod-template-version",
        "mainClass: x\nspark: {version: \"2.4.8\"}\npodTemplate:\n  driver:\n    spec: {priorityClassName: high}\n",
        "values/streams/orders.yaml:2",
        "values/streams/orders.yaml:4",
    ),
    case2(
        "values/pod-template-version",
        "mainClass: x\nspark: {version: null}\nsparkVersion: \"2.4.8\"\nexecutor:\n  template: {spec: {}}\n",
        "values/streams/orders.yaml:3",
        "values/streams/orders.yaml:5",
    ),
    case2(
        "values/conflicting-keys",
        "mainClass: x\nsparkVersion: \"3.5.1\"\n",
        "values/streams/orders.yaml:2",
        "values/common.yaml:2",
    ),
    case2(
        "values/conflicting-keys",
        "mainClass: x\nimage: registry.example.com/spark:2.0.0\n",
        "values/streams/orders.yaml:2",
        "values/common.yaml:3",
    ),
    case2(
        "values/conflicting-keys",
        "mainClass: x\nmainApplicationFile: local:///opt/other.jar\n",
        "values/streams/orders.yaml:2",
        "values/common.yaml:4",
    ),
    case2(
        "values/conflicting-keys",
        "mainClass: x\npodTemplate:\n  driver: {spec: {}}\ndriver:\n  template: {spec: {}}\n",
        "values/streams/orders.yaml:5",
        "values/streams/orders.yaml:3",
    ),
    case2(
        "values/conflicting-keys",
        "mainClass: x\nmaxRetries: 30\nrestartPolicy:\n  type: OnFailure\n  onFailureRetries: 50\n",
        "values/streams/orders.yaml:5",
        "values/streams/orders.yaml:2",
    ),
    case(
        "rule/forbidden-spark-conf",
        "mainClass: x\nsparkConf:\n  spark.kubernetes.driver.master: https://kubernetes.default.svc\n",
        "values/streams/orders.yaml:3",
    ),
];

/// `lint --format json` of the base repository with `orders.yaml` replaced.
fn lint(stream: &str) -> (i32, Vec<Json>) {
    let repo = Repo::with(&[(STREAM, Some(stream))]);
    let out = repo.sluice(&["lint", "--format", "json"]);
    let doc: Json = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", out.stdout, out.stderr));
    let found = doc["diagnostics"].as_array().cloned().unwrap_or_default();
    (out.code, found)
}

fn place(location: &Json) -> String {
    format!(
        "{}:{}",
        location["path"].as_str().unwrap_or("?"),
        location["line"]
    )
}

fn shown(found: &[Json]) -> String {
    found
        .iter()
        .map(|d| {
            format!(
                "{} at {}: {}",
                d["code"],
                place(&d["location"]),
                d["message"]
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn each_check_fails_at_the_line_that_is_wrong() {
    for c in CASES {
        let (code, found) = lint(c.stream);
        assert_eq!(code, 1, "{}: exit code\n{}", c.stream, shown(&found));
        let hit = found.iter().find(|d| {
            d["code"] == c.code
                && place(&d["location"]) == c.at
                && c.also.is_none_or(|also| {
                    d["labels"]
                        .as_array()
                        .is_some_and(|ls| ls.iter().any(|l| place(l) == also))
                })
        });
        let Some(hit) = hit else {
            panic!(
                "{}: no {} at {} (also {:?})\n{}",
                c.stream,
                c.code,
                c.at,
                c.also,
                shown(&found)
            )
        };
        assert!(
            hit["help"].as_str().is_some_and(|h| !h.is_empty()),
            "{}: no help",
            c.code
        );
        assert!(
            hit["notes"].as_array().is_some_and(|n| !n.is_empty()),
            "{}: no note",
            c.code
        );
    }
}

#[test]
fn every_preflight_code_has_a_case() {
    for code in PREFLIGHT_CODES {
        assert!(
            CASES.iter().any(|c| c.code == *code),
            "{code} has no failing fixture"
        );
    }
}

#[test]
fn the_fixed_neighbours_pass() {
    for stream in [
        "mainClass: x\nlabels:\n  team: bi-data-eng\nannotations:\n  owner: bi data eng <bi@example.com>\n  Example.com/Owner: x\n",
        "mainClass: x\ndriver:\n  serviceAccount: spark-streams\n  env:\n    MY_VAR: x\n    my.var-1: y\n",
        "mainClass: x\ntolerations:\n  - key: dedicated\n    operator: Exists\n    effect: NoExecute\n    tolerationSeconds: 30\n  - operator: Exists\n",
        "mainClass: x\ndriver:\n  sidecars:\n    - name: fluent-bit\n      image: fluent/fluent-bit:3.1\npodTemplate:\n  driver:\n    spec:\n      containers:\n        - name: spark\n",
        "mainClass: x\ndynamicAllocation:\n  enabled: true\n  minExecutors: 1\n  initialExecutors: 2\n  maxExecutors: 2\n",
        "mainClass: x\nspark: {version: \"3.0.0\"}\npodTemplate:\n  executor: {spec: {}}\n",
    ] {
        let (code, found) = lint(stream);
        assert_eq!(code, 0, "{stream}\n{}", shown(&found));
    }
}

/// A missing key is the values stage's finding, at the stream's definition,
/// and the stream is not rendered: no template or CRD error for it.
#[test]
fn required_keys_stop_the_stream_before_rendering() {
    for (stream, message) in [
        (
            "mainClass: x\nspark: {version: null}\n",
            "no Spark version is set",
        ),
        (
            "mainClass: x\nspark: {image: null}\n",
            "no container image is set",
        ),
        ("mainClass: x\nspark: null\n", "no Spark version is set"),
        (
            "mainClass: x\napplicationFile: null\n",
            "no application file is set",
        ),
        ("type: Java\n", "no main class is set"),
        ("type: Scala\n", "no main class is set"),
    ] {
        let (code, found) = lint(stream);
        assert_eq!(code, 1, "{stream}\n{}", shown(&found));
        let required: Vec<&Json> = found
            .iter()
            .filter(|d| d["code"] == "values/required")
            .collect();
        assert!(
            required
                .iter()
                .any(|d| d["message"] == message && place(&d["location"]) == format!("{STREAM}:1")),
            "{stream}: no `{message}` at the stream\n{}",
            shown(&found)
        );
        // Said once, not also by the schema's own `required`.
        let messages: Vec<&str> = required
            .iter()
            .filter_map(|d| d["message"].as_str())
            .collect();
        let mut unique = messages.clone();
        unique.dedup();
        assert_eq!(messages, unique, "{stream}");
        assert!(
            !found.iter().any(|d| {
                let c = d["code"].as_str().unwrap_or("");
                c.starts_with("render/") || c.starts_with("manifest/")
            }),
            "{stream}: rendered anyway\n{}",
            shown(&found)
        );
        assert!(
            !found.iter().any(|d| d["message"]
                .as_str()
                .is_some_and(|m| m.ends_with("is required"))),
            "{stream}: the schema's `required` as well\n{}",
            shown(&found)
        );
    }
    // A Python stream needs no main class; the CRD names do as well as sluice's.
    let (code, found) = lint("type: Python\nmainClass: null\n");
    assert_eq!(code, 0, "{}", shown(&found));
}

/// `render` says the same and renders nothing for the stream.
#[test]
fn render_reports_a_missing_version_in_the_values() {
    let repo = Repo::with(&[(STREAM, Some("mainClass: x\nspark: {version: null}\n"))]);
    let out = repo.sluice(&["render", "--env", "dev"]);
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("error[values/required]: no Spark version is set"),
        "{text}"
    );
    assert!(
        text.contains("--> values/streams/orders.yaml:1:1"),
        "{text}"
    );
    assert!(
        !text.contains("render/template") && !text.contains("manifest/schema"),
        "{text}"
    );
}

/// Spark's confs that only name a Secret (`secretname:key`, a mount path)
/// are no literal credentials; real ones beside them still are.
#[test]
fn spark_secret_confs_are_no_literal_secrets() {
    let names = "mainClass: x\nsparkConf:\n  spark.kubernetes.driver.secrets.db-password: /mnt/secrets/db\n  spark.kubernetes.executor.secrets.kafka-token: /mnt/secrets/kafka\n  spark.kubernetes.driver.secretKeyRef.DB_PASSWORD: \"db-creds:password\"\n  spark.kubernetes.executor.secretKeyRef.API_TOKEN: api-creds:token\n  spark.kubernetes.executor.secretKeyRef.AWS_SECRET_ACCESS_KEY: aws:secret-access-key\n";
    let (code, found) = lint(names);
    assert!(
        !found.iter().any(|d| d["code"] == "values/literal-secret"),
        "{}",
        shown(&found)
    );
    assert_eq!(code, 0, "{}", shown(&found));

    let real = format!(
        "{names}  spark.hadoop.fs.s3a.secret.key: wJalrXUtnFEMI-K7MDENGbPxRfiCY\n  spark.kubernetes.driver.secretKeyRef.JDBC_URL: \"postgres://app:hunter2pw@db:5432/x\"\ndriver:\n  env:\n    DB_PASSWORD: hunter2pw\n"
    );
    let (code, found) = lint(&real);
    assert_eq!(code, 1, "{}", shown(&found));
    let secrets: Vec<String> = found
        .iter()
        .filter(|d| d["code"] == "values/literal-secret")
        .map(|d| place(&d["location"]))
        .collect();
    for line in [8, 9, 12] {
        assert!(
            secrets.contains(&format!("{STREAM}:{line}")),
            "no literal secret at line {line}\n{}",
            shown(&found)
        );
    }
    assert_eq!(secrets.len(), 3, "{}", shown(&found));
}
