"""Secrets are masked in every output: manifest, compile, diagnostics, graph, and the redaction API."""

from __future__ import annotations

import json

import pytest

from dagc.cli.main import main
from dagc.diagnostics import Severity
from dagc.frontend import check_file, load_pipeline
from dagc.redact import MASK, redact_data, redact_text, secrets_of

PW = "hunter2-very-secret"
TOKEN = "tok_5f2a9c1e7b"
LITERAL = "literal-api-key-123"

PIPELINE = """
name: sec
warehouse: WH
config:
  db:
    password: "{{ secret('DAGC_T_DB_PASSWORD') }}"
    user: svc
  api_key: LITERAL
  url: "https://svc:{{ env_var('DAGC_T_API_TOKEN') }}@host/x"
  plain_env: "{{ env_var('DAGC_T_REGION') }}"
tasks:
  export:
    sql: "CREATE USER x PASSWORD='{{ secret('DAGC_T_DB_PASSWORD') }}'"
  call:
    step: anything
    params: {auth: "Bearer {{ env_var('DAGC_T_API_TOKEN') }}"}
    after: [export]
""".replace("LITERAL", LITERAL)

STEPS = "from dagc.runtime import step\n\n@step\ndef anything(ctx, **kw):\n    return {}\n"


@pytest.fixture()
def project(tmp_path, monkeypatch):
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "__init__.py").write_text("")
    (tmp_path / "steps" / "core.py").write_text(STEPS)
    path = tmp_path / "sec.yaml"
    path.write_text(PIPELINE)
    monkeypatch.setenv("DAGC_T_DB_PASSWORD", PW)
    monkeypatch.setenv("DAGC_T_API_TOKEN", TOKEN)
    monkeypatch.setenv("DAGC_T_REGION", "eu-west-1")
    return path


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out + err


def test_pipeline_keeps_real_values_for_steps_and_marks_them(project):
    p = load_pipeline(project)
    assert p.config["db"]["password"] == PW  # steps and Snowflake get the real value
    assert p.secrets >= {PW, TOKEN, LITERAL} and "eu-west-1" not in p.secrets and "svc" not in p.secrets
    assert PW not in repr(p) and TOKEN not in repr(p)  # never via repr (logs, tracebacks)


def test_compile_masks_every_secret(project, capsys):
    code, out = run(["compile", str(project)], capsys)
    assert code == 0
    for s in (PW, TOKEN, LITERAL):
        assert s not in out
    m = json.loads(out.split("\n}\n")[0] + "\n}")
    assert m["graph"]["config"]["db.password"] == MASK and m["graph"]["config"]["api_key"] == MASK
    assert m["graph"]["config"]["url"] == f"https://svc:{MASK}@host/x"
    assert m["graph"]["config"]["plain_env"] == "eu-west-1" and m["graph"]["config"]["db.user"] == "svc"
    sql = next(t for t in m["tasks"] if t["name"] == "export")["sql"]
    assert sql == f"CREATE USER x PASSWORD='{MASK}'"
    assert next(t for t in m["tasks"] if t["name"] == "call")["params"] == {"auth": f"Bearer {MASK}"}


def test_manifest_hash_does_not_depend_on_the_secret(project, monkeypatch, capsys):
    a = run(["compile", str(project)], capsys)[1]
    monkeypatch.setenv("DAGC_T_DB_PASSWORD", "another-password")
    b = run(["compile", str(project)], capsys)[1]
    assert a == b


def test_set_of_a_secret_key_is_masked(project, capsys):
    code, out = run(["compile", str(project), "--var", "x=1"], capsys)
    assert code == 1 and "DAGC203" in out  # no vars: --var refused, and nothing leaked either
    for s in (PW, TOKEN, LITERAL):
        assert s not in out
    p = load_pipeline(project, sets={"api_key": "set-on-the-command-line"})
    from dagc.emit.manifest import build_manifest, dumps

    assert "set-on-the-command-line" not in dumps(build_manifest(p))


def test_diagnostics_never_quote_a_secret(project, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nwarehouse: \"{{ secret('DAGC_T_DB_PASSWORD') }} x\"\ntasks:\n  a: {sql: s}\n")
    for fmt in ("text", "json", "github", "sarif"):
        code, out = run(["validate", str(bad), "--format", fmt], capsys)
        assert code == 1 and "DAGC502" in out and PW not in out and MASK in out
    code, out = run(["compile", str(bad)], capsys)
    assert code == 1 and PW not in out


