//! Each Spark-on-Kubernetes rule: a fixture that triggers it (with a
//! snapshot of what the user sees), a neighbour that does not, and
//! per-stream suppression with `lint: {ignore: [code]}`.

mod common;

use common::Repo;
use sluice::rules::RULES;

struct Case {
    code: &'static str,
    /// Written over the base repository.
    files: &'static [(&'static str, &'static str)],
    /// The same, fixed: the rule must not fire.
    fixed: &'static [(&'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        code: "rule/restart-never",
        files: &[(
            "values/streams/orders.yaml",
            "mainClass: x\nrestartPolicy: Never\n",
        )],
        fixed: &[(
            "values/streams/orders.yaml",
            "mainClass: x\nrestartPolicy: Always\n",
        )],
    },
    Case {
        code: "rule/on-failure-retries",
        files: &[(
            "values/streams/orders.yaml",
            "mainClass: x\nrestartPolicy: OnFailure\nmaxRetries: 3\n",
        )],
        fixed: &[(
            "values/streams/orders.yaml",
            "mainClass: x\nrestartPolicy: OnFailure\nmaxRetries: 100\n",
        )],
    },
    Case {
        code: "rule/memory-overhead",
        files: &[(
            "values/streams/orders.yaml",
            "mainClass: x\nexecutor: {memory: 8g, memoryOverhead: 512m}\n",
        )],
        fixed: &[(
            "values/streams/orders.yaml",
            "mainClass: x\nexecutor: {memory: 8g, memoryOverhead: 1g}\n",
        )],
    },
    Case {
        code: "rule/core-request",
        files: &[
            (
                "values/environments/dev.yaml",
                "namespace: streams-dev\nnodeSize: {cpu: 4, memory: 16g}\n",
            ),
            (
                "values/streams/orders.yaml",
                "mainClass: x\nexecutor: {cores: 4, coreLimit: \"4\"}\n",
            ),
        ],
        fixed: &[
            (
                "values/environments/dev.yaml",
                "namespace: streams-dev\nnodeSize: {cpu: 4, memory: 16g}\n",
            ),
            (
                "values/streams/orders.yaml",
                "mainClass: x\nexecutor: {cores: 4, coreRequest: 3400m, coreLimit: \"4\"}\n",
            ),
        ],
    },
    Case {
        code: "rule/no-core-limit",
        files: &[(
            "values/streams/orders.yaml",
            "mainClass: x\nexecutor: {coreLimit: null}\n",
        )],
        fixed: &[("values/streams/orders.yaml", "mainClass: x\n")],
    },
    Case {
        code: "rule/shuffle-tracking",
        files: &[(
            "values/streams/orders.yaml",
            "mainClass: x\ndynamicAllocation: {enabled: true, shuffleTrackingEnabled: false}\n",
        )],
        fixed: &[(
            "values/streams/orders.yaml",
            "mainClass: x\ndynamicAllocation: {enabled: true}\n",
        )],
    },
    Case {
        code: "rule/shared-checkpoint",
        files: &[
            (
                "values/streams/orders.yaml",
                "mainClass: x\ncheckpointLocation: s3a://lake/_cp/shared\n",
            ),
            (
                "values/streams/payments.yaml",
                "mainClass: y\ncheckpointLocation: s3a://lake/_cp/shared\n",
            ),
        ],
        fixed: &[
            (
                "values/streams/orders.yaml",
                "mainClass: x\nsink: s3a://lake/raw\n",
            ),
            (
                "values/streams/payments.yaml",
                "mainClass: y\nsink: s3a://lake/raw-payments\n",
            ),
        ],
    },
    Case {
        code: "rule/shared-sink",
        files: &[
            (
                "values/streams/orders.yaml",
                "mainClass: x\nsink: s3a://lake/raw/all\n",
            ),
            (
                "values/streams/payments.yaml",
                "mainClass: y\nsink: s3a://lake/raw/all/\n",
            ),
        ],
        fixed: &[
            (
                "values/streams/orders.yaml",
                "mainClass: x\nsink: s3a://lake/raw/orders\n",
            ),
            (
                "values/streams/payments.yaml",
                "mainClass: y\nsink: s3a://lake/raw/payments\n",
            ),
        ],
    },
    Case {
        code: "rule/mutable-image",
        files: &[(
            "values/streams/orders.yaml",
            "mainClass: x\nenvironments:\n  prod:\n    spark: {image: registry.example.com/spark:latest}\n",
        )],
        fixed: &[(
            "values/streams/orders.yaml",
            "mainClass: x\nenvironments:\n  dev:\n    spark: {image: registry.example.com/spark:latest}\n",
        )],
    },
    Case {
        code: "rule/local-application-file",
        files: &[(
            "values/streams/orders.yaml",
            "mainClass: x\napplicationFile: target/scala-2.12/app.jar\n",
        )],
        fixed: &[(
            "values/streams/orders.yaml",
            "mainClass: x\napplicationFile: s3a://artifacts/app.jar\n",
        )],
    },
    Case {
        code: "rule/forbidden-spark-conf",
        files: &[(
            "values/streams/orders.yaml",
            "mainClass: x\nsparkConf: {spark.kubernetes.namespace: other, spark.master: \"local[*]\"}\n",
        )],
        fixed: &[(
            "values/streams/orders.yaml",
            "mainClass: x\nsparkConf: {spark.kubernetes.namespace: streams-dev}\nenvironments:\n  prod:\n    sparkConf: {spark.kubernetes.namespace: streams-prod}\n",
        )],
    },
    Case {
        code: "rule/gang-scheduling",
        files: &[(
            "values/streams/orders.yaml",
            "mainClass: x\nexecutor: {instances: 12}\n",
        )],
        fixed: &[(
            "values/streams/orders.yaml",
            "mainClass: x\nexecutor: {instances: 12}\nbatchScheduler: volcano\n",
        )],
    },
    Case {
        code: "rule/tmpfs-headroom",
        files: &[(
            "values/streams/orders.yaml",
            "mainClass: x\nlocalDirs: {type: tmpfs}\nexecutor: {memory: 8g, memoryOverhead: 1g}\n",
        )],
        fixed: &[(
            "values/streams/orders.yaml",
            "mainClass: x\nlocalDirs: {type: tmpfs}\nexecutor: {memory: 8g, memoryOverhead: 2g}\n",
        )],
    },
];

