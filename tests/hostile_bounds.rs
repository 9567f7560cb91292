//! A merge request controls `values/`, `templates/` and the schema: no
//! file in them can make sluice hang, run out of memory or abort. Every
//! case ends within two seconds with a finding that names the file (and
//! the line, where there is one) and exit code 1 (lint findings) or 2.

#![cfg(unix)]

mod common;

use common::{Output, Repo};
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Each hostile case, including starting the binary: a hang guard, not a
/// speed target (those are in bench/). A debug build, which the suite
/// uses, runs sluice's own code unoptimised and compiles the generated
/// schemas at start-up: the same cases take 0.3 s in a release build,
/// where `cargo test --release --test hostile_bounds` holds them to 2 s.
const BOUND: Duration = if cfg!(debug_assertions) {
    Duration::from_secs(5)
} else {
    Duration::from_secs(2)
};

/// For a case that parses a file of 200,000 nodes: the YAML parser's
/// generic code is instantiated in sluice's own crate, which a debug
/// build does not optimise (about 2 s here, 0.3 s in a release build,
/// where `cargo test --release --test hostile_bounds` holds it to 2 s).
fn parse_bound() -> Duration {
    if cfg!(debug_assertions) {
        Duration::from_secs(8)
    } else {
        BOUND
    }
}

/// One run at a time: each is timed, and the machine may have two cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn timed(repo: &Repo, args: &[&str]) -> Output {
    timed_within(repo, args, BOUND)
}

fn timed_within(repo: &Repo, args: &[&str], bound: Duration) -> Output {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let started = Instant::now();
    let out = repo.sluice(args);
    let took = started.elapsed();
    assert!(
        took < bound,
        "sluice {args:?} took {took:?}\nstdout: {}\nstderr: {}",
        head(&out.stdout),
        head(&out.stderr)
    );
    eprintln!("sluice {args:?}: {took:?}, exit {}", out.code);
    out
}

/// The start of a (possibly huge) output, for assertion messages.
fn head(text: &str) -> &str {
    let mut end = text.len().min(4000);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn assert_has(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "no `{needle}` in:\n{}", head(text));
    }
}

fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A template in the base repository (it renders for both streams in
/// both environments).
fn with_template(text: &str) -> Repo {
    Repo::with(&[("templates/extra.yaml.j2", Some(text))])
}

#[test]
fn a_fifo_in_values_is_refused_unopened() {
    let repo = Repo::with(&[]);
    mkfifo(&repo.path().join("values/streams/fifo.yaml"));
    let out = timed(&repo, &["lint"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_has(
        &out.stdout,
        &[
            "error[repo/unreadable]: cannot read `values/streams/fifo.yaml`: it is a FIFO (named pipe), not a regular file",
            "--> values/streams/fifo.yaml:1:1",
        ],
    );
}

#[test]
fn a_fifo_in_templates_is_refused_unopened() {
    let repo = Repo::with(&[]);
    mkfifo(&repo.path().join("templates/extra.yaml.j2"));
    let out = timed(&repo, &["lint"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_has(
        &out.stdout,
        &[
            "error[repo/unreadable]: cannot read `templates/extra.yaml.j2`: it is a FIFO (named pipe), not a regular file",
            "--> templates/extra.yaml.j2:1:1",
        ],
    );
    let out = timed(&repo, &["render", "--env", "dev"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_has(&out.stderr, &["templates/extra.yaml.j2"]);
}

#[test]
fn a_fifo_as_the_schema_is_refused_unopened() {
    let repo = Repo::with(&[]);
    mkfifo(&repo.path().join("schemas/values.schema.json"));
    let out = timed(&repo, &["lint"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_has(
        &out.stdout,
        &[
            "error[repo/unreadable]: cannot read `schemas/values.schema.json`: it is a FIFO (named pipe), not a regular file",
            "--> schemas/values.schema.json:1:1",
            "the built-in schema was used instead",
        ],
    );
}

#[test]
fn a_symlink_loop_is_walked_once() {
    let repo = Repo::with(&[]);
    let streams = repo.path().join("values/streams");
    // Followed naively, two links to `.` make 2^depth paths.
    std::os::unix::fs::symlink(".", streams.join("a")).unwrap();
    std::os::unix::fs::symlink(".", streams.join("b")).unwrap();
    // A link up to the repository root, and two names for one directory.
    std::os::unix::fs::symlink("../..", streams.join("root")).unwrap();
    std::fs::create_dir_all(repo.path().join("values/shared")).unwrap();
    std::os::unix::fs::symlink("../shared", streams.join("shared-again")).unwrap();
    let out = timed(&repo, &["lint"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_has(
        &out.stdout,
        &[
            "error[repo/unreadable]: cannot read `values/streams/a`: it leads back to `values/streams`, which contains it (a symlink loop)",
            "--> values/streams/a:1:1",
            "cannot read `values/streams/b`: it leads back to `values/streams`",
            "cannot read `values/streams/shared-again`: it is another name for `values/shared`, which is read already",
        ],
    );
    // The streams are read once: no duplicates.
    assert!(!out.stdout.contains("duplicate"), "{}", out.stdout);
}

#[test]
fn a_symlink_to_a_device_is_refused() {
    let repo = Repo::with(&[]);
    let streams = repo.path().join("values/streams");
    std::os::unix::fs::symlink("/dev/zero", streams.join("zero.yaml")).unwrap();
    std::fs::create_dir_all(repo.path().join("templates")).unwrap();
    std::os::unix::fs::symlink("/dev/urandom", repo.path().join("templates/random.yaml.j2"))
        .unwrap();
    let out = timed(&repo, &["lint"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_has(
        &out.stdout,
        &[
            "error[repo/outside-root]: `values/streams/zero.yaml` resolves outside the repository",
            "--> values/streams/zero.yaml:1:1",
            "`templates/random.yaml.j2` resolves outside the repository",
        ],
    );
}

#[test]
#[ignore = "needs root to make a device node: cargo test -- --include-ignored, as CI runs as root"]
fn a_device_inside_the_repository_is_refused_unopened() {
    let repo = Repo::with(&[]);
    let node = repo.path().join("values/streams/zero.yaml");
    // /dev/zero's numbers; only root may make a device node.
    let made = std::process::Command::new("mknod")
        .arg(&node)
        .args(["c", "1", "5"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        made,
        "cannot create a device node here (needs root): leave this test ignored"
    );
    // And a symlink to it, inside the repository.
    std::os::unix::fs::symlink("zero.yaml", repo.path().join("values/streams/link.yaml")).unwrap();
    let out = timed(&repo, &["lint"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_has(
        &out.stdout,
        &[
            "cannot read `values/streams/zero.yaml`: it is a character device, not a regular file",
            "--> values/streams/zero.yaml:1:1",
            "cannot read `values/streams/link.yaml`: it is a character device, not a regular file",
        ],
    );
}

#[test]
fn a_file_over_the_size_limit_is_not_read() {
    let repo = Repo::with(&[]);
    let mut big = b"mainClass: x\nx: \"".to_vec();
    big.resize(5_000_000, b'a');
    big.extend_from_slice(b"\"\n");
    repo.write("values/streams/big.yaml", &big);
    let out = timed(&repo, &["lint"]);
    assert_eq!(out.code, 1, "{}", head(&out.stdout));
    assert_has(
        &out.stdout,
        &[
            "error[repo/unreadable]: cannot read `values/streams/big.yaml`: it is 5.0 MB; sluice reads files of at most 4 MB",
            "--> values/streams/big.yaml:1:1",
        ],
    );
    // A revision holds the same limit, and never inflates the blob.
    common::git_in(repo.path(), &["init", "-q"]);
    common::git_in(repo.path(), &["add", "-A"]);
    common::git_in(repo.path(), &["commit", "-q", "-m", "big"]);
    let out = timed(&repo, &["lint", "--rev", "HEAD"]);
    assert_eq!(out.code, 1, "{}{}", head(&out.stdout), out.stderr);
    assert_has(
        &out.stdout,
        &["cannot read `values/streams/big.yaml`: it is 5.0 MB"],
    );
}

#[test]
fn an_endless_loop_runs_out_of_fuel() {
    let repo = with_template(
        "kind: ConfigMap\n{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}\n",
    );
    let out = timed(&repo, &["lint"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let fuel = sluice::render::guard::FUEL;
    assert_has(
        &out.stdout,
        &[
            &format!(
                "error[render/template]: stream `orders` in `dev`: the template ran out of fuel ({fuel} instructions)"
            ),
            "--> templates/extra.yaml.j2:2:",
            "stream `payments` in `prod`: the template ran out of fuel",
        ],
    );
    let out = timed(&repo, &["render", "--env", "dev"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_has(
        &out.stderr,
        &["ran out of fuel", "templates/extra.yaml.j2:2:"],
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn forty_huge_constant_strings_stop_at_the_memory_budget() {
    // minijinja builds constant expressions as it compiles the template.
    let repo = with_template(&"{{ \"x\" * 100000000 }}\n".repeat(40));
    assert_stopped(
        &timed(&repo, &["lint"]),
        "needed more than 256 MB of memory",
    );
    assert_stopped(
        &timed(&repo, &["render", "--env", "dev"]),
        "needed more than 256 MB of memory",
    );
}

#[test]
fn forty_huge_strings_stop_at_the_output_cap() {
    let repo = with_template(&"{% set n = 100000000 %}{{ \"x\" * n }}\n".repeat(40));
    let out = timed(&repo, &["lint"]);
    assert_eq!(out.code, 1, "{}", head(&out.stdout));
    assert_has(
        &out.stdout,
        &[
            "error[render/template]: stream `orders` in `dev`: the template's output exceeds 4 MB",
            "--> templates/extra.yaml.j2:1:",
        ],
    );
    let out = timed(&repo, &["render", "--env", "prod"]);
    assert_eq!(out.code, 2, "{}", head(&out.stderr));
    assert_has(&out.stderr, &["the template's output exceeds 4 MB"]);
    // Many pieces, each small: the cap holds for their sum.
    let repo = with_template("{% for i in range(100000) %}{{ \"x\" * 1000 }}{% endfor %}\n");
    let out = timed(&repo, &["lint"]);
    assert_eq!(out.code, 1, "{}", head(&out.stdout));
    assert_has(
        &out.stdout,
        &[
            "the template's output exceeds 4 MB",
            "--> templates/extra.yaml.j2:1:1",
        ],
    );
}

/// The backstops for a render that never hands control back: they stop
/// sluice (exit 2) with a message naming the stream and the template.
fn assert_stopped(out: &Output, what: &str) {
    assert_eq!(out.code, 2, "{}", head(&out.stderr));
    assert_has(
        &out.stderr,
        &[
            "error[render/template]: ",
            "template `templates/extra.yaml.j2`",
            what,
            "sluice stopped",
        ],
    );
    assert!(!out.stderr.contains("memory allocation"), "{}", out.stderr);
}

#[test]
fn huge_strings_kept_in_variables_stop_at_the_memory_budget() {
    let sets: String = (0..40)
        .map(|i| format!("{{% set s{i} = \"x\" * 100000000 %}}\n"))
        .collect();
    let repo = with_template(&format!("{sets}kind: ConfigMap\n"));
    assert_stopped(
        &timed(&repo, &["lint"]),
        "needed more than 256 MB of memory",
    );
    // Doubling by concatenation: 2^40 bytes without the budget.
    let repo = with_template(
        "{% set ns = namespace(s=\"x\" * 1000000) %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}kind: ConfigMap\n",
    );
    assert_stopped(
        &timed(&repo, &["render", "--env", "dev"]),
        "needed more than 256 MB of memory",
    );
}

#[test]
fn work_that_spends_no_fuel_stops_at_the_deadline() {
    // One filter call over a lazily repeated list of 10^8 items.
    let repo = with_template("x: {{ ([1] * 100000000) | sum }}\n");
    assert_stopped(&timed(&repo, &["lint"]), "took more than 1 s");
}

#[test]
fn huge_keys_are_reported_at_once() {
    // Over the file size limit: never read.
    let key = "k".repeat(10_000_000);
    let text = format!("mainClass: com.example.Orders\n{key}: 1\n");
    let repo = Repo::with(&[("values/streams/orders.yaml", Some(&text))]);
    let out = timed(&repo, &["lint"]);
    assert_eq!(out.code, 1, "{}", head(&out.stdout));
    assert_has(
        &out.stdout,
        &["cannot read `values/streams/orders.yaml`: it is 10.0 MB"],
    );
    // Within it, as an explicit key (YAML allows no plain key this long):
    // refused as it is parsed, before any stage reads the key.
    let key = "k".repeat(3_000_000);
    let text = format!("mainClass: com.example.Orders\n? {key}\n: 1\n");
    let repo = Repo::with(&[("values/streams/orders.yaml", Some(&text))]);
    let out = timed(&repo, &["lint"]);
    assert_eq!(out.code, 1, "{}", head(&out.stdout));
    assert_has(
        &out.stdout,
        &[
            "error[yaml/too-complex]: a key of 3000000 characters; sluice reads keys of at most 1024 characters",
            "--> values/streams/orders.yaml:2:3",
        ],
    );
    assert!(
        out.stdout.len() < 10_000,
        "the report stays short: {} bytes",
        out.stdout.len()
    );
    // A long unknown key within the limit: no edit distance against it,
    // and the message quotes its start.
    let key = "k".repeat(1000);
    let text = format!("mainClass: com.example.Orders\n{key}: 1\n");
    let repo = Repo::with(&[("values/streams/orders.yaml", Some(&text))]);
    let out = timed(&repo, &["lint"]);
    assert_eq!(out.code, 1, "{}", head(&out.stdout));
    assert_has(
        &out.stdout,
        &[
            "error[values/unknown-key]: unknown key `kkkk",
            "… (1000 characters)` at the top level",
            "--> values/streams/orders.yaml:2:1",
        ],
    );
}

#[test]
fn a_file_with_too_many_nodes_names_the_limit() {
    let keys: String = (0..100_000).map(|i| format!("k{i}: {i}\n")).collect();
    let repo = Repo::with(&[("values/streams/orders.yaml", Some(&keys))]);
    let out = timed_within(&repo, &["lint"], parse_bound());
    assert_eq!(out.code, 1, "{}", head(&out.stdout));
    let limit = sluice::values::yaml::MAX_NODES;
    assert_has(
        &out.stdout,
        &[
            &format!(
                "error[yaml/too-complex]: the file has more than {limit} nodes (keys and values); sluice reads at most {limit} per file"
            ),
            "--> values/streams/orders.yaml:",
        ],
    );
}
