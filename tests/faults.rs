//! Dropped connections, as an API server restart or a load balancer makes
//! them, against the real test API server (scripts/test-cluster.sh): sluice
//! retries them, converges, and never calls them a certificate problem.
//!
//! A proxy on loopback stands in front of the API server: it terminates
//! TLS with the API server's own certificate (its IP SAN is 127.0.0.1, so a
//! kubeconfig with the same CA trusts the proxy), opens its own TLS
//! connection to the server, and copies the plaintext both ways. It reads
//! the request heads the client sends (method, path, `dryRun=All`), never
//! the answers, and fails one connection or one request on a schedule.
//!
//! The tests read the kubeconfig from SLUICE_TEST_KUBECONFIG; they are
//! ignored unless asked for (`cargo test -- --include-ignored`, as in CI).

mod common;

use common::cluster::{kubeconfig, namespace, unique};
use common::{Output, Repo};
use kube::api::{Api, DynamicObject};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

/// The longest the proxy waits for any one accept, handshake, read or
/// write: nothing in it can hang a test run.
const STEP: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// The proxy
// ---------------------------------------------------------------------------

/// How a connection is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cut {
    /// TLS close_notify, then FIN: an orderly close at the wrong time.
    Clean,
    /// FIN without close_notify.
    Fin,
    /// SO_LINGER 0, then close: RST.
    Rst,
}

/// A fault on a connection, before any request on it is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnectionFault {
    /// FIN at accept, before the TLS handshake.
    AcceptFin,
    /// RST at accept.
    AcceptRst,
    /// The TLS handshake completes, then FIN without close_notify.
    AfterHandshake,
}

/// A fault on one request, once its head and body have arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RequestFault {
    /// The request never reaches the API server.
    BeforeForward(Cut),
    /// The API server gets the whole request and carries it out; its answer
    /// never reaches the client.
    AfterForward(Cut),
}

/// Which requests a schedule looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Matching {
    /// The LIST of SparkApplications.
    List,
    /// A PATCH of a SparkApplication that is not a dry run.
    Write,
    /// Any PATCH that is not a dry run (the ApplySet parent's included).
    AnyWrite,
}

