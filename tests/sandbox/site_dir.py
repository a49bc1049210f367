"""A directory holding only some distributions: what Snowflake installs for a procedure's PACKAGES.

Built from this venv's site-packages with importlib.metadata: each requested distribution and
its dependency closure (requirements without an `extra` marker, whose environment markers hold
here), linked file by file from each distribution's RECORD (a namespace such as `snowflake/` is
shared by several distributions, so linking whole top-level folders would bring in the others).
Anything else installed here is not importable from it.
"""

from __future__ import annotations

import os
import re
import shutil
from functools import lru_cache
from importlib import metadata
from pathlib import Path


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement(spec: str) -> str:
    return norm(re.split(r"[\s<>=!~;\[(@]", spec.strip(), maxsplit=1)[0])


def _applies(req: str) -> bool:
    if ";" not in req:
        return True
    marker = req.split(";", 1)[1]
    if re.search(r"extra\s*==", marker):
        return False
    try:
        from packaging.markers import Marker

        return Marker(marker).evaluate()
    except Exception:  # noqa: BLE001 - no packaging, or a marker it cannot read: keep the dependency
        return True


@lru_cache(maxsize=64)
def closure(names: tuple[str, ...]) -> tuple[str, ...]:
    """The distributions `names` need, as installed here (sorted); missing ones are left out."""
    seen: dict[str, None] = {}
    todo = [norm(n) for n in names]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        try:
            dist = metadata.distribution(n)
        except metadata.PackageNotFoundError:
            continue
        seen[n] = None
        for r in dist.requires or []:
            if _applies(r):
                todo.append(requirement(r))
    return tuple(sorted(seen))


@lru_cache(maxsize=1)
def _owners() -> dict[tuple[str, ...], frozenset[str]]:
    """Path prefix (1 or 2 parts) -> the installed distributions with files under it."""
    owners: dict[tuple[str, ...], set[str]] = {}
    for dist in metadata.distributions():
        name = norm(dist.metadata["Name"] or "")
        for f in dist.files or []:
            parts = Path(str(f)).parts
            if not parts or parts[0] == ".." or Path(str(f)).is_absolute():
                continue
            for depth in (1, 2):
                if len(parts) > depth:
                    owners.setdefault(parts[:depth], set()).add(name)
    return {k: frozenset(v) for k, v in owners.items()}


def _link(src: Path, dst: Path) -> None:
    if dst.exists() or dst.is_symlink() or not src.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(src, dst)
    except OSError:
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)


def build(target: Path, packages: list[str]) -> list[str]:
    """Fill `target` with links to the files of `packages` and their dependencies. Returns the
    distributions it holds. A folder that only one installed distribution uses is linked whole; a
    shared one (a namespace such as snowflake/) is made here and filled entry by entry."""
    dists = closure(tuple(requirement(p) for p in packages))
    owners = _owners()
    target.mkdir(parents=True, exist_ok=True)
    for name in dists:
        dist = metadata.distribution(name)
        base = Path(dist.locate_file(""))
        done: set[tuple[str, ...]] = set()
        for f in dist.files or []:
            rel = Path(str(f))
            if rel.is_absolute() or ".." in rel.parts or "__pycache__" in rel.parts or rel.suffix == ".pyc":
                continue
            parts = rel.parts
            for depth in (1, 2):
                if len(parts) > depth and owners.get(parts[:depth]) == frozenset({name}):
                    if parts[:depth] not in done:
                        done.add(parts[:depth])
                        _link(base.joinpath(*parts[:depth]), target.joinpath(*parts[:depth]))
                    break
            else:
                _link(base / rel, target / rel)
    return list(dists)
