"""The manifest: a deterministic JSON view of the compiled graph, reviewed in pull requests.

It names every task by its deployed Snowflake name and carries the encoded config, so a reviewer
sees exactly what a deploy would create, and `dagc plan --against` can diff two of them offline.
Same input, byte-identical output: keys sorted, no timestamps, no absolute paths. Secret values
(see dagc.redact) are masked, so the manifest can be committed and its hash does not reveal them.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from dagc import ir
from dagc.configcodec import encode_config
from dagc.snowflake.packaging import pipeline_packages
from dagc.snowflake.procedure import task_log_level

MANIFEST_VERSION = 1


def _schedule(s: ir.Schedule | None) -> dict[str, Any] | None:
    if isinstance(s, ir.Cron):
        return {"cron": s.expr, "timezone": s.timezone}
    if isinstance(s, ir.Interval):
        return {"interval_seconds": s.seconds, "text": s.text}
    return None


def _branch_parents(p: ir.Pipeline) -> dict[str, tuple[str, str]]:
    """child -> (branch, case), computed once: a per-task search made compile quadratic."""
    out: dict[str, tuple[str, str]] = {}
    for b in p.tasks:
        if b.is_branch:
            for case, child in b.cases.items():
                out.setdefault(child, (b.name, case))
    return out


def _task(p: ir.Pipeline, t: ir.Task, parents: dict[str, tuple[str, str]]) -> dict[str, Any]:
    from dagc.emit.conditions import when_sql

    parent = parents.get(t.name)
    return {
        "name": t.name,
        "snowflake_name": p.snowflake_name(t.name),
        "kind": t.kind.value,
        "step": t.step,
        "params": ir.thaw(t.params),
        "sql": t.sql,
        "after": list(t.after),
        "predecessors": [p.snowflake_name(a) for a in t.after],
        "when": t.when.value,
        "cases": ir.thaw(t.cases),
        "branch_parent": {"task": parent[0], "case": parent[1]} if parent else None,
        "warehouse": t.warehouse,
        "serverless": t.serverless,
        "serverless_size": t.serverless_size,
        "compute": t.compute.to_json() if t.compute else None,
        "timeout_ms": t.timeout_ms,
        "comment": t.comment,
        "session_parameters": ir.thaw(t.session_parameters),
        "is_finalizer": t.is_finalizer,
        "if": t.condition,
        "when_sql": when_sql(p, t),
        "serverless_min_size": t.serverless_min_size,
        "serverless_max_size": t.serverless_max_size,
        "target_completion_s": t.target_completion_s,
        "success_integration": t.success_integration,
        "execute_as_user": t.execute_as_user,
        "log_level": task_log_level(p, t),  # a Python task's LOG_LEVEL, INFO unless the pipeline says otherwise
        "trace_level": t.trace_level,
        "expanded_from": t.source,
    }


def build_manifest(p: ir.Pipeline) -> dict[str, Any]:
    from dagc.emit.conditions import root_when

    parents = _branch_parents(p)
    body: dict[str, Any] = {
        "dagc_manifest": MANIFEST_VERSION,
        "pipeline": p.name,
        "environment": p.environment,
        "source": _relative(p.source),
        "graph": {
            "name": p.name,
            "description": p.description,
            "schedule": _schedule(p.schedule),
            "warehouse": p.warehouse,
            "stage": p.stage,
            "packages": pipeline_packages(p),  # what every Python task procedure gets
            "declared_packages": list(p.packages),  # the pipeline's `packages:` as written
            "imports": list(p.imports),
            "config": encode_config(p.config),
            "retries": p.retries,
            "timeout_ms": p.timeout_ms,
            "overlap": p.overlap.snowflake if p.overlap else None,
            "suspend_after_failures": p.suspend_after_failures,
            "error_integration": p.error_integration,
            "session_parameters": ir.thaw(p.session_parameters),
            "comment": p.comment,
            "trigger": {"stream": p.trigger.stream, "min_interval_s": p.trigger.min_interval_s} if p.trigger else None,
            "condition": root_when(p),
            "streams": ir.thaw(p.streams),
            "log_level": p.log_level,
            "trace_level": p.trace_level,
        },
        "tasks": [_task(p, t, parents) for t in p.all_tasks()],
        "finalizer": p.finalizer.name if p.finalizer else None,
    }
    from dagc.redact import redact_data, secrets_of

    body = redact_data(body, secrets_of(p))  # secrets never reach a reviewed or stored file
    body["hash"] = content_hash(body)
    return body


def content_hash(manifest: dict[str, Any]) -> str:
    """sha256 of what would be deployed (the source path and the hash itself excluded)."""
    core = {k: v for k, v in manifest.items() if k not in ("hash", "source")}
    return "sha256:" + hashlib.sha256(dumps(core).encode("utf-8")).hexdigest()


def dumps(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _relative(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        rel = path
    return rel.replace(os.sep, "/") if not rel.startswith("..") else os.path.basename(path)


def load_manifest(m: dict[str, Any]) -> ir.Pipeline:
    """The IR a manifest describes: the inverse of `build_manifest` (up to masked secrets).

    Lets tools work from a reviewed manifest alone (`plan --against`, audits), and lets tests check
    that the manifest carries everything a back end needs: build_manifest(load_manifest(m)) == m.
    """
    from dagc.configcodec import decode_config

    if m.get("dagc_manifest") != MANIFEST_VERSION:
        from dagc.diagnostics import DagcError

        raise DagcError(f"not a dagc manifest of version {MANIFEST_VERSION}",
                        hint="compile it again with this dagc: dagc compile PIPELINE -o manifest.json")
    g = m["graph"]
    s = g.get("schedule")
    schedule: ir.Schedule | None = None
    if s and "cron" in s:
        schedule = ir.Cron(expr=s["cron"], timezone=s["timezone"])
    elif s:
        schedule = ir.Interval(seconds=s["interval_seconds"], text=s["text"])

    def task(t: dict[str, Any]) -> ir.Task:
        c = t.get("compute")
        return ir.Task(
            name=t["name"], kind=ir.TaskKind(t["kind"]), step=t["step"], params=ir.freeze(t["params"]), sql=t["sql"],
            cases=ir.freeze(t["cases"]), after=tuple(t["after"]), when=ir.Condition(t["when"]),
            warehouse=t["warehouse"], serverless=t["serverless"], serverless_size=t["serverless_size"],
            compute=ir.Compute.from_json(c) if c else None, timeout_ms=t["timeout_ms"],
            comment=t["comment"], session_parameters=ir.freeze(t["session_parameters"]), is_finalizer=t["is_finalizer"],
            condition=t.get("if"), serverless_min_size=t.get("serverless_min_size"),
            serverless_max_size=t.get("serverless_max_size"), target_completion_s=t.get("target_completion_s"),
            success_integration=t.get("success_integration"), execute_as_user=t.get("execute_as_user"),
            log_level=t.get("log_level"), trace_level=t.get("trace_level"), source=t.get("expanded_from"),
        )

    tasks = [task(t) for t in m["tasks"]]
    overlap = next((o for o in ir.Overlap if o.snowflake == g["overlap"]), None)
    return ir.Pipeline(
        name=m["pipeline"], tasks=tuple(t for t in tasks if not t.is_finalizer),
        finalizer=next((t for t in tasks if t.is_finalizer), None), description=g["description"], schedule=schedule,
        warehouse=g["warehouse"], stage=g["stage"], packages=tuple(g.get("declared_packages", g["packages"])), imports=tuple(g["imports"]),
        config=ir.freeze(decode_config(g["config"])), retries=g["retries"], timeout_ms=g["timeout_ms"], overlap=overlap,
        suspend_after_failures=g["suspend_after_failures"], error_integration=g["error_integration"],
        session_parameters=ir.freeze(g["session_parameters"]), comment=g["comment"], environment=m["environment"],
        source=m["source"], trigger=ir.Trigger(**g["trigger"]) if g.get("trigger") else None,
        streams=ir.freeze(g.get("streams") or {}), log_level=g.get("log_level"), trace_level=g.get("trace_level"),
    )
