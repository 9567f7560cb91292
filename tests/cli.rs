//! The real binary: exit codes, help text, output formats, colours.

mod common;

use common::{Repo, project_root, sluice_in};
use quick_xml::Reader;
use quick_xml::events::Event;
use std::collections::HashSet;

#[test]
fn example_repository_is_clean() {
    let out = sluice_in(&project_root(), &["lint"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.starts_with("ok: no findings"), "{}", out.stdout);
}

#[test]
fn help_texts() {
    let out = sluice_in(&project_root(), &["--help"]);
    assert_eq!(out.code, 0);
    insta::assert_snapshot!("help", out.stdout);
    let out = sluice_in(&project_root(), &["lint", "--help"]);
    assert_eq!(out.code, 0);
    insta::assert_snapshot!("lint-help", out.stdout);
}

#[test]
fn usage_errors_exit_2() {
    let repo = Repo::with(&[]);
    let out = repo.sluice(&["lint", "--env", "staging"]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: unknown environment `staging`; the environments are: dev, prod (files in values/environments/)\n"
    );
    let out = repo.sluice(&["lint", "--env", "prdo"]);
    assert!(
        out.stderr.contains("help: did you mean `prod`?"),
        "{}",
        out.stderr
    );

    let out = repo.sluice(&["lint", "--set", "novalue"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("error[set/syntax]: this --set item has no `=`"),
        "{}",
        out.stderr
    );

    let empty = tempfile::tempdir().unwrap();
    let out = sluice_in(empty.path(), &["lint"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("no values/ directory"),
        "{}",
        out.stderr
    );

    let out = sluice_in(&empty.path().join("missing"), &["lint"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("cannot open the repository"),
        "{}",
        out.stderr
    );

    let out = repo.sluice(&["lint", "--format", "yaml"]);
    assert_eq!(out.code, 2);
    let out = repo.sluice(&["frobnicate"]);
    assert_eq!(out.code, 2);
}

#[test]
fn findings_exit_1_and_warnings_exit_0() {
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some("mainClass: x\nexecutor: {memory: 4Gi}\n"),
    )]);
    assert_eq!(repo.sluice(&["lint"]).code, 1);
    // Only prod is broken: dev alone is clean.
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some("mainClass: x\nenvironments:\n  prod:\n    executor: {instances: 0}\n"),
    )]);
    assert_eq!(repo.sluice(&["lint", "--env", "dev"]).code, 0);
    assert_eq!(repo.sluice(&["lint", "--env", "prod"]).code, 1);
}

#[test]
fn set_overrides_apply_last_and_set_string_keeps_text() {
    let repo = Repo::with(&[]);
    assert_eq!(
        repo.sluice(&["lint", "--set", "executor.instances=0"]).code,
        1
    );
    assert_eq!(
        repo.sluice(&["lint", "--set", "executor.instances=3,spark.version=3.4.0"])
            .code,
        0
    );
    // --set-string makes 3 a string, which `instances` rejects.
    let out = repo.sluice(&["lint", "--set-string", "executor.instances=3"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout
            .contains("must be an integer, not the string `3`"),
        "{}",
        out.stdout
    );
    // null deletes.
    let out = repo.sluice(&["lint", "--set", "applicationFile=null"]);
    assert!(
        out.stdout.contains("no application file is set"),
        "{}",
        out.stdout
    );
}

#[test]
fn json_output_is_one_document_with_every_finding() {
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some("mainClass: x\nexecutor: {memroy: 4g}\n"),
    )]);
    let out = repo.sluice(&["lint", "--format", "json"]);
    assert_eq!(out.code, 1);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("valid JSON");
    let d = &doc["diagnostics"][0];
    assert_eq!(d["code"], "values/unknown-key");
    assert_eq!(d["location"]["path"], "values/streams/orders.yaml");
    assert_eq!(d["location"]["line"], 2);
    assert_eq!(d["location"]["column"], 12);
    assert_eq!(d["help"], "did you mean `memory`?");
    assert_eq!(doc["summary"]["errors"], 1);
    assert_eq!(
        d["subjects"].as_array().unwrap().len(),
        2,
        "orders in dev and prod"
    );
}

