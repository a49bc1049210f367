"""Ship the step code and the dagc runtime to Snowflake as one staged zip.

Decision: stage a zip and pass it in the task procedures' `imports`, rather than pickling step
functions by value. Pickling by value drags in whatever a step's globals reference, breaks on
module-level state (clients, loaded models) and changes bytes with every cloudpickle release; a
zip of `steps/` plus the runtime part of `dagc` is what `import steps.training` needs, is the same
file locally and on Snowflake, and can be listed file by file in `dagc plan`.

The zip is deterministic (sorted entries, fixed timestamps), so its SHA-256 names it: the staged
path contains the hash, an unchanged project uploads nothing, and the hash goes into every Python
task's fingerprint so that a code change re-deploys the Python tasks and nothing else.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The parts of dagc a task needs at run time (no CLI, no front end, no emitter).
RUNTIME_FILES = (
    "dagc/__init__.py",
    "dagc/configcodec.py",
    "dagc/diagnostics.py",
    "dagc/ir.py",
    "dagc/runtime/__init__.py",
    "dagc/runtime/context.py",
    "dagc/runtime/returns.py",
    "dagc/runtime/steps.py",
    "dagc/runtime/secrets.py",
    "dagc/runtime/snowflake.py",
    "dagc/runtime/stepload.py",
    "dagc/snowflake/__init__.py",
    "dagc/snowflake/backend.py",
    "dagc/snowflake/mljob.py",
)
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)

# What dagc's own runtime imports inside a task procedure, by distribution (see runtime/snowflake.py:
# the runtime calls Snowflake's SYSTEM$ functions through Snowpark, so snowflake.core is not needed).
# Snowpark: every task (the session, tables). snowflake-ml-python: a `compute:` task submits its
# step as an ML Job (snowflake.ml.jobs).
RUNTIME_PACKAGES = ("snowflake-snowpark-python",)
COMPUTE_PACKAGES = ("snowflake-ml-python",)


def requirement_name(spec: str) -> str:
    """`xgboost==2.1.0` / `Snowflake_ML-Python>=1.29` -> the normalised distribution name (PEP 503)."""
    import re

    name = re.split(r"[\s<>=!~;\[(@]", spec.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def effective_packages(declared: "list[str] | tuple[str, ...]", *, compute: bool = False) -> list[str]:
    """The packages every Python task procedure gets: the pipeline's `packages:` as written, then
    what dagc's runtime needs and the pipeline did not declare (unpinned, so Snowflake's channel
    picks the version). Without this, Snowpark's registration adds `snowflake-snowpark-python==<the
    deploying machine's version>` on its own, which the manifest would not show."""
    out = list(declared)
    have = {requirement_name(p) for p in declared}
    for extra in RUNTIME_PACKAGES + (COMPUTE_PACKAGES if compute else ()):
        if extra not in have:
            out.append(extra)
            have.add(extra)
    return out


def pipeline_packages(pipeline: Any) -> list[str]:
    """`effective_packages` for an `ir.Pipeline` ([] for a pipeline of SQL tasks only)."""
    if not needs_bundle(pipeline):
        return list(pipeline.packages)
    compute = any(getattr(t, "compute", None) is not None for t in pipeline.all_tasks())
    return effective_packages(tuple(pipeline.packages), compute=compute)
_SKIP_PARTS = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}


@dataclass
class Bundle:
    data: bytes
    sha256: str
    files: list[tuple[str, int]] = field(default_factory=list)  # (path inside the zip, bytes)

    @property
    def name(self) -> str:
        return f"dagc_bundle_{self.sha256[:16]}.zip"

    def target(self, stage: str, pipeline: str) -> str:
        """Where the zip lives: `@DB.SCHEMA.STAGE/dagc/<pipeline>/dagc_bundle_<hash>.zip`."""
        return f"{stage.rstrip('/')}/dagc/{pipeline}/{self.name}"

    def describe(self, stage: str, pipeline: str, *, pending: bool = True) -> dict[str, Any]:
        return {
            "target": self.target(stage, pipeline),
            "files": len(self.files),
            "bytes": len(self.data),
            "sha256": f"sha256:{self.sha256}",
            "pending": pending,
            "contents": [{"path": p, "bytes": n} for p, n in self.files],
        }


def _dagc_root() -> Path:
    import dagc

    return Path(dagc.__file__).resolve().parent.parent


def build_bundle(project_root: Path, *, steps_dir: str = "steps") -> Bundle:
    """Zip `<project>/steps/**` (Python and data files) and dagc's runtime modules."""
    import hashlib
    import zipfile  # here, not at the top: `dagc validate` reads this module's package names only

    entries: list[tuple[str, bytes]] = []
    steps = project_root / steps_dir
    if steps.is_dir():
        for path in sorted(steps.rglob("*")):
            if path.is_file() and not (_SKIP_PARTS & set(path.parts)) and path.suffix not in (".pyc", ".pyo"):
                entries.append((path.relative_to(project_root).as_posix(), path.read_bytes()))
    base = _dagc_root()
    for rel in RUNTIME_FILES:
        path = base / rel
        if path.is_file():
            entries.append((rel, path.read_bytes()))
    entries.sort()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    data = buf.getvalue()
    return Bundle(data=data, sha256=hashlib.sha256(data).hexdigest(), files=[(n, len(d)) for n, d in entries])


def needs_bundle(pipeline: Any) -> bool:
    return any(t.kind.value != "sql" for t in pipeline.all_tasks())


def upload_bundle(session: Any, bundle: Bundle, stage: str, pipeline: str) -> bool:
    """PUT the zip unless a file with the same hash-derived name is already staged. True if uploaded."""
    target = bundle.target(stage, pipeline)
    directory = target.rsplit("/", 1)[0]
    try:
        listed = session.sql(f"LIST {directory}/").collect()
        if any(str(row[0]).endswith("/" + bundle.name) for row in listed):
            return False
    except Exception:  # noqa: BLE001 - a missing directory lists as an error on some stages
        pass
    session.file.put_stream(io.BytesIO(bundle.data), target, auto_compress=False, overwrite=True)
    return True
