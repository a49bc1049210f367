"""Hostile inputs for `dagc validate`: each must be decided in under 1 s and 200 MB (issue 15).

Each input is validated in a fresh interpreter (as a pre-commit hook would), which reports its
own wall time for the validation and its peak RSS; the baseline is the example project's
pipelines/training.yaml measured the same way in the same run, and every figure is printed with
its ratio to the baseline. Inputs: hostile templates (nested loops over a long string, integer
squaring, center/replace/format/indent/join amplification, `~` doubling, recursive macros and
loop(), 1e400, deep expressions), 1000 tasks each `after:` a misspelt name, 1000 environments
with errors everywhere, 1000 tasks with errors everywhere, and a FIFO.
Run: python bench/bench_hostile.py   (from the repository root)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "compiler"), str(REPO / "tests" / "frontend")]

LIMIT_S, LIMIT_MB = 1.0, 200

PROBE = r"""
import json, resource, sys, time
sys.path[:0] = [sys.argv[2]]
from dagc.cli.main import main
t0 = time.perf_counter()
try:
    main(["validate", sys.argv[1], "--format", "json"])
except SystemExit as exc:
    code = exc.code
elapsed = time.perf_counter() - t0
print(json.dumps({"s": elapsed, "mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "code": code}),
      file=sys.stderr)
"""


def hostile_files(folder: Path) -> dict[str, Path]:
    from test_fe_hostile import BASE, HOSTILE_TEMPLATES

    files: dict[str, Path] = {}
    for name, tpl in HOSTILE_TEMPLATES.items():
        p = folder / (name.replace(" ", "_").replace(".", "") + ".yaml")
        p.write_text(BASE + "config:\n  x: " + repr(tpl) + "\n")
        files[f"template: {name}"] = p
    lines = ["name: p", "tasks:"] + [f"  task_{i:03d}: {{sql: select 1, after: [tsak_{i:03d}x]}}" for i in range(999)]
    files["999 tasks after a misspelt name"] = folder / "after.yaml"
    files["999 tasks after a misspelt name"].write_text("\n".join(lines) + "\n")
    lines = ["name: p", "vars: {a: 1}", "config: {k: 1}", "tasks:", "  t: {sql: select 1}", "environments:"]
    lines += [f"  e{i}: {{vars: {{a: {i}}}, config: {{kk: 1}}, tasks: {{t: {{after: [x{i}]}}}}}}" for i in range(1000)]
    files["1000 environments, errors in each"] = folder / "envs.yaml"
    files["1000 environments, errors in each"].write_text("\n".join(lines) + "\n")
    lines = ["name: p", "tasks:"] + [f"  t{i}: {{step: nope{i}, after: [t{i}, ghost], when: sometimes, timeout: 9d,"
                                     f" retries: -1, params: {{p: .nan}}}}" for i in range(999)]
    files["999 tasks, errors in each"] = folder / "tasks.yaml"
    files["999 tasks, errors in each"].write_text("\n".join(lines) + "\n")
    big = folder / "big.yaml"  # just under 1 MB of ordinary content
    big.write_text("name: big\nconfig:\n" + "".join(f"  k{i}: '{'v' * 80}'\n" for i in range(10_000)) +
                   "tasks:\n  t: {sql: select 1}\n")
    files["1 MB config"] = big
    fifo = folder / "fifo.yaml"
    os.mkfifo(fifo)
    files["a FIFO nobody writes"] = fifo
    return files


def measure(path: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, str(path), str(REPO / "compiler")], capture_output=True,
                          text=True, timeout=120, cwd=path.parent)
    return json.loads(proc.stderr.strip().splitlines()[-1])


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="dagc-hostile-"))
    (folder / "steps").symlink_to(REPO / "steps")
    base = measure(REPO / "pipelines" / "training.yaml")
    print(f"baseline pipelines/training.yaml: {base['s'] * 1000:.0f} ms, {base['mb']:.0f} MB (exit {base['code']})")
    print(f"{'input':42} {'bytes':>9} {'ms':>7} {'x base':>7} {'MB':>5} {'x base':>7} exit  ok")
    worst_s = worst_mb = 0.0
    failed = []
    for name, path in hostile_files(folder).items():
        r = measure(path)
        size = path.stat().st_size if path.is_file() else 0
        ok = r["s"] < LIMIT_S and r["mb"] < LIMIT_MB and r["code"] in (0, 1)
        worst_s, worst_mb = max(worst_s, r["s"]), max(worst_mb, r["mb"])
        failed += [] if ok else [name]
        print(f"{name[:42]:42} {size:>9,} {r['s'] * 1000:>7.0f} {r['s'] / base['s']:>7.1f} {r['mb']:>5.0f} "
              f"{r['mb'] / base['mb']:>7.2f} {r['code']:>4}  {'yes' if ok else 'NO'}")
    print(f"worst: {worst_s * 1000:.0f} ms, {worst_mb:.0f} MB (limits {LIMIT_S * 1000:.0f} ms, {LIMIT_MB} MB); "
          f"over the limits: {', '.join(failed) or 'none'}")


if __name__ == "__main__":
    main()
