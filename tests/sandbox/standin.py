"""A stand-in Snowflake for sandboxed task procedures, answering as Snowflake documents it.

It serves one graph run: the graph config as deployed (flat, primitives), return values by
deployed task name, the task runtime info, session parameters, and tables (DuckDB) and models
(in memory) for the data plane. Sandboxed tasks reach it through `snowflake_runtime/sandbox_session.py`.

What it enforces, from Snowflake's documentation:
  * SYSTEM$CURRENT_USER_TASK_NAME is the fully qualified name (DB.SCHEMA.PIPELINE$TASK);
  * SYSTEM$GET_PREDECESSOR_RETURN_VALUE('<name>') compares the name case-sensitively with the
    deployed names (upper case for dagc's unquoted names) and answers only for the task's
    predecessors (direct, or further up); NULL when that task set nothing;
  * SYSTEM$SET_RETURN_VALUE refuses more than 10 kB;
  * SYSTEM$TASK_RUNTIME_INFO is text, the scheduled time without a zone, in the session's TIMEZONE
    (America/Los_Angeles, Snowflake's default): `to_timestamp(...)` of it is TIMESTAMP_NTZ wall-clock
    time there, `convert_timezone('UTC', to_timestamp_tz(...))` the same instant in UTC;
  * SYSTEM$GET_TASK_GRAPH_CONFIG is the graph config's JSON text;
  * write_pandas(quote_identifiers=False) upper-cases column and table names, as unquoted
    identifiers are; SHOW TABLES LIKE is case-insensitive.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import secrets as _secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from multiprocessing.connection import Listener
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

RUNTIME_DIR = Path(__file__).parent / "snowflake_runtime"
MAX_RETURN = 10 * 1024


class SnowflakeSays(Exception):
    """An error Snowflake would raise for the statement."""


@dataclass
class Graph:
    database: str
    schema: str
    root: str  # deployed root name, e.g. TRAINING
    config: dict[str, Any]  # flat graph config as deployed
    ancestors: dict[str, set[str]]  # deployed task name -> deployed names of all its predecessors (transitively)
    timezone: str = "America/Los_Angeles"
    scheduled: datetime = field(default_factory=lambda: datetime(2026, 11, 21, 2, 0, tzinfo=timezone.utc))
    run_group: str = field(default_factory=lambda: str(uuid.uuid4()))
    returns: dict[str, str] = field(default_factory=dict)
    notifications: list[str] = field(default_factory=list)
    secret_objects: dict[str, str] = field(default_factory=dict)  # SECRET objects in the account: name -> value
    granted: dict[str, str] = field(default_factory=dict)  # what the running procedure's SECRETS clause grants
    ml_jobs: list[dict[str, Any]] = field(default_factory=list)


class Models:
    def __init__(self) -> None:
        self.by_name: dict[str, list[dict[str, Any]]] = {}
        self.defaults: dict[str, str] = {}

    def op(self, what: str, *args: Any) -> Any:
        if what == "log":
            name, blob, metrics, lineage = args
            versions = self.by_name.setdefault(name, [])
            version = f"V{len(versions) + 1}"
            versions.append({"name": name, "version": version, "blob": blob, "metrics": metrics, "lineage": lineage,
                             "created_at": datetime(2026, 11, 21, 2, len(versions), tzinfo=timezone.utc)})
            return version
        if what == "set_default":
            name, version = args
            if not any(v["version"] == version for v in self.by_name.get(name, [])):
                raise SnowflakeSays(f"model {name} has no version {version}")
            self.defaults[name] = version
            return None
        if what == "get_default":
            return self.defaults.get(args[0])
        if what == "load":
            name, version = args
            version = version or self.defaults.get(name)
            for v in self.by_name.get(name, []):
                if v["version"] == version:
                    return v["blob"]
            raise SnowflakeSays(f"model {name} version {version} does not exist")
        if what == "versions":
            name = args[0]
            return [{"name": v["name"], "version": v["version"], "created_at": v["created_at"], "metrics": v["metrics"],
                     "lineage": v["lineage"], "is_default": self.defaults.get(name) == v["version"]}
                    for v in self.by_name.get(name, [])]
        if what == "delete_version":
            name, version = args
            if self.defaults.get(name) == version:
                raise SnowflakeSays("cannot delete the default version")
            self.by_name[name] = [v for v in self.by_name.get(name, []) if v["version"] != version]
            return None
        if what == "models":
            return sorted(self.by_name)
        raise SnowflakeSays(f"unknown model operation {what}")


_RUNTIME_INFO = re.compile(r"(to_char|to_timestamp|convert_timezone\('UTC', to_timestamp_tz)"
                           r"\(system\$task_runtime_info\('([A-Z_]+)'\)\)", re.I)
_SHOW_TABLES = re.compile(r"^\s*show\s+tables\s+like\s+'((?:[^']|'')*)'\s*$", re.I)
_DROP = re.compile(r'^\s*drop\s+table\s+if\s+exists\s+((?:"[A-Z0-9_$]+"\.){0,2}"([A-Z0-9_$]+)")\s*$')


class Snowflake:
    """One stand-in account: a graph, its tables and models. `serve(task)` answers one procedure."""

    def __init__(self, graph: Graph) -> None:
        import duckdb

        self.g = graph
        self.db = duckdb.connect()
        self.models = Models()
        self.log: list[tuple[str, str, Any]] = []  # (task, op, detail)
        self.pools: dict[str, int] = {}  # compute pools of the account: name -> nodes

    # -- the data plane ---------------------------------------------------------------------------------
    def _table(self, name: str) -> str:
        last = name.split(".")[-1]
        if last.startswith('"'):
            return last.strip('"')
        return last.upper()

    def _frame(self, query: str | None, table: str | None) -> Any:
        if table is not None:
            name = self._table(table)
            if name not in self._tables():
                raise SnowflakeSays(f"SQL compilation error: Object '{self.g.database}.{self.g.schema}.{name}' does not exist")
            return self.db.execute(f'select * from "{name}"').df()
        return self._execute(query).df()

    def _execute(self, q: str) -> Any:
        """Snowflake SQL on DuckDB: as written, else translated the way the local engine translates
        it (dagc.engine.snowsql: sqlglot plus the ASOF JOIN ... MATCH_CONDITION rewrite)."""
        import duckdb

        try:
            return self.db.execute(q)
        except duckdb.Error:
            from dagc.engine.snowsql import to_duckdb

            return self.db.execute(to_duckdb(q))

    def _tables(self) -> list[str]:
        return [r[0] for r in self.db.execute("select table_name from information_schema.tables").fetchall()]

    def write_pandas(self, blob: bytes, table: str, auto_create: bool, overwrite: bool, quote: bool) -> None:
        df = pickle.loads(blob)
        if not quote:  # unquoted identifiers: Snowflake stores them upper case
            df = df.rename(columns={c: str(c).upper() for c in df.columns})
            table = table.upper()
        exists = table in self._tables()
        if not exists and not auto_create:
            raise SnowflakeSays(f"table {table} does not exist")
        self.db.register("incoming", df)
        if overwrite or not exists:
            self.db.execute(f'create or replace table "{table}" as select * from incoming')
        else:
            self.db.execute(f'insert into "{table}" select * from incoming')
        self.db.unregister("incoming")

    def collect(self, task: str, query: str | None, table: str | None) -> tuple[list[str], list[list[Any]]]:
        if table is not None:
            df = self._frame(None, table)
            return list(df.columns), df.values.tolist()
        q = query or ""
        m = _RUNTIME_INFO.findall(q)
        if m and q.lower().lstrip().startswith("select"):
            return [f"C{i}" for i in range(len(m))], [[self._runtime_info(fn.lower(), key) for fn, key in m]]
        if re.match(r"^\s*show\s+parameters\s+like\s+'timezone'\s+in\s+session\s*$", q, re.I):
            return ["key", "value", "default", "level"], [["TIMEZONE", self.g.timezone, "America/Los_Angeles", "SESSION"]]
        st = _SHOW_TABLES.match(q)
        if st:
            pattern = st.group(1).replace("''", "'").upper()
            rx = re.compile("^" + re.escape(pattern).replace("%", ".*").replace("_", ".") + "$")
            names = sorted(t for t in self._tables() if rx.match(t.upper()))
            return ["name", "database_name", "schema_name"], [[n, self.g.database, self.g.schema] for n in names]
        if q.lower().lstrip().startswith("drop table"):
            d = _DROP.match(q)
            if d is None:
                raise SnowflakeSays(f"the stand-in accepts only quoted, upper-case table names in DROP: {q!r}")
            self.db.execute(f'drop table if exists "{d.group(2)}"')
            return ["status"], [[f"{d.group(2)} successfully dropped."]]
        if re.match(r"^\s*call\s+system\$send_snowflake_notification\(", q, re.I):
            self.g.notifications.append(q)
            return ["status"], [["Notification sent"]]
        cur = self._execute(q)
        if cur.description is None:
            return ["status"], [["ok"]]
        return [d[0] for d in cur.description], [list(r) for r in cur.fetchall()]

    def _runtime_info(self, fn: str, key: str) -> Any:
        values = {
            "CURRENT_TASK_GRAPH_RUN_GROUP_ID": self.g.run_group,
            "CURRENT_ROOT_TASK_NAME": f"{self.g.database}.{self.g.schema}.{self.g.root}",
            "CURRENT_TASK_GRAPH_ORIGINAL_SCHEDULED_TIMESTAMP": self.g.scheduled.astimezone(ZoneInfo(self.g.timezone))
            .strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
        }
        if key not in values:
            raise SnowflakeSays(f"invalid argument for SYSTEM$TASK_RUNTIME_INFO: {key}")
        text = values[key]
        if fn == "to_timestamp":
            return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f")  # TIMESTAMP_NTZ: session-time-zone wall clock
        if fn.startswith("convert_timezone"):  # read in the session's TIMEZONE, then shown in UTC (TIMESTAMP_TZ)
            local = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=ZoneInfo(self.g.timezone))
            return local.astimezone(timezone.utc)
        return text

    # -- task functions -----------------------------------------------------------------------------------
    def call(self, task: str, name: str, args: tuple[Any, ...]) -> Any:
        fn = name.lower()
        full = task  # the deployed name, PIPELINE$TASK
        if fn == "system$current_user_task_name":
            return f"{self.g.database}.{self.g.schema}.{full}"
        if fn == "system$get_task_graph_config":
            return json.dumps(self.g.config) if self.g.config else None
        if fn == "system$get_predecessor_return_value":
            if len(args) != 1:
                raise SnowflakeSays("SYSTEM$GET_PREDECESSOR_RETURN_VALUE needs the predecessor's name (several predecessors)")
            wanted = str(args[0])
            if wanted not in self.g.ancestors.get(full, set()):
                raise SnowflakeSays(f"Task {wanted} is not a predecessor of {full}")  # exact, case-sensitive
            return self.g.returns.get(wanted)
        if fn == "system$set_return_value":
            text = str(args[0])
            if len(text.encode("utf-8")) > MAX_RETURN:
                raise SnowflakeSays(f"return value of {len(text.encode())} bytes exceeds the 10 KB limit")
            self.g.returns[full] = text
            return None
        raise SnowflakeSays(f"Unknown function {name}")

    # -- serving one procedure ------------------------------------------------------------------------------
    def serve(self, task: str, argv: list[str], env: dict[str, str], *, timeout: float = 300,
              cwd: str | None = None) -> "Outcome":
        authkey = _secrets.token_bytes(16)
        sock = Path(tempfile.mkdtemp(prefix="dagc_sf_")) / "s"
        listener = Listener(str(sock), family="AF_UNIX", authkey=authkey)
        outcome = Outcome(task)
        env = dict(env, DAGC_SANDBOX_ADDRESS=str(sock), DAGC_SANDBOX_AUTHKEY=authkey.hex(),
                   DAGC_SANDBOX_GRANTED=json.dumps(self.g.granted))
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def answer() -> None:
            try:
                conn = listener.accept()
            except OSError:
                return
            with conn:
                while True:
                    try:
                        op, args = conn.recv()
                    except EOFError:
                        return
                    try:
                        conn.send(("ok", self.answer(task, op, args, outcome, env)))
                    except SnowflakeSays as exc:
                        conn.send(("error", str(exc)))
                    except Exception as exc:  # noqa: BLE001 - a SQL error from DuckDB is an error to the task too
                        conn.send(("error", f"{type(exc).__name__}: {exc}"))

        t = threading.Thread(target=answer, daemon=True)
        t.start()
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            outcome.error = outcome.error or f"the task procedure did not finish within {timeout:g} s"
        finally:
            listener.close()
            shutil.rmtree(sock.parent, ignore_errors=True)
        t.join(5)
        outcome.exit_code, outcome.stdout, outcome.stderr = proc.returncode, out, err
        return outcome

    def answer(self, task: str, op: str, args: tuple[Any, ...], outcome: "Outcome", env: dict[str, str]) -> Any:
        self.log.append((task, op, args[0] if args and isinstance(args[0], str) else None))
        if op == "call":
            return self.call(task, args[0], tuple(args[1]))
        if op == "collect":
            return self.collect(task, args[0], args[1])
        if op == "to_pandas":
            return pickle.dumps(self._frame(args[0], args[1]))
        if op == "write_pandas":
            return self.write_pandas(*args)
        if op == "model":
            return self.models.op(*args)
        if op == "ml_job":
            return self.ml_job(task, *args, env=env)
        if op == "done":
            outcome.value, outcome.ok = args[0], True
            return None
        if op == "failed":
            outcome.error, outcome.traceback = args[0], args[1]
            return None
        raise SnowflakeSays(f"unknown operation {op}")

    def ml_job(self, task: str, dir_path: str, pool: str, entrypoint: str, args: list[str], opts: dict[str, Any],
               *, env: dict[str, str]) -> tuple[str, Any]:
        """An ML Job on `pool`: its entry point in another sandboxed interpreter whose path is the
        payload directory and the same packages."""
        self.g.ml_jobs.append({"pool": pool, "entrypoint": entrypoint, "options": opts,
                               "args_text": " ".join(args), "dir": sorted(os.listdir(dir_path))})
        cfg = json.loads(Path(env["DAGC_SANDBOX_CONFIG"]).read_text())
        job_cfg = dict(cfg, mode="job", path=[dir_path] + [p for p in cfg["path"] if p.endswith("site")],
                       entrypoint=str(Path(dir_path) / entrypoint), args=args)
        f = Path(dir_path).parent / "job.json"
        f.write_text(json.dumps(job_cfg))
        job = self.serve(task, interpreter_argv(f), dict(env, DAGC_SANDBOX_CONFIG=str(f)))
        return ("ok", job.value) if job.ok else ("failed", f"{job.error}\n{job.traceback}\n{job.stderr}")


    # -- CALL SYSTEM$EXECUTE_ML_JOB: a native ML Job task ------------------------------------------------
    def execute_ml_job(self, task: str, definition: str, stages: Any, site: Any, *, work: Path,
                       timeout: float = 300) -> "Outcome":
        """Run a task whose definition is `CALL SYSTEM$EXECUTE_ML_JOB(...)` as Snowflake runs it.

        The call is read as Snowflake reads it (four string literals: job name, compute pool, spec
        options and job options as JSON), checked, and the job started on the pool the way the
        payload's own `system/startup.sh` starts a head node: the stage path mounted at
        MLRS_STAGE_MOUNT_PATH, the working directory MLRS_PAYLOAD_DIR, the requirements files
        installed (here: added to the job's package directory), SNOWFLAKE_JOBS_COUNT the nodes the
        job got, then `python system/mljob_launcher.py <entry>`: the launcher snowflake.ml.jobs
        staged, which runs the entry script and saves its `__return__` as the job's result. The job
        runs on behalf of its task, so its SYSTEM$ calls are answered as the task's.

        `site(packages)` is a directory holding only those distributions: the runtime image's
        packages (`RUNTIME_IMAGE_PACKAGES`) plus the payload's requirements.
        """
        job_name, pool, spec_text, job_text = _execute_ml_job_args(definition)
        spec, opts = json.loads(spec_text), json.loads(job_text)
        nodes = self.pools.get(pool.upper())
        if nodes is None:
            raise SnowflakeSays(f"Compute pool '{pool}' does not exist or not authorized.")
        target, least = int(opts.get("TARGET_INSTANCES") or 1), int(opts.get("MIN_INSTANCES") or 1)
        if least > target:
            raise SnowflakeSays(f"MIN_INSTANCES ({least}) cannot be greater than TARGET_INSTANCES ({target})")
        record: dict[str, Any] = {"task": task, "name": job_name, "pool": pool, "spec": spec, "options": opts}
        self.g.ml_jobs.append(record)
        if least > nodes:
            raise SnowflakeSays(f"compute pool {pool} has {nodes} node(s); the job needs MIN_INSTANCES={least} "
                                "and would wait for them (the sandbox's pools have one node: no Ray cluster here)")
        env_vars = {str(k): str(v) for k, v in (spec.get("ENV_VARS") or {}).items()}
        mount_at = env_vars.get("MLRS_STAGE_MOUNT_PATH", "/mnt/job_stage")
        args = list(spec.get("ARGS") or [])
        if args[:2] != ["bash", f"{mount_at}/system/startup.sh"] or len(args) < 3:
            raise SnowflakeSays(f"the job's command {args} is not the payload's startup script")
        try:
            mount = stages.directory(spec["STAGE_PATH"])
        except FileNotFoundError as exc:
            raise SnowflakeSays(str(exc)) from None
        if not (mount / "system" / "startup.sh").is_file() or not (mount / "system" / "mljob_launcher.py").is_file():
            raise SnowflakeSays(f"nothing to run: {spec['STAGE_PATH']}/system/ holds no startup script")

        def local(path: str) -> str:
            return str(mount / path[len(mount_at) + 1:]) if path.startswith(mount_at + "/") else path

        entry = local(args[2])
        if not Path(entry).is_file():
            raise SnowflakeSays(f"the job's entry point {args[2]} is not on the stage")
        packages = list(RUNTIME_IMAGE_PACKAGES)
        for req in (mount / "system" / "requirements.txt", mount / env_vars.get("MLRS_PAYLOAD_DIR", "app") / "requirements.txt"):
            if req.is_file():
                packages += [line.strip() for line in req.read_text().splitlines() if line.strip()]
        record["packages"] = packages
        mounted: dict[str, str] = {}  # the container's `secrets:` (SPEC_OVERRIDES): SECRET objects as variables
        for c in ((spec.get("SPEC_OVERRIDES") or {}).get("spec") or {}).get("containers") or []:
            if not isinstance(c, dict) or c.get("name") != "main":
                continue
            for m in c.get("secrets") or []:
                obj, var = (m.get("snowflakeSecret") or {}).get("objectName"), m.get("envVarName")
                if not obj or not var or m.get("secretKeyRef", "secret_string") != "secret_string":
                    raise SnowflakeSays(f"the stand-in mounts GENERIC_STRING secrets as environment variables only: {m}")
                if obj not in self.g.secret_objects:
                    raise SnowflakeSays(f"Secret '{obj}' does not exist or not authorized.")
                mounted[var] = self.g.secret_objects[obj]
        granted = min(nodes, target)
        env = {**env_vars, "MLRS_STAGE_MOUNT_PATH": str(mount), "SNOWFLAKE_JOBS_COUNT": str(granted),
               "SNOWFLAKE_JOB_INDEX": "0", "MLRS_MIN_INSTANCES": str(least),
               "MLRS_RESULT_PATH": "output/mljob_result", "SNOWFLAKE_SERVICE_NAME": job_name.rstrip("_") + "_SANDBOX"}
        cfg = work / "job.json"
        cfg.write_text(json.dumps({"mode": "ml_job", "path": [str(site(packages))],
                                   "launcher": str(mount / "system" / "mljob_launcher.py"),
                                   "argv": [entry, *args[3:]]}))
        record["env"] = {k: v for k, v in env.items() if k != "MLRS_STAGE_MOUNT_PATH"}
        env.update(mounted)
        if opts.get("ASYNC"):
            raise SnowflakeSays("an ASYNC job in a task: the task would end before its job and set no return value")
        outcome = self.serve(task, interpreter_argv(cfg), env, timeout=timeout,
                             cwd=str(mount / env_vars.get("MLRS_PAYLOAD_DIR", "app")))
        result = mount / "output" / "mljob_result"
        if outcome.ok:  # the CALL's result: the task's return value is what the job set through SYSTEM$SET_RETURN_VALUE
            outcome.value = self.g.returns.get(task)
        record["result_file"] = result.is_file()
        if result.is_file():
            from snowflake.ml.jobs._interop import utils as interop

            loaded = interop.load(str(result))
            record["result"] = {"success": loaded.success, "value": loaded.value}
        return outcome


RUNTIME_IMAGE_PACKAGES = (  # what the Container Runtime for ML image provides on every node (a subset)
    "snowflake-ml-python", "snowflake-snowpark-python", "xgboost", "scikit-learn", "pandas", "cloudpickle")


def _execute_ml_job_args(definition: str) -> list[str]:
    """The string literals of `CALL SYSTEM$EXECUTE_ML_JOB('a', 'b', ...)`, read as Snowflake reads
    string literals: backslash escapes, and '' for a quote."""
    m = re.match(r"^\s*CALL\s+SYSTEM\$EXECUTE_ML_JOB\s*\((.*)\)\s*;?\s*$", definition, re.I | re.S)
    if not m:
        raise SnowflakeSays(f"not a SYSTEM$EXECUTE_ML_JOB call: {definition[:80]!r}")
    text, i, out = m.group(1), 0, []
    escapes = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "f": "\f"}
    while i < len(text):
        c = text[i]
        if c in " \t\r\n,":
            i += 1
            continue
        if c != "'":
            raise SnowflakeSays(f"SYSTEM$EXECUTE_ML_JOB takes string literals, got {text[i:i + 20]!r}")
        i, buf = i + 1, []
        while True:
            if i >= len(text):
                raise SnowflakeSays("String literal is not terminated")
            c = text[i]
            if c == "\\" and i + 1 < len(text):
                buf.append(escapes.get(text[i + 1], text[i + 1]))
                i += 2
            elif c == "'" and text[i + 1:i + 2] == "'":
                buf.append("'")
                i += 2
            elif c == "'":
                i += 1
                break
            else:
                buf.append(c)
                i += 1
        out.append("".join(buf))
    if len(out) != 4:
        raise SnowflakeSays(f"SYSTEM$EXECUTE_ML_JOB takes 4 arguments, got {len(out)}")
    return out


@dataclass
class Outcome:
    task: str
    ok: bool = False
    value: Any = None
    error: str | None = None
    traceback: str | None = None
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""


def interpreter_argv(config: Path, import_directory: Path | None = None) -> list[str]:
    """A clean interpreter: -I (no user site, no PYTHON* variables, no script dir) -S (no site-packages)."""
    argv = [sys.executable, "-I", "-S"]
    if import_directory is not None:
        argv += ["-X", f"snowflake_import_directory={import_directory}"]
    return argv + [str(RUNTIME_DIR / "sandbox_runner.py"), str(config)]