#[test]
fn codequality_report_matches_gitlab_format_and_fingerprints_are_stable() {
    let repo = Repo::with(&[
        (
            "values/streams/orders.yaml",
            Some("mainClass: x\nexecutor: {memroy: 4g, instances: 0}\n"),
        ),
        (
            "values/streams/payments.yaml",
            Some("mainClass: x\nrestartPolicy: sometimes\n"),
        ),
    ]);
    let first = repo.sluice(&["lint", "--format", "codequality"]);
    assert_eq!(first.code, 1);
    let report: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("formats/codequality.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{}", first.stdout);
    let issues = report.as_array().unwrap();
    assert_eq!(issues.len(), 3);
    let fingerprints: HashSet<&str> = issues
        .iter()
        .map(|i| i["fingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(fingerprints.len(), 3, "fingerprints are unique");
    // Stable across runs, and when unrelated lines move.
    assert_eq!(
        repo.sluice(&["lint", "--format", "codequality"]).stdout,
        first.stdout
    );
    repo.write(
        "values/streams/payments.yaml",
        b"# a comment\nmainClass: x\nrestartPolicy: sometimes\n",
    );
    let moved: serde_json::Value =
        serde_json::from_str(&repo.sluice(&["lint", "--format", "codequality"]).stdout).unwrap();
    let moved: HashSet<&str> = moved
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["fingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(moved, fingerprints);
}

/// Checks the structure GitLab and Jenkins read from JUnit XML, and that
/// the counts in the attributes agree with the elements.
fn check_junit(xml: &str) -> (usize, usize) {
    let mut reader = Reader::from_str(xml);
    let (mut stack, mut cases, mut failures) = (Vec::<String>::new(), 0, 0);
    let (mut declared_tests, mut declared_failures) = (None, None);
    let mut suite_counts: Vec<(usize, usize, usize, usize)> = Vec::new();
    loop {
        let event = reader.read_event().expect("well-formed XML");
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
            let attr = |key: &str| {
                e.attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == key.as_bytes())
                    .map(|a| a.unescape_value().unwrap().into_owned())
            };
            let parent = stack.last().map(String::as_str);
            match name.as_str() {
                "testsuites" => {
                    assert!(parent.is_none());
                    declared_tests = attr("tests").map(|t| t.parse::<usize>().unwrap());
                    declared_failures = attr("failures").map(|t| t.parse::<usize>().unwrap());
                }
                "testsuite" => {
                    assert_eq!(parent, Some("testsuites"));
                    assert!(attr("name").is_some());
                    suite_counts.push((
                        attr("tests").unwrap().parse().unwrap(),
                        attr("failures").unwrap().parse().unwrap(),
                        0,
                        0,
                    ));
                }
                "testcase" => {
                    assert_eq!(parent, Some("testsuite"));
                    assert!(attr("name").is_some() && attr("classname").is_some());
                    cases += 1;
                    suite_counts.last_mut().unwrap().2 += 1;
                }
                "failure" => {
                    assert_eq!(parent, Some("testcase"));
                    assert!(attr("message").is_some() && attr("type").is_some());
                    failures += 1;
                    suite_counts.last_mut().unwrap().3 += 1;
                }
                "system-out" => assert_eq!(parent, Some("testcase")),
                other => panic!("unexpected element <{other}>"),
            }
            if !empty {
                stack.push(name);
            }
        }
        match event {
            Event::End(_) => {
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(declared_tests, Some(cases));
    assert_eq!(declared_failures, Some(failures));
    for (tests, fails, seen_tests, seen_fails) in suite_counts {
        assert_eq!((tests, fails), (seen_tests, seen_fails));
    }
    (cases, failures)
}

#[test]
fn junit_has_one_case_per_stream_and_environment() {
    let out = sluice_in(&project_root(), &["lint", "--format", "junit"]);
    assert_eq!(out.code, 0);
    // 6 streams in dev, 5 in prod (inventory is dev-only).
    assert_eq!(check_junit(&out.stdout), (11, 0));
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some("mainClass: x\nenvironments:\n  prod:\n    executor: {instances: 0, memroy: 1g}\n"),
    )]);
    let out = repo.sluice(&["lint", "--format", "junit"]);
    assert_eq!(out.code, 1);
    assert_eq!(check_junit(&out.stdout), (4, 1), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("<testcase classname=\"sluice.prod\" name=\"orders\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "message=\"`executor.instances` must be at least 1, not an integer `0` (and 1 more)\""
        ),
        "{}",
        out.stdout
    );
}

#[test]
fn colours_follow_the_flag_and_no_color() {
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some("mainClass: x\nexecutor: {memroy: 4g}\n"),
    )]);
    let run = |color: &str, no_color: bool| {
        let mut cmd = assert_cmd::Command::cargo_bin("sluice").unwrap();
        cmd.arg("-C")
            .arg(repo.path())
            .args(["--color", color, "lint"]);
        if no_color {
            cmd.env("NO_COLOR", "1");
        } else {
            cmd.env_remove("NO_COLOR");
        }
        String::from_utf8(cmd.output().unwrap().stdout).unwrap()
    };
    assert!(run("always", false).contains("\x1b["));
    assert!(!run("never", false).contains("\x1b["));
    // Not a terminal, and NO_COLOR: plain either way.
    assert!(!run("auto", true).contains("\x1b["));
    assert!(!run("auto", false).contains("\x1b["));
}

