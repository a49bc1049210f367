"""Cost of the step-package rule (DAGC407) and the case rule (DAGC510) on `dagc validate`.

Each sample is a fresh interpreter validating the shipped pipelines (cold: what a CI run or a
pre-commit hook pays), with the rules on and, as the baseline measured in the same run, off.
Prints the best of N for each and the ratio.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = """
import sys, time
t0 = time.perf_counter()
from dagc.frontend import check_file
import dagc.frontend.checks.context as c
if sys.argv[1] == "off":  # the baseline: the same validation without the DAGC407 rule
    c.RULES[:] = [r for r in c.RULES if r.family != "packages"]
for f in sys.argv[2:]:
    check_file(f, "prod", missing_secrets="warn")
print((time.perf_counter() - t0) * 1000)
"""


def sample(mode: str, files: list[str]) -> float:
    out = subprocess.run([sys.executable, "-c", CODE, mode, *files], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip())


def main(n: int = 7) -> None:
    files = [str(p) for p in sorted((ROOT / "pipelines").glob("*.yaml"))]
    on, off = [], []
    for _ in range(n):
        off.append(sample("off", files))
        on.append(sample("on", files))
    t_on, t_off = min(on), min(off)
    print(f"validate {len(files)} shipped pipelines, cold, best of {n}:")
    print(f"  rules off (baseline) {t_off:7.1f} ms")
    print(f"  rules on             {t_on:7.1f} ms   ratio {t_on / t_off:.2f}x   rules cost {t_on - t_off:+.1f} ms")
    t0 = time.perf_counter()
    import dagc.frontend.checks.packages as sp
    from dagc.frontend import check_file

    for f in files:
        check_file(f, "prod", missing_secrets="warn")
    warm0 = time.perf_counter()
    for f in files:
        check_file(f, "prod", missing_secrets="warn")
    print(f"  warm (second validation in one process) {(time.perf_counter() - warm0) * 1000:.1f} ms; "
          f"first in-process {(warm0 - t0) * 1000:.1f} ms; {sp.__name__} loaded")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