def test_graph_output_has_no_secrets(project, capsys):
    for fmt in ("mermaid", "dot"):
        code, out = run(["graph", str(project), "--format", fmt], capsys)
        assert code == 0 and PW not in out and TOKEN not in out


def test_unset_secret_warns_under_validate_and_fails_elsewhere(project, monkeypatch, capsys):
    monkeypatch.delenv("DAGC_T_DB_PASSWORD")
    diags = check_file(project, missing_secrets="warn")[1]
    assert {d.code for d in diags} == {"DAGC211"} and all(d.severity is Severity.WARNING for d in diags)
    assert diags[0].line == 6 and "export DAGC_T_DB_PASSWORD" in diags[0].hint
    code, out = run(["validate", str(project)], capsys)
    assert code == 0 and "warning[DAGC211]" in out
    code, out = run(["compile", str(project)], capsys)
    assert code == 1 and "error[DAGC210]" in out and "secret DAGC_T_DB_PASSWORD is not set" in out


def test_redaction_api_for_logs_and_run_history():
    """The contract back ends use: redact_text for log lines, redact_data for JSON records."""
    secrets = frozenset({PW, "abc"})
    assert redact_text(f"connecting with {PW}!", secrets) == f"connecting with {MASK}!"
    assert redact_text("abc stays: too short to replace inside text", secrets).startswith("abc")
    record = {"params": {"password": 1234, "note": f"pw={PW}", "x": "abc"}, "token": None, "ok": True,
              "rows": [PW, 3]}
    assert redact_data(record, secrets) == {"params": {"password": MASK, "note": f"pw={MASK}", "x": MASK},
                                            "token": None, "ok": True, "rows": [MASK, 3]}


def test_secrets_of_works_on_any_pipeline_like_object(project):
    p = load_pipeline(project)
    assert secrets_of(p) == p.secrets | {LITERAL}


LEAKY_STEPS = '''
from dagc.runtime import step


@step
def leak(ctx, auth: str = ""):
    ctx.log.info("connecting with %s and %s", ctx.config["db"]["password"], auth)
    print("stdout:", ctx.config["db"]["password"])
    return {"echo": ctx.config["db"]["password"]}


@step
def boom(ctx):
    import os
    if os.path.exists(os.path.join(os.path.dirname(__file__), "..", "fixed")):
        assert ctx.config["db"]["password"] == "PWVALUE"  # a retry gets the real secret back
        return {}
    raise RuntimeError("failed with " + ctx.config["db"]["password"])
'''.replace("PWVALUE", PW)

LEAKY_PIPELINE = """
name: leaky
config:
  db:
    password: "{{ secret('DAGC_T_DB_PASSWORD') }}"
tasks:
  a:
    step: leak
    params: {auth: "Bearer {{ env_var('DAGC_T_API_TOKEN') }}"}
  b:
    step: boom
    after: [a]
"""


def _project(root, name: str, steps: str, pipeline: str):
    """A project at `root` with steps/<name>.py and <name>.yaml; the pipeline's path."""
    (root / "steps").mkdir()
    (root / "steps" / "__init__.py").write_text("")
    (root / "steps" / f"{name}.py").write_text(steps)
    path = root / f"{name}.yaml"
    path.write_text(pipeline)
    return path


def _all_text_under(folder) -> str:
    import sqlite3

    chunks = []
    for f in folder.rglob("*"):
        if f.is_file() and f.suffix == ".db" and f.parent.name != "warehouse":  # the warehouse is DuckDB: raw bytes
            con = sqlite3.connect(f)
            for (table,) in con.execute("select name from sqlite_master where type='table'"):
                chunks += [repr(row) for row in con.execute(f"select * from {table}")]
            con.close()
        elif f.is_file():
            chunks.append(f.read_text(errors="replace"))
    return "\n".join(chunks)


