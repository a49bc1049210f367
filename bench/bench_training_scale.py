"""The local training pipeline at scale: wall time and peak RSS of `dagc run` vs a plain script.

For each size (default 1M, 5M and 10M generated applications), in this order and one at a time
(the machine's cores are shared), each measurement in a fresh child process:
- plain: a script doing the same work with no orchestration: stream-generate the source into a
  DuckDB file, the dataset SQL (as-of features + temporal split, steps/ml/sqlfeatures.py), XGBoost
  from batches, evaluation from batches; its peak RSS, and the peak RSS of each stage (sampled from
  /proc every 20 ms), so the feature step's growth with rows is visible;
- dagc: `dagc run pipelines/training.yaml --var rows=N` in a fresh state directory; the peak RSS
  is the largest of the engine and its worker processes (RUSAGE_CHILDREN of a fresh intermediate).
Both use the pipeline's own hyper-parameters. The ratios are dagc / plain, measured in this run.

    python bench/bench_training_scale.py [--rows 1000000,5000000,10000000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARAMS = {"max_depth": 6, "n_estimators": 300, "learning_rate": 0.1, "subsample": 0.9, "early_stopping_rounds": 25}


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class StagePeaks:
    """Peak RSS per stage, sampled by a thread (DuckDB and XGBoost allocate outside Python)."""

    def __init__(self) -> None:
        self.stage, self.peaks, self.seconds = "start", {}, {}
        self._t0 = time.perf_counter()
        self._stop = False
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self._stop:
            self.peaks[self.stage] = max(self.peaks.get(self.stage, 0.0), _rss_mb())
            time.sleep(0.02)

    def mark(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[self.stage] = round(now - self._t0, 2)
        self.peaks[stage] = _rss_mb()
        self.stage, self._t0 = stage, now

    def done(self) -> None:
        self.mark("end")
        self._stop = True


def plain(rows: int) -> dict:
    """The same work as the training pipeline's data and model steps, as one plain script."""
    peaks = StagePeaks()
    started = time.perf_counter()
    from dagc.engine.tables import DuckTables, release
    from steps.ml import train, warehouse
    from steps.ml.data import LABEL, source_batches
    from steps.ml.pipeline import evaluate_table
    from steps.ml.sqlfeatures import ident

    with tempfile.TemporaryDirectory(prefix="bench_plain_") as tmp:
        t = DuckTables(Path(tmp))
        peaks.mark("generate")
        seen: set[str] = set()
        names = {"county_economics": "COUNTY_ECONOMICS", "credit_reports": "CREDIT_REPORTS", "applications": "APPS_LOADING"}
        for kind, df in source_batches(rows, 7):
            t.write(names[kind], df, mode="append" if kind in seen else "overwrite")
            seen.add(kind)
            del df
        t.create_table_as("LOAN_APPLICATIONS", f"SELECT * FROM {ident('APPS_LOADING')}")
        t.drop("APPS_LOADING")
        peaks.mark("features+split")
        info = warehouse.build_dataset(t, apps="LOAN_APPLICATIONS", credit="CREDIT_REPORTS", econ="COUNTY_ECONOMICS",
                                       target="DATASET")
        peaks.mark("train")
        features, cols = info["features"], [*info["features"], LABEL]
        model = train.fit_batches(lambda: warehouse.batches(t, "DATASET", ["train"], cols),
                                  lambda: warehouse.batches(t, "DATASET", ["validation"], cols),
                                  features, LABEL, PARAMS, seed=0, rows=info["rows"]["train"])
        peaks.mark("evaluate")
        results, _, _ = evaluate_table(t, "DATASET", features, [model])
        release(Path(tmp))
    peaks.done()
    return {"rows": rows, "wall_s": round(time.perf_counter() - started, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "stage_s": peaks.seconds, "stage_peak_mb": {k: round(v) for k, v in peaks.peaks.items() if k != "end"},
            "trees": int(model.best_iteration) + 1, "test_roc_auc": round(results[0]["test_roc_auc"], 4),
            "split_rows": info["rows"]}


def dagc_run(rows: int, env: dict) -> dict:
    """`dagc run` of the training pipeline; peak = the largest process of the run (engine or worker)."""
    with tempfile.TemporaryDirectory(prefix="bench_dagc_") as state:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "dagc", "run", "pipelines/training.yaml", "--state-dir", state,
                               "-q", "--var", f"rows={rows}", "--var", "retries=0"], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    out = {"rows": rows, "wall_s": round(wall, 2), "peak_rss_mb": round(peak, 1), "exit": proc.returncode}
    if proc.returncode != 0:
        out["tail"] = (proc.stdout + proc.stderr)[-3000:]
    return out


def child(kind: str, rows: int, env: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, f"--child-{kind}", str(rows)], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{kind} at {rows:,} rows failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="1000000,5000000,10000000", help="comma-separated sizes")
    ap.add_argument("--only", choices=["dagc", "plain"], help="measure one side only (no ratio)")
    ap.add_argument("--child-plain", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--child-dagc", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*extra, str(ROOT / "compiler"), str(ROOT)])}
    if args.child_plain:
        print(json.dumps(plain(args.child_plain)))
        return
    if args.child_dagc:
        print(json.dumps(dagc_run(args.child_dagc, env)))
        return
    sizes = [int(s) for s in args.rows.split(",") if s]
    print(f"training pipeline at scale (cores={os.cpu_count()}, load(1m) at start={os.getloadavg()[0]:.2f})")
    rows_out = []
    for n in sizes:
        if args.only:
            r = child(args.only, n, env)
            print(f"\n{n:,} rows, {args.only} only: " + json.dumps(r))
            continue
        p = child("plain", n, env)
        d = child("dagc", n, env)
        rows_out.append((n, p, d))
        print(f"\n{n:,} rows: plain {p['wall_s']:.1f}s {p['peak_rss_mb']:.0f} MB | dagc {d['wall_s']:.1f}s "
              f"{d['peak_rss_mb']:.0f} MB exit {d['exit']} | ratio wall {d['wall_s'] / p['wall_s']:.2f}x "
              f"RSS {d['peak_rss_mb'] / p['peak_rss_mb']:.2f}x | trees {p['trees']} test roc_auc {p['test_roc_auc']}")
        print(f"  plain stage seconds {p['stage_s']}")
        print(f"  plain stage peak RSS MB {p['stage_peak_mb']}")
        if d["exit"] != 0:
            print(d.get("tail", ""))
    print("\n| rows | plain wall s | dagc wall s | wall ratio | plain peak RSS MB | dagc peak RSS MB | "
          "feature step peak RSS MB | trees | test ROC AUC |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, p, d in rows_out:
        print(f"| {n:,} | {p['wall_s']:.1f} | {d['wall_s']:.1f} | {d['wall_s'] / p['wall_s']:.2f}x | "
              f"{p['peak_rss_mb']:.0f} | {d['peak_rss_mb']:.0f} | {p['stage_peak_mb'].get('features+split', 0)} | "
              f"{p['trees']} | {p['test_roc_auc']} |")
    if len(rows_out) > 1:
        (n0, p0, _), (n1, p1, _) = rows_out[0], rows_out[-1]
        f0, f1 = p0["stage_peak_mb"].get("features+split", 1), p1["stage_peak_mb"].get("features+split", 1)
        print(f"\nfeature step peak RSS x{f1 / f0:.2f} for x{n1 / n0:.0f} rows "
              f"({'sub-linear' if f1 / f0 < n1 / n0 else 'NOT sub-linear'})")


if __name__ == "__main__":
    main()