fn repo(files: &[(&str, &str)]) -> Repo {
    let files: Vec<(&str, Option<&str>)> = files.iter().map(|(p, t)| (*p, Some(*t))).collect();
    Repo::with(&files)
}

fn findings(repo: &Repo, code: &str) -> usize {
    common::findings(repo, &[], code).len()
}

#[test]
fn every_rule_has_a_case_and_a_code() {
    let covered: Vec<&str> = CASES.iter().map(|c| c.code).collect();
    assert_eq!(covered, RULES);
    for rule in RULES {
        assert!(
            sluice::diag::CODES.iter().any(|(c, ..)| c == rule),
            "{rule} is not in diag::CODES"
        );
    }
}

#[test]
fn each_rule_fires_on_its_fixture_and_not_on_the_fix() {
    for case in CASES {
        let bad = repo(case.files);
        let out = bad.sluice(&["lint", "--env", "dev", "--env", "prod"]);
        assert!(
            out.stdout.contains(&format!("[{}]", case.code)),
            "{} did not fire:\n{}",
            case.code,
            out.stdout
        );
        insta::assert_snapshot!(case.code.replace('/', "__"), out.stdout);
        let good = repo(case.fixed);
        assert_eq!(
            findings(&good, case.code),
            0,
            "{} fired on the fixed repository",
            case.code
        );
    }
}

#[test]
fn a_stream_can_switch_a_rule_off() {
    for case in CASES {
        // Switch the rule off in every stream (cross-stream rules name two).
        let mut files: Vec<(&str, String)> = case
            .files
            .iter()
            .map(|(p, t)| (*p, (*t).to_owned()))
            .collect();
        for stream in ["values/streams/orders.yaml", "values/streams/payments.yaml"] {
            match files.iter_mut().find(|(p, _)| *p == stream) {
                Some((_, text)) => text.push_str(&format!("lint: {{ignore: [{}]}}\n", case.code)),
                None => files.push((
                    stream,
                    format!("mainClass: z\nlint: {{ignore: [{}]}}\n", case.code),
                )),
            }
        }
        let r = Repo::with(
            &files
                .iter()
                .map(|(p, t)| (*p, Some(t.as_str())))
                .collect::<Vec<_>>(),
        );
        assert_eq!(
            findings(&r, case.code),
            0,
            "{} was not switched off",
            case.code
        );
    }
    // Schema findings cannot be switched off.
    let r = Repo::with(&[(
        "values/streams/orders.yaml",
        Some("mainClass: x\nexecutor: {memory: 4Gi}\nlint: {ignore: [values/format]}\n"),
    )]);
    assert_eq!(findings(&r, "values/format"), 1);
}

#[test]
fn the_example_repository_follows_every_rule() {
    let out = common::sluice_in(&common::project_root(), &["lint"]);
    assert_eq!(
        out.stdout,
        "ok: no findings (6 streams in 2 environments, 9 files)\n"
    );
}

#[test]
fn a_sink_inherited_from_common_is_the_shared_lake_root() {
    // The seed layout: one sink for every stream, in common.yaml.
    let common = format!("{}sink: s3a://lake/raw\n", common::BASE[0].1);
    let repo = Repo::with(&[
        ("values/common.yaml", Some(&common)),
        ("values/streams/clicks.yaml", Some("mainClass: z\n")),
    ]);
    let out = repo.sluice(&["lint", "--format", "json"]);
    assert!(!out.stdout.contains("rule/shared-sink"), "{}", out.stdout);
    assert!(
        !out.stdout.contains("rule/shared-checkpoint"),
        "{}",
        out.stdout
    );

    // Three streams that set the same sink themselves: one finding naming all.
    let repo = Repo::with(&[
        (
            "values/streams/orders.yaml",
            Some("mainClass: x\nsink: s3a://lake/all\n"),
        ),
        (
            "values/streams/payments.yaml",
            Some("mainClass: y\nsink: s3a://lake/all\n"),
        ),
        (
            "values/streams/clicks.yaml",
            Some("mainClass: z\nsink: s3a://lake/all/\n"),
        ),
    ]);
    let shared = common::findings(&repo, &["--env", "dev"], "rule/shared-sink");
    assert_eq!(shared.len(), 1, "{shared:?}");
    let message = shared[0]["message"].as_str().unwrap();
    for name in ["orders", "payments", "clicks"] {
        assert!(message.contains(&format!("`{name}`")), "{message}");
    }
}
