//! Restart waves on a real kube-apiserver (scripts/test-cluster.sh): the
//! test plays spark-operator in the background (a new submission, RUNNING
//! with its executors, for every spec generation it has not seen), and
//! records the order in which it saw the streams' new specs. Ignored unless
//! asked for, like tests/cluster.rs.

mod common;

use common::Output;
use common::cluster::{Env, apps, kubeconfig};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The streams, by name: what `apply` sorts waves by.
const STREAMS: [&str; 5] = ["a", "b", "c", "orders", "payments"];

/// dev with five Spark streams.
async fn five_streams() -> Env {
    let env = Env::new(kubeconfig()).await;
    for s in ["a", "b", "c"] {
        env.write(
            &format!("values/streams/{s}.yaml"),
            &format!("mainClass: com.example.{s}\nsink: s3a://lake/{s}\n"),
        );
    }
    env
}

/// The operator the test plays: every generation of a stream it has not
/// seen gets a new submission, RUNNING with its executors (FAILED for the
/// streams in `failing`, after their first generation). `seen` records the
/// streams in the order their new generations were first seen.
struct Operator {
    seen: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Operator {
    fn start(env: &Env, failing: &'static [&'static str]) -> Operator {
        Operator::with_delay(env, failing, Duration::from_millis(200))
    }

