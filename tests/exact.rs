//! Exact apply, differentially against the real API server: after every
//! `apply`, the live object equals a fresh server-side create of the same
//! rendered manifest; a second `apply` writes nothing; an object is written
//! exactly when its render changed; and "restarts" is reported exactly when
//! the server moved `metadata.generation`.
//!
//! A table of value changes (add, change, remove at every depth, in maps
//! and lists, nulls, emptied maps, metadata only, `suspend`, a moved
//! checkpoint) and seeded random mutations, many streams per apply.

mod common;

use common::Repo;
use common::cluster::{client, comparable, kubeconfig, namespace, unique};
use kube::api::{Api, DynamicObject, PostParams};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

fn apps() -> kube::api::ApiResource {
    sluice::cluster::spark_application()
}

/// What a stream starts from: something at every depth.
fn base(stream: &str) -> Value {
    json!({
        "mainClass": "com.example.Stream",
        "arguments": ["--topic", stream, "--every", "60"],
        "sink": format!("s3a://lake/{stream}"),
        "labels": {"tier": "gold", "k1": "v1"},
        "annotations": {"owner": "bi"},
        "driver": {"labels": {"a": "1"}, "annotations": {"d": "1"}, "env": {"A": "1", "B": "x"}},
        "executor": {"instances": 2, "labels": {"e": "1"}},
        "sparkConf": {"spark.a": "1", "spark.b": "2"},
        "hadoopConf": {"fs.a": "1"},
        "nodeSelector": {"pool": "spark"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "spark", "effect": "NoSchedule"}],
        "podTemplate": {"driver": {"spec": {"containers": [
            {"name": "shipper", "image": "fluent/fluent-bit:3.1.9", "args": ["-c", "x"], "command": ["/bin/fb"]}
        ]}}}
    })
}

/// Sets (`Some`) or removes (`None`) the value at a JSON pointer, creating
/// missing maps on the way; an index one past a list's end appends.
fn set(root: &mut Value, pointer: &str, new: Option<Value>) {
    let segments: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let (last, parents) = segments.split_last().expect("a pointer below the root");
    let mut node = root;
    for seg in parents {
        node = match node {
            Value::Array(items) => &mut items[seg.parse::<usize>().unwrap()],
            Value::Object(map) => map.entry(seg.clone()).or_insert_with(|| json!({})),
            other => panic!("cannot descend into {other} at {seg}"),
        };
    }
    match (node, new) {
        (Value::Object(map), Some(v)) => {
            map.insert(last.clone(), v);
        }
        (Value::Object(map), None) => {
            map.remove(last);
        }
        (Value::Array(items), Some(v)) => {
            let i: usize = last.parse().unwrap();
            if i == items.len() {
                items.push(v);
            } else {
                items[i] = v;
            }
        }
        (Value::Array(items), None) => {
            items.remove(last.parse::<usize>().unwrap());
        }
        (other, _) => panic!("cannot set {last} in {other}"),
    }
}

type Mutation = (&'static str, &'static str, Option<Value>);

