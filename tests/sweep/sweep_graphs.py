"""Hypothesis strategies for random valid pipelines, and an independent evaluator of Snowflake's rules.

The reference evaluator is written from /work/shared/reference/task-graph-semantics.md alone
(it does not import dagc.engine), so agreeing with it means the engine follows the documented rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

CONDITIONS = ["all_succeeded", "all_done", "all_failed", "all_skipped", "at_least_one_failed",
              "at_least_one_succeeded", "none_failed", "none_failed_min_one_succeeded", "none_skipped"]

STEPS = '''
from dagc.runtime import step


@step
def work(ctx, x: int = 0):
    return {"task": ctx.task, "x": x, "seen": sorted(ctx.inputs)}


@step
def decide(ctx, choice: str = ""):
    return choice
'''


@dataclass
class Spec:
    """A generated pipeline, as data (rendered to YAML by `to_yaml`)."""

    tasks: dict[str, dict] = field(default_factory=dict)
    finalizer: str | None = None
    config: dict = field(default_factory=dict)
    schedule: str | None = None
    fail: set[str] = field(default_factory=set)  # tasks whose run is made to fail (engine fault injection)
    conditions: dict[str, tuple] = field(default_factory=dict)  # task -> its `if:` as a tree (see cond_trees)

    def choices(self) -> dict[str, str]:
        """branch -> the child its step selects (the branch's `choice` param names the case)."""
        return {n: t["branch"]["cases"][t["params"]["choice"]] for n, t in self.tasks.items() if "branch" in t}

    def branches(self) -> dict[str, dict[str, str]]:
        return {n: t["branch"]["cases"] for n, t in self.tasks.items() if "branch" in t}

    def to_yaml(self) -> str:
        doc: dict = {"name": "gen", "warehouse": "WH"}
        if self.schedule:
            doc["schedule"] = self.schedule
        if self.config:
            doc["config"] = self.config
        doc["tasks"] = self.tasks
        if self.finalizer:
            doc["finally"] = {self.finalizer: {"step": "work"}}
        return json.dumps(doc, indent=1, ensure_ascii=False)  # JSON is YAML (given printable text)


identifiers = st.text(alphabet="abcdefgxyz_0123", max_size=8).map(lambda s: "k" + s)
printable = st.characters(blacklist_categories=("Cs", "Cc"))  # YAML streams may not hold controls or lone surrogates
primitives = st.one_of(st.integers(-10**6, 10**6), st.booleans(), st.text(printable, max_size=12),
                       st.floats(allow_nan=False, allow_infinity=False, width=32))
values = st.recursive(primitives, lambda inner: st.dictionaries(identifiers, inner, max_size=3) | st.lists(inner, max_size=3),
                      max_leaves=8)
configs = st.dictionaries(identifiers, values, max_size=4)


@st.composite
def specs(draw, max_tasks: int = 14, sql: bool = True, conditions: bool = False) -> Spec:
    n = draw(st.integers(1, max_tasks))
    names = [f"t{i}" for i in range(n)]
    spec = Spec()
    branch_flags = [draw(st.booleans()) and draw(st.booleans()) for _ in names]
    for i, name in enumerate(names):
        after = draw(st.lists(st.sampled_from(names[:i]), unique=True, max_size=min(i, 3))) if i else []
        task: dict = {"after": after} if after else {}
        if draw(st.booleans()):
            task["when"] = draw(st.sampled_from(CONDITIONS))
        if sql and draw(st.integers(0, 4)) == 0:
            task["sql"] = f"select {i}"
        else:
            task["step"] = "work"
            task["params"] = {"x": i}
        spec.tasks[name] = task
    if conditions:  # additional conditions over ancestors (`if:`), rendered from a small tree
        for i, name in enumerate(names):
            anc = sorted(ancestors(spec, name))
            if anc and draw(st.integers(0, 2)) == 0:
                spec.conditions[name] = draw(cond_trees(anc))
                spec.tasks[name]["if"] = render(spec.conditions[name])
    for i, name in enumerate(names):  # a branch routes to its children, one case each
        children = [c for c in names if name in spec.tasks[c].get("after", [])]
        if branch_flags[i] and children:
            t = spec.tasks[name]
            t.pop("sql", None), t.pop("step", None), t.pop("params", None)
            t["branch"] = {"step": "decide", "cases": {f"c_{c}": c for c in children}}
            t["params"] = {"choice": f"c_{draw(st.sampled_from(children))}"}
    if draw(st.booleans()):
        spec.finalizer = "fin"
    all_names = names + ([spec.finalizer] if spec.finalizer else [])
    spec.fail = set(draw(st.lists(st.sampled_from(all_names), unique=True, max_size=3)))
    spec.config = draw(configs)
    spec.schedule = draw(st.none() | st.sampled_from(["10s", "30m", "2h", "1d"]))
    return spec


STATES = ["SUCCEEDED", "FAILED", "SKIPPED", "CANCELLED", "NOT_EXECUTED"]


def ancestors(spec: Spec, name: str) -> set[str]:
    out: set[str] = set()
    todo = list(spec.tasks[name].get("after", []))
    while todo:
        a = todo.pop()
        if a not in out:
            out.add(a)
            todo.extend(spec.tasks[a].get("after", []))
    return out


def cond_trees(anc: list[str]):
    """Conditions as tuples: ("state", task, STATE) | ("gt", task, n) | ("is", task, name) | ("null", task)
    | ("not", c) | ("and", c, c) | ("or", c, c). `gt`/`is`/`null` read value(task).x / .task."""
    leaf = st.one_of(
        st.tuples(st.just("state"), st.sampled_from(anc), st.sampled_from(STATES)),
        st.tuples(st.just("gt"), st.sampled_from(anc), st.integers(-1, 8)),
        st.tuples(st.just("is"), st.sampled_from(anc), st.sampled_from(anc)),
        st.tuples(st.just("null"), st.sampled_from(anc)),
    )
    return st.recursive(leaf, lambda inner: st.one_of(st.tuples(st.just("not"), inner),
                                                      st.tuples(st.sampled_from(["and", "or"]), inner, inner)),
                        max_leaves=4)


def render(c) -> str:
    op = c[0]
    if op == "state":
        return f"state({c[1]}) == '{c[2]}'"
    if op == "gt":
        return f"value({c[1]}).x > {c[2]}"
    if op == "is":
        return f"value({c[1]}).task == '{c[2]}'"
    if op == "null":
        return f"value({c[1]}).x == null"
    if op == "not":
        return f"not ({render(c[1])})"
    return f"({render(c[1])}) {op} ({render(c[2])})"


def evaluate_reference(c, state: dict[str, str], spec: Spec):
    """SQL's three-valued logic over WHEN's functions; None is NULL. A branch's value is the chosen
    child's name (a string: .x and .task of it are NULL); a step's value is {task, x}, set only if it succeeded."""
    op = c[0]

    def value(task: str):
        if state.get(task) != "SUCCEEDED" or "branch" in spec.tasks[task]:
            return None
        return {"task": task, "x": spec.tasks[task]["params"]["x"]}

    if op == "state":
        return state[c[1]] == c[2]
    if op == "gt":
        v = value(c[1])
        return None if v is None else v["x"] > c[2]
    if op == "is":
        v = value(c[1])
        return None if v is None else v["task"] == c[2]
    if op == "null":
        return value(c[1]) is None
    if op == "not":
        v = evaluate_reference(c[1], state, spec)
        return None if v is None else not v
    a, b = evaluate_reference(c[1], state, spec), evaluate_reference(c[2], state, spec)
    if op == "and":
        return False if False in (a, b) else None if None in (a, b) else True
    return True if True in (a, b) else None if None in (a, b) else False


def write_project(root: Path) -> None:
    (root / "steps").mkdir(parents=True, exist_ok=True)
    (root / "steps" / "__init__.py").write_text("from dagc.runtime import StepContext, step\n")
    (root / "steps" / "sweep.py").write_text(STEPS)


# ------------------------------------------------------------------ reference evaluation
def reference_outcome(spec: Spec, fail: set[str] | None = None, choices: dict[str, str] | None = None) -> dict[str, str]:
    """Each task's final state under Snowflake's documented rules.

    `fail`: tasks whose body fails when run. `choices`: branch -> the child its step selects.
    Rules: a task runs when its predecessors are all terminal and its condition holds over their
    states (no predecessors: it hangs off the root, which succeeded); a child of a branch also
    needs that branch to have succeeded and selected it; a task that does not run is SKIPPED.
    The finalizer always runs.
    """
    fail = spec.fail if fail is None else fail
    choices = spec.choices() if choices is None else choices
    state: dict[str, str] = {}
    branches = spec.branches()
    pending = list(spec.tasks)
    while pending:
        for name in pending:
            after = spec.tasks[name].get("after", [])
            if all(p in state for p in after):
                break
        pending.remove(name)
        after = spec.tasks[name].get("after", [])
        states = [state[p] for p in after] or ["SUCCEEDED"]
        cond = spec.tasks[name].get("when", "all_succeeded")
        runs = _holds(cond, states)
        for p in after:
            if p in branches and not (state[p] == "SUCCEEDED" and choices.get(p) == name):
                runs = False
        if runs and "if" in spec.tasks[name]:  # ANDed with the predecessor rule; NULL does not run
            runs = evaluate_reference(spec.conditions[name], state, spec) is True
        state[name] = ("FAILED" if name in fail else "SUCCEEDED") if runs else "SKIPPED"
    if spec.finalizer:
        state[spec.finalizer] = "FAILED" if spec.finalizer in fail else "SUCCEEDED"
    return state


def _holds(cond: str, states: list[str]) -> bool:
    s, f, k = (sum(x == v for x in states) for v in ("SUCCEEDED", "FAILED", "SKIPPED"))
    n = len(states)
    return {
        "all_succeeded": s == n, "all_done": True, "all_failed": f == n, "all_skipped": k == n,
        "at_least_one_failed": f > 0, "at_least_one_succeeded": s > 0, "none_failed": f == 0,
        "none_failed_min_one_succeeded": f == 0 and s > 0, "none_skipped": k == 0,
    }[cond]
