//! Fuzzing, for a bounded time (SLUICE_FUZZ_SECONDS each; 60 in CI, 5
//! otherwise), with proptest's seeded runner and a seed corpus:
//!
//! 1. Differential: whatever the fast reader of template output accepts,
//!    the full YAML parser reads the same way (or the fast reader must
//!    step aside).
//! 2. Differential: whatever the values reader's event path reads, the
//!    full path (serde-saphyr) reads the same way, spans included, and
//!    accepts.
//! 3. Pipeline: random repositories (values and templates) go through
//!    lint and render without a panic, a hang, or exit codes other than
//!    0, 1 and 2.

mod common;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;
use std::time::{Duration, Instant};

fn budget() -> Duration {
    let default = if std::env::var("CI").is_ok() { 60 } else { 5 };
    Duration::from_secs(
        std::env::var("SLUICE_FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default),
    )
}

/// The full parser, with the options sluice reads template output with.
fn full(text: &str) -> Option<Vec<Value>> {
    serde_saphyr::from_multiple_with_options::<Value>(
        text,
        serde_saphyr::options! { strict_booleans: true, leading_zero_numbers_as_strings: true, underscored_numbers_as_strings: true },
    )
    .ok()
    .map(|docs| docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// The seed corpus: what templates emit, and each divergence found so far
/// (kept as regression cases).
const CORPUS: &[&str] = &[
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"x\"\n  labels: {\"a\": \"b\"}\n",
    "a:\n  b:\n    c: 1\n  d: [1, \"2\", {\"e\": null}]\nf: -2.5e3\ng: true\nh: cluster\n",
    "---\na: 1\n---\nb: 2\n",
    "a: {\"x\": 1, \"x\": 2}\n",
    "null: 1\n",
    "a: -0\n",
    "a: 9007199254740993\n",
    "a: [1e400]\n",
];

fn check_differential(text: &str) -> Result<(), TestCaseError> {
    if let Some(fast) = sluice::render::fast_yaml::parse(text) {
        let slow = full(text);
        prop_assert_eq!(
            Some(&fast),
            slow.as_ref(),
            "the fast reader accepted what the full parser reads otherwise:\n{}",
            text
        );
    }
    Ok(())
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => "[a-z][a-zA-Z0-9]{0,6}",
        4 => "[a-z]{1,3}\\.[a-z]{1,3}/[a-z]{1,3}",
        2 => "\"[a-z .:#-]{0,5}\"",
        1 => Just("null".to_owned()),
        1 => Just("true".to_owned()),
        1 => Just("On".to_owned()),
        1 => Just("~".to_owned()),
        1 => "[0-9]{1,3}",
        1 => "-[0-9]",
    ]
}

/// A scalar as `tojson` writes it, or a plain word, with YAML's and
/// JSON's corners now and then.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "\"[a-z0-9 :#'{}\\[\\],./-]{0,8}\"",
        4 => "-?[0-9]{1,4}(\\.[0-9]{1,3})?",
        2 => "-?[0-9]{14,20}",
        2 => "[0-9]\\.[0-9]e-?[0-9]{1,3}",
        1 => Just("-0".to_owned()),
        1 => Just("-0.0".to_owned()),
        1 => Just("00".to_owned()),
        1 => Just("1e400".to_owned()),
        1 => Just("\"\\u0000\\ud800\"".to_owned()),
        2 => Just("{}".to_owned()),
        2 => Just("[]".to_owned()),
        3 => "\\{\"[a-c]\": [0-9], \"[a-c]\": \"[a-z]\"\\}",
        3 => "\\[[0-9], \"[a-z]\", null, true, -0\\]",
        4 => "[a-z][a-z0-9._/-]{0,8}",
        1 => Just("true".to_owned()),
        1 => Just("True".to_owned()),
        1 => Just("null".to_owned()),
        1 => Just("~".to_owned()),
        1 => Just("yes".to_owned()),
        1 => Just("0x1F".to_owned()),
        1 => Just(".inf".to_owned()),
        1 => Just("1_000".to_owned()),
        1 => Just("0755".to_owned()),
        2 => Just("local:///a.jar".to_owned()),
        1 => Just("a: b".to_owned()),
        1 => Just("x #c".to_owned()),
        1 => Just("x:".to_owned()),
    ]
}

