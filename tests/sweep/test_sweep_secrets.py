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


def _all_text_under(folder) -> str:
    import sqlite3

    chunks = []
    for f in folder.rglob("*"):
        if f.is_file() and f.suffix == ".db":
            con = sqlite3.connect(f)
            for (table,) in con.execute("select name from sqlite_master where type='table'"):
                chunks += [repr(row) for row in con.execute(f"select * from {table}")]
            con.close()
        elif f.is_file():
            chunks.append(f.read_text(errors="replace"))
    return "\n".join(chunks)


def test_local_runs_mask_secrets_in_logs_and_run_history(tmp_path, monkeypatch, capsys):
    from dagc.engine.api import retry_run, run_pipeline

    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "__init__.py").write_text("")
    (tmp_path / "steps" / "leaky.py").write_text(LEAKY_STEPS)
    path = tmp_path / "leaky.yaml"
    path.write_text(LEAKY_PIPELINE)
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