def test_local_runs_mask_secrets_in_logs_and_run_history(tmp_path, monkeypatch, capsys):
    from dagc.engine.api import retry_run, run_pipeline

    path = _project(tmp_path, "leaky", LEAKY_STEPS, LEAKY_PIPELINE)
    monkeypatch.setenv("DAGC_T_DB_PASSWORD", PW)
    monkeypatch.setenv("DAGC_T_API_TOKEN", TOKEN)
    state = tmp_path / ".dagc"
    result = run_pipeline(load_pipeline(path), project_root=tmp_path, state_dir=state, parallelism=1)
    assert result.state == "FAILED" and result.first_error == f"RuntimeError: failed with {MASK}"
    stored = _all_text_under(state)
    assert PW not in stored and TOKEN not in stored
    assert f"connecting with {MASK} and Bearer {MASK}" in stored and f"stdout: {MASK}" in stored

    monkeypatch.chdir(tmp_path)
    for argv in (["logs", result.run_id, "a"], ["logs", result.run_id, "b"], ["status", result.run_id],
                 ["status", result.run_id, "--format", "json"], ["runs"]):
        code, out = run(argv, capsys)
        assert PW not in out and TOKEN not in out, argv

    (tmp_path / "fixed").write_text("")  # the retry succeeds only if it sees the real secret
    again = retry_run(result.run_id, project_root=tmp_path, state_dir=state, parallelism=1)
    assert again.state == "SUCCEEDED"
    assert PW not in _all_text_under(state)


def test_plan_against_a_manifest_shows_no_secret(project, tmp_path, monkeypatch, capsys):
    from dagc.cli.main import COMMANDS, _module_exists

    if not _module_exists(COMMANDS["plan"].split(":")[0]):
        pytest.skip("dagc plan is not on this branch")
    base = tmp_path / "base.json"
    assert run(["compile", str(project), "-o", str(base)], capsys)[0] == 0
    monkeypatch.setenv("DAGC_T_DB_PASSWORD", "a-new-password-42")
    project.write_text(project.read_text().replace("user: svc", "user: svc2"))
    for fmt in ("text", "json"):
        code, out = run(["plan", str(project), "--against", str(base), "--format", fmt], capsys)
        assert code == 2 and "svc2" in out
        for s in (PW, TOKEN, LITERAL, "a-new-password-42"):
            assert s not in out, (fmt, s)


# ------------------------------------------------------------------ every form, every channel (issue 15)

ODD = 'Pw"q\\uote/é-Ω 42'  # a quote, a backslash, a slash, non-ASCII, a space: each escapes differently

FORM_STEPS = r'''
import json, logging
from urllib.parse import quote
from dagc.runtime import step


@step
def forms(ctx):
    pw = ctx.config["db"]["password"]
    print("json:", json.dumps({"pw": pw}))
    print("repr:", repr(pw), "ascii:", ascii(pw))
    print("url:", quote(pw, safe=""), "upper:", pw.upper(), "lower:", pw.lower())
    ctx.notify("pw " + pw.upper(), "body " + json.dumps(pw) + " " + quote(pw))
    return {"nested": json.dumps({"pw": pw}), "r": repr(pw)}


@step
def fail_repr(ctx):
    raise ValueError({"pw": ctx.config["db"]["password"]})
'''

FORM_PIPELINE = """
name: forms
config:
  db:
    password: "{{ secret('DAGC_T_ODD') }}"
  plain: x
tasks:
  a: {step: forms}
  b: {step: fail_repr, after: [a]}
  c:
    sql: "CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION(SNOWFLAKE.NOTIFICATION.TEXT_PLAIN('{{ secret('DAGC_T_ODD') | urlencode }} {{ secret('DAGC_T_ODD') | upper | replace(\\"'\\", \\"''\\") }}'), SNOWFLAKE.NOTIFICATION.INTEGRATION('X'))"
    after: [a]
"""


def _leaks(text: str, secret: str) -> list[str]:
    from dagc.redact import forms

    low = text.lower()
    return sorted(f for f in forms(secret) if f.lower() in low)


def test_every_form_of_a_secret_is_masked():
    from urllib.parse import quote, quote_plus

    for form in (ODD, json.dumps(ODD), json.dumps(ODD, ensure_ascii=False), repr(ODD), ascii(ODD),
                 quote(ODD, safe=""), quote_plus(ODD), ODD.upper(), ODD.lower(), json.dumps({"e": repr(ODD)})):
        out = redact_text(f"before {form} after", [ODD])
        assert _leaks(out, ODD) == [] and MASK in out, form
    assert redact_data({"k": ODD.upper(), "n": [ODD.lower()]}, [ODD]) == {"k": MASK, "n": [MASK]}


