//! `sluice render --format spark-submit`: each Spark stream as the
//! spark-submit of Spark's native Kubernetes mode.
//!
//! - Snapshots of what the example repository's streams give, dev and prod.
//! - Quoting: the generated script and command, run by a real `sh` with a
//!   stand-in spark-submit that prints what it got, hand over every word
//!   exactly (spaces, quotes, `$`, newlines).
//! - Every field of the upstream CRD's spec is placed (a conf, a pod
//!   template, or named as the operator's own).
//! - No literal credential reaches the output.
//! - The oracle: a real spark-submit (PyPI's pyspark 3.3.4) run against
//!   the test API server creates the driver pod, which is compared field
//!   by field with the SparkApplication's driver spec, for every example
//!   stream in dev and prod.

mod common;

use common::{Repo, project_root};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn example_repo(namespace_of: impl Fn(&str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&project_root().join("values"), &dir.path().join("values"));
    for env in ["dev", "prod"] {
        let path = dir.path().join(format!("values/environments/{env}.yaml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let text: String = text
            .lines()
            .map(|l| {
                if l.starts_with("namespace:") {
                    format!("namespace: {}", namespace_of(env))
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&path, text + "\n").unwrap();
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every file under `dir`, as `--- path` sections, sorted.
fn tree(dir: &Path) -> String {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().unwrap() != ".sluice-render" {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .iter()
        .map(|p| {
            format!(
                "--- {}\n{}",
                p.strip_prefix(dir).unwrap().display(),
                std::fs::read_to_string(p).unwrap()
            )
        })
        .collect()
}

fn submit(repo: &Path, env: &str, out: &Path, master: &str, extra: &[&str]) -> common::Output {
    let mut args = vec![
        "render",
        "--env",
        env,
        "--format",
        "spark-submit",
        "--master",
        master,
        "--output-dir",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    common::sluice_in(repo, &args)
}

/// `render --format spark-submit` on stdout, with `extra` flags.
fn printed(repo: &Repo, master: &str, extra: &[&str]) -> common::Output {
    let mut args = vec![
        "render",
        "--env",
        "dev",
        "--format",
        "spark-submit",
        "--master",
        master,
    ];
    args.extend_from_slice(extra);
    common::sluice_in(repo.path(), &args)
}

#[test]
fn the_example_streams_as_spark_submit() {
    let repo = example_repo(|env| format!("bi-streaming-{env}"));
    for env in ["dev", "prod"] {
        let out = tempfile::tempdir().unwrap();
        let run = submit(
            repo.path(),
            env,
            out.path(),
            "k8s://https://api.example.com:6443",
            &[],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        insta::assert_snapshot!(format!("spark-submit-{env}"), tree(out.path()));
    }
}

/// A stand-in spark-submit: prints each argument it gets, NUL-terminated.
fn printer(dir: &Path) -> PathBuf {
    let path = dir.join("print-args");
    std::fs::write(
        &path,
        "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The words the stand-in printed.
fn words_of(got: std::process::Output) -> Vec<String> {
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    String::from_utf8(got.stdout)
        .unwrap()
        .split_terminator('\0')
        .map(str::to_owned)
        .collect()
}

const TRICKY: &[&str] = &[
    "with space",
    "it's",
    "say \"hi\"",
    "$HOME and `date`",
    "two\nlines",
    "back\\slash",
    "",
    "*",
];

fn tricky_repo() -> Repo {
    let arguments: Vec<String> = TRICKY
        .iter()
        .map(|a| serde_json::to_string(a).unwrap())
        .collect();
    Repo::with(&[(
        "values/streams/orders.yaml",
        Some(&format!(
            "mainClass: com.example.Orders\narguments: [{}]\nsparkConf:\n  spark.app.note: \" padded $x \"\n  spark.a.b: \"x=y: 'q' \\\"z\\\"\"\n",
            arguments.join(", ")
        )),
    )])
}

#[test]
fn every_word_reaches_spark_submit_exactly() {
    let repo = tricky_repo();
    let out = tempfile::tempdir().unwrap();
    let run = submit(
        repo.path(),
        "dev",
        out.path(),
        "k8s://https://h:6443",
        &["--stream", "orders"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let bin = tempfile::tempdir().unwrap();
    let got = std::process::Command::new(out.path().join("orders/spark-submit.sh"))
        .arg("--conf")
        .arg("spark.extra=given at run time")
        .env("SPARK_SUBMIT", printer(bin.path()))
        .output()
        .unwrap();
    let words = words_of(got);
    let tail = &words[words.len() - TRICKY.len()..];
    assert_eq!(tail, TRICKY, "{words:#?}");
    assert_eq!(
        words[words.len() - TRICKY.len() - 1],
        "local:///opt/app.jar"
    );
    // Options given to the script come before the application file.
    let given = words
        .iter()
        .position(|w| w == "spark.extra=given at run time")
        .unwrap();
    assert!(given < words.len() - TRICKY.len() - 1);
    // The properties file holds what a properties file keeps exactly; a
    // value spark-submit would trim goes on the command line.
    let props = words.iter().position(|w| w == "--properties-file").unwrap();
    let file = std::fs::read_to_string(&words[props + 1]).unwrap();
    assert!(file.contains("spark.a.b=x=y: 'q' \"z\"\n"), "{file}");
    assert!(
        words.contains(&"spark.app.note= padded $x ".to_owned()),
        "{words:#?}"
    );

    // The command on stdout, run by sh with the stand-in as spark-submit.
    let printed = printed(&repo, "k8s://https://h:6443", &["--stream", "orders"]);
    assert_eq!(printed.code, 0, "{}", printed.stderr);
    std::fs::copy(printer(bin.path()), bin.path().join("spark-submit")).unwrap();
    let got = std::process::Command::new("sh")
        .arg("-c")
        .arg(&printed.stdout)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.path().display()))
        .output()
        .unwrap();
    let words = words_of(got);
    assert_eq!(&words[words.len() - TRICKY.len()..], TRICKY);
    assert!(words.contains(&"spark.app.note= padded $x ".to_owned()));
    assert!(words.contains(&"spark.a.b=x=y: 'q' \"z\"".to_owned()));
}

#[test]
fn a_pod_template_needs_an_output_dir() {
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some("mainClass: C\ntolerations: [{key: dedicated, operator: Exists}]\n"),
    )]);
    let out = printed(&repo, "k8s://https://h", &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--output-dir"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
}

#[test]
#[cfg_attr(sluice_no_upstream_crds, ignore = "needs ../shared/crds")]
fn every_field_of_the_crds_spec_is_placed() {
    let text = std::fs::read_to_string(
        project_root().join("../shared/crds/sparkoperator.k8s.io_sparkapplications.yaml"),
    )
    .unwrap();
    let crd: Value = serde_saphyr::from_str(&text).unwrap();
    let version = crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "v1beta2")
        .unwrap();
    let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
    use sluice::spark::submit::{OPERATOR_ONLY, ROLE_FIELDS, ROLE_OPERATOR_ONLY, SPEC_FIELDS};
    let placed = |f: &str| {
        SPEC_FIELDS.contains(&f)
            || OPERATOR_ONLY.iter().any(|(o, _)| *o == f)
            || f == "sparkConfigMap"
    };
    let unplaced: Vec<&String> = spec
        .as_object()
        .unwrap()
        .keys()
        .filter(|f| !placed(f))
        .collect();
    assert!(
        unplaced.is_empty(),
        "spec fields with no place: {unplaced:?}"
    );
    for role in ["driver", "executor"] {
        let unplaced: Vec<&String> = spec[role]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|f| {
                !ROLE_FIELDS.contains(&f.as_str())
                    && !ROLE_OPERATOR_ONLY.iter().any(|(o, _)| o == f)
            })
            .collect();
        assert!(
            unplaced.is_empty(),
            "{role} fields with no place: {unplaced:?}"
        );
    }
}

#[test]
fn no_literal_credential_reaches_the_output() {
    // Secrets by reference: the conf names the Secret and its key.
    let repo = Repo::with(&[(
        "values/streams/payments.yaml",
        Some(
            "mainClass: P\nsecrets:\n  - name: kafka-sasl\n    env: {KAFKA_PASSWORD: password}\n    path: /mnt/kafka\n",
        ),
    )]);
    let out = printed(
        &repo,
        "k8s://https://deployer:hunter2@h:6443",
        &["--stream", "payments"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("spark.kubernetes.driver.secretKeyRef.KAFKA_PASSWORD=kafka-sasl:password"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("spark.kubernetes.executor.secrets.kafka-sasl=/mnt/kafka"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("hunter2") && !out.stderr.contains("hunter2"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("oauthToken"),
        "no submission token is ever printed"
    );

    // A literal credential in the values is refused before anything is
    // printed, and not repeated in the message.
    let repo = Repo::with(&[(
        "values/streams/payments.yaml",
        Some(
            "mainClass: P\nsparkConf:\n  spark.hadoop.fs.s3a.secret.key: AKIAhunter2hunter2hunter2\n",
        ),
    )]);
    let out = printed(&repo, "k8s://https://h", &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stdout.is_empty());
    assert!(
        !out.stderr.contains("AKIAhunter2hunter2hunter2"),
        "{}",
        out.stderr
    );
}

const KITCHEN_SINK: &str = "# Every kind of pod setting, for the native-mode comparison.
mainClass: com.example.KitchenSink
arguments: [\"--name\", \"it's a $test\"]
annotations:
  team.example.com/owner: bi
secrets:
  - name: kafka-sasl
    env: {KAFKA_PASSWORD: password}
    path: /mnt/kafka
volumes:
  - name: scratch
    hostPath: {path: /var/scratch, type: DirectoryOrCreate}
  - name: settings
    configMap: {name: kitchen-settings}
podTemplate:
  driver:
    metadata:
      labels: {from-template: \"yes\"}
    spec:
      containers:
        - name: spark-kubernetes-driver
          env:
            - {name: FROM_TEMPLATE, value: \"1\"}
driver:
  serviceAccount: spark-streams
  annotations:
    prometheus.io/scrape: \"true\"
  labels:
    tier: gold
  env:
    - name: PLAIN
      value: \"a b\"
    - name: POD_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
  volumeMounts:
    - {name: scratch, mountPath: /scratch}
    - {name: settings, mountPath: /etc/settings}
  securityContext:
    runAsNonRoot: true
  podSecurityContext:
    fsGroup: 185
  envFrom:
    - configMapRef: {name: kitchen-env}
  configMaps:
    - {name: kitchen-extra, path: /etc/extra}
  ports:
    - {name: metrics, containerPort: 9090, protocol: TCP}
  hostAliases:
    - {ip: 10.1.2.3, hostnames: [kafka.internal]}
  dnsConfig:
    options:
      - {name: ndots, value: \"2\"}
  terminationGracePeriodSeconds: 45
  initContainers:
    - name: wait-for-kafka
      image: busybox:1.36
      command: [sh, -c, \"true\"]
  gpu: {name: nvidia.com/gpu, quantity: 1}
  sidecars:
    - name: shipper
      image: fluent/fluent-bit:3.1.9
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
          - matchExpressions:
              - {key: pool, operator: In, values: [spark]}
";

/// The submission's credentials for the test API server, as files: the
/// CA and the admin token (without the line break a token file may end
/// with, which spark-submit would send).
struct Access {
    server: String,
    _dir: tempfile::TempDir,
    ca: PathBuf,
    token: PathBuf,
}

fn access(kubeconfig: &str) -> Access {
    use base64::Engine as _;
    let config: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(kubeconfig).unwrap()).unwrap();
    let cluster = &config["clusters"][0]["cluster"];
    let user = config["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "admin")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.crt");
    let token = dir.path().join("token");
    std::fs::write(
        &ca,
        base64::engine::general_purpose::STANDARD
            .decode(cluster["certificate-authority-data"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    std::fs::write(&token, user["user"]["token"].as_str().unwrap().trim()).unwrap();
    Access {
        server: cluster["server"].as_str().unwrap().to_owned(),
        _dir: dir,
        ca,
        token,
    }
}

/// A local Maven repository with an empty artifact for each of
/// `packages`, and Ivy settings that resolve only from it: spark-submit
/// resolves `--packages` before it submits, and the tests have no network.
fn stub_packages(dir: &Path, packages: &[String]) -> PathBuf {
    let repo = dir.join("m2");
    for coordinate in packages {
        let parts: Vec<&str> = coordinate.split(':').collect();
        let (group, artifact, version) = (parts[0], parts[1], parts[2]);
        let at = repo
            .join(group.replace('.', "/"))
            .join(artifact)
            .join(version);
        std::fs::create_dir_all(&at).unwrap();
        std::fs::write(
            at.join(format!("{artifact}-{version}.pom")),
            format!("<project><modelVersion>4.0.0</modelVersion><groupId>{group}</groupId><artifactId>{artifact}</artifactId><version>{version}</version></project>"),
        )
        .unwrap();
        // An empty zip archive.
        std::fs::write(
            at.join(format!("{artifact}-{version}.jar")),
            [
                0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        )
        .unwrap();
    }
    let settings = dir.join("ivysettings.xml");
    std::fs::write(
        &settings,
        format!(
            "<ivysettings><settings defaultResolver=\"stub\"/><resolvers><ibiblio name=\"stub\" m2compatible=\"true\" root=\"file://{}\"/></resolvers></ivysettings>",
            repo.display()
        ),
    )
    .unwrap();
    settings
}

/// MiB of a Spark or Kubernetes memory quantity (`2g`, `512m`, `2560Mi`).
fn mib(quantity: &str) -> f64 {
    let q = quantity.trim();
    let split = q.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(q.len());
    let (n, unit) = q.split_at(split);
    let n: f64 = n.parse().unwrap_or_else(|_| panic!("a quantity: {q}"));
    match unit.to_ascii_lowercase().as_str() {
        "" | "b" => n / 1048576.0,
        "k" | "kb" | "ki" => n / 1024.0,
        "m" | "mb" | "mi" => n,
        "g" | "gb" | "gi" => n * 1024.0,
        "t" | "tb" | "ti" => n * 1048576.0,
        other => panic!("unit {other} of {q}"),
    }
}

/// Cores of a CPU quantity (`1`, `1.5`, `3400m`).
fn cores(quantity: &Value) -> f64 {
    let q = match quantity {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match q.strip_suffix('m') {
        Some(milli) => milli.parse::<f64>().unwrap() / 1000.0,
        None => q.parse().unwrap(),
    }
}

/// Whether `got` says everything `wanted` says (the API server adds its
/// defaults: `fieldRef.apiVersion`, a volume's `defaultMode`, ...; Spark
/// adds its own ports, variables and mounts to lists).
fn says(got: &Value, wanted: &Value) -> bool {
    match (got, wanted) {
        (Value::Object(g), Value::Object(w)) => w
            .iter()
            .all(|(k, v)| g.get(k).is_some_and(|gv| says(gv, v))),
        // Spark adds its own items (ports, env, mounts): each wanted one is there.
        (Value::Array(g), Value::Array(w)) => w.iter().all(|b| g.iter().any(|a| says(a, b))),
        (g, w) => g == w,
    }
}

/// The driver pod spark-submit created, against the SparkApplication's
/// driver spec: every difference, by field.
fn compare_driver(app: &Value, pod: &Value) -> Vec<String> {
    let spec = &app["spec"];
    let driver = &spec["driver"];
    let container = pod["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "spark-kubernetes-driver")
        .expect("the driver container");
    let mut diffs = Vec::new();
    let mut check = |what: &str, ok: bool, detail: String| {
        if !ok {
            diffs.push(format!("{what}: {detail}"));
        }
    };
    let image = driver.get("image").unwrap_or(&spec["image"]);
    check(
        "image",
        &container["image"] == image,
        format!("{} vs {image}", container["image"]),
    );
    if let Some(policy) = spec.get("imagePullPolicy") {
        check(
            "imagePullPolicy",
            &container["imagePullPolicy"] == policy,
            format!("{}", container["imagePullPolicy"]),
        );
    }
    if let Some(secrets) = spec.get("imagePullSecrets").and_then(Value::as_array) {
        let got: Vec<&Value> = pod["spec"]["imagePullSecrets"]
            .as_array()
            .map(|s| s.iter().map(|s| &s["name"]).collect())
            .unwrap_or_default();
        check(
            "imagePullSecrets",
            got == secrets.iter().collect::<Vec<_>>(),
            format!("{got:?}"),
        );
    }
    // Resources: cores (request), coreLimit (limit), memory + overhead.
    let resources = &container["resources"];
    let request = driver
        .get("coreRequest")
        .or(driver.get("cores"))
        .unwrap_or(&Value::Null);
    if !request.is_null() {
        check(
            "cpu request",
            cores(&resources["requests"]["cpu"]) == cores(request),
            format!("{} vs {request}", resources["requests"]["cpu"]),
        );
    }
    if let Some(limit) = driver.get("coreLimit") {
        check(
            "cpu limit",
            cores(&resources["limits"]["cpu"]) == cores(limit),
            format!("{} vs {limit}", resources["limits"]["cpu"]),
        );
    }
    let memory = mib(driver["memory"].as_str().unwrap_or("1g"));
    let factor = spec
        .get("memoryOverheadFactor")
        .and_then(|f| f.as_str().and_then(|s| s.parse().ok()).or(f.as_f64()))
        .unwrap_or(if spec["type"] == "Python" { 0.4 } else { 0.1 });
    let overhead = driver
        .get("memoryOverhead")
        .and_then(Value::as_str)
        .map(mib)
        .unwrap_or_else(|| (memory * factor).max(384.0));
    for side in ["requests", "limits"] {
        let got = resources[side]["memory"].as_str().map(mib);
        check(
            &format!("memory {side}"),
            got == Some(memory + overhead),
            format!("{got:?} vs {}", memory + overhead),
        );
    }
    // Labels and annotations: the application's and the driver's own.
    let labels = &pod["metadata"]["labels"];
    for source in [&app["metadata"]["labels"], &driver["labels"]] {
        for (k, v) in source.as_object().into_iter().flatten() {
            check(
                &format!("label {k}"),
                &labels[k] == v,
                format!("{}", labels[k]),
            );
        }
    }
    let annotations = &pod["metadata"]["annotations"];
    for (k, v) in driver["annotations"].as_object().into_iter().flatten() {
        check(
            &format!("annotation {k}"),
            &annotations[k] == v,
            format!("{}", annotations[k]),
        );
    }
    // Environment, Secret references included.
    let env = container["env"].as_array().cloned().unwrap_or_default();
    for var in driver["env"].as_array().into_iter().flatten() {
        let got = env.iter().find(|e| e["name"] == var["name"]);
        let same = got.is_some_and(|g| says(g, var));
        check(&format!("env {}", var["name"]), same, format!("{got:?}"));
    }
    // Node selector, tolerations (the API server adds its defaults).
    let mut selector = spec["nodeSelector"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    selector.extend(
        driver["nodeSelector"]
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    let got = pod["spec"]["nodeSelector"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    check("nodeSelector", got == selector, format!("{got:?}"));
    let tolerations = pod["spec"]["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for t in driver["tolerations"].as_array().into_iter().flatten() {
        check(
            "toleration",
            tolerations.contains(t),
            format!("{t} missing"),
        );
    }
    // Volumes: each mount of the driver, from a volume of the same source.
    let volumes = pod["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mounts = container["volumeMounts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let spec_volumes = spec["volumes"].as_array().cloned().unwrap_or_default();
    for m in driver["volumeMounts"].as_array().into_iter().flatten() {
        let wanted = spec_volumes
            .iter()
            .find(|v| v["name"] == m["name"])
            .expect("a volume");
        let got = volumes.iter().find(|v| v["name"] == m["name"]);
        let source = |v: &Value| {
            let mut v = v.clone();
            v.as_object_mut().unwrap().remove("name");
            v
        };
        check(
            &format!("volume {}", m["name"]),
            got.is_some_and(|g| says(&source(g), &source(wanted))),
            format!("{got:?} vs {wanted}"),
        );
        let mounted = mounts
            .iter()
            .any(|g| g["name"] == m["name"] && g["mountPath"] == m["mountPath"]);
        check(
            &format!("mount {}", m["name"]),
            mounted,
            format!("{mounts:?}"),
        );
    }
    // A volume of this source, mounted at this path.
    let mounted_from = |source: &dyn Fn(&Value) -> bool, path: &Value| {
        volumes.iter().filter(|v| source(v)).any(|v| {
            mounts
                .iter()
                .any(|g| g["name"] == v["name"] && &g["mountPath"] == path)
        })
    };
    for s in driver["secrets"].as_array().into_iter().flatten() {
        let mounted = mounted_from(&|v| v["secret"]["secretName"] == s["name"], &s["path"]);
        check(
            &format!("secret {}", s["name"]),
            mounted,
            format!("{volumes:?}"),
        );
    }
    for cm in driver["configMaps"].as_array().into_iter().flatten() {
        let mounted = mounted_from(&|v| v["configMap"]["name"] == cm["name"], &cm["path"]);
        check(
            &format!("configMap {}", cm["name"]),
            mounted,
            format!("{volumes:?}"),
        );
    }
    // What only a pod template carries: the pod's fields, and those of
    // Spark's container.
    for (field, at) in [
        ("affinity", "affinity"),
        ("podSecurityContext", "securityContext"),
        ("hostAliases", "hostAliases"),
        ("dnsConfig", "dnsConfig"),
        (
            "terminationGracePeriodSeconds",
            "terminationGracePeriodSeconds",
        ),
        ("shareProcessNamespace", "shareProcessNamespace"),
        ("initContainers", "initContainers"),
    ] {
        if let Some(wanted) = driver.get(field) {
            let got = &pod["spec"][at];
            check(field, says(got, wanted), format!("{got} vs {wanted}"));
        }
    }
    for field in ["securityContext", "envFrom", "ports", "lifecycle"] {
        if let Some(wanted) = driver.get(field) {
            let got = &container[field];
            check(field, says(got, wanted), format!("{got} vs {wanted}"));
        }
    }
    if let Some(gpu) = driver.get("gpu") {
        let got = &resources["limits"][gpu["name"].as_str().unwrap()];
        check(
            "gpu",
            cores(got) == cores(&gpu["quantity"]),
            format!("{got}"),
        );
    }
    // The role's own pod template: its labels and its container's env.
    if let Some(template) = driver.get("template") {
        let wanted = &template["metadata"]["labels"];
        if !wanted.is_null() {
            check("template labels", says(labels, wanted), format!("{labels}"));
        }
        for c in template["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if c["name"] == "spark-kubernetes-driver" && !c["env"].is_null() {
                check(
                    "template env",
                    says(&container["env"], &c["env"]),
                    format!("{}", container["env"]),
                );
            }
        }
    }
    // Service account.
    if let Some(sa) = driver.get("serviceAccount") {
        check(
            "serviceAccount",
            &pod["spec"]["serviceAccountName"] == sa,
            format!("{}", pod["spec"]["serviceAccountName"]),
        );
    }
    diffs
}

#[tokio::test]
#[ignore = "needs the test API server and spark-submit: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; SLUICE_TEST_SPARK_SUBMIT=$(bash scripts/spark-submit.sh); cargo test -- --include-ignored"]
async fn a_real_spark_submit_creates_the_driver_the_sparkapplication_describes() {
    let spark_submit = std::env::var("SLUICE_TEST_SPARK_SUBMIT").unwrap_or_else(|_| {
        panic!("SLUICE_TEST_SPARK_SUBMIT is not set: SLUICE_TEST_SPARK_SUBMIT=$(bash scripts/spark-submit.sh)")
    });
    let kubeconfig = common::cluster::kubeconfig();
    let client = common::cluster::client(&kubeconfig, "admin").await;
    let access = access(&kubeconfig);
    let namespaces: std::collections::BTreeMap<&str, String> = ["dev", "prod"]
        .iter()
        .map(|e| (*e, common::cluster::unique(&format!("native-{e}"))))
        .collect();
    let repo = example_repo(|env| namespaces[env].clone());
    // Beside the examples, a stream with every kind of pod setting: the
    // ones a conf carries and the ones only a pod template can.
    std::fs::write(
        repo.path().join("values/streams/kitchen-sink.yaml"),
        KITCHEN_SINK,
    )
    .unwrap();
    let mut compared = 0;
    for (env, ns) in &namespaces {
        common::cluster::namespace(&client, ns).await;
        let rendered =
            common::sluice_in(repo.path(), &["render", "--env", env, "--format", "json"]);
        assert_eq!(rendered.code, 0, "{}", rendered.stderr);
        let list: Value = serde_json::from_str(&rendered.stdout).unwrap();
        let apps: Vec<Value> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["kind"] == "SparkApplication")
            .cloned()
            .collect();
        // No controller here creates service accounts: the namespace's
        // `default` and the ones the drivers name.
        let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> =
            Api::namespaced(client.clone(), ns);
        let mut names: std::collections::BTreeSet<String> = ["default".to_owned()].into();
        for app in &apps {
            if let Some(sa) = app["spec"]["driver"]["serviceAccount"].as_str() {
                names.insert(sa.to_owned());
            }
        }
        for name in names {
            accounts
                .create(
                    &Default::default(),
                    &serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))
                        .unwrap(),
                )
                .await
                .unwrap();
        }
        let work = tempfile::tempdir().unwrap();
        let out = work.path().join("submit");
        let run = submit(
            repo.path(),
            env,
            &out,
            &format!("k8s://{}", access.server),
            &[],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        let packages: Vec<String> = apps
            .iter()
            .flat_map(|a| {
                a["spec"]["deps"]["packages"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|p| p.as_str().unwrap().to_owned())
            .collect();
        let ivy = stub_packages(work.path(), &packages);
        let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), ns);
        for app in &apps {
            let name = app["metadata"]["name"].as_str().unwrap();
            let script = out.join(name).join("spark-submit.sh");
            let result = std::process::Command::new(&script)
                .args([
                    "--conf",
                    &format!(
                        "spark.kubernetes.authenticate.submission.oauthTokenFile={}",
                        access.token.display()
                    ),
                ])
                .args([
                    "--conf",
                    &format!(
                        "spark.kubernetes.authenticate.submission.caCertFile={}",
                        access.ca.display()
                    ),
                ])
                .args([
                    "--conf",
                    &format!("spark.jars.ivySettings={}", ivy.display()),
                ])
                .args([
                    "--conf",
                    &format!("spark.jars.ivy={}", work.path().join("ivy").display()),
                ])
                .env("SPARK_SUBMIT", &spark_submit)
                .env_remove("SPARK_HOME")
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&result.stderr);
            assert!(
                result.status.success(),
                "{env}/{name}: spark-submit failed:\n{stderr}"
            );
            assert!(
                !stderr.contains(&std::fs::read_to_string(&access.token).unwrap()),
                "spark-submit's output never holds the token"
            );
            let pod = pods.get(&format!("{name}-driver")).await.unwrap();
            let diffs = compare_driver(app, &serde_json::to_value(pod).unwrap());
            assert!(
                diffs.is_empty(),
                "{env}/{name}: the driver pod differs from the SparkApplication:\n{}",
                diffs.join("\n")
            );
            compared += 1;
        }
    }
    assert!(
        compared >= 10,
        "every example Spark stream in dev and prod: {compared}"
    );
}

use kube::api::Api;

#[test]
fn the_master_and_the_login_come_from_the_same_context() {
    let repo = Repo::with(&[(
        "values/environments/dev.yaml",
        Some("namespace: streams-dev\nkubeContext: dev-eu\n"),
    )]);
    let kubeconfig = repo.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\ncurrent-context: other\nclusters:\n- name: dev\n  cluster: {server: \"https://ops:s3cret@dev.example.com:6443\"}\n- name: other\n  cluster: {server: \"https://other.example.com\"}\ncontexts:\n- name: dev-eu\n  context: {cluster: dev, user: u}\n- name: other\n  context: {cluster: other, user: u}\nusers:\n- name: u\n  user: {token: not-printed}\n",
    )
    .unwrap();
    let out = common::sluice_with_env(
        repo.path(),
        &[
            "render",
            "--env",
            "dev",
            "--stream",
            "orders",
            "--format",
            "spark-submit",
        ],
        &[("KUBECONFIG", kubeconfig.to_str().unwrap())],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("--master k8s://https://dev.example.com:6443"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("spark.kubernetes.context=dev-eu"),
        "{}",
        out.stdout
    );
    for secret in ["s3cret", "not-printed"] {
        assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret));
    }
}
