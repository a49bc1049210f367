"""Scenario files (`*.test.yaml`): read and check them, with a file:line:col for every problem.

The file is read with the front end's YAML loader (dagc.frontend.load), which keeps the position
of every key and value, so an unknown task in `expect:`, a misspelt state or a wrong expectation
points at its line. Checking needs the pipeline (task names, config keys) but never the engine:
`dagc validate` checks scenario files with this module and stays light.

    pipeline: ../training.yaml       # relative to this file
    env: dev                         # optional overlay
    vars: {rows: 3000}               # optional template variables, for every scenario
    tables: {NAME: [{col: 1}]}       # optional fixtures loaded before every scenario (rows or a .csv path)
    scenarios:
      gate_fails:
        set: {gate.threshold: 0.99}  # per-run config, as `dagc run --set`
        returns: {evaluate: {...}}   # stub a task's return value: its step is not called
        fail: [train]                # inject a failure: the step is not called
        tables: {...}                # fixtures for this scenario only
        expect: {promote: SKIPPED, alert_gate_failed: SUCCEEDED, run: SUCCEEDED}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagc.diagnostics import Diagnostic

SUFFIXES = (".test.yaml", ".test.yml")
TASK_STATES = ("SUCCEEDED", "FAILED", "SKIPPED", "CANCELLED", "NOT_EXECUTED")
RUN_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")
TOP_KEYS = ("pipeline", "env", "vars", "tables", "scenarios", "description")
SCENARIO_KEYS = ("description", "set", "vars", "returns", "fail", "tables", "expect")
RUN_KEY = "run"  # `expect: {run: FAILED}` is the graph run's state


def is_scenario_file(path: str | Path) -> bool:
    return str(path).endswith(SUFFIXES)


@dataclass
class Scenario:
    name: str
    line: int
    col: int
    sets: dict[str, Any] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    returns: dict[str, Any] = field(default_factory=dict)
    fail: list[str] = field(default_factory=list)
    tables: dict[str, Any] = field(default_factory=dict)
    expect: dict[str, str] = field(default_factory=dict)
    expect_pos: dict[str, tuple[int, int]] = field(default_factory=dict)  # task -> (line, col) of its value


@dataclass
class Suite:
    path: str
    pipeline_path: Path | None
    env: str | None
    vars: dict[str, Any]
    scenarios: list[Scenario]
    pipeline: Any = None  # the IR (with env and vars), when it loaded
    tables: dict[str, Any] = field(default_factory=dict)  # fixtures for every scenario


def _d(code: str, msg: str, doc: Any, path: tuple[Any, ...], *, key: bool = False, hint: str | None = None) -> Diagnostic:
    p = doc.pos(path, key=key)
    return Diagnostic(code, msg, doc.path, p.line, p.col, hint=hint)


def load_suite(path: str | Path) -> tuple[Suite | None, list[Diagnostic]]:
    """The suite in a scenario file, and every problem found in it (empty when it is good)."""
    from dagc.frontend import check_file
    from dagc.frontend import load as yamlload
    from dagc.frontend.schema import did_you_mean

    spath = str(path)
    text, diags = yamlload.read_text(spath)
    if text is None:
        return None, diags
    doc, diags = yamlload.load(spath, text)
    if diags:
        return None, diags
    data = doc.data
    if not isinstance(data, dict):
        return None, [Diagnostic("DAGC801", "a scenario file is a mapping with `pipeline:` and `scenarios:`",
                                 spath, 1, 1, hint="see docs/operating.md, section 'Pipeline tests'")]
    out: list[Diagnostic] = []
    for k in data:
        if k not in TOP_KEYS:
            out.append(_d("DAGC801", f"unknown key {k!r} in a scenario file", doc, (k,), key=True,
                          hint=did_you_mean(str(k), TOP_KEYS) or f"keys: {', '.join(TOP_KEYS)}"))
    ppath: Path | None = None
    pipeline = None
    raw = data.get("pipeline")
    env = data.get("env")
    top_vars = data.get("vars") or {}
    if not isinstance(top_vars, dict):
        out.append(_d("DAGC801", "`vars:` must be a mapping of template variables", doc, ("vars",)))
        top_vars = {}
    if env is not None and not isinstance(env, str):
        out.append(_d("DAGC801", "`env:` must be an environment name", doc, ("env",)))
        env = None
    if not isinstance(raw, str) or not raw.strip():
        out.append(_d("DAGC802", "a scenario file needs `pipeline:`, the path of the pipeline it tests", doc,
                      ("pipeline",) if "pipeline" in data else (), hint="e.g. pipeline: training.yaml (relative to this file)"))
    else:
        ppath = (Path(spath).parent / raw).resolve()
        if not ppath.is_file():
            out.append(_d("DAGC802", f"pipeline file {raw} does not exist (looked for {ppath})", doc, ("pipeline",),
                          hint="the path is relative to the scenario file"))
        else:
            pipeline, pdiags = check_file(ppath, env, var_sets=dict(top_vars) or None, missing_secrets="warn")
            if pipeline is None:
                errors = [d for d in pdiags if d.severity.value == "error"]
                first = errors[0] if errors else None
                out.append(_d("DAGC802", f"pipeline {raw} is not valid" + (
                    f": {first.file}:{first.line}:{first.col}: {first.message}" if first else ""), doc, ("pipeline",),
                    hint="`dagc validate` on the pipeline shows every problem"))
    scenarios: list[Scenario] = []
    raw_sc = data.get("scenarios")
    if not isinstance(raw_sc, dict) or not raw_sc:
        out.append(_d("DAGC801", "`scenarios:` must map scenario names to what each sets and expects", doc,
                      ("scenarios",) if "scenarios" in data else ()))
        raw_sc = {}
    tasks = [t.name for t in pipeline.all_tasks()] if pipeline is not None else None
    for name, body in raw_sc.items():
        sc, sdiags = _scenario(doc, str(name), body, tasks, pipeline)
        out += sdiags
        if sc is not None:
            scenarios.append(sc)
    top_tables = data.get("tables")
    if top_tables is not None:
        out += _check_tables(doc, ("tables",), top_tables)
    return Suite(spath, ppath, env, dict(top_vars), scenarios, pipeline,
                 top_tables if isinstance(top_tables, dict) else {}), out


def _scenario(doc: Any, name: str, body: Any, tasks: list[str] | None, pipeline: Any) -> tuple[Scenario | None, list[Diagnostic]]:
    from dagc.frontend.schema import did_you_mean

    base = ("scenarios", name)
    p = doc.pos(base, key=True)
    out: list[Diagnostic] = []
    if not isinstance(body, dict):
        return None, [_d("DAGC801", f"scenario {name!r} must be a mapping (set, returns, fail, tables, expect)", doc, base)]
    for k in body:
        if k not in SCENARIO_KEYS:
            out.append(_d("DAGC801", f"unknown key {k!r} in scenario {name!r}", doc, base + (k,), key=True,
                          hint=did_you_mean(str(k), SCENARIO_KEYS) or f"keys: {', '.join(SCENARIO_KEYS)}"))
    sc = Scenario(name, p.line, p.col)

    def known_task(t: Any, path: tuple[Any, ...], what: str) -> bool:
        if tasks is None or t in tasks:
            return True
        out.append(_d("DAGC803", f"{what}: pipeline {pipeline.name} has no task {t!r}", doc, path, key=what != "fail",
                      hint=did_you_mean(str(t), tasks) or f"tasks: {', '.join(tasks)}"))
        return False

    for key, attr in (("set", "sets"), ("vars", "vars"), ("returns", "returns"), ("tables", "tables"), ("expect", "expect")):
        v = body.get(key)
        if v is not None and not isinstance(v, dict):
            out.append(_d("DAGC801", f"`{key}:` of scenario {name!r} must be a mapping", doc, base + (key,)))
            body = {**body, key: None}
    fail = body.get("fail") or []
    if isinstance(fail, str):
        fail = [fail]
    if not isinstance(fail, list):
        out.append(_d("DAGC801", f"`fail:` of scenario {name!r} must be a list of task names", doc, base + ("fail",)))
        fail = []
    for i, t in enumerate(fail):
        if known_task(t, base + ("fail", i), "fail"):
            sc.fail.append(str(t))
    for t, v in (body.get("returns") or {}).items():
        if known_task(t, base + ("returns", t), "returns"):
            sc.returns[str(t)] = v
    sets = body.get("set") or {}
    if sets and pipeline is not None:
        from dagc.diagnostics import UsageError
        from dagc.snowflake.runconfig import check_overrides

        for k, v in sets.items():
            try:
                sc.sets.update(check_overrides(pipeline, {str(k): v if isinstance(v, str) else _yaml_text(v)}))
            except UsageError as exc:
                out.append(_d("DAGC805", f"scenario {name!r}: {exc.message}", doc, base + ("set", k), key=True,
                              hint=exc.hint))
    sc.vars = dict(body.get("vars") or {})
    if body.get("tables") is not None:
        out += _check_tables(doc, base + ("tables",), body["tables"])
        sc.tables = dict(body["tables"])
    expect = body.get("expect")
    if not expect:
        out.append(_d("DAGC801", f"scenario {name!r} expects nothing: add `expect:` with task states", doc, base,
                      key=True, hint="e.g. expect: {train: SUCCEEDED, run: SUCCEEDED}"))
    for t, state in (expect or {}).items():
        path = base + ("expect", t)
        allowed = RUN_STATES if t == RUN_KEY else TASK_STATES
        if t != RUN_KEY and not known_task(t, path, "expect"):
            continue
        if not isinstance(state, str) or state.upper() not in allowed:
            out.append(_d("DAGC804", f"scenario {name!r}: {state!r} is not a {'run' if t == RUN_KEY else 'task'} state",
                          doc, path, hint=did_you_mean(str(state).upper(), allowed) or f"states: {', '.join(allowed)}"))
            continue
        sc.expect[str(t)] = state.upper()
        vp = doc.pos(path)
        sc.expect_pos[str(t)] = (vp.line, vp.col)
    return sc, out


def _yaml_text(v: Any) -> str:
    import json

    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v)


def _check_tables(doc: Any, path: tuple[Any, ...], tables: Any) -> list[Diagnostic]:
    if not isinstance(tables, dict):
        return [_d("DAGC806", "`tables:` maps table names to rows (a list of mappings) or a .csv file", doc, path)]
    out = []
    for name, rows in tables.items():
        p = path + (name,)
        if isinstance(rows, str):
            f = Path(doc.path).parent / rows
            if not rows.endswith(".csv") or not f.is_file():
                out.append(_d("DAGC806", f"fixture {name}: {rows} is not a .csv file next to the scenario file", doc, p))
        elif not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
            out.append(_d("DAGC806", f"fixture {name}: give a non-empty list of rows (mappings of column: value)", doc, p,
                          hint="e.g. LOAN_APPLICATIONS: [{applicant_id: 1, income: 52000}]"))
    return out


def diagnostics_of(path: str | Path) -> list[Diagnostic]:
    """What `dagc validate` reports for a scenario file."""
    _, diags = load_suite(path)
    return diags
