"""The Snowflake runtime sandbox: run a pipeline's Python tasks the way Snowflake runs them.

For each Python task this produces the task procedure exactly as Snowpark registers it (the
handler code from Snowpark's own `generate_python_code`, the PACKAGES list after Snowpark's own
additions, the IMPORTS dagc gives it) and runs it in a clean interpreter (`python -I -S`) whose
import path holds only
  * the handler (inline code, or the zip Snowpark would upload for a large closure),
  * the procedure's IMPORTS: the staged dagc bundle built by dagc.snowflake.packaging,
  * its PACKAGES: a directory of only those distributions and their dependencies (site_dir.py),
  * what Snowflake's Python runtime adds: the standard library and `_snowflake`,
with the import directory passed as Snowflake does (`-X snowflake_import_directory`). The session
it receives talks to the stand-in Snowflake (standin.py) in this process.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagc import ir
from tests.sandbox import site_dir
from tests.sandbox.stage import DeploySession, Stages
from tests.sandbox.standin import Graph, Outcome, Snowflake, SnowflakeSays, interpreter_argv


@dataclass
class Procedure:
    task: str  # YAML name
    deployed: str  # PIPELINE$TASK
    code: str  # the handler module Snowpark generates
    handler: str  # Snowpark's HANDLER clause
    inline: bool  # AS $$ code $$ (small closures) or an uploaded udf_py_*.zip
    packages: list[str]  # the PACKAGES clause
    imports: list[str]  # the IMPORTS clause (stage paths)
    compute: bool
    secrets: dict[str, str]  # the SECRETS clause: name -> SECRET object


def procedures(pipeline: ir.Pipeline, project_root: Path) -> tuple[list[Procedure], Any, Any]:
    """The task procedures a deploy of `pipeline` registers, and the bundle and DAG they come from."""
    from snowflake.snowpark._internal.udf_utils import (
        _DEFAULT_HANDLER_NAME,
        _MAX_INLINE_CLOSURE_SIZE_BYTES,
        add_snowpark_package_to_sproc_packages,
        generate_python_code,
    )
    from snowflake.snowpark._internal.utils import TempObjectType
    from snowflake.core.task import StoredProcedureCall

    from dagc.emit.snowflake import build_dag, low_level_tasks
    from dagc.snowflake.deploy import step_modules_for
    from dagc.snowflake.packaging import build_bundle

    bundle = build_bundle(project_root)
    target = bundle.target(pipeline.stage, pipeline.name)
    dag = build_dag(pipeline, bundle_import=target, bundle_hash=bundle.sha256, step_modules=step_modules_for(project_root))
    out = []
    for low in low_level_tasks(dag):
        d = low.definition
        if not isinstance(d, StoredProcedureCall):
            continue  # SQL, or a native ML Job (`ml_jobs`)
        # what snowflake.core's _register_task_definition_stored_procedure hands to session.sproc.register,
        # and what StoredProcedureRegistration then does with it
        packages = add_snowpark_package_to_sproc_packages(None, list(d._packages or []), "conda")
        if not any(site_dir.requirement(p) == "cloudpickle" for p in packages):
            packages.append("cloudpickle")  # Session._resolve_packages always adds it: the handler unpickles with it
        handler_fn = getattr(d, "handler", None) or d.func  # a SecretProcedureCall registers on .func
        code = generate_python_code(handler_fn, ["session"], TempObjectType.PROCEDURE, False, False)
        inline = len(code) <= _MAX_INLINE_CLOSURE_SIZE_BYTES
        short = low.name.split("$", 1)[1].lower()
        spec = getattr(handler_fn, "dagc_spec", {})
        out.append(Procedure(short, low.name.upper(), code, _DEFAULT_HANDLER_NAME if inline else f"udf_py_1.{_DEFAULT_HANDLER_NAME}",
                             inline, packages, list(d._imports or []), bool(spec.get("compute")),
                             dict(getattr(d, "secrets", {}) or {})))
    return out, bundle, dag


def ml_jobs(dag: Any) -> dict[str, str]:
    """YAML task name -> the task's text, for the native ML Job tasks (CALL SYSTEM$EXECUTE_ML_JOB)."""
    from dagc.emit.snowflake import low_level_tasks
    from dagc.snowflake.mljob import is_ml_job_sql

    return {low.name.split("$", 1)[1].lower(): low.definition for low in low_level_tasks(dag)
            if is_ml_job_sql(low.definition)}


def ancestors(pipeline: ir.Pipeline) -> dict[str, set[str]]:
    up: dict[str, set[str]] = {}
    for t in pipeline.tasks:  # topological
        s: set[str] = set()
        for a in t.after:
            s.add(pipeline.snowflake_name(a).upper())
            s |= up[pipeline.snowflake_name(a).upper()]
        up[pipeline.snowflake_name(t.name).upper()] = s
    if pipeline.finalizer is not None:
        up[pipeline.snowflake_name(pipeline.finalizer.name).upper()] = set()
    return up


