"""The report's data model: state spellings, times, log excerpts, JSON form."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from dagc.report import model
from dagc.report.model import AttemptView, RunView, TaskRunView


@pytest.mark.parametrize("raw,expected", [
    ("SUCCEEDED", "SUCCEEDED"), ("succeeded", "SUCCEEDED"), ("FAILED_AND_AUTO_SUSPENDED", "FAILED"),
    ("CANCELED", "CANCELLED"), ("RUNNING", "EXECUTING"), ("PENDING", "SCHEDULED"), ("NOT_EXECUTED", "NOT_EXECUTED"),
    (None, "NOT_EXECUTED"), ("something new", "NOT_EXECUTED"),
])
def test_normalize_state(raw, expected):
    assert model.normalize_state(raw) == expected


def test_to_epoch_reads_every_time_shape():
    naive = dt.datetime(2026, 9, 21, 2, 0, 0)
    aware = dt.datetime(2026, 9, 21, 4, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert model.to_epoch(naive) == model.to_epoch(aware) == model.to_epoch("2026-09-21T02:00:00Z") == 1_789_956_000.0
    assert model.to_epoch(12) == 12.0 and model.to_epoch(None) is None
    with pytest.raises(TypeError):
        model.to_epoch(True)


def test_tail_keeps_the_end_and_says_it_cut():
    log = "".join(f"line {i}\n" for i in range(5000))
    out = model.tail(log, 1000)
    assert out.endswith("line 4999\n")
    assert out.startswith("[... ") and "earlier characters not shown" in out
    assert len(out) < 1100
    assert model.tail("short", 1000) == "short"


def test_durations_and_json_form():
    t = TaskRunView("train", "succeeded", 10.0, 12.5, attempts=2, return_value='{"a": 1}',
                    history=(AttemptView(1, "FAILED", 10.0, 11.0, "boom"), AttemptView(2, "SUCCEEDED", 11.5, 12.5)))
    r = RunView("r1", "training", "SUCCEEDED", 10.0, 13.0, config={"when": dt.date(2026, 1, 2)}, tasks=(t,))
    d = r.to_dict()
    json.dumps(d)  # everything the page gets is JSON
    assert d["duration"] == 3.0
    assert d["config"] == {"when": "2026-01-02"}
    (td,) = d["tasks"]
    assert td["state"] == "SUCCEEDED"
    assert td["duration"] == 1.0, "the deciding attempt's time, not the span including the retry wait"
    assert TaskRunView("y", "FAILED", 10.0, 12.5).duration == 2.5
    assert [a["state"] for a in td["history"]] == ["FAILED", "SUCCEEDED"]
    assert TaskRunView("x", "SKIPPED").duration is None
    assert model.state_counts(r.tasks) == {"SUCCEEDED": 1}
