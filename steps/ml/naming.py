"""Table names the steps create, derived from the run so the finalizer knows what to drop.

Per-run scratch tables are `TMP_<PIPELINE>_<yyyymmddHHMMSS>_<hash of run id>_<WHAT>`: the prefix
is unique per run (the run id is stable across a retry, so a retried task finds its inputs), and
the embedded time lets a finalizer also drop scratch left behind by runs whose finalizer never ran.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta

_NON_IDENT = re.compile(r"[^A-Za-z0-9_]")
_TMP = re.compile(r"^TMP_([A-Z0-9_]+?)_(\d{14})_([0-9A-F]{8})_")


def identifier(text: str) -> str:
    """An unquoted Snowflake identifier: upper case, [A-Z0-9_], not starting with a digit."""
    out = _NON_IDENT.sub("_", str(text)).upper().strip("_") or "X"
    return out if not out[0].isdigit() else f"_{out}"


def run_prefix(pipeline: str, run_id: str, scheduled_at: datetime) -> str:
    digest = hashlib.sha1(str(run_id).encode()).hexdigest()[:8].upper()
    return f"TMP_{identifier(pipeline)}_{scheduled_at:%Y%m%d%H%M%S}_{digest}_"


def stale(name: str, pipeline: str, now: datetime, older_than: timedelta) -> bool:
    """True for a scratch table of `pipeline` whose run is older than `older_than`."""
    m = _TMP.match(name.upper())
    if not m or m.group(1) != identifier(pipeline):
        return False
    started = datetime.strptime(m.group(2), "%Y%m%d%H%M%S")
    return now.replace(tzinfo=None) - started > older_than


def dataset_version(run_id: str) -> str:
    """A dataset version named after the run that built it, e.g. D20261121T185516Z_0CBA42."""
    return "D" + _NON_IDENT.sub("_", str(run_id)).upper()


def dataset_table(model_name: str, version: str) -> str:
    return f"{identifier(model_name)}_DATASET_{version}"


def dataset_catalog(model_name: str) -> str:
    return f"{identifier(model_name)}_DATASETS"
