"""Run scenarios on the local engine, each in its own throw-away state directory.

A scenario is one `dagc run`: the pipeline loaded with the file's env and vars plus the
scenario's `set:` and `vars:`, fixture tables written into the fresh local warehouse first,
`returns:` stubs and `fail:` injections handed to the engine. A failed expectation is a
Diagnostic at the entry that did not hold, so editors and CI annotate the line: DAGC810 for a
state (`expect:`), DAGC812 for a return value (`expect_returns:`, at the first value that differs).

A return value matches when it equals the expected one, except that an expected mapping only
names the keys it cares about (real return values carry timestamps, table names, metrics nobody
wants to pin); lists match element by element; 1 and 1.0 are equal, true and 1 are not.
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
    from dagc.runtime.returns import decode_return

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
    for task, want in sc.expect_returns.items():
        view = run.tasks.get(task)
        if view is None or view.state != "SUCCEEDED":
            line, col = sc.returns_pos[(task,)]
            result.failures.append(Diagnostic(
                "DAGC812", f"scenario {sc.name!r}: expected task {task} to return {_show(want)}, but it "
                f"{'did not run' if view is None else 'ended ' + view.state} and returned nothing", suite.path, line, col,
                hint=_first_line(errors[task]) if task in errors else _why_not(task, run)))
            continue
        # a branch task's value is its case, as `returns:` stubs it (Snowflake sees the successor's name)
        got = view.branch_case if view.branch_case is not None else decode_return(view.return_value)
        diff = mismatch(want, got)
        if diff is None:
            continue
        path, what = diff
        line, col = sc.returns_pos.get((task, *path), sc.returns_pos[(task,)])
        where = task + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
        result.failures.append(Diagnostic(
            "DAGC812", f"scenario {sc.name!r}: {where}: {what}", suite.path, line, col,
            hint=f"task {task} returned {_show(got)}"))
    result.passed = not result.failures
    result.duration_s = time.monotonic() - started
    return result


def _show(value: Any, limit: int = 300) -> str:
    import json

    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def _same_scalar(want: Any, got: Any) -> bool:
    if isinstance(want, bool) or isinstance(got, bool):
        return type(want) is type(got) and want == got
    return bool(want == got)


def mismatch(want: Any, got: Any, path: tuple[Any, ...] = ()) -> tuple[tuple[Any, ...], str] | None:
    """The first place where `got` does not match `want` (path, what differs), or None."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return path, f"expected a mapping, got {_show(got)}"
        for k, w in want.items():
            if k not in got:
                return path + (k,), f"expected key {k!r}, which the return value does not have"
            found = mismatch(w, got[k], path + (k,))
            if found:
                return found
        return None
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return path, f"expected {_show(want)}, got {_show(got)}"
        for i, (w, g) in enumerate(zip(want, got)):
            found = mismatch(w, g, path + (i,))
            if found:
                return found
        return None
    return None if _same_scalar(want, got) else (path, f"expected {_show(want)}, got {_show(got)}")


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line[:300]


def _why_not(task: str, run: Any) -> str:
    """The branch choices that decided the run, then every task's state: enough to see why."""
    cases = [f"branch {n} chose {v.branch_case!r}" for n, v in run.tasks.items() if v.branch_case]
    states = "states: " + ", ".join(f"{n}={v.state}" for n, v in run.tasks.items())
    return "; ".join(cases + [states])
