"""`sql:` tasks and `ctx.tables.sql(...)` locally: Snowflake SQL on the DuckDB warehouse file.

fakesnow translates Snowflake-dialect SQL to DuckDB and runs it against `<state>/warehouse/DAGC.db`
(the same file the Tables API uses). The task-graph functions that have no local meaning are
emulated before a statement reaches fakesnow:
  CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION(msg, SNOWFLAKE.NOTIFICATION.INTEGRATION('X'))
      -> the local notifications log (and the webhook, if configured)
  CALL SYSTEM$SET_RETURN_VALUE(expr) / SELECT SYSTEM$SET_RETURN_VALUE(expr) -> the task's return value
  SYSTEM$GET_PREDECESSOR_RETURN_VALUE(['task']), SYSTEM$GET_TASK_GRAPH_CONFIG(['key']),
  SYSTEM$TASK_COMPLETION_STATE('task'), SYSTEM$CURRENT_USER_TASK_NAME(),
  SYSTEM$TASK_RUNTIME_INFO('...') -> literals from the run
Anything else the emulator cannot run fails the task with a message naming the statement and the
construct, never with the emulator's stack trace (that goes to the task log).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from dagc.diagnostics import DagcError
from dagc.engine.warehouse import DATABASE, SCHEMA, busy, file_lock, is_lock_error, release, warehouse_dir

CALL_RE = re.compile(r"^\s*CALL\s+(SYSTEM\$[A-Za-z_]+)\s*\((.*)\)\s*;?\s*$", re.IGNORECASE | re.DOTALL)
UNSUPPORTED = [  # statement starts that the emulator cannot run, and how to name them
    ("EXECUTE IMMEDIATE", "Snowflake Scripting (EXECUTE IMMEDIATE)"),
    ("DECLARE", "a Snowflake Scripting block (DECLARE ... BEGIN ... END)"),
    ("PUT ", "PUT (stage file upload)"),
    ("GET ", "GET (stage file download)"),
]
NOTIFICATION_WRAPPERS = {"TEXT_PLAIN", "TEXT_HTML", "APPLICATION_JSON"}


def split_statements(sql: str) -> list[str]:
    """Statements as Snowflake splits them: on `;` outside quotes, $$ blocks and comments.

    Written here rather than borrowed from snowflake.connector so that a SQL task made only of
    emulated calls (the usual on_failure notification) never pays for importing the connector.
    """
    out: list[str] = []
    buf: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        two = sql[i:i + 2]
        if two == "--" or two == "//":
            j = sql.find("\n", i)
            i = n if j < 0 else j
            continue
        if two == "/*":
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
            buf.append(" ")
            continue
        if two == "$$":
            j = sql.find("$$", i + 2)
            j = n if j < 0 else j + 2
            buf.append(sql[i:j])
            i = j
            continue
        if c in ("'", '"'):
            j = i + 1
            while j < n:
                if sql[j] == "\\" and c == "'":
                    j += 2
                    continue
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:  # doubled quote
                        j += 2
                        continue
                    break
                j += 1
            buf.append(sql[i:j + 1])
            i = j + 1
            continue
        if c == ";":
            out.append("".join(buf))
            buf = []
            i += 1
            continue
        buf.append(c)
        i += 1
    out.append("".join(buf))
    return [s.strip() for s in out if s.strip()]


def _short(stmt: str, width: int = 80) -> str:
    one = " ".join(stmt.split())
    return one if len(one) <= width else one[: width - 1] + "…"


class TaskFunctions:
    """Values of the SYSTEM$ task functions for one running task (None outside a task)."""

    def __init__(self, job: dict[str, Any] | None) -> None:
        self.job = job
        self.return_value: str | None = None
        self.notifications: list[dict[str, Any]] = []

    def _need(self, fn: str) -> dict[str, Any]:
        if self.job is None:
            raise DagcError(f"{fn} is only available inside a task of a running graph")
        return self.job

    def value(self, fn: str, args: list[str | None]) -> str | None:
        fn = fn.upper()
        if fn == "SYSTEM$GET_TASK_GRAPH_CONFIG":
            config = self._need(fn)["config"]
            if not args:
                return json.dumps(config, sort_keys=True)
            v = config.get(str(args[0]))
            return None if v is None else (json.dumps(v) if isinstance(v, bool) else str(v))
        if fn == "SYSTEM$GET_PREDECESSOR_RETURN_VALUE":
            job = self._need(fn)
            inputs: dict[str, str | None] = job["inputs"]
            if not args:
                if len(inputs) != 1:
                    raise DagcError(f"{fn}() without a task name needs exactly one predecessor; "
                                    f"{job['task']} has {len(inputs)}")
                return next(iter(inputs.values()))
            return inputs.get(self._task(str(args[0])))
        if fn == "SYSTEM$TASK_COMPLETION_STATE":
            job = self._need(fn)
            return job.get("task_states", {}).get(self._task(str(args[0]) if args else ""))
        if fn == "SYSTEM$CURRENT_USER_TASK_NAME":
            job = self._need(fn)
            return f"{job['pipeline']}${job['task']}".upper()
        if fn == "SYSTEM$TASK_RUNTIME_INFO":
            job = self._need(fn)
            key = str(args[0]).upper() if args else ""
            info = {
                "CURRENT_TASK_GRAPH_RUN_GROUP_ID": job["run_id"],
                "CURRENT_ROOT_TASK_NAME": job["pipeline"].upper(),
                "CURRENT_TASK_NAME": f"{job['pipeline']}${job['task']}".upper(),
                "CURRENT_TASK_GRAPH_ORIGINAL_SCHEDULED_TIMESTAMP":
                    time.strftime("%Y-%m-%d %H:%M:%S.000 +0000", time.gmtime(job["scheduled_at"])),
            }
            if key not in info:
                raise DagcError(f"SYSTEM$TASK_RUNTIME_INFO('{key}') is not supported by the local engine",
                                f"supported: {', '.join(info)}")
            return info[key]
        raise DagcError(f"{fn} is not supported by the local engine",
                        "supported: SYSTEM$SEND_SNOWFLAKE_NOTIFICATION, SYSTEM$SET_RETURN_VALUE, "
                        "SYSTEM$GET_PREDECESSOR_RETURN_VALUE, SYSTEM$GET_TASK_GRAPH_CONFIG, "
                        "SYSTEM$TASK_COMPLETION_STATE, SYSTEM$CURRENT_USER_TASK_NAME, SYSTEM$TASK_RUNTIME_INFO")

    def _task(self, name: str) -> str:
        job = self._need("SYSTEM$ task functions")
        short = name.split("$", 1)[1] if "$" in name else name
        names = set(job.get("task_states", {})) | set(job.get("inputs", {}))
        for n in names:
            if n.lower() == short.lower():
                return n
        return short


class SqlRunner:
    """A fakesnow connection to the local warehouse, for one task or one Tables.sql() call."""

    def __init__(self, state_dir: Path, job: dict[str, Any] | None = None, backend: Any = None) -> None:
        self.state_dir = Path(state_dir)
        self.fns = TaskFunctions(job)
        self.job = job
        self.backend = backend
        self.fs: Any = None
        self.conn: Any = None
        self.locked = False
        self.cursors: list[Any] = []

    def __enter__(self) -> "SqlRunner":
        return self

    def _connect(self) -> Any:
        """Open fakesnow on the first statement that needs it: emulated calls alone never do.

        The warehouse lock is held from before fakesnow attaches the file until after it is
        detached and closed (see warehouse.py): that is what keeps concurrent commits."""
        if self.conn is not None:
            return self.conn
        from fakesnow.instance import FakeSnow

        if busy(self.state_dir):
            raise DagcError("ctx.tables.sql() was called while this step is inside another tables operation")
        release(self.state_dir)  # this process's Tables connection would hold the lock
        warehouse_dir(self.state_dir).mkdir(parents=True, exist_ok=True)
        flock = file_lock(self.state_dir)
        flock.acquire("sql")
        self.locked = True
        deadline = time.monotonic() + 300
        delay = 0.002
        while True:
            fs = FakeSnow(db_path=str(warehouse_dir(self.state_dir)))
            try:
                self.conn = fs.connect(database=DATABASE, schema=SCHEMA)
                self.fs = fs
                return self.conn
            except Exception as exc:
                fs.duck_conn.close()
                if not is_lock_error(exc) or time.monotonic() > deadline:
                    self._unlock()
                    raise DagcError(f"cannot open the local warehouse: {exc}") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.1)

    def _unlock(self) -> None:
        if self.locked:
            self.locked = False
            file_lock(self.state_dir).release()

    def __exit__(self, *exc: Any) -> None:
        if self.conn is None:
            self._unlock()
            return
        try:
            for cur in self.cursors:
                try:
                    cur.close()
                except Exception:
                    pass
            self.cursors.clear()
            self.conn.close()
        finally:
            try:
                self.fs.duck_conn.close()  # the attached file is closed with the last connection
            finally:
                self.conn = self.fs = None
                self._unlock()

    # ---- statements -----------------------------------------------------------------------------

    def run_script(self, sql: str) -> Any:
        """Run every statement; returns the last statement's cursor (or None)."""
        statements = split_statements(sql)
        if not statements:
            raise DagcError("the SQL is empty")
        cur = None
        for i, stmt in enumerate(statements, 1):
            where = f"statement {i} ({_short(stmt)})" if len(statements) > 1 else f"`{_short(stmt)}`"
            cur = self.statement(stmt, where)
        return cur

    def query(self, sql: str) -> Any:
        cur = self.run_script(sql)
        if cur is None or not cur.description:
            return None
        return cur.fetch_pandas_all()

    def statement(self, stmt: str, where: str) -> Any:
        head = " ".join(stmt.split()[:2]).upper()
        for prefix, construct in UNSUPPORTED:
            if head.startswith(prefix):
                raise DagcError(f"{where}: {construct} is not supported by the local engine",
                                "run this task on Snowflake, or express it as plain SQL statements")
        m = CALL_RE.match(stmt)
        if m:
            self.call(m.group(1).upper(), m.group(2), where)
            return None
        if "SYSTEM$" not in stmt.upper():
            self.parse(stmt, where)  # a clean syntax error instead of the emulator's
        text = self.rewrite(stmt, where)
        return self.execute(text, where)

    def execute(self, text: str, where: str) -> Any:
        from snowflake.connector.errors import Error as ConnectorError

        cur = self._connect().cursor()
        self.cursors.append(cur)
        try:
            cur.execute(text)
        except NotImplementedError as exc:
            raise DagcError(f"{where} uses SQL the local engine cannot run: {exc or 'not implemented in fakesnow'}",
                            "run this task on Snowflake, or rewrite it with constructs DuckDB/fakesnow supports") from None
        except ConnectorError as exc:
            msg = re.sub(r"^\d+ \(\w+\): (None: )?", "", str(getattr(exc, "msg", None) or exc)).strip()
            raise DagcError(f"{where} failed: {msg.splitlines()[0] if msg else type(exc).__name__}") from None
        except Exception as exc:  # duckdb errors and emulator bugs: name the construct, keep it short
            raise DagcError(f"{where} failed in the local SQL emulator: {type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}",
                            "the construct may not be supported locally; the task log has details") from None
        return cur

    def parse(self, stmt: str, where: str) -> Any:
        import sqlglot
        from sqlglot.errors import ParseError

        try:
            return sqlglot.parse_one(stmt, read="snowflake")
        except ParseError as exc:
            errs = getattr(exc, "errors", None) or []
            detail = errs[0].get("description", str(exc)) if errs else str(exc)
            pos = f" at line {errs[0].get('line')}, column {errs[0].get('col')}" if errs else ""
            raise DagcError(f"syntax error in {where}{pos}: {detail}") from None

    def rewrite(self, stmt: str, where: str) -> str:
        """Replace SYSTEM$ task functions by literals; the statement text is kept if there are none."""
        if "SYSTEM$" not in stmt.upper():
            return stmt
        from sqlglot import exp

        tree = self.parse(stmt, where)
        changed = False

        def swap(node: Any) -> Any:
            nonlocal changed
            if isinstance(node, exp.Anonymous) and str(node.name).upper().startswith("SYSTEM$"):
                fn = str(node.name).upper()
                if fn == "SYSTEM$SET_RETURN_VALUE":
                    self.fns.return_value = self.evaluate(node.expressions[0] if node.expressions else None, where)
                    changed = True
                    return exp.Literal.string("Return value set")
                args = [self.evaluate(a, where) for a in node.expressions]
                value = self.fns.value(fn, args)
                changed = True
                return exp.Null() if value is None else exp.Literal.string(value)
            return node

        tree = tree.transform(swap)
        return tree.sql(dialect="snowflake") if changed else stmt

    def evaluate(self, node: Any, where: str) -> str | None:
        """The value of one SQL expression (after SYSTEM$ substitution), as Snowflake would cast it to text."""
        from sqlglot import exp

        if node is None:
            return None
        if isinstance(node, exp.Literal) and node.is_string:
            return str(node.this)
        text = self.rewrite(f"SELECT {node.sql(dialect='snowflake')}", where)
        cur = self.execute(text, where)
        row = cur.fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def call(self, fn: str, args_text: str, where: str) -> None:
        from sqlglot import exp

        select = self.parse(f"SELECT {args_text}", where)
        args = list(select.expressions)
        if fn == "SYSTEM$SET_RETURN_VALUE":
            if len(args) != 1:
                raise DagcError(f"{where}: SYSTEM$SET_RETURN_VALUE takes one argument")
            self.fns.return_value = self.evaluate(args[0], where)
            return
        if fn == "SYSTEM$SEND_SNOWFLAKE_NOTIFICATION":
            message = integration = email_subject = None
            recipients: list[str] = []
            for a in args:
                inner = a.expression if isinstance(a, exp.Dot) else a
                name = str(inner.name).upper() if isinstance(inner, exp.Anonymous) else ""
                if name == "INTEGRATION":
                    integration = self.evaluate(inner.expressions[0], where) if inner.expressions else None
                elif name == "EMAIL_INTEGRATION_CONFIG":  # (integration, subject, ARRAY_CONSTRUCT(to...), ...)
                    integration = self.evaluate(inner.expressions[0], where) if inner.expressions else None
                    if len(inner.expressions) > 1:
                        email_subject = self.evaluate(inner.expressions[1], where)
                    if len(inner.expressions) > 2:  # the To: line: ARRAY_CONSTRUCT('a@x', ...)
                        to = inner.expressions[2]
                        items = to.expressions if isinstance(to, (exp.Array, exp.Anonymous)) else [to]
                        recipients = [r for r in (self.evaluate(e, where) for e in items) if r]
                elif name in NOTIFICATION_WRAPPERS:
                    message = self.evaluate(inner.expressions[0], where) if inner.expressions else ""
                elif isinstance(inner, exp.Anonymous) and name:
                    raise DagcError(f"{where}: SNOWFLAKE.NOTIFICATION.{name}(...) is not supported by the local "
                                    "engine", "use TEXT_PLAIN, TEXT_HTML or APPLICATION_JSON and INTEGRATION or EMAIL_INTEGRATION_CONFIG")
                else:
                    message = self.evaluate(a, where)
            if message is None:
                raise DagcError(f"{where}: SYSTEM$SEND_SNOWFLAKE_NOTIFICATION needs a message")
            from dagc.engine.notify import Notifier

            job = self.job or {}
            subject = email_subject or f"dagc: {job.get('pipeline', '')}.{job.get('task', '')}".rstrip(".")
            if self.backend is not None:
                self.backend.notify(subject, message, integration=integration, recipients=recipients or None)
            else:
                Notifier(self.state_dir).send(subject, message, integration=integration, recipients=recipients)
            return
        raise DagcError(f"{where}: CALL {fn} is not supported by the local engine",
                        "supported: SYSTEM$SEND_SNOWFLAKE_NOTIFICATION, SYSTEM$SET_RETURN_VALUE")


def run_sql_task(job: dict[str, Any], backend: Any) -> str | None:
    """Run a `sql:` task; its return value is whatever SYSTEM$SET_RETURN_VALUE set (raw text)."""
    print(job["sql"], flush=True)
    with SqlRunner(Path(job["state_dir"]), job, backend) as runner:
        runner.run_script(job["sql"] or "")
        value = runner.fns.return_value
    if value is not None:
        from dagc.runtime.returns import MAX_RETURN_BYTES

        size = len(value.encode("utf-8"))
        if size > MAX_RETURN_BYTES:
            raise DagcError(f"task {job['task']!r} set a return value of {size:,} bytes; Snowflake allows at most "
                            f"{MAX_RETURN_BYTES:,}")
    return value
