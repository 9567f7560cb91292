//! The generated schemas: up to date with the upstream CRD, accepting what
//! upstream's examples write, rejecting typos at every depth; and the
//! editor schemas (`sluice schema --for ...`) accepting every values file of
//! the repository as written.

mod common;

use common::Repo;
use serde_json::{Value, json};
use sluice::check::ManifestSchema;
use sluice::values::repo::FileKind;
use std::path::{Path, PathBuf};

const CRD: &str = "../shared/crds/sparkoperator.k8s.io_sparkapplications.yaml";
const FLINK_CRD: &str = "../shared/crds/flinkdeployments.flink.apache.org-v1.yml";
const EXAMPLES: &str = "../shared/upstream/spark-operator-examples";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
#[cfg_attr(sluice_no_upstream_crds, ignore = "needs ../shared/crds")]
fn committed_schemas_are_generated_from_the_upstream_crd() {
    // The generator reads the CRD as JSON with Python's standard library
    // alone, so the test needs python3 but not PyYAML.
    let dir = tempfile::tempdir().unwrap();
    let as_json = |crd: &str, name: &str| {
        let doc: Value =
            serde_saphyr::from_str(&std::fs::read_to_string(root().join(crd)).unwrap())
                .expect("the CRD is YAML");
        let path = dir.path().join(name);
        std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
        path
    };
    let json = as_json(CRD, "crd.json");
    let flink = as_json(FLINK_CRD, "flink.json");
    let out = std::process::Command::new("python3")
        .current_dir(root())
        .args(["scripts/gen-schemas.py", "--check", "--crd"])
        .arg(&json)
        .arg("--flink-crd")
        .arg(&flink)
        .output()
        .expect("python3 runs (the generator needs Python 3)");
    assert!(
        out.status.success(),
        "schemas/ is not what scripts/gen-schemas.py generates from {CRD}; run it and commit the result\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The SparkApplications of one upstream example file, as `kubectl apply`
/// would send them.
fn upstream_applications(path: &Path) -> Vec<Value> {
    // spark-pi-prometheus.yaml has placeholders that are not YAML.
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace("{IMAGE_REGISTRY}", "registry.example.com")
        .replace("{IMAGE_REPOSITORY}", "spark");
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    docs.into_iter()
        .filter(|d| d.get("kind").and_then(Value::as_str) == Some("SparkApplication"))
        .map(|mut d| {
            // kubectl fills in the context's namespace; sluice always renders one.
            if d.pointer("/metadata/namespace").is_none() {
                d["metadata"]["namespace"] = json!("default");
            }
            d
        })
        .collect()
}

#[test]
#[cfg_attr(
    sluice_no_upstream_examples,
    ignore = "needs ../shared/upstream/spark-operator-examples"
)]
fn upstream_examples_pass_the_generated_schema() {
    let schema = ManifestSchema::builtin();
    // Upstream's pod-template example sets container-only fields in the
    // pod's securityContext (PodSecurityContext has neither): Kubernetes
    // drops them without a word, which is what this schema is for.
    let known: &[(&str, &str)] = &[
        (
            "spark-pi-pod-template.yaml",
            "spec.driver.template.spec.securityContext",
        ),
        (
            "spark-pi-pod-template.yaml",
            "spec.executor.template.spec.securityContext",
        ),
    ];
    let mut files: Vec<PathBuf> = std::fs::read_dir(EXAMPLES)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut checked = 0;
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap();
        for app in upstream_applications(path) {
            checked += 1;
            let violations = schema.violations(&app);
            let unexpected: Vec<_> = violations
                .iter()
                .filter(|(at, _)| !known.contains(&(name, at.as_str())))
                .collect();
            assert!(unexpected.is_empty(), "{name}: {unexpected:?}");
            let expected = known.iter().filter(|(file, _)| *file == name).count();
            assert_eq!(violations.len(), expected, "{name}: {violations:?}");
            for (_, message) in &violations {
                assert!(
                    message.contains("allowPrivilegeEscalation")
                        && message.contains("capabilities"),
                    "{name}: {message}"
                );
            }
        }
    }
    assert!(
        checked >= 12,
        "only {checked} SparkApplications in {EXAMPLES}"
    );
}

