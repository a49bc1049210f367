"""Per-run config: --set -> a checked, typed, flat override -> EXECUTE TASK ... USING CONFIG."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dagc.diagnostics import UsageError
from dagc.snowflake import runconfig as rc

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def training():
    from dagc.frontend import load_pipeline

    return load_pipeline(REPO / "pipelines" / "training.yaml", "prod")


def test_overrides_are_typed_like_the_values_they_replace(training):
    ov = rc.check_overrides(training, ["gate.threshold=0.9", "gate.higher_is_better=false", "model_name=0.10"])
    assert ov == {"gate.threshold": 0.9, "gate.higher_is_better": False, "model_name": "0.10"}
    assert isinstance(ov["gate.threshold"], float)


@pytest.mark.parametrize("text, message", [
    ("gate.treshold=0.9", "has no such key"),            # typo: a hint names the real key
    ("gate=0.9", "is a section of the config"),
    ("gate.threshold=high", "is a number"),
    ("gate.higher_is_better=maybe", "is a boolean"),
    ("gate.threshold", "expected KEY=VALUE"),
])
def test_bad_overrides_are_refused_before_anything_is_sent(training, text, message):
    with pytest.raises(UsageError) as err:
        rc.check_overrides(training, [text])
    assert message in err.value.message
    if "no such key" in message:
        assert "gate.threshold" in (err.value.hint or "")


def test_the_override_is_encoded_like_the_graph_config_and_merged_over_it(training):
    from dagc.configcodec import LOGICAL_DATE, decode_config, encode_config, logical_date_of
    from dagc.ir import thaw

    day = datetime(2026, 11, 3, tzinfo=timezone.utc)
    ov = rc.check_overrides(training, ["gate.threshold=0.95"])
    obj = rc.override_object(ov, day)
    assert obj == {"gate.threshold": 0.95, LOGICAL_DATE: "2026-11-03T00:00:00+00:00"}
    eff = rc.effective_config(training, ov, day)
    graph = encode_config(thaw(training.config))
    assert set(eff) == set(graph) | {LOGICAL_DATE}
    assert eff["gate.threshold"] == 0.95 and eff["gate.metric"] == graph["gate.metric"]
    nested = decode_config(eff)
    assert nested["gate"]["threshold"] == 0.95 and LOGICAL_DATE not in nested  # steps never see the marker
    assert logical_date_of(eff) == day


def test_execute_sql_quotes_the_json_safely():
    assert rc.execute_sql("DB.S.T", {}) == "EXECUTE TASK DB.S.T"
    sql = rc.execute_sql("DB.S.T", {"a.b": "it's", "n": 1})
    assert sql == """EXECUTE TASK DB.S.T USING CONFIG = $${"a.b":"it's","n":1}$$"""
    sql = rc.execute_sql("DB.S.T", {"x": "a$$b\\c"})  # cannot be dollar-quoted: escaped instead
    assert sql.startswith("EXECUTE TASK DB.S.T USING CONFIG = '") and "\\\\" in sql
    body = sql.split("= ", 1)[1][1:-1].replace("\\\\", "\\").replace("\\'", "'")
    assert json.loads(body) == {"x": "a$$b\\c"}
    assert rc.root_name(type("S", (), {"name": "PROD", "database_name": "ML"})(), "training") == "ML.PROD.training"


class Session:
    """Records SQL; on EXECUTE TASK, Snowflake (the stand-in schema) gets a new run."""

    def __init__(self, schema):
        self.schema = schema
        self.sql_sent = []

    def sql(self, stmt, params=None):
        self.sql_sent.append(stmt)
        if stmt.startswith("EXECUTE TASK"):
            from types import SimpleNamespace

            n = len(self.schema.complete_runs) + 1
            self.schema.complete_runs.append(SimpleNamespace(
                run_id=str(1000 + n), state="SUCCEEDED", scheduled_time=datetime(2026, 12, 1, 8, n, tzinfo=timezone.utc),
                completed_time=datetime(2026, 12, 1, 8, n, 30, tzinfo=timezone.utc)))
        return SimpleResult()


class SimpleResult:
    def collect(self):
        return []


def stand_in_schema():
    """The strict stand-in (tests/snowflake/standin.py: Snowflake's task DDL rules) when this branch has it,
    else the recording schema."""
    import importlib.util

    path = REPO / "tests" / "snowflake" / "standin.py"
    if path.exists():
        spec = importlib.util.spec_from_file_location("dagc_strict_standin", path)
        mod = importlib.util.module_from_spec(spec)
        import sys

        sys.modules[spec.name] = mod  # dataclasses look their module up
        spec.loader.exec_module(mod)
        return mod.StrictSchema("PROD", "ML")
    from dagc.snowflake.recording import RecordingSchema

    return RecordingSchema("PROD", "ML")


def test_trigger_with_set_sends_using_config_through_the_session(training, capsys):
    from dagc.cli.remote import _trigger
    from dagc.snowflake.deploy import deploy, desired

    schema = stand_in_schema()
    deploy(desired(training, project_root=REPO), schema, upload=lambda: None, bundle_staged=lambda: True)
    session = Session(schema)
    ov = rc.check_overrides(training, ["gate.threshold=0.95"])
    assert _trigger(training, schema, session, wait=False, timeout=5, override=ov) == 0
    executed = [q for q in session.sql_sent if q.startswith("EXECUTE")]  # reads of the history may come too
    assert executed == ['EXECUTE TASK ML.PROD.training USING CONFIG = $${"gate.threshold":0.95}$$']
    assert not [c for c in schema.calls if c[0] == "execute"]  # not the config-less TaskResource.execute
    assert "gate.threshold=0.95" in capsys.readouterr().out
    assert _trigger(training, schema, session, wait=False, timeout=5) == 0  # no --set: the plain execute
    assert [c for c in schema.calls if c[0] == "execute"]


def test_trigger_cli_refuses_a_bad_set_before_connecting(tmp_path):
    from ops_helpers import dagc

    r = dagc("trigger", str(REPO / "pipelines" / "training.yaml"), "--set", "gate.treshold=0.9", "-c", "nope",
             cwd=tmp_path, env={"SNOWFLAKE_HOME": str(tmp_path)})
    assert r.returncode == 2, r.stderr
    assert "has no such key" in r.stderr and "gate.threshold" in r.stderr
    assert "Traceback" not in r.stderr


def test_local_run_with_set_records_the_effective_config_and_status_shows_it(project):
    from ops_helpers import dagc

    p = project / "pipelines" / "tiny.yaml"
    r = dagc("run", str(p), "--set", "size=9", "--state-dir", str(project / "st"), "-q")
    assert r.returncode == 0, r.stderr
    r = dagc("status", "--state-dir", str(project / "st"), "--json", cwd=project)
    doc = json.loads(r.stdout)
    assert doc["config"]["size"] == 9 and doc["config"]["label"] == "hello"
    r = dagc("status", "--state-dir", str(project / "st"), cwd=project)
    assert "config" in r.stdout and "size=9" in r.stdout


def test_the_report_shows_the_runs_effective_config_and_logical_date(project):
    from datetime import datetime, timezone

    from dagc.engine.api import run_pipeline
    from dagc.engine.project import load_pipeline
    from dagc.engine.state import StateStore
    from dagc.report.local import run_view_from_records

    p = load_pipeline(project / "pipelines" / "tiny.yaml", None, sets={"size": 7})
    res = run_pipeline(p, project_root=project, state_dir=project / "st", sets={"size": 7}, parallelism=1,
                       logical_date=datetime(2026, 11, 2, tzinfo=timezone.utc))
    store = StateStore(project / "st", readonly=True)
    view = run_view_from_records(store.get_run(res.run_id), store.attempts(res.run_id))
    assert view.config["size"] == 7 and view.extra["--set"] == {"size": 7}
    assert view.extra["logical date"] == "2026-11-02T00:00:00+00:00"
    assert res.tasks["big"].state == "SUCCEEDED"  # the branch saw the run's config


def test_run_set_is_typed_like_trigger_set(project):
    from ops_helpers import dagc

    p = str(project / "pipelines" / "tiny.yaml")
    st = str(project / "st")
    r = dagc("run", p, "--set", "label=0.10", "--set", "nested.ratio=2", "--state-dir", st, "-q")
    assert r.returncode == 0, r.stderr
    doc = json.loads(dagc("status", "--state-dir", st, "--json", cwd=project).stdout)
    assert doc["config"]["label"] == "0.10" and doc["config"]["nested.ratio"] == 2  # as USING CONFIG would send them
    r = dagc("run", p, "--set", "size=big", "--state-dir", st, "-q")
    assert r.returncode == 2 and "is a number" in r.stderr
    r = dagc("run", p, "--set", "sise=3", "--state-dir", st, "-q")
    assert r.returncode == 1 and "DAGC203" in r.stderr  # unknown keys keep the front end's positioned diagnostic
