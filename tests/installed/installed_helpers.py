"""Helpers of the installed layer (tests/installed): dagc as a user gets it, a wheel in a fresh venv, used outside this repository.

One venv per test run (session scope, keyed by the wheel's hash). Its dependencies come from a
wheelhouse: the pinned constraints.txt downloaded once with pip into a cache folder outside the
repository (`$DAGC_TEST_WHEELHOUSE`, else `~/.cache/dagc-tests/wheels-<hash of the pins>`), so the
second run of the suite installs offline (`--no-index`) in seconds of unpacking, and pre-commit's
own hook environment is built from the same wheelhouse. Every command runs with the working
directory outside the repository and PYTHONPATH cleared, so nothing from this checkout is on the
path: what passes here passes for a user who ran `pip install dagc`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMINGS: dict[str, float] = {}  # printed at the end of the session (install time, validate time)


def _sh(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: int = 900) -> str:
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {res.returncode}\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return res.stdout


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PYTEST", "DAGC_"))}
    return {**env, **extra}


def _pins_key() -> str:
    h = hashlib.sha256()
    for f in ("constraints.txt", "pyproject.toml"):
        h.update((ROOT / f).read_bytes())
    h.update(f"{sys.version_info[:2]}{sys.platform}".encode())
    return h.hexdigest()[:16]


@dataclass
class Installed:
    """The fresh venv with the wheel installed, and how to run its commands outside the repository."""

    venv: Path
    wheelhouse: Path
    home: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def run(self, *args: str, cwd: Path, timeout: int = 300, env: dict[str, str] | None = None,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command (the venv's bin first on PATH) outside the repository."""
        assert ROOT not in Path(cwd).resolve().parents and Path(cwd).resolve() != ROOT, cwd
        return subprocess.run(list(args), cwd=cwd, env={**self.env, **(env or {})}, capture_output=True, text=True,
                              timeout=timeout, input=input)

    def dagc(self, *args: str, cwd: Path, **kw) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.bin / "dagc"), *args, cwd=cwd, **kw)


