//! Transient API failures (429 with a retry-after, 503) are retried with
//! backoff. A real API server cannot be made to fail on demand, so this
//! uses a minimal HTTP server on loopback that fails each request once
//! before answering it.

mod common;

use common::Repo;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

type Seen = Arc<Mutex<HashMap<String, usize>>>;

fn respond(stream: &mut std::net::TcpStream, code: u16, reason: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn serve(listener: TcpListener, seen: Seen) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).is_err() {
            continue;
        }
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        let mut parts = request_line.split_whitespace();
        let (method, target) = (
            parts.next().unwrap_or("").to_owned(),
            parts.next().unwrap_or("").to_owned(),
        );
        let path = target.split('?').next().unwrap_or("").to_owned();
        let key = format!("{method} {path}");
        let n = {
            let mut seen = seen.lock().unwrap();
            let n = seen.entry(key).or_default();
            *n += 1;
            *n
        };
        if n == 1 {
            // The first try of every request fails: 429 with a retry-after
            // for reads, 503 for writes.
            if method == "GET" {
                respond(
                    &mut stream,
                    429,
                    "Too Many Requests",
                    r#"{"kind":"Status","apiVersion":"v1","status":"Failure","code":429,"reason":"TooManyRequests","message":"slow down","details":{"retryAfterSeconds":1}}"#,
                );
            } else {
                respond(
                    &mut stream,
                    503,
                    "Service Unavailable",
                    r#"{"kind":"Status","apiVersion":"v1","status":"Failure","code":503,"message":"overloaded"}"#,
                );
            }
            continue;
        }
        match method.as_str() {
            "GET" if path.ends_with("/configmaps/sluice-applyset-dev") => respond(
                &mut stream,
                404,
                "Not Found",
                r#"{"kind":"Status","apiVersion":"v1","status":"Failure","code":404,"reason":"NotFound","message":"not found","details":{"name":"sluice-applyset-dev","kind":"configmaps"}}"#,
            ),
            "GET" => respond(
                &mut stream,
                200,
                "OK",
                r#"{"apiVersion":"sparkoperator.k8s.io/v1beta2","kind":"SparkApplicationList","metadata":{"resourceVersion":"1"},"items":[]}"#,
            ),
            "PATCH" => respond(&mut stream, 200, "OK", &String::from_utf8_lossy(&body)),
            _ => respond(&mut stream, 405, "Method Not Allowed", "{}"),
        }
    }
}

#[test]
fn transient_failures_are_retried_with_backoff() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let server_seen = Arc::clone(&seen);
    std::thread::spawn(move || serve(listener, server_seen));

    let repo = Repo::with(&[("values/environments/dev.yaml", Some("namespace: flaky\n"))]);
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: flaky\n  cluster:\n    server: http://127.0.0.1:{port}\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: flaky\n  context: {{cluster: flaky, user: u}}\ncurrent-context: flaky\n"
    );
    repo.write("kubeconfig", kubeconfig.as_bytes());
    let started = std::time::Instant::now();
    let out = repo.sluice(&[
        "diff",
        "--env",
        "dev",
        "--kubeconfig",
        repo.path().join("kubeconfig").to_str().unwrap(),
        "-v",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("2 created"), "{}", out.stdout);
    let seen = seen.lock().unwrap();
    // Every request was answered on its second try.
    assert!(seen.values().all(|n| *n == 2), "{seen:?}");
    assert_eq!(
        seen.len(),
        4,
        "the parent, the list, two dry runs: {seen:?}"
    );
    // The server asked for 1 s before retrying the reads.
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("diff: 8 API requests"),
        "{}",
        out.stderr
    );
}
