"""The local `Backend` behind StepContext: everything a step touches, under the state directory.

One instance per task attempt, created in the worker. Every part is created on first use, so a
step that never touches tables pays nothing for DuckDB, and only steps that ask for a Snowpark
session pay the ~2 s it takes to create one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagc.engine.notify import Notifier


class LocalBackend:
    def __init__(self, state_dir: Path, *, pipeline: str = "", task: str = "", run_id: str = "",
                 webhook_url: str | None = None, secrets: Any = ()) -> None:
        self.state_dir = Path(state_dir)
        self.secrets = tuple(secrets or ())
        self.pipeline, self.task, self.run_id = pipeline, task, run_id
        self.webhook_url = webhook_url
        self._tables: Any = None
        self._session: Any = None
        self._models: Any = None

    @classmethod
    def from_job(cls, job: dict[str, Any]) -> "LocalBackend":
        return cls(Path(job["state_dir"]), pipeline=job["pipeline"], task=job["task"], run_id=job["run_id"],
                   webhook_url=job.get("webhook_url"), secrets=job.get("secrets") or ())

    def tables(self) -> Any:
        if self._tables is None:
            from dagc.engine.tables import DuckTables

            self._tables = DuckTables(self.state_dir)
        return self._tables

    def session(self) -> Any:
        if self._session is None:
            from dagc.engine.session import SyncedSession

            self._session = SyncedSession(self.tables())
        return self._session.session

    def models(self) -> Any:
        if self._models is None:
            from dagc.engine.registry import LocalModelRegistry

            self._models = LocalModelRegistry(self.state_dir, default_lineage={
                "pipeline": self.pipeline, "task": self.task, "run_id": self.run_id})
        return self._models

    def notify(self, subject: str, message: str, *, integration: str | None = None,
               recipients: "str | list[str] | None" = None) -> None:
        from dagc.runtime.context import MAX_SUBJECT, recipient_list

        to = recipient_list(recipients)  # recorded as Snowflake would send them (see SnowflakeBackend.notify)
        Notifier(self.state_dir, webhook_url=self.webhook_url, secrets=self.secrets).send(
            subject[:MAX_SUBJECT] if to else subject, message, integration=integration, recipients=to,
            pipeline=self.pipeline, task=self.task, run_id=self.run_id)

    def close(self, persist: bool = True) -> None:
        """End of the step: write tables the Snowpark session saved back to DuckDB, release files."""
        try:
            if self._session is not None:
                if persist:
                    self._session.persist()
                self._session.close()
        finally:
            self._session = None
            if self._models is not None:
                self._models.close()
                self._models = None
            if self._tables is not None:
                from dagc.engine.tables import release

                release(self.state_dir)
            self._tables = None
