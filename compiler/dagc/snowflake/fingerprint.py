"""What decides a Python task's behaviour, fingerprinted and carried in its comment.

Snowpark generates a Python task's SQL when it registers the procedure, so the deployed definition
cannot be compared with the desired one; the fingerprint in the comment (`[dagc:<16 hex>]`) can.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Callable, Iterable, Mapping

PYTHON_MARKER = "dagc:"
_MARKER_RE = re.compile(r"\s*\[dagc:([0-9a-f]{16})\]\s*$")


def task_spec(*, pipeline: str, environment: str | None, task: str, kind: str, step: str | None,
              params: Mapping[str, Any] | None, cases: Mapping[str, str] | None, after: Iterable[str],
              branch_after: Iterable[str], compute: Mapping[str, Any] | None, module: str | None,
              stage: str | None = None, timeout_ms: int | None = None, ancestors: Iterable[str] = (),
              branch_ancestors: Iterable[str] = ()) -> dict[str, Any]:
    """The facts a Python task's entry point needs at run time (bound into its definition).

    `stage` is kept only for compute-pool tasks: the ML Job uploads its payload there. `ancestors`
    are the ones beyond `after` (ctx.inputs reads them lazily); absent when there are none, so the
    spec of a task without them is what it always was."""
    extra: dict[str, Any] = {}
    if list(ancestors):
        extra = {"ancestors": list(ancestors), "branch_ancestors": list(branch_ancestors)}
    return {**extra,
        "pipeline": pipeline,
        "environment": environment,
        "task": task,
        "kind": kind,
        "step": step,
        "module": module,
        "params": dict(params or {}),
        "cases": dict(cases or {}),
        "after": list(after),
        "branch_after": list(branch_after),
        "compute": dict(compute) if compute else None,
        "stage": stage if compute else None,
        "timeout_ms": timeout_ms if compute else None,  # how long the task waits for its ML Job
    }


def spec_text(spec: Mapping[str, Any]) -> str:
    """The canonical JSON of a task spec: fingerprinted, and bound into the task's entry point."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)


def fingerprinter(graph: Mapping[str, Any], bundle_hash: str | None) -> Callable[[Mapping[str, Any]], str]:
    """`task_fingerprint` with the graph-level part serialised once (1000-task graphs)."""
    graph_key = json.dumps({
        "stage": graph.get("stage"),
        "packages": list(graph.get("packages") or ()),
        "imports": list(graph.get("imports") or ()),
        "bundle": bundle_hash,
    }, sort_keys=True, separators=(",", ":"), default=str)

    def fp(spec: Mapping[str, Any] | str) -> str:
        text = (spec if isinstance(spec, str) else spec_text(spec)) + "|" + graph_key
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    return fp


def task_fingerprint(spec: Mapping[str, Any], graph: Mapping[str, Any], bundle_hash: str | None) -> str:
    """16 hex digits covering everything that decides what a Python task runs."""
    return fingerprinter(graph, bundle_hash)(spec)


def marked_comment(comment: str | None, fingerprint: str) -> str:
    marker = f"[{PYTHON_MARKER}{fingerprint}]"
    return f"{comment} {marker}" if comment else marker


def split_comment(comment: str | None) -> tuple[str | None, str | None]:
    """(user comment, python fingerprint or None); a settings mark, if any, is removed too."""
    if not comment:
        return comment, None
    comment = _SETTINGS_RE.sub("", comment) or None
    if not comment:
        return None, None
    m = _MARKER_RE.search(comment)
    if not m:
        return comment, None
    return (comment[: m.start()] or None), m.group(1)


# -- settings a task listing does not show ------------------------------------------------------------
# SHOW TASKS (what one listing returns) has no columns for task parameters: session parameters,
# USER_TASK_TIMEOUT_MS, TASK_AUTO_RETRY_ATTEMPTS, SUSPEND_TASK_AFTER_NUM_FAILURES, the serverless
# size. Comparing them would cost one fetch per task (a no-op plan of an 11-task graph: 12 calls).
# Instead, deploy writes a short hash of the values it set into the comment, which the listing
# does show: `[dagc-s:<10 hex>]`. When the hash matches, the values are the desired ones.
LISTING_UNCERTAIN = ("session_parameters", "timeout_ms", "serverless_size", "retries", "suspend_after_failures")
_SETTINGS_RE = re.compile(r"\s*\[dagc-s:([0-9a-f]{10})\]\s*$")


def settings_fingerprint(settings: Mapping[str, Any]) -> str:
    """10 hex digits over the normalised values of the settings a listing does not carry."""
    text = json.dumps({k: settings.get(k) for k in LISTING_UNCERTAIN}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def with_settings_mark(comment: str | None, fingerprint: str) -> str:
    base = _SETTINGS_RE.sub("", comment or "")
    mark = f"[dagc-s:{fingerprint}]"
    return f"{base} {mark}" if base else mark


def settings_mark(comment: str | None) -> str | None:
    m = _SETTINGS_RE.search(comment or "")
    return m.group(1) if m else None

