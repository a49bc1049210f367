"""Steps against the registry (DAGC403-406, DAGC312): the step exists, its params fit its signature,
and a branch's cases match the values its step returns. Skipped when validating without steps."""

from __future__ import annotations

from typing import Any

from dagc import ir
from dagc.diagnostics import Severity
from dagc.frontend.checks.context import Checker, TaskSource, rule
from dagc.frontend.load import Path
from dagc.frontend.registry import StepInfo
from dagc.frontend.schema import did_you_mean, listing

CODES = {
    "DAGC312": "branch cases and the step's return values disagree",
    "DAGC403": "unknown step",
    "DAGC404": "param the step does not take",
    "DAGC405": "required param missing",
    "DAGC406": "param value does not match its annotation",
}
_SIMPLE_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "list": (list,), "dict": (dict,)}


@rule("task", "DAGC312", "DAGC403", "DAGC404", "DAGC405", "DAGC406")
def step_and_params(ctx: Checker, src: TaskSource) -> None:
    t = src.task
    if t.step is None or t.kind is ir.TaskKind.SQL:
        return
    step_path = src.path + (("step",) if t.kind is ir.TaskKind.STEP else ("branch", "step"))
    info = lookup(ctx, t.step, step_path)
    if info is None:
        return
    check_params(ctx, info, src.spec.get("params") or {}, src.path)
    if t.kind is ir.TaskKind.BRANCH:
        check_cases(ctx, info, (src.spec.get("branch") or {}).get("cases") or {}, src.path + ("branch",))


def lookup(ctx: Checker, name: Any, path: Path) -> StepInfo | None:
    if ctx.registry is None:
        return None
    if name in ctx.registry:
        return ctx.registry[name]
    hint = did_you_mean(str(name), ctx.registry)
    if not hint:
        hint = (f"registered steps: {listing(sorted(ctx.registry))}" if len(ctx.registry) else
                f"no steps found under {ctx.registry.root / 'steps'}; define one with @step")
    ctx.err("DAGC403", f"unknown step {name!r}", path, hint)
    return None


def check_params(ctx: Checker, info: StepInfo, params: dict[str, Any], path: Path) -> None:
    names = [p.name for p in info.params]
    for key, value in params.items():
        p = info.param(key)
        if p is None:
            if not info.accepts_any:
                hint = did_you_mean(str(key), names) or (f"{info.name} takes: {', '.join(names)}" if names else
                                                         f"{info.name} takes no params")
                ctx.err("DAGC404", f"step {info.name!r} has no parameter {key!r} ({info.file}:{info.line})",
                        path + ("params", key), hint, key=True)
            continue
        want = _SIMPLE_TYPES.get((p.annotation or "").replace(" | None", "").replace("Optional[", "").rstrip("]"))
        if want and value is not None and (not isinstance(value, want) or (bool not in want and isinstance(value, bool))):
            ctx.err("DAGC406", f"parameter {key!r} of step {info.name!r} is annotated {p.annotation}, "
                    f"but the pipeline gives {value!r}", path + ("params", key))
    for p in info.params:
        if p.required and p.name not in params:
            ctx.err("DAGC405", f"step {info.name!r} requires parameter {p.name!r}", path + ("params",) if params else path,
                    f"add `params: {{{p.name}: ...}}`", key=True)


def check_cases(ctx: Checker, info: StepInfo, cases: dict[str, Any], path: Path) -> None:
    if info.returns is None:
        return
    for value in sorted(info.returns - set(cases)):
        ctx.err("DAGC312", f"step {info.name!r} can return {value!r}, which is not one of this branch's cases",
                path + ("cases",), f"add `{value}: <task>` to cases ({info.file}:{info.line})", key=True)
    for case in cases:
        if case not in info.returns:
            ctx.err("DAGC312", f"case {case!r} is never returned by step {info.name!r} "
                    f"(it returns {', '.join(sorted(info.returns))})", path + ("cases", case),
                    did_you_mean(str(case), info.returns), key=True, severity=Severity.WARNING)
