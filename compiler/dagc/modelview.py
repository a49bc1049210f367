"""Looking at registered models: version tables and a metric-over-versions chart.

Works on anything with the ModelRegistry protocol (dagc.runtime.context): the local registry
under the state directory today, Snowflake's through the same protocol. The chart is one
self-contained HTML page with inline SVG: no JavaScript, no network, no plotting dependency, so
it opens anywhere and can be attached to a pull request or an alert.
"""

from __future__ import annotations

import html
import math
from datetime import datetime
from typing import Any, Sequence

from dagc.diagnostics import DagcError

CORE = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
LOWER_IS_BETTER = {"log_loss"}


def resolve_model(registry: Any, name: str) -> str:
    """The registry's spelling of `name` (case-insensitive, as Snowflake identifiers), or a clear error."""
    names = registry.models()
    for n in names:
        if n.upper() == name.upper():
            return str(n)
    raise DagcError(f"no model named {name!r} in the registry",
                    f"models: {', '.join(names)}" if names else "run a training pipeline first: dagc run pipelines/training.yaml")


def summary_rows(registry: Any) -> list[dict[str, Any]]:
    """One row per model: versions, default version, and the default's test metrics."""
    rows = []
    for name in registry.models():
        versions = registry.versions(name)
        default = next((v for v in versions if v.is_default), None)
        rows.append({
            "model": name, "versions": len(versions), "default": default.version if default else None,
            "latest": _iso(versions[-1].created_at) if versions else None,
            **{f"test_{m}": (default.metrics.get(f"test_{m}") if default else None) for m in CORE},
        })
    return rows


def version_rows(registry: Any, name: str) -> list[dict[str, Any]]:
    """One row per version, oldest first: metrics, lineage highlights, default flag."""
    out = []
    for v in registry.versions(resolve_model(registry, name)):
        out.append({
            "version": v.version, "default": v.is_default, "created_at": _iso(v.created_at),
            "metrics": dict(v.metrics),
            "dataset_version": v.lineage.get("dataset_version"), "run_id": v.lineage.get("run_id"),
            "pipeline": v.lineage.get("pipeline"),
        })
    return out


def _iso(t: datetime) -> str:
    """UTC, to the second, without an offset (every time dagc shows is UTC)."""
    from datetime import timezone

    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc).replace(tzinfo=None)
    return t.isoformat(timespec="seconds")


def metric_names(rows: Sequence[dict[str, Any]]) -> list[str]:
    return sorted({k for r in rows for k in r["metrics"]})


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def print_versions(rows: Sequence[dict[str, Any]], name: str, split: str = "test") -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{name}: {len(rows)} version(s), {split} metrics", title_justify="left")
    for col in ("version", "default", "created (UTC)", *CORE, "dataset"):
        table.add_column(col, no_wrap=True)
    for r in rows:
        table.add_row(r["version"], "*" if r["default"] else "", r["created_at"].replace("T", " ")[:16],
                      *(_fmt(r["metrics"].get(f"{split}_{m}")) for m in CORE), str(r["dataset_version"] or "-"))
    _console().print(table)


def _console() -> Any:
    import sys

    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def print_summary(rows: Sequence[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="models", title_justify="left")
    for col in ("model", "versions", "default", "latest (UTC)", "test roc_auc", "test f1", "test log_loss"):
        table.add_column(col, no_wrap=True)
    for r in rows:
        table.add_row(r["model"], str(r["versions"]), str(r["default"] or "-"), str(r["latest"] or "-").replace("T", " "),
                      _fmt(r["test_roc_auc"]), _fmt(r["test_f1"]), _fmt(r["test_log_loss"]))
    _console().print(table)


def metric_chart_svg(rows: Sequence[dict[str, Any]], metric: str, *, width: int = 760, height: int = 340) -> str:
    """An SVG line chart of `metric` per version in creation order; the default version is ringed."""
    points = [(r, float(r["metrics"][metric])) for r in rows if metric in r["metrics"]
              and not math.isnan(float(r["metrics"][metric]))]
    if not points:
        raise DagcError(f"no version has a metric {metric!r}",
                        f"metrics recorded: {', '.join(metric_names(rows)) or '(none)'}")
    left, right, top, bottom = 64, 24, 24, 70
    w, h = width - left - right, height - top - bottom
    values = [v for _, v in points]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.15 or max(abs(hi) * 0.02, 0.01)
    lo, hi = lo - pad, hi + pad
    n = len(points)
    xs = [left + (w * (i + 0.5) / n) for i in range(n)]
    ys = [top + h * (1 - (v - lo) / (hi - lo)) for v in values]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(metric)} by model version">',
             f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="#fafafa" stroke="#ccc"/>']
    for i in range(5):
        v = lo + (hi - lo) * i / 4
        y = top + h * (1 - i / 4)
        parts.append(f'<line x1="{left}" x2="{left + w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e4e4e4"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{v:.4f}</text>')
    parts.append('<polyline fill="none" stroke="#2b6cb0" stroke-width="2" points="'
                 + " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys)) + '"/>')
    for (r, v), x, y in zip(points, xs, ys):
        label = html.escape(f"{r['version']}: {metric} = {v:.4f} ({r['created_at']})" + (" - default" if r["default"] else ""))
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#2b6cb0"><title>{label}</title></circle>')
        if r["default"]:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="9" fill="none" stroke="#c05621" stroke-width="2"/>')
        parts.append(f'<text x="{x:.1f}" y="{top + h + 16}" font-size="11" text-anchor="middle">{html.escape(r["version"])}</text>')
        parts.append(f'<text x="{x:.1f}" y="{top + h + 30}" font-size="10" fill="#666" text-anchor="middle">'
                     f'{html.escape(r["created_at"][:16].replace("T", " "))}</text>')
    parts.append(f'<text x="{left}" y="{height - 12}" font-size="11" fill="#666">version (created, UTC); '
                 f'ringed: default{"; lower is better" if metric.split("_", 1)[-1] in LOWER_IS_BETTER else ""}</text>')
    parts.append("</svg>")
    return "".join(parts)


def metric_page(rows: Sequence[dict[str, Any]], name: str, metric: str) -> str:
    """A self-contained HTML page: the chart and the table of every version's metrics."""
    svg = metric_chart_svg(rows, metric)
    cols = [m for m in metric_names(rows) if m.startswith(("validation_", "test_"))] or metric_names(rows)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ("version", "default", "created (UTC)", *cols, "dataset", "run"))
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in (
            r["version"], "yes" if r["default"] else "", r["created_at"].replace("T", " "),
            *(_fmt(r["metrics"].get(c)) for c in cols), r["dataset_version"] or "-", r["run_id"] or "-")) + "</tr>"
        for r in rows)
    title = html.escape(f"{name}: {metric} by version")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>"
            "body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;font-size:12px}"
            "td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}th{background:#f3f3f3}</style></head><body>"
            f"<h1 style='font-size:18px'>{title}</h1>{svg}"
            f"<p style='font-size:12px;color:#666'>generated {datetime.now().isoformat(timespec='seconds')} by dagc models</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>")
