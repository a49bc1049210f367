"""Engine benchmarks: overhead per task on a 1000-task no-op pipeline, and parallelism.

Prints figures, and ratios against baselines measured in the same run:
  - overhead: wall time of a generated 1000-task pipeline of no-op steps (the engine runs in this
    process, so interpreter start is excluded by construction; it is measured and shown apart),
    divided by 1000; best and median of BENCH_REPEAT runs (default 3); the target is under 2 ms.
  - the same in a chain (no parallelism possible) and as 1000 independent tasks;
  - parallelism: two independent 1-second tasks vs one 1-second task (target ~1.0x, not 2x).
Run: python bench/bench_engine.py   (from the repository root)
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "compiler"), str(REPO)]

from dagc.engine.api import run_pipeline  # noqa: E402
from dagc.ir import Pipeline, Task, TaskKind, freeze  # noqa: E402

REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))

STEPS = '''
import time
from dagc.runtime import step

@step
def noop(ctx):
    return None

@step
def sleep1(ctx):
    time.sleep(1.0)
    return None
'''


def project() -> Path:
    root = Path(tempfile.mkdtemp(prefix="dagc-bench-"))
    (root / "steps").mkdir()
    (root / "steps" / "__init__.py").write_text("")
    (root / "steps" / "bench.py").write_text(STEPS)
    return root


def task(name: str, step: str, after: tuple[str, ...] = ()) -> Task:
    return Task(name=name, kind=TaskKind.STEP, step=step, after=after, params=freeze({}))


def layered(n: int, width: int) -> Pipeline:
    """n tasks in layers of `width`; each task depends on one task of the previous layer."""
    tasks = []
    for i in range(n):
        after = (f"t{i - width}",) if i >= width else ()
        tasks.append(task(f"t{i}", "noop", after))
    return Pipeline(name=f"bench{n}", tasks=tuple(tasks))


CPU: dict[str, float] = {}


def timed_run(p: Pipeline, parallelism: int | None = None) -> float:
    import resource

    root = project()
    try:
        r0s, r0c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        result = run_pipeline(p, project_root=root, state_dir=root / ".dagc", parallelism=parallelism)
        elapsed = time.perf_counter() - t0
        r1s, r1c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        CPU["engine"] = (r1s.ru_utime + r1s.ru_stime) - (r0s.ru_utime + r0s.ru_stime)
        CPU["workers"] = (r1c.ru_utime + r1c.ru_stime) - (r0c.ru_utime + r0c.ru_stime)
        assert result.state == "SUCCEEDED", result.first_error
        return elapsed
    finally:
        shutil.rmtree(root, ignore_errors=True)


def interpreter_start() -> float:
    best = 1e9
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import dagc.engine.api"], check=True,
                       env={**os.environ, "PYTHONPATH": str(REPO / "compiler")})
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    cores = len(os.sched_getaffinity(0))
    start = interpreter_start()
    print(f"cores: {cores}; load average {os.getloadavg()[0]:.2f}; interpreter start + engine import: "
          f"{start * 1000:.0f} ms (excluded below)")
    for label, p in (("1000 tasks, 10 wide", layered(1000, 10)), ("1000-task chain", layered(1000, 1)),
                     ("1000 independent tasks", layered(1000, 1000))):
        walls, cpus = [], []
        for _ in range(REPEAT):
            walls.append(timed_run(p))
            cpus.append(CPU["engine"] + CPU["workers"])
        best, median = min(walls), statistics.median(walls)
        print(f"overhead, {label}: best {best:.2f} s, median {median:.2f} s of {REPEAT} runs (+{start:.2f} s start) "
              f"-> {best:.2f} ms/task best, {median:.2f} ms/task median (target < 2 ms: "
              f"{'ok' if best < 2 else 'MISSED'}); CPU per task (engine + workers): {min(cpus):.2f} ms")
    one = timed_run(Pipeline(name="one", tasks=(task("a", "sleep1"),)))
    two = timed_run(Pipeline(name="two", tasks=(task("a", "sleep1"), task("b", "sleep1"))))
    seq = timed_run(Pipeline(name="two", tasks=(task("a", "sleep1"), task("b", "sleep1"))), parallelism=1)
    print(f"parallelism: one 1-s task {one:.2f} s; two independent 1-s tasks {two:.2f} s "
          f"(ratio {two / one:.2f}x; target ~1x); same two with -j 1 {seq:.2f} s ({seq / one:.2f}x)")


if __name__ == "__main__":
    main()
