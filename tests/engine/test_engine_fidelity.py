"""Fidelity suite: the local outcome of every task equals what Snowflake's documented rules give.

The expected outcomes come from `reference_outcomes`, an evaluator of the rules in
/work/shared/reference/task-graph-semantics.md written here from the documentation, sharing no
code with dagc.engine. Every small graph is a table entry; all of them run as disjoint components
of one pipeline (one engine run), and each entry is checked as its own test.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from engine_helpers import P, T, make_project, run, states

# ---- the documented rules, independently ----------------------------------------------------------

DOC_CONDITIONS = {
    # condition: predicate over the multiset of predecessor outcomes (documentation wording)
    "all_succeeded": lambda o: set(o) <= {"SUCCEEDED"},
    "all_done": lambda o: True,
    "all_failed": lambda o: set(o) <= {"FAILED"},
    "all_skipped": lambda o: set(o) <= {"SKIPPED"},
    "at_least_one_failed": lambda o: "FAILED" in o,
    "at_least_one_succeeded": lambda o: "SUCCEEDED" in o,
    "none_failed": lambda o: "FAILED" not in o,
    "none_failed_min_one_succeeded": lambda o: "FAILED" not in o and "SUCCEEDED" in o,
    "none_skipped": lambda o: "SKIPPED" not in o,
}


def reference_outcomes(graph: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Outcome of every task: repeat until stable, deciding each task once its predecessors are done."""
    out: dict[str, str] = {}
    while len(out) < len(graph):
        progressed = False
        for name, spec in graph.items():
            if name in out or any(p not in out for p in spec.get("after", [])):
                continue
            preds = spec.get("after", [])
            # a child of a branch runs only if the branch succeeded and returned this child's name
            selected = all(
                out[p] == "SUCCEEDED" and graph[p]["branch"].get(graph[p]["choose"]) == name
                for p in preds if graph[p].get("branch")
            )
            if selected and DOC_CONDITIONS[spec.get("when", "all_succeeded")]([out[p] for p in preds]):
                unknown_case = bool(spec.get("branch")) and spec.get("choose") not in spec["branch"]
                out[name] = "FAILED" if spec.get("fail") or unknown_case else "SUCCEEDED"
            else:
                out[name] = "SKIPPED"
            progressed = True
        assert progressed, "cycle in a test graph"
    return out


# ---- the table of graphs -------------------------------------------------------------------------

def chain(fail: str | None) -> dict[str, dict[str, Any]]:
    g = {"a": {}, "b": {"after": ["a"]}, "c": {"after": ["b"]}}
    if fail:
        g[fail]["fail"] = True
    return g


def diamond(fail: str | None, join_when: str = "all_succeeded") -> dict[str, dict[str, Any]]:
    g = {"a": {}, "b": {"after": ["a"]}, "c": {"after": ["a"]}, "d": {"after": ["b", "c"], "when": join_when}}
    if fail:
        g[fail]["fail"] = True
    return g


def branchy(choose: str, fail: str | None, join_when: str) -> dict[str, dict[str, Any]]:
    """start -> gate (branch: x -> left, y -> right); left -> deep; join after left and right."""
    g: dict[str, dict[str, Any]] = {
        "start": {},
        "gate": {"after": ["start"], "branch": {"x": "left", "y": "right"}, "choose": choose},
        "left": {"after": ["gate"]},
        "right": {"after": ["gate"]},
        "deep": {"after": ["left"]},
        "join": {"after": ["left", "right"], "when": join_when},
    }
    if fail:
        g[fail]["fail"] = True
    return g


CASES: dict[str, dict[str, dict[str, Any]]] = {}
for f in (None, "a", "b", "c"):
    CASES[f"chain_fail_{f}"] = chain(f)
for f in (None, "a", "b", "c", "d"):
    CASES[f"diamond_fail_{f}"] = diamond(f)
for when in ("all_done", "at_least_one_failed", "none_failed", "all_skipped"):
    CASES[f"diamond_b_fails_join_{when}"] = diamond("b", when)
