"""What a Python task's procedure gets besides its code: packages, a log level, secrets.

Shared by the Snowflake emitter and the manifest (stdlib only), so that the manifest a reviewer
reads states exactly what the task procedures get:

- packages: `packaging.pipeline_packages` (the pipeline's `packages:` plus what dagc's runtime needs);
- LOG_LEVEL: without one, `ctx.log` records never reach the event table. Every Python task gets
  LOG_LEVEL = INFO as a task session parameter unless the task's (or the pipeline's)
  `session_parameters:` set LOG_LEVEL themselves;
- secrets: see `secret_grants`.
"""

from __future__ import annotations

from typing import Any, Mapping

DEFAULT_LOG_LEVEL = "INFO"


def _has(params: Mapping[str, Any], key: str) -> bool:
    return any(str(k).upper() == key for k in params)


def task_session_parameters(pipeline: Any, task: Any) -> dict[str, Any]:
    """The session parameters a task is created with (a Python task always has a LOG_LEVEL)."""
    params = dict(task.session_parameters or {})
    if getattr(task.kind, "value", task.kind) == "sql" or _has(params, "LOG_LEVEL"):
        return params
    graph = dict(pipeline.session_parameters or {})
    inherited = next((v for k, v in graph.items() if str(k).upper() == "LOG_LEVEL"), None)
    params["LOG_LEVEL"] = inherited if inherited is not None else DEFAULT_LOG_LEVEL
    return params