/// A mapping as templates emit it: `key: value`, `key:` with a nested
/// mapping (or nothing: null), now and then a comment, a blank line, a
/// carriage return, or something outside the subset.
fn mapping(depth: u32) -> BoxedStrategy<Vec<String>> {
    let leaf = (key(), scalar()).prop_map(|(k, v)| vec![format!("{k}: {v}")]);
    let odd = prop_oneof![
        Just(vec!["# comment".to_owned()]),
        Just(vec![String::new()]),
        Just(vec!["- item".to_owned()]),
        Just(vec!["\tx: 1".to_owned()]),
        Just(vec!["k: 1 # c".to_owned()]),
        Just(vec!["k: 1\r".to_owned()]),
        Just(vec!["---".to_owned()]),
        (key()).prop_map(|k| vec![format!("{k}:")]),
    ];
    let entry = if depth == 0 {
        prop_oneof![8 => leaf, 1 => odd].boxed()
    } else {
        let nested = (key(), mapping(depth - 1)).prop_map(|(k, lines)| {
            std::iter::once(format!("{k}:"))
                .chain(lines.into_iter().map(|l| format!("  {l}")))
                .collect()
        });
        prop_oneof![6 => leaf, 2 => nested, 1 => odd].boxed()
    };
    prop::collection::vec(entry, 1..6)
        .prop_map(|entries| entries.concat())
        .boxed()
}

fn document() -> impl Strategy<Value = String> {
    prop::collection::vec(mapping(3), 1..3).prop_map(|docs| {
        docs.into_iter()
            .map(|lines| format!("{}\n", lines.join("\n")))
            .collect::<Vec<_>>()
            .join("---\n")
    })
}

/// Runs `test` on generated cases until the time budget is spent, each
/// round with the next seed of a fixed sequence (the same cases every run).
fn for_a_while<S: Strategy>(
    strategy: &S,
    cases_per_round: u32,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> usize {
    use proptest::test_runner::{RngAlgorithm, TestRng};
    let deadline = Instant::now() + budget();
    let mut round: u64 = 0;
    while Instant::now() < deadline {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&round.to_le_bytes());
        let mut runner = TestRunner::new_with_rng(
            Config {
                cases: cases_per_round,
                failure_persistence: None,
                ..Config::default()
            },
            TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
        );
        runner
            .run(strategy, &test)
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        round += 1;
    }
    round as usize * cases_per_round as usize
}

#[test]
fn the_fast_reader_agrees_with_the_yaml_parser() {
    for text in CORPUS {
        check_differential(text).unwrap();
    }
    let checked = std::cell::Cell::new(0usize);
    let accepted = std::cell::Cell::new(0usize);
    for_a_while(&document(), 256, |text| {
        checked.set(checked.get() + 1);
        if sluice::render::fast_yaml::parse(&text).is_some() {
            accepted.set(accepted.get() + 1);
        }
        check_differential(&text)
    });
    println!(
        "differential: {} documents, {} of them read by the fast reader",
        checked.get(),
        accepted.get()
    );
    assert!(
        accepted.get() > 0,
        "the generator never reaches the fast reader"
    );
}

fn check_values_differential(text: &str) -> Result<(), TestCaseError> {
    use sluice::source::FileId;
    if let Some(fast) = sluice::values::events::parse(FileId(0), text) {
        match sluice::values::yaml::full(FileId(0), text) {
            Ok(full) => {
                prop_assert_eq!(fast, full, "the event path read this otherwise:\n{}", text)
            }
            // `yaml::parse` checks keys itself and then takes the full
            // path, for its diagnostic.
            Err(d) if d.code == "yaml/duplicate-key" => {}
            Err(d) => prop_assert!(
                false,
                "the event path read what the full path refuses ({}):\n{}",
                d.message,
                text
            ),
        }
    }
    Ok(())
}

