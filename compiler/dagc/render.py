"""Diagnostics for people and for machines: text (rustc-style), json, github annotations, sarif."""

from __future__ import annotations

import json
import os
import sys
from typing import IO, Any, Iterable

from dagc.diagnostics import DagcError, Diagnostic, PipelineError, Severity
from dagc.textsafe import printable

FORMATS = ("text", "json", "github", "sarif")


def use_color(stream: IO[str]) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def _source_line(file: str, line: int, cache: dict[str, list[str]]) -> str | None:
    if file not in cache:
        try:
            with open(file, encoding="utf-8", errors="replace") as fh:
                cache[file] = fh.read(8 * 1024 * 1024).splitlines()
        except OSError:
            cache[file] = []
    lines = cache[file]
    return lines[line - 1] if 0 < line <= len(lines) else None


def text(diags: Iterable[Diagnostic], *, color: bool = False) -> str:
    """`file:line:col: error[CODE]: message`, the line with a caret under the spot, and the hint."""
    cache: dict[str, list[str]] = {}
    out: list[str] = []
    for d in diags:
        sev = _paint(f"{d.severity.value}[{d.code}]", "1;31" if d.severity is Severity.ERROR else "1;33", color)
        where = d.file + (f":{d.line}:{d.col}" if d.line else "")
        out.append(f"{_paint(printable(where, newlines=False), '1', color)}: {sev}: {printable(d.message)}")
        src = _source_line(d.file, d.line, cache) if d.line else None
        if src is not None:
            src = printable(src, newlines=False)
        if src is not None and len(src) <= 400:
            gutter = f"{d.line:>4} | "
            out.append(_paint(gutter, "34", color) + src)
            width = max(1, (d.end_col - d.col + 1) if d.end_col >= d.col else 1)
            caret = " " * (max(d.col, 1) - 1) + "^" * min(width, max(1, len(src) - d.col + 1))
            out.append(_paint(" " * (len(gutter) - 2) + "| ", "34", color) + _paint(caret, "1;31", color))
        if d.hint:
            out.append(f"     = {_paint('hint', '1;36', color)}: {printable(d.hint)}")
    return "\n".join(out)


def summary(diags: list[Diagnostic], files: int) -> str:
    errors = sum(d.severity is Severity.ERROR for d in diags)
    warnings = len(diags) - errors
    if not errors and not warnings:
        return f"{files} pipeline file(s) valid"
    return f"{errors} error(s), {warnings} warning(s) in {files} file(s)"


def as_json(diags: Iterable[Diagnostic]) -> str:
    rows = [{"code": d.code, "severity": d.severity.value, "message": d.message, "file": d.file,
             "line": d.line, "col": d.col, "hint": d.hint} for d in diags]
    return json.dumps({"diagnostics": rows}, indent=2)


def _gh_escape(s: str, prop: bool = False) -> str:
    s = s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return s.replace(":", "%3A").replace(",", "%2C") if prop else s


def github(diags: Iterable[Diagnostic]) -> str:
    """GitHub workflow commands: each becomes an annotation on its line in the pull request."""
    out = []
    for d in diags:
        kind = "error" if d.severity is Severity.ERROR else "warning"
        props = [f"file={_gh_escape(d.file, True)}"]
        if d.line:
            props += [f"line={d.line}", f"col={max(d.col, 1)}"]
        props.append(f"title={_gh_escape('dagc ' + d.code, True)}")
        msg = d.message + (f"\nhint: {d.hint}" if d.hint else "")
        out.append(f"::{kind} {','.join(props)}::{_gh_escape(msg)}")
    return "\n".join(out)


def sarif(diags: list[Diagnostic]) -> str:
    """SARIF 2.1.0 for code scanning."""
    from dagc import __version__

    rules = sorted({d.code for d in diags})
    results: list[dict[str, Any]] = []
    for d in diags:
        region: dict[str, int] = {"startLine": max(d.line, 1)}
        if d.col:
            region["startColumn"] = d.col
        results.append({
            "ruleId": d.code,
            "level": "error" if d.severity is Severity.ERROR else "warning",
            "message": {"text": d.message + (f" (hint: {d.hint})" if d.hint else "")},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": d.file.replace(os.sep, "/")}, "region": region}}],
        })
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "dagc", "version": __version__,
                                      "informationUri": "https://github.com/dagc/dagc",
                                      "rules": [{"id": r, "helpUri": f"docs/diagnostics.md#{r.lower()}"} for r in rules]}},
                  "results": results}],
    }
    return json.dumps(doc, indent=2)


def render(diags: list[Diagnostic], fmt: str, *, color: bool = False) -> str:
    if fmt == "json":
        return as_json(diags)
    if fmt == "github":
        return github(diags)
    if fmt == "sarif":
        return sarif(diags)
    return text(diags, color=color)


def print_error(exc: DagcError, stream: IO[str] | None = None) -> None:
    """How the CLI shows any user-facing error: the diagnostics, or one line and a hint."""
    stream = stream or sys.stderr
    if isinstance(exc, PipelineError) and exc.diagnostics:
        print(text(exc.diagnostics, color=use_color(stream)), file=stream)
        print(summary(exc.diagnostics, 1), file=stream)
        return
    color = use_color(stream)
    print(f"{_paint('error', '1;31', color)}: {printable(exc.message)}", file=stream)
    if exc.hint:
        print(f"  = {_paint('hint', '1;36', color)}: {printable(exc.hint)}", file=stream)
