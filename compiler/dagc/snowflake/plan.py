"""The diff between two graph states, and the plan `dagc plan` / `dagc deploy --dry-run` print."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from dagc.snowflake.graphstate import GraphState


@dataclass
class FieldChange:
    key: str
    old: Any
    new: Any


@dataclass
class Change:
    action: str  # "create" | "alter" | "drop"
    name: str  # canonical Snowflake name
    short: str
    role: str
    fields: list[FieldChange] = field(default_factory=list)

    @property
    def only_state(self) -> bool:
        return self.action == "alter" and all(f.key == "state" for f in self.fields)


@dataclass
class Plan:
    pipeline: str
    changes: list[Change]
    uploads: list[dict[str, Any]] = field(default_factory=list)  # packaging.Bundle.describe() entries
    against: str = ""
    actual: Any = field(default=None, repr=False, compare=False)  # the GraphState the plan was made from
    # what every Python task procedure gets (packaging.pipeline_packages) and the `packages:` as
    # written; None for a pipeline of SQL tasks only
    packages: list[str] | None = None
    declared_packages: list[str] | None = None

    @property
    def empty(self) -> bool:
        return not self.changes and not any(u.get("pending", True) for u in self.uploads)

    def counts(self) -> dict[str, int]:
        out = {"create": 0, "alter": 0, "drop": 0}
        for c in self.changes:
            out[c.action] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "against": self.against,
            "changes": [
                {"action": c.action, "task": c.short, "snowflake_name": c.name, "role": c.role,
                 "fields": [{"key": f.key, "old": f.old, "new": f.new} for f in c.fields]}
                for c in self.changes
            ],
            "uploads": self.uploads,
            **({"packages": self.packages, "declared_packages": self.declared_packages}
               if self.packages is not None else {}),
            "summary": self.counts(),
        }

    def added_packages(self) -> list[str]:
        """The packages dagc adds to the declared ones for its runtime (e.g. snowflake-snowpark-python)."""
        from dagc.snowflake.packaging import requirement_name

        declared = {requirement_name(p) for p in self.declared_packages or []}
        return [p for p in self.packages or [] if requirement_name(p) not in declared]


def diff(desired: GraphState, actual: GraphState | None) -> list[Change]:
    """Changes that turn `actual` into `desired`: creates/alters in creation order, then drops
    (successors before predecessors, i.e. reverse order)."""
    actual_tasks = actual.tasks if actual is not None else {}
    changes: list[Change] = []
    for sf, want in desired.tasks.items():
        have = actual_tasks.get(sf)
        if have is None:
            fields = [FieldChange(k, None, v) for k, v in want.settings.items() if v is not None]
            changes.append(Change("create", sf, want.short, want.role, fields))
            continue
        fields = [FieldChange(k, have.settings.get(k), v) for k, v in want.settings.items()
                  if v != have.settings.get(k) and not (k == "state" and v is None)]
        if want.detail is not None and have.detail is not None:
            # say what changed inside a Python task instead of two fingerprints
            explained = [FieldChange(f"python {k}", have.detail.get(k), v) for k, v in want.detail.items()
                         if v != have.detail.get(k)]
            if explained:
                fields = [f for f in fields if f.key != "definition"] + explained
        fields = _expand(fields)
        if want.role != have.role and not any(f.key == "finalizer" for f in fields):
            fields.append(FieldChange("role", have.role, want.role))
        if fields:
            changes.append(Change("alter", sf, want.short, want.role, fields))
    for sf in reversed(list(actual_tasks)):
        if sf not in desired.tasks:
            have = actual_tasks[sf]
            changes.append(Change("drop", sf, have.short, have.role, []))
    return changes


def _expand(fields: list[FieldChange]) -> list[FieldChange]:
    """A changed mapping (config, params, session parameters) -> one line per changed key."""
    out: list[FieldChange] = []
    for f in fields:
        if isinstance(f.old, Mapping) and isinstance(f.new, Mapping) or (
                f.key in ("config", "session_parameters", "python params") and
                isinstance(f.old or f.new, Mapping) and (f.old is None or f.new is None)):
            old, new = f.old or {}, f.new or {}
            for k in sorted(set(old) | set(new), key=str):
                if old.get(k) != new.get(k):
                    out.append(FieldChange(f"{f.key}.{k}", old.get(k), new.get(k)))
        else:
            out.append(f)
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, str) and value.startswith("python:"):
        return f"python step {value[7:]}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def render_plan(plan: Plan, *, verbose: bool = False) -> str:
    """The text `dagc plan` / `dagc deploy --dry-run` print."""
    lines: list[str] = [f"plan for {plan.pipeline}" + (f" against {plan.against}" if plan.against else "")]
    sign = {"create": "+", "alter": "~", "drop": "-"}
    for c in plan.changes:
        label = c.short if c.role != "root" else f"{c.short} (root)"
        if c.role == "finalizer":
            label += " (finalizer)"
        lines.append(f"  {sign[c.action]} {c.action:<6} {label}  [{c.name}]")
        if c.action == "drop":
            continue
        for f in c.fields:
            if c.action == "create":
                if f.key == "definition" and str(f.new).startswith("python:"):
                    lines.append(f"      definition: python step (fingerprint {str(f.new)[7:]})")
                elif f.key == "definition" and isinstance(f.new, Mapping) and "native_ml_job" in f.new:
                    job = dict(f.new)
                    lines.append(f"      definition: native ML Job on {job.get('pool')} x {job.get('instances')} "
                                 f"(CALL SYSTEM$EXECUTE_ML_JOB; fingerprint {job.pop('native_ml_job')})")
                    if verbose:
                        lines.extend(f"        {k}: {_fmt(v)}" for k, v in job.items() if k not in ("pool", "instances"))
                elif f.key != "state" or verbose:
                    lines.append(f"      {f.key}: " + _fmt(f.new).replace("\n", "\n" + " " * (8 + len(f.key))))
            else:
                lines.append(f"      {f.key}: {_fmt(f.old)} -> {_fmt(f.new)}")
    for u in plan.uploads:
        status = "upload" if u.get("pending", True) else "already staged"
        lines.append(f"  ^ {status} {u['target']}  ({u['files']} files, {u['bytes']:,} bytes, {u['sha256']})")
        if verbose:
            for f in u.get("contents", []):
                lines.append(f"      {f['path']}  {f['bytes']:,} bytes")
    if verbose and plan.packages is not None:
        added = plan.added_packages()
        lines.append("  packages of the Python tasks: " + (", ".join(plan.packages) or "(none)")
                     + (f"  (dagc adds {', '.join(added)} for its runtime)" if added else ""))
    n = plan.counts()
    if plan.empty:
        lines.append("no changes: the deployed graph matches the pipeline")
    else:
        lines.append(f"{n['create']} to create, {n['alter']} to alter, {n['drop']} to drop"
                     + (f", {sum(1 for u in plan.uploads if u.get('pending', True))} upload(s)" if plan.uploads else ""))
    return "\n".join(lines)
