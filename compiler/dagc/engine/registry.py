"""The local model registry: the ModelRegistry protocol steps use, persisted under the state dir.

Models are joblib files (`<state>/models/<NAME>/<VERSION>/model.joblib`) and their versions,
metrics, lineage and the default version are rows in `<state>/models/registry.db` (SQLite, WAL),
so parallel tasks and concurrent runs can log versions safely. It mirrors what pipelines rely on
in Snowflake's registry: versions are named V1, V2, ... in order; the first version logged
becomes the default; the default version cannot be deleted. Usable outside a run
(`dagc models` opens it with just a state directory).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from dagc.diagnostics import DagcError
from dagc.runtime.context import ModelVersionInfo

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS models (name TEXT PRIMARY KEY, default_version TEXT)",
    "CREATE TABLE IF NOT EXISTS model_versions (name TEXT NOT NULL, version TEXT NOT NULL, seq INTEGER NOT NULL,"
    " created_at REAL NOT NULL, metrics_json TEXT NOT NULL, lineage_json TEXT NOT NULL, path TEXT NOT NULL,"
    " PRIMARY KEY (name, version))",
]


def _norm(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise DagcError(f"model name {name!r} is empty")
    return name.strip().upper()  # Snowflake identifiers: case-insensitive, stored upper-case


class LocalModelRegistry:
    def __init__(self, state_dir: Path, *, default_lineage: Mapping[str, Any] | None = None) -> None:
        self.root = Path(state_dir) / "models"
        self.default_lineage = dict(default_lineage or {})
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.root / "registry.db", timeout=60, isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout = 60000")
            self.conn.execute("PRAGMA journal_mode = WAL")
            for stmt in SCHEMA:
                self.conn.execute(stmt)
        except (sqlite3.Error, OSError) as exc:
            raise DagcError(f"cannot open the local model registry in {self.root}: {exc}") from None

    def close(self) -> None:
        self.conn.close()

    def _tx(self) -> Any:
        from dagc.engine.state import immediate

        return immediate(self.conn)

    def log_model(self, name: str, model: Any, *, metrics: Mapping[str, float], lineage: Mapping[str, Any],
                  sample_input: Any = None) -> str:
        import joblib

        n = _norm(name)
        try:
            clean_metrics = {str(k): float(v) for k, v in dict(metrics).items()}
        except (TypeError, ValueError) as exc:
            raise DagcError(f"metrics of model {n} must be numbers: {exc}") from None
        full_lineage = {**self.default_lineage, **dict(lineage)}
        lineage_json = json.dumps(full_lineage, sort_keys=True, default=str)
        tmp_dir = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        try:
            joblib.dump(model, tmp_dir / "model.joblib")
            if sample_input is not None:
                with contextlib.suppress(Exception):
                    sample_input.head(5).to_json(tmp_dir / "sample_input.json", orient="records")
            with self._tx() as c:
                row = c.execute("SELECT COALESCE(MAX(seq), 0) FROM model_versions WHERE name=?", (n,)).fetchone()
                seq = int(row[0]) + 1
                version = f"V{seq}"
                target = self.root / n / version
                if target.exists():
                    shutil.rmtree(target)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp_dir, target)
                c.execute("INSERT INTO model_versions VALUES (?,?,?,?,?,?,?)",
                          (n, version, seq, time.time(), json.dumps(clean_metrics, sort_keys=True), lineage_json,
                           str(target / "model.joblib")))
                c.execute("INSERT INTO models (name, default_version) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET"
                          " default_version=COALESCE(models.default_version, excluded.default_version)", (n, version))
        finally:
            if tmp_dir.exists():
                shutil.rmtree(tmp_dir, ignore_errors=True)
        return version

    def _check(self, n: str, version: str) -> None:
        row = self.conn.execute("SELECT 1 FROM model_versions WHERE name=? AND version=?", (n, version)).fetchone()
        if row is None:
            have = [v.version for v in self.versions(n)]
            raise DagcError(f"model {n} has no version {version!r}",
                            f"versions: {', '.join(have)}" if have else f"no versions of {n} are registered")

    def set_default(self, name: str, version: str) -> None:
        n = _norm(name)
        version = version.upper()
        self._check(n, version)
        with self._tx() as c:
            c.execute("UPDATE models SET default_version=? WHERE name=?", (version, n))

    def get_default(self, name: str) -> str | None:
        row = self.conn.execute("SELECT default_version FROM models WHERE name=?", (_norm(name),)).fetchone()
        return row[0] if row else None

    def load(self, name: str, version: str | None = None) -> Any:
        import joblib

        n = _norm(name)
        v = version.upper() if version else self.get_default(n)
        if v is None:
            raise DagcError(f"model {n} has no default version", "log a version first, or name one")
        self._check(n, v)
        (path,) = self.conn.execute("SELECT path FROM model_versions WHERE name=? AND version=?", (n, v)).fetchone()
        return joblib.load(path)

    def versions(self, name: str) -> list[ModelVersionInfo]:
        n = _norm(name)
        default = self.get_default(n)
        rows = self.conn.execute("SELECT version, created_at, metrics_json, lineage_json FROM model_versions"
                                 " WHERE name=? ORDER BY seq", (n,)).fetchall()
        return [ModelVersionInfo(name=n, version=v, created_at=datetime.fromtimestamp(t, tz=timezone.utc),
                                 metrics=json.loads(m), lineage=json.loads(lin), is_default=(v == default))
                for v, t, m, lin in rows]

    def delete_version(self, name: str, version: str) -> None:
        n = _norm(name)
        version = version.upper()
        self._check(n, version)
        if self.get_default(n) == version:
            raise DagcError(f"version {version} is the default version of model {n} and cannot be deleted",
                            "set another default version first")
        with self._tx() as c:
            (path,) = c.execute("SELECT path FROM model_versions WHERE name=? AND version=?", (n, version)).fetchone()
            c.execute("DELETE FROM model_versions WHERE name=? AND version=?", (n, version))
        shutil.rmtree(Path(path).parent, ignore_errors=True)

    def models(self) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT DISTINCT name FROM model_versions ORDER BY name").fetchall()]
