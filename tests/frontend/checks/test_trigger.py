"""Checks family `trigger` (compiler/dagc/frontend/checks/trigger.py): DAGC609-611."""

from __future__ import annotations

import json

import pytest

from dagc.frontend import check_file
from fe_helpers import at, check, only, write

OK = "name: g\ntrigger: {stream: RAW.S, min_interval: 30s}\nstreams: {RAW.S: RAW.T}\ntasks:\n  t: {sql: s}\n"


def test_trigger_compiles_to_the_root_when_and_interval(tmp_path):
    from dagc.emit.manifest import build_manifest

    p, diags = check_file(write(tmp_path, OK))
    assert diags == [] and p.trigger.stream == "RAW.S" and p.trigger.min_interval_s == 30
    g = build_manifest(p)["graph"]
    assert g["condition"] == "SYSTEM$STREAM_HAS_DATA('RAW.S')" and g["trigger"]["min_interval_s"] == 30


def test_trigger_and_schedule_are_exclusive(tmp_path):
    d = only(check(tmp_path, OK.replace("tasks:", "schedule: 1h\ntasks:")), "DAGC610")
    at(d, 2, 1)


def test_trigger_stream_must_be_declared(tmp_path):
    d = only(check(tmp_path, OK.replace("streams: {RAW.S: RAW.T}", "streams: {RAW.SS: RAW.T}")), "DAGC609")
    at(d, 2, 19)
    assert d.hint == "did you mean 'RAW.SS'?"


@pytest.mark.parametrize("interval", ["5s", "8d", "1500ms"])
def test_trigger_interval_range(tmp_path, interval):
    d = only(check(tmp_path, OK.replace("30s", interval)), "DAGC611")
    at(d, 2, 40)
    assert "10 s to 604,800 s" in d.message


def test_trigger_interval_bounds_are_inclusive(tmp_path):
    for interval in ("10s", "7d"):
        assert check(tmp_path, OK.replace("30s", interval)) == [], interval


def test_stream_names_are_object_names(tmp_path):
    d = only(check(tmp_path, OK.replace("RAW.T}", json.dumps("T; DROP") + "}")), "DAGC502")
    assert "DROP" in d.message
