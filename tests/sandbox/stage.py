"""The stand-in account's stages, and the session `dagc deploy` uploads through (the step bundle
with `upload_bundle`, ML Job payloads with `upload_payloads`).

Files go through Snowpark's own PUT (`session.file.put` / `put_stream` of a local-testing
session: its glob expansion, its `auto_compress`, its stage registry on disk), so a deploy's
uploads land where a real PUT would put them. snowflake.ml.jobs' `JobPayload.upload` also runs
two statements that local testing cannot (`DESCRIBE STAGE` through `_conn.run_query`, and the
`LIST` dagc uses to skip a staged payload); `DeploySession` answers those from the same stage
registry. An ML Job mounts its stage directory read from that registry (`directory`).
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any


def split(location: str) -> tuple[str, str]:
    """`@DB.SC.STAGE/a/b` -> ("DB.SC.STAGE", "a/b"), the name as written: that is how Snowpark's
    local testing keys its stages (dagc writes stage names upper case)."""
    text = location.strip().strip("'").lstrip("@")
    name, _, prefix = text.partition("/")
    return name, prefix.strip("/")


class Stages:
    """The account's stages: one Snowpark local-testing session holds their files."""

    def __init__(self, *names: str) -> None:
        from snowflake.snowpark import Session

        self.session = Session.builder.config("local_testing", True).create()
        self.names: set[str] = set()
        for n in names:
            self.create(n)

    def create(self, name: str) -> None:
        """CREATE STAGE IF NOT EXISTS."""
        stage, _ = split(name)
        if stage not in self.names:
            self.names.add(stage)
            self.session._conn.stage_registry.create_or_replace_stage(stage)

    def file(self, location: str) -> Path | None:
        """The staged file at `location`, or None."""
        try:
            f = self.directory(location)
        except FileNotFoundError:
            return None
        return f if f.is_file() else None

    def directory(self, location: str) -> Path:
        """Where a stage path's files are (what an ML Job mounts at /mnt/job_stage)."""
        stage, prefix = split(location)
        if stage not in self.names:
            raise FileNotFoundError(f"Stage '{stage}' does not exist or not authorized.")
        root = Path(self.session._conn.stage_registry[stage]._working_directory)
        return root / prefix if prefix else root

    def listing(self, location: str) -> list[str]:
        d = self.directory(location)
        if not d.is_dir():
            raise FileNotFoundError(f"nothing is staged at {location}")
        stage, _ = split(location)
        base = self.directory("@" + stage)
        return sorted(f"{stage.split('.')[-1].lower()}/{p.relative_to(base).as_posix()}" for p in d.rglob("*") if p.is_file())


class StageError(Exception):
    """What Snowflake answers for a missing stage or path (a SnowparkSQLException in the client)."""


class DeploySession:
    """The session a deploy's uploads use: Snowpark's PUT, plus DESCRIBE STAGE and LIST."""

    def __init__(self, stages: Stages) -> None:
        self.stages = stages
        self.file = stages.session.file  # Snowpark's own PUT implementation
        self.statements: list[str] = []
        self._conn = SimpleNamespace(run_query=self._run_query, _cursor=SimpleNamespace(description=[]))

    def _run_query(self, query: str, params: Any = None, **_: Any) -> dict[str, Any]:
        from snowflake.snowpark.exceptions import SnowparkSQLException

        self.statements.append(query)
        q = query.strip().lower()
        if q.startswith("describe stage identifier(?)"):
            if split(str(params[0]))[0] not in self.stages.names:
                raise SnowparkSQLException(f"Stage '{params[0]}' does not exist or not authorized.")
            return {"data": []}
        if q.startswith("create stage if not exists identifier(?)"):
            self.stages.create(str(params[0]))
            return {"data": []}
        raise SnowparkSQLException(f"the sandbox's deploy session does not run {query!r}")

    def sql(self, query: str, params: Any = None) -> Any:
        self.statements.append(query)
        m = re.match(r"^\s*list\s+(\S+)\s*$", query, re.I)
        if not m:
            raise StageError(f"the sandbox's deploy session does not run {query!r}")
        try:
            rows = [(name,) for name in self.stages.listing(m.group(1))]
        except FileNotFoundError as exc:
            raise StageError(str(exc)) from None
        return SimpleNamespace(collect=lambda: rows)
