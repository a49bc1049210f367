"""Shared helpers for the front-end tests: a throwaway project with a few steps, and lookups."""

from __future__ import annotations

import textwrap
from pathlib import Path

from dagc.diagnostics import Diagnostic
from dagc.frontend import check_file

STEPS = '''
from dagc.runtime import step


@step
def extract(ctx, rows: int = 10, source: str = "S"):
    return {"rows": rows}


@step
def train(ctx, depth: int, rate: float = 0.1):
    return {}


@step
def gate(ctx, threshold: float = 0.5):
    return "pass" if threshold > 0.5 else "fail"


@step
def anything(ctx, **kwargs):
    return {}


@step(name="renamed")
def _impl(ctx):
    return {}
'''


def project(tmp_path: Path, steps: str = STEPS) -> Path:
    (tmp_path / "steps").mkdir(exist_ok=True)
    (tmp_path / "steps" / "__init__.py").write_text("")
    (tmp_path / "steps" / "core.py").write_text(steps)
    (tmp_path / "pipelines").mkdir(exist_ok=True)
    return tmp_path


def write(tmp_path: Path, text: str | bytes, name: str = "p.yaml", steps: str = STEPS) -> Path:
    root = project(tmp_path, steps)
    path = root / "pipelines" / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def check(tmp_path: Path, text: str | bytes, env: str | None = None, steps: str = STEPS, **kw) -> list[Diagnostic]:
    return check_file(write(tmp_path, text, steps=steps), env, **kw)[1]


def only(diags: list[Diagnostic], code: str) -> Diagnostic:
    """The single diagnostic with `code`; fails listing all of them otherwise."""
    found = [d for d in diags if d.code == code]
    assert len(found) == 1, f"expected one {code}, got: " + "; ".join(f"{d.code}@{d.line}:{d.col} {d.message}" for d in diags)
    return found[0]


def codes(diags: list[Diagnostic]) -> list[str]:
    return [d.code for d in diags]


def at(d: Diagnostic, line: int, col: int) -> None:
    assert (d.line, d.col) == (line, col), f"{d.code} at {d.line}:{d.col}, expected {line}:{col}: {d.message}"

# a branch step choosing between two SQL children (the graph and steps families both test it)

BRANCH = """
name: x
tasks:
  gate_it:
    branch: {step: gate, cases: {pass: promote, fail: alert}}
  promote: {sql: s, after: [gate_it]}
  alert: {sql: s, after: [gate_it]}
"""
