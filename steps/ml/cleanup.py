"""The finalizers' work: drop scratch tables, expire old model and dataset versions.

`expired_versions` and `expired_datasets` are pure decisions (tested directly); the functions
taking a ctx carry them out and collect failures instead of stopping at the first one, because
a finalizer that gives up half-way leaves exactly the mess it exists to remove.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence

from steps.ml import naming


def expired_versions(versions: Iterable[Any], cutoff: datetime) -> list[str]:
    """Versions created before `cutoff`, except the default one, whatever its age."""
    from steps.ml.runs import utc

    out = []
    for v in versions:
        if not v.is_default and utc(v.created_at) < utc(cutoff):
            out.append(v.version)
    return out


def expired_datasets(catalog: Any, cutoff: datetime, referenced: Sequence[str]) -> list[str]:
    """Dataset versions created before `cutoff` that no remaining model version references."""
    import pandas as pd

    if catalog is None or len(catalog) == 0:
        return []
    old = catalog[pd.to_datetime(catalog["created_at"]) < pd.Timestamp(cutoff)]
    return [str(v) for v in old["version"] if str(v) not in set(referenced)]


def drop_scratch(ctx: Any, stale_hours: float, errors: list[str]) -> list[str]:
    """Drop this run's TMP_ tables, and TMP_ tables of this pipeline older than `stale_hours`."""
    from steps.ml.runs import prefix, utc

    mine = prefix(ctx)
    now = utc(ctx.scheduled_at)
    dropped = []
    try:
        names = ctx.tables.list("TMP_")
    except Exception as exc:  # noqa: BLE001 - report, keep going
        errors.append(f"listing scratch tables failed: {exc}")
        return dropped
    for name in names:
        if name.upper().startswith(mine) or naming.stale(name, ctx.pipeline, now, timedelta(hours=stale_hours)):
            try:
                ctx.tables.drop(name)
                dropped.append(name)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"dropping {name} failed: {exc}")
    return dropped


def apply_retention(ctx: Any, retention_days: int, errors: list[str]) -> tuple[list[str], list[str]]:
    from steps.ml.runs import read, setting, utc

    if retention_days < 0:
        errors.append(f"retention_days must be >= 0, got {retention_days}")
        return [], []
    name = setting(ctx, "model_name")
    cutoff = utc(ctx.scheduled_at) - timedelta(days=retention_days)
    deleted: list[str] = []
    try:
        versions = ctx.models.versions(name)
        for version in expired_versions(versions, cutoff):
            try:
                ctx.models.delete_version(name, version)
                deleted.append(version)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"deleting model {name} {version} failed: {exc}")
        remaining = [v for v in ctx.models.versions(name)]
    except Exception as exc:  # noqa: BLE001
        errors.append(f"model retention failed: {exc}")
        return deleted, []
    referenced = [str(v.lineage.get("dataset_version")) for v in remaining if v.lineage.get("dataset_version")]
    catalog_name = naming.dataset_catalog(name)
    gone: list[str] = []
    try:
        if not ctx.tables.exists(catalog_name):
            return deleted, gone
        catalog = read(ctx, catalog_name)
        for version in expired_datasets(catalog, cutoff, referenced):
            table = str(catalog.loc[catalog["version"] == version, "table_name"].iloc[0])
            try:
                ctx.tables.drop(table)
                gone.append(version)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"dropping dataset {table} failed: {exc}")
        if gone:
            ctx.tables.write(catalog_name, catalog[~catalog["version"].isin(gone)])
    except Exception as exc:  # noqa: BLE001
        errors.append(f"dataset retention failed: {exc}")
    return deleted, gone
