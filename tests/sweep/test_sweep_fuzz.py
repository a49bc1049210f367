"""Fuzz: thousands of mutated versions of the shipped pipelines. Every input ends in a pipeline or a
clean diagnostic (code, position, message) - never an exception, never a hang.

Also checks, on every input that gets as far as the schema, that the fast schema check never calls
valid what jsonschema rejects.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
from collections import Counter
from pathlib import Path

import pytest
import yaml

from dagc import render
from dagc.diagnostics import Severity
from dagc.emit.manifest import build_manifest, dumps
from dagc.frontend import check_file

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [ROOT / "pipelines" / "training.yaml", ROOT / "pipelines" / "inference.yaml"]
N_INPUTS = int(os.environ.get("DAGC_FUZZ_INPUTS", "2000"))
FIGURES = Path(os.environ.get("DAGC_FUZZ_REPORT", "")) if os.environ.get("DAGC_FUZZ_REPORT") else None

SNIPPETS = [":", "-", " - ", "{", "}", "[", "]", ",", "&a ", "*a", "<<: *a", "!!python/object:os.system ", "!!binary ",
            "\t", "'", '"', "{{", "}}", "{{ vars.nope }}", "{{ ''.__class__ }}", "{% for x in vars %}", "%", "#",
            "\n", "\n---\n", "?", "|", ">", "é", "\u202e", "0x1F", "1e309", "-.inf", ".nan", "~", "null", "true",
            "2026-01-01", "$", "; DROP TABLE t; --", "a" * 300, "@", "\\", "\\u0000", "!", "&", "*", "==", "\ufeff"]
KEYS = ["name", "tasks", "after", "when", "step", "sql", "branch", "cases", "params", "finally", "config", "vars",
        "schedule", "cron", "timezone", "timeout", "warehouse", "serverless", "compute", "pool", "environments",
        "retries", "overlap", "defaults", "stage", "packages", "session_parameters"]
VALUES = [None, True, 0, -1, 10**20, 1.5, "", "x", "30m", "0 2 * * *", [], {}, ["a", "a"], {"a": 1}, "all_done",
          "none", "UTC", "Mars/Olympus", "{{ vars.rows }}", "load_source", "*/0 * * * *", "9d", "5s", "25h",
          {"pool": "P", "instances": 0}, {"size": "HUGE"}, [1, [2, [3]]], "a b; c"]


def _text_mutation(text: str, rng: random.Random) -> str | bytes:
    lines = text.splitlines(keepends=True)
    op = rng.randrange(9)
    if op == 0 and lines:  # delete a span of lines
        i = rng.randrange(len(lines))
        del lines[i:i + rng.randint(1, 4)]
    elif op == 1 and lines:  # duplicate a line (duplicate keys, repeated tasks)
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
    elif op == 2 and len(lines) > 1:  # swap two lines
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif op == 3 and lines:  # re-indent a line
        i = rng.randrange(len(lines))
        lines[i] = " " * rng.choice([0, 1, 3, 5, 8]) + lines[i].lstrip(" ")
    elif op == 4:  # insert a snippet anywhere
        pos = rng.randrange(len(text) + 1)
        return text[:pos] + rng.choice(SNIPPETS) + text[pos:]
    elif op == 5:  # replace an identifier with another one of the file
        words = re.findall(r"[A-Za-z_]+", text)
        if words:
            a, b = rng.choice(words), rng.choice(words + ["nope", "x" * 256])
            return re.sub(rf"\b{re.escape(a)}\b", b, text, count=rng.randint(1, 3))
    elif op == 6:  # truncate
        return text[: rng.randrange(len(text) + 1)]
    elif op == 7:  # raw bytes: invalid UTF-8, NULs
        raw = text.encode()
        pos = rng.randrange(len(raw) + 1)
        return raw[:pos] + rng.choice([b"\xff", b"\x00", b"\xc3", b"\xed\xa0\x80", b"\r", b"\x1b[31m"]) + raw[pos:]
    else:  # several snippets
        for _ in range(rng.randint(2, 5)):
            pos = rng.randrange(len(text) + 1)
            text = text[:pos] + rng.choice(SNIPPETS) + text[pos:]
        return text
    return "".join(lines)


def _walk_paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk_paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk_paths(v, path + (i,))


def _structural_mutation(doc: dict, rng: random.Random) -> str:
    paths = [p for p in _walk_paths(doc) if p]
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(paths)
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        op = rng.randrange(5)
        if op == 0 and isinstance(parent, dict):
            parent.pop(last, None)
        elif op == 1 and isinstance(parent, dict) and last in parent:
            parent[rng.choice(KEYS + [last + "x"])] = parent.pop(last)
        elif op == 2:
            try:
                parent[last] = rng.choice(VALUES)
            except (IndexError, KeyError, TypeError):
                pass
        elif op == 3 and isinstance(doc.get("tasks"), dict) and doc["tasks"]:  # random edges: cycles, self-loops
            names = list(doc["tasks"]) + ["ghost"]
            t = doc["tasks"][rng.choice(list(doc["tasks"]))]
            if isinstance(t, dict):
                t["after"] = rng.sample(names, k=min(len(names), rng.randint(1, 3)))
        elif isinstance(parent, dict):
            parent[rng.choice(KEYS)] = rng.choice(VALUES)
        paths = [p for p in _walk_paths(doc) if p] or [("name",)]
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def inputs(n: int, seed: int = 6):
    rng = random.Random(seed)
    texts = [p.read_text() for p in SEEDS]
    docs = [yaml.safe_load(t) for t in texts]
    for i in range(n):
        k = rng.randrange(len(texts))
        if i % 3 == 0:
            yield _structural_mutation(json.loads(json.dumps(docs[k])), rng)
        else:
            out: str | bytes = texts[k]
            for _ in range(rng.choice([1, 1, 1, 2, 3])):
                out = _text_mutation(out if isinstance(out, str) else out.decode("utf-8", "replace"), rng)
            yield out


class _Hang(Exception):
    pass


def _alarm(*_):
    raise _Hang()


def test_fuzz_mutated_pipelines(tmp_path):
    project = tmp_path / "proj"
    (project / "pipelines").mkdir(parents=True)
    (project / "steps").symlink_to(ROOT / "steps")
    path = project / "pipelines" / "fuzz.yaml"
    outcomes: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    fast_checked = 0
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        for i, data in enumerate(inputs(N_INPUTS)):
            if isinstance(data, bytes):
                path.write_bytes(data)
            else:
                path.write_text(data, encoding="utf-8", errors="surrogatepass")
            env = "prod" if i % 4 == 0 else None
            signal.alarm(10)  # a hang guard, not a timing assertion
            try:
                pipeline, diags = check_file(path, env)
                for fmt in ("text", "json", "github", "sarif"):
                    render.render(diags, fmt)
                if pipeline is not None:
                    dumps(build_manifest(pipeline))
            except _Hang:
                pytest.fail(f"input {i} hung:\n{data!r}"[:4000])
            except Exception as exc:  # noqa: BLE001 - the point: any exception is a bug
                (tmp_path / "crash.yaml").write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
                raise AssertionError(f"input {i} raised {type(exc).__name__}: {exc}\n{data!r}"[:4000]) from exc
            finally:
                signal.alarm(0)
            errors = [d for d in diags if d.severity is Severity.ERROR]
            if pipeline is None:
                assert errors, f"input {i}: no pipeline and no error"
            for d in diags:
                assert re.fullmatch(r"DAGC\d{3}", d.code) and d.message and d.line >= 0 and d.col >= 0, d
            outcomes["valid" if pipeline is not None else "invalid"] += 1
            codes.update({d.code for d in errors})
            fast_checked += _fast_agrees_with_jsonschema(data) if i % 5 == 0 else 0
    finally:
        signal.signal(signal.SIGALRM, old)
    total = sum(outcomes.values())
    summary = {"inputs": total, **outcomes, "distinct_codes": len(codes), "codes": dict(codes.most_common()),
               "fast_schema_cross_checked": fast_checked}
    print("\nfuzz:", json.dumps(summary))
    if FIGURES:
        FIGURES.write_text(json.dumps(summary, indent=2))
    assert total == N_INPUTS and outcomes["valid"] > 0 and outcomes["invalid"] > total // 3
    assert len(codes) >= 20  # the mutations reach most of the checks


def _fast_agrees_with_jsonschema(data: str | bytes) -> int:
    """If the fast check calls a document valid, jsonschema must agree (the reverse need not hold)."""
    from dagc.frontend import schema

    try:
        doc = yaml.safe_load(data)
    except Exception:  # noqa: BLE001
        return 0
    if not isinstance(doc, dict):
        return 0
    doc.pop("environments", None)
    if schema._fast_check()(doc):
        assert list(schema._validator().iter_errors(doc)) == [], doc
    return 1