/// Each applied to a fresh stream at its base.
fn table() -> Vec<Mutation> {
    let c = "/podTemplate/driver/spec/containers/0";
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    vec![
        ("change a list item", "/arguments/3", Some(json!("30"))),
        ("append to a list", "/arguments/4", Some(json!("--x"))),
        ("remove a list item", "/arguments/3", None),
        ("empty a list", "/arguments", Some(json!([]))),
        ("change a label", "/labels/tier", Some(json!("silver"))),
        ("add a label", "/labels/new", Some(json!("yes"))),
        ("remove a label", "/labels/tier", None),
        ("empty the labels", "/labels", Some(json!({}))),
        (
            "change an annotation",
            "/annotations/owner",
            Some(json!("ops")),
        ),
        ("remove the annotations", "/annotations", None),
        (
            "change a driver label",
            "/driver/labels/a",
            Some(json!("2")),
        ),
        ("empty the driver labels", "/driver/labels", Some(json!({}))),
        ("null a driver label", "/driver/labels/a", Some(Value::Null)),
        ("remove a driver env var", "/driver/env/A", None),
        ("add a driver env var", "/driver/env/C", Some(json!("3"))),
        ("change a driver env var", "/driver/env/B", Some(json!("y"))),
        (
            "change executor instances",
            "/executor/instances",
            Some(json!(3)),
        ),
        ("remove an executor label", "/executor/labels/e", None),
        (
            "change a spark conf",
            "/sparkConf/spark.a",
            Some(json!("10")),
        ),
        ("remove a spark conf", "/sparkConf/spark.b", None),
        ("add a spark conf", "/sparkConf/spark.c", Some(json!("3"))),
        ("empty the hadoop conf", "/hadoopConf", Some(json!({}))),
        (
            "change the node selector",
            "/nodeSelector/pool",
            Some(json!("other")),
        ),
        ("remove the node selector", "/nodeSelector", None),
        (
            "remove a key of a toleration",
            "/tolerations/0/effect",
            None,
        ),
        (
            "change a toleration value",
            "/tolerations/0/value",
            Some(json!("x")),
        ),
        (
            "add a toleration",
            "/tolerations/1",
            Some(json!({"key": "k", "operator": "Exists"})),
        ),
        ("empty the tolerations", "/tolerations", Some(json!([]))),
        (
            "remove a sidecar's command",
            leak(format!("{c}/command")),
            None,
        ),
        (
            "change a sidecar arg",
            leak(format!("{c}/args/1")),
            Some(json!("y")),
        ),
        (
            "add a sidecar env list",
            leak(format!("{c}/env")),
            Some(json!([{"name": "X", "value": "1"}])),
        ),
        (
            "null a sidecar field",
            leak(format!("{c}/workingDir")),
            Some(Value::Null),
        ),
        ("suspend", "/suspend", Some(json!(true))),
        (
            "move the checkpoint (sink)",
            "/sink",
            Some(json!("s3a://elsewhere/s")),
        ),
        (
            "change the main class",
            "/mainClass",
            Some(json!("com.example.Other")),
        ),
        ("nothing at all (a comment)", "", None),
    ]
}

