//! One fixture per Flink operator validator rule (and sluice's stateless
//! rule for protected environments): a repository template rendering a
//! FlinkDeployment, broken one way at a time. Each finding is an error with
//! its code, at the stream, naming the field; the unbroken template lints
//! clean in a protected environment.

mod common;

use common::Repo;

/// A FlinkDeployment the operator accepts: savepoint upgrades with both
/// directories, Kubernetes HA, memory for both roles.
const GOOD: &str = r#"apiVersion: flink.apache.org/v1beta1
kind: FlinkDeployment
metadata:
  name: {{ (stream.name ~ "-flink") | tojson }}
  namespace: {{ environment.namespace | tojson }}
spec:
  image: flink:1.20
  flinkVersion: v1_20
  flinkConfiguration:
    taskmanager.numberOfTaskSlots: "2"
    state.checkpoints.dir: s3://lake/checkpoints/x
    state.savepoints.dir: s3://lake/savepoints/x
    high-availability.type: kubernetes
    high-availability.storageDir: s3://lake/ha/x
  jobManager:
    replicas: 1
    resource: {memory: 2048m, cpu: 1}
  taskManager:
    resource: {memory: 2048m, cpu: 1}
  job:
    jarURI: local:///opt/flink/usrlib/job.jar
    parallelism: 2
    upgradeMode: savepoint
"#;

fn repo(template: &str) -> Repo {
    let env = |ns: &str, protected: bool| {
        format!(
            "namespace: {ns}\n{}allowedKinds: [FlinkDeployment.flink.apache.org]\n",
            if protected { "protected: true\n" } else { "" }
        )
    };
    let (dev, prod) = (env("streams-dev", false), env("streams-prod", true));
    Repo::with(&[
        ("templates/flink.yaml.j2", Some(template)),
        ("values/environments/dev.yaml", Some(&dev)),
        ("values/environments/prod.yaml", Some(&prod)),
    ])
}

#[test]
fn the_good_deployment_lints_clean_in_a_protected_environment() {
    let out = repo(GOOD).sluice(&["lint"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

#[test]
fn each_validator_rule_is_a_located_error() {
    // (code, edit of GOOD, environment, what the message says)
    let cases: &[(&str, (&str, &str), &str, &str)] = &[
        (
            "flink/version-missing",
            ("  flinkVersion: v1_20\n", ""),
            "dev",
            "`spec.flinkVersion` is not set",
        ),
        (
            "flink/memory-missing",
            (
                "    resource: {memory: 2048m, cpu: 1}\n  job:",
                "    resource: {cpu: 1}\n  job:",
            ),
            "dev",
            "the TaskManager has no memory",
        ),
        (
            "flink/memory-format",
            (
                "    replicas: 1\n    resource: {memory: 2048m",
                "    replicas: 1\n    resource: {memory: lots",
            ),
            "dev",
            "the JobManager memory `lots` is not a memory size",
        ),
        (
            "flink/parallelism",
            ("parallelism: 2", "parallelism: 0"),
            "dev",
            "the job's parallelism is 0",
        ),
        (
            "flink/replicas",
            ("replicas: 1", "replicas: 0"),
            "dev",
            "the JobManager has 0 replicas",
        ),
        (
            "flink/checkpoint-dir",
            ("    state.checkpoints.dir: s3://lake/checkpoints/x\n", ""),
            "dev",
            "upgradeMode `savepoint` needs `state.checkpoints.dir`",
        ),
        (
            "flink/savepoint-dir",
            ("    state.savepoints.dir: s3://lake/savepoints/x\n", ""),
            "dev",
            "upgradeMode `savepoint` needs `state.savepoints.dir`",
        ),
        (
            "flink/ha-required",
            ("    high-availability.type: kubernetes\n", ""),
            "dev",
            "",
        ),
        (
            "flink/forbidden-key",
            (
                "    taskmanager.numberOfTaskSlots: \"2\"\n",
                "    taskmanager.numberOfTaskSlots: \"2\"\n    kubernetes.cluster-id: mine\n",
            ),
            "dev",
            "`kubernetes.cluster-id` may not be set",
        ),
        (
            "flink/stateless-protected",
            ("upgradeMode: savepoint", "upgradeMode: stateless"),
            "prod",
            "upgradeMode `stateless` in a protected environment",
        ),
    ];
    let mut seen: Vec<&str> = Vec::new();
    for (code, (from, to), env, says) in cases {
        assert!(GOOD.contains(from), "{code}: the fixture has no `{from}`");
        let mut template = GOOD.replacen(from, to, 1);
        if *code == "flink/ha-required" {
            template = template.replace("replicas: 1", "replicas: 2");
        }
        let out = repo(&template).sluice(&["lint", "--env", env]);
        assert_eq!(out.code, 1, "{code}: {}{}", out.stdout, out.stderr);
        let head = format!("error[{code}]: the rendered FlinkDeployment: ");
        let block = out
            .stdout
            .split("\n\n")
            .find(|b| b.contains(&head))
            .unwrap_or_else(|| panic!("{code}: no finding\n{}", out.stdout));
        assert!(block.contains(says), "{code}: {block}");
        assert!(
            block.contains("--> values/streams/"),
            "{code}: not located: {block}"
        );
        assert!(block.contains("= help: "), "{code}: no help: {block}");
        // The only Flink finding of the case (one per stream).
        let flink = out.stdout.matches("error[flink/").count();
        assert_eq!(
            flink,
            out.stdout.matches(&head).count(),
            "{code}: {}",
            out.stdout
        );
        seen.push(code);
    }
    seen.sort();
    let mut all = sluice::flink::validate::CODES.to_vec();
    all.sort();
    assert_eq!(seen, all, "a fixture per code");
}

/// What the operator accepts as well: Kubernetes memory quantities, a
/// fixed TaskManager count instead of a parallelism, any HA mode.
#[test]
fn what_the_operator_also_accepts_passes() {
    for (from, to) in [
        (
            "memory: 2048m, cpu: 1}\n  taskManager",
            "memory: 2Gi, cpu: 1}\n  taskManager",
        ),
        ("    parallelism: 2\n", ""),
        (
            "high-availability.type: kubernetes",
            "high-availability.type: zookeeper",
        ),
    ] {
        assert!(GOOD.contains(from), "{from}");
        let mut template = GOOD.replacen(from, to, 1);
        if to.is_empty() {
            template = template.replace("  taskManager:\n", "  taskManager:\n    replicas: 2\n");
        }
        let out = repo(&template).sluice(&["lint"]);
        assert_eq!(out.code, 0, "{from} -> {to}: {}", out.stdout);
    }
    // Without either, the operator sizes the cluster from a parallelism of 0.
    let out = repo(&GOOD.replace("    parallelism: 2\n", "")).sluice(&["lint", "--env", "dev"]);
    assert!(
        out.stdout
            .contains("the job has no parallelism (and no `taskManager.replicas`)"),
        "{}",
        out.stdout
    );
}

#[test]
fn the_operators_default_upgrade_mode_is_stateless() {
    let template = GOOD.replace("    upgradeMode: savepoint\n", "");
    let out = repo(&template).sluice(&["lint", "--env", "prod"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "upgradeMode `stateless` (the operator's default) in a protected environment"
        ),
        "{}",
        out.stdout
    );
    // In dev it is allowed.
    assert_eq!(repo(&template).sluice(&["lint", "--env", "dev"]).code, 0);
}
