"""dagc as installed: wheel build, install into a fresh venv, and the installed `dagc validate`'s time.

Prints figures; asserts nothing. Run: `python bench/bench_installed.py [--runs N]`.

1. `pip wheel --no-deps` of this tree, then a fresh `python -m venv` and `pip install` of the wheel
   and its pinned dependencies (constraints.txt) offline from the wheelhouse tests/installed uses
   (downloaded once, first run only; its time is printed when it happens).
2. In a project made by the installed `dagc init`, outside this repository, PYTHONPATH cleared:
   `dagc validate pipelines/` as a fresh process: the very first run after the install (cold
   caches, bytecode compiled by pip) and the median of N more, beside two baselines measured in the
   same run: the venv's bare interpreter start (`python -c pass`) and this checkout's editable
   `.venv/bin/dagc validate` on the same project.
3. The five biggest imports of the installed validate (`python -X importtime`), to show what to cut
   if the time grows.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "installed"))
from installed_helpers import _clean_env, _pins_key  # noqa: E402  (one definition of the wheelhouse key)


def sh(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    if res.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    return res


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t = time.perf_counter()
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - t
    if res.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {res.stdout}{res.stderr}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dagc-bench-installed-"))
    try:
        src = work / "src"
        ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
        shutil.copytree(ROOT / "compiler", src / "compiler", ignore=ignore)
        for f in ("pyproject.toml", "README.md"):
            shutil.copy2(ROOT / f, src / f)
        t = time.perf_counter()
        import importlib.util

        isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
        sh([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation, "-w", str(work), str(src)], work)
        print(f"build wheel: {time.perf_counter() - t:.1f} s")
        (wheel,) = work.glob("dagc-*.whl")
        print(f"wheel: {wheel.name}, {wheel.stat().st_size / 1024:.0f} kB, sha256 "
              f"{hashlib.sha256(wheel.read_bytes()).hexdigest()[:12]}")

        house = Path(os.environ.get("DAGC_TEST_WHEELHOUSE") or Path.home() / ".cache" / "dagc-tests") / f"wheels-{_pins_key()}"
        if not (house / ".complete").exists():
            house.mkdir(parents=True, exist_ok=True)
            t = time.perf_counter()
            sh([sys.executable, "-m", "pip", "download", "-q", "-d", str(house), "-c", str(ROOT / "constraints.txt"),
                str(wheel), "pytest", "setuptools>=68", "wheel"], house, _clean_env())
            (house / wheel.name).unlink(missing_ok=True)
            (house / ".complete").write_text("ok\n")
            print(f"download the wheelhouse (first run only): {time.perf_counter() - t:.1f} s")

        venv = work / "venv"
        t = time.perf_counter()
        sh([sys.executable, "-m", "venv", str(venv)], work)
        sh([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(house),
            "-c", str(ROOT / "constraints.txt"), str(wheel)], work, _clean_env())
        install = time.perf_counter() - t
        size = sum(f.stat().st_size for f in venv.rglob("*") if f.is_file()) / 2**20
        print(f"fresh venv + install (offline, {size:.0f} MB installed): {install:.1f} s")

        env = _clean_env(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}", HOME=str(work))
        user = work / "user"
        user.mkdir()
        sh([str(venv / "bin" / "dagc"), "init", "shop"], user, env)
        proj = user / "shop"
        validate = [str(venv / "bin" / "dagc"), "validate", "pipelines/"]
        first = timed(validate, proj, env)
        warm = statistics.median(timed(validate, proj, env) for _ in range(args.runs))
        bare = statistics.median(timed([str(venv / "bin" / "python"), "-c", "pass"], proj, env)
                                 for _ in range(args.runs))
        editable = ROOT / ".venv" / "bin" / "dagc"
        checkout = (statistics.median(timed([str(editable), "validate", "pipelines/"], proj, env)
                                      for _ in range(args.runs)) if editable.exists() else None)
        print(f"installed dagc validate, first run after install: {first * 1000:.0f} ms")
        print(f"installed dagc validate, median of {args.runs}: {warm * 1000:.0f} ms "
              f"(budget 300 ms: {warm / 0.3:.2f} of it)")
        print(f"baseline, bare interpreter start (python -c pass): {bare * 1000:.0f} ms; "
              f"validate = {warm / bare:.1f}x that")
        if checkout is not None:
            print(f"baseline, this checkout's editable dagc validate: {checkout * 1000:.0f} ms; "
                  f"installed / editable = {warm / checkout:.2f}")
        res = subprocess.run([str(venv / "bin" / "python"), "-X", "importtime", "-m", "dagc", "validate", "pipelines/"],
                             cwd=proj, env=env, capture_output=True, text=True, timeout=120)
        rows = []
        for line in res.stderr.splitlines():
            if line.startswith("import time:") and "|" in line:
                parts = [p.strip() for p in line.split(":", 1)[1].split("|")]
                if parts[1].isdigit():
                    rows.append((int(parts[1]), parts[2].strip()))
        print("largest imports (cumulative us): " + ", ".join(f"{name} {us}" for us, name in sorted(rows)[-5:][::-1]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
