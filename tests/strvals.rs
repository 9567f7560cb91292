//! Conformance with Helm's strvals: every case of Helm's own test table
//! (`tests/fixtures/helm-strvals/cases.json`, made from helm/helm's
//! `pkg/strvals/*_test.go` by `scripts/helm-strvals-cases.py`) run through
//! sluice's `--set` parser. Where sluice differs on purpose the case is in
//! [`EXCEPTIONS`] with the reason; an exception that starts agreeing fails
//! too, so the list stays true.

#![allow(clippy::result_large_err)] // a Diagnostic is what the parser's reader returns

use serde_json::{Value as Json, json};
use sluice::source::{FileId, Span};
use sluice::values::set::{self, Kind};
use sluice::values::yaml::{Node, Value};

/// (test, first input, why sluice differs). Empty: sluice types `--set`
/// values by Helm's `typedVal`, not by its YAML 1.2 rules, so none of
/// Helm's cases differs. A case sluice changes on purpose goes here, and
/// into README.md's `--set` section, with its reason.
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

/// Helm functions sluice has no flag for: their cases are counted, not run.
const NOT_PORTED: &[(&str, usize, &str)] = &[("ParseJSON", 4, "sluice has no --set-json")];

fn cases() -> Vec<Json> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/helm-strvals/cases.json"
    );
    let doc: Json = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(doc["upstream"]["license"], "Apache-2.0");
    doc["cases"].as_array().unwrap().clone()
}

fn kind_of(function: &str) -> Option<Kind> {
    Some(match function {
        "Parse" | "ParseInto" => Kind::Typed,
        "ParseString" | "ParseIntoString" => Kind::String,
        "ParseLiteral" | "ParseLiteralInto" => Kind::Literal,
        "ParseFile" | "ParseIntoFile" => Kind::File,
        _ => return None,
    })
}

/// What sluice makes of a case: the tree, or the error's message.
fn run(case: &Json, kind: Kind) -> Result<Json, String> {
    let dest = case.get("dest").cloned().unwrap_or_else(|| json!({}));
    let mut tree = Node::from_json(&dest, Span::new(FileId(0), 0..0));
    let files = case.get("files").cloned().unwrap_or_else(|| json!({}));
    for (i, input) in case["inputs"].as_array().unwrap().iter().enumerate() {
        let mut reader = |raw: &str, span: Span| match kind {
            Kind::File => files[raw]
                .as_str()
                .map(|t| Value::String(t.to_owned()))
                .ok_or_else(|| {
                    sluice::diag::Diagnostic::error("set/file", format!("no file {raw}"))
                        .at(span, "here")
                }),
            _ => Ok(set::typed(raw, kind)),
        };
        set::parse_into(
            &mut tree,
            FileId(i as u32 + 1),
            input.as_str().unwrap(),
            kind,
            &mut reader,
        )
        .map_err(|d| d.message)?;
    }
    Ok(tree.to_json())
}

/// Whether sluice's outcome is the one the case expects.
fn agrees(case: &Json, outcome: &Result<Json, String>) -> bool {
    match (case.get("error"), outcome) {
        (Some(Json::Bool(true)), Err(_)) => true,
        (Some(Json::String(message)), Err(got)) => message == got,
        (None, Ok(tree)) => *tree == case["expect"],
        _ => false,
    }
}

#[test]
fn helm_strvals_table() {
    let cases = cases();
    let mut disagreeing = Vec::new();
    let mut exceptions_agreeing = Vec::new();
    let mut not_ported = vec![0usize; NOT_PORTED.len()];
    for case in &cases {
        let function = case["function"].as_str().unwrap();
        let Some(kind) = kind_of(function) else {
            let i = NOT_PORTED
                .iter()
                .position(|(f, _, _)| *f == function)
                .unwrap_or_else(|| panic!("a Helm function this test does not know: {function}"));
            not_ported[i] += 1;
            continue;
        };
        let test = case["test"].as_str().unwrap();
        let first = case["inputs"][0].as_str().unwrap();
        let outcome = run(case, kind);
        let excepted = EXCEPTIONS.iter().any(|(t, i, _)| *t == test && *i == first);
        match (agrees(case, &outcome), excepted) {
            (true, false) | (false, true) => {}
            (false, false) => disagreeing.push(format!(
                "{test} {function} {first:?}: got {outcome:?}, want {case}"
            )),
            (true, true) => exceptions_agreeing.push(format!("{test} {first:?}")),
        }
    }
    assert!(
        disagreeing.is_empty(),
        "{} of {} Helm cases disagree:\n{}",
        disagreeing.len(),
        cases.len(),
        disagreeing.join("\n")
    );
    assert!(
        exceptions_agreeing.is_empty(),
        "these exceptions agree with Helm now; take them off the list:\n{}",
        exceptions_agreeing.join("\n")
    );
    for ((function, count, why), seen) in NOT_PORTED.iter().zip(not_ported) {
        assert_eq!(
            seen, *count,
            "{function} ({why}): the table has {seen} cases"
        );
    }
    // Every exception names a case of the table.
    for (test, input, _) in EXCEPTIONS {
        assert!(
            cases
                .iter()
                .any(|c| c["test"] == *test && c["inputs"][0] == *input),
            "exception {test} {input:?} is not in the table"
        );
    }
}

