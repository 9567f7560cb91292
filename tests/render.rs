//! `sluice render`: the manifests users deploy. Every example stream in
//! every environment is pinned by a snapshot and checked, strictly, against
//! the upstream spark-operator CRD.

mod common;

use common::{Repo, assert_passes, project_root, rendered, sluice_in};
use serde_json::Value;
use std::path::PathBuf;

fn oracle() -> jsonschema::Validator {
    common::upstream_oracle("sparkoperator.k8s.io_sparkapplications.yaml", "v1beta2")
}

#[test]
#[cfg_attr(sluice_no_upstream_crds, ignore = "needs ../shared/crds")]
fn example_streams_pass_the_upstream_crd_strictly() {
    let validator = oracle();
    let mut checked = 0;
    for env in ["dev", "prod"] {
        for object in rendered(&project_root(), env, &[]) {
            if object["kind"] == "SparkApplication" {
                assert_passes(&validator, &object);
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 9, "5 streams in dev, 4 in prod");
}

#[test]
#[cfg_attr(sluice_no_upstream_crds, ignore = "needs ../shared/crds")]
fn the_oracle_rejects_what_the_server_would_prune() {
    let validator = oracle();
    let mut object = rendered(&project_root(), "dev", &["--stream", "orders"]).remove(0);
    assert!(validator.is_valid(&object));
    object["spec"]["driver"]["memroy"] = "4g".into();
    assert!(!validator.is_valid(&object), "an unknown field must fail");
}

#[test]
fn example_manifests_snapshot_per_stream_and_environment() {
    for env in ["dev", "prod"] {
        let all = sluice_in(&project_root(), &["render", "--env", env]);
        assert_eq!(all.code, 0, "{}", all.stderr);
        for object in rendered(&project_root(), env, &[]) {
            let stream = object["metadata"]["name"].as_str().unwrap().to_owned();
            let one = sluice_in(
                &project_root(),
                &["render", "--env", env, "--stream", &stream],
            );
            assert!(
                all.stdout.contains(&one.stdout),
                "rendering one stream gives the same text"
            );
            insta::assert_snapshot!(format!("{env}-{stream}"), one.stdout);
        }
    }
}

#[test]
fn output_is_deterministic() {
    let a = sluice_in(&project_root(), &["render", "--env", "prod"]);
    for _ in 0..3 {
        assert_eq!(
            sluice_in(&project_root(), &["render", "--env", "prod"]).stdout,
            a.stdout
        );
    }
}

/// A fixture per values key: each renders where the operator expects it,
/// and passes the upstream CRD.
#[test]
#[cfg_attr(sluice_no_upstream_crds, ignore = "needs ../shared/crds")]
fn every_values_key_renders() {
    let cases: &[(&str, &str, &[(&str, Value)])] = &[
        (
            "python",
            "type: Python\npythonVersion: \"3\"\napplicationFile: local:///app/main.py\nmainClass: null\n",
            &[
                ("/spec/type", "Python".into()),
                ("/spec/pythonVersion", "3".into()),
            ],
        ),
        (
            "image-parts",
            "image: {repository: reg/spark, tag: 1.2}\n",
            &[("/spec/image", "reg/spark:1.2".into())],
        ),
        (
            "pull",
            "imagePullPolicy: Always\nimagePullSecrets: [regcred]\n",
            &[
                ("/spec/imagePullPolicy", "Always".into()),
                ("/spec/imagePullSecrets/0", "regcred".into()),
            ],
        ),
        (
            "arguments-typed",
            "arguments: [--n, 3, --flag, true]\n",
            &[
                ("/spec/arguments/1", "3".into()),
                ("/spec/arguments/3", "true".into()),
            ],
        ),
        (
            "restart",
            "restartPolicy: OnFailure\nmaxSubmissionRetries: 4\nmaxRetries: 7\nretryInterval: 60\nsubmissionRetryInterval: 15\n",
            &[
                ("/spec/restartPolicy/type", "OnFailure".into()),
                ("/spec/restartPolicy/onSubmissionFailureRetries", 4.into()),
                ("/spec/restartPolicy/onFailureRetries", 7.into()),
                ("/spec/restartPolicy/onFailureRetryInterval", 60.into()),
                (
                    "/spec/restartPolicy/onSubmissionFailureRetryInterval",
                    15.into(),
                ),
            ],
        ),
        (
            "restart-object",
            "restartPolicy: {type: OnFailure, onFailureRetries: 3}\n",
            &[("/spec/restartPolicy/onFailureRetries", 3.into())],
        ),
        (
            "resources",
            "driver: {cores: 2, coreRequest: 1500m, coreLimit: 2, memory: 3g, memoryOverhead: 1g, serviceAccount: sa, javaOptions: -Xss4m}\nexecutor: {coreRequest: 0.5, instances: 5, deleteOnTermination: false}\n",
            &[
                ("/spec/driver/coreLimit", "2".into()),
                ("/spec/driver/coreRequest", "1500m".into()),
                ("/spec/driver/memoryOverhead", "1g".into()),
                ("/spec/driver/javaOptions", "-Xss4m".into()),
                ("/spec/executor/coreRequest", "0.5".into()),
                ("/spec/executor/instances", 5.into()),
                ("/spec/executor/deleteOnTermination", false.into()),
            ],
        ),
        (
            "pod-metadata",
            "driver: {labels: {a: b}, annotations: {c: d}, env: {X: 1}}\n",
            &[
                ("/spec/driver/labels/a", "b".into()),
                ("/spec/driver/annotations/c", "d".into()),
                (
                    "/spec/driver/env/0",
                    serde_json::json!({"name": "X", "value": "1"}),
                ),
            ],
        ),
        (
            "placement",
            "nodeSelector: {pool: spark}\ntolerations: [{key: k, operator: Exists}]\nexecutor: {nodeSelector: {pool: spot}}\n",
            &[
                ("/spec/driver/nodeSelector/pool", "spark".into()),
                ("/spec/executor/nodeSelector/pool", "spot".into()),
                ("/spec/executor/tolerations/0/key", "k".into()),
            ],
        ),
        (
            "sink",
            "sink: s3a://lake/raw/orders\n",
            &[(
                "/spec/sparkConf/spark.sql.streaming.checkpointLocation",
                "s3a://lake/raw/orders/_checkpoints/orders".into(),
            )],
        ),
        (
            "checkpoint",
            "sink: s3a://lake/x\ncheckpointLocation: s3a://cp/orders\n",
            &[(
                "/spec/sparkConf/spark.sql.streaming.checkpointLocation",
                "s3a://cp/orders".into(),
            )],
        ),
        (
            "confs",
            "sparkConf: {spark.a: 1, spark.b: x}\nhadoopConf: {fs.x: true}\n",
            &[
                ("/spec/sparkConf/spark.a", "1".into()),
                ("/spec/hadoopConf/fs.x", "true".into()),
            ],
        ),
        (
            "secrets",
            "secrets: [{name: kafka, env: {PASS: password}}, {name: gcp, path: /mnt/gcp, type: GCPServiceAccount}]\n",
            &[
                (
                    "/spec/driver/env/0/valueFrom/secretKeyRef/name",
                    "kafka".into(),
                ),
                (
                    "/spec/executor/env/0/valueFrom/secretKeyRef/key",
                    "password".into(),
                ),
                (
                    "/spec/executor/secrets/0/secretType",
                    "GCPServiceAccount".into(),
                ),
            ],
        ),
        (
            "monitoring",
            "monitoring: {exposeDriverMetrics: true, prometheus: {jmxExporterJar: /p.jar, port: 8090}}\n",
            &[("/spec/monitoring/prometheus/port", 8090.into())],
        ),
        (
            "dynamic-allocation",
            "dynamicAllocation: {enabled: true, maxExecutors: 4}\n",
            &[(
                "/spec/dynamicAllocation/shuffleTrackingEnabled",
                true.into(),
            )],
        ),
        (
            "tmpfs",
            "localDirs: {type: tmpfs}\n",
            &[(
                "/spec/sparkConf/spark.kubernetes.local.dirs.tmpfs",
                "true".into(),
            )],
        ),
        (
            "pvc",
            "localDirs: {type: pvc, storageClass: gp3, size: 50Gi}\n",
            &[(
                "/spec/sparkConf/spark.kubernetes.executor.volumes.persistentVolumeClaim.spark-local-dir-1.options.storageClass",
                "gp3".into(),
            )],
        ),
        (
            "batch",
            "batchScheduler: yunikorn\nbatchSchedulerOptions: {queue: q}\n",
            &[
                ("/spec/batchScheduler", "yunikorn".into()),
                ("/spec/batchSchedulerOptions/queue", "q".into()),
            ],
        ),
        (
            "pod-template",
            "podTemplate: {driver: {spec: {containers: [{name: side, image: busybox}]}}}\n",
            &[(
                "/spec/driver/template/spec/containers/0/name",
                "side".into(),
            )],
        ),
        (
            "sidecars",
            "executor: {sidecars: [{name: side, image: busybox}]}\n",
            &[("/spec/executor/sidecars/0/name", "side".into())],
        ),
        (
            "suspend",
            "suspend: true\n",
            &[("/spec/suspend", true.into())],
        ),
        (
            "runs-to-completion",
            "runsToCompletion: true\n",
            &[(
                "/metadata/annotations/sluice.dev~1runs-to-completion",
                "true".into(),
            )],
        ),
        (
            "deps",
            "deps: {packages: [a:b:1], jars: [local:///x.jar]}\n",
            &[("/spec/deps/packages/0", "a:b:1".into())],
        ),
        (
            "object-metadata",
            "labels: {team: bi}\nannotations: {owner: me}\n",
            &[
                ("/metadata/labels/team", "bi".into()),
                ("/metadata/annotations/owner", "me".into()),
                ("/metadata/labels/sluice.dev~1stream", "orders".into()),
            ],
        ),
        (
            "template-text-stays-text",
            "arguments: [\"{{ 7*7 }}\", \"{% raw %}\"]\n",
            &[
                ("/spec/arguments/0", "{{ 7*7 }}".into()),
                ("/spec/arguments/1", "{% raw %}".into()),
            ],
        ),
    ];
    let validator = oracle();
    for (name, values, expected) in cases {
        let main = if values.contains("mainClass") {
            ""
        } else {
            "mainClass: com.example.Orders\n"
        };
        let repo = Repo::with(&[(
            "values/streams/orders.yaml",
            Some(&format!("{main}{values}")),
        )]);
        let out = repo.sluice(&[
            "render", "--env", "dev", "--stream", "orders", "--format", "json",
        ]);
        assert_eq!(out.code, 0, "{name}: {}", out.stderr);
        let object = &serde_json::from_str::<Value>(&out.stdout).unwrap()["items"][0];
        for (pointer, value) in *expected {
            assert_eq!(
                object.pointer(pointer),
                Some(value),
                "{name}: {pointer} in\n{object:#}"
            );
        }
        assert_passes(&validator, object);
    }
}

/// Only a stream that says so gets the annotation, and a repository's own
/// template cannot drop it (health depends on it).
#[test]
fn runs_to_completion_is_an_annotation_only_when_true() {
    for (values, expected) in [
        ("", None),
        ("runsToCompletion: false\n", None),
        ("runsToCompletion: true\n", Some("true")),
    ] {
        let repo = Repo::with(&[
            (
                "values/streams/orders.yaml",
                Some(&format!("mainClass: com.example.Orders\n{values}")),
            ),
            (
                "templates/sparkapplication.yaml.j2",
                Some(&sluice::render::BUILTIN_TEMPLATE.replace(
                    "  namespace: {{ environment.namespace | tojson }}\n",
                    "  namespace: {{ environment.namespace | tojson }}\n  annotations: {}\n",
                )),
            ),
        ]);
        let out = repo.sluice(&[
            "render", "--env", "dev", "--stream", "orders", "--format", "json",
        ]);
        assert_eq!(out.code, 0, "{values}: {}", out.stderr);
        let object = &serde_json::from_str::<Value>(&out.stdout).unwrap()["items"][0];
        assert_eq!(
            object["metadata"]["annotations"][sluice::render::ANNOTATION_RUNS_TO_COMPLETION]
                .as_str(),
            expected,
            "{values}: {object:#}"
        );
    }
}

#[test]
fn template_errors_point_at_the_template_line() {
    let template =
        std::fs::read_to_string(project_root().join("templates/sparkapplication.yaml.j2")).unwrap();
    let broken = template.replace(
        "  mode: {{ derived.mode | tojson }}\n",
        "  mode: {{ derived.mode | tojson }}\n  proxyUser: {{ values.noSuchKey }}\n",
    );
    let line = broken
        .lines()
        .position(|l| l.contains("proxyUser"))
        .unwrap()
        + 1;
    let repo = Repo::with(&[("templates/sparkapplication.yaml.j2", Some(&broken))]);
    let out = repo.sluice(&["render", "--env", "dev"]);
    assert_eq!(out.code, 2);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.contains("error[render/template]"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("--> templates/sparkapplication.yaml.j2:{line}:")),
        "{}",
        out.stderr
    );
    // lint reports it too, per stream and environment.
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("error[render/template]"),
        "{}",
        out.stdout
    );

    let repo = Repo::with(&[(
        "templates/sparkapplication.yaml.j2",
        Some("apiVersion: v1\n{% if %}\n"),
    )]);
    let out = repo.sluice(&["render", "--env", "dev"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("--> templates/sparkapplication.yaml.j2:2:"),
        "{}",
        out.stderr
    );
}

#[test]
fn extra_templates_render_per_stream_and_labels_cannot_be_dropped() {
    let configmap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ (stream.name ~ \"-config\") | tojson }}\n  namespace: {{ environment.namespace | tojson }}\n  labels: {}\ndata:\n  main: {{ values.mainClass | tojson }}\n";
    let repo = Repo::with(&[
        ("templates/config.yaml.j2", Some(configmap)),
        (
            "templates/_helpers.j2",
            Some("{% macro x() %}{% endmacro %}"),
        ),
    ]);
    let items = rendered(repo.path(), "dev", &[]);
    let kinds: Vec<(&str, &str)> = items
        .iter()
        .map(|o| {
            (
                o["metadata"]["name"].as_str().unwrap(),
                o["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("orders", "SparkApplication"),
            ("orders-config", "ConfigMap"),
            ("payments", "SparkApplication"),
            ("payments-config", "ConfigMap")
        ]
    );
    assert_eq!(items[1]["data"]["main"], "com.example.Orders");
    for o in &items {
        assert_eq!(
            o["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "sluice"
        );
        assert_eq!(o["metadata"]["labels"]["sluice.dev/environment"], "dev");
        assert!(
            o["metadata"]["annotations"]["sluice.dev/source"]
                .as_str()
                .unwrap()
                .starts_with("values/streams/")
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out = repo.sluice(&[
        "render",
        "--env",
        "dev",
        "--output-dir",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut files: Vec<String> = walk(&out_dir);
    files.sort();
    assert_eq!(
        files,
        [
            ".sluice-render",
            "orders/configmap.yaml",
            "orders/sparkapplication.yaml",
            "payments/configmap.yaml",
            "payments/sparkapplication.yaml"
        ]
    );
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in std::fs::read_dir(dir.join(&rel)).unwrap() {
            let entry = entry.unwrap();
            let rel = rel.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                stack.push(rel);
            } else {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    out
}

#[test]
fn output_dir_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("rendered");
    let repo = Repo::with(&[]);
    let ok = repo.sluice(&["render", "--env", "dev", "-o", out_dir.to_str().unwrap()]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let before = walk(&out_dir);
    let orders = std::fs::read_to_string(out_dir.join("orders/sparkapplication.yaml")).unwrap();

    // A broken stream: nothing changes, nothing is left behind.
    repo.write(
        "values/streams/payments.yaml",
        b"mainClass: x\nexecutor: {memory: 4Gi}\n",
    );
    let bad = repo.sluice(&["render", "--env", "dev", "-o", out_dir.to_str().unwrap()]);
    assert_eq!(bad.code, 2);
    assert!(bad.stdout.is_empty());
    assert!(bad.stderr.contains("nothing rendered"), "{}", bad.stderr);
    assert_eq!(walk(&out_dir), before);
    assert_eq!(
        std::fs::read_to_string(out_dir.join("orders/sparkapplication.yaml")).unwrap(),
        orders
    );
    let siblings: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(siblings, ["rendered"], "no staging directory left behind");

    // A removed stream disappears from the directory on the next render.
    repo.write(
        "values/streams/payments.yaml",
        b"mainClass: x\nenabled: false\n",
    );
    assert_eq!(
        repo.sluice(&["render", "--env", "dev", "-o", out_dir.to_str().unwrap()])
            .code,
        0
    );
    assert!(!out_dir.join("payments").exists());

    // A directory sluice did not write is never replaced.
    let foreign = dir.path().join("mine");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("keep.txt"), "x").unwrap();
    let out = repo.sluice(&["render", "--env", "dev", "-o", foreign.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("refusing to replace it"),
        "{}",
        out.stderr
    );
    assert!(foreign.join("keep.txt").exists());
}

#[test]
fn render_exit_codes() {
    let repo = Repo::with(&[]);
    assert_eq!(repo.sluice(&["render", "--env", "dev"]).code, 0);
    let out = repo.sluice(&["render", "--env", "qa"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("unknown environment `qa`"));
    let out = repo.sluice(&["render", "--env", "dev", "--stream", "ordres"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("did you mean `orders`?"),
        "{}",
        out.stderr
    );
    let out = repo.sluice(&["render"]);
    assert_eq!(out.code, 2, "--env is required");
    let out = repo.sluice(&["render", "--env", "dev", "--set", "executor.cores=0"]);
    assert_eq!(out.code, 2);
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains("error[values/range]"), "{}", out.stderr);
}

/// The layout of the Helm chart sluice replaces: defaults and a `streams:`
/// list of names and arguments in one values file.
#[test]
#[cfg_attr(sluice_no_upstream_crds, ignore = "needs ../shared/crds")]
fn helm_chart_shaped_values_render_and_pass_the_crd() {
    let common = "spark:\n  version: \"3.4.1\"\n  image: registry.example.com/spark-streams:2.3.0\nnodeSelector:\n  pool: spark\ntolerations:\n  - {key: spark, operator: Exists, effect: NoSchedule}\nmainClass: com.example.StreamRunner\napplicationFile: local:///opt/spark/jars/streams.jar\nrestartPolicy: Always\nmaxSubmissionRetries: 3\ndriver:\n  cores: 1\n  coreLimit: \"1\"\n  memory: 2g\nexecutor:\n  cores: 2\n  coreLimit: \"2\"\n  instances: 2\n  memory: 4g\nsink: s3a://lake/raw\nstreams:\n  - name: orders\n    arguments: [--topic, orders]\n  - name: payments\n    arguments: [--topic, payments]\n";
    let repo = Repo::with(&[
        ("values/common.yaml", Some(common)),
        ("values/streams/orders.yaml", None),
        ("values/streams/payments.yaml", None),
    ]);
    let lint = repo.sluice(&["lint"]);
    assert_eq!(lint.code, 0, "{}", lint.stdout);
    let items = rendered(repo.path(), "prod", &[]);
    assert_eq!(items.len(), 2);
    let orders = &items[0];
    assert_eq!(orders["spec"]["sparkVersion"], "3.4.1");
    assert_eq!(
        orders["spec"]["image"],
        "registry.example.com/spark-streams:2.3.0"
    );
    assert_eq!(orders["spec"]["mainClass"], "com.example.StreamRunner");
    assert_eq!(
        orders["spec"]["arguments"],
        serde_json::json!(["--topic", "orders"])
    );
    assert_eq!(
        orders["spec"]["restartPolicy"],
        serde_json::json!({"type": "Always", "onSubmissionFailureRetries": 3})
    );
    assert_eq!(orders["spec"]["driver"]["nodeSelector"]["pool"], "spark");
    assert_eq!(orders["spec"]["executor"]["tolerations"][0]["key"], "spark");
    // Both streams share the chart-wide sink; their checkpoints differ.
    assert_eq!(
        orders["spec"]["sparkConf"]["spark.sql.streaming.checkpointLocation"],
        "s3a://lake/raw/_checkpoints/orders"
    );
    assert_eq!(
        items[1]["spec"]["sparkConf"]["spark.sql.streaming.checkpointLocation"],
        "s3a://lake/raw/_checkpoints/payments"
    );
    // The chart-wide sink is the shared lake root: no finding.
    assert!(
        lint.stdout.contains("ok: no findings"),
        "an inherited sink is not a shared sink:\n{}",
        lint.stdout
    );
    let v = oracle();
    items.iter().for_each(|o| assert_passes(&v, o));
}

#[test]
#[cfg_attr(sluice_no_upstream_crds, ignore = "needs ../shared/crds")]
fn lint_against_a_crd_file() {
    let dir = tempfile::tempdir().unwrap();
    let crd_path = dir.path().join("crd.yaml");
    std::fs::copy(
        project_root().join("../shared/crds/sparkoperator.k8s.io_sparkapplications.yaml"),
        &crd_path,
    )
    .unwrap();
    let crd_arg = crd_path.to_str().unwrap();
    // The example repository passes the upstream CRD.
    let out = sluice_in(&project_root(), &["lint", "--crd", crd_arg]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    // A field the CRD has but sluice's built-in schema does not know passes with --crd.
    let template = sluice::render::BUILTIN_TEMPLATE.replace(
        "  mode: {{ derived.mode | tojson }}\n",
        "  mode: cluster\n  proxyUser: spark\n",
    );
    let repo = Repo::with(&[("templates/sparkapplication.yaml.j2", Some(&template))]);
    assert_eq!(repo.sluice(&["lint", "--crd", crd_arg]).code, 0);
    // A field the CRD does not have fails, with the CRD named.
    let template = sluice::render::BUILTIN_TEMPLATE.replace(
        "  mode: {{ derived.mode | tojson }}\n",
        "  mode: cluster\n  proxyUsr: spark\n",
    );
    let repo = Repo::with(&[("templates/sparkapplication.yaml.j2", Some(&template))]);
    let out = repo.sluice(&["lint", "--crd", crd_arg]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("error[manifest/schema]"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("'proxyUsr' was unexpected"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("checked against the CRD in {crd_arg}")),
        "{}",
        out.stdout
    );
    // Not a CRD: a usage error.
    std::fs::write(&crd_path, "kind: ConfigMap\n").unwrap();
    let out = repo.sluice(&["lint", "--crd", crd_arg]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("is not a usable CRD"), "{}", out.stderr);
}
