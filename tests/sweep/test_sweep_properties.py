"""Property-based tests over random valid graphs: compile is deterministic, the manifest round-trips."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings

from dagc.diagnostics import Severity
from dagc.emit.manifest import build_manifest, dumps, load_manifest
from dagc.frontend import check_file
from sweep_graphs import Spec, specs, write_project

ROOT = Path(tempfile.mkdtemp(prefix="dagc-sweep-"))
write_project(ROOT)
PROFILE = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def compile_spec(spec: Spec, name: str = "gen.yaml"):
    path = ROOT / name
    path.write_text(spec.to_yaml())
    pipeline, diags = check_file(path)
    errors = [d for d in diags if d.severity is Severity.ERROR]
    assume(pipeline is not None and not errors)  # DAGC308 (unreachable joins) are rejected, not generated
    return pipeline


@PROFILE
@given(specs())
def test_compile_is_deterministic(spec):
    a = dumps(build_manifest(compile_spec(spec, "a.yaml")))
    b = dumps(build_manifest(compile_spec(spec, "a.yaml")))
    assert a == b
    m = json.loads(a)
    order = [t["name"] for t in m["tasks"]]
    for t in m["tasks"]:  # topological: predecessors first
        assert all(order.index(p) < order.index(t["name"]) for p in t["after"])
    assert len(order) == len(spec.tasks) + (1 if spec.finalizer else 0)


@PROFILE
@given(specs())
def test_manifest_round_trips(spec):
    pipeline = compile_spec(spec)
    m = build_manifest(pipeline)
    assert json.loads(dumps(m)) == m
    back = load_manifest(json.loads(dumps(m)))
    assert dumps(build_manifest(back)) == dumps(m)
    assert dict(back.config) == dict(pipeline.config) or _same(back.config, pipeline.config)
    assert [t.name for t in back.tasks] == [t.name for t in pipeline.tasks]


def _same(a, b) -> bool:
    from dagc.ir import thaw

    return json.dumps(thaw(a), sort_keys=True) == json.dumps(thaw(b), sort_keys=True)
