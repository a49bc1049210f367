"""Real-account checks. They run only when a Snowflake connection is configured (connections.toml /
config.toml / SNOWFLAKE_* variables) AND DAGC_IT_STAGE names a stage the role may write
(e.g. @DAGC_IT.PUBLIC.DAGC_STAGE); otherwise every test here is skipped and counted as skipped.

Each test deploys a throw-away graph named dagc_it_<random> and drops it afterwards.
"""

from __future__ import annotations

import os
import uuid

import pytest

from dagc import ir

pytestmark = pytest.mark.integration


def _connection():
    from dagc.snowflake.connection import is_configured, resolve

    name = os.environ.get("DAGC_IT_CONNECTION")
    if not is_configured(name) or not os.environ.get("DAGC_IT_STAGE"):
        pytest.skip("no Snowflake connection configured (set up connections.toml and DAGC_IT_STAGE)")
    return resolve(name)


@pytest.fixture(scope="module")
def account():
    conn = _connection()
    from dagc.snowflake.connection import open_schema

    stage = os.environ["DAGC_IT_STAGE"]
    session, schema = open_schema(conn, stage)
    yield session, schema, stage
    session.close()


def _sql_pipeline(stage: str, name: str, extra: bool = False) -> ir.Pipeline:
    tasks = [
        ir.Task("a", ir.TaskKind.SQL, sql="select 1"),
        ir.Task("b", ir.TaskKind.SQL, sql="select 2", after=("a",)),
    ]
    if extra:
        tasks.append(ir.Task("c", ir.TaskKind.SQL, sql="select 3", after=("a",), when=ir.Condition.ALL_DONE))
    return ir.Pipeline(name=name, tasks=tuple(tasks), stage=stage,
                       warehouse=os.environ.get("DAGC_IT_WAREHOUSE"),
                       finalizer=ir.Task("fin", ir.TaskKind.SQL, sql="select 0", is_finalizer=True))


def test_deploy_is_idempotent_and_minimal_then_drop(account) -> None:
    from dagc.snowflake import deploy as d

    session, schema, stage = account
    name = f"dagc_it_{uuid.uuid4().hex[:8]}"
    try:
        first = d.deploy(d.desired(_sql_pipeline(stage, name)), schema)
        assert first.plan.counts()["create"] == 4
        again = d.deploy(d.desired(_sql_pipeline(stage, name)), schema)
        assert again.plan.changes == [], [(c.action, c.short, c.fields) for c in again.plan.changes]
        grown = d.deploy(d.desired(_sql_pipeline(stage, name, extra=True)), schema)
        assert [(c.action, c.short) for c in grown.plan.changes] == [("create", "c")]
    finally:
        d.drop_graph(schema, name)
    assert d.deployed_state(schema, name) is None


def test_trigger_and_follow_that_run(account) -> None:
    from dagc.snowflake import deploy as d
    from dagc.snowflake import operate as op

    session, schema, stage = account
    name = f"dagc_it_{uuid.uuid4().hex[:8]}"
    try:
        d.deploy(d.desired(_sql_pipeline(stage, name)), schema)
        rep = op.trigger(op.SnowflakeRunSource(schema, session, name), pipeline=name, wait=True, timeout=600)
        assert rep is not None and rep.run.state == "SUCCEEDED"
        assert {t.task for t in rep.tasks} >= {"a", "b"}
    finally:
        d.drop_graph(schema, name)
