//! The promise of `sluice promote`, on random repositories: both layouts
//! (stream files, and one `streams:` list in common.yaml), with the
//! promotion keys set, overridden and deleted at random across common.yaml,
//! the environment files, the stream definitions and their per-environment
//! blocks. After `promote --from dev --to prod`, `sluice values` must show
//! every promoted stream's prod values equal to dev's for the promotion
//! keys, and nothing else changed in any stream of any environment; or
//! promote refuses with a reason and writes nothing.
//!
//! `SLUICE_PROMOTE_CASES=N` runs more cases; `SLUICE_PROMOTE_STRICT=1`
//! fails on a refusal too, printing the repository (to find what the
//! editor cannot do yet).

mod common;

use common::Repo;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

const KEYS: &[&str] = &["spark.image", "image", "mainClass", "arguments"];
const ENVS: &[&str] = &["dev", "prod", "qa"];

/// One key's value in one layer.
#[derive(Clone, Debug)]
enum Cell {
    Absent,
    Null,
    Value(usize),
}

fn text(key: &str, v: usize, flow: bool) -> String {
    match key {
        "spark.image" => format!("spark:\n  image: r/spark:1.{v}\n"),
        "image" => format!("image:\n  repository: r/img\n  tag: \"2.{v}\"\n"),
        "mainClass" => format!("mainClass: com.example.C{v}\n"),
        _ if flow => format!("arguments: [--topic, t{v}]\n"),
        _ => format!("arguments:\n  - --topic  # the topic\n  - t{v}\n"),
    }
}

fn null(key: &str) -> String {
    match key {
        "spark.image" => "spark:\n  image: null\n".to_owned(),
        "image" => "image: null\n".to_owned(),
        other => format!("{other}: null\n"),
    }
}

