"""Compute-pool steps: a task with `compute: {pool, instances, ...}` is a native Snowflake ML Job.

The native way (what Snowflake's own task-graph sample does with `@remote`/`MLJobDefinition`):
the task's definition is `CALL SYSTEM$EXECUTE_ML_JOB(<job>, <pool>, <spec options>, <job options>)`,
the job's payload is uploaded ONCE, at deploy time, from the client, and the job runs the step on
the pool. dagc renders that call itself (`MLJobTask.to_sql`, the same text `MLJobDefinition.to_sql`
produces: the library's SpecOptions/JobOptions dataclasses, constants and literal quoting), so
`plan`, fingerprints and `deploy --dry-run` work offline; `upload_payload` uploads the payload with
the library's own `JobPayload.upload` and checks that what it uploaded is what the call names.

The payload is the step bundle (steps/ + the dagc runtime) plus a two-line entry script and the
task's spec, content-addressed: its stage directory is named from the hash of all three, so a
changed step, spec or dagc version is a new directory and an unchanged one is not uploaded again.
In the job, the entry script calls `job_entry(run=dagc.runtime.snowflake.run_task)`: the runtime
rebuilds the StepContext from the task's context (the job runs on behalf of its task:
SYSTEM$GET_PREDECESSOR_RETURN_VALUE, SYSTEM$TASK_RUNTIME_INFO and SYSTEM$SET_RETURN_VALUE answer as
in the task), runs the step, and sets the step's JSON result (10 kB) as the task's return value.

The job's timeout is its own (a watchdog in the entry), always shorter than the task's, so a task
that times out never leaves its job running on the pool.

The task's secrets (what a procedure gets in its SECRETS clause) are mounted in the job's
container as environment variables of their names, through the service specification's
`secrets:` (merged into `spec_overrides`), and their integrations join the job's; the entry reads
them with `job_secret`.

`run_as_ml_job` (the older path: a procedure that submits the job and waits) stays for graphs
deployed before; it cancels its job when it stops waiting.
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
DEFAULT_TIMEOUT_S = 3600 - 60  # inside Snowflake's default 1 h task timeout


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
        "stage_name": f"{str(compute.get('stage') or spec['stage']).rstrip('/')}/dagc/{spec['pipeline']}/jobs",
        "args": [json.dumps(payload, sort_keys=True, default=str)],
        "target_instances": instances,
        "min_instances": int(compute.get("min_instances") or instances),
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
        try:  # dagc stops waiting: the platform leaves the job running, so end it here
            job.cancel()
        except Exception:  # noqa: BLE001 - reported below either way
            pass
        raise StepFailure(f"ML Job {getattr(job, 'id', '?')} for task {spec['task']!r} did not finish within "
                          f"{limit:g} s and was cancelled; raise the task's timeout or the pool size") from None
    if status != "DONE":
        try:
            lines = job.get_logs(limit=20, as_list=True)
            tail = "\n".join(str(line) for line in list(lines)[-20:])
        except Exception:  # noqa: BLE001 - logs are a courtesy
            tail = "(logs unavailable)"
        raise StepFailure(f"ML Job {getattr(job, 'id', '?')} for task {spec['task']!r} ended {status}; last log lines:\n{tail}")
    text = job.result()
    return json.loads(text) if isinstance(text, str) and text else text


# ---- the native ML Job task ----------------------------------------------------------------------

SPEC_FILE = "dagc_job_spec.json"
NATIVE_ENTRY_SOURCE = (  # the script wires the runtime in: mljob itself never imports it (no cycle)
    "from dagc.runtime.snowflake import run_task\n"
    "from dagc.snowflake.mljob import job_entry\n"
    "__return__ = job_entry(run=run_task)\n"
)
TIMEOUT_ENV = "DAGC_JOB_TIMEOUT_S"
MAIN_CONTAINER = "main"  # snowflake.ml.jobs._utils.constants.DEFAULT_CONTAINER_NAME
TASK_TIMEOUT_DEFAULT_MS = 3_600_000  # Snowflake's USER_TASK_TIMEOUT_MS default
JOB_MARGIN_S = 60  # the job ends this long before its task would time out


def job_timeout_s(compute: Mapping[str, Any], task_timeout_ms: int | None) -> int:
    """The job's own limit: compute.timeout, else the task's timeout minus a minute; never the task's."""
    task_s = (task_timeout_ms or TASK_TIMEOUT_DEFAULT_MS) // 1000
    own = compute.get("timeout_ms")
    limit = own // 1000 if own else task_s - JOB_MARGIN_S
    return max(30, min(limit, task_s - 1))


