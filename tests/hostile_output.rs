//! Input written to break the output: kinds that are paths, kinds that
//! differ only in case, an output directory inside the repository, runs
//! killed mid-write, control characters in values and file names, hidden
//! files, broken files behind `--stream`. Each case gets the documented exit
//! code, a diagnostic that names the file, nothing written outside the
//! output directory, and an answer within 2 s.

mod common;

use common::{Output, Repo};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Runs sluice in `repo` and checks it answered in time.
fn timed(repo: &Repo, args: &[&str]) -> Output {
    let started = Instant::now();
    let out = repo.sluice(args);
    assert_timely(started, args);
    out
}

fn assert_timely(started: Instant, args: &[&str]) {
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "sluice {args:?} took {took:?}"
    );
}

/// `sluice` run from `cwd` (for relative `--output-dir`s), with `-C .`.
fn sluice_from(cwd: &Path, args: &[&str]) -> Output {
    let started = Instant::now();
    let out = assert_cmd::Command::cargo_bin("sluice")
        .unwrap()
        .current_dir(cwd)
        .args(["-C", ".", "--color", "never"])
        .args(args)
        .timeout(Duration::from_secs(20))
        .output()
        .expect("sluice runs");
    assert_timely(started, args);
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Every file below `dir` (relative, sorted), symlinks not followed.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(dir.join(&rel)) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            let rel = rel.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                stack.push(rel.clone());
            }
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

/// The characters a terminal acts on, which no output may carry raw.
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}') && c != '\n' && c != '\t'
        })
        .collect()
}

/// Parses `xml` completely (every attribute and text unescaped) and
/// checks that it holds only characters XML 1.0 allows.
fn assert_valid_xml(xml: &str) {
    use quick_xml::events::Event;
    let illegal: Vec<char> = xml
        .chars()
        .filter(|&c| {
            !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        })
        .collect();
    assert!(
        illegal.is_empty(),
        "characters XML 1.0 forbids: {illegal:?}\n{xml}"
    );
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut depth = 0i32;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) => {
                depth += 1;
                for a in e.attributes() {
                    a.expect("well-formed attribute")
                        .unescape_value()
                        .expect("attribute unescapes");
                }
            }
            Ok(Event::Empty(e)) => {
                for a in e.attributes() {
                    a.expect("well-formed attribute")
                        .unescape_value()
                        .expect("attribute unescapes");
                }
            }
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Text(t)) => {
                t.decode().expect("text decodes");
            }
            Ok(_) => {}
            Err(e) => panic!("invalid XML at {}: {e}\n{xml}", reader.buffer_position()),
        }
    }
    assert_eq!(depth, 0, "unbalanced XML\n{xml}");
}

/// An extra template rendering one object of `kind` per stream.
fn extra_template(api_version: &str, kind: &str, name: &str) -> String {
    format!(
        "apiVersion: {api_version}\nkind: {kind:?}\nmetadata:\n  name: {name}\n  namespace: {{{{ environment.namespace | tojson }}}}\n"
    )
}

