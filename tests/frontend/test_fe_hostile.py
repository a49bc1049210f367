"""Hostile inputs: each ends in one clear diagnostic, quickly and in bounded memory (issue 15).

Every template of a file shares one budget enforced inside the sandbox (DAGC212); only regular
files are read (DAGC013); inputs that used to crash (exit 70) now get a positioned diagnostic;
and what Snowflake would refuse (case-colliding names, long names, NaN, huge integers) is refused.
"""

from __future__ import annotations

import os
import threading
import time
import tracemalloc

import pytest

from dagc.frontend import check_file
from fe_helpers import at, check, codes, only, write

LONG = "a" * 3000
BASE = f"name: p\nvars:\n  s: \"{LONG}\"\n  n: 10\ntasks:\n  t: {{sql: select 1}}\n"

HOSTILE_TEMPLATES = {
    "nested for over a long string": "{% for a in vars.s %}{% for b in vars.s %}{% for c in vars.s %}x"
                                     "{% endfor %}{% endfor %}{% endfor %}",
    "nested for without output": "{% for a in vars.s %}{% for b in vars.s %}{% endfor %}{% endfor %}",
    "center": "{{ 'a'|center(10**9) }}",
    "center method": "{{ 'a'.center(10**9) }}",
    "ljust method": "{{ 'a'.ljust(10**9) }}",
    "integer squaring": "{% set a = 10**60 %}{% set b = a*a %}{% set c = b*b %}{% set d = c*c %}{% set e = d*d %}"
                        "{% set f = e*e %}{% set g = f*f %}{% set h = g*g %}{{ h*h }}",
    "tilde doubling": "{% set a = vars.s ~ vars.s %}{% set b = a ~ a %}{% set c = b ~ b %}{% set d = c ~ c %}"
                      "{% set e = d ~ d %}{% set f = e ~ e %}{% set g = f ~ f %}{% set h = g ~ g %}{{ h ~ h }}",
    "plus doubling": "{% set a = vars.s + vars.s %}{% set b = a + a %}{% set c = b + b %}{% set d = c + c %}"
                     "{% set e = d + d %}{% set f = e + e %}{% set g = f + f %}{% set h = g + g %}{{ h + h }}",
    "replace amplification": "{{ vars.s|replace('a', vars.s)|replace('a', vars.s)|length }}",
    "format width": "{{ '%1000000000s'|format('a') }}",
    "format star": "{{ '%*s'|format(1000000000, 'a') }}",
    "percent width": "{{ '%1000000000s' % 'a' }}",
    "str.format width": "{{ '{:>1000000000}'.format('a') }}",
    "indent amplification": "{{ (vars.s|wordwrap(1, true, vars.s))|indent(vars.s)|length }}",
    "join amplification": "{{ vars.s|list|join(vars.s)|length }}",
    "batch fill": "{{ [1]|batch(10**9, 'x')|list|length }}",
    "recursive macro": "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "recursive loop": "{% for x in [[1]] recursive %}{{ loop([x]) }}{% endfor %}",
    "deep expression": "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
    "string repeat": "{{ 'x' * 10**10 }}",
    "huge power": "{{ (9**9**9)**64 }}",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_TEMPLATES))
def test_hostile_template_is_refused_within_its_budget(tmp_path, name):
    text = BASE + "config:\n  x: " + repr(HOSTILE_TEMPLATES[name]) + "\n"
    tracemalloc.start()
    t0 = time.perf_counter()
    diags = check(tmp_path, text)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [d.code for d in diags if d.code in ("DAGC210", "DAGC212")], [(d.code, d.message) for d in diags]
    d = next(d for d in diags if d.code in ("DAGC210", "DAGC212"))
    assert d.line == 8 and d.col == 6, d
    assert peak < 60_000_000, f"{name}: {peak:,} bytes"  # the budget bounds memory, not the machine
    assert elapsed < 10, f"{name}: {elapsed:.1f}s"  # a hang guard; the figures are in bench/bench_hostile.py


def test_the_budget_is_shared_by_all_templates_of_a_file(tmp_path):
    loop = "{% for a in vars.s %}{% for b in vars.s[:10] %}{% endfor %}{% endfor %}"  # 33,000 steps each
    text = BASE + "config:\n  x: " + repr(loop) + "\n  y: " + repr(loop) + "\n"
    diags = check(tmp_path, text)
    d = only(diags, "DAGC212")
    assert "50,000 steps" in d.message and d.line == 9  # the second one goes over


def test_ordinary_templates_stay_well_inside_the_budget(tmp_path):
    text = BASE + ("config:\n  x: \"{% for c in vars.s[:500] %}{{ c|upper }}{% endfor %}\"\n"
                   "  y: \"{{ vars.n * 3 }}\"\n  z: \"{{ [1, 2, 3]|map('string')|join(',') }}\"\n"
                   "  w: \"{{ 'ab'|center(10) }}\"\n")
    pipeline, diags = check_file(write(tmp_path, text))
    assert diags == [] and pipeline is not None
    assert pipeline.config["x"] == "A" * 500 and pipeline.config["y"] == 30 and pipeline.config["z"] == "1,2,3"


