"""Reading files: every bad input gets one positioned diagnostic, quickly and in bounded memory."""

from __future__ import annotations

import tracemalloc

from dagc.frontend import load as yamlload
from dagc.frontend import check_file
from fe_helpers import at, check, only, write

OK_TASKS = "tasks:\n  a: {sql: select 1}\n"


def test_missing_file(tmp_path):
    d = only(check_file(tmp_path / "nope.yaml")[1], "DAGC001")
    assert "cannot read file" in d.message and "No such file" in d.message


def test_file_over_the_size_limit_is_refused_without_reading_it_all(tmp_path):
    path = tmp_path / "big.yaml"
    with open(path, "wb") as fh:  # 50 MB: a comment line, so only the size check can object
        fh.write(b"name: x\n#")
        fh.write(b"x" * (50 * 1024 * 1024))
    tracemalloc.start()
    d = only(check_file(path)[1], "DAGC002")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "larger than 4 MiB" in d.message and d.hint
    assert peak < 2 * yamlload.MAX_FILE_BYTES + 1_000_000  # read at most the limit, not 50 MB


def test_non_utf8_bytes_point_at_the_byte(tmp_path):
    d = only(check(tmp_path, b"name: x\ntasks:\n  a: {sql: '\xff'}\n"), "DAGC003")
    at(d, 3, 13)
    assert "0xff" in d.message and "UTF-8" in d.hint


def test_utf8_bom_is_accepted(tmp_path):
    assert check(tmp_path, "\ufeffname: x\n" + OK_TASKS) == []


def test_empty_file_and_comment_only_file(tmp_path):
    assert only(check(tmp_path, ""), "DAGC004").message == "file is empty"
    d = only(check(tmp_path, "# just a comment\n\n"), "DAGC004")
    assert "name:" in d.hint


def test_malformed_yaml_points_at_the_problem(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {sql: 'select 1'\n  b: 2\n"), "DAGC005")
    assert d.message.startswith("malformed YAML") and d.line >= 3 and d.hint


def test_unknown_alias(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a: *nothere\n"), "DAGC005")
    at(d, 3, 6)
    assert "*nothere" in d.message


def test_tab_indentation(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n\ta: {sql: s}\n"), "DAGC006")
    at(d, 3, 1)
    assert "tab" in d.message and "spaces" in d.hint


def test_python_tags_are_refused(tmp_path):
    d = only(check(tmp_path, "name: !!python/object:os.system x\n" + OK_TASKS), "DAGC007")
    at(d, 1, 7)
    d = only(check(tmp_path, "name: x\ntasks: !!python/object/apply:os.system {a: b}\n"), "DAGC007")
    at(d, 2, 8)


def test_complex_mapping_key(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  ? [a, b]\n  : {sql: s}\n"), "DAGC009")
    assert d.line == 3


def test_duplicate_keys_name_both_lines(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  a: {sql: s}\n  b: {sql: s}\n  a: {sql: t}\n"), "DAGC010")
    at(d, 5, 3)
    assert "'a'" in d.message and "line 3" in d.message and "last one" in d.hint


def test_duplicate_top_level_key(tmp_path):
    d = only(check(tmp_path, "name: x\n" + OK_TASKS + "name: y\n"), "DAGC010")
    at(d, 4, 1)


def test_billion_laughs_is_refused_in_bounded_memory(tmp_path):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):  # 10**10 values if expanded
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    tracemalloc.start()
    d = only(check(tmp_path, "\n".join(lines) + "\n"), "DAGC008")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "aliases" in d.message and "billion laughs" in d.hint
    assert d.line > 1
    assert peak < 20_000_000


def test_aliases_within_the_bound_still_work(tmp_path):
    text = "name: x\nx-defaults: &wh {warehouse: WH}\n"
    diags = check(tmp_path, text + "tasks:\n  a: {sql: s, <<: *wh}\n")
    # merge keys resolve (the anchor key itself is unknown to the schema: that is the only error)
    assert [d.code for d in diags] == ["DAGC102"]
    assert "x-defaults" in diags[0].message


def test_ten_thousand_levels_of_nesting(tmp_path):
    for text in ("name: x\nconfig: " + "[" * 10_000 + "]" * 10_000 + "\n",
                 "name: x\nconfig: " + "{k: " * 10_000 + "1" + "}" * 10_000 + "\n",
                 "name: x\nconfig:\n" + "".join(" " * (i + 1) + "k:\n" for i in range(1000))):
        d = only(check(tmp_path, text), "DAGC011")
        assert "deeper than 64" in d.message and d.hint


def test_more_than_one_document(tmp_path):
    d = only(check(tmp_path, "name: x\n" + OK_TASKS + "---\nname: y\n"), "DAGC012")
    at(d, 4, 1)


def test_top_level_list_instead_of_mapping(tmp_path):
    d = only(check(tmp_path, "- name: x\n- tasks: {}\n"), "DAGC101")
    at(d, 1, 1)
    assert "not a list" in d.message and "name:" in d.hint


def test_list_where_a_mapping_belongs(tmp_path):
    d = only(check(tmp_path, "name: x\ntasks:\n  - a\n  - b\n"), "DAGC104")
    at(d, 3, 3)
    assert d.message == "tasks must be a mapping, not a list"


def test_scalar_document(tmp_path):
    only(check(tmp_path, "just a string\n"), "DAGC101")


def test_positions_of_values_and_keys(tmp_path):
    path = write(tmp_path, "name: x\ntasks:\n  load:\n    sql: s\n    after: [a, b]\n")
    text, _ = yamlload.read_text(str(path))
    doc, diags = yamlload.load(str(path), text)
    assert diags == []
    assert doc.keys[("tasks", "load")] == yamlload.Pos(3, 3, 6)
    assert doc.values[("tasks", "load", "after", 1)].line == 5
    assert doc.values[("tasks", "load", "after", 1)].col == 16
