"""Checks family `config` (compiler/dagc/frontend/checks/config.py): DAGC505, 508: graph config encoding and size."""

from __future__ import annotations

from fe_helpers import at, check, only


def test_unencodable_config_key(tmp_path):
    d = only(check(tmp_path, "name: x\nconfig: {gate: {bad-key: 1}}\ntasks:\n  t: {sql: s}\n"), "DAGC505")
    at(d, 2, 17)
    assert "'bad-key'" in d.message


def test_config_with_non_string_key(tmp_path):
    only(check(tmp_path, "name: x\nconfig: {1: one}\ntasks:\n  t: {sql: s}\n"), "DAGC505")


def test_config_over_the_size_bound(tmp_path):
    value = "x" * (1024 * 1024)  # 1 MiB, then aliased 10 times: a 10 MB config from a 1 MB file
    text = f"name: x\nvars: {{v: &big '{value}'}}\nconfig:\n" + "".join(f"  k{i}: *big\n" for i in range(10)) + \
        "tasks:\n  t: {sql: s}\n"
    d = only(check(tmp_path, text), "DAGC508")
    at(d, 3, 1)
    assert "10.0 MiB" in d.message and "tables or stages" in d.hint