/// Values-shaped YAML: block and flow collections, every scalar style,
/// lists of mappings, comments, and now and then something the event path
/// must leave to the full one (anchors, tags, merge keys, bad indentation).
fn values_yaml() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => (key(), scalar()).prop_map(|(k, v)| format!("{k}: {v}\n")),
        2 => (key(), scalar(), scalar()).prop_map(|(k, a, b)| format!("{k}:\n  - {a}\n  - {b}\n")),
        2 => (key(), key(), scalar(), key(), scalar()).prop_map(|(k, a, x, b, y)| format!("{k}:\n  - {a}: {x}\n    {b}: {y}\n  -\n    {a}: {y}\n")),
        1 => (key(), scalar()).prop_map(|(k, v)| format!("{k}: |\n  {v}\n  second line\n")),
        1 => (key(), scalar()).prop_map(|(k, v)| format!("{k}: >-\n  {v}\n\n  more\n")),
        1 => key().prop_map(|k| format!("{k}: 'it''s'\n")),
        1 => key().prop_map(|k| format!("{k}: \"a\\tb\\u00e9\"\n")),
        1 => key().prop_map(|k| format!("{k}: plain\n  continued\n")),
        1 => key().prop_map(|k| format!("# {k}\n")),
        1 => key().prop_map(|k| format!("{k}: {{a: [1, {{b: c}}], d: }}\n")),
        1 => key().prop_map(|k| format!("{k}: &a 1\nz{k}: *a\n")),
        1 => key().prop_map(|k| format!("{k}: !!str 1\n")),
        1 => key().prop_map(|k| format!("<<: {{{k}: 1}}\n")),
        1 => key().prop_map(|k| format!("{k}:\n   a: 1\n  b: 2\n")),
        1 => key().prop_map(|k| format!("? {k}\n: 1\n")),
        1 => Just("---\n".to_owned()),
        1 => Just("é: ü\n".to_owned()),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|p| p.concat())
}

#[test]
fn the_values_event_path_agrees_with_serde_saphyr() {
    let checked = std::cell::Cell::new(0usize);
    let read = std::cell::Cell::new(0usize);
    let strategy = prop_oneof![values_yaml(), document(), values_file()];
    for_a_while(&strategy, 256, |text| {
        checked.set(checked.get() + 1);
        if sluice::values::events::parse(sluice::source::FileId(0), &text).is_some() {
            read.set(read.get() + 1);
        }
        check_values_differential(&text)
    });
    println!(
        "values differential: {} files, {} of them read by the event path",
        checked.get(),
        read.get()
    );
    assert!(
        read.get() * 10 > checked.get(),
        "the event path reads too few of the generated files to be tested"
    );
}

/// A common.yaml with a `streams:` list of generated items, read in
/// pieces and in one go: the same tree, or the pieces step aside.
#[test]
fn a_list_read_in_pieces_is_the_list_read_in_one_go() {
    use sluice::source::FileId;
    let item = values_yaml().prop_map(|body| {
        let mut out = "  - name: s\n".to_owned();
        for line in body.lines() {
            out.push_str(&format!("    {line}\n"));
        }
        out
    });
    let plain = || {
        prop::collection::vec(
            ("[a-r][a-z]{0,6}", "[a-z0-9 ]{0,6}").prop_map(|(k, v)| format!("{k}: {v}\n")),
            0..4,
        )
        .prop_map(|lines| lines.concat())
    };
    let file = (plain(), prop::collection::vec(item, 1..12), plain())
        .prop_map(|(head, items, tail)| format!("{head}streams:\n{}{tail}", items.concat()));
    let split = std::cell::Cell::new(0usize);
    let checked = for_a_while(&file, 256, |text| {
        if let Some(pieces) = sluice::values::events::split(FileId(0), &text) {
            split.set(split.get() + 1);
            let whole = sluice::values::events::parse_at(FileId(0), &text, 0);
            prop_assert!(
                whole.as_ref() == Some(&pieces),
                "read otherwise in pieces:\n{}",
                text
            );
        }
        Ok(())
    });
    println!(
        "pieces: {checked} files, {} of them read in pieces",
        split.get()
    );
    assert!(split.get() > 0, "the generator never reaches the split");
}

/// JSON objects like rendered manifests, with YAML's corners in their
/// strings: the direct writer writes serde-saphyr's bytes, or steps aside.
#[test]
fn the_yaml_writer_writes_what_serde_saphyr_writes() {
    let text = prop_oneof![
        6 => "[a-zA-Z0-9 ./:_-]{0,12}",
        2 => "[-+.0-9eExo_:]{1,6}",
        1 => "[a-z #'\"\\,\\[\\]{}*&!%@`?|>=<~]{0,6}",
        1 => Just("y".to_owned()),
        1 => Just("Off".to_owned()),
        1 => Just("2024-01-01 10:00:00".to_owned()),
        1 => Just("x".repeat(90)),
    ];
    let leaf = prop_oneof![
        6 => text.clone().prop_map(serde_json::Value::String),
        1 => any::<i64>().prop_map(serde_json::Value::from),
        1 => any::<bool>().prop_map(serde_json::Value::Bool),
        1 => Just(serde_json::Value::Null),
        1 => Just(serde_json::json!({})),
        1 => Just(serde_json::json!([])),
        1 => Just(serde_json::json!(1.5)),
    ];
    let value = leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(serde_json::Value::Array),
            prop::collection::vec(("[a-zA-Z0-9./_-]{1,8}|[yn]|[0-9.]{1,3}", inner), 1..5)
                .prop_map(|entries| { serde_json::Value::Object(entries.into_iter().collect()) }),
        ]
    });
    let written = std::cell::Cell::new(0usize);
    let checked = for_a_while(&value, 256, |v| {
        if let Some(mine) = sluice::render::emit::yaml(&v) {
            written.set(written.get() + 1);
            let theirs = serde_saphyr::to_string(&v).unwrap();
            prop_assert_eq!(&mine, &theirs, "{}", v);
        }
        Ok(())
    });
    println!(
        "writer: {checked} values, {} written directly",
        written.get()
    );
    assert!(
        written.get() * 10 > checked,
        "the writer steps aside too often to be tested"
    );
}

