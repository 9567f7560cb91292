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
    /// The connection dropped before the answer came, on every attempt.
    #[error("lost the connection to the cluster at {server}: {detail}")]
    ConnectionLost { server: String, detail: String },
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
        "the cluster does not serve {kind} ({group}); is {operator} installed in this cluster?"
    )]
    CrdMissing {
        group: String,
        kind: String,
        /// Who serves the kind: the engine's operator, else its CRD.
        operator: String,
    },
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
    #[error(
        "{kind} ({api_version}) is cluster-scoped in this cluster: a streams repository creates objects only in its environment's namespace, so nothing was written (remove it from allowedKinds)"
    )]
    ClusterScoped { api_version: String, kind: String },
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
///
/// Retried: 429 and 5xx, a connection dropped before the whole answer
/// arrived (reset, closed with or without TLS close_notify, EOF in the
/// handshake, broken pipe), a refused connection (an API server that
/// restarts refuses for a few seconds) and any other failure of the
/// transport that is none of these. Not retried: a timeout (five more
/// would only make the job wait longer), a name that does not resolve, and
/// a TLS failure (the same certificate fails the same way again).
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
        kube::Error::HyperError(_) | kube::Error::Service(_) => match transport(err) {
            Transport::Dropped(_) | Transport::Refused | Transport::Other => Some(None),
            Transport::Timeout | Transport::Unresolved | Transport::Tls => None,
        },
        _ => None,
    }
}

/// How a request failed on the way to its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    /// The connection went away before the whole answer arrived; the
    /// request may or may not have been carried out.
    Dropped(&'static str),
    Refused,
    Timeout,
    /// No address for the server's name, or no route to it.
    Unresolved,
    /// The certificate or the handshake was refused.
    Tls,
    Other,
}

/// An error and its causes, outermost first. `io::Error::source` skips the
/// error an `io::Error` wraps (tokio-rustls wraps rustls's that way), so
/// that one comes from `get_ref`.
fn sources<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err), |e| match e.downcast_ref::<std::io::Error>() {
        Some(io) => io
            .get_ref()
            .map(|inner| inner as &(dyn std::error::Error + 'static)),
        None => e.source(),
    })
}

