//! The built-in SparkApplication is built natively (`spark::build`); the
//! built-in template stays its definition. Every stream of every fixture
//! repository, in every environment, must come out of both the same, to
//! the byte of the YAML sluice prints.

mod common;

use sluice::commands::Global;
use std::path::{Path, PathBuf};

fn repositories() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut repos = vec![root.to_path_buf()];
    for dir in ["tests/fixtures", "tests/fixtures/bad"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.path().join("values").is_dir() {
                repos.push(entry.path());
            }
        }
    }
    repos.sort();
    repos
}

fn both_ways(root: &Path) -> usize {
    let global = Global {
        root: root.to_path_buf(),
        color: anstream::ColorChoice::Never,
        verbose: 0,
        rev: None,
        changed_since: None,
    };
    let loaded = sluice::commands::load(&global).expect("the fixture loads");
    let environments: Vec<_> = loaded.repo.environments.iter().collect();
    let (_, outcomes) = sluice::pipeline::values(&loaded.input(&environments, &[]), |e, ok| {
        if !ok || !e.enabled() {
            return 0;
        }
        let native = loaded.templates.render(e, &loaded.sources);
        let template = loaded.templates.render_via_templates(e, &loaded.sources);
        match (native, template) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b, "{} in {}", e.name(), e.environment.name);
                for (x, y) in a.iter().zip(&b) {
                    assert_eq!(
                        sluice::render::object_yaml(&x.object),
                        sluice::render::object_yaml(&y.object)
                    );
                }
                a.len()
            }
            (Err(_), Err(_)) => 0,
            (a, b) => panic!(
                "{} in {}: native {:?}, template {:?}",
                e.name(),
                e.environment.name,
                a.is_ok(),
                b.is_ok()
            ),
        }
    });
    outcomes.into_iter().map(|o| o.result).sum()
}

/// Streams that use every key the built-in template reads.
const RICH: &[(&str, Option<&str>)] = &[
    (
        "values/streams/orders.yaml",
        Some(
            "mainClass: com.example.Orders\n\
             arguments: [--topic, orders, 1.10]\n\
             labels: {team: bi}\nannotations: {owner: bi@example.com}\n\
             imagePullPolicy: IfNotPresent\nimagePullSecrets: [pull]\n\
             suspend: true\nsink: s3a://lake/orders\n\
             sparkConf: {spark.sql.shuffle.partitions: 64}\nhadoopConf: {fs.s3a.fast.upload: true}\n\
             deps: {packages: [org.apache.spark:spark-sql-kafka-0-10_2.12:3.5.1]}\n\
             dynamicAllocation: {enabled: true, minExecutors: 1, maxExecutors: 4}\n\
             monitoring: {prometheus: {jmxExporterJar: /p.jar, port: 8090}}\n\
             batchScheduler: volcano\nbatchSchedulerOptions: {queue: streaming}\n\
             restartPolicy: OnFailure\nmaxRetries: 10\n\
             localDirs: {type: pvc, storageClass: gp3, size: 100Gi}\n\
             secrets: [{name: kafka, env: {KAFKA_PASSWORD: password}}, {name: gcp, path: /mnt/gcp}]\n\
             nodeSelector: {pool: spark}\ntolerations: [{key: spark, operator: Exists, effect: NoSchedule}]\n\
             podTemplate: {driver: {metadata: {labels: {a: b}}}}\n\
             executor: {env: {A: 1}, labels: {tier: x}}\n",
        ),
    ),
    (
        "values/streams/payments.yaml",
        Some(
            "type: Python\napplicationFile: local:///app/main.py\nenvironments: {prod: {enabled: false}}\n",
        ),
    ),
];

#[test]
fn native_and_template_builds_agree_on_every_fixture() {
    let mut total = 0;
    for repo in repositories() {
        total += both_ways(&repo);
    }
    let rich = common::Repo::with(RICH);
    let compared = both_ways(rich.path());
    assert!(compared >= 3, "only {compared} rich objects compared");
    total += compared;
    assert!(total >= 10, "only {total} objects compared");
}