/// A tiny seeded generator (xorshift64*): the same mutations every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// One random change that keeps the values valid.
fn random_mutation(rng: &mut Rng, values: &mut Value) -> String {
    let maps = [
        "/labels",
        "/annotations",
        "/driver/labels",
        "/driver/annotations",
        "/driver/env",
        "/executor/labels",
        "/sparkConf",
        "/hadoopConf",
        "/nodeSelector",
    ];
    let keys = ["k0", "k1", "k2", "k3"];
    let words = ["v0", "v1", "v2", "v3", "v4"];
    let c = "/podTemplate/driver/spec/containers/0";
    let map_key = |m: &str, k: &str| {
        let k = if m.contains("Conf") {
            format!("spark.{k}")
        } else {
            k.to_owned()
        };
        format!("{m}/{k}")
    };
    match rng.below(12) {
        0..=2 => {
            let m = rng.pick(&maps).to_string();
            let p = map_key(&m, rng.pick(&keys));
            let w = rng.pick(&words).to_string();
            set(values, &p, Some(json!(w)));
            format!("set {p} = {w}")
        }
        3 | 4 => {
            let m = rng.pick(&maps).to_string();
            let p = map_key(&m, rng.pick(&keys));
            if values.pointer(&p).is_some() {
                set(values, &p, None);
            }
            format!("remove {p}")
        }
        5 => {
            let m = rng.pick(&maps).to_string();
            set(values, &m, Some(json!({})));
            format!("empty {m}")
        }
        6 => {
            let n = rng.below(4);
            let args: Vec<&str> = (0..n).map(|_| rng.pick(&words)).collect();
            set(values, "/arguments", Some(json!(args)));
            format!("arguments = {args:?}")
        }
        7 => {
            let n = 1 + rng.below(4);
            set(values, "/executor/instances", Some(json!(n)));
            format!("instances = {n}")
        }
        8 => {
            if values.get("suspend").is_some() {
                set(values, "/suspend", None);
                "resume".into()
            } else {
                set(values, "/suspend", Some(json!(true)));
                "suspend".into()
            }
        }
        9 => {
            let tolerations = match rng.below(4) {
                0 => json!([]),
                1 => json!([{"key": "dedicated", "operator": "Exists"}]),
                2 => {
                    json!([{"key": "dedicated", "operator": "Equal", "value": rng.pick(&words), "effect": "NoSchedule"}])
                }
                _ => {
                    json!([{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists", "effect": "NoExecute"}])
                }
            };
            set(values, "/tolerations", Some(tolerations.clone()));
            format!("tolerations = {tolerations}")
        }
        10 => {
            let p = format!("{c}/{}", rng.pick(&["command", "args", "workingDir"]));
            let v = match rng.below(3) {
                0 => None,
                1 => Some(json!([rng.pick(&words)])),
                _ => Some(Value::Null),
            };
            let v = if p.ends_with("workingDir") {
                v.map(|v| if v.is_array() { json!("/tmp") } else { v })
            } else {
                v
            };
            set(values, &p, v.clone());
            format!("{p} = {v:?}")
        }
        _ => {
            let w = rng.pick(&words).to_string();
            set(values, "/sink", Some(json!(format!("s3a://lake/{w}"))));
            format!("sink = s3a://lake/{w}")
        }
    }
}

struct Bench {
    repo: Repo,
    kubeconfig: String,
    client: kube::Client,
    dev: String,
    oracle: String,
    oracle_round: usize,
}

impl Bench {
    async fn new(kubeconfig: String) -> Bench {
        let client = client(&kubeconfig, "admin").await;
        let dev = unique("exact");
        let oracle = unique("oracle");
        namespace(&client, &dev).await;
        namespace(&client, &oracle).await;
        let repo = Repo::with(&[
            (
                "values/environments/dev.yaml",
                Some(&format!("namespace: {dev}\nkubeContext: admin\n")),
            ),
            ("values/streams/orders.yaml", None),
            ("values/streams/payments.yaml", None),
        ]);
        Bench {
            repo,
            kubeconfig,
            client,
            dev,
            oracle,
            oracle_round: 0,
        }
    }

    fn write(&self, stream: &str, values: &Value) {
        let text = serde_json::to_string_pretty(values).unwrap();
        self.repo.write(
            &format!("values/streams/{stream}.yaml"),
            format!("# {stream}\n{text}\n").as_bytes(),
        );
    }

    fn sluice(&self, args: &[&str]) -> common::Output {
        let mut all = args.to_vec();
        all.extend(["--kubeconfig", &self.kubeconfig]);
        self.repo.sluice(&all)
    }

    /// `apply --format json`, which must succeed.
    fn apply(&self) -> Value {
        let out = self.sluice(&["apply", "--env", "dev", "--format", "json"]);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        serde_json::from_str(&out.stdout).unwrap()
    }

    /// The rendered SparkApplications of dev, by name.
    fn render(&self) -> BTreeMap<String, Value> {
        let out = self
            .repo
            .sluice(&["render", "--env", "dev", "--format", "json"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let list: Value = serde_json::from_str(&out.stdout).unwrap();
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["kind"] == "SparkApplication")
            .map(|o| {
                (
                    o["metadata"]["name"].as_str().unwrap().to_owned(),
                    o.clone(),
                )
            })
            .collect()
    }

    async fn live(&self) -> BTreeMap<String, Value> {
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &self.dev, &apps());
        api.list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|o| {
                let v = serde_json::to_value(o).unwrap();
                (v["metadata"]["name"].as_str().unwrap().to_owned(), v)
            })
            .collect()
    }

    /// The oracle: a fresh server-side create of each rendered manifest,
    /// in a namespace of its own.
    async fn fresh(&mut self, rendered: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
        self.oracle_round += 1;
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &self.oracle, &apps());
        let mut out = BTreeMap::new();
        for (name, object) in rendered {
            let mut object = object.clone();
            object["metadata"]["namespace"] = json!(self.oracle);
            object["metadata"]["name"] = json!(format!("{name}-{}", self.oracle_round));
            let created = api
                .create(
                    &PostParams::default(),
                    &serde_json::from_value(object).unwrap(),
                )
                .await
                .unwrap();
            out.insert(name.clone(), serde_json::to_value(created).unwrap());
        }
        out
    }
}

fn generation(object: &Value) -> i64 {
    object["metadata"]["generation"].as_i64().unwrap()
}

#[derive(Default)]
struct Counts {
    mutations: usize,
    writes: usize,
    restarts: usize,
    state_resets: usize,
    suspends: usize,
    unchanged: usize,
}

/// Applies the current values and checks every property against the
/// server; `before` is the render and live state before the change.
async fn check_round(
    bench: &mut Bench,
    label: &str,
    before_render: &BTreeMap<String, Value>,
    before_live: &BTreeMap<String, Value>,
    counts: &mut Counts,
) {
    let report = bench.apply();
    let rendered = bench.render();
    let live = bench.live().await;
    let fresh = bench.fresh(&rendered).await;
    let objects: BTreeMap<String, &Value> = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "SparkApplication")
        .map(|o| (o["name"].as_str().unwrap().to_owned(), o))
        .collect();
    for (name, object) in &rendered {
        let live_now = &live[name];
        assert_eq!(
            comparable(live_now),
            comparable(&fresh[name]),
            "{label}: live {name} is not what a fresh create of its render gives"
        );
        let entry = objects[name];
        let render_changed = before_render.get(name) != Some(object);
        let written = entry["written"].as_bool().unwrap();
        assert_eq!(
            written, render_changed,
            "{label}: {name} written={written} but its render changed={render_changed}: {entry}"
        );
        if let Some(old) = before_live.get(name) {
            let moved = generation(old) != generation(live_now);
            let impact = entry["impact"]["type"].as_str().unwrap();
            let restarts = entry["restarts"].as_bool().unwrap();
            // A suspended stream that stays suspended runs nothing: its
            // spec changes move the generation and restart nothing.
            let suspended = |o: &Value| o["spec"]["suspend"] == json!(true);
            let stays_suspended = suspended(old) && suspended(live_now);
            if stays_suspended {
                // Nothing runs; a moved checkpoint is still named (the
                // stream resumes without its state).
                assert!(
                    matches!(impact, "none" | "state-reset") && !restarts,
                    "{label}: suspended {name}: {entry}"
                );
            } else {
                assert_eq!(
                    moved,
                    impact != "none",
                    "{label}: {name} generation moved={moved} but impact is {impact}"
                );
                assert_eq!(
                    restarts,
                    moved && impact != "suspend",
                    "{label}: {name} restarts={restarts} but generation moved={moved} ({impact})"
                );
            }
            assert_eq!(
                entry["generation"]["after"].as_i64(),
                Some(generation(live_now)),
                "{label}: {name}: the reported generation is not the server's"
            );
            match impact {
                "restart" | "resume" => counts.restarts += 1,
                "state-reset" => counts.state_resets += 1,
                "suspend" => counts.suspends += 1,
                _ => {}
            }
        }
        counts.mutations += 1;
        if written {
            counts.writes += 1;
        } else {
            counts.unchanged += 1;
        }
    }
    // A second apply writes nothing.
    let again = bench.apply();
    assert_eq!(
        again["writes"], 0,
        "{label}: a second apply wrote something: {again}"
    );
    assert_eq!(again["summary"]["changed"], 0, "{label}: {again}");
    // ... and costs no more than the ApplySet parent and the LIST.
    assert!(
        again["api_requests"].as_u64().unwrap() <= 2,
        "{label}: a second apply sent {} requests",
        again["api_requests"]
    );
}