/// A SparkApplication that uses every part of the schema the typo cases
/// below touch.
fn application() -> Value {
    let pod_template = json!({
        "metadata": {"labels": {"team": "bi"}},
        "spec": {
            "containers": [{"name": "spark-kubernetes-driver", "env": [{"name": "A", "value": "1"}]}],
            "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}],
            "securityContext": {"runAsUser": 185},
            "affinity": {"nodeAffinity": {}},
            "tolerations": [{"operator": "Exists"}],
            "serviceAccountName": "spark"
        }
    });
    json!({
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "kind": "SparkApplication",
        "metadata": {"name": "orders", "namespace": "bi"},
        "spec": {
            "type": "Scala",
            "mode": "cluster",
            "sparkVersion": "3.5.1",
            "image": "registry.example.com/spark:3.5.1",
            "mainClass": "com.example.Orders",
            "mainApplicationFile": "local:///opt/app.jar",
            "proxyUser": "etl",
            "timeToLiveSeconds": 3600,
            "batchScheduler": "kube-scheduler",
            "volumes": [{"name": "scratch", "emptyDir": {}}],
            "driver": {
                "cores": 1,
                "memory": "2g",
                "sidecars": [{"name": "fluent-bit", "image": "fluent/fluent-bit:3.1"}],
                "initContainers": [{"name": "init", "image": "busybox", "command": ["true"]}],
                "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
                "securityContext": {"runAsNonRoot": true},
                "affinity": {"podAntiAffinity": {}},
                "template": pod_template
            },
            "executor": {"instances": 2, "cores": 1, "memory": "2g", "template": pod_template}
        }
    })
}

#[test]
fn a_typo_fails_the_sparkapplication_schema_at_every_depth() {
    let schema = ManifestSchema::builtin();
    let good = application();
    assert_eq!(schema.violations(&good), vec![], "the base case is valid");
    let cases: &[(&str, &str, &str)] = &[
        ("/spec/driver/sidecars/0", "image", "imagee"),
        ("/spec/driver/initContainers/0", "command", "comand"),
        ("/spec/volumes/0", "emptyDir", "emptyDirr"),
        ("/spec/driver/volumeMounts/0", "mountPath", "mountPth"),
        (
            "/spec/driver/securityContext",
            "runAsNonRoot",
            "runAsNonroot",
        ),
        ("/spec/driver/affinity", "podAntiAffinity", "podAntiAfinity"),
        ("/spec/driver/template/metadata", "labels", "lables"),
        (
            "/spec/driver/template/spec",
            "serviceAccountName",
            "serviceAcountName",
        ),
        ("/spec/executor/template/spec/containers/0", "env", "evn"),
        (
            "/spec/executor/template/spec/volumes/0",
            "emptyDir",
            "emptydir",
        ),
        (
            "/spec/executor/template/spec/securityContext",
            "runAsUser",
            "runAsUsr",
        ),
        (
            "/spec/executor/template/spec/affinity",
            "nodeAffinity",
            "nodeAfinity",
        ),
        (
            "/spec/executor/template/spec/tolerations/0",
            "operator",
            "operater",
        ),
        ("/spec/driver/template", "spec", "sepc"),
    ];
    for (at, key, typo) in cases {
        let mut app = good.clone();
        let object = app.pointer_mut(at).unwrap().as_object_mut().unwrap();
        let value = object
            .remove(*key)
            .unwrap_or_else(|| panic!("{at} has no {key}"));
        object.insert((*typo).to_owned(), value);
        let violations = schema.violations(&app);
        assert!(
            violations
                .iter()
                .any(|(_, message)| message.contains(&format!("'{typo}' was unexpected"))),
            "{at}: `{typo}` passes: {violations:?}"
        );
    }
}

