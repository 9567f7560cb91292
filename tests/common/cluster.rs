//! Shared by the tests that need the test API server
//! (scripts/test-cluster.sh): its kubeconfig, clients, fresh namespaces.

use super::{Output, Repo};
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};

/// The test cluster's kubeconfig from SLUICE_TEST_KUBECONFIG. The tests
/// that need it are `#[ignore]`d, so a run that includes them without a
/// cluster fails here rather than passing without checking anything.
pub fn kubeconfig() -> String {
    std::env::var("SLUICE_TEST_KUBECONFIG").unwrap_or_else(|_| {
        panic!(
            "SLUICE_TEST_KUBECONFIG is not set: start the test API server (bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\")"
        )
    })
}

pub async fn client(path: &str, context: &str) -> kube::Client {
    let config = kube::Config::from_custom_kubeconfig(
        Kubeconfig::read_from(path).unwrap(),
        &KubeConfigOptions {
            context: Some(context.into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{}",
        N.fetch_add(1, Ordering::Relaxed),
        nanos % 100_000
    )
}

pub async fn namespace(client: &kube::Client, name: &str) {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    api.create(&PostParams::default(), &ns).await.unwrap();
}

pub fn apps() -> ApiResource {
    sluice::cluster::spark_application()
}

pub struct Env {
    pub repo: Repo,
    pub kubeconfig: String,
    pub client: kube::Client,
    pub dev: String,
    pub prod: String,
}

impl Env {
    pub async fn new(kubeconfig: String) -> Env {
        let client = client(&kubeconfig, "admin").await;
        let dev = unique("dev");
        let prod = unique("prod");
        namespace(&client, &dev).await;
        namespace(&client, &prod).await;
        let repo = Repo::with(&[
            (
                "values/environments/dev.yaml",
                Some(&format!("namespace: {dev}\nkubeContext: admin\n")),
            ),
            (
                "values/environments/prod.yaml",
                Some(&format!("namespace: {prod}\n")),
            ),
            (
                "values/streams/orders.yaml",
                Some(
                    "mainClass: com.example.Orders\narguments: [--topic, orders]\nsink: s3a://lake/orders\n",
                ),
            ),
            (
                "values/streams/payments.yaml",
                Some("mainClass: com.example.Payments\nsink: s3a://lake/payments\n"),
            ),
        ]);
        Env {
            repo,
            kubeconfig,
            client,
            dev,
            prod,
        }
    }

    pub fn sluice(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--kubeconfig", &self.kubeconfig, "-v"]);
        self.repo.sluice(&all)
    }

    pub fn write(&self, path: &str, text: &str) {
        self.repo.write(path, text.as_bytes());
    }

    pub async fn live(&self, namespace: &str, name: &str) -> Option<Value> {
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), namespace, &apps());
        api.get_opt(name)
            .await
            .unwrap()
            .map(|o| serde_json::to_value(o).unwrap())
    }

    pub async fn names(&self, namespace: &str) -> Vec<String> {
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), namespace, &apps());
        let mut names: Vec<String> = api
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|o| o.metadata.name)
            .collect();
        names.sort();
        names
    }
}

pub fn requests(out: &Output) -> usize {
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("API requests"))
        .unwrap_or_else(|| panic!("no request count:\n{}", out.stderr));
    line.split_whitespace()
        .rev()
        .nth(2)
        .unwrap()
        .parse()
        .unwrap()
}

pub fn diff_json(env: &Env, extra: &[&str]) -> Value {
    let mut args = vec!["diff", "--env", "dev", "--format", "json"];
    args.extend_from_slice(extra);
    let out = env.sluice(&args);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

/// Starts sluice in the background (for a `--wait` the test then plays
/// the operator for).
pub fn spawn(env: &Env, args: &[&str]) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("sluice"))
        .arg("-C")
        .arg(env.repo.path())
        .args(["--color", "never"])
        .args(args)
        .args(["--kubeconfig", &env.kubeconfig])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

pub fn finish(child: std::process::Child) -> Output {
    let out = child.wait_with_output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// What the exact-apply comparison looks at: spec, labels and
/// annotations, without what sluice adds for itself (the ApplySet label,
/// the digest).
pub fn comparable(object: &Value) -> Value {
    let mut labels = object["metadata"]["labels"].clone();
    if let Value::Object(l) = &mut labels {
        l.remove("applyset.kubernetes.io/part-of");
    }
    let mut annotations = object["metadata"]["annotations"].clone();
    if let Value::Object(a) = &mut annotations {
        a.remove("sluice.dev/digest");
    }
    let empty = |v: Value| match v {
        Value::Null => serde_json::json!({}),
        v => v,
    };
    serde_json::json!({"spec": object["spec"], "labels": empty(labels), "annotations": empty(annotations)})
}
