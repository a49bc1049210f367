"""Local notifications: SYSTEM$SEND_SNOWFLAKE_NOTIFICATION and ctx.notify land here.

Each notification is one JSON line in `<state dir>/notifications.jsonl`; when a webhook URL is
configured (DAGC_WEBHOOK_URL or `dagc run --webhook-url`) it is also POSTed there as JSON. As on
Snowflake, where delivery is asynchronous, a failed delivery does not fail the task: it is
recorded in the log entry (and printed to the task's log).
"""

from __future__ import annotations

import fcntl
import json
import sys
import time
from pathlib import Path
from typing import Any


class Notifier:
    """Writes notifications, with the running task's secrets masked in every form (file, webhook, stderr)."""

    job_secrets: tuple[str, ...] = ()  # set by the worker for the task it runs (Tables.sql() has no backend)

    def __init__(self, state_dir: Path, *, webhook_url: str | None = None, secrets: Any = ()) -> None:
        self.path = Path(state_dir) / "notifications.jsonl"
        self.webhook_url = webhook_url
        self.secrets = tuple(secrets or ()) + Notifier.job_secrets

    def send(self, subject: str, message: str, *, integration: str | None = None, **context: Any) -> dict[str, Any]:
        from dagc.redact import redact_data

        entry: dict[str, Any] = {
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "subject": subject,
            "message": message,
            "integration": integration,
            **{k: v for k, v in context.items() if v},
        }
        if self.secrets:
            entry = redact_data(entry, self.secrets)
            subject, message = entry["subject"], entry["message"]
        if self.webhook_url:
            entry["webhook"] = self._post(entry)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
        print(f"notification{' via ' + integration if integration else ''}: {subject}: {message}", file=sys.stderr)
        return entry

    def _post(self, entry: dict[str, Any]) -> str:
        import urllib.error
        import urllib.request

        body = json.dumps(entry).encode()
        req = urllib.request.Request(self.webhook_url or "", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return f"delivered ({resp.status})"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            print(f"warning: webhook delivery to {self.webhook_url} failed: {exc}", file=sys.stderr)
            return f"failed: {exc}"


def read_notifications(state_dir: Path) -> list[dict[str, Any]]:
    path = Path(state_dir) / "notifications.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