def test_a_local_run_masks_every_form_in_every_channel(tmp_path, monkeypatch, capsys):
    from dagc.engine.api import run_pipeline

    path = _project(tmp_path, "forms", FORM_STEPS, FORM_PIPELINE)
    monkeypatch.setenv("DAGC_T_ODD", ODD)
    state = tmp_path / ".dagc"
    result = run_pipeline(load_pipeline(path, sets={"plain": "set-secret-value-77", "db.password": ODD}),
                          project_root=tmp_path, state_dir=state, parallelism=1)
    assert result.state == "FAILED" and result.tasks["c"].state == "SUCCEEDED", {n: (v.state, v.error) for n, v in result.tasks.items()}
    stored = _all_text_under(state)  # run history, logs, notifications.jsonl
    assert _leaks(stored, ODD) == []
    assert (state / "notifications.jsonl").exists() and stored.count(MASK) > 5
    monkeypatch.chdir(tmp_path)
    for argv in (["status", result.run_id], ["status", result.run_id, "--json"], ["runs"],
                 ["logs", result.run_id, "a"], ["logs", result.run_id, "b"], ["report", "-o", str(tmp_path / "r.html")]):
        code, out = run(argv, capsys)
        assert _leaks(out, ODD) == [], argv
    assert _leaks((tmp_path / "r.html").read_text(), ODD) == []


def test_set_of_a_secret_looking_key_is_masked_in_run_history_and_report(tmp_path, monkeypatch, capsys):
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "__init__.py").write_text("")
    (tmp_path / "p.yaml").write_text("name: s\nconfig: {password: x, other: 1}\ntasks:\n  t: {sql: select 1}\n")
    monkeypatch.chdir(tmp_path)
    code, out = run(["run", "p.yaml", "--set", "password=cli-secret-9913", "--quiet"], capsys)
    assert code == 0 and "cli-secret-9913" not in out
    assert "cli-secret-9913" not in _all_text_under(tmp_path / ".dagc")
    code, out = run(["report", "-o", str(tmp_path / "r.html")], capsys)
    assert code == 0 and "cli-secret-9913" not in (tmp_path / "r.html").read_text()


STOPPED_STEPS = '''
import os, sys, time
from dagc.runtime import step


@step
def hangs(ctx):
    print("token is", ctx.config["db"]["password"], flush=True)
    os.write(2, ("native: " + ctx.config["db"]["password"] + "\\n").encode())
    time.sleep(60)


@step
def dies(ctx):
    print("token is", ctx.config["db"]["password"], flush=True)
    os._exit(3)
'''

STOPPED_PIPELINE = """
name: stopped
config:
  db:
    password: "{{ secret('DAGC_T_DB_PASSWORD') }}"
tasks:
  slow: {step: hangs, timeout: 2s}
  crash: {step: dies}
"""


def test_the_log_of_a_stopped_or_crashed_attempt_is_masked_too(tmp_path, monkeypatch):
    """The worker masks its log when the step returns or raises; a worker the engine kills at its
    timeout, or one that dies in the step, cannot: the engine masks those logs."""
    from dagc.engine.api import run_pipeline

    path = _project(tmp_path, "stopped", STOPPED_STEPS, STOPPED_PIPELINE)
    monkeypatch.setenv("DAGC_T_DB_PASSWORD", PW)
    state = tmp_path / ".dagc"
    result = run_pipeline(load_pipeline(path), project_root=tmp_path, state_dir=state, parallelism=2)
    assert result.state == "FAILED"
    logs = {f.name: f.read_text() for f in state.rglob("*.log")}
    slow = next(t for n, t in logs.items() if n.startswith("slow."))
    crash = next(t for n, t in logs.items() if n.startswith("crash."))
    assert f"token is {MASK}" in slow and f"native: {MASK}" in slow and "timed out after 2 s" in slow
    assert f"token is {MASK}" in crash
    assert PW not in _all_text_under(state)
