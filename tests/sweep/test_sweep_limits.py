"""Limits through the CLI: each oversized input is refused with a clear message and exit 1, no traceback.

How quickly is measured in bench/bench_scale.py (no timed assertions here).
"""

from __future__ import annotations

import pytest

from dagc.cli.main import main


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "internal error" not in err
    return exc.value.code, out + err


def fanned(n: int) -> str:
    body = "  t0: {sql: s}\n" + "".join(f"  t{i}: {{sql: s, after: [t0]}}\n" for i in range(1, min(n, 100)))
    body += "".join(f"  t{i}: {{sql: s, after: [t{1 + i % 99}]}}\n" for i in range(100, n))
    return "name: big\ntasks:\n" + body


def test_1001_tasks(tmp_path, capsys):
    path = tmp_path / "p.yaml"
    path.write_text(fanned(1001))
    code, out = run(["validate", str(path)], capsys)
    assert code == 1 and "error[DAGC309]: the graph has 1002 tasks (with its root); Snowflake allows at most 1000" in out
    path.write_text(fanned(999))
    assert run(["validate", str(path)], capsys)[0] == 0


def test_101_predecessors(tmp_path, capsys):
    path = tmp_path / "p.yaml"
    path.write_text(fanned(102) + "  join: {sql: s, after: [" + ", ".join(f"t{i}" for i in range(1, 102)) + "]}\n")
    code, out = run(["validate", str(path)], capsys)
    assert code == 1 and "task 'join' has 101 predecessors; Snowflake allows at most 100" in out
    assert "intermediate task" in out


def test_10_mb_config_value_from_a_file_a_var_and_the_environment(tmp_path, capsys, monkeypatch):
    big = "x" * (10 * 1024 * 1024)
    path = tmp_path / "p.yaml"
    path.write_text(f"name: big\nconfig: {{blob: '{big}'}}\ntasks:\n  a: {{sql: s}}\n")
    code, out = run(["validate", str(path)], capsys)
    assert code == 1 and "error[DAGC002]: file is larger than 4 MiB" in out

    path.write_text("name: big\nvars: {blob: ''}\nconfig: {blob: '{{ vars.blob }}'}\ntasks:\n  a: {sql: s}\n")
    code, out = run(["compile", str(path), "--var", f"blob={big}"], capsys)
    assert code == 1 and "error[DAGC508]: config is 10.0 MiB encoded" in out and len(out) < 10_000

    monkeypatch.setenv("DAGC_BIG_VALUE", big)
    path.write_text("name: big\nconfig: {blob: \"{{ env_var('DAGC_BIG_VALUE') }}\"}\ntasks:\n  a: {sql: s}\n")
    code, out = run(["validate", str(path)], capsys)
    assert code == 1 and "DAGC508" in out and len(out) < 10_000  # the message does not echo the value


def test_ten_thousand_levels(tmp_path, capsys):
    path = tmp_path / "p.yaml"
    path.write_text("name: deep\nconfig: " + "[" * 10_000 + "]" * 10_000 + "\ntasks:\n  a: {sql: s}\n")
    code, out = run(["validate", str(path)], capsys)
    assert code == 1 and "error[DAGC011]: nesting deeper than 64 levels" in out and len(out) < 10_000
