"""The rendered page: self-contained, data carried safely, warnings when graph and run disagree."""

from __future__ import annotations

import dataclasses
import json
import re
from html.parser import HTMLParser

from dagc.report.html import consistency_warnings, render_report
from dagc.report.model import TaskRunView

from report_fixtures import PROMOTE_ERROR, ROOT, failed_run


class _Refs(HTMLParser):
    """Every attribute that could make a browser fetch something, and every script block."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.scripts: list[dict[str, str | None]] = []
        self.meta: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href", "data", "poster", "action", "srcset"):
            if a.get(key):
                self.refs.append((tag, key, a[key]))
        if tag == "script":
            self.scripts.append(a)
        if tag == "meta":
            self.meta.append(a)


def _data(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="dagc-data">(.*?)</script>', page, re.S)
    assert m, "the data block is missing"
    return json.loads(m.group(1))


def test_page_is_self_contained(training_manifest, run_with_failure):
    page = render_report(training_manifest, run_with_failure)
    p = _Refs()
    p.feed(page)
    assert p.refs == [], f"the page references outside resources: {p.refs}"
    assert all(not s.get("src") for s in p.scripts)
    csp = [m["content"] for m in p.meta if (m.get("http-equiv") or "").lower() == "content-security-policy"]
    assert csp and "default-src 'none'" in csp[0], "a CSP forbidding network fetches must be set"
    vendored = (ROOT / "compiler/dagc/report/vendor/dagre.min.js").read_text(encoding="utf-8")
    assert vendored.splitlines()[0] in page  # the layout library is inlined, not linked
    assert "sourceMappingURL" not in page
    assert len(page) < 400_000


def test_data_block_round_trips(training_manifest, run_with_failure):
    data = _data(render_report(training_manifest, run_with_failure))
    assert data["manifest"] == json.loads(json.dumps(training_manifest))
    tasks = {t["name"]: t for t in data["run"]["tasks"]}
    assert tasks["promote"]["state"] == "FAILED" and tasks["promote"]["error"] == PROMOTE_ERROR
    assert tasks["alert_gate_failed"]["state"] == "SKIPPED"
    assert data["meta"]["mode"] == "run"
    assert _data(render_report(training_manifest))["run"] is None


def test_hostile_text_cannot_break_out_of_the_data_block(training_manifest):
    evil = "</script><script>window.pwned=1</script><!-- \u2028 & <img src=x onerror=alert(1)>"
    run = failed_run()
    run = dataclasses.replace(run, tasks=tuple(
        dataclasses.replace(t, error=evil, log_excerpt=evil) if t.name == "promote" else t for t in run.tasks))
    page = render_report(training_manifest, run)
    # the only closing script tags are the three the template has
    assert page.count("</script>") == 3
    assert "window.pwned" in page and "<script>window.pwned" not in page
    data = _data(page)
    promote = next(t for t in data["run"]["tasks"] if t["name"] == "promote")
    assert promote["error"] == evil


def test_warnings_when_the_file_changed(training_manifest, run_with_failure):
    assert consistency_warnings(training_manifest, run_with_failure) == []
    renamed = dataclasses.replace(run_with_failure, tasks=run_with_failure.tasks + (TaskRunView("old_task", "SUCCEEDED"),))
    (w,) = consistency_warnings(training_manifest, renamed)
    assert "old_task" in w
    other = dataclasses.replace(run_with_failure, pipeline="inference")
    assert any("inference" in w for w in consistency_warnings(training_manifest, other))
    assert "old_task" in " ".join(_data(render_report(training_manifest, renamed))["warnings"])
