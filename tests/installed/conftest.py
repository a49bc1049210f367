"""Fixtures of the installed layer: the built wheel, the wheelhouse, the fresh venv, a user's project.

See installed_helpers.py for how the venv is built and why it installs offline.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from installed_helpers import ROOT, TIMINGS, Installed, _clean_env, _pins_key, _sh


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory) -> Path:
    """`pip wheel --no-deps` of a copy of this source tree (the tree itself is left untouched)."""
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".dagc", "build", "dist", "*.egg-info",
                                    ".pytest_cache", ".hypothesis", "node_modules", "out")
    for name in ("compiler", "pyproject.toml", "README.md"):
        p = ROOT / name
        (shutil.copytree(p, src / name, ignore=ignore) if p.is_dir() else shutil.copy2(p, src / name))
    out = tmp_path_factory.mktemp("wheel")
    t0 = time.perf_counter()
    import importlib.util

    # offline when this environment has setuptools (Python 3.12 venvs do not: then pip fetches it)
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    _sh([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation, "-w", str(out), str(src)], cwd=out)
    TIMINGS["build wheel (s)"] = time.perf_counter() - t0
    (wheel,) = out.glob("dagc-*.whl")
    return wheel


@pytest.fixture(scope="session")
def wheelhouse(built_wheel) -> Path:
    """Every pinned dependency of the wheel (and pytest, setuptools for pre-commit's build) as wheels."""
    base = Path(os.environ.get("DAGC_TEST_WHEELHOUSE") or Path.home() / ".cache" / "dagc-tests")
    house = base / f"wheels-{_pins_key()}"
    stamp = house / ".complete"
    if not stamp.exists():
        house.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        _sh([sys.executable, "-m", "pip", "download", "-q", "-d", str(house), "-c", str(ROOT / "constraints.txt"),
             str(built_wheel), "pytest", "setuptools>=68", "wheel"], cwd=house, env=_clean_env())
        (house / built_wheel.name).unlink(missing_ok=True)  # the tool itself is rebuilt every run
        TIMINGS["download wheelhouse, first run only (s)"] = time.perf_counter() - t0
        stamp.write_text("ok\n")
    return house


@pytest.fixture(scope="session")
def installed(built_wheel, wheelhouse, tmp_path_factory) -> Installed:
    digest = hashlib.sha256(built_wheel.read_bytes()).hexdigest()[:12]
    venv = tmp_path_factory.getbasetemp() / f"venv-{digest}"
    home = tmp_path_factory.mktemp("home")
    if not (venv / "bin" / "dagc").exists():
        t0 = time.perf_counter()
        _sh([sys.executable, "-m", "venv", str(venv)], cwd=home)
        _sh([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheelhouse),
             "-c", str(ROOT / "constraints.txt"), str(built_wheel), "pytest"], cwd=home, env=_clean_env())
        TIMINGS["fresh venv + install wheel and deps, offline (s)"] = time.perf_counter() - t0
    env = _clean_env(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}", HOME=str(home),
                     GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@e",
                     GIT_CONFIG_NOSYSTEM="1")
    return Installed(venv=venv, wheelhouse=wheelhouse, home=home, env=env)


@pytest.fixture(scope="session")
def project(installed, tmp_path_factory) -> Path:
    """A project made by the installed `dagc init` in an empty folder outside the repository."""
    where = tmp_path_factory.mktemp("user")
    res = installed.dagc("init", "shop", cwd=where)
    assert res.returncode == 0, res.stdout + res.stderr
    return where / "shop"


def pytest_terminal_summary(terminalreporter) -> None:
    if TIMINGS:
        terminalreporter.write_sep("-", "installed dagc: figures")
        for name, value in TIMINGS.items():
            terminalreporter.write_line(f"{name}: {value:.3f}")