/// Random values files: keys of the schema at random depths, values of
/// every type, sometimes hostile (huge numbers, templates in strings).
fn values_file() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("mainClass"),
        Just("arguments"),
        Just("sink"),
        Just("executor"),
        Just("driver"),
        Just("instances"),
        Just("memory"),
        Just("cores"),
        Just("sparkConf"),
        Just("labels"),
        Just("suspend"),
        Just("enabled"),
        Just("environments"),
        Just("dev"),
        Just("name"),
        Just("tolerations"),
        Just("lint"),
        Just("secrets"),
        Just("x-unknown"),
    ];
    let scalar = prop_oneof![
        Just("1".to_owned()),
        Just("-1".to_owned()),
        Just("1e400".to_owned()),
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("\"{{ 7*7 }}\"".to_owned()),
        Just("[a, {b: c}]".to_owned()),
        Just("{}".to_owned()),
        Just("4g".to_owned()),
        Just("s3a://x/y".to_owned()),
        Just("&a x".to_owned()),
        Just("*a".to_owned()),
        "[a-z]{1,5}",
    ];
    prop::collection::vec((0usize..4, key, prop::option::of(scalar)), 0..10).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(depth, key, value)| {
                let indent = "  ".repeat(depth);
                match value {
                    Some(v) => format!("{indent}{key}: {v}\n"),
                    None => format!("{indent}{key}:\n"),
                }
            })
            .collect()
    })
}

/// Random extra templates, from valid to broken to expensive.
fn template() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        Just("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ stream.name | tojson }}\n  namespace: {{ environment.namespace | tojson }}\n".to_owned()),
        Just("data:\n  k: {{ values | tojson }}\n".to_owned()),
        Just("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}\n".to_owned()),
        Just("{{ \"x\" * 100000000 }}{{ \"x\" * 100000000 }}\n".to_owned()),
        Just("{{ missing }}\n".to_owned()),
        Just("{% if %}\n".to_owned()),
        Just("kind: {{ \"../../x\" | tojson }}\n".to_owned()),
        Just("{% include \"extra.yaml.j2\" %}\n".to_owned()),
        Just("{{ values.sparkConf | default({}) | tojson }}\n".to_owned()),
        Just("---\n".to_owned()),
        "[a-z: \n{}%#-]{0,20}",
    ];
    prop::collection::vec(part, 0..4).prop_map(|parts| parts.concat())
}

#[test]
fn random_repositories_never_panic_or_hang() {
    let strategy = (values_file(), values_file(), prop::option::of(template()));
    let cases = std::cell::Cell::new(0usize);
    for_a_while(&strategy, 8, |(stream, env, template)| {
        cases.set(cases.get() + 1);
        let env = format!("namespace: streams-dev\n{env}");
        let mut files = vec![
            ("values/streams/orders.yaml", Some(stream.as_str())),
            ("values/environments/dev.yaml", Some(env.as_str())),
        ];
        if let Some(t) = &template {
            files.push(("templates/extra.yaml.j2", Some(t.as_str())));
        }
        let repo = common::Repo::with(&files);
        for args in [&["lint"][..], &["render", "--env", "dev"]] {
            let started = Instant::now();
            let out = repo.sluice(args);
            let took = started.elapsed();
            prop_assert!(
                matches!(out.code, 0..=2),
                "{args:?} exit {} on\n--- stream\n{stream}\n--- env\n{env}\n--- template\n{template:?}\n{}",
                out.code,
                out.stderr
            );
            prop_assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
            prop_assert!(
                took < Duration::from_secs(5),
                "{args:?} took {took:?} on\n{stream}\n{env}\n{template:?}"
            );
        }
        Ok(())
    });
    println!("pipeline: {} repositories", cases.get());
}
