//! Every rendered object is checked against the schema of its kind:
//! Kubernetes' own kinds against the built-in schemas (schemas/k8s/), the
//! others against a CRD from schemas/crds/ or `lint --crd`; a kind with
//! no schema is a warning. The cluster tests compare the built-in schemas
//! with the test API server's OpenAPI document and its dry run.

mod common;

use common::{Output, Repo, git_in};

const FIXTURE: &str = "tests/fixtures/manifest-kinds";
const PODMONITOR_CRD: &str = include_str!("fixtures/manifest-kinds/schemas/crds/podmonitors.yaml");
const PODMONITOR: &str = include_str!("fixtures/manifest-kinds/templates/podmonitor.yaml.j2");
const CONFIGMAP: &str = include_str!("fixtures/manifest-kinds/templates/configmap.yaml.j2");
const SERVICE: &str = include_str!("fixtures/manifest-kinds/templates/service.yaml.j2");

const GOOD_PODMONITOR: &str = "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata:\n  name: {{ stream.name | tojson }}\n  namespace: {{ environment.namespace | tojson }}\nspec:\n  selector:\n    matchLabels:\n      sparkoperator.k8s.io/app-name: {{ stream.name | tojson }}\n  podMetricsEndpoints:\n  - port: metrics\n    interval: 30s\n    targetPort: 4040\n";

fn shown(out: &Output) -> String {
    format!("{}{}", out.stdout, out.stderr)
}

/// The findings of one code, as blocks of human output.
fn findings<'a>(out: &'a str, code: &str) -> Vec<&'a str> {
    let head = format!("[{code}]");
    out.split("\n\n").filter(|b| b.contains(&head)).collect()
}

#[test]
fn a_podmonitor_with_typos_fails_against_the_repositorys_crd() {
    let repo = Repo::with(&[
        ("templates/podmonitor.yaml.j2", Some(PODMONITOR)),
        ("schemas/crds/podmonitors.yaml", Some(PODMONITOR_CRD)),
    ]);
    let out = repo.sluice(&["lint"]);
    let text = shown(&out);
    assert_eq!(out.code, 1, "{text}");
    let found = findings(&out.stdout, "manifest/schema");
    assert_eq!(found.len(), 1, "{text}");
    let f = found[0];
    for expected in [
        "the rendered PodMonitor fails the schema at `spec`",
        "'replicas', 'podMetricsEndpointz' were unexpected",
        "--> values/streams/orders.yaml:1:",
        "in 2 streams: orders, payments",
        "checked against the CRD in schemas/crds/podmonitors.yaml",
        "the rule is at `/properties/spec/additionalProperties` in the schema",
        "rendered by template `podmonitor.yaml.j2`",
        "did you mean `podMetricsEndpoints` for `podMetricsEndpointz`?",
        "remove `replicas` from the template",
    ] {
        assert!(f.contains(expected), "{expected}: {f}");
    }
    assert!(findings(&out.stdout, "manifest/unchecked-kind").is_empty());
    // render and apply refuse it too.
    let out = repo.sluice(&["render", "--env", "dev"]);
    assert_eq!(out.code, 2, "{}", shown(&out));
    assert!(out.stderr.contains("[manifest/schema]"), "{}", out.stderr);
    assert!(!out.stdout.contains("kind: PodMonitor"), "{}", out.stdout);

    // The same object, right, passes.
    repo.write("templates/podmonitor.yaml.j2", GOOD_PODMONITOR.as_bytes());
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 0, "{}", shown(&out));
    assert!(out.stdout.starts_with("ok: no findings"), "{}", out.stdout);
    // A type the CRD does not allow, and a pattern it has.
    let wrong = GOOD_PODMONITOR.replace(
        "    interval: 30s\n",
        "    interval: 30 seconds\n    portNumber: \"three\"\n",
    );
    repo.write("templates/podmonitor.yaml.j2", wrong.as_bytes());
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 1, "{}", shown(&out));
    let found = findings(&out.stdout, "manifest/schema");
    assert_eq!(found.len(), 2, "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "fails the schema at `spec.podMetricsEndpoints[0].portNumber`: \"three\" is not of type \"integer\""
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("fails the schema at `spec.podMetricsEndpoints[0].interval`: \"30 seconds\" does not match"),
        "{}",
        out.stdout
    );
}

