//! What the cluster said, as a user should read it.

use kube::api::ApiResource;
use std::time::Duration;

/// The request a failure belongs to.
pub struct Request<'a> {
    pub verb: &'a str,
    pub resource: &'a ApiResource,
    pub namespace: &'a str,
    pub name: Option<&'a str>,
}

impl Request<'_> {
    fn object(&self) -> String {
        match self.name {
            Some(name) => format!(
                "{} `{name}` in namespace `{}`",
                self.resource.kind, self.namespace
            ),
            None => format!("{} in namespace `{}`", self.resource.plural, self.namespace),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{0}")]
    Config(String),
    #[error("cannot reach the cluster at {server}: {detail}")]
    Unreachable { server: String, detail: String },
    #[error(
        "TLS failure talking to {server}: {detail} (is the kubeconfig's certificate authority right for this server?)"
    )]
    Tls { server: String, detail: String },
    #[error(
        "the cluster at {server} did not accept the credentials (401 Unauthorized): the token or certificate is missing, wrong or expired"
    )]
    Unauthorized { server: String },
    #[error(
        "forbidden (403): the credentials may not {verb} {resource} in namespace `{namespace}`{detail}"
    )]
    Forbidden {
        verb: String,
        resource: String,
        namespace: String,
        detail: String,
    },
    #[error(
        "the cluster does not serve {kind} ({group}); is spark-operator installed in this cluster?"
    )]
    CrdMissing { group: String, kind: String },
    #[error(
        "namespace `{0}` does not exist in this cluster: create it first (sluice does not create namespaces)"
    )]
    NamespaceMissing(String),
    #[error("{object} was not found")]
    NotFound { object: String },
    #[error("the API server rejected {object} (422 Invalid):\n{fields}")]
    Invalid { object: String, fields: String },
    #[error(
        "{object} has fields another manager owns (409 Conflict):\n{fields}\nrerun with --force-conflicts to take them over"
    )]
    Conflict { object: String, fields: String },
    #[error(
        "{object} belongs to environment `{owner}`, not `{environment}`: two environments must not deploy the same object (do they share a namespace?)"
    )]
    Owned {
        object: String,
        owner: String,
        environment: String,
    },
    #[error("the cluster does not know {kind} ({api_version})")]
    UnknownKind { api_version: String, kind: String },
    #[error("unexpected answer from the API server: {0}")]
    Decode(String),
    #[error("{verb} {object} failed: {code} {message}")]
    Api {
        verb: String,
        object: String,
        code: u16,
        message: String,
    },
}

/// Whether a failure is worth retrying, and after how long the server
/// asked (`Some(None)`: retry after the usual backoff).
pub fn retry_after(err: &kube::Error) -> Option<Option<Duration>> {
    match err {
        kube::Error::Api(status) if matches!(status.code, 429 | 500 | 502 | 503 | 504) => Some(
            status
                .details
                .as_ref()
                .map(|d| d.retry_after_seconds)
                .filter(|s| *s > 0)
                .map(|s| Duration::from_secs(u64::from(s))),
        ),
        // A dropped connection is retried; a timeout is not (five more
        // timeouts would only make the job wait longer).
        kube::Error::HyperError(_) | kube::Error::Service(_)
            if !is_tls(err) && !is_refused(err) && !is_timeout(err) =>
        {
            Some(None)
        }
        _ => None,
    }
}

fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn is_tls(err: &kube::Error) -> bool {
    let text = chain(err).to_lowercase();
    text.contains("certificate") || text.contains("tls") || text.contains("invalidcert")
}

fn is_timeout(err: &kube::Error) -> bool {
    let text = chain(err).to_lowercase();
    text.contains("timed out") || text.contains("timeout") || text.contains("elapsed")
}

fn is_refused(err: &kube::Error) -> bool {
    let text = chain(err).to_lowercase();
    text.contains("connection refused")
        || text.contains("dns error")
        || text.contains("no route to host")
}

pub fn classify(err: kube::Error, request: &Request<'_>, server: &str) -> ClusterError {
    let status = match err {
        kube::Error::Api(status) => status,
        other if is_tls(&other) => {
            return ClusterError::Tls {
                server: server.into(),
                detail: short(&chain(&other)),
            };
        }
        other => {
            return ClusterError::Unreachable {
                server: server.into(),
                detail: short(&chain(&other)),
            };
        }
    };
    let details = status.details.as_ref();
    match status.code {
        401 => ClusterError::Unauthorized {
            server: server.into(),
        },
        403 => ClusterError::Forbidden {
            verb: request
                .verb
                .replace(" (dry run)", "")
                .replace("apply", "patch"),
            resource: format!(
                "{}{}",
                request.resource.plural,
                if request.resource.group.is_empty() {
                    String::new()
                } else {
                    format!(".{}", request.resource.group)
                }
            ),
            namespace: request.namespace.into(),
            detail: if status.message.is_empty() {
                String::new()
            } else {
                format!(" ({})", status.message)
            },
        },
        404 if details.is_some_and(|d| d.kind == "namespaces") => {
            ClusterError::NamespaceMissing(request.namespace.into())
        }
        404 if request.name.is_none()
            || status
                .message
                .contains("the server could not find the requested resource") =>
        {
            ClusterError::CrdMissing {
                group: request.resource.group.clone(),
                kind: request.resource.kind.clone(),
            }
        }
        404 => ClusterError::NotFound {
            object: request.object(),
        },
        422 => ClusterError::Invalid {
            object: request.object(),
            fields: causes(&status),
        },
        409 if request.verb.starts_with("apply") => ClusterError::Conflict {
            object: request.object(),
            fields: causes(&status),
        },
        code => ClusterError::Api {
            verb: request.verb.into(),
            object: request.object(),
            code,
            message: status.message.clone(),
        },
    }
}

/// One line per field the server named, or its message.
fn causes(status: &kube::core::Status) -> String {
    match status.details.as_ref().filter(|d| !d.causes.is_empty()) {
        Some(d) => d
            .causes
            .iter()
            .map(|c| format!("  {}: {}", c.field, c.message))
            .collect::<Vec<_>>()
            .join("\n"),
        None => format!("  {}", status.message),
    }
}

fn short(text: &str) -> String {
    let mut t = text.to_owned();
    if t.len() > 400 {
        t.truncate(400);
        t.push('…');
    }
    t
}