def _split_stage(stage: str) -> tuple[str | None, str | None]:
    """(database, schema) of `@DB.SCHEMA.STAGE[/path]`, None where not qualified."""
    parts = stage.lstrip("@").split("/", 1)[0].split(".")
    if len(parts) == 3:
        return parts[0], parts[1]
    if len(parts) == 2:
        return None, parts[0]
    return None, None


def _sql_literal(value: str) -> str:
    """A string literal quoted exactly as the Snowflake connector quotes a bound parameter."""
    from snowflake.connector.converter import SnowflakeConverter

    conv = SnowflakeConverter()
    return str(conv.quote(conv.escape(conv.to_snowflake(value))))


class MLJobTask:
    """A dagv1 task definition (`to_sql`, dagv1's SQLConvertible) for one compute task.

    Holds the task spec, its compute settings, the bundle's hash and the payload built from them.
    """

    def __init__(self, spec: Mapping[str, Any], *, bundle_hash: str | None, warehouse: str | None) -> None:
        self.spec = dict(spec)
        self.compute = dict(spec.get("compute") or {})
        if not self.compute.get("pool"):
            raise ValueError(f"task {spec.get('task')!r} has no compute pool")
        stage = self.compute.get("stage") or spec.get("stage")
        if not stage:
            raise ValueError(f"task {spec.get('task')!r}: an ML Job needs a stage for its payload "
                             "(the pipeline's `stage`, or compute.stage)")
        self.stage = str(stage).rstrip("/")
        self.bundle_hash = bundle_hash or ""
        self.warehouse = warehouse
        self.timeout_s = job_timeout_s(self.compute, spec.get("timeout_ms"))
        self.secrets = dict(spec.get("secrets") or {})  # name -> SECRET object, as a procedure's SECRETS
        self.spec_json = json.dumps(self.spec, sort_keys=True, separators=(",", ":"), default=str)
        self.overrides = self._merged_overrides()  # a shape it cannot merge into: ValueError, which the emitter reports

    # -- what the job is granted -------------------------------------------------------------------
    def integrations(self) -> list[str]:
        """compute.external_access_integrations, plus those the task's secrets are allowed in (a
        secret is usually there to reach a service outside, which the job then needs too)."""
        out = list(self.compute.get("external_access_integrations") or ())
        out += [i for i in self.spec.get("external_access_integrations") or () if i not in out]
        return out

    def _merged_overrides(self) -> dict[str, Any]:
        """compute.spec_overrides, with the task's secrets mounted in the job's container.

        A procedure gets a secret through its SECRETS clause; a job's container gets it the way
        every Snowpark Container Services container does: a `secrets:` entry of the service
        specification, `snowflakeSecret.objectName` read into the environment variable of the
        secret's name (`secretKeyRef: secret_string`, a GENERIC_STRING secret). The runtime reads
        it from there (`job_secret`). Merged into the container named `main` (the ML Job's)."""
        import copy

        out = copy.deepcopy(dict(self.compute.get("spec_overrides") or {}))
        if not self.secrets:
            return out
        mounts = [{"snowflakeSecret": {"objectName": obj}, "secretKeyRef": "secret_string", "envVarName": name}
                  for name, obj in sorted(self.secrets.items())]
        spec = out.setdefault("spec", {})
        containers = spec.setdefault("containers", []) if isinstance(spec, dict) else None
        if not isinstance(containers, list):
            raise ValueError(f"task {self.spec.get('task')!r}: compute.spec_overrides must have the service "
                             "specification's shape ({spec: {containers: [...]}}) to mount the task's secrets")
        main = next((c for c in containers if isinstance(c, dict) and c.get("name") == MAIN_CONTAINER), None)
        if main is None:
            main = {"name": MAIN_CONTAINER}
            containers.append(main)
        have = {m.get("envVarName") for m in main.get("secrets") or [] if isinstance(m, dict)}
        main["secrets"] = list(main.get("secrets") or []) + [m for m in mounts if m["envVarName"] not in have]
        return out

    # -- naming: content-addressed ---------------------------------------------------------------
    @property
    def payload_hash(self) -> str:
        import hashlib

        h = hashlib.sha256()
        for part in (self.bundle_hash, NATIVE_ENTRY_SOURCE, self.spec_json,
                     "\n".join(self.compute.get("pip_requirements") or ())):
            h.update(part.encode())
            h.update(b"\0")
        return h.hexdigest()

    @property
    def name(self) -> str:
        """The job name (Snowflake appends a unique suffix per run)."""
        return re.sub(r"[^A-Za-z0-9_]", "_", f"DAGC_{self.spec['pipeline']}_{self.spec['task']}").upper()[:200]

    @property
    def stage_path(self) -> str:
        """Where the payload lives: `<stage>/dagc/<pipeline>/jobs/<NAME>_<hash16>` (app/ and system/ under it)."""
        return f"{self.stage}/dagc/{self.spec['pipeline']}/jobs/{self.name}_{self.payload_hash[:16]}"

    @property
    def job_id(self) -> str:
        db, schema = _split_stage(self.stage)
        return ".".join(p for p in (db, schema, self.name) if p)

    # -- what SYSTEM$EXECUTE_ML_JOB gets ---------------------------------------------------------
    def entrypoint(self) -> list[str]:
        """The command JobPayload.upload returns for a directory payload with our entry script."""
        from snowflake.ml.jobs._utils import constants, payload_utils

        mount = constants.STAGE_VOLUME_MOUNT_PATH
        return ["bash", f"{mount}/{constants.SYSTEM_STAGE_SUBPATH}/{payload_utils._STARTUP_SCRIPT_PATH}",
                f"{mount}/{constants.APP_STAGE_SUBPATH}/{ENTRY_SCRIPT}"]

    def env_vars(self) -> dict[str, str]:
        from snowflake.ml.jobs._utils import constants

        return {
            constants.STAGE_MOUNT_PATH_ENV_VAR: constants.STAGE_VOLUME_MOUNT_PATH,
            constants.PAYLOAD_DIR_ENV_VAR: constants.APP_STAGE_SUBPATH,
            constants.USE_EMBEDDED_SCRIPTS_ENV_VAR: "true",
            **{str(k): str(v) for k, v in (self.compute.get("env") or {}).items()},
            TIMEOUT_ENV: str(self.timeout_s),
            constants.SUBMITTED_TARGET_INSTANCES_ENV_VAR: str(self.instances),
        }

    @property
    def instances(self) -> int:
        return int(self.compute.get("instances") or 1)

    def options(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(spec options, job options) with the upper-case keys SYSTEM$EXECUTE_ML_JOB takes."""
        import dataclasses

        from snowflake.ml.jobs._utils import feature_flags, type_utils

        spec = type_utils.SpecOptions(
            stage_path=self.stage_path, args=self.entrypoint(), env_vars=self.env_vars(), enable_metrics=True,
            spec_overrides=self.overrides or None,
            runtime=self.compute.get("runtime") or None,
            enable_stage_mount_v2=feature_flags.FeatureFlags.ENABLE_STAGE_MOUNT_V2.is_enabled(),
            artifact_repositories=None)
        job = type_utils.JobOptions(
            external_access_integrations=self.integrations() or None,
            query_warehouse=self.warehouse, target_instances=self.instances,
            min_instances=int(self.compute.get("min_instances") or self.instances), use_async=False,
            comment=f"dagc {self.spec['pipeline']}.{self.spec['task']}")
        spec_d = {k.upper(): v for k, v in dataclasses.asdict(spec).items()}
        job_d = {k.upper(): v for k, v in dataclasses.asdict(job).items()}
        job_d["ASYNC"] = job_d.pop("USE_ASYNC")
        return spec_d, job_d

    def to_sql(self) -> str:
        """`CALL SYSTEM$EXECUTE_ML_JOB(...)`, synchronous: the task waits for its job."""
        spec_d, job_d = self.options()
        params = [self.job_id + "_", self.compute["pool"], json.dumps(spec_d), json.dumps(job_d)]
        return "CALL SYSTEM$EXECUTE_ML_JOB(" + ", ".join(_sql_literal(p) for p in params) + ")"

    def describe(self) -> dict[str, Any]:
        """For `plan -v` / `deploy --dry-run -v`: what runs where, and the payload."""
        spec_d, job_d = self.options()
        return {"kind": "ml_job", "job": self.job_id, "pool": self.compute["pool"], "instances": self.instances,
                "min_instances": job_d["MIN_INSTANCES"], "payload": self.stage_path,
                "payload_sha256": f"sha256:{self.payload_hash}", "entrypoint": ENTRY_SCRIPT,
                "timeout_s": self.timeout_s, "runtime": spec_d["RUNTIME"] or "(pool default)",
                "external_access_integrations": job_d["EXTERNAL_ACCESS_INTEGRATIONS"] or [],
                "pip_requirements": list(self.compute.get("pip_requirements") or ()),
                "secrets": dict(sorted(self.secrets.items())),
                "env": {k: v for k, v in (self.compute.get("env") or {}).items()},
                "spec_overrides": spec_d["SPEC_OVERRIDES"] or {}, "query_warehouse": self.warehouse}

    def summary(self) -> dict[str, Any]:
        """The settings a plan shows and diffs; equal to `summarize_sql(self.to_sql())`, without
        importing snowflake.ml (so `plan --against` stays offline and light)."""
        return {"pool": str(self.compute["pool"]), "instances": self.instances,
                "min_instances": int(self.compute.get("min_instances") or self.instances),
                "payload": self.stage_path, "timeout_s": self.timeout_s,
                "runtime": self.compute.get("runtime") or None,
                "external_access_integrations": self.integrations(),
                "env": {str(k): str(v) for k, v in (self.compute.get("env") or {}).items()},
                "spec_overrides": self.overrides,
                "query_warehouse": self.warehouse}

    # -- deploy time -----------------------------------------------------------------------------
    def payload_dir(self, bundle_zip: bytes, target: Path) -> Path:
        """The payload directory: the bundle unpacked, the entry script, the spec."""
        import io

        target.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(io.BytesIO(bundle_zip)) as zf:
            zf.extractall(target)
        (target / ENTRY_SCRIPT).write_text(NATIVE_ENTRY_SOURCE)
        (target / SPEC_FILE).write_text(self.spec_json)
        return target


CALL_PREFIX = "CALL SYSTEM$EXECUTE_ML_JOB("
_LITERAL = re.compile(r"'((?:[^'\\]|\\.)*)'")


def is_ml_job_sql(definition: Any) -> bool:
    return isinstance(definition, str) and definition.lstrip().upper().startswith(CALL_PREFIX)


def summarize_sql(definition: str) -> dict[str, Any]:
    """`MLJobTask.summary()` read back from a task's `CALL SYSTEM$EXECUTE_ML_JOB(...)` text (a deployed
    task has only its text), so a plan compares a deployed job with the wanted one setting by setting."""
    from snowflake.ml.jobs._utils import constants

    args = [re.sub(r"\\(.)", r"\1", m) for m in _LITERAL.findall(definition)]
    if len(args) != 4:
        return {"sql": definition}
    spec, job = json.loads(args[2]), json.loads(args[3])
    env = dict(spec.get("ENV_VARS") or {})
    internal = {constants.STAGE_MOUNT_PATH_ENV_VAR, constants.PAYLOAD_DIR_ENV_VAR, constants.USE_EMBEDDED_SCRIPTS_ENV_VAR,
                constants.SUBMITTED_TARGET_INSTANCES_ENV_VAR, TIMEOUT_ENV}
    return {"pool": args[1], "instances": job.get("TARGET_INSTANCES"), "min_instances": job.get("MIN_INSTANCES"),
            "payload": spec.get("STAGE_PATH"), "timeout_s": int(env.get(TIMEOUT_ENV) or 0) or None,
            "runtime": spec.get("RUNTIME"), "external_access_integrations": job.get("EXTERNAL_ACCESS_INTEGRATIONS") or [],
            "env": {k: v for k, v in env.items() if k not in internal},
            "spec_overrides": spec.get("SPEC_OVERRIDES") or {}, "query_warehouse": job.get("QUERY_WAREHOUSE")}


def payload_staged(session: Any, task: MLJobTask) -> bool:
    """True if this payload (by hash) is already on the stage."""
    try:
        rows = session.sql(f"LIST {task.stage_path}/app/").collect()
    except Exception:  # noqa: BLE001 - a missing directory lists as an error on some stages
        return False
    return any(str(r[0]).endswith("/" + ENTRY_SCRIPT) for r in rows)


def upload_payload(session: Any, task: MLJobTask, bundle_zip: bytes) -> bool:
    """Upload the job payload with snowflake.ml.jobs' own JobPayload.upload, unless it is staged.

    Returns True if it uploaded. Refuses (RuntimeError) if the library would start the job
    differently from what `to_sql` names (a snowflake-ml-python upgrade changed the layout).
    """
    from snowflake.ml.jobs._utils import payload_utils

    if payload_staged(session, task):
        return False
    with tempfile.TemporaryDirectory(prefix="dagc_job_") as tmp:
        d = task.payload_dir(bundle_zip, Path(tmp) / "payload")
        payload = payload_utils.JobPayload(d, entrypoint=d / ENTRY_SCRIPT,
                                           pip_requirements=list(task.compute.get("pip_requirements") or ()) or None)
        uploaded = payload.upload(session, task.stage_path, overwrite=True)
    got = [p.as_posix() if hasattr(p, "as_posix") else str(p) for p in uploaded.entrypoint]
    want = task.entrypoint()
    if got != want or any(task.env_vars().get(k) != v for k, v in uploaded.env_vars.items()):
        raise RuntimeError(f"snowflake.ml.jobs uploaded a payload started by {got} with {uploaded.env_vars}, but the "
                           f"task runs {want}; this snowflake-ml-python is not the one dagc was built for")
    return True


def ml_job_tasks(dag: Any) -> list[MLJobTask]:
    """The native ML Job definitions of a dagv1 DAG's tasks."""
    return [t.definition for t in dag.tasks if isinstance(getattr(t, "definition", None), MLJobTask)]