class Sandbox:
    """One deployed graph in the stand-in, its procedures, and a place to build their environments."""

    def __init__(self, pipeline: ir.Pipeline, project_root: Path, work: Path, sites: Path,
                 *, packages: list[str] | None = None, timezone: str = "America/Los_Angeles",
                 account: "Sandbox | None" = None) -> None:
        if packages is not None:
            pipeline = dataclasses.replace(pipeline, packages=tuple(packages))
        self.pipeline = pipeline
        self.procs, self.bundle, self.dag = procedures(pipeline, project_root)
        stage = pipeline.stage or "@DB.SC.STAGE"
        db, schema = [x.strip('"').upper() for x in stage.lstrip("@").split(".")[:2]]
        self.sf = Snowflake(Graph(db, schema, pipeline.name.upper(), dict(self.dag.config or {}),
                                  ancestors(pipeline), timezone=timezone))
        if account is not None:  # another graph in the same account: same tables and models
            self.sf.db, self.sf.models = account.sf.db, account.sf.models
        self.work = work
        self.sites = sites
        work.mkdir(parents=True, exist_ok=True)
        self.jobs = ml_jobs(self.dag)
        self.stages = account.stages if account is not None else Stages()
        self.stages.create(pipeline.stage or "@DB.SC.STAGE")  # deploy needs the pipeline's stage to exist
        self.deploy_session = DeploySession(self.stages)
        self.stage_bundle()
        if self.jobs:
            self.deploy_ml_job_payloads()

    def stage_bundle(self, *, replace: bool = False) -> bool:
        """What `dagc deploy` uploads for the procedures: dagc's own `upload_bundle` (LIST, then a
        PUT unless that hash is staged). The procedures' IMPORTS are read back from the stage.
        `replace` PUTs `self.bundle.data` over the staged file (a test that swaps the bundle's code)."""
        from dagc.snowflake.packaging import upload_bundle

        stage = self.pipeline.stage or "@DB.SC.STAGE"
        if replace:
            import io

            self.deploy_session.file.put_stream(io.BytesIO(self.bundle.data), self.bundle.target(stage, self.pipeline.name),
                                                auto_compress=False, overwrite=True)
            return True
        return upload_bundle(self.deploy_session, self.bundle, stage, self.pipeline.name)

    def deploy_ml_job_payloads(self) -> list[str]:
        """What `dagc deploy` does for native ML Job tasks: dagc's own `upload_payloads` (which uses
        snowflake.ml.jobs' JobPayload.upload) through the deploy session onto the account's stage;
        every compute pool the pipeline names exists, with one node."""
        from dagc.snowflake.mljob import upload_payloads

        for t in self.pipeline.all_tasks():
            if t.compute is not None:
                self.sf.pools.setdefault(t.compute.pool.upper(), 1)
        return upload_payloads(self.deploy_session, self.dag, self.bundle)

    def site(self, packages: list[str]) -> Path:
        key = hashlib.sha256(json.dumps(sorted(packages)).encode()).hexdigest()[:12]
        d = self.sites / f"site_{key}" / "site"
        if not (d.parent / "done").exists():
            site_dir.build(d, packages)
            (d.parent / "done").write_text("\n".join(site_dir.closure(tuple(site_dir.requirement(p) for p in packages))))
        return d

    def procedure(self, task: str) -> Procedure:
        return next(p for p in self.procs if p.task == task)

    def run(self, task: str, *, timeout: float = 300) -> Outcome:
        d = self.work / task
        d.mkdir(parents=True, exist_ok=True)
        if task in self.jobs:
            return self.run_ml_job(task, d, timeout=timeout)
        proc = self.procedure(task)
        imports = d / "imports"  # Snowflake's import directory: every IMPORTS file, by its name
        imports.mkdir(exist_ok=True)
        path: list[str] = []
        handler = d / "handler"
        handler.mkdir(exist_ok=True)
        if proc.inline:
            (handler / "inline_handler.py").write_text(proc.code)
            module = "inline_handler"
            path.append(str(handler))
        else:
            z = handler / "udf_py_1.zip"
            with zipfile.ZipFile(z, "w") as zf:
                zf.writestr("udf_py_1.py", proc.code)
            module = "udf_py_1"
            path.append(str(z))
        for imp in proc.imports:  # Snowflake copies each IMPORTS file from its stage into the import directory
            name = imp.rsplit("/", 1)[-1]
            staged = self.stages.file(imp)
            if staged is None:
                return Outcome(proc.deployed, error=f"SQL compilation error: Stage file {imp} does not exist or not authorized")
            (imports / name).write_bytes(staged.read_bytes())
            path.append(str(imports / name))
        path.append(str(self.site(proc.packages)))
        cfg = d / "procedure.json"
        cfg.write_text(json.dumps({"path": path, "handler": f"{module}.compute", "mode": "task", "compute": proc.compute}))
        self.sf.g.granted = {name: self.sf.g.secret_objects[obj] for name, obj in proc.secrets.items()
                             if obj in self.sf.g.secret_objects}
        return self.sf.serve(proc.deployed, interpreter_argv(cfg, imports), {"DAGC_SANDBOX_CONFIG": str(cfg)},
                             timeout=timeout)

    def run_ml_job(self, task: str, d: Path, *, timeout: float) -> Outcome:
        """A native ML Job task: the stand-in runs its CALL SYSTEM$EXECUTE_ML_JOB text."""
        deployed = self.pipeline.snowflake_name(task).upper()
        self.sf.g.granted = {}
        try:
            return self.sf.execute_ml_job(deployed, self.jobs[task], self.stages, self.site, work=d, timeout=timeout)
        except SnowflakeSays as exc:
            return Outcome(deployed, error=str(exc))

    def run_all(self) -> dict[str, Outcome]:
        """Every Python task in dependency order (the finalizer last); each sees what its
        predecessors set. Branch children all run: the sandbox checks each task's code and
        environment, the engine tests check which tasks a run chooses."""
        out: dict[str, Outcome] = {}
        for t in self.pipeline.all_tasks():
            if t.kind is ir.TaskKind.SQL:
                continue
            out[t.name] = self.run(t.name)
        return out
