"""Issue 13 on the Snowflake target: trigger, `if:`, ancestors and every task parameter reach the
dagv1 objects, and `dagc plan` (manifest model) agrees with what the emitter builds."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

emit = pytest.importorskip("dagc.emit.snowflake")

from dagc.emit.manifest import build_manifest, dumps, load_manifest  # noqa: E402
from dagc.frontend import load_pipeline  # noqa: E402
from dagc.snowflake.state import diff, from_manifest, from_tasks  # noqa: E402

STEPS = '''
from dagc.runtime import step

@step
def predict(ctx):
    return {"rows": 1}

@step
def any_step(ctx, **kw):
    return {}
'''

YAML = """
name: score_new
stage: "@ML.DEV.S"
trigger: {stream: RAW.APPLICATIONS_STREAM, min_interval: 45s}
streams: {RAW.APPLICATIONS_STREAM: RAW.APPLICATIONS}
log_level: INFO
config: {publish: {enabled: true}}
templates:
  scorer: {step: any_step, serverless: {min_size: SMALL, max_size: LARGE, target_completion: 30m}}
tasks:
  score: {step: predict}
  publish:
    extends: scorer
    after: [score]
    if: "value(score).rows > 0 and config.publish.enabled"
    success_integration: OK_INT
    execute_as_user: SVC_USER
    trace_level: ON_EVENT
  audit: {step: any_step, after: [publish], when: all_done, if: "state(score) == 'SUCCEEDED'"}
  fan:
    step: any_step
    after: [audit]
    matrix: {region: [US, EU]}
"""


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("v2")
    (root / "steps").mkdir()
    (root / "steps" / "__init__.py").write_text("")
    (root / "steps" / "s.py").write_text(STEPS)
    (root / "pipelines").mkdir()
    (root / "pipelines" / "p.yaml").write_text(YAML)
    return load_pipeline(root / "pipelines" / "p.yaml")


def test_dagv1_objects_carry_the_new_settings(pipeline):
    low = {t.name: t for t in emit.low_level_tasks(emit.build_dag(pipeline))}
    root = low["score_new"]
    assert root.schedule is None and root.condition == "SYSTEM$STREAM_HAS_DATA('RAW.APPLICATIONS_STREAM')"
    assert root.session_parameters == {"LOG_LEVEL": "INFO", "USER_TASK_MINIMUM_TRIGGER_INTERVAL_IN_SECONDS": 45}
    pub = low["score_new$publish"]
    assert pub.condition == ("(TRY_TO_DOUBLE(PARSE_JSON(SYSTEM$GET_PREDECESSOR_RETURN_VALUE('SCORE_NEW$SCORE'))"
                             "['rows']::STRING) > 0 AND TRY_TO_BOOLEAN(SYSTEM$GET_TASK_GRAPH_CONFIG('publish.enabled')"
                             "::STRING))")
    assert (pub.serverless_task_min_statement_size, pub.serverless_task_max_statement_size) == ("SMALL", "LARGE")
    assert pub.target_completion_interval == timedelta(minutes=30)
    assert (pub.success_integration, pub.execute_as_user) == ("OK_INT", "SVC_USER")
    assert pub.session_parameters == {"LOG_LEVEL": "INFO", "TRACE_LEVEL": "ON_EVENT"}
    assert low["score_new$audit"].condition == ("SYSTEM$PREDECESSORS_STATE('ALL_DONE') AND "
                                                "(SYSTEM$TASK_COMPLETION_STATE('SCORE_NEW$SCORE') = 'SUCCEEDED')")
    assert sorted(low["score_new$fan_EU"].predecessors) == ["score_new$audit"]


def test_ancestors_travel_in_the_python_task_spec(pipeline):
    specs = {}

    def entry(name, spec, text):
        specs[spec["task"]] = spec
        return lambda session: None

    emit.build_dag(pipeline, entry_factory=entry)
    assert specs["fan_US"]["after"] == ["audit"] and specs["fan_US"]["ancestors"] == ["publish", "score"]
    assert "ancestors" not in specs["publish"]  # a task whose ancestors are all direct keeps its old spec


def test_plan_model_agrees_with_the_emitter_and_the_manifest_round_trips(pipeline):
    m = build_manifest(pipeline)
    assert dumps(build_manifest(load_manifest(m))) == dumps(m)
    a = from_tasks(emit.low_level_tasks(emit.build_dag(pipeline)), pipeline.name, deployed=False)
    b = from_manifest(m)
    assert {k: v.settings for k, v in a.tasks.items()} == {k: v.settings for k, v in b.tasks.items()}
    assert diff(b, a) == []
    assert b.tasks["SCORE_NEW"].settings["state"] == "started"  # dagc deploy resumes a triggered root (dagv1 would not)


def test_plan_shows_a_changed_condition(pipeline):
    import dataclasses

    m = build_manifest(pipeline)
    changed = dataclasses.replace(pipeline, tasks=tuple(
        dataclasses.replace(t, condition="state(score) == 'FAILED'") if t.name == "audit" else t
        for t in pipeline.tasks))
    changes = diff(from_manifest(build_manifest(changed)), from_manifest(m))
    text = " ".join(str(c) for c in changes)
    assert "AUDIT" in text.upper() and "FAILED" in text