/// Every values file of the repository and the test fixtures, by kind.
fn values_files() -> Vec<(PathBuf, FileKind)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(&root().join("values"), &mut paths);
    walk(&root().join("tests/fixtures"), &mut paths);
    let mut out: Vec<(PathBuf, FileKind)> = paths
        .into_iter()
        .filter_map(|p| {
            let parent = p.parent()?.file_name()?.to_str()?;
            let grandparent = p.parent()?.parent()?.file_name()?.to_str()?;
            let stem = p.file_stem()?.to_str()?;
            let kind = match (grandparent, parent, stem) {
                (_, "values", "common") => FileKind::Common,
                ("values", "environments", _) => FileKind::Environment,
                ("values", "streams", _) => FileKind::Stream,
                _ => return None,
            };
            Some((p, kind))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn editor_validator(kind: FileKind) -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&sluice::values::validate::file_schema(kind)).unwrap();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .expect("the editor schema compiles on its own")
}

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap()
}

#[test]
fn every_values_file_passes_its_editor_schema_and_a_typo_fails() {
    let files = values_files();
    for kind in [FileKind::Common, FileKind::Environment, FileKind::Stream] {
        assert!(
            files.iter().any(|(_, k)| *k == kind),
            "no {kind:?} file found: {files:?}"
        );
    }
    for (path, kind) in &files {
        let validator = editor_validator(*kind);
        let value = yaml(&std::fs::read_to_string(path).unwrap());
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
    let typos: &[(FileKind, &str, &str)] = &[
        (
            FileKind::Stream,
            "mainClass: x\nenvironments:\n  prod:\n    executor: {memroy: 4g}\n",
            "memroy",
        ),
        (
            FileKind::Stream,
            "driver:\n  sidecars:\n    - {name: x, imagee: busybox}\n",
            "imagee",
        ),
        (
            FileKind::Stream,
            "podTemplate:\n  executor:\n    spec:\n      volumes: [{name: v, emptyDirr: {}}]\n",
            "emptyDirr",
        ),
        (
            FileKind::Environment,
            "namespace: bi\nkubecontext: prod\n",
            "kubecontext",
        ),
        (
            FileKind::Common,
            "streams:\n  - {name: orders, applicationFle: x}\n",
            "applicationFle",
        ),
    ];
    for (kind, text, typo) in typos {
        let errors: Vec<String> = editor_validator(*kind)
            .iter_errors(&yaml(text))
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.iter().any(|e| e.contains(typo)),
            "{kind:?} `{typo}` passes: {errors:?}"
        );
    }
    // The same files without the typo are fine (the cases fail for the typo).
    for (kind, text) in [
        (
            FileKind::Stream,
            "environments:\n  prod:\n    executor: {memory: 4g}\n",
        ),
        (FileKind::Environment, "namespace: bi\nkubeContext: prod\n"),
        (
            FileKind::Common,
            "streams:\n  - {name: orders, applicationFile: x}\n",
        ),
    ] {
        assert!(
            editor_validator(kind).is_valid(&yaml(text)),
            "{kind:?}: {text}"
        );
    }
}

#[test]
fn editor_schemas_stand_alone_with_their_file_at_the_root() {
    for (kind, def) in [
        (FileKind::Stream, "streamFile"),
        (FileKind::Environment, "environmentFile"),
        (FileKind::Common, "commonFile"),
    ] {
        let schema: Value =
            serde_json::from_str(&sluice::values::validate::file_schema(kind)).unwrap();
        assert_eq!(schema["$ref"], json!(format!("#/$defs/{def}")));
        assert!(schema.get("required").is_none() && schema.get("properties").is_none());
        // No reference leaves the document.
        let text = schema.to_string();
        for (i, _) in text.match_indices("\"$ref\":\"") {
            let target = &text[i + 8..];
            assert!(
                target.starts_with("#/"),
                "{kind:?}: {}",
                &target[..40.min(target.len())]
            );
        }
    }
}

#[test]
fn schema_for_prints_the_editor_schema() {
    for (arg, kind) in [
        ("stream", FileKind::Stream),
        ("environment", FileKind::Environment),
        ("common", FileKind::Common),
    ] {
        let out = assert_cmd::Command::cargo_bin("sluice")
            .unwrap()
            .args(["schema", "--for", arg])
            .output()
            .unwrap();
        assert!(out.status.success(), "{arg}");
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            sluice::values::validate::file_schema(kind),
            "{arg}"
        );
    }
}

