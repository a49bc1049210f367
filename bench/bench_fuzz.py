"""Structure-aware fuzz at scale: 20,000 mutated pipelines (DAGC_FUZZ_N), distinct crash signatures.

Mutations act on the parsed YAML tree (tests/sweep/structfuzz.py): types swapped, keys deleted
and duplicated, deep nesting, huge and non-finite numbers, unicode, templated values (hostile
ones too), references to other tasks, case-colliding and overlong names. Each input is checked
end to end in this process (diagnostics in every format, the manifest as strict JSON when valid).
Prints inputs tried, outcomes, the clean percentage (valid or a clean diagnostic), the distinct
crash signatures (the goal is 0), and the slowest input against the baseline: the median time
of the unmutated seed pipelines measured in the same run.
Run: python bench/bench_fuzz.py   (from the repository root; DAGC_FUZZ_N=2000 for a quick look)
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "compiler"), str(REPO / "tests" / "sweep")]

from structfuzz import SEEDS, check_one, inputs, project  # noqa: E402

N = int(os.environ.get("DAGC_FUZZ_N", "20000"))


def main() -> None:
    path = project(Path(tempfile.mkdtemp(prefix="dagc-fuzz-")))
    seed_times = []
    for _ in range(5):
        for seed in SEEDS:
            outcome, dt = check_one(path, seed.read_text(), None)
            assert outcome == "valid", outcome
            seed_times.append(dt)
    base = statistics.median(seed_times)
    outcomes: Counter[str] = Counter()
    examples: dict[str, str] = {}
    slowest = (0.0, "")
    t0 = time.perf_counter()
    for text, env in inputs(N):
        outcome, dt = check_one(path, text, env)
        outcomes[outcome] += 1
        examples.setdefault(outcome, text[:300])
        if dt > slowest[0]:
            slowest = (dt, text[:200])
    wall = time.perf_counter() - t0
    crashes = {k: v for k, v in outcomes.items() if k not in ("valid", "invalid")}
    clean = outcomes["valid"] + outcomes["invalid"]
    print(f"inputs tried: {N:,} in {wall:.0f} s ({wall / N * 1000:.1f} ms each)")
    print(f"valid: {outcomes['valid']:,}  clean diagnostics: {outcomes['invalid']:,}  "
          f"clean: {clean / N * 100:.3f} %")
    print(f"distinct crash signatures: {len(crashes)} (goal 0)")
    for sig, n in sorted(crashes.items(), key=lambda kv: -kv[1]):
        print(f"  {n:>6}  {sig}\n          e.g. {examples[sig]!r}")
    print(f"baseline (seed pipelines, median): {base * 1000:.1f} ms; slowest input: {slowest[0] * 1000:.0f} ms "
          f"({slowest[0] / base:.1f}x baseline)")


if __name__ == "__main__":
    main()
