"""Property-based tests over random valid graphs: compile is deterministic, the manifest round-trips,
and the local engine agrees with an independent evaluation of Snowflake's rules."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, event, given, settings

from dagc.diagnostics import Severity
from dagc.emit.manifest import build_manifest, dumps, load_manifest
from dagc.frontend import check_file
from sweep_graphs import Spec, reference_outcome, specs, write_project

ROOT = Path(tempfile.mkdtemp(prefix="dagc-sweep-"))
write_project(ROOT)
PROFILE = settings(max_examples=int(os.environ.get("DAGC_SWEEP_EXAMPLES", "80")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


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


ENGINE_EXAMPLES = int(os.environ.get("DAGC_SWEEP_ENGINE_EXAMPLES", "12"))


@settings(max_examples=ENGINE_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs(max_tasks=8, sql=False, conditions=True))
def test_engine_outcome_equals_the_reference_rules(spec):
    """The local engine's final task states equal an independent evaluation of Snowflake's rules,
    with failures injected into random tasks, random branch choices and random `if:` conditions
    over ancestors; every step that ran saw exactly its ancestors in ctx.inputs."""
    from sweep_graphs import ancestors
    from dagc.engine.api import run_pipeline

    pipeline = compile_spec(spec, "engine.yaml")
    result = run_pipeline(pipeline, project_root=ROOT, state_dir=ROOT / ".dagc", fail_tasks=sorted(spec.fail),
                          parallelism=2)
    got = {name: view.state for name, view in result.tasks.items()}
    event("states: " + ",".join(sorted(set(got.values()))))  # --hypothesis-show-statistics shows the mix
    event(f"branches: {len(spec.branches())}")
    event(f"conditions: {len(spec.conditions)}")
    assert got == reference_outcome(spec), spec.to_yaml()
    assert result.state == ("FAILED" if "FAILED" in got.values() else "SUCCEEDED")
    for name, view in result.tasks.items():
        if view.state == "SUCCEEDED" and name in spec.tasks and "step" in spec.tasks[name]:
            assert json.loads(view.return_value)["seen"] == sorted(ancestors(spec, name)), name


from hypothesis import strategies as st  # noqa: E402

_pieces = st.lists(st.one_of(
    st.sampled_from(["{{ vars.a }}", "{{vars.b}}", "{{ vars.items }}", "{{ environment }}", "{{ vars.zz }}",
                     "{{ vars.a + 1 }}", "{{", "}}", "{%", "{#", " ", "\n", "x", "@", "."]),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=4)), max_size=6)


@settings(max_examples=int(os.environ.get("DAGC_SWEEP_TEMPLATE_EXAMPLES", "400")), deadline=None)
@given(_pieces, st.sampled_from([None, "prod"]), st.one_of(st.integers(), st.floats(allow_nan=False), st.none(),
                                                          st.booleans(), st.text(max_size=5), st.lists(st.integers(), max_size=2)))
def test_fast_template_path_matches_jinja(pieces, environment, value):
    """Plain {{ vars.NAME }} substitution without Jinja2 gives exactly what the sandbox gives."""
    from dagc.frontend.template import _NOT_SIMPLE, _STATE, _State, _evaluate, _simple

    text = "".join(pieces)
    if "{{" not in text and "{%" not in text:
        return  # only templated strings are rendered at all
    ctx = {"environment": environment, "vars": {"a": value, "b": "B", "items": 1}}
    fast = _simple(text, ctx)
    if fast is _NOT_SIMPLE:
        return
    token = _STATE.set(_State(set(), None))
    try:
        assert fast == _evaluate(text, ctx) or (fast != fast)  # NaN excluded above; equality otherwise
    finally:
        _STATE.reset(token)