/// Renders `repo`'s dev environment into a fresh directory and checks it
/// was refused: exit 2, a located finding naming `template`, nothing
/// written there or in the repository. Returns stderr.
fn refused_render(repo: &Repo, template: &str) -> String {
    let repo_before = tree(repo.path());
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("a/b/out");
    let out = timed(
        repo,
        &[
            "render",
            "--env",
            "dev",
            "--output-dir",
            out_dir.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains(template), "{}", out.stderr);
    assert!(
        out.stderr.contains("--> values/streams/orders.yaml:1:1")
            || out.stderr.contains(&format!("--> {template}:1:1")),
        "{}",
        out.stderr
    );
    assert_eq!(tree(work.path()), Vec::<String>::new(), "nothing written");
    assert_eq!(
        tree(repo.path()),
        repo_before,
        "nothing written in the repository"
    );
    out.stderr
}

#[test]
fn a_kind_that_is_a_path_writes_nothing_anywhere() {
    // The kind check refuses it first (no environment can allow such a
    // kind); the file-name check behind it is unit-tested in
    // src/commands/render.rs.
    let repo = Repo::with(&[(
        "templates/extra.yaml.j2",
        Some(&extra_template(
            "v1",
            "../../../escaped/Pwned",
            "{{ (stream.name ~ \"-x\") | tojson }}",
        )),
    )]);
    refused_render(&repo, "extra.yaml.j2");
}

#[test]
fn kinds_that_differ_only_in_case_collide() {
    // `sparkapplication` is refused whatever the environment allows ...
    let lower = Repo::with(&[(
        "templates/extra.yaml.j2",
        Some(&extra_template(
            "sparkoperator.k8s.io/v1beta2",
            "sparkapplication",
            "{{ (stream.name ~ \"-lower\") | tojson }}",
        )),
    )]);
    refused_render(&lower, "extra.yaml.j2");
    // ... and a kind an environment allows that differs from
    // SparkApplication only in case would share its file.
    let allowed = Repo::with(&[
        (
            "templates/extra.yaml.j2",
            Some(&extra_template(
                "sparkoperator.k8s.io/v1beta2",
                "Sparkapplication",
                "{{ (stream.name ~ \"-lower\") | tojson }}",
            )),
        ),
        (
            "values/environments/dev.yaml",
            Some("namespace: streams-dev\nallowedKinds: [Sparkapplication.sparkoperator.k8s.io]\n"),
        ),
    ]);
    let stderr = refused_render(&allowed, "templates/extra.yaml.j2");
    assert!(stderr.contains("error[render/file-collision]"), "{stderr}");
    assert!(
        stderr.contains("would both be written to `orders/sparkapplication.yaml`"),
        "{stderr}"
    );
    assert!(stderr.contains("stream `orders`"), "{stderr}");
    assert!(stderr.contains("nothing written"), "{stderr}");
}

#[test]
fn the_output_dir_may_not_be_inside_the_repository_inputs() {
    let repo = Repo::with(&[]);
    let before = tree(repo.path());
    #[cfg(unix)]
    std::os::unix::fs::symlink("values", repo.path().join("link")).unwrap();
    let absolute = repo.path().join("values/streams/out");
    let mut dirs: Vec<String> = vec![
        "values/streams/out".into(),
        absolute.to_str().unwrap().into(),
        "elsewhere/../templates/out".into(),
        "schemas".into(),
        ".".into(),
    ];
    if cfg!(unix) {
        dirs.push("link/streams/out".into());
    }
    for dir in &dirs {
        let out = sluice_from(
            repo.path(),
            &["render", "--env", "dev", "--output-dir", dir],
        );
        assert_eq!(out.code, 2, "{dir}: {}", out.stderr);
        assert!(out.stdout.is_empty());
        assert!(
            out.stderr
                .contains("refusing to write rendered manifests there"),
            "{dir}: {}",
            out.stderr
        );
        let mut after = tree(repo.path());
        after.retain(|p| p != "link");
        assert_eq!(after, before, "{dir}: something was written");
    }
    // Beside the inputs is fine.
    let out = sluice_from(
        repo.path(),
        &["render", "--env", "dev", "--output-dir", "rendered"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        repo.path()
            .join("rendered/orders/sparkapplication.yaml")
            .is_file()
    );
}

#[test]
fn a_killed_run_leaves_nothing_the_next_run_keeps() {
    let repo = Repo::with(&[]);
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    let render = || {
        timed(
            &repo,
            &[
                "render",
                "--env",
                "dev",
                "--output-dir",
                out_dir.to_str().unwrap(),
            ],
        )
    };
    assert_eq!(render().code, 0);
    // What a run killed while writing, or while removing the old content,
    // leaves beside the directory (this version's and the previous one's
    // staging names).
    for stale in [".out.sluice-tmp-Qx81Lm", ".out.sluice-tmp-Qx81Lm-old"] {
        std::fs::create_dir_all(work.path().join(stale).join("orders")).unwrap();
        std::fs::write(work.path().join(stale).join("orders/half.yaml"), "apiVe").unwrap();
    }
    std::fs::create_dir(work.path().join(".out.Ab12Cd")).unwrap();
    std::fs::write(work.path().join(".out.Ab12Cd/.sluice-render"), "").unwrap();
    // Not sluice's: kept.
    std::fs::create_dir(work.path().join(".out.backup")).unwrap();
    let out = render();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut top: Vec<String> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, [".out.backup", "out"]);
    assert_eq!(
        tree(&out_dir),
        [
            ".sluice-render",
            "orders",
            "orders/sparkapplication.yaml",
            "payments",
            "payments/sparkapplication.yaml"
        ]
    );
}

/// ESC (with a clear-screen sequence), NUL, DEL and a C1 CSI in a value.
const HOSTILE_VALUE: &str =
    "mainClass: com.example.Orders\nexecutor:\n  memory: \"4\\e[2J\\0\\x7f\\x9bGi\"\n";

#[test]
fn control_characters_in_values_are_escaped_in_every_format() {
    let repo = Repo::with(&[("values/streams/orders.yaml", Some(HOSTILE_VALUE))]);
    let human = timed(&repo, &["lint"]);
    assert_eq!(human.code, 1);
    assert_eq!(raw_controls(&human.stdout), [], "{}", human.stdout);
    assert!(
        human
            .stdout
            .contains("not the string `4\\x1b[2J\\x00\\x7f\\x9bGi`"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("--> values/streams/orders.yaml:3:11"),
        "{}",
        human.stdout
    );

    let junit = timed(&repo, &["lint", "--format", "junit"]);
    assert_eq!(junit.code, 1);
    assert_valid_xml(&junit.stdout);
    assert_eq!(raw_controls(&junit.stdout), []);
    assert!(junit.stdout.contains("values/streams/orders.yaml:3:11"));

    let cq = timed(&repo, &["lint", "--format", "codequality"]);
    assert_eq!(cq.code, 1);
    let issues: serde_json::Value = serde_json::from_str(&cq.stdout).expect("valid JSON");
    let issue = &issues.as_array().unwrap()[0];
    assert_eq!(issue["location"]["path"], "values/streams/orders.yaml");
    assert_eq!(issue["location"]["lines"]["begin"], 3);
    // JSON carries the value exactly (escaped by JSON itself).
    assert!(
        issue["description"]
            .as_str()
            .unwrap()
            .contains("4\u{1b}[2J\u{0}\u{7f}\u{9b}Gi")
    );
    // `values` refuses it (exit 2, nothing on stdout) and escapes it too.
    let values = timed(&repo, &["values", "--env", "dev"]);
    assert_eq!(values.code, 2);
    assert!(values.stdout.is_empty());
    assert_eq!(raw_controls(&values.stderr), [], "{}", values.stderr);
}

#[test]
fn control_characters_in_file_names_are_escaped() {
    let repo = Repo::with(&[
        (
            "values/streams/or\u{1b}[2Jders.yaml",
            Some("mainClass: x\n"),
        ),
        (
            "templates/ex\u{1b}]0;pwned\u{7}tra.yaml.j2",
            Some(&extra_template(
                "v1",
                "ConfigMap",
                "{{ (stream.name ~ \"-x\") | tojson }}",
            )),
        ),
    ]);
    let human = timed(&repo, &["lint"]);
    assert_eq!(human.code, 1, "{}", human.stdout);
    assert_eq!(raw_controls(&human.stdout), [], "{}", human.stdout);
    assert!(
        human
            .stdout
            .contains("--> values/streams/or\\x1b[2Jders.yaml:1:1"),
        "{}",
        human.stdout
    );
    let junit = timed(&repo, &["lint", "--format", "junit"]);
    assert_valid_xml(&junit.stdout);
    assert!(
        junit
            .stdout
            .contains("name=\"values/streams/or\\x1b[2Jders.yaml\"")
    );
    let cq = timed(&repo, &["lint", "--format", "codequality"]);
    let issues: serde_json::Value = serde_json::from_str(&cq.stdout).expect("valid JSON");
    assert!(
        issues
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["location"]["path"] == "values/streams/or\u{1b}[2Jders.yaml"),
        "{}",
        cq.stdout
    );

    // The template's name is in each document's `# Source:` comment.
    std::fs::remove_file(repo.path().join("values/streams/or\u{1b}[2Jders.yaml")).unwrap();
    let render = timed(&repo, &["render", "--env", "dev"]);
    assert_eq!(render.code, 0, "{}", render.stderr);
    assert_eq!(raw_controls(&render.stdout), [], "{}", render.stdout);
    assert!(
        render
            .stdout
            .contains("# Source: ex\\x1b]0;pwned\\x07tra.yaml.j2 (stream orders"),
        "{}",
        render.stdout
    );
}

#[test]
fn hidden_files_are_skipped_in_the_working_tree_and_at_a_revision() {
    let repo = Repo::with(&[
        // An editor's or a half-done stream: not part of the repository.
        ("values/streams/.wip/wip.yaml", Some("mainClass: [broken\n")),
        ("values/streams/.orders.yaml", Some("mainClass: y\n")),
        ("templates/.draft.yaml.j2", Some("{{ broken\n")),
    ]);
    common::git_in(repo.path(), &["init", "-q", "-b", "main"]);
    common::git_in(repo.path(), &["add", "."]);
    common::git_in(repo.path(), &["commit", "-qm", "base"]);
    let tree_lint = timed(&repo, &["lint"]);
    let rev_lint = timed(&repo, &["lint", "--rev", "HEAD"]);
    assert_eq!(tree_lint.code, 0, "{}", tree_lint.stdout);
    assert_eq!(rev_lint.code, 0, "{}", rev_lint.stdout);
    assert_eq!(tree_lint.stdout, rev_lint.stdout);
    assert!(
        tree_lint
            .stdout
            .contains("(2 streams in 2 environments, 5 files)"),
        "{}",
        tree_lint.stdout
    );
    let tree_values = timed(&repo, &["values", "--env", "dev", "--format", "json"]);
    let rev_values = timed(
        &repo,
        &[
            "values", "--rev", "HEAD", "--env", "dev", "--format", "json",
        ],
    );
    assert_eq!(tree_values.code, 0, "{}", tree_values.stderr);
    assert_eq!(tree_values.stdout, rev_values.stdout);
    let streams: serde_json::Value = serde_json::from_str(&tree_values.stdout).unwrap();
    assert_eq!(
        streams.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["orders", "payments"]
    );
}

const BROKEN_ORDERS: &str =
    "mainClass: com.example.Orders\narguments: [--topic, orders\nsink: s3a://x/y\n";

#[test]
fn a_broken_stream_file_is_reported_where_its_stream_is_asked_for() {
    let repo = Repo::with(&[("values/streams/orders.yaml", Some(BROKEN_ORDERS))]);
    for args in [
        &["values", "--env", "dev", "--stream", "orders"][..],
        &["render", "--env", "dev", "--stream", "orders"],
    ] {
        let out = timed(&repo, args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
        assert!(
            out.stderr.contains("error[yaml/syntax]"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("--> values/streams/orders.yaml:3:"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            !out.stderr.contains("no stream"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("cannot read stream `orders`"),
            "{args:?}: {}",
            out.stderr
        );
    }
    // A stream no file could define is still unknown.
    let out = timed(&repo, &["values", "--env", "dev", "--stream", "refunds"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no stream `refunds`"), "{}", out.stderr);
}

#[test]
fn values_refuses_bad_input_with_exit_2_and_empty_stdout() {
    for (path, text) in [
        ("values/streams/payments.yaml", BROKEN_ORDERS),
        (
            "values/streams/orders.yaml",
            "mainClass: com.example.Orders\nexecutor:\n  memory: 4Gi\n",
        ),
    ] {
        let repo = Repo::with(&[(path, Some(text))]);
        for format in ["yaml", "json"] {
            let out = timed(&repo, &["values", "--env", "dev", "--format", format]);
            assert_eq!(out.code, 2, "{path} {format}: {}", out.stderr);
            assert!(out.stdout.is_empty(), "{path} {format}: {}", out.stdout);
            assert!(
                out.stderr.contains(&format!("--> {path}:")),
                "{path}: {}",
                out.stderr
            );
            assert!(out.stderr.contains("nothing shown"), "{}", out.stderr);
        }
    }
}
