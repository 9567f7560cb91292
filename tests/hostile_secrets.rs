//! Credentials never reach any output. Each test puts marker secrets
//! (`S3CR3T-<n>`) where one leaked or went undetected, runs every output
//! that could show them — lint in every format, values (with provenance,
//! as JSON), render with a template whose failure quotes the rendered
//! text, the offline diff, `--set` errors — and checks that no marker is
//! printed, the exit code, and that `values/literal-secret` is reported (or
//! not, for references) unless `lint.ignore` switches it off. Masking
//! happens whether or not the finding is switched off.
//!
//! `sluice render` itself prints the manifests, credentials included: they
//! are what goes to the cluster. Only its diagnostics are checked here.

mod common;

use common::{Output, Repo};
use std::time::{Duration, Instant};

/// Every marker contains this (`S3CR3T-1`, and `S3CR3U-1` after a change).
const MARK: &str = "S3CR3";
const STREAM: &str = "values/streams/orders.yaml";
const IGNORE: &str = "lint: {ignore: [values/literal-secret]}\n";
/// A template that renders invalid YAML: its finding quotes the rendered
/// text, every value of the stream included.
const QUOTING_TEMPLATE: (&str, &str) = (
    "templates/quote.yaml.j2",
    "kind: ConfigMap\nleak: [{{ values | tojson }}, {{ derived | tojson }}\n",
);

/// Runs sluice with a hang guard tighter than the helper's: a case is a
/// small repository, and masking must stay linear in hostile text.
fn run(repo: &Repo, args: &[&str]) -> Output {
    let started = Instant::now();
    let out = repo.sluice(args);
    assert!(
        // A hang guard (a debug build runs sluice's code unoptimised).
        started.elapsed() < Duration::from_secs(if cfg!(debug_assertions) { 5 } else { 2 }),
        "sluice {args:?} took {:?}",
        started.elapsed()
    );
    out
}