#[tokio::test]
#[ignore = "needs the test API server: bash scripts/test-cluster.sh start; eval \"$(bash scripts/test-cluster.sh env)\"; cargo test -- --include-ignored"]
async fn every_change_reaches_the_cluster_exactly_once() {
    let kc = kubeconfig();
    let mut bench = Bench::new(kc).await;

    // The table: stream i gets change i, all in one apply, then back.
    let table = table();
    let names: Vec<String> = (0..table.len()).map(|i| format!("t{i:02}")).collect();
    for name in &names {
        bench.write(name, &base(name));
    }
    let empty = BTreeMap::new();
    let mut counts = Counts::default();
    check_round(
        &mut bench,
        "table base",
        &empty,
        &empty,
        &mut Counts::default(),
    )
    .await;
    for direction in ["forth", "back"] {
        let before_render = bench.render();
        let before_live = bench.live().await;
        for ((what, pointer, new), name) in table.iter().zip(&names) {
            let mut values = base(name);
            if direction == "forth" && !pointer.is_empty() {
                set(&mut values, pointer, new.clone());
            }
            let _ = what;
            bench.write(name, &values);
        }
        check_round(
            &mut bench,
            &format!("table {direction}"),
            &before_render,
            &before_live,
            &mut counts,
        )
        .await;
    }
    println!(
        "table: {} changes ({} forth and back) over {} streams: {} written, {} unchanged, {} restarts, {} state resets, {} suspends",
        counts.mutations,
        table.len(),
        names.len(),
        counts.writes,
        counts.unchanged,
        counts.restarts,
        counts.state_resets,
        counts.suspends
    );
    assert!(counts.state_resets >= 2 && counts.suspends >= 1 && counts.unchanged >= 2);

    // Random mutations from a seeded generator: 10 streams, 21 rounds.
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut current: BTreeMap<String, Value> = BTreeMap::new();
    for name in &names {
        bench
            .repo
            .write(&format!("values/streams/{name}.yaml"), b"enabled: false\n");
    }
    for i in 0..10 {
        let name = format!("r{i}");
        bench.write(&name, &base(&name));
        current.insert(name.clone(), base(&name));
    }
    // The table's streams stay (no --prune); the new ones start.
    check_round(
        &mut bench,
        "random base",
        &empty,
        &empty,
        &mut Counts::default(),
    )
    .await;
    let mut counts = Counts::default();
    let mut log: Vec<String> = Vec::new();
    for round in 1..=20 {
        let before_render = bench.render();
        let before_live = bench.live().await;
        for (name, values) in current.iter_mut() {
            log.push(format!("{name}: {}", random_mutation(&mut rng, values)));
            bench.write(name, values);
        }
        check_round(
            &mut bench,
            &format!("random round {round} ({})", log.join("; ")),
            &before_render,
            &before_live,
            &mut counts,
        )
        .await;
        log.clear();
    }
    let random = counts.mutations;
    println!(
        "random: {random} mutations over 10 streams: {} written, {} unchanged, {} restarts, {} state resets, {} suspends",
        counts.writes, counts.unchanged, counts.restarts, counts.state_resets, counts.suspends
    );
    assert!(random >= 200, "{random}");
}

/// The keys a comparison must not ignore are really there (a test of the
/// test: `comparable` keeps spec, labels, annotations).
#[test]
fn the_comparison_sees_spec_labels_and_annotations() {
    let a = json!({"metadata": {"labels": {"x": "1", "applyset.kubernetes.io/part-of": "s"}, "annotations": {"sluice.dev/digest": "d"}}, "spec": {"a": 1}});
    let mut b = a.clone();
    assert_eq!(comparable(&a), comparable(&b));
    b["spec"]["a"] = json!(2);
    assert_ne!(comparable(&a), comparable(&b));
    let mut c = a.clone();
    c["metadata"]["labels"]["x"] = json!("2");
    assert_ne!(comparable(&a), comparable(&c));
    let _ = Map::<String, Value>::new();
}
