#!/usr/bin/env python3
"""After `cargo test -- --include-ignored`: the ignored tests are exactly
the ones that need an environment `cargo test` cannot assume (the test API
server, the GitLab pipeline runner, root, or ../shared), each says which,
and every one of them ran and passed in this run.

usage: check-ignored.py TEST_LOG
"""
import pathlib
import re
import subprocess
import sys

ALLOWED = (
    "needs the test API server",
    "needs SLUICE_TEST_KUBECONFIG",
    "needs gitlab-ci-local",
    "needs root",
    "needs ../shared",
)

root = pathlib.Path(__file__).resolve().parent.parent
log = pathlib.Path(sys.argv[1]).read_text(errors="replace")
problems = []

# Every ignore in the sources names what it needs.
unconditional = 0
for path in sorted(list(root.glob("tests/*.rs")) + list(root.glob("src/**/*.rs"))):
    text = path.read_text()
    for m in re.finditer(r'#\[(cfg_attr\([^\]]*?)?ignore(\s*=\s*"([^"]*)")?', text, re.S):
        reason = m.group(3)
        line = text[: m.start()].count("\n") + 1
        where = f"{path.relative_to(root)}:{line}"
        if reason is None:
            problems.append(f"{where}: #[ignore] without a reason")
        elif not reason.startswith(ALLOWED):
            problems.append(f"{where}: ignored for `{reason}`, not for a missing environment")
        if m.group(1) is None:
            unconditional += 1

# What cargo ignores here (../shared is present in CI, so only the
# unconditional ones).
listed = subprocess.run(
    ["cargo", "test", "--locked", "-q", "--", "--list", "--ignored"],
    cwd=root, capture_output=True, text=True, check=True,
).stdout
ignored = [l[: -len(": test")] for l in listed.splitlines() if l.endswith(": test")]
if len(ignored) != unconditional:
    problems.append(
        f"cargo lists {len(ignored)} ignored tests, the sources ignore {unconditional} unconditionally"
    )

# Each of them ran, and passed.
for name in ignored:
    if not re.search(rf"^test {re.escape(name)} \.\.\. ok$", log, re.M):
        problems.append(f"ignored test `{name}` did not run and pass")

if problems:
    print("ignored tests:", *problems, sep="\n  ", file=sys.stderr)
    sys.exit(1)
print(f"ignored tests: all {len(ignored)} ran and passed (cluster, pipeline runner, root)")
