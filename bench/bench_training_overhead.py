"""Orchestration overhead: `dagc run pipelines/training.yaml` vs the same work as a plain script.

Both sides run in fresh interpreters (imports included) on the same machine, in the same
invocation, alternating, and each side's median is reported with the ratio dagc / plain.

The plain script does what the pipeline's tasks do, with the same functions from steps/ml and
no dagc: generate the source, build the as-of dataset with its temporal split, train XGBoost,
evaluate. The dagc run does that plus what makes it a pipeline: the source and dataset written
to the local warehouse (DuckDB), the model through a scratch table, the registry, run state,
the quality gate, cleanup.

    python bench/bench_training_overhead.py [--rows 50000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def plain(rows: int) -> None:
    """The plain-Python path (run in a child process by main)."""
    from steps.ml.data import generate_source
    from steps.ml.pipeline import build_dataset, evaluate_model, fit_model

    s = generate_source(rows, 7)
    ds, _ = build_dataset(s["applications"], s["credit_reports"], s["county_economics"])
    model = fit_model(ds[ds["split"] != "test"], {"n_estimators": 300})
    metrics, _ = evaluate_model(model, ds[ds["split"] != "train"])
    print(f"plain: test roc_auc={metrics['test_roc_auc']:.4f}")


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50000, help="source rows (the pipeline's default is 50000)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.plain:
        plain(args.rows)
        return
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*extra, str(ROOT / "compiler"), str(ROOT)])}
    py = sys.executable
    plain_t, dagc_t = [], []
    for i in range(args.repeat):
        plain_t.append(timed([py, __file__, "--plain", "--rows", str(args.rows)], env))
        with tempfile.TemporaryDirectory() as state:  # fresh state: the run generates its data too
            dagc_t.append(timed([py, "-m", "dagc", "run", "pipelines/training.yaml", "--state-dir", state, "-q",
                                 "--var", f"rows={args.rows}"], env))
        print(f"round {i + 1}: plain {plain_t[-1]:.2f}s  dagc {dagc_t[-1]:.2f}s", flush=True)
    p, d = statistics.median(plain_t), statistics.median(dagc_t)
    load = os.getloadavg()[0]
    print(f"\nrows={args.rows:,} repeat={args.repeat} cores={os.cpu_count()} load(1m)={load:.2f}")
    print(f"plain script : {p:.2f}s (median; all {', '.join(f'{t:.2f}' for t in plain_t)})")
    print(f"dagc run     : {d:.2f}s (median; all {', '.join(f'{t:.2f}' for t in dagc_t)})")
    print(f"ratio dagc/plain: {d / p:.2f}x   overhead: {d - p:+.2f}s")


if __name__ == "__main__":
    main()