fn assert_hidden(repo: &Repo, args: &[&str]) -> Output {
    let out = run(repo, args);
    assert!(
        !out.stdout.contains(MARK) && !out.stderr.contains(MARK),
        "sluice {args:?} shows a secret:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    out
}

const LINT_FORMATS: &[&str] = &["human", "json", "junit", "codequality"];

/// Every output of a repository whose `orders` stream file is `stream`;
/// `detected`: whether it holds a literal credential.
fn check(stream: &str, detected: bool) {
    let repo = Repo::with(&[(STREAM, Some(stream))]);
    for format in LINT_FORMATS {
        let out = assert_hidden(&repo, &["lint", "--format", format]);
        assert_eq!(out.code, i32::from(detected), "{format}: {}", out.stdout);
        assert_eq!(
            out.stdout.contains("values/literal-secret"),
            detected,
            "{format}: {}",
            out.stdout
        );
    }
    // Refused while the finding stands (exit 2), shown when there is none.
    let refused = if detected { 2 } else { 0 };
    for args in [
        &["values", "--env", "dev"][..],
        &["values", "--env", "dev", "--provenance"],
        &["render", "--env", "dev"],
    ] {
        let out = run(&repo, args);
        assert_eq!(out.code, refused, "{args:?}: {}", out.stderr);
        if detected || args[0] == "values" {
            assert_hidden(&repo, args);
        }
    }

    // Switched off: no finding, and still masked everywhere.
    let ignored = format!("{stream}{IGNORE}");
    repo.write(STREAM, ignored.as_bytes());
    for format in LINT_FORMATS {
        let out = assert_hidden(&repo, &["lint", "--format", format]);
        assert_eq!(out.code, 0, "{format}: {}", out.stdout);
        assert!(
            !out.stdout.contains("values/literal-secret"),
            "{format}: {}",
            out.stdout
        );
    }
    for args in [
        &["values", "--env", "dev"][..],
        &["values", "--env", "dev", "--provenance"],
        &["values", "--env", "dev", "--format", "json"],
    ] {
        let out = assert_hidden(&repo, args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        if detected {
            assert!(out.stdout.contains("<hidden>"), "{args:?}: {}", out.stdout);
        }
    }

    // A template that fails and quotes what it rendered.
    repo.write(QUOTING_TEMPLATE.0, QUOTING_TEMPLATE.1.as_bytes());
    let out = assert_hidden(&repo, &["render", "--env", "dev"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("render/invalid-output"),
        "{}",
        out.stderr
    );
    for format in LINT_FORMATS {
        let out = assert_hidden(&repo, &["lint", "--format", format]);
        assert_eq!(out.code, 1, "{format}: {}", out.stdout);
        assert!(
            out.stdout.contains("render/invalid-output"),
            "{format}: {}",
            out.stdout
        );
    }
    std::fs::remove_file(repo.path().join(QUOTING_TEMPLATE.0)).unwrap();

    // The offline diff of a change to every secret.
    common::git_in(repo.path(), &["init", "-q"]);
    common::git_in(repo.path(), &["add", "."]);
    common::git_in(repo.path(), &["commit", "-qm", "base"]);
    repo.write(
        STREAM,
        // Same length: an AWS key id stays one.
        ignored.replace("S3CR3T", "S3CR3U").as_bytes(),
    );
    for format in ["human", "json", "markdown"] {
        let out = assert_hidden(
            &repo,
            &["diff", "--env", "dev", "--base", "HEAD", "--format", format],
        );
        assert_eq!(out.code, 0, "{format}: {}", out.stderr);
        if detected && format == "human" {
            assert!(out.stdout.contains("<hidden "), "{}", out.stdout);
        }
    }
}

/// Found by lint, in its one place, and no marker printed.
fn detected_at(stream: &str, at: &[&str]) {
    let repo = Repo::with(&[(STREAM, Some(stream))]);
    let out = assert_hidden(&repo, &["lint"]);
    for path in at {
        assert!(
            out.stdout.contains(&format!(
                "error[values/literal-secret]: `{path}` holds a literal credential"
            )),
            "{path}: {}",
            out.stdout
        );
    }
    assert_eq!(
        out.stdout.matches("error[values/literal-secret]").count(),
        at.len(),
        "{}",
        out.stdout
    );
}

#[test]
fn pod_template_env_password_is_found_and_masked() {
    let stream = "mainClass: com.example.Orders\npodTemplate:\n  driver:\n    spec:\n      containers:\n        - name: sidecar\n          image: busybox:1.36\n          env:\n            - name: DB_PASSWORD\n              value: S3CR3T-1\n            - {name: LOG_LEVEL, value: info}\n";
    check(stream, true);
    detected_at(
        stream,
        &["podTemplate.driver.spec.containers[0].env[0].value"],
    );
}

#[test]
fn credentials_in_arguments_are_found_and_masked() {
    let stream = "mainClass: com.example.Orders\narguments:\n  - --topic\n  - orders\n  - jdbc:postgresql://app:S3CR3T-1@db.example.com/orders\n  - --password=S3CR3T-2\n  - --token\n  - S3CR3T-3\n  - --api-key=S3CR3T-4\n  - AKIAS3CR3T0000000001\n  - \"AKIAS3CR3T0000000002 wJalrXUtnFEMI/K7MDENG/bPxRfiS3CR3TAMPLEK\"\n";
    check(stream, true);
    detected_at(
        stream,
        &[
            "arguments[2]",
            "arguments[3]",
            "arguments[5]",
            "arguments[6]",
            "arguments[7]",
            "arguments[8]",
        ],
    );
}

#[test]
fn jdbc_and_jaas_passwords_in_confs_are_found_and_masked() {
    let stream = "mainClass: com.example.Orders\nsparkConf:\n  spark.datasource.jdbc.url: \"jdbc:postgresql://db/orders?user=app&password=S3CR3T-1&ssl=true\"\n  spark.sql.shuffle.partitions: \"200\"\nhadoopConf:\n  fs.s3a.endpoint: \"https://minio:S3CR3T-2@minio.example.com\"\ndriver:\n  env:\n    KAFKA_OPTS: 'org.apache.kafka.common.security.plain.PlainLoginModule required username=\"app\" password=\"S3CR3T-3\";'\n";
    check(stream, true);
    detected_at(
        stream,
        &[
            "sparkConf.spark.datasource.jdbc.url",
            "hadoopConf.fs.s3a.endpoint",
            "driver.env.KAFKA_OPTS",
        ],
    );
}

#[test]
fn env_names_ending_in_pass_token_or_key_are_found_and_masked() {
    let stream = "mainClass: com.example.Orders\ndriver:\n  env:\n    GITHUB_TOKEN: S3CR3T-1\n    KAFKA_BOOTSTRAP: kafka:9092\nexecutor:\n  env:\n    PGPASS: S3CR3T-2\n    STRIPE_API_KEY: S3CR3T-3\n    PARTITION_KEY: customer_id\n";
    check(stream, true);
    detected_at(
        stream,
        &[
            "driver.env.GITHUB_TOKEN",
            "executor.env.PGPASS",
            "executor.env.STRIPE_API_KEY",
        ],
    );
}

#[test]
fn java_options_password_is_found_and_masked() {
    let stream = "mainClass: com.example.Orders\ndriver:\n  javaOptions: \"-XX:+UseG1GC -Djavax.net.ssl.trustStorePassword=S3CR3T-1 -Dlog.level=info\"\n";
    check(stream, true);
    detected_at(stream, &["driver.javaOptions"]);
}

#[test]
fn an_incomplete_placeholder_is_a_literal() {
    let stream = "mainClass: com.example.Orders\nhadoopConf:\n  fs.s3a.secret.key: \"${S3CR3T-1\"\n  fs.s3a.access.key: \"pre-${S3CR3T_2}\"\n";
    check(stream, true);
    detected_at(
        stream,
        &[
            "hadoopConf.fs.s3a.secret.key",
            "hadoopConf.fs.s3a.access.key",
        ],
    );
}

#[test]
fn references_to_secrets_are_not_findings() {
    let stream = "mainClass: com.example.Orders\narguments: [--password, \"${DB_PASSWORD}\", \"jdbc:postgresql://app:${DB_PASSWORD}@db/orders\"]\nsparkConf:\n  spark.kubernetes.driver.secrets.kafka-creds: /mnt/secrets/kafka\n  spark.kubernetes.executor.secrets.kafka-creds: /mnt/secrets/kafka\n  spark.kubernetes.driver.secretKeyRef.DB_PASSWORD: \"db-creds:password\"\n  spark.kubernetes.executor.secretKeyRef.DB_PASSWORD: \"db-creds:password\"\n  spark.datasource.jdbc.url: \"jdbc:postgresql://db/orders?user=app&password=${DB_PASSWORD}\"\nhadoopConf:\n  fs.s3a.secret.key: \"${env:S3_SECRET_KEY}\"\nexecutor:\n  env:\n    PGPASS: \"${DB_PASSWORD}\"\nsecrets:\n  - name: db-creds\n    env: {DB_PASSWORD: password, API_TOKEN: token}\npodTemplate:\n  driver:\n    spec:\n      containers:\n        - name: sidecar\n          image: busybox:1.36\n          env:\n            - name: DB_PASSWORD\n              valueFrom: {secretKeyRef: {name: db-creds, key: password}}\n      volumes:\n        - name: creds\n          secret: {secretName: db-creds}\n";
    check(stream, false);
    // References stay readable where values are shown.
    let repo = Repo::with(&[(STREAM, Some(stream))]);
    let out = run(&repo, &["values", "--env", "dev", "--stream", "orders"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for shown in [
        "spark.kubernetes.driver.secrets.kafka-creds: /mnt/secrets/kafka",
        "DB_PASSWORD: password",
        "secretName: db-creds",
    ] {
        assert!(out.stdout.contains(shown), "{shown}: {}", out.stdout);
    }
}

#[test]
fn lint_ignore_switches_the_finding_off_per_stream() {
    // `payments` keeps the finding; `orders` switched it off.
    let repo = Repo::with(&[
        (
            STREAM,
            Some(&format!(
                "mainClass: com.example.Orders\nexecutor:\n  env: {{PGPASS: S3CR3T-1}}\n{IGNORE}"
            )),
        ),
        (
            "values/streams/payments.yaml",
            Some("mainClass: com.example.Payments\nexecutor:\n  env: {PGPASS: S3CR3T-2}\n"),
        ),
    ]);
    let out = assert_hidden(&repo, &["lint", "--format", "json"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let subjects: Vec<&str> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "values/literal-secret")
        .flat_map(|d| d["subjects"].as_array().unwrap())
        .map(|s| s["stream"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["payments", "payments"], "{}", out.stdout);
}

#[test]
fn set_flags_are_masked_to_the_end_of_the_value() {
    let repo = Repo::with(&[]);
    for (args, code) in [
        // Malformed: masked up to the end of the flag, past `,` and `}`.
        (
            &[
                "lint",
                "--set",
                "sparkConf.spark\\.password=abc\\,S3CR3T-1,x[=1",
            ][..],
            2,
        ),
        (&["lint", "--set", "x[=1,password=abc}S3CR3T-2"], 2),
        (
            &["render", "--env", "dev", "--set", "password=a,S3CR3T-3"],
            2,
        ),
        (
            &[
                "values",
                "--env",
                "dev",
                "--set-string",
                "sparkConf.spark\\.password=abc\\,S3CR3T-4,b",
            ],
            2,
        ),
        // Well-formed but wrong: the finding shows the flag, masked.
        (&["lint", "--set", "password=abc\\,S3CR3T-5"], 1),
        // An unclosed `{` is malformed, as in Helm; its items are masked as list items.
        (&["lint", "--set", "arguments={--password,S3CR3T-6"], 2),
        (&["lint", "--set", "sparkConf.spark\\.password=S3CR3T-7"], 1),
    ] {
        let out = assert_hidden(&repo, args);
        assert_eq!(out.code, code, "{args:?}: {}{}", out.stdout, out.stderr);
    }
}

#[test]
fn yaml_that_does_not_parse_is_masked_to_the_end_of_the_value() {
    let repo = Repo::with(&[(
        STREAM,
        Some(
            "mainClass: com.example.Orders\nsparkConf: {spark.password: abc,}S3CR3T-1, x: [\nexecutor:\n  env:\n    - name: DB_PASSWORD\n      value: \"S3CR3T-2, }\"\n  bad: [\n",
        ),
    )]);
    for format in LINT_FORMATS {
        let out = assert_hidden(&repo, &["lint", "--format", format]);
        assert_eq!(out.code, 1, "{format}: {}", out.stdout);
        assert!(
            out.stdout.contains("yaml/syntax"),
            "{format}: {}",
            out.stdout
        );
    }
}

#[test]
fn masking_hostile_text_stays_fast() {
    // Long lines the parser rejects, full of what the scanner looks at.
    let line = |unit: &str| unit.repeat(200_000 / unit.len());
    let text = format!(
        "mainClass: x\nsparkConf: {{{}\n{}\n{}\n{}\n",
        line("password="),
        line("a://"),
        line("password: \"S3CR3T-1 "),
        line("--password "),
    );
    let repo = Repo::with(&[(STREAM, Some(&text))]);
    let out = assert_hidden(&repo, &["lint"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
}