for choose, fail, when in itertools.product(
        ("x", "y", "nope"), (None, "start", "gate", "left", "right"),
        ("all_succeeded", "none_failed_min_one_succeeded", "all_done", "at_least_one_succeeded")):
    CASES[f"branch_{choose}_fail_{fail}_join_{when}"] = branchy(choose, fail, when)

# each predecessor condition against each mix of predecessor outcomes (S succeeded, F failed, K skipped)
MATRIX: dict[str, dict[str, Any]] = {"s": {}, "f": {"fail": True}, "k": {"after": ["f"]}}
for cond in DOC_CONDITIONS:
    for mix in itertools.chain.from_iterable(itertools.combinations("sfk", n) for n in (1, 2, 3)):
        MATRIX[f"{cond}_{''.join(mix)}"] = {"after": list(mix), "when": cond}
CASES["condition_matrix"] = MATRIX


def to_tasks(prefix: str, graph: dict[str, dict[str, Any]]) -> list[Any]:
    tasks = []
    for name, spec in graph.items():
        after = [f"{prefix}{p}" for p in spec.get("after", [])]
        if spec.get("branch"):
            step = "boom" if spec.get("fail") else "choose"
            tasks.append(T(f"{prefix}{name}", step, after=after, when=spec.get("when", "all_succeeded"),
                           cases={c: f"{prefix}{child}" for c, child in spec["branch"].items()},
                           params={} if spec.get("fail") else {"case": spec["choose"]}))
        else:
            tasks.append(T(f"{prefix}{name}", "boom" if spec.get("fail") else "ok", after=after,
                           when=spec.get("when", "all_succeeded")))
    return tasks


@pytest.fixture(scope="module")
def combined(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    project = make_project(tmp_path_factory.mktemp("fidelity") / "proj")
    tasks = []
    for case, graph in CASES.items():
        tasks += to_tasks(f"{case}__", graph)
    result = run(P("fidelity", tasks), project)
    return states(result)


@pytest.mark.parametrize("case", sorted(CASES))
def test_local_outcomes_match_documented_rules(combined: dict[str, str], case: str) -> None:
    expected = reference_outcomes(CASES[case])
    got = {name: combined[f"{case}__{name}"] for name in CASES[case]}
    assert got == expected


def test_reference_evaluator_sanity() -> None:
    """The reference itself against hand-worked outcomes, so a wrong reference cannot pass silently."""
    assert reference_outcomes(chain("b")) == {"a": "SUCCEEDED", "b": "FAILED", "c": "SKIPPED"}
    r = reference_outcomes(branchy("x", None, "none_failed_min_one_succeeded"))
    assert (r["left"], r["right"], r["deep"], r["join"]) == ("SUCCEEDED", "SKIPPED", "SUCCEEDED", "SUCCEEDED")
    r = reference_outcomes(branchy("nope", None, "all_done"))
    assert (r["gate"], r["left"], r["right"], r["join"]) == ("FAILED", "SKIPPED", "SKIPPED", "SUCCEEDED")


@pytest.mark.parametrize("fail, run_state", [(None, "SUCCEEDED"), ("b", "FAILED"), ("fin", "FAILED")])
def test_finalizer_runs_whatever_happened(project: Path, fail: str | None, run_state: str) -> None:
    tasks = to_tasks("", chain(fail if fail != "fin" else None))
    fin = T("fin", "boom" if fail == "fin" else "ok", finalizer=True)
    result = run(P("fin", tasks, finalizer=fin), project)
    assert result.tasks["fin"].started_at is not None  # it ran
    assert result.tasks["fin"].state == ("FAILED" if fail == "fin" else "SUCCEEDED")
    assert result.state == run_state
    # it started only after every other task had ended
    others_end = max(v.ended_at for n, v in result.tasks.items() if n != "fin")
    assert result.tasks["fin"].started_at >= others_end
