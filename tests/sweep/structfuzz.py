"""Structure-aware fuzzing of pipelines: mutate the parsed YAML tree, not the bytes.

The byte- and template-level fuzzer (test_sweep_fuzz.py) mostly produces files that fail to
parse; this one keeps files well-formed and attacks the stages after parsing: types swapped,
keys deleted or duplicated, values nested deep, huge and non-finite numbers, odd unicode,
templated values (hostile ones included), references to other tasks, names that collide in
case or are too long. Each input is checked end to end (diagnostics in every format, and the
manifest when valid); an exception or a hang is a crash, named by a signature (exception type
and the innermost dagc frame) so that distinct bugs can be counted.

Used by tests/sweep/test_sweep_structfuzz.py (a small count) and bench/bench_fuzz.py (20,000).
"""

from __future__ import annotations

import copy
import json
import math
import random
import signal
import traceback
from pathlib import Path
from typing import Any, Iterator

import yaml

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [ROOT / "pipelines" / "training.yaml", ROOT / "pipelines" / "inference.yaml"]

_DUP = object()  # marks a mapping emitted as pairs (may hold duplicate keys)

SCALARS: list[Any] = [None, True, False, 0, -1, 1, 2**63, -(2**63) - 1, 10**38, 10**39, -(10**40), 1.5, -0.0, 1e308,
                      float("nan"), float("inf"), float("-inf"), "", " ", "x", "X" * 300, "UTC", "Mars/Olympus",
                      "A" * 300, "0 2 * * *", "*/0 * * * *", "61 * * * *", "30m", "25h", "9d", "-5s", "all_done",
                      "none", "all_succeeded", "select 1", "SELECT SYSTEM$GET_TASK_GRAPH_CONFIG('x')",
                      "a\u202eb", "\u0000", "nul\u0000in", "é", "日本", "\U0001F600", "\ufeff", "\x1b[2J", "[/]",
                      "[red]x[/red]", "\r\n", "\t", "'", '"', "\\", "$", "a$b", "@STAGE/x", "pkg==1.0", "'; DROP",
                      "9" * 39, "9" * 5000, "-.inf", ".nan"]
TEMPLATES = ["{{ vars.rows }}", "{{ vars.nope }}", "{{ environment }}", "{{ 1e400 }}", "{{ 10**39 }}",
             "{{ 'a'|center(10**9) }}", "{{ env_var('HOME') }}", "{{ env_var('DAGC_FUZZ_NOPE') }}",
             "{{ secret('DAGC_FUZZ_SECRET') }}", "{% for a in 'x'*500 %}{% for b in 'y'*500 %}{% endfor %}{% endfor %}",
             "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "{{ [1,2]|map('string') }}", "{{ env_var }}",
             "{{ ''.__class__ }}", "{{ (" * 40 + "1" + ")" * 40 + " }}", "{{ vars }}", "{{ [1, 2] }}",
             "{{ {'a': 1} }}", "{{ 9**9**9 }}", "{{ 'x' ~ vars.rows }}", "{% if %}", "{{ }}", "{{ 1/0 }}"]
KEYS = ["name", "tasks", "after", "when", "step", "sql", "branch", "cases", "params", "finally", "config", "vars",
        "schedule", "cron", "timezone", "timeout", "warehouse", "serverless", "compute", "pool", "environments",
        "retries", "overlap", "defaults", "stage", "packages", "session_parameters", "description", "imports",
        "error_integration", "instances", "size", "every"]


def _paths(node: Any, path: tuple = ()) -> Iterator[tuple]:
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, path + (i,))


def _get(doc: Any, path: tuple) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def _task_names(doc: dict) -> list[str]:
    out = []
    for section in ("tasks", "finally"):
        if isinstance(doc.get(section), dict):
            out += [str(k) for k in doc[section]]
    return out


def _value(rng: random.Random, doc: dict) -> Any:
    r = rng.random()
    if r < 0.45:
        return rng.choice(SCALARS)
    if r < 0.65:
        return rng.choice(TEMPLATES)
    if r < 0.8:
        names = _task_names(doc) or ["ghost"]
        return rng.choice([rng.choice(names), rng.sample(names, k=min(len(names), 3)) + ["ghost"],
                           {rng.choice(["pass", "fail", "x"]): rng.choice(names)}, [rng.choice(names)] * 2])
    if r < 0.9:
        return [rng.choice(SCALARS) for _ in range(rng.randint(0, 4))]
    return {rng.choice(KEYS): rng.choice(SCALARS) for _ in range(rng.randint(0, 3))}


def _nest(value: Any, rng: random.Random) -> Any:
    for _ in range(rng.choice([5, 30, 63, 64, 70, 120])):
        value = [value] if rng.random() < 0.5 else {"k": value}
    return value