def test_infinite_float_literal_is_a_diagnostic(tmp_path):
    d = only(check(tmp_path, BASE + "config:\n  x: '{{ 1e400 }}'\n"), "DAGC210")
    assert "finite" in d.message
    at(d, 8, 6)


@pytest.mark.parametrize("expr, word", [("['a']|map('upper')", "generator"), ("env_var", "function")])
def test_a_template_value_that_is_not_data_is_a_diagnostic_even_with_schema_errors(tmp_path, expr, word):
    text = f"name: p\nconfig:\n  x: \"{{{{ {expr} }}}}\"\ntasks:\n  t: {{sql: select 1, bogus: 1}}\n"
    diags = check(tmp_path, text)
    assert word in only(diags, "DAGC210").message and "DAGC102" in codes(diags)


# ------------------------------------------------------------------------------------------------ files

def test_a_fifo_is_refused_at_once(tmp_path):
    path = tmp_path / "p.yaml"
    os.mkfifo(path)
    d = only(check_file(path)[1], "DAGC013")
    assert "FIFO" in d.message


def test_dev_stdin_from_a_pipe_that_never_closes_does_not_hang(tmp_path):
    r, w = os.pipe()  # nobody ever writes or closes w while the check runs
    result: list = []
    t = threading.Thread(target=lambda: result.append(check_file(f"/proc/self/fd/{r}")[1]), daemon=True)
    t.start()
    t.join(10)
    os.close(w)
    os.close(r)
    assert result, "reading a pipe blocked"
    assert codes(result[0]) == ["DAGC013"]


def test_a_character_device_is_refused(tmp_path):
    assert codes(check_file("/dev/zero")[1]) == ["DAGC013"]


# ------------------------------------------------------------------------------------- crash classes

def test_integer_over_4300_digits_in_yaml(tmp_path):
    d = only(check(tmp_path, "name: p\nconfig:\n  x: " + "9" * 5000 + "\ntasks:\n  t: {sql: select 1}\n"), "DAGC007")
    at(d, 3, 6)
    assert "too large" in d.message


def test_integer_over_4300_digits_in_a_template(tmp_path):
    d = only(check(tmp_path, "name: p\nconfig:\n  x: \"{{ " + "9" * 5000 + " }}\"\ntasks:\n  t: {sql: select 1}\n"),
             "DAGC210")
    at(d, 3, 6)


@pytest.mark.parametrize("section, flag", [("config", "sets"), ("vars", "var_sets")])
def test_set_and_var_when_the_section_is_not_a_mapping(tmp_path, section, flag):
    text = f"name: p\n{section}: 5\ntasks:\n  t: {{sql: select 1}}\n"
    diags = check(tmp_path, text, **{flag: {"a.b": 1}})
    assert "DAGC203" in codes(diags) and "DAGC104" in codes(diags)


def test_a_300_character_time_zone(tmp_path):
    d = only(check(tmp_path, "name: p\nschedule: {cron: '0 * * * *', timezone: " + "A" * 300 + "}\n"
                   "tasks:\n  t: {sql: select 1}\n"), "DAGC507")
    assert len(d.message) < 200


def test_symlink_loop_dangling_symlink_and_deep_expression_in_steps(tmp_path):
    path = write(tmp_path, "name: p\ntasks:\n  t: {step: extract}\n")
    steps = tmp_path / "steps"
    (steps / "dangling.py").symlink_to(steps / "nowhere.py")
    (steps / "loop.py").symlink_to(steps / "loop.py")
    (steps / "deep.py").write_text("x = " + "+".join(["1"] * 100_000) + "\n")
    os.mkfifo(steps / "fifo.py")
    diags = check_file(path)[1]
    files = sorted(d.file for d in diags if d.code == "DAGC401")
    assert files == ["steps/dangling.py", "steps/deep.py", "steps/fifo.py", "steps/loop.py"], diags
    assert all(d.severity.value == "error" or d.code == "DAGC401" for d in diags)


# ---------------------------------------------------------------------------- control characters

@pytest.mark.parametrize("char", ["\x00", "\x0c", "\x1b", "\x7f"])
def test_control_characters_are_reported_where_they_are(tmp_path, char):
    diags = check(tmp_path, f"name: p\ntasks:\n  t: {{sql: 'select{char}1'}}\n")
    d = only(diags, "DAGC005")
    at(d, 3, 19)
    assert f"U+{ord(char):04X}" in d.message


# -------------------------------------------------------------------------- what Snowflake refuses

