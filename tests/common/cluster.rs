//! Shared by the tests that need the test API server
//! (scripts/test-cluster.sh): its kubeconfig, clients, fresh namespaces.

use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;

/// The test cluster's kubeconfig from SLUICE_TEST_KUBECONFIG; `None` (the
/// test skips, saying so) without it, unless SLUICE_REQUIRE_CLUSTER=1.
pub fn kubeconfig() -> Option<String> {
    match std::env::var("SLUICE_TEST_KUBECONFIG") {
        Ok(path) => Some(path),
        Err(_) if std::env::var("SLUICE_REQUIRE_CLUSTER").as_deref() == Ok("1") => {
            panic!(
                "SLUICE_REQUIRE_CLUSTER=1 but SLUICE_TEST_KUBECONFIG is not set: start scripts/test-cluster.sh"
            )
        }
        Err(_) => {
            eprintln!("skipped: no SLUICE_TEST_KUBECONFIG (run scripts/test-cluster.sh start)");
            None
        }
    }
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
