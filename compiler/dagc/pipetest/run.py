"""Run scenarios on the local engine, each in its own throw-away state directory.

A scenario is one `dagc run`: the pipeline loaded with the file's env and vars plus the
scenario's `set:` and `vars:`, fixture tables written into the fresh local warehouse first,
`returns:` stubs and `fail:` injections handed to the engine. A failed expectation is a
Diagnostic (DAGC810) at the `expect:` entry that did not hold, so editors and CI annotate the
line.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dagc.diagnostics import DagcError, Diagnostic
from dagc.pipetest.spec import RUN_KEY, Scenario, Suite, load_suite


@dataclass
class ScenarioResult:
    file: str
    name: str
    line: int
    passed: bool
    duration_s: float
    states: dict[str, str] = field(default_factory=dict)
    run_state: str | None = None
    failures: list[Diagnostic] = field(default_factory=list)


@dataclass
class FileResult:
    file: str
    scenarios: list[ScenarioResult] = field(default_factory=list)
    errors: list[Diagnostic] = field(default_factory=list)  # the file itself is wrong: nothing ran

    @property
    def passed(self) -> bool:
        return not self.errors and all(s.passed for s in self.scenarios)


def run_file(path: str | Path, *, only: str | None = None, parallelism: int | None = 1,
             on_result: Callable[[ScenarioResult], None] = lambda r: None) -> FileResult:
    suite, diags = load_suite(path)
    errors = [d for d in diags if d.severity.value == "error"]
    res = FileResult(str(path))
    if suite is None or errors:
        res.errors = errors or diags
        return res
    for sc in suite.scenarios:
        if only is not None and sc.name != only:
            continue
        r = run_scenario(suite, sc, parallelism=parallelism)
        res.scenarios.append(r)
        on_result(r)
    return res


def _frames(tables: dict[str, Any], base: Path) -> dict[str, Any]:
    import pandas as pd

    out = {}
    for name, rows in tables.items():
        out[str(name)] = pd.read_csv(base / rows) if isinstance(rows, str) else pd.DataFrame(rows)
    return out


def run_scenario(suite: Suite, sc: Scenario, *, parallelism: int | None = 1) -> ScenarioResult:
    from dagc.engine.api import run_pipeline
    from dagc.engine.project import find_project_root, load_pipeline
    from dagc.engine.tables import DuckTables

    started = time.monotonic()
    result = ScenarioResult(suite.path, sc.name, sc.line, False, 0.0)
    assert suite.pipeline_path is not None
    var_sets = {**suite.vars, **sc.vars}
    with tempfile.TemporaryDirectory(prefix="dagc-test-") as tmp:
        state_dir = Path(tmp) / "state"
        try:
            p = load_pipeline(suite.pipeline_path, suite.env, sets=sc.sets or None, var_sets=var_sets or None)
            frames = _frames({**suite.tables, **sc.tables}, Path(suite.path).parent)
            if frames:
                tables = DuckTables(state_dir)
                for name, df in frames.items():
                    tables.write(name, df)
                close = getattr(tables, "close", None)
                if close:
                    close()
            run = run_pipeline(p, project_root=find_project_root(suite.pipeline_path), state_dir=state_dir,
                               sets=sc.sets, var_sets=var_sets, fail_tasks=sc.fail, stub_returns=sc.returns,
                               parallelism=parallelism)
        except DagcError as exc:
            result.failures.append(Diagnostic("DAGC811", f"scenario {sc.name!r} could not run: {exc.message}",
                                              suite.path, sc.line, sc.col, hint=exc.hint))
            result.duration_s = time.monotonic() - started
            return result
    result.states = {n: v.state for n, v in run.tasks.items()}
    result.run_state = run.state
    errors = {n: v.error for n, v in run.tasks.items() if v.error}
    for task, want in sc.expect.items():
        got = run.state if task == RUN_KEY else result.states.get(task)
        if got == want:
            continue
        line, col = sc.expect_pos[task]
        what = "the run" if task == RUN_KEY else f"task {task}"
        why = errors.get(task) if task != RUN_KEY else (
            f"first failure: {run.first_failed_task}: {run.first_error}" if run.first_failed_task else None)
        result.failures.append(Diagnostic(
            "DAGC810", f"scenario {sc.name!r}: expected {what} {want}, got {got}", suite.path, line, col,
            hint=(_first_line(why) if why else _why_not(task, run))))
    result.passed = not result.failures
    result.duration_s = time.monotonic() - started
    return result


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line[:300]


def _why_not(task: str, run: Any) -> str:
    """The branch choices that decided the run, then every task's state: enough to see why."""
    cases = [f"branch {n} chose {v.branch_case!r}" for n, v in run.tasks.items() if v.branch_case]
    states = "states: " + ", ".join(f"{n}={v.state}" for n, v in run.tasks.items())
    return "; ".join(cases + [states])