/// Inputs Helm's parser ends on without an error while setting nothing they
/// name; sluice rejects them (none is in Helm's table).
#[test]
fn sluice_rejects_what_helm_silently_ignores() {
    for text in [
        "a[0", "a[1=2", "=1", "[0]=x", ".a=1", "a.", "a[0].", "a..b=1",
    ] {
        let err = run(&json!({"inputs": [text]}), Kind::Typed).expect_err(text);
        assert!(!err.is_empty(), "{text}");
    }
}

mod common;

use common::Repo;

const TOLERATIONS: &str =
    "mainClass: com.example.Orders\ntolerations:\n  - key: spark\n    effect: NoSchedule\n";

fn values_of(repo: &Repo, args: &[&str]) -> common::Output {
    let mut all = vec!["values", "--env", "dev", "--stream", "orders"];
    all.extend_from_slice(args);
    repo.sluice(&all)
}

#[test]
fn an_index_edits_the_merged_list() {
    let repo = Repo::with(&[("values/streams/orders.yaml", Some(TOLERATIONS))]);
    let out = values_of(
        &repo,
        &[
            "--set",
            "tolerations[0].key=gpu",
            "--set",
            "tolerations[0].operator=Exists",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.ends_with(
            "tolerations:\n  - key: gpu\n    effect: NoSchedule\n    operator: Exists\n"
        ),
        "{}",
        out.stdout
    );
    // Past the end: padded with null, which a toleration cannot be.
    let out = repo.sluice(&["lint", "--set", "tolerations[2].key=gpu"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("`tolerations[1]` must be a mapping, not null"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("--> --set:1:12"), "{}", out.stdout);
}

#[test]
fn a_flag_setting_the_name_is_an_error() {
    let repo = Repo::with(&[]);
    for args in [
        &["lint", "--set", "name=x"][..],
        &["lint", "--set", "a=1,name=x"],
        &["lint", "--set-string", "environments.dev.enabled=false"],
        &["render", "--env", "dev", "--set-literal", "name=x"],
    ] {
        let out = repo.sluice(args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("error[set/ignored-key]"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("help: "), "{}", out.stderr);
    }
    // A `name` deeper down is an ordinary key.
    let out = repo.sluice(&["lint", "--set", "labels.name=x"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

#[test]
fn a_path_through_a_merged_value_of_another_kind_is_an_error() {
    let repo = Repo::with(&[]);
    // `spark.image` is a string in common.yaml.
    let out = repo.sluice(&["lint", "--set", "spark.image.tag=2"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("error[set/conflict]"), "{}", out.stdout);
    assert!(out.stdout.contains("values/common.yaml"), "{}", out.stdout);
}

#[test]
fn set_file_and_set_literal() {
    let repo = Repo::with(&[]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("class.txt"), "com.example.FromFile").unwrap();
    let out = assert_cmd::Command::cargo_bin("sluice")
        .unwrap()
        .current_dir(dir.path())
        .arg("-C")
        .arg(repo.path())
        .args([
            "--color", "never", "values", "--env", "dev", "--stream", "orders",
        ])
        .args(["--set-file", "mainClass=class.txt"])
        .args(["--set-literal", "annotations.team=a,b={c}"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("mainClass: com.example.FromFile"),
        "{stdout}"
    );
    assert!(
        stdout.contains("team: a,b={c}") || stdout.contains("team: 'a,b={c}'"),
        "{stdout}"
    );

    let out = repo.sluice(&["lint", "--set-file", "mainClass=/nonexistent/file"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("error[set/file]"), "{}", out.stderr);
}

#[test]
fn helm_order_by_flag_kind() {
    let repo = Repo::with(&[]);
    // --set-string comes after every --set, whatever the command line's order.
    let out = values_of(
        &repo,
        &["--set-string", "labels.a=string", "--set", "labels.a=typed"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("a: string"), "{}", out.stdout);
}

#[test]
fn a_credential_read_by_set_file_is_masked() {
    let repo = Repo::with(&[]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("password");
    std::fs::write(&path, "S3CR3T-FROM-FILE").unwrap();
    let flag = format!("sparkConf.spark\\.ssl\\.password={}", path.display());
    // `executor.instances` is wrong, so the run shows findings and values.
    let out = repo.sluice(&["lint", "--set-file", &flag, "--set", "executor.instances=0"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("S3CR3T"), "{}", out.stdout);
    let out = repo.sluice(&["values", "--env", "dev", "--set-file", &flag]);
    assert!(
        !format!("{}{}", out.stdout, out.stderr).contains("S3CR3T"),
        "{}",
        out.stdout
    );
}
