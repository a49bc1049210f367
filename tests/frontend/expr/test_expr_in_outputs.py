"""Conditions and triggers are visible where graphs are reviewed: `dagc graph` (Mermaid, DOT)."""

from __future__ import annotations

from dagc.emit.graph import dot, mermaid
from dagc.frontend import check_file


def test_graph_outputs_show_conditions_and_the_trigger(tmp_path):
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "__init__.py").write_text("")
    path = tmp_path / "p.yaml"
    path.write_text('name: g\ntrigger: {stream: S}\nstreams: {S: T}\ntasks:\n  a: {sql: s}\n'
                    '  b: {sql: s, after: [a], if: "state(a) == \'FAILED\' or value(a) > \\"1\\""}\n')
    p, diags = check_file(path)
    assert diags == [], diags
    m = mermaid(p)
    assert '__root__(["g (when S has data)"])' in m
    assert "if state(a) == 'FAILED' or value(a) #gt; '1'" in m  # no raw `<`/`>` or `"` inside a Mermaid label
    d = dot(p)
    assert 'label="b\\nsql\\nif state(a) == \'FAILED\' or value(a) > \\"1\\""' in d