impl Matching {
    fn matches(self, request: &RequestLine) -> bool {
        match self {
            Matching::List => {
                request.method == "GET" && request.path.ends_with("/sparkapplications")
            }
            Matching::Write => request.is_write() && request.path.contains("/sparkapplications/"),
            Matching::AnyWrite => request.is_write(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Schedule {
    /// `fault` on one connection: the first one accepted after a request
    /// `after` matched (`None`: the very first); every other passes.
    Connection {
        fault: ConnectionFault,
        after: Option<Matching>,
    },
    /// `fault` on the first request `matching`; every other passes.
    Request {
        fault: RequestFault,
        matching: Matching,
    },
    /// `writes` non-dry-run PATCHes pass; at the next one the cluster goes
    /// away for good: that request and every later one is reset, and a new
    /// connection is refused (`refuse`: the port closes, as a stopped API
    /// server's does) or reset at accept (as a load balancer in front of a
    /// dead server does).
    Outage { writes: usize, refuse: bool },
}

#[derive(Clone, Debug)]
struct RequestLine {
    method: String,
    /// Without the query.
    path: String,
    dry_run: bool,
}

impl RequestLine {
    fn parse(head: &str) -> RequestLine {
        let mut parts = head.lines().next().unwrap_or_default().split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        RequestLine {
            method,
            path: path.to_owned(),
            dry_run: query.split('&').any(|p| p == "dryRun=All"),
        }
    }

    fn is_write(&self) -> bool {
        self.method == "PATCH" && !self.dry_run
    }
}

impl std::fmt::Display for RequestLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dry = if self.dry_run { " (dry run)" } else { "" };
        write!(f, "{} {}{dry}", self.method, self.path)
    }
}

/// What the proxy saw and did.
#[derive(Debug, Default)]
struct Log {
    connections: usize,
    /// Every request read from a client, in order.
    requests: Vec<RequestLine>,
    /// The requests a fault was applied to (a connection fault has none).
    faulted: Vec<RequestLine>,
    /// Faults applied.
    fired: usize,
    /// Writes (non-dry-run PATCHes) forwarded to the API server.
    written: Vec<RequestLine>,
    /// A connection fault waits for this (`Schedule::Connection::after`).
    armed: bool,
    down: bool,
    /// What the proxy could not handle (a test failure, not a fault).
    problems: Vec<String>,
    /// Accepts and requests, with milliseconds since the proxy started.
    timeline: Vec<String>,
}

enum Decision {
    Forward,
    Fault(RequestFault),
}

struct State {
    schedule: Schedule,
    /// Adds `Connection: close` to every request, so every request has a
    /// connection of its own (and a connection fault hits a request).
    one_request_per_connection: bool,
    log: Mutex<Log>,
    down: tokio::sync::Notify,
    started: std::time::Instant,
}

impl State {
    fn note(&self, log: &mut Log, what: String) {
        let ms = self.started.elapsed().as_millis();
        log.timeline.push(format!("{ms:>6} ms  {what}"));
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn on_accept(&self) -> Option<ConnectionFault> {
        let mut log = self.log();
        log.connections += 1;
        let fault = if log.down {
            Some(ConnectionFault::AcceptRst)
        } else {
            match self.schedule {
                Schedule::Connection { fault, after }
                    if log.fired == 0 && (after.is_none() || log.armed) =>
                {
                    log.fired += 1;
                    Some(fault)
                }
                _ => None,
            }
        };
        let n = log.connections;
        self.note(&mut log, format!("accept #{n}, fault {fault:?}"));
        fault
    }

    fn on_request(&self, head: &str) -> Decision {
        let request = RequestLine::parse(head);
        let mut log = self.log();
        self.note(&mut log, format!("request {request}"));
        log.requests.push(request.clone());
        let reset = Decision::Fault(RequestFault::BeforeForward(Cut::Rst));
        if log.down {
            return reset;
        }
        match self.schedule {
            Schedule::Request { fault, matching }
                if log.fired == 0 && matching.matches(&request) =>
            {
                log.fired += 1;
                log.faulted.push(request.clone());
                if matches!(fault, RequestFault::AfterForward(_)) && request.is_write() {
                    log.written.push(request);
                }
                return Decision::Fault(fault);
            }
            Schedule::Connection {
                after: Some(after), ..
            } if after.matches(&request) => log.armed = true,
            Schedule::Outage { writes, .. }
                if request.is_write() && log.written.len() >= writes =>
            {
                log.down = true;
                log.fired += 1;
                log.faulted.push(request);
                self.down.notify_one();
                return reset;
            }
            _ => {}
        }
        if request.is_write() {
            log.written.push(request);
        }
        Decision::Forward
    }

    fn problem(&self, text: String) {
        self.log().problems.push(text);
    }
}

/// TLS to the client with the API server's certificate, TLS to the server
/// with the cluster's CA.
struct Tls {
    acceptor: tokio_rustls::TlsAcceptor,
    connector: tokio_rustls::TlsConnector,
    upstream: SocketAddr,
}

impl Tls {
    fn new(cluster: &TestCluster) -> Tls {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let pki = cluster.state.join("pki");
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(pki.join("apiserver.crt"))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
        let key = PrivateKeyDer::from_pem_file(pki.join("apiserver.key")).unwrap();
        let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_file_iter(pki.join("ca.crt")).unwrap() {
            roots.add(ca.unwrap()).unwrap();
        }
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Tls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
            connector: tokio_rustls::TlsConnector::from(Arc::new(client)),
            upstream: cluster.address,
        }
    }
}

/// A fault-injecting proxy on 127.0.0.1, on a thread and runtime of its
/// own (the tests run the sluice binary synchronously). Dropping it stops
/// it: the accept loop looks at `stop` at least every 100 ms, and the
/// connections die with the runtime.
struct Proxy {
    port: u16,
    state: Arc<State>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The kubeconfig that points at the proxy.
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl Proxy {
    fn start(cluster: &TestCluster, schedule: Schedule, one_request_per_connection: bool) -> Proxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            schedule,
            one_request_per_connection,
            log: Mutex::default(),
            down: tokio::sync::Notify::new(),
            started: std::time::Instant::now(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let tls = Tls::new(cluster);
        let thread = std::thread::spawn({
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(serve(listener, tls, state, stop));
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            cluster
                .kubeconfig_text
                .replace(&cluster.server, &format!("https://127.0.0.1:{port}")),
        )
        .unwrap();
        Proxy {
            port,
            state,
            stop,
            thread: Some(thread),
            kubeconfig,
            _dir: dir,
        }
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.state.log()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    tls: Tls,
    state: Arc<State>,
    stop: Arc<AtomicBool>,
) {
    let tls = Arc::new(tls);
    let mut listener = Some(TcpListener::from_std(listener).unwrap());
    while !stop.load(Ordering::Relaxed) {
        let Some(open) = &listener else {
            // The cluster is gone: the port refuses.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        tokio::select! {
            _ = state.down.notified() => {
                if matches!(state.schedule, Schedule::Outage { refuse: true, .. }) {
                    listener = None;
                }
            }
            accepted = timeout(Duration::from_millis(100), open.accept()) => {
                if let Ok(Ok((tcp, _))) = accepted {
                    tokio::spawn(connection(tcp, Arc::clone(&tls), Arc::clone(&state)));
                }
            }
        }
    }
}

/// Closes the TCP connection with a FIN (after the client's data, so the
/// kernel never turns it into a RST) and waits, boundedly, for the client
/// to close its side.
async fn fin(mut tcp: TcpStream) {
    let _ = tcp.shutdown().await;
    drain(tcp).await;
}

async fn drain(mut tcp: TcpStream) {
    let mut sink = [0; 16 * 1024];
    let deadline = tokio::time::Instant::now() + STEP;
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, tcp.read(&mut sink)).await {
        if n == 0 {
            break;
        }
    }
}

fn rst(tcp: TcpStream) {
    let _ = socket2::SockRef::from(&tcp).set_linger(Some(Duration::ZERO));
    drop(tcp);
}

async fn cut(mut client: tokio_rustls::server::TlsStream<TcpStream>, how: Cut) {
    if how == Cut::Clean {
        let _ = timeout(STEP, client.shutdown()).await;
    }
    let (tcp, _) = client.into_inner();
    match how {
        Cut::Clean => drain(tcp).await,
        Cut::Fin => fin(tcp).await,
        Cut::Rst => rst(tcp),
    }
}

/// The first whole request in `pending`: its head and its length with the
/// body (kube sends Content-Length bodies, never chunked ones).
fn whole_request(pending: &[u8]) -> Result<Option<(String, usize)>, String> {
    let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&pending[..end + 4]).into_owned();
    let mut length = 0;
    for line in head.lines().skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(format!(
                "the proxy reads Content-Length bodies only:\n{head}"
            ));
        }
        if name.eq_ignore_ascii_case("content-length") {
            length = value
                .trim()
                .parse()
                .map_err(|_| format!("bad Content-Length:\n{head}"))?;
        }
    }
    let total = end + 4 + length;
    Ok((pending.len() >= total).then_some((head, total)))
}

enum Event {
    Client(std::io::Result<usize>),
    Server(std::io::Result<usize>),
}

async fn connection(tcp: TcpStream, tls: Arc<Tls>, state: Arc<State>) {
    let _ = tcp.set_nodelay(true);
    let fault = state.on_accept();
    match fault {
        Some(ConnectionFault::AcceptFin) => return fin(tcp).await,
        Some(ConnectionFault::AcceptRst) => return rst(tcp),
        _ => {}
    }
    let Ok(Ok(mut client)) = timeout(STEP, tls.acceptor.accept(tcp)).await else {
        return;
    };
    if fault == Some(ConnectionFault::AfterHandshake) {
        return cut(client, Cut::Fin).await;
    }
    let server = async {
        let tcp = TcpStream::connect(tls.upstream).await?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::IpAddress(tls.upstream.ip().into());
        tls.connector.connect(name, tcp).await
    };
    let mut server = match timeout(STEP, server).await {
        Ok(Ok(server)) => server,
        other => {
            state.problem(format!("cannot reach the API server: {other:?}"));
            return;
        }
    };
    let mut pending = Vec::new();
    let mut from_client = vec![0; 64 * 1024];
    let mut from_server = vec![0; 64 * 1024];
    loop {
        loop {
            let (head, length) = match whole_request(&pending) {
                Ok(Some(found)) => found,
                Ok(None) => break,
                Err(problem) => return state.problem(problem),
            };
            let mut request: Vec<u8> = pending.drain(..length).collect();
            match state.on_request(&head) {
                Decision::Forward => {
                    if state.one_request_per_connection {
                        let at = head.len() - 2;
                        request.splice(at..at, b"Connection: close\r\n".iter().copied());
                    }
                    if !matches!(timeout(STEP, server.write_all(&request)).await, Ok(Ok(())))
                        || !matches!(timeout(STEP, server.flush()).await, Ok(Ok(())))
                    {
                        return;
                    }
                }
                Decision::Fault(RequestFault::BeforeForward(how)) => return cut(client, how).await,
                Decision::Fault(RequestFault::AfterForward(how)) => {
                    let _ = timeout(STEP, server.write_all(&request)).await;
                    let _ = timeout(STEP, server.flush()).await;
                    // Once its answer starts, the server has done it.
                    if !matches!(timeout(STEP, server.read(&mut from_server)).await, Ok(Ok(n)) if n > 0)
                    {
                        state.problem(format!("no answer to the faulted request:\n{head}"));
                    }
                    return cut(client, how).await;
                }
            }
        }
        // HTTP/1.1 without pipelining: the client sends its next request
        // only after the whole answer to the last one, so whatever the
        // server sent has been relayed when a fault strikes.
        let event = timeout(STEP, async {
            tokio::select! {
                read = client.read(&mut from_client) => Event::Client(read),
                read = server.read(&mut from_server) => Event::Server(read),
            }
        })
        .await;
        match event {
            // Idle: the client has long moved on.
            Err(_) => return,
            Ok(Event::Client(Ok(0) | Err(_))) => {
                let _ = timeout(STEP, server.shutdown()).await;
                return;
            }
            Ok(Event::Client(Ok(n))) => pending.extend_from_slice(&from_client[..n]),
            Ok(Event::Server(Ok(0) | Err(_))) => return cut(client, Cut::Clean).await,
            Ok(Event::Server(Ok(n))) => {
                if !matches!(
                    timeout(STEP, client.write_all(&from_server[..n])).await,
                    Ok(Ok(()))
                ) || !matches!(timeout(STEP, client.flush()).await, Ok(Ok(())))
                {
                    return;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The test cluster and a repository deploying to it
// ---------------------------------------------------------------------------

/// The test API server, as its kubeconfig and state directory tell it.
struct TestCluster {
    kubeconfig: String,
    kubeconfig_text: String,
    /// `https://127.0.0.1:<port>`, as the kubeconfig spells it.
    server: String,
    address: SocketAddr,
    /// scripts/test-cluster.sh's state directory (the kubeconfig's).
    state: PathBuf,
}

impl TestCluster {
    fn new(kubeconfig: String) -> TestCluster {
        let kubeconfig_text = std::fs::read_to_string(&kubeconfig).unwrap();
        let server = kubeconfig_text
            .lines()
            .find_map(|l| l.trim().strip_prefix("server:"))
            .expect("a server in the kubeconfig")
            .trim()
            .to_owned();
        let address = server
            .strip_prefix("https://")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| {
                panic!("the test cluster's server is https://<ip>:<port>, not {server}")
            });
        let state = Path::new(&kubeconfig).parent().unwrap().to_owned();
        TestCluster {
            kubeconfig,
            kubeconfig_text,
            server,
            address,
            state,
        }
    }

    async fn client(&self) -> kube::Client {
        common::cluster::client(&self.kubeconfig, "admin").await
    }
}

/// A repository whose dev deploys, through context `admin`, to a fresh
/// namespace of the test cluster.
struct Env {
    cluster: TestCluster,
    repo: Repo,
    client: kube::Client,
    dev: String,
}

/// Stream `name`'s values file: main class `com.example.<Name>`, topic
/// `<name>`.
fn stream(name: &str) -> String {
    format!(
        "mainClass: com.example.{}\narguments: [--topic, {name}]\nsink: s3a://lake/{name}\n",
        capitalized(name)
    )
}

fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

impl Env {
    async fn new(kubeconfig: String, streams: &[&str]) -> Env {
        let cluster = TestCluster::new(kubeconfig);
        let client = cluster.client().await;
        let dev = unique("faults");
        namespace(&client, &dev).await;
        let files: Vec<(String, Option<String>)> = [
            (
                "values/environments/dev.yaml".to_owned(),
                Some(format!("namespace: {dev}\nkubeContext: admin\n")),
            ),
            ("values/streams/orders.yaml".to_owned(), None),
            ("values/streams/payments.yaml".to_owned(), None),
        ]
        .into_iter()
        .chain(
            streams
                .iter()
                .map(|s| (format!("values/streams/{s}.yaml"), Some(stream(s)))),
        )
        .collect();
        let files: Vec<(&str, Option<&str>)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_deref()))
            .collect();
        Env {
            cluster,
            repo: Repo::with(&files),
            client,
            dev,
        }
    }

    /// sluice straight to the API server.
    fn sluice(&self, args: &[&str]) -> Output {
        self.sluice_with(&self.cluster.kubeconfig, args)
    }

    /// sluice through `proxy`.
    fn sluice_through(&self, proxy: &Proxy, args: &[&str]) -> Output {
        self.sluice_with(proxy.kubeconfig.to_str().unwrap(), args)
    }

    /// Every wait of sluice's is bounded (connect 10 s, read 60 s, five
    /// attempts): a run that outlives a stalled read is still its own to
    /// finish, so the limit is well past one.
    fn sluice_with(&self, kubeconfig: &str, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--kubeconfig", kubeconfig, "-v"]);
        common::sluice_within(self.repo.path(), &all, &[], Duration::from_secs(150))
    }

    async fn live(&self) -> Vec<Value> {
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.client.clone(),
            &self.dev,
            &sluice::cluster::spark_application(),
        );
        let mut objects: Vec<Value> = api
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|o| serde_json::to_value(o).unwrap())
            .collect();
        objects.sort_by_key(|o| {
            o["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        });
        objects
    }
}

// ---------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Mode {
    Connection(ConnectionFault),
    Request(RequestFault),
}

const MODES: &[(&str, Mode)] = &[
    (
        "FIN at accept",
        Mode::Connection(ConnectionFault::AcceptFin),
    ),
    (
        "RST at accept",
        Mode::Connection(ConnectionFault::AcceptRst),
    ),
    (
        "TLS handshake, then FIN without close_notify",
        Mode::Connection(ConnectionFault::AfterHandshake),
    ),
    (
        "close_notify and FIN before the request is forwarded",
        Mode::Request(RequestFault::BeforeForward(Cut::Clean)),
    ),
    (
        "FIN without close_notify before the request is forwarded",
        Mode::Request(RequestFault::BeforeForward(Cut::Fin)),
    ),
    (
        "RST before the request is forwarded",
        Mode::Request(RequestFault::BeforeForward(Cut::Rst)),
    ),
    (
        "close_notify and FIN after the server carried the request out",
        Mode::Request(RequestFault::AfterForward(Cut::Clean)),
    ),
    (
        "FIN without close_notify after the server carried the request out",
        Mode::Request(RequestFault::AfterForward(Cut::Fin)),
    ),
    (
        "RST after the server carried the request out",
        Mode::Request(RequestFault::AfterForward(Cut::Rst)),
    ),
];

/// A dropped connection is not a certificate problem.
fn assert_no_tls_talk(case: &str, out: &Output) {
    let stderr = out.stderr.to_lowercase();
    assert!(
        !stderr.contains("tls") && !stderr.contains("certificate"),
        "{case}: stderr talks of TLS:\n{}",
        out.stderr
    );
}

/// The fault struck once, and (for a request fault) the request came again.
fn assert_struck_and_retried(case: &str, proxy: &Proxy, mode: Mode) {
    let log = proxy.log();
    assert!(log.problems.is_empty(), "{case}: {:?}", log.problems);
    assert_eq!(
        log.fired, 1,
        "{case}: the fault did not strike once: {log:#?}"
    );
    if let Mode::Request(_) = mode {
        let faulted = &log.faulted[0];
        let again = log
            .requests
            .iter()
            .filter(|r| {
                r.method == faulted.method && r.path == faulted.path && r.dry_run == faulted.dry_run
            })
            .count();
        assert!(again >= 2, "{case}: {faulted} was not retried: {log:#?}");
    }
}

/// Runs the case of every mode, the rest even after one fails, and says
/// how many passed.
async fn every_mode<F, Fut>(what: &str, mut case: F)
where
    F: FnMut(&'static str, Mode) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures::FutureExt;
    let mut failed = Vec::new();
    for (name, mode) in MODES {
        let outcome = std::panic::AssertUnwindSafe(case(name, *mode))
            .catch_unwind()
            .await;
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failed.push(format!("{what}, {name}: {message}"));
        }
    }
    println!(
        "faults: {} of {} {what} cases passed",
        MODES.len() - failed.len(),
        MODES.len()
    );
    assert!(failed.is_empty(), "failed:\n{}", failed.join("\n\n"));
}

/// `sluice diff` reads through one fault: the ApplySet parent's GET and
/// the LIST (a connection fault strikes the first connection, a request
/// fault the LIST).
async fn read_case(env: &Env, name: &str, mode: Mode) {
    let case = format!("diff, {name}");
    let schedule = match mode {
        Mode::Connection(fault) => Schedule::Connection { fault, after: None },
        Mode::Request(fault) => Schedule::Request {
            fault,
            matching: Matching::List,
        },
    };
    let proxy = Proxy::start(&env.cluster, schedule, false);
    let out = env.sluice_through(&proxy, &["diff", "--env", "dev", "--format", "json"]);
    assert_eq!(
        out.code,
        0,
        "{case}:\n{}{}\nthe proxy saw: {:#?}",
        out.stdout,
        out.stderr,
        *proxy.log()
    );
    assert_no_tls_talk(&case, &out);
    assert_struck_and_retried(&case, &proxy, mode);
    // What was read is the whole truth: both streams, unchanged.
    let diff: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(diff["summary"]["created"], 0, "{case}: {diff:#}");
    assert_eq!(diff["summary"]["changed"], 0, "{case}: {diff:#}");
    assert_eq!(diff["summary"]["unchanged"], 2, "{case}: {diff:#}");
    eprintln!("ok: {case} (port {})", proxy.port);
}

/// `sluice apply` creates two streams through one fault on a write that is
/// not a dry run, in a namespace of its own.
async fn write_case(kubeconfig: &str, name: &str, mode: Mode) {
    let case = format!("apply, {name}");
    let env = Env::new(kubeconfig.to_owned(), &["orders", "payments"]).await;
    // A connection fault strikes the first connection after the ApplySet
    // parent's write: a stream's write, with one connection per request.
    let (schedule, one_per_connection) = match mode {
        Mode::Connection(fault) => (
            Schedule::Connection {
                fault,
                after: Some(Matching::AnyWrite),
            },
            true,
        ),
        Mode::Request(fault) => (
            Schedule::Request {
                fault,
                matching: Matching::Write,
            },
            false,
        ),
    };
    let proxy = Proxy::start(&env.cluster, schedule, one_per_connection);
    let started = std::time::Instant::now();
    let out = env.sluice_through(&proxy, &["apply", "--env", "dev"]);
    let took = started.elapsed();
    assert_eq!(
        out.code,
        0,
        "{case}:\n{}{}\nthe proxy saw: {:#?}",
        out.stdout,
        out.stderr,
        *proxy.log()
    );
    assert!(out.stdout.contains("2 created"), "{case}:\n{}", out.stdout);
    assert_no_tls_talk(&case, &out);
    assert_struck_and_retried(&case, &proxy, mode);

    let live = env.live().await;
    let names: Vec<&str> = live
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["orders", "payments"], "{case}");
    for (object, class) in live.iter().zip(["Orders", "Payments"]) {
        assert_eq!(
            object["spec"]["mainClass"],
            format!("com.example.{class}"),
            "{case}"
        );
        assert_eq!(
            object["spec"]["arguments"],
            json!(["--topic", class.to_lowercase()]),
            "{case}"
        );
        assert_eq!(
            object["metadata"]["labels"]["sluice.dev/environment"], "dev",
            "{case}"
        );
    }

    // Nothing is left to write, whatever the fault let through.
    let again = env.sluice_through(&proxy, &["apply", "--env", "dev"]);
    assert_eq!(again.code, 0, "{case}:\n{}{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("0 created, 0 changed"),
        "{case}: the re-run wrote:\n{}",
        again.stdout
    );
    eprintln!("ok: {case} (port {}, first apply {took:.1?})", proxy.port);
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn dropped_connections_during_reads_are_retried() {
    let kc = kubeconfig();
    let env = Env::new(kc, &["orders", "payments"]).await;
    let applied = env.sluice(&["apply", "--env", "dev"]);
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    let env = &env;
    every_mode("read", |name, mode| read_case(env, name, mode)).await;
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn dropped_connections_during_writes_are_retried_and_converge() {
    let kc = kubeconfig();
    let kc = kc.as_str();
    every_mode("write", |name, mode| write_case(kc, name, mode)).await;
}

/// The API server goes away for good after three writes (the ApplySet
/// parent's and two streams'): one headline, what was written and what was
/// not, and no word of TLS.
async fn outage(env: &Env, refuse: bool) {
    let proxy = Proxy::start(&env.cluster, Schedule::Outage { writes: 3, refuse }, false);
    let out = env.sluice_through(&proxy, &["apply", "--env", "dev"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert_no_tls_talk("outage", &out);
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    let headlines: Vec<&&str> = errors
        .iter()
        .filter(|l| l.starts_with("error: lost the connection to the cluster after "))
        .collect();
    assert_eq!(headlines.len(), 1, "one headline:\n{}", out.stderr);
    assert!(
        errors.len() <= 2,
        "a couple of error lines at most:\n{}",
        out.stderr
    );

    // What the proxy let through is what the cluster has.
    let written = {
        let log = proxy.log();
        assert!(log.problems.is_empty(), "{:?}", log.problems);
        assert!(log.down, "{log:#?}");
        log.written
            .iter()
            .filter(|w| w.path.contains("/sparkapplications/"))
            .count()
    };
    assert_eq!(env.live().await.len(), written, "{}", out.stderr);
    println!(
        "faults: outage ({}) after 3 writes, {written} streams written: {}",
        if refuse { "refused" } else { "reset" },
        headlines[0]
    );
}

const SIX: [&str; 6] = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"];

/// The port refuses: every retry ends in "connection refused".
#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn an_outage_that_refuses_connections_is_one_headline() {
    let kc = kubeconfig();
    outage(&Env::new(kc, &SIX).await, true).await;
}

/// Every connection is reset at accept: every retry ends in a dropped
/// connection (`ClusterError::ConnectionLost`, which apply must count as
/// lost through `is_connection_lost()`, as it does `Unreachable`).
#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn an_outage_that_resets_connections_is_one_headline() {
    let kc = kubeconfig();
    outage(&Env::new(kc, &SIX).await, false).await;
}
