"""Shared helpers for tests/ops: a throw-away project with tiny real steps, and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

STEPS = '''
import json, os, time
from dagc import StepContext, step


@step
def stamp(ctx: StepContext, label: str = "") -> dict:
    """Returns what the run saw: its logical date and config."""
    return {"logical_date": ctx.logical_date.isoformat(), "scheduled_at": ctx.scheduled_at.isoformat(),
            "config": dict(ctx.config), "label": label}


@step
def choose(ctx: StepContext) -> str:
    return "big" if ctx.config.get("size", 0) > 5 else "small"


@step
def wait_for(ctx: StepContext, marker: str = "", seconds: float = 60.0) -> dict:
    """Waits until the marker file exists (tests decide when a run ends), at most `seconds`."""
    deadline = time.time() + seconds
    while marker and not os.path.exists(marker) and time.time() < deadline:
        time.sleep(0.02)
    return {"waited": True}


@step
def fail_on(ctx: StepContext, dates: str = "") -> dict:
    """Fails for the logical dates listed in the file named by config.fail_file (one per line)."""
    path = ctx.config.get("fail_file") or ""
    bad = open(path).read().split() if path and os.path.exists(path) else []
    if ctx.logical_date.date().isoformat() in bad:
        raise RuntimeError(f"planned failure for {ctx.logical_date.date()}")
    return {"ok": True}
'''

PIPELINE = '''
name: tiny
schedule: {schedule}
overlap: {overlap}
suspend_after_failures: 2
config:
  size: 3
  label: hello
  fail_file: ""
  nested: {{flag: true, ratio: 0.5}}
tasks:
  first: {{step: stamp}}
  gate: {{after: [first], branch: {{step: choose, cases: {{big: big, small: small}}}}}}
  big: {{step: stamp, after: [gate], params: {{label: big}}}}
  small: {{step: stamp, after: [gate], params: {{label: small}}}}
  check: {{step: fail_on, after: [first]}}
finally:
  done: {{step: stamp}}
'''


def make_project(root: Path, *, schedule: str = "1m", overlap: str = "none", extra: str = "") -> Path:
    (root / "steps").mkdir(parents=True)
    (root / "pipelines").mkdir()
    (root / "steps" / "__init__.py").write_text("")
    (root / "steps" / "tiny.py").write_text(textwrap.dedent(STEPS))
    (root / "pipelines" / "tiny.yaml").write_text(PIPELINE.format(schedule=schedule, overlap=overlap) + extra)
    return root


def dagc(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300,
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dagc", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def popen(*args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "dagc", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