    /// An operator that answers each new generation `delay` after it sees
    /// it (all due answers at once, as the real one works in parallel).
    fn with_delay(env: &Env, failing: &'static [&'static str], delay: Duration) -> Operator {
        let api: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), &env.dev, &apps());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            let mut generations: std::collections::BTreeMap<String, i64> = Default::default();
            // name → (the status to write, when)
            let mut due: std::collections::BTreeMap<String, (Value, std::time::Instant)> =
                Default::default();
            loop {
                let list = api.list(&Default::default()).await.unwrap();
                for object in list.items {
                    let object = serde_json::to_value(object).unwrap();
                    let name = object["metadata"]["name"].as_str().unwrap().to_owned();
                    let generation = object["metadata"]["generation"].as_i64().unwrap();
                    if generations.get(&name) == Some(&generation) {
                        continue;
                    }
                    let first = !generations.contains_key(&name);
                    generations.insert(name.clone(), generation);
                    if !first {
                        log.lock().unwrap().push(name.clone());
                    }
                    let instances = object
                        .pointer("/spec/executor/instances")
                        .and_then(Value::as_u64)
                        .unwrap_or(1);
                    let executors: serde_json::Map<String, Value> = (1..=instances)
                        .map(|i| (format!("exec-{i}"), json!("RUNNING")))
                        .collect();
                    let fails = !first && failing.contains(&name.as_str());
                    let state = if fails { "FAILED" } else { "RUNNING" };
                    let mut status = json!({"status": {
                        "applicationState": {"state": state},
                        "submissionID": format!("{name}-{generation}"),
                        "driverInfo": {},
                        "executorState": executors,
                    }});
                    if fails {
                        status["status"]["applicationState"]["errorMessage"] =
                            json!("driver pod OOMKilled");
                    }
                    // sluice sees the stale status first, as with a real
                    // operator.
                    due.insert(name, (status, std::time::Instant::now() + delay));
                }
                let now = std::time::Instant::now();
                let ready: Vec<String> = due
                    .iter()
                    .filter(|(_, (_, at))| *at <= now)
                    .map(|(n, _)| n.clone())
                    .collect();
                for name in ready {
                    let (status, _) = due.remove(&name).unwrap();
                    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
                        .await
                        .unwrap();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Operator { seen, task }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    /// What it has seen once it has seen `n` new generations (an apply
    /// without waves returns before the operator looks).
    async fn seen_once(&self, n: usize) -> Vec<String> {
        for _ in 0..100 {
            if self.seen.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.seen()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// sluice, run off the runtime so the operator keeps playing meanwhile.
async fn sluice(env: &Env, args: &[&str]) -> Output {
    let repo = env.repo.path().to_owned();
    let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    all.extend([
        "--kubeconfig".into(),
        env.kubeconfig.clone(),
        "--color".into(),
        "never".into(),
    ]);
    tokio::task::spawn_blocking(move || {
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        common::sluice_within(&repo, &all, &[], Duration::from_secs(180))
    })
    .await
    .unwrap()
}

/// `sluice apply --env dev`, with `extra`.
async fn apply(env: &Env, extra: &[&str]) -> Output {
    let mut args = vec!["apply", "--env", "dev"];
    args.extend_from_slice(extra);
    sluice(env, &args).await
}

/// `seen`, cut into the waves' sizes: each wave's streams were all seen
/// before any of the next wave's.
fn cut(seen: &[String], sizes: &[usize]) -> Vec<Vec<String>> {
    assert_eq!(seen.len(), sizes.iter().sum::<usize>(), "{seen:?}");
    let mut at = 0;
    sizes
        .iter()
        .map(|n| {
            let mut wave = seen[at..at + n].to_vec();
            wave.sort();
            at += n;
            wave
        })
        .collect()
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn waves_of_one_of_all_and_canary_then_three() {
    let env = five_streams().await;
    let operator = Operator::start(&env, &[]);
    let first = apply(&env, &["--wait", "--timeout", "30s"]).await;
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);

    // The JSON result lists the waves (a dry run writes none).
    let plan = apply(
        &env,
        &[
            "--max-unavailable",
            "2",
            "--dry-run",
            "--format",
            "json",
            "--set",
            "executor.instances=9",
        ],
    )
    .await;
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
    let waves: Vec<usize> = plan["waves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["streams"].as_array().unwrap().len())
        .collect();
    assert_eq!(waves, [2, 2, 1]);

    // Waves of one: each stream restarts alone, by name.
    let out = apply(
        &env,
        &[
            "--max-unavailable",
            "1",
            "--timeout",
            "30s",
            "--set",
            "executor.instances=3",
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("restarts in 5 waves of at most 1"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("wave 5 of 5 ready"), "{}", out.stderr);
    assert_eq!(
        cut(&operator.seen(), &[1; 5]),
        STREAMS.map(|s| vec![s.to_owned()])
    );

    // All at once: one step, as without waves.
    operator.seen.lock().unwrap().clear();
    let out = apply(
        &env,
        &["--max-unavailable", "10", "--set", "executor.instances=4"],
    )
    .await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!out.stderr.contains("wave"), "{}", out.stderr);
    assert_eq!(cut(&operator.seen_once(5).await, &[5]), [names(&STREAMS)]);

    // The environment's rollout: the canary alone, then waves of three.
    let dev =
        std::fs::read_to_string(env.repo.path().join("values/environments/dev.yaml")).unwrap();
    env.write(
        "values/environments/dev.yaml",
        &format!("{dev}rollout: {{maxUnavailable: 3, canary: [payments]}}\n"),
    );
    let diff = sluice(
        &env,
        &["diff", "--env", "dev", "--set", "executor.instances=5"],
    )
    .await;
    assert!(
        diff.stdout
            .contains("in 3 waves of at most 3 (rollout.maxUnavailable)"),
        "{}",
        diff.stdout
    );
    assert!(
        diff.stdout.contains("wave 1 of 3 (canary): payments"),
        "{}",
        diff.stdout
    );
    operator.seen.lock().unwrap().clear();
    let out = apply(&env, &["--timeout", "30s", "--set", "executor.instances=5"]).await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        cut(&operator.seen(), &[1, 3, 1]),
        [
            names(&["payments"]),
            names(&["a", "b", "c"]),
            names(&["orders"])
        ]
    );

    // A flag's size overrides the file's; the canary still goes first.
    operator.seen.lock().unwrap().clear();
    let out = apply(
        &env,
        &["--max-unavailable", "10", "--set", "executor.instances=6"],
    )
    .await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("wave 1 of 2 (canary): payments"),
        "{}",
        out.stderr
    );
    assert_eq!(
        cut(&operator.seen_once(5).await, &[1, 4]),
        [names(&["payments"]), names(&["a", "b", "c", "orders"])]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn a_failure_in_wave_two_stops_the_later_waves() {
    let env = five_streams().await;
    let operator = Operator::start(&env, &["b"]);
    let first = apply(&env, &["--wait", "--timeout", "30s"]).await;
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    let instances = |o: &Value| o.pointer("/spec/executor/instances").cloned();
    let before = instances(&env.live(&env.dev, "c").await.unwrap());

    let out = apply(
        &env,
        &[
            "--max-unavailable",
            "1",
            "--timeout",
            "30s",
            "--set",
            "executor.instances=5",
        ],
    )
    .await;
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("the rollout stopped in wave 2 of 5"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("driver pod OOMKilled"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("on the new values: a\n"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("failed: b\n"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("not touched (no later wave was written): c, orders, payments"),
        "{}",
        out.stderr
    );
    // Nothing of the later waves was written.
    assert_eq!(instances(&env.live(&env.dev, "c").await.unwrap()), before);
    assert_eq!(operator.seen(), ["a", "b"]);
}

/// The README's measurement: 200 changed streams in waves of 20, the
/// operator answering each new submission after 1 s. sluice polls with one
/// LIST per second for the whole wave, never a GET per stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn two_hundred_streams_in_waves_of_twenty() {
    let env = Env::new(kubeconfig()).await;
    for i in 0..198 {
        env.write(
            &format!("values/streams/s{i:03}.yaml"),
            &format!("mainClass: com.example.S{i}\nsink: s3a://lake/s{i}\n"),
        );
    }
    let _operator = Operator::with_delay(&env, &[], Duration::from_secs(1));
    let first = apply(&env, &["--wait", "--timeout", "120s"]).await;
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    let started = std::time::Instant::now();
    let out = apply(
        &env,
        &[
            "--max-unavailable",
            "20",
            "--timeout",
            "120s",
            "--set",
            "executor.instances=3",
            "-v",
        ],
    )
    .await;
    let took = started.elapsed();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("wave 10 of 10 ready"), "{}", out.stderr);
    let requests = common::cluster::requests(&out);
    // Per stream: one dry run and one write; per wave, a LIST a second.
    let polls = requests - 2 * 200;
    println!(
        "200 streams in 10 waves of 20, operator answering after 1 s: {:.1} s, {requests} API requests ({polls} besides the 200 dry runs and 200 writes)",
        took.as_secs_f64()
    );
    assert!(
        polls < 10 * 10,
        "{polls} requests besides the writes: {}",
        out.stderr
    );
}