def ml_job_uploads(dag: Any, bundle: Any, *, pending: bool = True) -> list[dict[str, Any]]:
    """Plan entries (like packaging.Bundle.describe) for the job payloads a deploy uploads."""
    out = []
    for job in ml_job_tasks(dag):
        out.append({"target": job.stage_path + "/app/", "files": len(bundle.files) + 2,
                    "bytes": len(bundle.data) + len(NATIVE_ENTRY_SOURCE) + len(job.spec_json),
                    "sha256": f"sha256:{job.payload_hash}", "pending": pending, "kind": "ml_job_payload",
                    "task": job.spec["task"],
                    "contents": [{"path": f"{ENTRY_SCRIPT} (entry: job_entry)", "bytes": len(NATIVE_ENTRY_SOURCE)},
                                 {"path": f"{SPEC_FILE} (the task spec)", "bytes": len(job.spec_json)},
                                 {"path": f"the step bundle {bundle.name}, unpacked", "bytes": len(bundle.data)}]})
    return out


def upload_payloads(session: Any, dag: Any, bundle: Any) -> list[str]:
    """Deploy time: upload every ML Job payload of `dag` that is not staged yet; their stage paths."""
    return [job.stage_path for job in ml_job_tasks(dag) if upload_payload(session, job, bundle.data)]


