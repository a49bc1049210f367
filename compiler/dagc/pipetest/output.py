"""`dagc test` output: text for people, github annotations, json, junit XML for CI test tabs."""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from dagc.pipetest.run import FileResult


def counts(results: list[FileResult]) -> dict[str, int]:
    passed = sum(1 for f in results for s in f.scenarios if s.passed)
    failed = sum(1 for f in results for s in f.scenarios if not s.passed)
    return {"passed": passed, "failed": failed, "invalid_files": sum(1 for f in results if f.errors)}


def summary(results: list[FileResult]) -> str:
    c = counts(results)
    text = f"{c['passed']} scenario(s) passed, {c['failed']} failed"
    if c["invalid_files"]:
        text += f", {c['invalid_files']} scenario file(s) invalid"
    return text + f" ({len(results)} file(s))"


def as_json(results: list[FileResult]) -> str:
    from dataclasses import asdict

    def diag(d: Any) -> dict[str, Any]:
        return {"code": d.code, "message": d.message, "file": d.file, "line": d.line, "col": d.col, "hint": d.hint}

    return json.dumps({
        **counts(results),
        "files": [{"file": f.file, "errors": [diag(d) for d in f.errors], "scenarios": [
            {"name": s.name, "passed": s.passed, "duration_s": round(s.duration_s, 3), "run_state": s.run_state,
             "states": s.states, "failures": [diag(d) for d in s.failures]} for s in f.scenarios]}
            for f in results],
    }, indent=2)


def junit(results: list[FileResult]) -> str:
    c = counts(results)
    total = c["passed"] + c["failed"] + c["invalid_files"]
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuites name="dagc test" tests="{total}" failures="{c["failed"]}" errors="{c["invalid_files"]}">']
    for f in results:
        n = len(f.scenarios) + (1 if f.errors else 0)
        fails = sum(1 for s in f.scenarios if not s.passed)
        t = sum(s.duration_s for s in f.scenarios)
        out.append(f'  <testsuite name={quoteattr(f.file)} tests="{n}" failures="{fails}" '
                   f'errors="{1 if f.errors else 0}" time="{t:.3f}">')
        if f.errors:
            text = "\n".join(f"{d.file}:{d.line}:{d.col}: {d.code}: {d.message}" for d in f.errors)
            out.append(f'    <testcase classname={quoteattr(f.file)} name="(scenario file)">'
                       f'<error message={quoteattr(f.errors[0].message)}>{escape(text)}</error></testcase>')
        for s in f.scenarios:
            out.append(f'    <testcase classname={quoteattr(f.file)} name={quoteattr(s.name)} time="{s.duration_s:.3f}">')
            for d in s.failures:
                out.append(f'      <failure message={quoteattr(d.message)}>'
                           f'{escape(f"{d.file}:{d.line}:{d.col}: {d.code}: {d.message}" + (f" (hint: {d.hint})" if d.hint else ""))}'
                           '</failure>')
            out.append("    </testcase>")
        out.append("  </testsuite>")
    out.append("</testsuites>")
    return "\n".join(out) + "\n"
