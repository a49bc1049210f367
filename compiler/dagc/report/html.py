"""Render a manifest (and optionally one run) into one self-contained HTML page.

The page carries everything it needs: the CSS, the vendored dagre layout library, the page's
script and the data as inline JSON, under a Content-Security-Policy that forbids every network
fetch, so the file opens the same from a CI artifact, an e-mail or an air-gapped laptop. The
data goes in as JSON (never as HTML) and the script inserts it with textContent, so task names,
errors and logs cannot inject markup.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
from importlib import resources
from typing import Any, Mapping

from dagc import __version__
from dagc.report.model import RunView

TIGHT_TREE_ABOVE = 120  # tasks; above this the page uses dagre's faster ranker (see bench/bench_report.py)


def _asset(*parts: str) -> str:
    path = resources.files("dagc.report")
    for part in parts:
        path = path.joinpath(part)
    return path.read_text(encoding="utf-8")


def _script_safe_json(data: Any) -> str:
    """JSON that cannot close the <script> element it sits in, nor start an HTML comment."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _vendored_dagre() -> str:
    text = _asset("vendor", "dagre.min.js")
    lines = [ln for ln in text.splitlines() if not ln.startswith("//# sourceMappingURL=")]
    return "\n".join(lines).replace("</script", "<\\/script")


def consistency_warnings(manifest: Mapping[str, Any], run: RunView | None) -> list[str]:
    """Say when the graph drawn is not exactly the graph that ran, instead of hiding it."""
    if run is None:
        return []
    out: list[str] = []
    names = {t["name"] for t in manifest.get("tasks", [])}
    extra = sorted(t.name for t in run.tasks if t.name not in names)
    if run.pipeline != manifest.get("pipeline"):
        out.append(f"run {run.run_id} is of pipeline {run.pipeline!r}, but the graph drawn is {manifest.get('pipeline')!r}")
    if extra:
        out.append(f"task(s) in the run but not in the pipeline file: {', '.join(extra)} (the file changed since the run); "
                   "they are drawn unconnected")
    elif run.manifest_hash and manifest.get("hash") and run.manifest_hash != manifest.get("hash"):
        out.append("the pipeline file changed since this run: the graph and settings shown are the current ones")
    return out


def render_report(manifest: Mapping[str, Any], run: RunView | None = None, *,
                  generated_at: _dt.datetime | None = None, warnings: list[str] | None = None,
                  select_first_error: bool = True, ranker: str | None = None) -> str:
    """The whole page as a string. `manifest` is dagc.emit.manifest.build_manifest's dict.

    `ranker` forces dagre's ranking algorithm (network-simplex, tight-tree, longest-path); by
    default the page picks network-simplex up to TIGHT_TREE_ABOVE tasks and tight-tree beyond.
    """
    when = (generated_at or _dt.datetime.now(_dt.timezone.utc)).astimezone(_dt.timezone.utc)
    data = {
        "meta": {
            "dagc_version": __version__,
            "generated_at": when.strftime("%Y-%m-%d %H:%M:%SZ"),
            "mode": "run" if run is not None else "pipeline",
            "tight_above": TIGHT_TREE_ABOVE,
            "select_first_error": select_first_error,
            "ranker": ranker,
        },
        "manifest": manifest,
        "run": run.to_dict() if run is not None else None,
        "warnings": consistency_warnings(manifest, run) + list(warnings or []),
    }
    title = f"{manifest.get('pipeline', 'pipeline')} \u00b7 " + (f"run {run.run_id}" if run else "graph") + " \u00b7 dagc report"
    page = _asset("assets", "report.html")
    # Substitute the data last, so nothing inside user data is ever taken for a placeholder.
    for marker, value in (
        ("__TITLE__", html.escape(title)),
        ("__VERSION__", html.escape(__version__)),
        ("/*__CSS__*/", _asset("assets", "report.css")),
        ("/*__DAGRE__*/", _vendored_dagre()),
        ("/*__APP__*/", _asset("assets", "report.js").replace("</script", "<\\/script")),
        ("__DATA__", _script_safe_json(data)),
    ):
        page = page.replace(marker, value, 1)
    return page
