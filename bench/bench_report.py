"""How long a report takes to render (Python) and to lay out (dagre in headless Chromium).

Prints figures for generated graphs of 50, 150 and 300 tasks, for each dagre ranker, with the
ratio to network-simplex (dagre's default, the baseline) measured in the same run. This is what
html.TIGHT_TREE_ABOVE was chosen from. Needs chromium + chromedriver + selenium; without them it
prints the Python figures only.

    python bench/bench_report.py
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "compiler"), str(ROOT), str(ROOT / "tests" / "report")]

from dagc.emit.manifest import build_manifest  # noqa: E402
from dagc.frontend import load_pipeline  # noqa: E402
from dagc.report.html import render_report  # noqa: E402
from report_fixtures import big_run, write_big_pipeline  # noqa: E402

SIZES = (50, 150, 300, 999)  # 999 + the root task = Snowflake's 1000-task limit
RANKERS = ("network-simplex", "tight-tree", "longest-path")
REPEATS = 3


def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        return None
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1600,1000", f"--user-data-dir={tempfile.mkdtemp(prefix='dagc-bench-')}"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="dagc-bench-report-"))
    driver = browser()
    print(f"{'tasks':>5} {'ranker':<16} {'render py ms':>12} {'page kB':>8} {'layout ms':>10} {'draw ms':>8} {'x baseline':>10}")
    try:
        for n in SIZES:
            folder = work / f"g{n}"
            manifest = build_manifest(load_pipeline(write_big_pipeline(folder, n, chains=max(4, min(60, n // 15)))))
            run = big_run(manifest, fail=next(t["name"] for t in manifest["tasks"] if t["name"].endswith("_s05")))
            baseline = None
            for ranker in RANKERS:
                t0 = time.perf_counter()
                page = render_report(manifest, run, ranker=ranker)
                py_ms = (time.perf_counter() - t0) * 1000
                layout = draw = float("nan")
                if driver is not None:
                    path = folder / f"{ranker}.html"
                    path.write_text(page, encoding="utf-8")
                    lays, draws = [], []
                    for _ in range(REPEATS if n <= 300 else 1):
                        driver.get(path.as_uri())
                        deadline = time.time() + 120
                        while not driver.execute_script("return document.body.dataset.ready === '1'"):
                            if time.time() > deadline:
                                raise SystemExit(f"{n} tasks / {ranker}: the page did not finish laying out")
                            time.sleep(0.05)
                        lays.append(driver.execute_script("return window.dagcLayoutMs"))
                        draws.append(driver.execute_script("return window.dagcDrawMs"))
                    layout, draw = statistics.median(lays), statistics.median(draws)
                    if ranker == RANKERS[0]:
                        baseline = layout
                ratio = layout / baseline if baseline else float("nan")
                print(f"{n:>5} {ranker:<16} {py_ms:>12.1f} {len(page) / 1024:>8.0f} {layout:>10.0f} {draw:>8.0f} {ratio:>10.2f}")
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(work, ignore_errors=True)
    if driver is None:
        print("(no chromium/chromedriver/selenium: browser layout not measured)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