def payloads_staged(session: Any, dag: Any) -> bool:
    return all(payload_staged(session, job) for job in ml_job_tasks(dag))


def job_entry(spec_path: str | Path | None = None, *, run: Callable[..., Any], session: Any = None,
              facts: Any = None, backend: Any = None, step_fn: Callable[..., Any] | None = None) -> str | None:
    """Runs in the ML Job (head node): the task's step, to the task's return value.

    `run` is `dagc.runtime.snowflake.run_task` (the entry script passes it). The spec comes from
    the payload; the step's context from the task's (the job runs on behalf of its task: with
    `facts` None the runtime reads it through the session's SYSTEM$ functions, as in a task). The
    watchdog ends the step before the task's own timeout would.
    """
    import signal
    import threading

    path = Path(spec_path) if spec_path else Path(__file__).resolve().parents[2] / SPEC_FILE
    spec = json.loads(Path(path).read_text())
    inner = {**spec, "compute": None}  # the step itself, not another job
    if session is None:
        from snowflake.snowpark import Session

        session = Session.builder.getOrCreate()
    os.environ.setdefault("DAGC_TARGET", "snowflake-ml-job")
    limit = int(os.environ.get(TIMEOUT_ENV) or 0)
    armed = limit > 0 and threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGALRM")
    if armed:
        def expire(signum: int, frame: Any) -> None:
            raise TimeoutError(f"ML Job for task {spec['task']!r} reached its timeout of {limit} s "
                               "(compute.timeout, shorter than the task's); it stopped before the task would")
        previous = signal.signal(signal.SIGALRM, expire)
        signal.alarm(limit)
    try:
        return run(session, inner, facts=facts, backend=backend, step_fn=step_fn,  # type: ignore[no-any-return]
                   secret=job_secret)
    finally:
        if armed:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)


def job_secret(name: str) -> str:
    """A secret inside an ML Job: the environment variable its `secrets:` mount set (see MLJobTask)."""
    from dagc.runtime.secrets import SecretUnavailable, env_secret

    try:
        return env_secret(name)
    except SecretUnavailable:
        raise SecretUnavailable(f"secret {name} is not mounted in this ML Job: write it in the pipeline as "
                                f"{{{{ secret('{name}', object='DB.SCHEMA.SECRET') }}}} so dagc mounts it in the "
                                "job's container") from None


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
