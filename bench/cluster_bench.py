#!/usr/bin/env python3
"""Benchmark `sluice apply` and `sluice diff` against the test API server,
side by side with `kubectl apply --server-side` and `kubectl diff
--server-side` when kubectl is installed.

For N streams (default 100 and 1000) in a fresh namespace: create, no-op
re-apply, no-change diff, and one changed stream (diff, then apply).
Reports wall time (median of --runs for the repeatable steps) and the
number of API requests: sluice counts its own (`-v`), kubectl's are
counted from its `-v=6` request log.

Usage: python3 bench/cluster_bench.py [--sizes 100,1000] [--runs 3]
Starts scripts/test-cluster.sh if SLUICE_TEST_KUBECONFIG is not set.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import ssl
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from bench import generate  # noqa: E402


def sh(argv, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kw)


def timed(argv, check=True):
    started = time.perf_counter()
    proc = sh(argv)
    wall = time.perf_counter() - started
    if check and proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(map(str, argv))} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall, proc


def sluice_requests(stderr):
    m = re.findall(r"(\d+) API requests", stderr)
    return int(m[-1]) if m else None


def kubectl_requests(stderr):
    # -v=6 logs one line per HTTP request, e.g. `"Response" verb="PATCH" url=... status="200 OK"`
    # (or `GET https://... 200 OK in 3 milliseconds` on older clients).
    lines = [l for l in stderr.splitlines() if re.search(r'verb="(GET|PATCH|POST|PUT|DELETE)"|\] (GET|PATCH|POST|PUT|DELETE) https?://', l)]
    return len(lines)


def create_namespace(kubeconfig, name):
    sh(["kubectl", "--kubeconfig", kubeconfig, "create", "namespace", name]) if shutil.which("kubectl") else None
    if not shutil.which("kubectl"):
        raise SystemExit("creating namespaces needs kubectl (or create them by hand)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    kubeconfig = os.environ.get("SLUICE_TEST_KUBECONFIG")
    if not kubeconfig:
        sh(["bash", ROOT / "scripts" / "test-cluster.sh", "start"], check=True)
        kubeconfig = "/tmp/sluice-test-cluster/kubeconfig"
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    sluice = ROOT / "target" / "release" / "sluice"
    kubectl = shutil.which("kubectl")
    work = Path(tempfile.mkdtemp(prefix="sluice-cluster-bench-"))
    rows = []
    try:
        for n in [int(s) for s in args.sizes.split(",")]:
            stamp = int(time.time()) % 100000
            ns = f"bench-{n}-{stamp}"
            create_namespace(kubeconfig, ns)
            repo = work / f"repo-{n}"
            generate(n, repo)
            (repo / "values" / "environments" / "dev.yaml").write_text(f"namespace: {ns}\n")
            base = [sluice, "-C", repo, "-v"]
            kc = ["--kubeconfig", kubeconfig]
            row = {"streams": n}
            wall, p = timed([*base, "apply", "--env", "dev", *kc])
            row["create"] = (wall, sluice_requests(p.stderr))
            noop = [timed([*base, "apply", "--env", "dev", *kc]) for _ in range(args.runs)]
            row["noop_apply"] = (statistics.median(w for w, _ in noop), sluice_requests(noop[-1][1].stderr))
            diffs = [timed([*base, "diff", "--env", "dev", *kc]) for _ in range(args.runs)]
            row["noop_diff"] = (statistics.median(w for w, _ in diffs), sluice_requests(diffs[-1][1].stderr))
            changed = repo / "values" / "streams" / "stream-00000.yaml"
            changed.write_text(changed.read_text().replace("instances: 1", "instances: 3", 1))
            wall, p = timed([*base, "diff", "--env", "dev", *kc])
            row["change_diff"] = (wall, sluice_requests(p.stderr))
            wall, p = timed([*base, "apply", "--env", "dev", *kc])
            row["change_apply"] = (wall, sluice_requests(p.stderr))
            if kubectl:
                kns = f"kubectl-{n}-{stamp}"
                create_namespace(kubeconfig, kns)
                manifests = work / f"manifests-{n}.yaml"
                rendered = sh([sluice, "-C", repo, "render", "--env", "dev"]).stdout.replace(f"namespace: {ns}", f"namespace: {kns}")
                manifests.write_text(rendered)
                k = [kubectl, "--kubeconfig", kubeconfig, "-v=6"]
                wall, p = timed([*k, "apply", "--server-side", "--field-manager", "kubectl-bench", "-f", manifests])
                row["k_create"] = (wall, kubectl_requests(p.stderr))
                noop = [timed([*k, "apply", "--server-side", "--field-manager", "kubectl-bench", "-f", manifests]) for _ in range(args.runs)]
                row["k_noop_apply"] = (statistics.median(w for w, _ in noop), kubectl_requests(noop[-1][1].stderr))
                diffs = [timed([*k, "diff", "--server-side", "--field-manager", "kubectl-bench", "-f", manifests], check=False) for _ in range(args.runs)]
                row["k_noop_diff"] = (statistics.median(w for w, _ in diffs), kubectl_requests(diffs[-1][1].stderr))
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), "?")
    print(f"Machine: {os.cpu_count()} cores ({cpu}); test API server (kube-apiserver 1.20.2 + etcd) on loopback; median of {args.runs} runs for the repeatable steps.\n")
    fmt = lambda cell: f"{cell[0]:.2f} s, {cell[1]} req" if cell and cell[1] is not None else "–"
    print("| streams | step | sluice | kubectl --server-side |")
    print("|---|---|---|---|")
    for r in rows:
        for key, label, k in [("create", "create all", "k_create"), ("noop_apply", "re-apply, nothing changed", "k_noop_apply"),
                              ("noop_diff", "diff, nothing changed", "k_noop_diff"), ("change_diff", "diff, one stream changed", None),
                              ("change_apply", "apply, one stream changed", None)]:
            print(f"| {r['streams']} | {label} | {fmt(r.get(key))} | {fmt(r.get(k)) if k else '–'} |")


if __name__ == "__main__":
    main()