#[test]
fn completions_and_schema() {
    for shell in ["bash", "zsh", "fish"] {
        let out = sluice_in(&project_root(), &["completions", shell]);
        assert_eq!(out.code, 0);
        // The script asks sluice for the candidates.
        assert!(out.stdout.contains("sluice"), "{shell}");
        assert!(out.stdout.contains("COMPLETE"), "{shell}");
    }
    let out = sluice_in(&project_root(), &["schema"]);
    let printed: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let file: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project_root().join("schemas/values.schema.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(printed, file);
}

#[test]
fn a_repository_schema_overrides_the_builtin_one() {
    // A stricter schema: executors at most 4.
    let mut schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project_root().join("schemas/values.schema.json")).unwrap(),
    )
    .unwrap();
    schema["$defs"]["values"]["properties"]["executor"]["properties"]["instances"]["maximum"] =
        4.into();
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some("mainClass: x\nexecutor: {instances: 5}\n"),
    )]);
    assert_eq!(repo.sluice(&["lint"]).code, 0);
    repo.write("schemas/values.schema.json", schema.to_string().as_bytes());
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout
            .contains("`executor.instances` must be at most 4"),
        "{}",
        out.stdout
    );
}

#[test]
fn readme_documents_every_diagnostic_code() {
    let readme = std::fs::read_to_string(project_root().join("README.md")).unwrap();
    for (code, severity, _) in sluice::diag::CODES {
        let row = format!("| `{code}` | {} |", severity.as_str());
        assert!(
            readme.contains(&row),
            "README lacks the row for {code} ({row})"
        );
    }
}