/// A layer's YAML for the given cells, indented.
fn layer(cells: &[Cell], indent: usize, flow: bool) -> String {
    let mut out = String::new();
    for (key, cell) in KEYS.iter().zip(cells) {
        let t = match cell {
            Cell::Absent => continue,
            // Deleting these would leave a stream without an image or a
            // main class, which does not lint.
            Cell::Null if matches!(*key, "spark.image" | "mainClass") => continue,
            Cell::Null => null(key),
            Cell::Value(v) => text(key, *v, flow),
        };
        for line in t.lines() {
            out.push_str(&" ".repeat(indent));
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[derive(Clone, Debug)]
struct Stream {
    def: Vec<Cell>,
    /// Per environment (ENVS order).
    blocks: Vec<Vec<Cell>>,
    prod_disabled: bool,
}

#[derive(Clone, Debug)]
struct Case {
    list: bool,
    flow: bool,
    common: Vec<Cell>,
    envs: Vec<Vec<Cell>>,
    streams: Vec<Stream>,
    named: Option<usize>,
    include_new: bool,
}

fn cell(nullable: bool) -> impl Strategy<Value = Cell> {
    let null_weight = if nullable { 1 } else { 0 };
    prop_oneof![
        4 => Just(Cell::Absent),
        null_weight => Just(Cell::Null),
        3 => (0usize..3).prop_map(Cell::Value),
    ]
}

fn cells(nullable: bool) -> impl Strategy<Value = Vec<Cell>> {
    proptest::collection::vec(cell(nullable), KEYS.len())
}

fn case() -> impl Strategy<Value = Case> {
    let stream = (
        cells(true),
        proptest::collection::vec(cells(true), ENVS.len()),
        proptest::bool::weighted(0.2),
    )
        .prop_map(|(def, blocks, prod_disabled)| Stream {
            def,
            blocks,
            prod_disabled,
        });
    (
        any::<bool>(),
        any::<bool>(),
        cells(false),
        proptest::collection::vec(cells(true), ENVS.len()),
        proptest::collection::vec(stream, 1..4),
        proptest::option::weighted(0.3, 0usize..3),
        proptest::bool::weighted(0.2),
    )
        .prop_map(
            |(list, flow, common, envs, streams, named, include_new)| Case {
                list,
                flow,
                common,
                envs,
                named: named.filter(|&i| i < streams.len()),
                streams,
                include_new,
            },
        )
}

fn body(case: &Case, stream: &Stream, indent: usize) -> String {
    let mut out = layer(&stream.def, indent, case.flow);
    let mut blocks = String::new();
    for (env, cells) in ENVS.iter().zip(&stream.blocks) {
        let mut inner = layer(cells, indent + 4, case.flow);
        if *env == "prod" && stream.prod_disabled {
            inner.push_str(&format!("{}enabled: false\n", " ".repeat(indent + 4)));
        }
        if !inner.is_empty() {
            blocks.push_str(&format!("{}{env}:\n{inner}", " ".repeat(indent + 2)));
        }
    }
    if !blocks.is_empty() {
        out.push_str(&format!("{}environments:\n{blocks}", " ".repeat(indent)));
    }
    out
}

fn build(case: &Case) -> Repo {
    let base = "spark:\n  version: \"3.5.1\"\napplicationFile: local:///opt/app.jar\nrestartPolicy: Always\ndriver:\n  cores: 1\n  memory: 2g\nexecutor:\n  cores: 1\n  instances: 1\n  memory: 2g\n";
    // mainClass and spark.image always have a value somewhere below.
    let mut common = format!("{base}mainClass: com.example.Base\n");
    let mut floor = case.common.clone();
    floor[0] = match floor[0] {
        Cell::Absent => Cell::Value(0),
        ref c => c.clone(),
    };
    floor[2] = Cell::Absent;
    common = common.replace("spark:\n  version: \"3.5.1\"\n", "");
    let mut common_layer = layer(&floor, 0, case.flow);
    // spark.version shares the `spark:` key with spark.image.
    common_layer = common_layer.replacen("spark:\n", "spark:\n  version: \"3.5.1\"\n", 1);
    common.push_str(&common_layer);
    let mut files: Vec<(String, String)> = Vec::new();
    if case.list {
        common.push_str("streams:\n");
        for (i, s) in case.streams.iter().enumerate() {
            common.push_str(&format!("  - name: s{i}\n"));
            common.push_str(&body(case, s, 4));
        }
    } else {
        for (i, s) in case.streams.iter().enumerate() {
            files.push((
                format!("values/streams/s{i}.yaml"),
                format!("# stream s{i}\n{}", body(case, s, 0)),
            ));
        }
    }
    files.push(("values/common.yaml".into(), common));
    for (env, cells) in ENVS.iter().zip(&case.envs) {
        let mut text = format!("namespace: streams-{env}\n");
        text.push_str(&layer(cells, 0, case.flow));
        files.push((format!("values/environments/{env}.yaml"), text));
    }
    let repo = Repo::with(&[
        ("values/streams/orders.yaml", None),
        ("values/streams/payments.yaml", None),
        ("values/environments/prod.yaml", None),
    ]);
    for (path, text) in &files {
        repo.write(path, text.as_bytes());
    }
    repo
}

fn values(repo: &Repo, env: &str) -> Result<BTreeMap<String, Value>, String> {
    let out = repo.sluice(&["values", "--env", env, "--format", "json"]);
    if out.code != 0 {
        return Err(out.stderr);
    }
    serde_json::from_str(&out.stdout).map_err(|e| e.to_string())
}

fn at<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let pointer: String = key.split('.').map(|k| format!("/{k}")).collect();
    v.pointer(&pointer)
}

fn without_keys(v: &Value) -> Value {
    let mut v = v.clone();
    for key in KEYS {
        let pointer: String = key.split('.').map(|k| format!("/{k}")).collect();
        let (parent, last) = pointer.rsplit_once('/').unwrap();
        if let Some(m) = v.pointer_mut(parent).and_then(Value::as_object_mut) {
            m.shift_remove(last);
        }
    }
    v
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let repo = build(case);
    let before: Vec<BTreeMap<String, Value>> = match ENVS.iter().map(|e| values(&repo, e)).collect()
    {
        Ok(v) => v,
        // A generated repository that does not lint is not a case.
        Err(e) => {
            if std::env::var_os("SLUICE_PROMOTE_STRICT").is_some() {
                eprintln!("does not lint: {e}");
            }
            SKIPPED.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
    };
    let files = |repo: &Repo| -> BTreeMap<String, String> {
        walk(repo.path())
            .into_iter()
            .map(|p| {
                let text = std::fs::read_to_string(repo.path().join(&p)).unwrap();
                (p, text)
            })
            .collect()
    };
    let files_before = files(&repo);
    let mut args = vec!["promote", "--from", "dev", "--to", "prod"];
    let name = case.named.map(|i| format!("s{i}"));
    if let Some(n) = &name {
        args.extend(["--stream", n.as_str()]);
    }
    if case.include_new {
        args.push("--include-new");
    }
    let out = repo.sluice(&args);
    if out.code != 0 {
        // A refusal names its reason and writes nothing.
        prop_assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
        prop_assert!(out.stderr.trim().len() > 10, "no reason: {}", out.stderr);
        prop_assert_eq!(&files(&repo), &files_before, "a refusal wrote files");
        if std::env::var_os("SLUICE_PROMOTE_STRICT").is_some() {
            let texts: Vec<String> = files_before
                .iter()
                .map(|(p, t)| format!("== {p}\n{t}"))
                .collect();
            prop_assert!(false, "REFUSED: {}\n{}", out.stderr, texts.join(""));
        }
        REFUSED.fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    PROMOTED.fetch_add(1, Ordering::Relaxed);
    let after: Vec<BTreeMap<String, Value>> = ENVS
        .iter()
        .map(|e| values(&repo, e))
        .collect::<Result<_, _>>()
        .map_err(|e| TestCaseError::fail(format!("after promote: {e}\n{}", out.stdout)))?;
    let (dev, prod) = (&before[0], 1);
    for (i, env) in ENVS.iter().enumerate() {
        for (stream, new) in &after[i] {
            let old = before[i].get(stream);
            if i != prod {
                prop_assert_eq!(
                    Some(new),
                    old,
                    "{} changed in {}\n{}",
                    stream,
                    env,
                    out.stdout
                );
                continue;
            }
            let source = dev.get(stream);
            let promoted = name.as_ref().is_none_or(|n| n == stream) && source.is_some();
            match old {
                // Enabled by the promotion: only when asked.
                None => {
                    prop_assert!(
                        promoted && (name.is_some() || case.include_new),
                        "{} went live unasked\n{}",
                        stream,
                        out.stdout
                    );
                }
                Some(old) => {
                    prop_assert_eq!(
                        without_keys(new),
                        without_keys(old),
                        "{} changed outside the promotion keys\n{}",
                        stream,
                        out.stdout
                    );
                }
            }
            for key in KEYS {
                let want = if promoted {
                    source.and_then(|s| at(s, key))
                } else {
                    old.and_then(|o| at(o, key))
                };
                prop_assert_eq!(
                    at(new, key),
                    want,
                    "{}.{} in prod\n{}",
                    stream,
                    key,
                    out.stdout
                );
            }
        }
        // Nothing leaves an environment.
        for stream in before[i].keys() {
            prop_assert!(after[i].contains_key(stream), "{} left {}", stream, env);
        }
    }
    Ok(())
}

fn walk(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.join("values")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out.sort();
    out
}

#[test]
fn promote_gives_the_source_values_for_the_keys_and_changes_nothing_else() {
    let cases = std::env::var("SLUICE_PROMOTE_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(24);
    // Seeded: the same repositories on every run.
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let result = runner.run(&case(), |c| check(&c));
    if let Err(e) = result {
        panic!("{e}");
    }
    let (promoted, refused, skipped) = (
        PROMOTED.load(Ordering::Relaxed),
        REFUSED.load(Ordering::Relaxed),
        SKIPPED.load(Ordering::Relaxed),
    );
    eprintln!("{promoted} promoted, {refused} refused, {skipped} did not lint");
    // A property that holds because promote always refuses proves nothing.
    assert!(
        promoted * 2 >= promoted + refused + skipped,
        "too few cases promoted: {promoted} promoted, {refused} refused, {skipped} did not lint"
    );
}

static PROMOTED: AtomicUsize = AtomicUsize::new(0);
static REFUSED: AtomicUsize = AtomicUsize::new(0);
static SKIPPED: AtomicUsize = AtomicUsize::new(0);
