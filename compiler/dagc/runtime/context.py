"""The object a step receives as its first argument, identical on Snowflake and locally.

A step never names Snowflake objects by their upper-case deployed names and never parses return
values or config by hand: the context hands it decoded data by YAML names. Everything that
differs between targets (where tables live, how models are stored, how alerts are sent, where the
Snowpark session comes from) sits behind a `Backend`, which the Snowflake runtime
(`dagc.runtime.snowflake`) and the local engine (`dagc.engine`) each implement.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Protocol

if TYPE_CHECKING:  # heavy imports only for type checkers
    import pandas as pd


class InputError(KeyError):
    """`ctx.inputs[name]` for a task that is not an ancestor: says which ones are."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0])


class Inputs(Mapping[str, Any]):
    """Return values of a task's ancestors by YAML name, decoded, read when first asked for.

    Snowflake returns an ancestor's value when no direct predecessor has the name
    (SYSTEM$GET_PREDECESSOR_RETURN_VALUE), so a step can read a grandparent without an extra
    `after:` edge; on Snowflake each value is one call, made only if the step reads it.
    """

    def __init__(self, task: str, names: "list[str] | tuple[str, ...]", load: "Callable[[str], Any]") -> None:
        self._task = task
        self._names = list(dict.fromkeys(names))
        self._load = load
        self._cache: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._names:
            known = ", ".join(self._names) if self._names else "none (it runs first)"
            raise InputError(f"ctx.inputs[{name!r}]: {name!r} is not an ancestor of task {self._task!r}; "
                             f"its ancestors are: {known}")
        if name not in self._cache:
            self._cache[name] = self._load(name)
        return self._cache[name]

    def __iter__(self) -> "Iterator[str]":
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"Inputs({self._task!r}: {', '.join(self._names)})"


@dataclass(frozen=True)
class ModelVersionInfo:
    name: str
    version: str
    created_at: datetime
    metrics: Mapping[str, float]
    lineage: Mapping[str, Any]  # dataset version, run id, pipeline, ...
    is_default: bool


class Tables(Protocol):
    """Tables by unqualified name, in the pipeline's database and schema (or the local warehouse)."""

    def read(self, name: str) -> "pd.DataFrame": ...
    def write(self, name: str, df: "pd.DataFrame", *, mode: str = "overwrite") -> int: ...  # "overwrite" | "append"; returns rows written
    def exists(self, name: str) -> bool: ...
    def drop(self, name: str) -> None: ...
    def list(self, prefix: str = "") -> list[str]: ...
    def sql(self, query: str) -> "pd.DataFrame | None": ...  # Snowflake SQL; a result set or None
    # Set-based work in Snowflake SQL, run where the data lives (DuckDB locally, the warehouse on Snowflake):
    def create_table_as(self, name: str, select_sql: str) -> int: ...  # CREATE OR REPLACE TABLE AS; row count
    def query(self, select_sql: str) -> "pd.DataFrame": ...  # a small result (summaries)
    def read_batches(self, select_sql: str, batch_rows: int = 500_000) -> "Iterator[pd.DataFrame]": ...


class ModelRegistry(Protocol):
    """The subset of Snowflake's model registry that pipelines need, the same on both targets."""

    def log_model(
        self,
        name: str,
        model: Any,
        *,
        metrics: Mapping[str, float],
        lineage: Mapping[str, Any],
        sample_input: "pd.DataFrame | None" = None,
    ) -> str: ...  # returns the new version name
    def set_default(self, name: str, version: str) -> None: ...
    def get_default(self, name: str) -> str | None: ...
    def load(self, name: str, version: str | None = None) -> Any: ...  # None = the default version
    def versions(self, name: str) -> list[ModelVersionInfo]: ...  # oldest first
    def delete_version(self, name: str, version: str) -> None: ...  # refuses the default version
    def models(self) -> list[str]: ...


class Backend(Protocol):
    def session(self) -> Any: ...  # a Snowpark Session (local testing mode on the local engine)
    def tables(self) -> Tables: ...
    def models(self) -> ModelRegistry: ...
    def notify(self, subject: str, message: str, *, integration: str | None = None,
               recipients: "str | list[str] | None" = None) -> None: ...


MAX_SUBJECT = 256  # EMAIL_INTEGRATION_CONFIG: "The subject cannot exceed 256 characters"

def recipient_list(recipients: "str | list[str] | tuple[str, ...] | None") -> list[str]:
    """`"a@x.com, b@y.com"` or a list -> addresses (a config value is often one comma-separated string)."""
    if recipients is None:
        return []
    items = recipients.split(",") if isinstance(recipients, str) else [str(r) for r in recipients]
    return [r.strip() for r in items if r and r.strip()]


@dataclass
class StepContext:
    pipeline: str  # YAML name of the pipeline
    task: str  # YAML name of the running task
    run_id: str  # stable across a retry of the same run
    scheduled_at: datetime  # the run's original scheduled time (UTC), stable across a retry
    config: Mapping[str, Any]  # decoded, nested graph config
    params: Mapping[str, Any]  # this task's params (also passed as keyword arguments)
    inputs: Mapping[str, Any]  # decoded return values of ancestors by YAML task name (Inputs: lazy, clear errors)
    backend: Backend
    environment: str | None = None
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("dagc.step"))
    # how `secret()` reads a value: the task procedure's granted SECRETs on Snowflake, else the environment
    secret_reader: Callable[[str], str] | None = field(default=None, repr=False)
    # the date this run stands for: a backfill's date (`dagc backfill`), else scheduled_at. Steps
    # that cut data "as of" a date use this, so a backfill rebuilds history on both targets.
    logical_date: datetime | None = None

    def __post_init__(self) -> None:
        if self.logical_date is None:
            self.logical_date = self.scheduled_at

    @property
    def session(self) -> Any:
        return self.backend.session()

    @property
    def tables(self) -> Tables:
        return self.backend.tables()

    @property
    def models(self) -> ModelRegistry:
        return self.backend.models()

    def notify(self, subject: str, message: str, *, integration: str | None = None,
               recipients: "str | list[str] | None" = None) -> None:
        """Send an alert through the notification integration (locally: the notifications log).
        `recipients` (a list, or one comma-separated string) names the To: line and keeps the
        subject; without it an email integration sends to its DEFAULT_RECIPIENTS."""
        if recipients:
            self.backend.notify(subject, message, integration=integration, recipients=recipients)
        else:
            self.backend.notify(subject, message, integration=integration)

    def secret(self, name: str) -> str:
        """The secret `name`: on Snowflake the SECRET object granted to this task's procedure
        (see docs/snowflake.md, "Secrets"), locally the environment variable `name`."""
        from dagc.runtime.secrets import env_secret

        return (self.secret_reader or env_secret)(name)