/// The CRD's fields in values: typos are found at any depth, with the
/// "did you mean" of sluice's own keys.
#[test]
fn lint_suggests_the_crd_field_a_values_typo_meant() {
    let stream = "\
mainClass: com.example.Orders
proxyUser: etl
volumes:
  - {name: scratch, emptyDirr: {}}
driver:
  env:
    - {name: A, valu: b}
  sidecars:
    - {name: fluent-bit, imagee: fluent/fluent-bit:3.1}
  template:
    spec:
      containerss: []
podTemplate:
  executor:
    spec:
      affinity: {nodeAfinity: {}}
";
    let repo = Repo::with(&[("values/streams/orders.yaml", Some(stream))]);
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    for (typo, meant) in [
        ("emptyDirr", "emptyDir"),
        ("valu", "value"),
        ("imagee", "image"),
        ("containerss", "containers"),
        ("nodeAfinity", "nodeAffinity"),
    ] {
        let finding = format!("unknown key `{typo}`");
        let at = out
            .stdout
            .find(&finding)
            .unwrap_or_else(|| panic!("no {finding}:\n{}", out.stdout));
        let hint = format!("did you mean `{meant}`?");
        assert!(
            out.stdout[at..].contains(&hint),
            "{typo}: no {hint}\n{}",
            out.stdout
        );
    }
    assert_eq!(
        out.stdout.matches("[values/unknown-key]").count(),
        5,
        "{}",
        out.stdout
    );
}

/// Without descriptions, and with every `$ref` to `definitions` inlined.
fn structure(node: &Value, definitions: &Value) -> Value {
    match node {
        Value::Object(map) => {
            if let Some(target) = map.get("$ref").and_then(Value::as_str) {
                let name = target.trim_start_matches("#/definitions/");
                return structure(&definitions[name], definitions);
            }
            Value::Object(
                map.iter()
                    .filter(|(k, _)| *k != "description")
                    .map(|(k, v)| (k.clone(), structure(v, definitions)))
                    .collect(),
            )
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| structure(v, definitions)).collect())
        }
        other => other.clone(),
    }
}

/// The generator converts the CRD as src/crd.rs does (what `lint --crd`
/// checks against): the same spec, but for the pod templates it types.
#[test]
#[cfg_attr(sluice_no_upstream_crds, ignore = "needs ../shared/crds")]
fn the_generated_spec_is_src_crd_rs_conversion_of_the_crd() {
    let crd = sluice::crd::from_crd(
        &std::fs::read_to_string(root().join(CRD)).unwrap(),
        "v1beta2",
    )
    .unwrap();
    let generated: Value =
        serde_json::from_str(sluice::check::BUILTIN_SPARKAPPLICATION_SCHEMA).unwrap();
    let definitions = &generated["definitions"];
    let mut ours = structure(&generated["properties"]["spec"], definitions);
    let theirs = structure(&crd.schema["properties"]["spec"], &Value::Null);
    assert!(
        theirs["properties"]["driver"]["properties"]["sidecars"]["items"]["properties"]["image"]
            .is_object()
    );
    for role in ["driver", "executor"] {
        assert_eq!(
            ours["properties"][role]["properties"]["template"],
            structure(&definitions["PodTemplateSpec"], definitions)
        );
        ours["properties"][role]["properties"]["template"] =
            theirs["properties"][role]["properties"]["template"].clone();
    }
    assert!(
        ours == theirs,
        "the generated spec differs from src/crd.rs's conversion"
    );
}

/// The built-in FlinkDeployment schema is src/crd.rs's conversion of the
/// upstream CRD (what `lint --crd` would check against), spec and all.
#[test]
#[cfg_attr(sluice_no_upstream_crds, ignore = "needs ../shared/crds")]
fn the_generated_flink_spec_is_src_crd_rs_conversion_of_the_crd() {
    let crd = sluice::crd::from_crd(
        &std::fs::read_to_string(root().join(FLINK_CRD)).unwrap(),
        "v1beta1",
    )
    .unwrap();
    let generated: Value =
        serde_json::from_str(sluice::check::BUILTIN_FLINKDEPLOYMENT_SCHEMA).unwrap();
    // The generated schema writes each repeated type once (`$ref`s into
    // its definitions); resolved, it is the conversion.
    assert!(generated["definitions"]["PodTemplate"].is_object());
    assert!(
        structure(&generated["properties"]["spec"], &generated["definitions"])
            == structure(&crd.schema["properties"]["spec"], &Value::Null),
        "the generated FlinkDeployment spec differs from src/crd.rs's conversion"
    );
}