def test_task_names_differing_only_in_case(tmp_path):
    d = only(check(tmp_path, "name: p\ntasks:\n  load: {sql: select 1}\n  LOAD: {sql: select 1}\n"), "DAGC511")
    at(d, 4, 3)
    assert "LOAD" in d.message and "line 3" in d.message


def test_task_and_finalizer_differing_only_in_case(tmp_path):
    d = only(check(tmp_path, "name: p\ntasks:\n  done: {sql: select 1}\nfinally:\n  Done: {sql: select 1}\n"),
             "DAGC511")
    at(d, 5, 3)


def test_qualified_task_name_over_255_characters(tmp_path):
    name = "t" * 250
    d = only(check(tmp_path, f"name: pipeline\ntasks:\n  {name}: {{sql: select 1}}\n"), "DAGC512")
    assert "259 characters" in d.message
    at(d, 3, 3)
    assert check(tmp_path, f"name: p\ntasks:\n  {'t' * 253}: {{sql: select 1}}\n") == []


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "1.0e+400"])
def test_non_finite_params_are_refused(tmp_path, value):
    d = only(check(tmp_path, f"name: p\ntasks:\n  t: {{step: train, params: {{depth: 1, rate: {value}}}}}\n"), "DAGC513")
    at(d, 3, 45)


def test_integers_snowflake_cannot_hold(tmp_path):
    text = "name: p\nconfig:\n  big: " + "9" * 39 + "\n  ok: " + "9" * 38 + "\ntasks:\n  t: {step: extract, params: {rows: -" + "1" * 40 + "}}\n"
    diags = check(tmp_path, text)
    found = [d for d in diags if d.code == "DAGC514"]
    assert [(d.line, d.col) for d in found] == [(3, 8), (6, 37)], found


def test_keys_that_are_not_text_under_params_and_config(tmp_path):
    diags = check(tmp_path, "name: p\nconfig: {1: a, b: {true: c}}\ntasks:\n  t: {step: anything, params: {2: x, a: y}}\n")
    assert [(d.line, d.col) for d in diags if d.code == "DAGC515"] == [(4, 32)], diags
    assert "DAGC505" in codes(diags)  # config keys: reported once, by the config encoder


def test_a_plain_document_of_150k_values_is_not_blamed_on_aliases(tmp_path):
    from dagc.frontend import load as yamlload

    rows = "".join(f"    - [{i}, {i}, {i}]\n" for i in range(35_000))  # 140k values, 3 levels deep, no alias
    diags = check(tmp_path, "name: p\nconfig:\n  rows:\n" + rows.replace("    - ", "    - ") + "tasks:\n  t: {sql: select 1}\n")
    assert "DAGC008" not in codes(diags), [d.message for d in diags][:3]
    bomb = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)},"
        f" *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(6))
    assert codes(check(tmp_path, bomb)) == ["DAGC008"]  # the alias bound still holds
    assert yamlload.MAX_NODES == 200_000


def test_branch_case_keys_that_are_not_text(tmp_path):
    diags = check(tmp_path, "name: p\ntasks:\n  g: {branch: {step: gate, cases: {1: a, pass: a}}}\n  a: {step: anything, after: [g]}\n")
    assert "DAGC515" in codes(diags), diags


def test_did_you_mean_is_bounded_per_file_but_every_error_is_reported(tmp_path):
    from dagc.frontend import schema

    lines = ["name: p", "tasks:"] + [f"  task_{i:03d}: {{sql: select 1, after: [tsak_{i:03d}x]}}" for i in range(999)]
    diags = check(tmp_path, "\n".join(lines) + "\n")
    unknown = [d for d in diags if "tsak_" in d.message]
    assert len(unknown) == 999  # every problem reported
    suggested = [d for d in unknown if d.hint and "did you mean" in d.hint]
    assert 1 <= len(suggested) <= schema.SUGGESTION_BUDGET // 999 + 1  # the budget, not 999 x 999 comparisons
    assert all(len(d.hint or "") < 400 for d in unknown)  # the fallback lists a few names, not 999


def test_a_file_with_1000_environments_is_composed_once(tmp_path, monkeypatch):
    from dagc.cli.main import main
    from dagc.frontend import load as yamlload

    lines = ["name: p", "vars: {a: 1}", "tasks:", "  t: {sql: select 1}", "environments:"]
    path = write(tmp_path, "\n".join(lines + [f"  e{i}: {{vars: {{a: {i}}}, bogus: 1}}" for i in range(1000)]) + "\n")
    calls = []
    real = yamlload._compose
    monkeypatch.setattr(yamlload, "_compose", lambda doc: calls.append(1) or real(doc))
    with pytest.raises(SystemExit) as exc:
        main(["validate", str(path), "--format", "json"])
    assert exc.value.code == 1 and len(calls) == 1
