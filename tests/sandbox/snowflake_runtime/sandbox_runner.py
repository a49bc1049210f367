"""Runs one task procedure the way Snowflake does, in an interpreter started with `python -I -S`.

argv: a JSON file with
  path       the import path Snowflake gives the procedure: its handler module's zip, its IMPORTS
             (the staged dagc bundle) and its PACKAGES (a directory holding only those distributions)
  handler    "<module>.<function>" (Snowpark's HANDLER clause)
  mode       "task" (call the handler with a session), "job" (an ML Job entry point submitted by a
             procedure, the older path) or "ml_job" (a native ML Job: snowflake.ml.jobs' staged
             launcher, `launcher`, run with `argv` as the payload's startup script runs it)
The result (or the exception) goes back to the stand-in over the session's connection.
"""

import importlib
import json
import os
import sys
import traceback

cfg = json.load(open(sys.argv[1]))
here = os.path.dirname(os.path.abspath(__file__))
stdlib = [p for p in sys.path if p]  # -I -S: the standard library only
sys.path[:] = list(cfg["path"]) + [here] + stdlib

import sandbox_session  # noqa: E402

session = sandbox_session.connect()
if cfg["mode"] == "ml_job":  # a job's container is not a procedure: no `_snowflake` module there
    sys.path.remove(here)


def substitute_ml_registry():
    """Snowflake's ML Registry cannot run offline: dagc's registry over it is served by the stand-in."""
    try:
        import dagc.snowflake.backend as backend
    except ImportError:
        return
    backend.SnowflakeModels = sandbox_session.Models


def substitute_ml_jobs():
    """`compute:` tasks submit an ML Job: run its entry point in another sandboxed interpreter."""
    try:
        import snowflake.ml.jobs as jobs
    except ImportError:
        return

    class Job:
        def __init__(self, job_id, result):
            self.id, self._result = job_id, result

        def wait(self, timeout=-1):
            return "DONE" if self._result[0] == "ok" else "FAILED"

        def result(self):
            return self._result[1]

        def get_logs(self, limit=-1, as_list=False):
            return self._result[1].splitlines()

    def submit_directory(dir_path, compute_pool, *, entrypoint, stage_name, args=None, session=None, **kw):
        return Job("SANDBOX_JOB", session_link().ask("ml_job", dir_path, compute_pool, entrypoint, list(args or []),
                                                      dict(kw, stage_name=stage_name)))

    jobs.submit_directory = submit_directory


def session_link():
    return session.link


def run_ml_job():
    """The head node of a native ML Job, after system/startup.sh: `python mljob_launcher.py <entry>`.
    The launcher puts the payload directory on the path, creates its session from the pool's login
    options, runs the entry script and saves its `__return__` under the stage mount."""
    import runpy

    import snowflake.ml._internal.utils.connection_params as login
    import snowflake.snowpark as snowpark

    def create(builder):  # on a pool, Snowpark connects with the service's token; here, to the stand-in
        substitute_ml_registry()  # dagc is importable now: the launcher put the payload on the path
        return session

    login.SnowflakeLoginOptions = lambda *a, **k: {"account": "SANDBOX"}
    snowpark.Session.SessionBuilder.create = create
    snowpark.Session.SessionBuilder.getOrCreate = create
    sys.argv = [cfg["launcher"], *cfg["argv"]]
    runpy.run_path(cfg["launcher"], run_name="__main__")
    session.link.ask("done", None)  # the value is the job's result file and the task's return value


try:
    if cfg["mode"] == "ml_job":
        run_ml_job()
    elif cfg["mode"] == "job":
        substitute_ml_registry()
        import snowflake.snowpark as snowpark

        # the job's own session: on a compute pool Snowpark connects with the service's token
        snowpark.Session.SessionBuilder.getOrCreate = lambda *a, **k: session
        sys.argv = [cfg["entrypoint"]] + list(cfg["args"])
        import runpy

        g = runpy.run_path(cfg["entrypoint"], run_name="__main__")
        session.link.ask("done", g.get("__return__"))
    else:
        substitute_ml_registry()
        if cfg.get("compute"):
            substitute_ml_jobs()
        module, _, function = cfg["handler"].rpartition(".")
        handler = getattr(importlib.import_module(module), function)
        session.link.ask("done", handler(session))
except BaseException as exc:  # noqa: BLE001 - report everything, as Snowflake's task history does
    session.link.ask("failed", f"{type(exc).__name__}: {exc}", traceback.format_exc())
    sys.exit(1)
