"""Schema errors: unknown keys with suggestions, types, enums, shapes; each at its key or value."""

from __future__ import annotations

from dagc.frontend import schema
from dagc.frontend.load import Document
from fe_helpers import at, check, codes, only


def test_unknown_key_did_you_mean(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a:\n    stpe: extract\n"), "DAGC102")
    at(d, 4, 5)
    assert d.message == "unknown key 'stpe' in tasks.a" and d.hint == "did you mean 'step'?"


def test_unknown_top_level_key_lists_allowed(tmp_path):
    d = only(check(tmp_path, "name: x\nzzz: 1\ntasks:\n  a: {sql: s}\n"), "DAGC102")
    at(d, 2, 1)
    assert "allowed keys here" in d.hint and "schedule" in d.hint


def test_retries_on_a_task_explains_graph_level(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {sql: s, retries: 2}\n"), "DAGC102")
    assert "graph-level" in d.hint and "task_auto_retry_attempts" in d.hint


def test_after_on_the_finalizer(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {sql: s}\nfinally:\n  f: {sql: s, after: [a]}\n"), "DAGC102")
    at(d, 5, 15)
    assert "finalizer has no predecessors" in d.hint


def test_missing_required_key(tmp_path):
    d = only(check(tmp_path, "tasks:\n  a: {sql: s}\n"), "DAGC103")
    assert d.message == "missing required key 'name' in the top level" and "name:" in d.hint


def test_wrong_type(tmp_path):
    d = only(check(tmp_path, "name: x\nretries: lots\ntasks:\n  a: {sql: s}\n"), "DAGC104")
    at(d, 2, 10)
    assert d.message == "retries must be a whole number, not a string"


def test_bad_enum_value_suggests(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {sql: s}\n  b: {sql: s, after: [a], when: all_succeded}\n"), "DAGC105")
    at(d, 4, 33)
    assert "'all_succeded'" in d.message and d.hint == "did you mean 'all_succeeded'?"


def test_bad_schedule_and_timeout_shapes_quote_the_description(tmp_path):
    diags = check(tmp_path, "name: x\nschedule: every day\ntimeout: 30 minutes\ntasks:\n  a: {sql: s}\n")
    assert codes(diags) == ["DAGC106", "DAGC106"]
    at(diags[0], 2, 11)
    assert "interval" in diags[0].hint and "cron" in diags[0].hint
    at(diags[1], 3, 10)
    assert "duration" in diags[1].hint


def test_out_of_range_and_empty(tmp_path):
    diags = check(tmp_path, "name: x\nretries: -1\ntasks: {}\n")
    assert codes(diags) == ["DAGC107", "DAGC107"]
    assert "retries" in diags[0].message and "minimum" in diags[0].message
    assert "tasks" in diags[1].message


def test_duplicate_predecessor(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {sql: s}\n  b: {sql: s, after: [a, a]}\n"), "DAGC107")
    at(d, 4, 22)
    assert "non-unique" in d.message


def test_more_than_one_finalizer(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {sql: s}\nfinally:\n  f: {sql: s}\n  g: {sql: s}\n"), "DAGC305")
    at(d, 4, 1)
    assert "at most one" in d.message and "finally" in d.hint


def test_every_problem_reported_in_one_run(tmp_path):
    text = """
    name: x
    retries: many
    tasks:
      a: {stpe: extract}
      b: {sql: s, after: [zz]}
    """
    assert set(codes(check(tmp_path, text))) >= {"DAGC104", "DAGC102", "DAGC301"}


def test_fallback_code_for_other_validators(tmp_path):
    """A schema keyword without a dedicated message still gives a positioned DAGC100."""
    from jsonschema import Draft202012Validator

    doc = Document(path="p.yaml", text="a: 1\n")
    err = next(Draft202012Validator({"properties": {"a": {"const": 2}}}).iter_errors({"a": 1}))
    (path, d), = schema._translate(doc, err)
    assert d.code == "DAGC100" and path == ("a",) and "a:" in d.message


# Keys whose values name things of one project (steps, tasks, warehouses, ...): an `examples` value
# would be offered by editors as if it existed, so their examples live in the description instead.
PROJECT_NAMED = {"name", "description", "warehouse", "stage", "packages", "imports", "config", "error_integration",
                 "comment", "defaults", "vars", "tasks", "finally", "environments", "step", "params", "branch",
                 "cases", "pool", "compute", "after", "sql", "success_integration", "execute_as_user", "trigger",
                 "stream", "streams", "templates", "include", "extends", "if", "matrix"}


def test_schema_has_help_for_every_key():
    """Editors show help on hover: every key has a description, examples, and its default
    (a `default`, or the description says what happens when it is absent or that it is required)."""
    problems = []

    def walk(node, where):
        if isinstance(node, dict):
            for name, sub in (node.get("properties") or {}).items():
                if "$ref" not in sub:
                    desc = sub.get("description", "")
                    if not desc:
                        problems.append(f"{where}.{name}: no description")
                    if name in PROJECT_NAMED:
                        if "examples" in sub:  # an editor would offer them as values: they'd look like real names
                            problems.append(f"{where}.{name}: examples that name project objects")
                        elif "E.g." not in desc and "e.g." not in desc:
                            problems.append(f"{where}.{name}: no example in the description")
                    elif "examples" not in sub and "enum" not in sub and sub.get("type") not in ("boolean", "string", "object"):
                        problems.append(f"{where}.{name}: no examples")
                    if "default" not in sub and not any(w in desc for w in ("Default:", "Required", "Absent", "Exactly one")):
                        problems.append(f"{where}.{name}: no default")
                walk(sub, f"{where}.{name}")
            for key in ("additionalProperties", "items"):
                if isinstance(node.get(key), dict):
                    walk(node[key], f"{where}[]")
            for key in ("oneOf", "anyOf", "allOf"):
                for i, sub in enumerate(node.get(key) or []):
                    walk(sub, f"{where}|{i}")
            for name, sub in (node.get("$defs") or {}).items():
                walk(sub, f"$defs.{name}")

    walk(schema.schema(), "")
    assert problems == []


def test_schema_examples_are_valid_pipelines_fragments():
    """The examples an editor offers must themselves pass the schema."""
    from jsonschema import Draft202012Validator

    top = schema.schema()
    for key, sub in top["properties"].items():
        for example in sub.get("examples", []):
            doc = {"name": "x", "tasks": {"a": {"sql": "s"}}, key: example}
            errors = [e.message for e in Draft202012Validator(top).iter_errors(doc)]
            assert errors == [], (key, example, errors)
