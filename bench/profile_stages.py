#!/usr/bin/env python3
"""Attribute the samples of a `perf record --call-graph dwarf` profile of
sluice to its stages (inclusive), and show per thread when the stages ran.

Usage:
  perf record -o seed.data -F 3997 --call-graph dwarf,32768 -- \\
      $CARGO_TARGET_DIR/release/sluice -C <seed corpus> -v lint >/dev/null
  perf script -i seed.data -F tid,time,ip,sym > seed.script
  python3 bench/profile_stages.py seed.script

Each sample goes to the first category below that any frame of its stack
matches (most specific first), so the shares add up to 100%.
"""

import collections
import sys

# (category, substrings of a frame's symbol); first match wins.
CATEGORIES = [
    ("load: redact credentials (secret scan of each file)", ["repo::redact_credentials"]),
    ("load: parse values YAML (event reader, or serde-saphyr)", ["sluice::values::yaml::parse", "sluice::values::events::"]),
    ("load: read files", ["sluice::fs::"]),
    ("load: build repository (streams list, clones)", ["sluice::values::repo::build"]),
    ("load: compile schemas / templates", ["Schema::builtin", "Schema::parse", "ManifestSchema::new", "ManifestSchema::load", "Templates::load"]),
    ("values: file schema check (check_file)", ["Schema::check_file"]),
    ("values: literal-secret scan per stream", ["check::literal_secrets"]),
    ("values: preflight (what Kubernetes and the operator refuse)", ["check::preflight"]),
    ("render: parse-back of rendered YAML (fast_yaml)", ["sluice::render::parse_output", "sluice::render::fast_yaml"]),
    ("render: minijinja template evaluation (incl. tojson)", ["minijinja::vm::"]),
    ("render: derive (sluice's computed fields)", ["sluice::spark::derive::derive"]),
    ("render: build the SparkApplication natively", ["sluice::spark::build::"]),
    ("render: finish (labels, annotations)", ["sluice::render::finish"]),
    ("render: context to minijinja values, other", ["sluice::render::Templates::render"]),
    ("check: SparkApplication CRD schema", ["sluice::check::check_object"]),
    ("rules", ["sluice::rules::check_stream"]),
    ("validate: JSON schema of effective values", ["Schema::check_effective"]),
    ("values: keep written text (exact)", ["exact::keep_written_text"]),
    ("values: Node to JSON", ["Node::to_json"]),
    ("merge: effective values", ["effective::values_of"]),
    ("lint: checks across streams", ["rules::check_across", "check::duplicates"]),
    ("report: diagnostics printing", ["sluice::report::", "sluice::diag::"]),
    ("drop / free of values and manifests", ["drop_in_place"]),
    ("process start (dynamic loader)", ["_dl_start", "_dl_"]),
    ("kernel (page faults, mmap) outside the above", ["[unknown]"]),
]


def samples(path):
    tid, time, frames = None, None, []
    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                if tid is not None:
                    yield tid, time, frames
                tid, time, frames = None, None, []
            elif not line.startswith("\t"):  # the sample line (it may start with spaces)
                head = line.split()
                tid = head[0]
                time = float(head[1].rstrip(":")) if len(head) > 1 else 0.0
            else:
                frames.append(line.strip())
    if tid is not None:
        yield tid, time, frames


def classify(frames):
    for name, needles in CATEGORIES:
        if any(n in fr for fr in frames for n in needles):
            return name
    return "other (runtime, allocator outside a stage, main thread)"


def main():
    counts = collections.Counter()
    per_thread = collections.defaultdict(collections.Counter)
    spans = {}
    t0 = None
    total = 0
    for tid, time, frames in samples(sys.argv[1]):
        total += 1
        t0 = time if t0 is None else min(t0, time)
        c = classify(frames)
        counts[c] += 1
        per_thread[tid][c] += 1
        lo, hi = spans.get((tid, c), (time, time))
        spans[(tid, c)] = (min(lo, time), max(hi, time))
    print(f"Inclusive breakdown by stage ({total} samples, all threads):\n")
    for c, n in counts.most_common():
        print(f"  {100 * n / total:5.1f}%  {n:6d}  {c}")
    print("\nPer thread: samples, and when each stage ran (seconds from the first sample):\n")
    for tid, cs in sorted(per_thread.items(), key=lambda kv: -sum(kv[1].values())):
        print(f"  thread {tid}: {sum(cs.values())} samples")
        for c, n in cs.most_common(6):
            lo, hi = spans[(tid, c)]
            print(f"    {n:6d}  {lo - t0:6.3f}-{hi - t0:6.3f} s  {c}")


if __name__ == "__main__":
    main()
