"""The front end: file -> document -> environment overlay -> templates -> schema -> checks -> IR.

Each stage adds diagnostics instead of raising, and later stages run whenever the earlier ones
left something usable, so a user sees every problem of a file in one run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from dagc import ir
from dagc.diagnostics import Diagnostic, PipelineError, Severity, UsageError


def check_file(
    path: str | Path,
    env: str | None = None,
    *,
    sets: Mapping[str, Any] | None = None,
    var_sets: Mapping[str, Any] | None = None,
    with_steps: bool = True,
    missing_secrets: str = "error",
) -> tuple[ir.Pipeline | None, list[Diagnostic]]:
    """Everything wrong with one pipeline file for one environment, and its IR when there is none.

    missing_secrets="warn" lets an unset `secret('NAME')` pass with a warning (validation in CI,
    which has no production secrets); compile, run and deploy keep the default "error".
    """
    secrets: set[str] = set()
    refs: dict[str, ir.SecretRef] = {}
    pipeline, diags = _check(path, env, sets, var_sets, with_steps, missing_secrets, secrets, refs)
    if pipeline is not None:
        from dataclasses import replace

        from dagc.redact import config_secrets

        pipeline = replace(pipeline, secrets=frozenset(secrets | config_secrets(pipeline.config)),
                           secret_refs=ir.freeze(refs))
    if secrets:  # a message may quote a rendered value
        from dataclasses import replace

        from dagc.redact import redact_text

        diags = [replace(d, message=redact_text(d.message, secrets),
                         hint=redact_text(d.hint, secrets) if d.hint else d.hint) for d in diags]
    return pipeline, diags


def _check(
    path: str | Path,
    env: str | None,
    sets: Mapping[str, Any] | None,
    var_sets: Mapping[str, Any] | None,
    with_steps: bool,
    missing_secrets: str,
    secrets: set[str],
    refs: dict[str, ir.SecretRef] | None = None,
) -> tuple[ir.Pipeline | None, list[Diagnostic]]:
    from dagc.frontend import checks, overlay, schema, template
    from dagc.frontend import load as yamlload
    from dagc.frontend.project import find_project_root
    from dagc.frontend.registry import load_registry

    spath = str(path)
    schema.reset_suggestions()
    text, diags = yamlload.read_text(spath)
    if text is None:
        return None, diags
    doc, diags = yamlload.load(spath, text)
    if diags:
        return None, diags
    data = doc.data
    if not isinstance(data, dict):
        return None, schema.validate(doc, data)
    diags = schema.validate_environments(doc, data)
    if diags:
        return None, diags
    data, diags = overlay.apply_environment(doc, data, env)
    if var_sets:
        diags += overlay.apply_sets(doc, data, "vars", dict(var_sets))
    data, tdiags = template.render(doc, data, env, secrets=secrets, missing_secrets=missing_secrets, refs=refs)
    diags += tdiags
    if sets:
        diags += overlay.apply_sets(doc, data, "config", dict(sets))
    sdiags, bad_paths = schema.validate_with_paths(doc, data)
    diags += sdiags
    if bad_paths:  # keep checking what is left, so one run shows every problem
        data = _without(data, bad_paths)
        if schema.validate(doc, data):
            return None, _dedupe(diags)
    elif any(d.severity is Severity.ERROR for d in diags):
        return None, _dedupe(diags)
    registry = load_registry(find_project_root(spath)) if with_steps else None
    if registry is not None:
        diags += registry.diagnostics
    pipeline, bdiags = checks.build(doc, data, registry, env, frozenset(bad_paths),
                                    {"secrets": secrets, "missing_secrets": missing_secrets, "refs": refs})
    diags += bdiags
    ok = not any(d.severity is Severity.ERROR for d in diags)
    return (pipeline if ok else None), _dedupe(diags)


def environments_of(path: str | Path) -> list[str]:
    """The environment names a file declares (cheaply, for validating every overlay)."""
    from dagc.frontend import load as yamlload

    text, _ = yamlload.read_text(str(path))
    if text is None:
        return []
    doc, diags = yamlload.load(str(path), text)
    envs = doc.data.get("environments") if not diags and isinstance(doc.data, dict) else None
    return [str(e) for e in envs] if isinstance(envs, dict) else []


def load_pipeline(
    path: str | Path,
    env: str | None = None,
    sets: Mapping[str, Any] | None = None,
    var_sets: Mapping[str, Any] | None = None,
) -> ir.Pipeline:
    """The IR for a pipeline, or PipelineError carrying every diagnostic; UsageError for no file."""
    p = Path(path)
    if not p.exists():
        raise UsageError(f"no such file: {path}", hint="give the path of a pipeline YAML file")
    if p.is_dir():
        raise UsageError(f"{path} is a directory; give one pipeline file")
    pipeline, diags = check_file(p, env, sets=sets, var_sets=var_sets)
    if pipeline is None:
        raise PipelineError(diagnostics=diags)
    return pipeline


def _without(data: Any, paths: list[tuple[Any, ...]]) -> Any:
    """A copy of `data` with the values at `paths` removed (the parts the schema rejected)."""
    import copy

    out = copy.deepcopy(data)
    for path in sorted(paths, key=len, reverse=True):
        if not path:
            continue
        node = out
        for part in path[:-1]:
            node = node[part] if isinstance(node, (dict, list)) and _has(node, part) else None
            if node is None:
                break
        if isinstance(node, dict):
            node.pop(path[-1], None)
        elif isinstance(node, list) and isinstance(path[-1], int) and path[-1] < len(node):
            node[path[-1]] = None
    return out


def _has(node: Any, part: Any) -> bool:
    return part in node if isinstance(node, dict) else isinstance(part, int) and part < len(node)


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for d in sorted(diags, key=Diagnostic.sort_key):
        k = (d.code, d.file, d.line, d.col, d.message)
        if k not in seen:
            seen.add(k)
            out.append(d)
    return out