/// A FlinkDeployment as the operator's documentation writes one
/// (application mode, checkpoints and HA, a pod template).
fn flink_deployment() -> Value {
    json!({
        "apiVersion": "flink.apache.org/v1beta1",
        "kind": "FlinkDeployment",
        "metadata": {"name": "sessionize", "namespace": "streams-dev", "labels": {"app": "sessionize"}},
        "spec": {
            "image": "flink:1.20",
            "flinkVersion": "v1_20",
            "flinkConfiguration": {
                "taskmanager.numberOfTaskSlots": "2",
                "state.checkpoints.dir": "s3://lake/checkpoints/sessionize",
                "state.savepoints.dir": "s3://lake/savepoints/sessionize",
                "high-availability.type": "kubernetes",
                "high-availability.storageDir": "s3://lake/ha/sessionize"
            },
            "serviceAccount": "flink",
            "jobManager": {"replicas": 1, "resource": {"memory": "2048m", "cpu": 1}},
            "taskManager": {"resource": {"memory": "2048m", "cpu": 1}},
            "podTemplate": {
                "spec": {
                    "containers": [{
                        "name": "flink-main-container",
                        "env": [{"name": "TZ", "value": "UTC"}],
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]
                    }],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                    "tolerations": [{"key": "flink", "operator": "Exists", "effect": "NoSchedule"}]
                }
            },
            "job": {
                "jarURI": "local:///opt/flink/usrlib/sessionize.jar",
                "entryClass": "com.example.Sessionize",
                "args": ["--topic", "clicks"],
                "parallelism": 2,
                "upgradeMode": "savepoint",
                "state": "running"
            }
        }
    })
}

#[test]
fn a_typo_fails_the_flinkdeployment_schema_at_every_depth() {
    let schema = ManifestSchema::builtin();
    let good = flink_deployment();
    assert_eq!(schema.violations(&good), vec![], "the base case is valid");
    let cases: &[(&str, &str, &str)] = &[
        ("/spec", "jobManager", "jobManger"),
        ("/spec/job", "upgradeMode", "upgradeMod"),
        ("/spec/jobManager/resource", "memory", "memroy"),
        ("/spec/podTemplate/spec/containers/0", "env", "evn"),
        ("/spec/podTemplate/spec/volumes/0", "emptyDir", "emptydir"),
        (
            "/spec/podTemplate/spec/tolerations/0",
            "operator",
            "operater",
        ),
    ];
    for (at, key, typo) in cases {
        let mut object = good.clone();
        let map = object.pointer_mut(at).unwrap().as_object_mut().unwrap();
        let value = map
            .remove(*key)
            .unwrap_or_else(|| panic!("{at} has no {key}"));
        map.insert((*typo).to_owned(), value);
        let violations = schema.violations(&object);
        assert!(
            violations
                .iter()
                .any(|(_, message)| message.contains(&format!("'{typo}' was unexpected"))),
            "{at}: `{typo}` passes: {violations:?}"
        );
    }
    // The CRD's enums, and the operator's 45-character name limit.
    for (pointer, bad) in [
        ("/spec/job/upgradeMode", json!("last_state")),
        ("/spec/flinkVersion", json!("v1_12")),
        ("/spec/mode", json!("session")),
        ("/metadata/name", json!("a".repeat(46))),
    ] {
        let mut object = good.clone();
        let mut node = &mut object;
        for segment in pointer.split('/').skip(1) {
            node = &mut node[segment];
        }
        *node = bad.clone();
        assert!(
            !schema.violations(&object).is_empty(),
            "{pointer}: {bad} passes"
        );
    }
}
