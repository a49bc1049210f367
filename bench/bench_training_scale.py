"""The training pipeline at scale (default 1,000,000 source rows): time per stage and peak memory.

Two measurements, each in a fresh child process so the peak resident set is that run's alone:
- the pure pipeline (steps/ml: generate, as-of features + split, XGBoost, evaluate), stage by stage;
- optionally (--dagc) `dagc run pipelines/training.yaml --var rows=N` on the local engine, whose
  peak is the largest of the engine and its worker processes.

    python bench/bench_training_scale.py [--rows 1000000] [--dagc]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pure(rows: int) -> dict:
    stages: dict[str, float] = {}
    t0 = time.perf_counter()

    def mark(name: str, since: list[float] = [t0]) -> None:  # noqa: B006 - a tiny stopwatch
        now = time.perf_counter()
        stages[name] = round(now - since[0], 2)
        since[0] = now

    from steps.ml.data import generate_source
    from steps.ml.pipeline import build_dataset, evaluate_model, fit_model
    from steps.ml.train import n_jobs

    mark("imports")
    s = generate_source(rows, 7)
    mark("generate")
    ds, info = build_dataset(s["applications"], s["credit_reports"], s["county_economics"])
    mark("features+split")
    model = fit_model(ds[ds["split"] != "test"], {"n_estimators": 300})
    mark("train")
    metrics, _ = evaluate_model(model, ds[ds["split"] != "train"])
    mark("evaluate")
    return {"rows": rows, "stages_s": stages, "total_s": round(sum(stages.values()), 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "threads": n_jobs(info["rows"]["train"]), "trees": int(model.best_iteration) + 1,
            "test_roc_auc": round(metrics["test_roc_auc"], 4), "split_rows": info["rows"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dagc", action="store_true", help="also time a dagc run at this size")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(pure(args.rows)))
        return
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*extra, str(ROOT / "compiler"), str(ROOT)])}
    out = subprocess.run([sys.executable, __file__, "--child", "--rows", str(args.rows)], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"pure pipeline, {args.rows:,} rows (load(1m)={os.getloadavg()[0]:.2f}, cores={os.cpu_count()})")
    for k, v in result["stages_s"].items():
        print(f"  {k:<15} {v:7.2f}s")
    print(f"  {'total':<15} {result['total_s']:7.2f}s   peak RSS {result['peak_rss_mb']:.0f} MB   "
          f"threads {result['threads']}   trees {result['trees']}   test roc_auc {result['test_roc_auc']}")
    print(f"  split rows: {result['split_rows']}")
    if args.dagc:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        with tempfile.TemporaryDirectory() as state:
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "dagc", "run", "pipelines/training.yaml", "--state-dir", state,
                                   "-q", "--var", f"rows={args.rows}"], cwd=ROOT, env=env, capture_output=True, text=True)
            elapsed = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"dagc run, {args.rows:,} rows: exit {proc.returncode}, {elapsed:.2f}s, "
              f"peak RSS of the largest process {peak / 1024:.0f} MB" + (" (>= the pure child's)" if peak == before else ""))
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-3000:])


if __name__ == "__main__":
    main()
