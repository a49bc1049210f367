"""How quickly are oversized inputs refused? Wall time and peak memory of `dagc validate` on each.

Prints figures; asserts nothing. Run: `python bench/bench_scale.py [--runs N]`. Each input is
validated in a fresh process (median of N runs) and in process (peak traced memory). The valid
training pipeline is measured in the same run as the baseline.
"""

from __future__ import annotations

import argparse
import os
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "compiler"), str(ROOT)]
ENV = {**os.environ, "PYTHONPATH": f"{ROOT / 'compiler'}{os.pathsep}{ROOT}"}


# `dagc ARGS` in a child that reports its own peak RSS (kB on Linux) on stderr
CHILD = ("import resource, sys\nfrom dagc.cli.main import main\ntry:\n    main(sys.argv[1:])\nfinally:\n"
         "    sys.stderr.write(f'MAXRSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}')\n")


def fanned(n: int) -> str:
    body = "  t0: {sql: s}\n" + "".join(f"  t{i}: {{sql: s, after: [t0]}}\n" for i in range(1, min(n, 100)))
    body += "".join(f"  t{i}: {{sql: s, after: [t{1 + i % 99}]}}\n" for i in range(100, n))
    return "name: big\ntasks:\n" + body


def cases(folder: Path) -> list[tuple[str, Path]]:
    def write(name: str, text: str) -> Path:
        p = folder / name
        p.write_text(text)
        return p

    def write_chunks(name: str, head: str, filler_mb: int, tail: str) -> Path:
        """Large files written in 1 MB chunks, so this process stays small: a child's max RSS
        on Linux starts from its parent's size at fork."""
        p = folder / name
        with open(p, "w") as fh:
            fh.write(head)
            for _ in range(filler_mb):
                fh.write("x" * (1024 * 1024))
            fh.write(tail)
        return p

    bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"] + [
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]" for i in range(9)]
    return [
        ("valid training pipeline (baseline)", ROOT / "pipelines" / "training.yaml"),
        ("1001 tasks", write("t1001.yaml", fanned(1001))),
        ("101 predecessors", write("p101.yaml", fanned(102) + "  join: {sql: s, after: ["
                                   + ", ".join(f"t{i}" for i in range(1, 102)) + "]}\n")),
        ("10 MB config value in the file", write_chunks("cfg10.yaml", "name: big\nconfig: {blob: '", 10,
                                                        "'}\ntasks:\n  a: {sql: s}\n")),
        ("12 MB config through aliases", write_chunks("alias.yaml", "name: big\nvars: {v: &b '", 3,
                                                      "'}\nconfig: {a: *b, b: *b, c: *b, d: *b}\ntasks:\n  a: {sql: s}\n")),
        ("10,000 levels of nesting", write("deep.yaml", "name: deep\nconfig: " + "[" * 10_000 + "]" * 10_000
                                           + "\ntasks:\n  a: {sql: s}\n")),
        ("billion laughs (10^10 values)", write("bomb.yaml", "\n".join(bomb) + "\n")),
        ("50 MB file", write_chunks("huge.yaml", "name: x\n#", 50, "\n")),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    from dagc.frontend import check_file

    print(f"== refusing oversized inputs: fresh `dagc validate`, median of {args.runs} (load {os.getloadavg()[0]:.1f})")
    print(f"  {'input':36} {'wall ms':>8} {'max RSS MB':>10} {'in-process ms':>14} {'traced peak MB':>15}  result")
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for label, path in cases(Path(tmp)):  # children first, while this process is small
            times, rss, code, first = [], 0.0, 0, ""
            for _ in range(args.runs):
                t = time.perf_counter()
                res = subprocess.run([sys.executable, "-c", CHILD, "validate", str(path), "--format", "json"],
                                     cwd=ROOT, env=ENV, capture_output=True, text=True)
                times.append(time.perf_counter() - t)
                rss = max(rss, int(res.stderr.rsplit("MAXRSS ", 1)[1]) / 1024)
                code = res.returncode
                diags = json.loads(res.stdout)["diagnostics"] if res.stdout.startswith("{") else []
                first = diags[0]["code"] if diags else "valid"
            rows.append((label, path, statistics.median(times), rss, code, first))
        check_file(ROOT / "pipelines" / "training.yaml")  # in-process figures: imports already paid
        for label, path, wall_s, rss, code, first in rows:
            tracemalloc.start()
            t = time.perf_counter()
            check_file(path)
            inproc = time.perf_counter() - t
            peak = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
            print(f"  {label:36} {wall_s * 1000:8.0f} {rss:10.0f} {inproc * 1000:14.1f} {peak:15.1f}  exit {code} {first}")

if __name__ == "__main__":
    main()