#[test]
fn without_a_crd_a_podmonitor_is_a_warning_that_says_how_to_check_it() {
    let repo = Repo::with(&[("templates/podmonitor.yaml.j2", Some(PODMONITOR))]);
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 0, "{}", shown(&out));
    let found = findings(&out.stdout, "manifest/unchecked-kind");
    assert_eq!(found.len(), 1, "{}", out.stdout);
    for expected in [
        "warning[manifest/unchecked-kind]: the rendered PodMonitor (monitoring.coreos.com/v1) was not checked against a schema",
        "--> values/streams/orders.yaml:1:",
        "rendered by template `podmonitor.yaml.j2`",
        "schemas/crds/",
        "`kubectl get crd <plural>.monitoring.coreos.com -o yaml`",
        "`sluice lint --crd FILE`",
    ] {
        assert!(found[0].contains(expected), "{expected}: {}", found[0]);
    }
    // Render writes it: a warning is not an error.
    let out = repo.sluice(&["render", "--env", "dev"]);
    assert_eq!(out.code, 0, "{}", shown(&out));
    assert!(out.stdout.contains("kind: PodMonitor"));
}

#[test]
fn lint_crd_is_repeatable_and_takes_any_crd() {
    let dir = tempfile::tempdir().unwrap();
    let podmonitors = dir.path().join("podmonitors.yaml");
    std::fs::write(&podmonitors, PODMONITOR_CRD).unwrap();
    let widgets = dir.path().join("widgets.yaml");
    std::fs::write(
        &widgets,
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          spec:\n            type: object\n            properties:\n              size: {type: integer}\n",
    )
    .unwrap();
    let repo = Repo::with(&[
        ("templates/podmonitor.yaml.j2", Some(PODMONITOR)),
        (
            "templates/widget.yaml.j2",
            Some(
                "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: {{ stream.name | tojson }}\n  namespace: {{ environment.namespace | tojson }}\nspec:\n  size: big\n",
            ),
        ),
        (
            "values/environments/dev.yaml",
            Some("namespace: streams-dev\nallowedKinds: [Widget.example.com]\n"),
        ),
        (
            "values/environments/prod.yaml",
            Some("namespace: streams-prod\nprotected: true\nallowedKinds: [Widget.example.com]\n"),
        ),
    ]);
    let out = repo.sluice(&[
        "lint",
        "--crd",
        podmonitors.to_str().unwrap(),
        "--crd",
        widgets.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 1, "{}", shown(&out));
    let found = findings(&out.stdout, "manifest/schema");
    assert_eq!(found.len(), 2, "{}", out.stdout);
    assert!(
        out.stdout.contains("'podMetricsEndpointz' were unexpected"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("the rendered Widget fails the schema at `spec.size`: \"big\" is not of type \"integer\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("checked against the CRD in {}", widgets.display())),
        "{}",
        out.stdout
    );
    assert!(findings(&out.stdout, "manifest/unchecked-kind").is_empty());
    // Only one of them: the other kind is unchecked.
    let out = repo.sluice(&["lint", "--crd", widgets.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", shown(&out));
    assert_eq!(findings(&out.stdout, "manifest/schema").len(), 1);
    assert_eq!(findings(&out.stdout, "manifest/unchecked-kind").len(), 1);
    // --crd wins over schemas/crds/: a CRD there that knows the typo
    // field is overruled by the one given.
    let lenient = PODMONITOR_CRD.replace(
        "              podMetricsEndpoints:\n",
        "              replicas: {type: string}\n              podMetricsEndpointz: {type: array}\n              podMetricsEndpoints:\n",
    );
    repo.write("schemas/crds/podmonitors.yaml", lenient.as_bytes());
    repo.write(
        "templates/widget.yaml.j2",
        b"apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: {{ stream.name | tojson }}\n  namespace: {{ environment.namespace | tojson }}\nspec:\n  size: 3\n",
    );
    let out = repo.sluice(&["lint", "--crd", widgets.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", shown(&out));
    let out = repo.sluice(&[
        "lint",
        "--crd",
        podmonitors.to_str().unwrap(),
        "--crd",
        widgets.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 1, "{}", shown(&out));
    // Not a CRD: a usage error naming the file.
    let out = repo.sluice(&[
        "lint",
        "--crd",
        podmonitors.to_str().unwrap(),
        "--crd",
        "/dev/null",
    ]);
    assert_eq!(out.code, 2, "{}", shown(&out));
    assert!(
        out.stderr.contains("`/dev/null` is not a usable CRD"),
        "{}",
        out.stderr
    );
}

#[test]
fn configmap_data_must_be_strings() {
    let repo = Repo::with(&[("templates/configmap.yaml.j2", Some(CONFIGMAP))]);
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 1, "{}", shown(&out));
    let found = findings(&out.stdout, "manifest/schema");
    assert_eq!(found.len(), 1, "{}", out.stdout);
    for expected in [
        "the rendered ConfigMap fails the schema at `data.a`: 1 is not of type \"string\"",
        "--> values/streams/orders.yaml:1:",
        "checked against sluice's built-in v1 ConfigMap schema (Kubernetes v1.20.2)",
        "the rule is at `/properties/data/additionalProperties/type` in the schema",
        "rendered by template `configmap.yaml.j2`",
        "help: render the type the schema wants",
    ] {
        assert!(found[0].contains(expected), "{expected}: {}", found[0]);
    }
    // Quoted, it passes.
    repo.write(
        "templates/configmap.yaml.j2",
        CONFIGMAP.replace("a: 1", "a: \"1\"").as_bytes(),
    );
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 0, "{}", shown(&out));
}

#[test]
fn a_service_field_typo_is_an_error_with_the_field_meant() {
    let repo = Repo::with(&[("templates/service.yaml.j2", Some(SERVICE))]);
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 1, "{}", shown(&out));
    let found = findings(&out.stdout, "manifest/schema");
    assert_eq!(found.len(), 1, "{}", out.stdout);
    for expected in [
        "the rendered Service fails the schema at `spec`: Additional properties are not allowed ('portz' was unexpected)",
        "checked against sluice's built-in v1 Service schema",
        "the rule is at `/$defs/io.k8s.api.core.v1.ServiceSpec/additionalProperties` in the schema",
        "did you mean `ports` for `portz`?",
    ] {
        assert!(found[0].contains(expected), "{expected}: {}", found[0]);
    }
}

/// A repository template rendering a FlinkDeployment is checked against
/// the built-in schema generated from the Flink operator's CRD.
#[test]
fn a_flinkdeployment_is_checked_against_the_flink_operators_crd() {
    let template = "apiVersion: flink.apache.org/v1beta1\nkind: FlinkDeployment\nmetadata:\n  name: {{ (stream.name ~ \"-flink\") | tojson }}\n  namespace: {{ environment.namespace | tojson }}\nspec:\n  image: flink:1.20\n  flinkVersion: v1_20\n  flinkConfiguration: {state.checkpoints.dir: \"s3://lake/cp\", state.savepoints.dir: \"s3://lake/sp\"}\n  jobManager: {resource: {memory: 2048m, cpu: 1}}\n  taskManager: {resource: {memory: 2048m, cpu: 1}}\n  job: {jarURI: \"local:///opt/flink/usrlib/job.jar\", parallelism: 2, upgradeMode: savepoint}\n";
    let allowed = |ns: &str, protected: bool| {
        format!(
            "namespace: {ns}\n{}allowedKinds: [FlinkDeployment.flink.apache.org]\n",
            if protected { "protected: true\n" } else { "" }
        )
    };
    let (dev, prod) = (allowed("streams-dev", false), allowed("streams-prod", true));
    let repo = Repo::with(&[
        ("templates/flink.yaml.j2", Some(template)),
        ("values/environments/dev.yaml", Some(&dev)),
        ("values/environments/prod.yaml", Some(&prod)),
    ]);
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 0, "{}", shown(&out));
    assert!(!out.stdout.contains("unchecked-kind"), "{}", out.stdout);

    repo.write(
        "templates/flink.yaml.j2",
        template
            .replace("taskManager: {resource", "taskManager: {resourse")
            .as_bytes(),
    );
    let out = repo.sluice(&["lint", "--env", "dev"]);
    assert_eq!(out.code, 1, "{}", shown(&out));
    let found = findings(&out.stdout, "manifest/schema");
    assert_eq!(found.len(), 1, "{}", out.stdout);
    for expected in [
        "the rendered FlinkDeployment fails the schema at `spec.taskManager`: Additional properties are not allowed ('resourse' was unexpected)",
        "checked against sluice's built-in FlinkDeployment schema (Flink Kubernetes Operator 1.15)",
        "did you mean `resource` for `resourse`?",
    ] {
        assert!(found[0].contains(expected), "{expected}: {}", found[0]);
    }
}

#[test]
fn kinds_without_a_schema_are_warnings_of_their_own_kind() {
    let repo = Repo::with(&[
        (
            "templates/extra.yaml.j2",
            Some(concat!(
                "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: {{ stream.name | tojson }}\n  namespace: {{ environment.namespace | tojson }}\nspec:\n  minAvailable: 1\n",
                "---\n",
                "apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: {{ stream.name | tojson }}\n  namespace: {{ environment.namespace | tojson }}\n",
            )),
        ),
        (
            "values/environments/dev.yaml",
            Some("namespace: streams-dev\nallowedKinds: [Gadget.example.com]\n"),
        ),
        ("values/environments/prod.yaml", None),
    ]);
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 0, "{}", shown(&out));
    let found = findings(&out.stdout, "manifest/unchecked-kind");
    assert_eq!(found.len(), 2, "{}", out.stdout);
    let pdb = found
        .iter()
        .find(|f| f.contains("PodDisruptionBudget"))
        .unwrap();
    assert!(pdb.contains("(policy/v1) was not checked"), "{pdb}");
    assert!(pdb.contains("policy/v1beta1 PodDisruptionBudget"), "{pdb}");
    assert!(pdb.contains("only the API server's dry run"), "{pdb}");
    assert!(
        !pdb.contains("schemas/crds/"),
        "no CRD defines a built-in kind: {pdb}"
    );
    let gadget = found.iter().find(|f| f.contains("Gadget")).unwrap();
    assert!(gadget.contains("schemas/crds/"), "{gadget}");
}

#[test]
fn a_crd_of_another_version_and_an_unusable_crd_file_are_errors() {
    let repo = Repo::with(&[
        (
            "templates/podmonitor.yaml.j2",
            Some(&GOOD_PODMONITOR.replace("monitoring.coreos.com/v1", "monitoring.coreos.com/v2")),
        ),
        ("schemas/crds/podmonitors.yaml", Some(PODMONITOR_CRD)),
        ("schemas/crds/broken.yaml", Some("kind: ConfigMap\n")),
        ("schemas/crds/again.yml", Some(PODMONITOR_CRD)),
        ("schemas/crds/notes.txt", Some("not read\n")),
    ]);
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 1, "{}", shown(&out));
    let schema = findings(&out.stdout, "manifest/schema");
    assert_eq!(schema.len(), 1, "{}", out.stdout);
    assert!(
        schema[0].contains("has apiVersion `monitoring.coreos.com/v2`, a version the CRD in schemas/crds/podmonitors.yaml does not define"),
        "{}",
        schema[0]
    );
    assert!(schema[0].contains("it defines `v1`"), "{}", schema[0]);
    let crd = findings(&out.stdout, "schema/invalid-crd");
    assert_eq!(crd.len(), 2, "{}", out.stdout);
    assert!(
        crd.iter().any(|f| f.contains("`schemas/crds/broken.yaml` is not a usable CRD: not a CustomResourceDefinition (kind is `ConfigMap`)")
            && f.contains("--> schemas/crds/broken.yaml:1:1")),
        "{}",
        out.stdout
    );
    assert!(
        crd.iter().any(|f| f.contains("`schemas/crds/podmonitors.yaml` defines PodMonitor.monitoring.coreos.com/v1, as `schemas/crds/again.yml` does")),
        "{}",
        out.stdout
    );
}

#[test]
fn rev_reads_the_crds_of_the_revision() {
    let repo = Repo::with(&[
        ("templates/podmonitor.yaml.j2", Some(PODMONITOR)),
        ("schemas/crds/podmonitors.yaml", Some(PODMONITOR_CRD)),
    ]);
    git_in(repo.path(), &["init", "-q", "-b", "main"]);
    git_in(repo.path(), &["add", "-A"]);
    git_in(repo.path(), &["commit", "-q", "-m", "streams"]);
    std::fs::remove_file(repo.path().join("schemas/crds/podmonitors.yaml")).unwrap();
    // The working tree has no CRD: only a warning.
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 0, "{}", shown(&out));
    assert_eq!(findings(&out.stdout, "manifest/unchecked-kind").len(), 1);
    // The commit has it.
    let out = repo.sluice(&["lint", "--rev", "HEAD"]);
    assert_eq!(out.code, 1, "{}", shown(&out));
    assert_eq!(
        findings(&out.stdout, "manifest/schema").len(),
        1,
        "{}",
        out.stdout
    );
    // A change to a CRD touches every stream.
    git_in(repo.path(), &["rm", "-q", "schemas/crds/podmonitors.yaml"]);
    git_in(repo.path(), &["commit", "-q", "-m", "no CRD"]);
    repo.write("schemas/crds/podmonitors.yaml", PODMONITOR_CRD.as_bytes());
    let out = repo.sluice(&["lint", "--changed-since", "HEAD"]);
    assert_eq!(out.code, 1, "{}", shown(&out));
    assert!(
        out.stdout.contains("in 2 streams: orders, payments"),
        "{}",
        out.stdout
    );
}

#[test]
fn the_fixture_templates_are_the_ones_tested() {
    // The templates above are read from the fixture at build time; the
    // directory is what a reader finds.
    let root = common::project_root().join(FIXTURE);
    for f in [
        "schemas/crds/podmonitors.yaml",
        "templates/podmonitor.yaml.j2",
        "templates/configmap.yaml.j2",
        "templates/service.yaml.j2",
    ] {
        assert!(root.join(f).is_file(), "{f}");
    }
}

mod cluster {
    use super::common::cluster::{client, kubeconfig, namespace, unique};
    use super::common::project_root;
    use kube::api::{Api, ApiResource, DynamicObject, PostParams};
    use serde_json::{Value, json};

    async fn openapi(client: &kube::Client) -> String {
        let request = hyper::Request::get("/openapi/v2").body(Vec::new()).unwrap();
        client.request_text(request).await.unwrap()
    }

    #[tokio::test]
    #[ignore = "needs SLUICE_TEST_KUBECONFIG"]
    async fn the_built_in_schemas_are_what_the_generator_makes_of_the_api_servers_document() {
        let client = client(&kubeconfig(), "admin").await;
        let doc = openapi(&client).await;
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("openapi-v2.json");
        std::fs::write(&input, &doc).unwrap();
        let out_dir = dir.path().join("k8s");
        let run = std::process::Command::new("python3")
            .arg(project_root().join("scripts/gen-k8s-schemas.py"))
            .arg("--out")
            .arg(&out_dir)
            .arg(&input)
            .output()
            .expect("python3 runs");
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let committed = project_root().join("schemas/k8s");
        let list = |d: &std::path::Path| {
            let mut names: Vec<String> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        };
        assert_eq!(list(&out_dir), list(&committed));
        for name in list(&committed) {
            let generated = std::fs::read_to_string(out_dir.join(&name)).unwrap();
            let kept = std::fs::read_to_string(committed.join(&name)).unwrap();
            assert!(
                generated == kept,
                "schemas/k8s/{name} differs from what scripts/gen-k8s-schemas.py makes of the API server's /openapi/v2; regenerate it"
            );
        }
        // And --check agrees.
        let check = std::process::Command::new("python3")
            .arg(project_root().join("scripts/gen-k8s-schemas.py"))
            .arg("--check")
            .arg(&input)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stderr)
        );
    }

    fn resource(api_version: &str, kind: &str, plural: &str) -> ApiResource {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: api_version.into(),
            kind: kind.into(),
            plural: plural.into(),
        }
    }

    /// A dry-run create of `object`: the object the API server would
    /// store, or its refusal.
    async fn dry_run(
        client: &kube::Client,
        ns: &str,
        object: Value,
        plural: &str,
    ) -> Result<Value, kube::Error> {
        let ar = resource(
            object["apiVersion"].as_str().unwrap(),
            object["kind"].as_str().unwrap(),
            plural,
        );
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
        let object: DynamicObject = serde_json::from_value(object).unwrap();
        let params = PostParams {
            dry_run: true,
            ..Default::default()
        };
        api.create(&params, &object)
            .await
            .map(|o| serde_json::to_value(o).unwrap())
    }

    /// What the built-in schemas refuse, the API server refuses too, or
    /// (unknown fields, before Kubernetes 1.25) silently drops.
    #[tokio::test]
    #[ignore = "needs SLUICE_TEST_KUBECONFIG"]
    async fn the_api_servers_dry_run_agrees_with_the_built_in_schemas() {
        let client = client(&kubeconfig(), "admin").await;
        let ns = unique("kinds");
        namespace(&client, &ns).await;
        let schema = sluice::check::ManifestSchema::builtin();
        let meta = json!({"name": "orders", "namespace": ns});

        let configmap =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"a": 1}});
        assert!(!schema.is_valid(&configmap));
        let refused = dry_run(&client, &ns, configmap, "configmaps").await;
        assert!(
            matches!(&refused, Err(kube::Error::Api(e)) if e.code == 400 || e.code == 422),
            "{refused:?}"
        );
        let good =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"a": "1"}});
        assert!(schema.is_valid(&good));
        dry_run(&client, &ns, good, "configmaps").await.unwrap();

        let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": meta,
            "spec": {"selector": {"app": "orders"}, "ports": [{"name": "ui", "port": 4040}], "portz": [{"port": 80}]}});
        assert!(!schema.is_valid(&service));
        let stored = dry_run(&client, &ns, service, "services").await.unwrap();
        // Accepted, without the field: it would have been lost.
        assert!(stored["spec"].get("portz").is_none(), "{stored}");
        assert_eq!(stored["spec"]["ports"][0]["port"], 4040, "{stored}");

        let pdb = json!({"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "metadata": meta,
            "spec": {"minAvailable": true}});
        assert!(!schema.is_valid(&pdb));
        let refused = dry_run(&client, &ns, pdb, "poddisruptionbudgets").await;
        assert!(
            matches!(&refused, Err(kube::Error::Api(e)) if e.code == 400 || e.code == 422),
            "{refused:?}"
        );
    }
}