def mutate(doc: dict, rng: random.Random) -> Any:
    """A mutated deep copy of `doc`; mappings that must carry duplicate keys become (_DUP, pairs)."""
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 4)):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = rng.choice(paths)
        parent, last = _get(doc, path[:-1]), path[-1]
        op = rng.randrange(11)
        try:
            if op == 0 and isinstance(parent, dict):  # delete a key
                parent.pop(last, None)
            elif op == 1:  # swap the type
                parent[last] = _value(rng, doc)
            elif op == 2 and isinstance(parent, dict):  # add a (known or unknown) key
                parent[rng.choice(KEYS + [str(last) + "x"])] = _value(rng, doc)
            elif op == 3:  # deep nesting
                parent[last] = _nest(parent[last], rng)
            elif op == 4:  # templated value
                parent[last] = rng.choice(TEMPLATES)
            elif op == 5 and isinstance(doc.get("tasks"), dict) and doc["tasks"]:  # references to other tasks
                t = doc["tasks"][rng.choice(list(doc["tasks"]))]
                if isinstance(t, dict):
                    names = _task_names(doc) + ["ghost", "GHOST"]
                    t["after"] = rng.sample(names, k=min(len(names), rng.randint(1, 4)))
            elif op == 6 and isinstance(parent, dict):  # rename: case collision, long, odd characters
                old = parent.pop(last)
                parent[rng.choice([str(last).upper(), str(last) * 40, str(last) + "$x", "é" + str(last), 1, True,
                                   str(last)[:1]])] = old
            elif op == 7:  # numbers at the edges
                parent[last] = rng.choice([10**38 - 1, 10**38, -(10**38), float("nan"), float("inf"), 2**1000,
                                           1e-320, 0.1 + 0.2, 10**4299])
            elif op == 8 and isinstance(parent, dict):  # duplicate a key (emitted as pairs)
                pairs = list(parent.items()) + [(last, _value(rng, doc))]
                grand = _get(doc, path[:-2]) if len(path) > 1 else None
                if grand is not None:
                    grand[path[-2]] = (_DUP, pairs)
                    break
            elif op == 9:  # unicode
                parent[last] = rng.choice(["\u202e" + str(parent[last]), str(parent[last]) + "\u0000",
                                           "\U0001F600" * 50, "\ufeff", "\x0c", "\x85"])
            elif isinstance(parent, list):  # duplicate a list item
                parent.append(copy.deepcopy(parent[last]))
        except (TypeError, KeyError, IndexError):
            pass
    return doc


def _scalar(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return ".nan"
        if math.isinf(v):
            return ".inf" if v > 0 else "-.inf"
        return repr(v)
    if isinstance(v, bool) or v is None or isinstance(v, int):
        return json.dumps(v)
    return json.dumps(str(v))  # a JSON string is a YAML double-quoted scalar


def emit(node: Any) -> str:
    """Flow-style YAML of a tree that may hold duplicate-key mappings and non-finite floats."""
    if isinstance(node, tuple) and len(node) == 2 and node[0] is _DUP:
        return "{" + ", ".join(f"{_scalar(k)}: {emit(v)}" for k, v in node[1]) + "}"
    if isinstance(node, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {emit(v)}" for k, v in node.items()) + "}"
    if isinstance(node, list):
        return "[" + ", ".join(emit(v) for v in node) + "]"
    return _scalar(node)


def to_text(doc: Any, rng: random.Random) -> str:
    """Block style (through PyYAML) when it can be, flow style otherwise or at random."""
    if rng.random() < 0.5:
        try:
            return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=10**6)
        except (yaml.YAMLError, TypeError, ValueError, RecursionError):
            pass
    return emit(doc) + "\n"


def inputs(n: int, seed: int = 15) -> Iterator[tuple[str, str | None]]:
    rng = random.Random(seed)
    docs = [yaml.safe_load(p.read_text()) for p in SEEDS]
    for i in range(n):
        doc = mutate(docs[i % len(docs)], rng)
        try:
            text = to_text(doc, rng)
        except RecursionError:  # nesting stacked by several mutations: deeper than the emitter goes
            text = "name: deep\ntasks: " + "[" * 3000 + "]" * 3000 + "\n"
        yield text, rng.choice([None, None, "prod", "dev", "nope"])


class Hang(Exception):
    pass


def _alarm(*_: Any) -> None:
    raise Hang()


def signature(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/dagc/" in f.filename.replace("\\", "/")]
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    return f"{type(exc).__name__} at {where}"


def check_one(path: Path, text: str, env: str | None, *, hang_s: int = 10) -> tuple[str, float]:
    """Check one input end to end; returns (outcome, seconds): 'valid', 'invalid', 'hang' or 'crash: <sig>'."""
    import time

    from dagc import render
    from dagc.diagnostics import Severity
    from dagc.emit.manifest import build_manifest, dumps
    from dagc.frontend import check_file

    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(hang_s)
    t0 = time.perf_counter()
    try:
        pipeline, diags = check_file(path, env, missing_secrets="warn")
        for fmt in ("text", "json", "github", "sarif"):
            render.render(diags, fmt)
        if pipeline is not None:
            manifest = dumps(build_manifest(pipeline))
            json.loads(manifest, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"manifest holds {c}")))
        errors = [d for d in diags if d.severity is Severity.ERROR]
        if pipeline is None and not errors:
            return "crash: no pipeline and no error", time.perf_counter() - t0
        for d in diags:
            if not (d.code.startswith("DAGC") and d.message and d.line >= 0 and d.col >= 0):
                return f"crash: malformed diagnostic {d.code}", time.perf_counter() - t0
        return ("valid" if pipeline is not None else "invalid"), time.perf_counter() - t0
    except Hang:
        return "hang", time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - the point: any exception is a bug
        return f"crash: {signature(exc)}", time.perf_counter() - t0
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def project(tmp: Path) -> Path:
    """A project beside the example's steps, so step checks run too."""
    (tmp / "pipelines").mkdir(parents=True, exist_ok=True)
    if not (tmp / "steps").exists():
        (tmp / "steps").symlink_to(ROOT / "steps")
    return tmp / "pipelines" / "fuzz.yaml"