/// Reads the failure from the types in its source chain (kube wraps
/// hyper-util's, which wraps hyper's, rustls's or the socket's), and from
/// the text only where no type says it.
fn transport(err: &kube::Error) -> Transport {
    use std::io::ErrorKind;
    // A rustls error is a verdict on the certificate or the handshake. The
    // "peer closed connection without sending TLS close_notify" of a
    // dropped connection is not one: it is an `io::Error` (UnexpectedEof).
    if sources(err).any(|e| e.downcast_ref::<rustls::Error>().is_some()) {
        return Transport::Tls;
    }
    for e in sources(err) {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                ErrorKind::ConnectionReset => {
                    return Transport::Dropped("the connection was reset");
                }
                ErrorKind::ConnectionAborted => {
                    return Transport::Dropped("the connection was aborted");
                }
                ErrorKind::UnexpectedEof => {
                    return Transport::Dropped("the server closed the connection");
                }
                ErrorKind::BrokenPipe | ErrorKind::NotConnected => {
                    return Transport::Dropped("the connection closed while sending the request");
                }
                ErrorKind::ConnectionRefused => return Transport::Refused,
                ErrorKind::TimedOut => return Transport::Timeout,
                _ => {}
            }
        }
        if let Some(hyper) = e.downcast_ref::<hyper::Error>() {
            if hyper.is_timeout() {
                return Transport::Timeout;
            }
            if hyper.is_incomplete_message() {
                return Transport::Dropped("the connection closed before the answer was complete");
            }
            if hyper.is_closed() || hyper.is_canceled() {
                return Transport::Dropped("the connection closed");
            }
        }
    }
    let text = chain(err).to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
    if has(&[
        "connection closed",
        "connection reset",
        "broken pipe",
        "close_notify",
        "unexpected eof",
        "handshake eof",
    ]) {
        Transport::Dropped("the connection closed")
    } else if has(&["connection refused"]) {
        Transport::Refused
    } else if has(&["timed out", "timeout", "elapsed"]) {
        Transport::Timeout
    } else if has(&["dns error", "failed to lookup address", "no route to host"]) {
        Transport::Unresolved
    } else if has(&["certificate", "invalidcert", "unknownissuer"]) {
        Transport::Tls
    } else {
        Transport::Other
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

impl ClusterError {
    /// The cluster went away (or was never there): a dropped connection
    /// that retries did not bring back, a refused one, a timeout. What was
    /// written before it stays written.
    pub fn is_connection_lost(&self) -> bool {
        matches!(
            self,
            ClusterError::ConnectionLost { .. } | ClusterError::Unreachable { .. }
        )
    }
}

pub fn classify(err: kube::Error, request: &Request<'_>, server: &str) -> ClusterError {
    let status = match err {
        kube::Error::Api(status) => status,
        other => {
            let server = server.into();
            // The details of a dropped or refused connection are said in
            // sluice's words: rustls's "peer closed connection without
            // sending TLS close_notify" would read as a certificate problem.
            return match transport(&other) {
                Transport::Tls => ClusterError::Tls {
                    server,
                    detail: short(&chain(&other)),
                },
                Transport::Dropped(detail) => ClusterError::ConnectionLost {
                    server,
                    detail: detail.into(),
                },
                Transport::Refused => ClusterError::Unreachable {
                    server,
                    detail: "connection refused".into(),
                },
                Transport::Timeout | Transport::Unresolved | Transport::Other => {
                    ClusterError::Unreachable {
                        server,
                        detail: short(&chain(&other)),
                    }
                }
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
                format!(" ({})", server_text(&status.message))
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
                operator: crate::engine::Engine::of_kind(&request.resource.kind).map_or_else(
                    || format!("the CRD of {}", request.resource.kind),
                    |e| e.operator().to_owned(),
                ),
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
            message: server_text(&status.message),
        },
    }
}

/// One line per field the server named, or its message; the values it
/// quotes are masked where they may be credentials.
fn causes(status: &kube::core::Status) -> String {
    match status.details.as_ref().filter(|d| !d.causes.is_empty()) {
        Some(d) => d
            .causes
            .iter()
            .map(|c| {
                let message = crate::secret::mask_server_text(Some(&c.field), &c.message);
                format!("  {}: {message}", c.field)
            })
            .collect::<Vec<_>>()
            .join("\n"),
        None => format!("  {}", server_text(&status.message)),
    }
}

/// The server's own words, with credentials it may quote masked.
fn server_text(message: &str) -> String {
    crate::secret::mask_server_text(None, message)
}

fn short(text: &str) -> String {
    let mut t = text.to_owned();
    if t.len() > 400 {
        t.truncate(400);
        t.push('…');
    }
    t
}

#[cfg(test)]
mod tests {
    //! Real failures, as kube reports them: a kube client against small
    //! servers on loopback that misbehave in one way each.

    use super::*;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::Arc;
    use std::time::Instant;

    /// A self-signed certificate for `sluice-test.invalid` (not 127.0.0.1),
    /// valid until 2126, and its key. Test data only.
    const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBtDCCAVqgAwIBAgIUMaWUHaHAaHsOrM3etj1NZDMViAIwCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAwwTc2x1aWNlLXRlc3QuaW52YWxpZDAgFw0yNjEyMDEwODAxMTZa
GA8yMTI2MTEwNzA4MDExNlowHjEcMBoGA1UEAwwTc2x1aWNlLXRlc3QuaW52YWxp
ZDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABI9WfNuO0Y7MI6JcDaD6w10JqkVL
crI/Do8FV7I7OAGS6TbVmvpEkEbc+nlDv5bffx3BWNALMplCbiZ/OAOo+lKjdDBy
MAwGA1UdEwEB/wQCMAAwDgYDVR0PAQH/BAQDAgeAMBMGA1UdJQQMMAoGCCsGAQUF
BwMBMB4GA1UdEQQXMBWCE3NsdWljZS10ZXN0LmludmFsaWQwHQYDVR0OBBYEFIdG
xjakzdliqXkot1SY+vqNmwh4MAoGCCqGSM49BAMCA0gAMEUCIQDyB49mgQMNbLDI
NoqB9g2xVgwnJUgxOn0y69Att9NefgIgXRUPpAsSp+OnwhadSdVSXmAmAU+1cam4
t1BhZ7+ZU9Y=
-----END CERTIFICATE-----
";
    const KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg58mX7LzNqioHGyS9
ZCoiER/4tEYEj6srNJSgYBDt/wmhRANCAASPVnzbjtGOzCOiXA2g+sNdCapFS3Ky
Pw6PBVeyOzgBkuk21Zr6RJBG3Pp5Q7+W338dwVjQCzKZQm4mfzgDqPpS
-----END PRIVATE KEY-----
";

    /// What the server does with the one connection it accepts.
    #[derive(Clone, Copy)]
    enum Serve {
        /// Reads the request, then closes (FIN).
        ReadThenFin,
        /// Reads the request, then resets (RST).
        ReadThenRst,
        /// Reads the request and says nothing for two seconds.
        Silent,
        /// Answers with this status.
        Status(u16),
        /// TLS: completes the handshake, reads the request, then closes
        /// without close_notify.
        TlsThenFin,
        /// TLS: reads the ClientHello, then closes.
        HelloThenFin,
        /// TLS: presents [`CERT`] (what the client makes of it is the test).
        TlsHandshake,
    }

    fn linger_zero(tcp: &TcpStream) {
        socket2::SockRef::from(tcp)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
    }

    /// Closes our side (FIN) and waits, boundedly, for the client to close
    /// its own, so the kernel never turns the FIN into a reset.
    fn fin(mut tcp: TcpStream) {
        let _ = tcp.shutdown(std::net::Shutdown::Write);
        let mut sink = [0; 4096];
        while matches!(tcp.read(&mut sink), Ok(n) if n > 0) {}
    }

    fn read_head(stream: &mut impl Read) {
        let mut head = Vec::new();
        let mut byte = [0; 1];
        while !head.ends_with(b"\r\n\r\n") && matches!(stream.read(&mut byte), Ok(1)) {
            head.push(byte[0]);
        }
    }

    fn tls_server() -> rustls::ServerConnection {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(CERT.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(KEY.as_bytes()).unwrap(),
        )
        .unwrap();
        rustls::ServerConnection::new(Arc::new(config)).unwrap()
    }

    /// Serves one connection on a free loopback port; returns the port.
    /// Every accept and read is bounded.
    fn serve(how: Serve) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut tcp = loop {
                match listener.accept() {
                    Ok((tcp, _)) => break tcp,
                    Err(_) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(_) => return,
                }
            };
            tcp.set_nonblocking(false).unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            match how {
                Serve::ReadThenFin => {
                    read_head(&mut tcp);
                    fin(tcp);
                }
                Serve::ReadThenRst => {
                    read_head(&mut tcp);
                    linger_zero(&tcp);
                }
                Serve::Silent => {
                    read_head(&mut tcp);
                    std::thread::sleep(Duration::from_secs(2));
                }
                Serve::Status(code) => {
                    read_head(&mut tcp);
                    let body = format!(
                        r#"{{"kind":"Status","apiVersion":"v1","status":"Failure","code":{code},"message":"test"}}"#
                    );
                    let _ = write!(
                        tcp,
                        "HTTP/1.1 {code} Test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
                Serve::TlsThenFin => {
                    let mut conn = tls_server();
                    let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
                    read_head(&mut tls);
                    fin(tcp);
                }
                Serve::HelloThenFin => {
                    let _ = tcp.read(&mut [0; 4096]);
                    fin(tcp);
                }
                Serve::TlsHandshake => {
                    let mut conn = tls_server();
                    while conn.is_handshaking() && conn.complete_io(&mut tcp).is_ok() {}
                }
            }
        });
        port
    }

    /// One GET through a kube client as sluice configures it: what fails.
    /// `root`: the one CA to trust; `name`: the name to check the server's
    /// certificate for, else the URL's host.
    async fn failure_with(url: &str, root: Option<&str>, name: Option<&str>) -> kube::Error {
        let mut config = kube::Config::new(url.parse().unwrap());
        config.default_retry = false;
        config.read_timeout = Some(Duration::from_millis(500));
        config.root_cert = root.map(|pem| {
            vec![
                CertificateDer::from_pem_slice(pem.as_bytes())
                    .unwrap()
                    .to_vec(),
            ]
        });
        config.tls_server_name = name.map(str::to_owned);
        let client = kube::Client::try_from(config).unwrap();
        let resource = crate::cluster::spark_application();
        let api: kube::Api<kube::api::DynamicObject> =
            kube::Api::namespaced_with(client, "ns", &resource);
        api.get("orders").await.unwrap_err()
    }

    async fn failure(url: &str, root: Option<&str>) -> kube::Error {
        failure_with(url, root, None).await
    }

    fn classified(err: kube::Error) -> ClusterError {
        let resource = crate::cluster::spark_application();
        let request = Request {
            verb: "get",
            resource: &resource,
            namespace: "ns",
            name: Some("orders"),
        };
        classify(err, &request, "https://cluster")
    }

    /// A dropped connection: retried, and if it stays dropped, a lost
    /// connection said without a word of TLS or certificates.
    fn assert_dropped(err: kube::Error) {
        let text = chain(&err);
        assert_eq!(retry_after(&err), Some(None), "retried: {text}");
        let e = classified(err);
        assert!(
            matches!(e, ClusterError::ConnectionLost { .. }),
            "{text} -> {e:?}"
        );
        assert!(e.is_connection_lost());
        let message = e.to_string();
        assert!(!message.contains('\n'), "{message}");
        for word in ["tls", "certificate"] {
            assert!(
                !message.to_lowercase().contains(word),
                "{text} -> {message}"
            );
        }
    }

    fn assert_tls(err: kube::Error) {
        let text = chain(&err);
        assert_eq!(retry_after(&err), None, "not retried: {text}");
        let e = classified(err);
        assert!(matches!(e, ClusterError::Tls { .. }), "{text} -> {e:?}");
        assert!(!e.is_connection_lost());
        assert!(e.to_string().contains("certificate authority"), "{e}");
    }

    #[tokio::test]
    async fn closed_after_the_request_is_a_dropped_connection() {
        let port = serve(Serve::ReadThenFin);
        let err = failure(&format!("http://127.0.0.1:{port}"), None).await;
        assert!(
            matches!(&err, kube::Error::HyperError(h) if h.is_incomplete_message())
                || sources(&err).any(|e| e
                    .downcast_ref::<hyper::Error>()
                    .is_some_and(hyper::Error::is_incomplete_message)),
            "{err:?}"
        );
        assert_dropped(err);
    }

    #[tokio::test]
    async fn reset_after_the_request_is_a_dropped_connection() {
        let port = serve(Serve::ReadThenRst);
        let err = failure(&format!("http://127.0.0.1:{port}"), None).await;
        assert!(
            sources(&err).any(|e| e
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionReset)),
            "{err:?}"
        );
        assert_dropped(err);
    }

    /// The bug: rustls's "peer closed connection without sending TLS
    /// close_notify" was read as a certificate problem and not retried.
    #[tokio::test]
    async fn closed_without_close_notify_is_a_dropped_connection_not_tls() {
        let port = serve(Serve::TlsThenFin);
        let url = format!("https://127.0.0.1:{port}");
        let err = failure_with(&url, Some(CERT), Some("sluice-test.invalid")).await;
        assert!(
            chain(&err).contains("close_notify"),
            "the failure this is about: {}",
            chain(&err)
        );
        assert_dropped(err);
    }

    #[tokio::test]
    async fn eof_in_the_handshake_is_a_dropped_connection() {
        let port = serve(Serve::HelloThenFin);
        let err = failure(&format!("https://127.0.0.1:{port}"), Some(CERT)).await;
        assert_dropped(err);
    }

    #[tokio::test]
    async fn a_refused_connection_is_retried_then_unreachable() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = failure(&format!("http://127.0.0.1:{port}"), None).await;
        assert_eq!(retry_after(&err), Some(None), "{}", chain(&err));
        let e = classified(err);
        assert_eq!(
            e.to_string(),
            "cannot reach the cluster at https://cluster: connection refused"
        );
        assert!(e.is_connection_lost());
    }

    #[tokio::test]
    async fn a_timeout_is_not_retried() {
        let port = serve(Serve::Silent);
        let err = failure(&format!("http://127.0.0.1:{port}"), None).await;
        assert_eq!(retry_after(&err), None, "{}", chain(&err));
        assert!(matches!(classified(err), ClusterError::Unreachable { .. }));
    }

    #[tokio::test]
    async fn an_unknown_issuer_is_tls_and_not_retried() {
        let port = serve(Serve::TlsHandshake);
        // The client trusts another CA, and checks the certificate's own
        // name: the issuer is the only thing wrong.
        let other = include_str!("../../tests/fixtures/other-ca.pem");
        let url = format!("https://127.0.0.1:{port}");
        let err = failure_with(&url, Some(other), Some("sluice-test.invalid")).await;
        assert!(
            sources(&err).any(|e| matches!(
                e.downcast_ref::<rustls::Error>(),
                Some(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::UnknownIssuer
                ))
            )),
            "{err:?}"
        );
        assert_tls(err);
    }

    #[tokio::test]
    async fn a_certificate_for_another_name_is_tls() {
        let port = serve(Serve::TlsHandshake);
        let err = failure(&format!("https://127.0.0.1:{port}"), Some(CERT)).await;
        assert!(
            sources(&err).any(|e| matches!(
                e.downcast_ref::<rustls::Error>(),
                Some(rustls::Error::InvalidCertificate(_))
            )),
            "{err:?}"
        );
        assert_tls(err);
    }

    #[tokio::test]
    async fn server_errors_are_retried_client_errors_not() {
        let port = serve(Serve::Status(503));
        let err = failure(&format!("http://127.0.0.1:{port}"), None).await;
        assert_eq!(retry_after(&err), Some(None));
        let port = serve(Serve::Status(404));
        let err = failure(&format!("http://127.0.0.1:{port}"), None).await;
        assert_eq!(retry_after(&err), None);
        assert!(!classified(err).is_connection_lost());
    }

    /// The shapes no server here produces: rustls's verdict wrapped the
    /// way tokio-rustls wraps it, and an EOF whose text says "TLS".
    #[test]
    fn wrapped_errors_are_found_in_the_chain() {
        let verdict = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::Expired),
        );
        assert_tls(kube::Error::Service(Box::new(verdict)));
        let eof = std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "peer closed connection without sending TLS close_notify",
        );
        assert_dropped(kube::Error::Service(Box::new(eof)));
    }

    /// A 422 quotes the values it refused; those of credentials never
    /// reach the terminal, the others (a memory size) still help.
    #[test]
    fn causes_of_a_422_hide_credentials() {
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 422,
            "reason": "Invalid",
            "message": "SparkApplication.sparkoperator.k8s.io \"orders\" is invalid: [spec.driver.env[0].value: Invalid value: \"S3CR3T-1\": too long, spec.executor.memory: Invalid value: \"4Gi\": bad format]",
            "details": {"name": "orders", "kind": "SparkApplication", "causes": [
                {"reason": "FieldValueInvalid", "field": "spec.driver.env[0].value",
                 "message": "Invalid value: \"S3CR3T-1\": too long"},
                {"reason": "FieldValueInvalid", "field": "spec.sparkConf[spark.datasource.password]",
                 "message": "Invalid value: \"S3CR3T-2\": not allowed"},
                {"reason": "FieldValueInvalid", "field": "spec.arguments[3]",
                 "message": "Invalid value: \"S3CR3T-3\": bad"},
                {"reason": "FieldValueInvalid", "field": "spec.deps.repositories[0]",
                 "message": "Invalid value: \"https://u:S3CR3T-4@repo.example.com\": bad"},
                {"reason": "FieldValueInvalid", "field": "spec.executor.memory",
                 "message": "Invalid value: \"4Gi\": bad format"}
            ]}
        }))
        .unwrap();
        let shown = causes(&status);
        assert!(!shown.contains("S3CR3T"), "{shown}");
        assert!(
            shown.contains("spec.driver.env[0].value: Invalid value: \"****\": too long"),
            "{shown}"
        );
        assert!(
            shown.contains("spec.executor.memory: Invalid value: \"4Gi\": bad format"),
            "{shown}"
        );
        let mut without_causes = status.clone();
        without_causes.details = None;
        let shown = causes(&without_causes);
        assert!(
            !shown.contains("S3CR3T") && shown.contains("\"4Gi\""),
            "{shown}"
        );
    }
}
