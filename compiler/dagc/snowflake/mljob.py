"""Compute-pool steps: a task with `compute: {pool, instances}` runs its step as an ML Job.

A Snowflake task has no compute-pool setting, so the task itself (on its warehouse) submits the
step to the pool with `snowflake.ml.jobs.submit_directory`, waits for it, and passes the job's
result on as the task's return value. The job's payload directory is the same bundle the task
imports (steps/ + the dagc runtime, unpacked from the task's import directory) plus a two-line
entry script; the step's context (config, params, predecessors' values, run id, scheduled time)
travels as one JSON argument, and the step's JSON result comes back through the ML Job result
mechanism (the entry script's `__return__`).

The job is configured by `job_options` (pure, tested offline); the submission itself needs a
compute pool and runs only on Snowflake (tests/integration).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping

ENTRY_SCRIPT = "dagc_job_entry.py"
ENTRY_SOURCE = (
    "import sys\n"
    "from dagc.snowflake.mljob import job_main\n"
    "__return__ = job_main(sys.argv[1])\n"
)
DEFAULT_TIMEOUT_S = 6 * 3600


def job_payload(spec: Mapping[str, Any], ctx: Any) -> dict[str, Any]:
    """Everything the step needs on the pool, as JSON (the session is the job's own). Secrets
    travel as references (`ctx.unresolved`), never as values: job arguments are visible."""
    raw = getattr(ctx, "unresolved", None) or {"config": ctx.config, "params": ctx.params}
    return {
        "spec": dict(spec),
        "run_id": ctx.run_id,
        "scheduled_at": ctx.scheduled_at.isoformat(),
        "config": raw["config"],
        "params": dict(raw["params"]),
        "inputs": dict(ctx.inputs),
        "environment": ctx.environment,
    }


def job_name(spec: Mapping[str, Any]) -> str:
    raw = f"dagc_{spec['pipeline']}_{spec['task']}"
    return re.sub(r"[^A-Za-z0-9_]", "_", raw)[:200]


def job_options(spec: Mapping[str, Any], payload: Mapping[str, Any], payload_dir: str) -> dict[str, Any]:
    """Keyword arguments for `snowflake.ml.jobs.submit_directory` for this task."""
    compute = spec.get("compute") or {}
    if not compute.get("pool"):
        raise ValueError(f"task {spec.get('task')!r} has no compute pool")
    if not spec.get("stage"):
        raise ValueError(f"task {spec.get('task')!r}: an ML Job needs the pipeline's stage for its payload")
    instances = int(compute.get("instances") or 1)
    return {
        "dir_path": payload_dir,
        "compute_pool": compute["pool"],
        "entrypoint": ENTRY_SCRIPT,
        "stage_name": f"{str(spec['stage']).rstrip('/')}/dagc/{spec['pipeline']}/jobs",
        "args": [json.dumps(payload, sort_keys=True, default=str)],
        "target_instances": instances,
        "min_instances": instances,
        "name": job_name(spec),
        "comment": f"dagc {spec['pipeline']}.{spec['task']} run {payload.get('run_id')}",
    }


def import_directory() -> Path:
    """Where Snowflake unpacked the task procedure's imports (the bundle zip among them)."""
    d = getattr(sys, "_xoptions", {}).get("snowflake_import_directory")
    if not d:
        raise RuntimeError("not running inside a Snowflake procedure: no import directory")
    return Path(d)


def prepare_payload_dir(source: Path, target: Path) -> Path:
    """Unpack every dagc bundle zip found in `source` into `target` and add the entry script."""
    target.mkdir(parents=True, exist_ok=True)
    bundles = sorted(source.glob("dagc_bundle_*.zip"))
    if not bundles:
        raise RuntimeError(f"no dagc bundle in {source}; redeploy with `dagc deploy`")
    for b in bundles:
        with zipfile.ZipFile(b) as zf:
            zf.extractall(target)
    (target / ENTRY_SCRIPT).write_text(ENTRY_SOURCE)
    return target


def run_as_ml_job(session: Any, spec: Mapping[str, Any], ctx: Any, *,
                  submit: Callable[..., Any] | None = None, source_dir: Path | None = None,
                  timeout: float | None = None) -> Any:
    """Submit the step to its compute pool, wait, and return the step's decoded result."""
    from dagc.runtime.stepload import StepFailure

    if submit is None:
        from snowflake.ml.jobs import submit_directory as submit
    payload = job_payload(spec, ctx)
    with tempfile.TemporaryDirectory(prefix="dagc_job_") as tmp:
        payload_dir = prepare_payload_dir(source_dir or import_directory(), Path(tmp) / "payload")
        opts = job_options(spec, payload, str(payload_dir))
        ctx.log.info("submitting %s to compute pool %s (%d instance(s))", spec["task"], opts["compute_pool"],
                     opts["target_instances"])
        job = submit(session=session, **opts)
    if timeout is not None:
        limit = timeout
    elif spec.get("timeout_ms"):
        limit = max(60.0, spec["timeout_ms"] / 1000.0 - 30.0)  # leave the task time to report the failure
    else:
        limit = DEFAULT_TIMEOUT_S
    try:
        status = job.wait(timeout=limit)
    except TimeoutError:
        raise StepFailure(f"ML Job {getattr(job, 'id', '?')} for task {spec['task']!r} did not finish within "
                          f"{limit:g} s; raise the task's timeout or the pool size") from None
    if status != "DONE":
        try:
            tail = "\n".join(str(job.get_logs(limit=20, as_list=True)[-20:]).splitlines()[-20:])
        except Exception:  # noqa: BLE001 - logs are a courtesy
            tail = "(logs unavailable)"
        raise StepFailure(f"ML Job {getattr(job, 'id', '?')} for task {spec['task']!r} ended {status}; last log lines:\n{tail}")
    text = job.result()
    return json.loads(text) if isinstance(text, str) and text else text


def job_main(payload_json: str, *, session: Any = None, step_fn: Callable[..., Any] | None = None) -> str | None:
    """Runs on the compute pool: rebuild the StepContext, run the step, return its JSON text."""
    from dagc.runtime.context import StepContext
    from dagc.runtime.returns import encode_return
    from dagc.runtime.stepload import resolve_step
    from dagc.snowflake.backend import SnowflakeBackend

    from dagc.runtime.secrets import env_secret, resolve_refs

    p = json.loads(payload_json)
    spec = p["spec"]
    # on the pool, a secret comes from the job's environment variable of that name
    p["config"], p["params"] = resolve_refs(p["config"], env_secret), resolve_refs(p["params"], env_secret)

    def make_session() -> Any:
        from snowflake.snowpark import Session

        return Session.builder.getOrCreate()

    ctx = StepContext(
        pipeline=spec["pipeline"], task=spec["task"], run_id=p["run_id"],
        scheduled_at=datetime.fromisoformat(p["scheduled_at"]), config=p["config"], params=p["params"],
        inputs=p["inputs"],
        backend=SnowflakeBackend(session, session_factory=make_session,
                                 default_integration=(p["config"] or {}).get("notification_integration")),
        environment=p.get("environment"), log=logging.getLogger(f"dagc.step.{spec['pipeline']}.{spec['task']}"),
    )
    os.environ.setdefault("DAGC_TARGET", "snowflake-ml-job")
    fn = step_fn or resolve_step(spec["step"], spec.get("module"))
    value = fn(ctx, **ctx.params)
    if spec.get("kind") == "branch":
        return json.dumps(value)
    return encode_return(spec["task"], value)
