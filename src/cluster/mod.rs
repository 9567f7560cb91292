//! Edge: the Kubernetes API, through kube-rs. The only module that talks
//! to a cluster. Every request is counted (for `-v` and the benchmark),
//! transient failures are retried with backoff, and every failure becomes a
//! [`ClusterError`] that says what was refused and what to do.

pub mod error;

pub use error::ClusterError;

use crate::plan::FIELD_MANAGER;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How to reach the cluster, as kubectl finds it: `--kubeconfig`, else
/// `KUBECONFIG` (several files merged), else `~/.kube/config`, else the
/// in-cluster service account; `--context` picks a context.
#[derive(Clone, Debug, Default)]
pub struct ClusterOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

pub struct Cluster {
    client: kube::Client,
    /// The context in use (`in-cluster` for a service account).
    pub context: String,
    pub server: String,
    requests: Arc<AtomicUsize>,
}

/// Error texts can carry what an exec credential plugin printed (tokens
/// included): hide anything that looks like one.
pub fn redact_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.to_ascii_lowercase().find("token") {
        let (head, tail) = rest.split_at(i + "token".len());
        out.push_str(head);
        // Skip to the value after `":` / `:` / `=` and hide it.
        let value_start = tail
            .find(|c: char| !matches!(c, '"' | '\'' | ':' | '=' | ' '))
            .unwrap_or(tail.len());
        let separator = &tail[..value_start];
        if separator.contains([':', '=']) {
            out.push_str(separator);
            let value_end = tail[value_start..]
                .find(|c: char| matches!(c, '"' | '\'' | ',' | '}' | ' ' | '\n'))
                .map_or(tail.len(), |j| value_start + j);
            out.push_str("<hidden>");
            rest = &tail[value_end..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// The SparkApplication resource (no discovery needed).
pub fn spark_application() -> ApiResource {
    crate::engine::Engine::Spark.resource()
}

/// The resource of an `apiVersion` + `kind`: built in for the kinds
/// templates commonly render, else discovered.
pub fn known_resource(api_version: &str, kind: &str) -> Option<ApiResource> {
    if let Some(engine) = crate::engine::Engine::of_kind(kind)
        && engine.api_version() == api_version
    {
        return Some(engine.resource());
    }
    let plural = match (api_version, kind) {
        ("v1", "ConfigMap") => "configmaps",
        ("v1", "Secret") => "secrets",
        ("v1", "Service") => "services",
        ("v1", "ServiceAccount") => "serviceaccounts",
        ("v1", "PersistentVolumeClaim") => "persistentvolumeclaims",
        ("monitoring.coreos.com/v1", "PodMonitor") => "podmonitors",
        ("monitoring.coreos.com/v1", "ServiceMonitor") => "servicemonitors",
        ("policy/v1", "PodDisruptionBudget") => "poddisruptionbudgets",
        _ => return None,
    };
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    Some(ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: api_version.into(),
        kind: kind.into(),
        plural: plural.into(),
    })
}

impl Cluster {
    pub async fn connect(options: &ClusterOptions) -> Result<Cluster, ClusterError> {
        let from_file = match &options.kubeconfig {
            Some(path) => Some(Kubeconfig::read_from(path).map_err(|e| {
                ClusterError::Config(format!(
                    "cannot read the kubeconfig `{}`: {e}",
                    path.display()
                ))
            })?),
            None => match Kubeconfig::read() {
                Ok(k) => Some(k),
                // An explicit KUBECONFIG that cannot be read is an error,
                // never a reason to fall back to the pod's own cluster.
                Err(e) if std::env::var_os("KUBECONFIG").is_some() => {
                    return Err(ClusterError::Config(format!(
                        "cannot read KUBECONFIG: {}",
                        redact_tokens(&e.to_string())
                    )));
                }
                Err(e) if std::env::var_os("KUBERNETES_SERVICE_HOST").is_none() => {
                    return Err(ClusterError::Config(format!(
                        "no kubeconfig found ({})",
                        redact_tokens(&e.to_string())
                    )));
                }
                Err(_) => None,
            },
        };
        let (config, context) = match from_file {
            Some(kubeconfig) => {
                let context = options
                    .context
                    .clone()
                    .or_else(|| kubeconfig.current_context.clone())
                    .ok_or_else(|| {
                        ClusterError::Config(
                            "the kubeconfig has no current context; pass --context".into(),
                        )
                    })?;
                if !kubeconfig.contexts.iter().any(|c| c.name == context) {
                    let known: Vec<&str> = kubeconfig
                        .contexts
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect();
                    return Err(ClusterError::Config(format!(
                        "no context `{context}` in the kubeconfig; its contexts are: {}",
                        known.join(", ")
                    )));
                }
                let opts = KubeConfigOptions {
                    context: Some(context.clone()),
                    ..Default::default()
                };
                let config = kube::Config::from_custom_kubeconfig(kubeconfig, &opts)
                    .await
                    .map_err(|e| {
                        ClusterError::Config(format!(
                            "cannot use context `{context}`: {}",
                            redact_tokens(&e.to_string())
                        ))
                    })?;
                (config, context)
            }
            None => {
                let config = kube::Config::incluster().map_err(|e| {
                    ClusterError::Config(format!("cannot use the in-cluster service account: {e}"))
                })?;
                (config, "in-cluster".to_owned())
            }
        };
        // sluice retries itself (see `call`): every attempt is counted, and
        // the server's retry-after is honoured from the Status body too.
        let mut config = config;
        config.default_retry = false;
        // A server that accepts connections but never answers must not keep
        // a deploy job waiting for minutes.
        config.connect_timeout = Some(Duration::from_secs(10));
        config.read_timeout = Some(Duration::from_secs(60));
        let server = config.cluster_url.to_string();
        let client = kube::Client::try_from(config).map_err(|e| {
            ClusterError::Config(format!("cannot build a client for `{server}`: {e}"))
        })?;
        Ok(Cluster {
            client,
            context,
            server,
            requests: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// API requests sent so far (retries included).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    fn api(&self, resource: &ApiResource, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), namespace, resource)
    }

    /// Runs one request with retries on 429, 5xx and dropped connections:
    /// up to 5 attempts, backing off 200 ms, 400 ms, ... (or as long as the
    /// server's Retry-After asks, up to 10 s).
    async fn call<T, F, Fut>(&self, what: &error::Request<'_>, mut f: F) -> Result<T, ClusterError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, kube::Error>>,
    {
        let mut delay = Duration::from_millis(200);
        for attempt in 1.. {
            self.requests.fetch_add(1, Ordering::Relaxed);
            match f().await {
                Ok(v) => return Ok(v),
                Err(e) => match error::retry_after(&e) {
                    Some(wait) if attempt < 5 => {
                        tokio::time::sleep(wait.unwrap_or(delay).min(Duration::from_secs(10)))
                            .await;
                        delay *= 2;
                    }
                    _ => return Err(error::classify(e, what, &self.server)),
                },
            }
        }
        unreachable!()
    }

    /// Every object of a resource in a namespace.
    pub async fn list(
        &self,
        resource: &ApiResource,
        namespace: &str,
    ) -> Result<Vec<Value>, ClusterError> {
        self.list_with(resource, namespace, &ListParams::default())
            .await
    }

    /// The objects of a resource in a namespace that match a label
    /// selector (`key=value,...`).
    pub async fn list_selected(
        &self,
        resource: &ApiResource,
        namespace: &str,
        selector: &str,
    ) -> Result<Vec<Value>, ClusterError> {
        self.list_with(resource, namespace, &ListParams::default().labels(selector))
            .await
    }

    async fn list_with(
        &self,
        resource: &ApiResource,
        namespace: &str,
        params: &ListParams,
    ) -> Result<Vec<Value>, ClusterError> {
        let api = self.api(resource, namespace);
        let what = error::Request {
            verb: "list",
            resource,
            namespace,
            name: None,
        };
        let list = self.call(&what, || api.list(params)).await?;
        list.items
            .into_iter()
            .map(|o| serde_json::to_value(o).map_err(|e| ClusterError::Decode(e.to_string())))
            .collect()
    }

    /// A dry-run create (POST): whether the server would create `object`
    /// now. With `metadata.generateName` and no name, no existing object
    /// can be mistaken for it.
    pub async fn create_dry_run(
        &self,
        resource: &ApiResource,
        namespace: &str,
        object: &Value,
    ) -> Result<(), ClusterError> {
        let api = self.api(resource, namespace);
        let what = error::Request {
            verb: "create (dry run)",
            resource,
            namespace,
            name: None,
        };
        let object: kube::api::DynamicObject = serde_json::from_value(object.clone())
            .map_err(|e| ClusterError::Decode(e.to_string()))?;
        let params = kube::api::PostParams {
            dry_run: true,
            ..Default::default()
        };
        self.call(&what, || api.create(&params, &object)).await?;
        Ok(())
    }

    pub async fn get(
        &self,
        resource: &ApiResource,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, ClusterError> {
        let api = self.api(resource, namespace);
        let what = error::Request {
            verb: "get",
            resource,
            namespace,
            name: Some(name),
        };
        let found = self.call(&what, || api.get_opt(name)).await?;
        found
            .map(|o| serde_json::to_value(o).map_err(|e| ClusterError::Decode(e.to_string())))
            .transpose()
    }

    /// Server-side apply with field manager `sluice`.
    pub async fn apply(
        &self,
        resource: &ApiResource,
        namespace: &str,
        object: &Value,
        force: bool,
        dry_run: bool,
    ) -> Result<Value, ClusterError> {
        self.apply_as(FIELD_MANAGER, resource, namespace, object, force, dry_run)
            .await
    }

    /// Server-side apply with another field manager: the fields `object`
    /// names become that manager's, and `sluice`'s own stay as they are.
    pub async fn apply_as(
        &self,
        manager: &str,
        resource: &ApiResource,
        namespace: &str,
        object: &Value,
        force: bool,
        dry_run: bool,
    ) -> Result<Value, ClusterError> {
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let api = self.api(resource, namespace);
        let mut params = PatchParams::apply(manager);
        if force {
            params = params.force();
        }
        if dry_run {
            params = params.dry_run();
        }
        let what = error::Request {
            verb: if dry_run { "apply (dry run)" } else { "apply" },
            resource,
            namespace,
            name: Some(name),
        };
        let patch = Patch::Apply(object);
        let applied = self
            .call(&what, || api.patch(name, &params, &patch))
            .await?;
        serde_json::to_value(applied).map_err(|e| ClusterError::Decode(e.to_string()))
    }

    /// Deletes an object, only if it is still the one the plan saw
    /// (`precondition`: uid and resourceVersion). Gone already is fine.
    pub async fn delete(
        &self,
        resource: &ApiResource,
        namespace: &str,
        name: &str,
        precondition: &crate::plan::Precondition,
        dry_run: bool,
    ) -> Result<(), ClusterError> {
        let api = self.api(resource, namespace);
        let what = error::Request {
            verb: if dry_run {
                "delete (dry run)"
            } else {
                "delete"
            },
            resource,
            namespace,
            name: Some(name),
        };
        // Background propagation: the object goes now, its dependents after.
        let mut params = DeleteParams::background();
        params.dry_run = dry_run;
        params.preconditions = Some(kube::api::Preconditions {
            uid: precondition.uid.clone(),
            resource_version: precondition.resource_version.clone(),
        });
        match self.call(&what, || api.delete(name, &params)).await {
            Ok(_) | Err(ClusterError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The uid of the `kube-system` namespace: an identity of the cluster
    /// that survives renamed contexts and moved URLs.
    pub async fn identity(&self) -> Result<String, ClusterError> {
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        let resource = ApiResource::erase::<k8s_openapi::api::core::v1::Namespace>(&());
        let what = error::Request {
            verb: "get",
            resource: &resource,
            namespace: "",
            name: Some("kube-system"),
        };
        let found = self.call(&what, || api.get_opt("kube-system")).await?;
        Ok(found.and_then(|n| n.metadata.uid).unwrap_or_default())
    }

    /// The resource of a kind the templates render, discovering it when it
    /// is not one sluice knows.
    pub async fn resource(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<ApiResource, ClusterError> {
        if let Some(r) = known_resource(api_version, kind) {
            return Ok(r);
        }
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
        self.requests.fetch_add(1, Ordering::Relaxed);
        let (resource, capabilities) = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .map_err(|_| ClusterError::UnknownKind {
                api_version: api_version.into(),
                kind: kind.into(),
            })?;
        // The cluster's word on scope: a kind an environment allowed that
        // turns out cluster-scoped is never written.
        if capabilities.scope == kube::discovery::Scope::Cluster {
            return Err(ClusterError::ClusterScoped {
                api_version: api_version.into(),
                kind: kind.into(),
            });
        }
        Ok(resource)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_in_error_texts_are_hidden() {
        let text = r#"exec plugin failed: {"kind":"ExecCredential","status":{"token":"SUPERSECRET-123"}} token=abc, id_token: xyz"#;
        let redacted = super::redact_tokens(text);
        assert!(
            !redacted.contains("SUPERSECRET")
                && !redacted.contains("abc")
                && !redacted.contains("xyz"),
            "{redacted}"
        );
        assert!(redacted.contains("exec plugin failed"));
    }
}
