//! Shared helpers: build a small streams repository in a temporary
//! directory and run the real `sluice` binary against it.

#![allow(dead_code)]

pub mod argocd;
pub mod cluster;

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A minimal valid repository: two environments, two streams.
pub const BASE: &[(&str, &str)] = &[
    (
        "values/common.yaml",
        "spark:\n  version: \"3.5.1\"\n  image: registry.example.com/spark:1.0.0\napplicationFile: local:///opt/app.jar\nrestartPolicy: Always\ndriver:\n  cores: 1\n  coreLimit: \"1\"\n  memory: 2g\nexecutor:\n  cores: 2\n  coreLimit: \"2\"\n  instances: 2\n  memory: 4g\n",
    ),
    ("values/environments/dev.yaml", "namespace: streams-dev\n"),
    (
        "values/environments/prod.yaml",
        "namespace: streams-prod\nprotected: true\n",
    ),
    (
        "values/streams/orders.yaml",
        "mainClass: com.example.Orders\narguments: [--topic, orders]\n",
    ),
    (
        "values/streams/payments.yaml",
        "mainClass: com.example.Payments\n",
    ),
];

/// An upstream CRD from ../shared/crds, as a strict schema: a field it
/// does not define is an error (the API server would prune it). The tests
/// that use it are ignored when ../shared is absent (see build.rs).
pub fn upstream_oracle(file: &str, version: &str) -> jsonschema::Validator {
    let path = project_root().join("../shared/crds").join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the upstream CRD at {}: {e}", path.display()));
    let crd = sluice::crd::from_crd(&text, version).expect("the upstream CRD converts");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(&crd.schema)
        .expect("compiles")
}

/// `object` passes `validator` (an [`upstream_oracle`]), or every error is shown.
pub fn assert_passes(validator: &jsonschema::Validator, object: &serde_json::Value) {
    let errors: Vec<String> = validator
        .iter_errors(object)
        .map(|e| format!("{}: {e}", e.instance_path().as_str()))
        .collect();
    assert!(
        errors.is_empty(),
        "{} {} fails the upstream CRD strictly:\n{}",
        object["kind"],
        object["metadata"]["name"],
        errors.join("\n")
    );
}

pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    /// The base repository with `files` written over it (`None` deletes).
    pub fn with(files: &[(&str, Option<&str>)]) -> Repo {
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, text) in BASE {
            write(dir.path(), path, text.as_bytes());
        }
        let repo = Repo { dir };
        for (path, text) in files {
            match text {
                Some(text) => repo.write(path, text.as_bytes()),
                None => {
                    let _ = std::fs::remove_file(repo.path().join(path));
                }
            }
        }
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, path: &str, bytes: &[u8]) {
        write(self.path(), path, bytes);
    }

    /// `sluice -C <repo> --color never <args>`, with a hang guard.
    pub fn sluice(&self, args: &[&str]) -> Output {
        sluice_in(self.path(), args)
    }
}

fn write(root: &Path, path: &str, bytes: &[u8]) {
    let full = root.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, bytes).unwrap();
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn sluice_in(dir: &Path, args: &[&str]) -> Output {
    sluice_with_env(dir, args, &[])
}

/// As [`sluice_in`], with these environment variables set.
pub fn sluice_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    sluice_within(dir, args, env, Duration::from_secs(20))
}

/// As [`sluice_with_env`], killed after `limit` (its code is then -1 and
/// its stderr says so).
pub fn sluice_within(dir: &Path, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Output {
    let started = std::time::Instant::now();
    let out = Command::cargo_bin("sluice")
        .unwrap()
        .envs(env.iter().copied())
        .arg("-C")
        .arg(dir)
        .args(["--color", "never"])
        .args(args)
        .env_remove("CI_MERGE_REQUEST_DIFF_BASE_SHA")
        .timeout(limit)
        .output()
        .expect("sluice runs");
    let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.code().is_none() {
        stderr.push_str(&format!(
            "\n[test] sluice was killed ({}) after {:.1} s\n",
            out.status,
            started.elapsed().as_secs_f64()
        ));
    }
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    }
}

/// The repository root (for the example streams repository in `values/`).
/// The objects of `render --env ENV --format json` (which must succeed).
pub fn rendered(dir: &Path, env: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["render", "--env", env, "--format", "json"];
    args.extend_from_slice(extra);
    let out = sluice_in(dir, &args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    list["items"].as_array().unwrap().clone()
}

/// The findings with `code` in `lint --format json` of `repo` with `args`.
pub fn findings(repo: &Repo, args: &[&str], code: &str) -> Vec<serde_json::Value> {
    let mut all = vec!["lint", "--format", "json"];
    all.extend_from_slice(args);
    let out = repo.sluice(&all);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", out.stdout, out.stderr));
    doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == code)
        .cloned()
        .collect()
}

pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs git in `dir` (as a fixed test identity); returns its stdout.
pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The added and removed lines of a unified diff (not its `+++`/`---`
/// headers).
pub fn changed_lines(diff: &str) -> Vec<&str> {
    diff.lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect()
}
