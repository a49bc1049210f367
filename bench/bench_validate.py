"""How fast is `dagc validate`? Fresh-process wall time beside check-jsonschema, and scaling.

Prints figures; asserts nothing. Run: `python bench/bench_validate.py [--runs N]`.

1. `dagc validate pipelines/training.yaml` as a fresh process (median of N) next to
   `check-jsonschema --schemafile schemas/pipeline.schema.json pipelines/training.yaml` measured in
   the same run. check-jsonschema validates the raw YAML against the schema only (templates
   unrendered, no graph/step/name checks), so it is a baseline for "a schema check", not a rival.
2. Generated pipelines of 10, 100, 999 (the most Snowflake allows with the root), 1000 and 5000
   tasks, as chains and as wide fan-outs:
   in-process validate and compile time and peak traced memory, and the time per task, which
   stays roughly flat if growth is linear. 5000 exceeds Snowflake's 1000-task limit: it is
   reported as DAGC309 and timed anyway.
"""

from __future__ import annotations

import argparse
import os
import shutil
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


def wall(cmd: list[str], runs: int) -> tuple[float, int]:
    times, code = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        code = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True).returncode
        times.append(time.perf_counter() - t)
    return statistics.median(times), code


def chain(n: int) -> str:
    return "name: gen\nwarehouse: WH\ntasks:\n  t0: {sql: select 0}\n" + "".join(
        f"  t{i}: {{sql: select {i}, after: [t{i - 1}]}}\n" for i in range(1, n))


def fanout(n: int) -> str:
    """t0 -> up to 99 hubs -> the rest spread across the hubs (each <= 100 children)."""
    hubs = min(n - 1, 99)
    lines = ["  t0: {sql: select 0}\n"] + [f"  t{i}: {{sql: select {i}, after: [t0]}}\n" for i in range(1, hubs + 1)]
    lines += [f"  t{i}: {{sql: select {i}, after: [t{1 + i % hubs}]}}\n" for i in range(hubs + 1, n)]
    return "name: gen\nwarehouse: WH\ntasks:\n" + "".join(lines)


def scale(folder: Path) -> list[tuple[str, int, float, float, float, str]]:
    """(shape, tasks, validate ms, compile ms, peak MB, result): times are medians of 3 untraced
    runs; peak memory comes from a separate run under tracemalloc (which slows code down)."""
    from dagc.emit.manifest import build_manifest, dumps
    from dagc.frontend import check_file

    rows = []
    for shape, make in (("chain", chain), ("fan-out", fanout)):
        for n in (10, 100, 999, 1000, 5000):
            path = folder / f"{shape}-{n}.yaml"
            path.write_text(make(n))
            check_file(path)  # warm imports and caches
            v_times, c_times = [], []
            for _ in range(3):
                t0 = time.perf_counter()
                pipeline, diags = check_file(path)
                t1 = time.perf_counter()
                if pipeline is not None:
                    dumps(build_manifest(pipeline))
                v_times.append(t1 - t0)
                c_times.append(time.perf_counter() - t1)
            tracemalloc.start()
            pipeline, _ = check_file(path)
            if pipeline is not None:
                dumps(build_manifest(pipeline))
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            note = ",".join(sorted({d.code for d in diags})) or "valid"
            rows.append((shape, n, statistics.median(v_times) * 1000, statistics.median(c_times) * 1000, peak / 1e6, note))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    py = sys.executable
    print(f"== fresh process, median of {args.runs} runs (machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
    startup, _ = wall([py, "-c", "pass"], args.runs)
    dagc_t, dagc_code = wall([py, "-m", "dagc", "validate", "pipelines/training.yaml"], args.runs)
    all_t, _ = wall([py, "-m", "dagc", "validate", "pipelines/"], args.runs)
    cj = shutil.which("check-jsonschema", path=str(Path(py).parent)) or shutil.which("check-jsonschema")
    print(f"  python -c pass                                  {startup * 1000:7.0f} ms  (interpreter start, the floor)")
    print(f"  dagc validate pipelines/training.yaml           {dagc_t * 1000:7.0f} ms  exit {dagc_code}"
          "  (base + 2 environments: YAML, templates, schema, graph, steps)")
    print(f"  dagc validate pipelines/  (2 files)             {all_t * 1000:7.0f} ms")
    if cj:
        cj_t, cj_code = wall([cj, "--schemafile", "schemas/pipeline.schema.json", "pipelines/training.yaml"], args.runs)
        print(f"  check-jsonschema --schemafile ... training.yaml {cj_t * 1000:7.0f} ms  exit {cj_code}"
              "  (raw YAML, templates unrendered, schema only)")
        print(f"  ratio dagc / check-jsonschema                   {dagc_t / cj_t:7.2f}")
    else:
        print("  check-jsonschema not installed (pip install check-jsonschema): no baseline this run")

    print("\n== generated pipelines, in process (validate = read+overlay+templates+schema+checks+IR; compile = manifest;"
          " compile needs a valid graph, so none above 999 tasks)")
    print(f"  {'shape':8} {'tasks':>6} {'validate ms':>12} {'compile ms':>11} {'peak MB':>8} {'us/task':>8}  result")
    with tempfile.TemporaryDirectory() as tmp:
        for shape, n, v, c, mb, note in scale(Path(tmp)):
            print(f"  {shape:8} {n:6} {v:12.1f} {c:11.1f} {mb:8.1f} {(v + c) * 1000 / n:8.0f}  {note}")


if __name__ == "__main__":
    main()