#[test]
fn one_lint_run_writes_every_report_besides_the_human_output() {
    let repo = Repo::with(&[(
        "values/streams/orders.yaml",
        Some("mainClass: x\nenvironments:\n  prod:\n    executor: {instances: 0}\n"),
    )]);
    let dir = repo.path();
    // Relative to the working directory, as --output-dir is.
    let report = |format: &str, file: &str| format!("{format}={}", dir.join(file).display());
    let out = repo.sluice(&[
        "lint",
        "--report",
        &report("junit", "lint-junit.xml"),
        "--report",
        &report("codequality", "gl-code-quality.json"),
        "--report",
        &report("json", "lint.json"),
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stdout.contains("error[values/range]"), "{}", out.stdout);
    // Each file is what the format prints on its own.
    for (format, file) in [
        ("junit", "lint-junit.xml"),
        ("codequality", "gl-code-quality.json"),
        ("json", "lint.json"),
    ] {
        let alone = repo.sluice(&["lint", "--format", format]);
        let written = std::fs::read_to_string(dir.join(file)).unwrap();
        assert_eq!(written, alone.stdout, "{format}");
    }
    assert_eq!(
        check_junit(&std::fs::read_to_string(dir.join("lint-junit.xml")).unwrap()),
        (4, 1)
    );

    for (arg, message) in [
        ("junit", "expected FORMAT=FILE"),
        (
            "xml=a.xml",
            "unknown report format `xml` (expected one of human, json, junit, codequality)",
        ),
        ("junit=", "names no file"),
    ] {
        let out = repo.sluice(&["lint", "--report", arg]);
        assert_eq!(out.code, 2, "{arg}");
        assert!(out.stderr.contains(message), "{arg}: {}", out.stderr);
    }
    // A relative FILE is relative to the working directory (not to -C).
    let out = assert_cmd::Command::cargo_bin("sluice")
        .unwrap()
        .current_dir(dir)
        .args(["--color", "never", "lint", "--report", "junit=relative.xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        check_junit(&std::fs::read_to_string(dir.join("relative.xml")).unwrap()),
        (4, 1)
    );

    let missing = report("junit", "no/such/dir/r.xml");
    let out = repo.sluice(&["lint", "--report", &missing]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("cannot write the report `")
            && out.stderr.contains("no/such/dir/r.xml`"),
        "{}",
        out.stderr
    );
}

#[test]
fn strict_lint_fails_on_warnings() {
    // `restartPolicy: Never` is a warning: a stream stays down.
    let repo = common::Repo::with(&[(
        "values/streams/payments.yaml",
        Some("mainClass: com.example.Payments\nrestartPolicy: Never\n"),
    )]);
    let out = repo.sluice(&["lint"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("rule/restart-never"), "{}", out.stdout);
    let out = repo.sluice(&["lint", "--strict"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    // Without warnings, --strict passes.
    let repo = common::Repo::with(&[]);
    assert_eq!(repo.sluice(&["lint", "--strict"]).code, 0);
}

/// What the shell gets for the word being completed (fish's protocol:
/// one candidate per line, then a tab and its help).
fn candidates(dir: &std::path::Path, words: &[&str]) -> Vec<String> {
    let out = assert_cmd::Command::cargo_bin("sluice")
        .unwrap()
        .env("COMPLETE", "fish")
        .arg("--")
        .arg("sluice")
        .arg("-C")
        .arg(dir)
        .args(words)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn completions_know_the_repositorys_environments_and_streams() {
    let repo = Repo::with(&[
        (
            "values/environments/staging.yaml",
            Some("namespace: streams-staging\n"),
        ),
        (
            "values/common.yaml",
            Some(&format!(
                "{}streams:\n  - name: clicks\n    mainClass: com.example.Clicks\n",
                common::BASE[0].1
            )),
        ),
    ]);
    assert_eq!(
        candidates(repo.path(), &["lint", "--env", ""]),
        ["dev", "prod", "staging"]
    );
    assert_eq!(candidates(repo.path(), &["promote", "--to", "p"]), ["prod"]);
    assert_eq!(
        candidates(repo.path(), &["render", "--env", "dev", "--stream", ""]),
        ["clicks", "orders", "payments"]
    );
    // Outside a streams repository: nothing, and no error.
    let empty = tempfile::tempdir().unwrap();
    assert!(candidates(empty.path(), &["lint", "--env", ""]).is_empty());
    // The script a shell sources asks sluice each time.
    let out = sluice_in(repo.path(), &["completions", "bash"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("COMPLETE=\"bash\""), "{}", out.stdout);
}

#[test]
fn man_pages_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = sluice_in(
        &project_root(),
        &["man", "--output-dir", dir.path().to_str().unwrap()],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    for page in [
        "sluice.1",
        "sluice-lint.1",
        "sluice-promote.1",
        "sluice-apply.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(
            text.starts_with(".ie") && text.contains(".TH "),
            "{page}: {text}"
        );
    }
    let promote = std::fs::read_to_string(dir.path().join("sluice-promote.1")).unwrap();
    assert!(promote.contains("include\\-new"), "{promote}");
    let out = sluice_in(&project_root(), &["man"]);
    assert!(out.stdout.contains(".TH sluice 1"), "{}", out.stdout);
}
