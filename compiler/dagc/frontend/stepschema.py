"""`dagc schema --with-steps`: the pipeline schema specialised to one project's registered steps.

Editors (VS Code's YAML extension, JetBrains, anything speaking yaml-language-server) complete
from a JSON Schema. The shipped schema knows the language but not the project, so this variant
adds: an enum of the step names for `step:` (and `branch.step`), and for each step the `params:`
it takes, with their types, defaults and whether they are required, read statically from the
step signatures (`dagc.frontend.registry`). A branch step whose returns are string literals also gets its
case names. Regenerate it when steps change (a pre-commit hook can do that).
"""

from __future__ import annotations

import copy
from typing import Any

from dagc.frontend.registry import Param, Registry, StepInfo

_TYPES = {"int": "integer", "float": "number", "str": "string", "bool": "boolean", "list": "array",
          "dict": "object"}


def _json_type(annotation: str | None) -> list[str] | str | None:
    if not annotation:
        return None
    parts = [p.strip() for p in annotation.replace("Optional[", "").rstrip("]").split("|")]
    out: list[str] = []
    for p in parts:
        base = p.split("[", 1)[0]
        if base == "None":
            out.append("null")
        elif base in _TYPES:
            out.append(_TYPES[base])
        else:
            return None  # an annotation we cannot express: accept anything
    if "number" in out and "integer" in out:
        out.remove("integer")
    return out[0] if len(out) == 1 else out


def _param_schema(p: Param, info: StepInfo) -> dict[str, Any]:
    s: dict[str, Any] = {}
    t = _json_type(p.annotation)
    if t and "string" not in (t if isinstance(t, list) else [t]):
        s["anyOf"] = [{"type": t}, {"$ref": "#/$defs/template"}]  # "{{ vars.rows }}" renders to an int
    elif t:
        s["type"] = t
    desc = f"Parameter of step {info.name} ({info.file}:{info.line})"
    if p.annotation:
        desc += f"; annotated {p.annotation}"
    s["description"] = desc + ("; required" if p.required else "")
    if p.has_default:
        s["default"] = p.default
        s["examples"] = [p.default]
    return s


def _params_schema(info: StepInfo) -> dict[str, Any]:
    s: dict[str, Any] = {
        "type": "object",
        "description": f"Keyword arguments of step {info.name} ({info.file}:{info.line}).",
        "properties": {p.name: _param_schema(p, info) for p in info.params},
        "additionalProperties": info.accepts_any,
    }
    required = [p.name for p in info.params if p.required]
    if required:
        s["required"] = required
    return s


def with_steps(base: dict[str, Any], registry: Registry) -> dict[str, Any]:
    """A copy of `base` whose tasks know the project's steps: names, params and branch cases."""
    schema = copy.deepcopy(base)
    names = sorted(registry)
    defs = schema["$defs"]
    defs["template"] = {"type": "string", "pattern": "\\{\\{.*\\}\\}",
                        "description": "A template such as {{ vars.rows }}, rendered before the type is checked."}
    step_desc = "A registered Python step (a function decorated with @step in steps/)."
    for kind in ("task", "finalizer"):
        task = defs[kind]
        if names:
            task["properties"]["step"] = {**task["properties"]["step"], "enum": names,
                                          "description": step_desc + " One of: " + ", ".join(names) + "."}
            if "branch" in task["properties"]:
                bstep = task["properties"]["branch"]["properties"]["step"]
                task["properties"]["branch"]["properties"]["step"] = {**bstep, "enum": names}
        rules: list[dict[str, Any]] = []
        for name in names:
            info = registry[name]
            rules.append({
                "if": {"required": ["step"], "properties": {"step": {"const": name}}},
                "then": {"properties": {"params": _params_schema(info)}},
            })
            if info.returns and "branch" in task["properties"]:
                rules.append({
                    "if": {"required": ["branch"],
                           "properties": {"branch": {"required": ["step"], "properties": {"step": {"const": name}}}}},
                    "then": {"properties": {
                        "params": _params_schema(info),
                        # mapping form: case keys; list form (case = child name): the items
                        "branch": {"properties": {"cases": {"propertyNames": {"enum": sorted(info.returns)},
                                                            "items": {"enum": sorted(info.returns)}}}},
                    }},
                })
            elif "branch" in task["properties"]:
                rules.append({
                    "if": {"required": ["branch"],
                           "properties": {"branch": {"required": ["step"], "properties": {"step": {"const": name}}}}},
                    "then": {"properties": {"params": _params_schema(info)}},
                })
        if rules:
            task["allOf"] = rules
    schema["$id"] = schema.get("$id", "").replace("pipeline.schema.json", "pipeline.steps.schema.json")
    schema["title"] = schema.get("title", "dagc pipeline") + f" (with the {len(names)} steps of this project)"
    return schema
