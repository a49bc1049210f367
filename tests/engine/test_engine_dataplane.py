"""The local data plane: tables across tasks and processes, Snowpark sync, sql: tasks, notifications,
the model registry, config and return values through the step context."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from engine_helpers import P, T, make_project, run, states
from dagc.diagnostics import DagcError
from dagc.engine.notify import read_notifications
from dagc.engine.registry import LocalModelRegistry
from dagc.engine.state import StateStore
from dagc.engine.tables import DuckTables

DP = '''
import pandas as pd
from dagc.runtime import step

@step
def write_scores(ctx, n=10):
    df = pd.DataFrame({"ID": range(n), "SCORE": [i / n for i in range(n)]})
    return {"rows": ctx.tables.write("scores", df)}

@step
def read_scores(ctx):
    df = ctx.tables.read("SCORES")
    return {"rows": len(df), "upstream": ctx.inputs["write"], "tables": ctx.tables.list()}

@step
def snowpark_filter(ctx, threshold=0.5):
    from snowflake.snowpark.functions import col
    s = ctx.session
    df = s.table("SCORES").filter(col("SCORE") >= threshold)
    df.write.save_as_table("HIGH_SCORES", mode="overwrite")
    return {"high": int(df.count())}

@step
def read_high(ctx):
    return {"rows": len(ctx.tables.read("high_scores")), "sql_value": ctx.inputs.get("count_sql")}

@step
def log_models(ctx):
    m = {"kind": "threshold", "cut": 1.5, "trained_in": ctx.task}
    v = ctx.models.log_model("approval", m, metrics={"auc": 0.8}, lineage={"dataset": "d1"})
    return {"version": v, "default": ctx.models.get_default("approval")}

@step
def alert(ctx):
    ctx.notify("gate failed", "auc below threshold", integration="ML_ALERTS")
    return None
'''


@pytest.fixture
def dp_project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj", {"dp": DP})


def test_tables_flow_between_tasks_processes_and_sql(dp_project: Path) -> None:
    p = P("flow", [
        T("write", "write_scores", params={"n": 12}),
        T("read", "read_scores", after=["write"]),
        T("count_sql", sql="CREATE OR REPLACE TABLE SUMMARY AS SELECT COUNT(*) AS N, AVG(SCORE) AS M FROM scores;\n"
                           "CALL SYSTEM$SET_RETURN_VALUE((SELECT N FROM SUMMARY)::varchar)", after=["read"]),
    ])
    result = run(p, dp_project)
    assert result.state == "SUCCEEDED", {n: v.error for n, v in result.tasks.items()}
    read = json.loads(result.tasks["read"].return_value or "")
    assert read["rows"] == 12 and read["upstream"] == {"rows": 12} and "SCORES" in read["tables"]
    assert result.tasks["count_sql"].return_value == "12"
    # a new process (this one) sees both the pandas-written and the SQL-written tables
    tables = DuckTables(dp_project / ".dagc")
    assert int(tables.read("summary")["N"][0]) == 12
    assert tables.sql("SELECT MAX(ID) AS top FROM scores")["TOP"][0] == 11


def test_snowpark_session_reads_and_saves_tables(dp_project: Path) -> None:
    p = P("snow", [
        T("write", "write_scores", params={"n": 10}),
        T("filter", "snowpark_filter", after=["write"], params={"threshold": 0.5}),
        T("count_sql", sql="CALL SYSTEM$SET_RETURN_VALUE((SELECT COUNT(*) FROM HIGH_SCORES)::varchar)",
          after=["filter"]),
        T("check", "read_high", after=["count_sql"]),
    ])
    result = run(p, dp_project)
    assert result.state == "SUCCEEDED", {n: v.error for n, v in result.tasks.items()}
    assert json.loads(result.tasks["filter"].return_value or "") == {"high": 5}
    assert json.loads(result.tasks["check"].return_value or "") == {"rows": 5, "sql_value": 5}


def test_sql_task_functions_config_and_predecessor_values(dp_project: Path) -> None:
    p = P("fns", [
        T("write", "write_scores", params={"n": 3}),
        T("q", sql="CALL SYSTEM$SET_RETURN_VALUE(SYSTEM$GET_TASK_GRAPH_CONFIG('gate.metric') || ':' || "
                   "SYSTEM$GET_PREDECESSOR_RETURN_VALUE('FNS$WRITE') || ':' || SYSTEM$TASK_COMPLETION_STATE('write'))",
          after=["write"]),
        T("echo", "echo_config", after=["q"]),
    ], config={"gate": {"metric": "auc", "threshold": 0.7}, "tags": ["a", "b"]})
    result = run(p, dp_project)
    assert result.state == "SUCCEEDED", {n: v.error for n, v in result.tasks.items()}
    assert result.tasks["q"].return_value == 'auc:{"rows":3}:SUCCEEDED'
    echo = json.loads(result.tasks["echo"].return_value or "")
    assert echo["config"] == {"gate": {"metric": "auc", "threshold": 0.7}, "tags": ["a", "b"]}
    assert echo["run_id"] == result.run_id
    rec = StateStore(dp_project / ".dagc").get_run(result.run_id)
    assert rec is not None and rec.config["gate.threshold"] == 0.7 and rec.config["tags"] == '["a","b"]'


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_notifications_log_and_webhook(dp_project: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hook.received.clear()
    try:
        p = P("notes", [
            T("bad", "boom"),
            T("on_failure", after=["bad"], when="at_least_one_failed", sql=(
                "CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION(\n"
                "  SNOWFLAKE.NOTIFICATION.TEXT_PLAIN('pipeline failed: ' || SYSTEM$TASK_COMPLETION_STATE('bad')),\n"
                "  SNOWFLAKE.NOTIFICATION.INTEGRATION('ML_ALERTS'))")),
            T("alert", "alert", after=["bad"], when="all_done"),
        ])
        result = run(p, dp_project, webhook_url=f"http://127.0.0.1:{server.server_port}/hook")
    finally:
        server.shutdown()
    assert states(result) == {"bad": "FAILED", "on_failure": "SUCCEEDED", "alert": "SUCCEEDED"}
    notes = read_notifications(dp_project / ".dagc")
    by_task = {n["task"]: n for n in notes}
    assert by_task["on_failure"]["message"] == "pipeline failed: FAILED"
    assert by_task["on_failure"]["integration"] == "ML_ALERTS"
    assert by_task["alert"]["subject"] == "gate failed"
    assert sorted(h["task"] for h in _Hook.received) == ["alert", "on_failure"]
    assert all(n["webhook"].startswith("delivered") for n in notes)


def test_model_registry_from_a_step_and_outside_a_run(dp_project: Path) -> None:
    result = run(P("reg", [T("fit", "log_models"), T("fit2", "log_models", after=["fit"])]), dp_project)
    assert result.state == "SUCCEEDED", {n: v.error for n, v in result.tasks.items()}
    assert json.loads(result.tasks["fit"].return_value or "") == {"version": "V1", "default": "V1"}
    assert json.loads(result.tasks["fit2"].return_value or "") == {"version": "V2", "default": "V1"}
    reg = LocalModelRegistry(dp_project / ".dagc")  # what `dagc models` will do
    versions = reg.versions("approval")
    assert [v.version for v in versions] == ["V1", "V2"] and versions[0].is_default
    assert versions[1].metrics == {"auc": 0.8}
    assert versions[1].lineage["dataset"] == "d1" and versions[1].lineage["run_id"] == result.run_id
    reg.set_default("approval", "V2")
    assert reg.get_default("APPROVAL") == "V2"
    assert reg.load("approval") == {"kind": "threshold", "cut": 1.5, "trained_in": "fit2"}
    assert reg.load("approval", "V1")["trained_in"] == "fit"
    with pytest.raises(DagcError, match="default version"):
        reg.delete_version("approval", "V2")
    reg.delete_version("approval", "V1")
    assert [v.version for v in LocalModelRegistry(dp_project / ".dagc").versions("approval")] == ["V2"]
    with pytest.raises(DagcError, match="no version"):
        reg.load("approval", "V1")
    assert reg.models() == ["APPROVAL"]


def test_failed_step_persists_no_session_tables(dp_project: Path, tmp_path: Path) -> None:
    code = '''
from dagc.runtime import step
@step
def save_then_fail(ctx):
    ctx.session.create_dataframe([[1]], schema=["A"]).write.save_as_table("PARTIAL")
    raise RuntimeError("after saving")
'''
    (dp_project / "steps" / "partial.py").write_text(code)
    result = run(P("partial", [T("x", "save_then_fail")]), dp_project)
    assert result.tasks["x"].state == "FAILED"
    assert not DuckTables(dp_project / ".dagc").exists("PARTIAL")


def test_parallel_tasks_share_the_warehouse_without_losing_writes(tmp_path: Path) -> None:
    code = '''
import pandas as pd
from dagc.runtime import step

@step
def append_rows(ctx, k=0):
    for i in range(5):
        ctx.tables.write("shared", pd.DataFrame({"K": [k], "I": [i]}), mode="append")
    return ctx.tables.write(f"own_{k}", pd.DataFrame({"K": [k] * 3}))
'''
    project = make_project(tmp_path / "proj", {"par": code})
    result = run(P("par", [T(f"w{k}", "append_rows", params={"k": k}) for k in range(4)]), project)
    assert result.state == "SUCCEEDED", {n: v.error for n, v in result.tasks.items()}
    tables = DuckTables(project / ".dagc")
    shared = tables.read("shared")
    assert sorted(zip(shared["K"], shared["I"])) == [(k, i) for k in range(4) for i in range(5)]
    assert tables.list("OWN_") == ["OWN_0", "OWN_1", "OWN_2", "OWN_3"]
