"""Import names -> distribution names, and what a set of distributions brings along.

For DAGC407 (step_packages.py): a small table of well-known differences first, then the
distributions installed where `dagc validate` runs (read from their metadata directories with one
listing per sys.path entry: importlib.metadata's search costs more than the rest of validation),
else the import name itself. Dependencies come from installed METADATA, or, for common packages
that are not installed here (an isolated pre-commit environment has only dagc), a built-in table.
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache
from pathlib import Path

# import name -> distribution, where they differ (the common cases; installed metadata covers the rest)
KNOWN: dict[str, str] = {
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "PIL": "pillow",
    "cv2": "opencv-python",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "google.protobuf": "protobuf",
    "attr": "attrs",
    "jwt": "pyjwt",
    "OpenSSL": "pyopenssl",
    "Crypto": "pycryptodome",
    "snowflake.snowpark": "snowflake-snowpark-python",
    "snowflake.ml": "snowflake-ml-python",
    "snowflake.core": "snowflake-core",
    "snowflake.connector": "snowflake-connector-python",
    "snowflake.cortex": "snowflake-ml-python",
}
# what a Snowflake Python procedure has besides its packages and imports
NAMESPACES = frozenset({"snowflake", "google"})

def shown(name: str) -> str:
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] in NAMESPACES and len(parts) > 1 else parts[0]


def distributions(module: str) -> list[str]:
    parts = module.split(".")
    key2 = ".".join(parts[:2])
    if key2 in KNOWN:
        return [KNOWN[key2]]
    if parts[0] in KNOWN:
        return [KNOWN[parts[0]]]
    if parts[0] not in NAMESPACES and is_distribution(norm(parts[0])):
        return [norm(parts[0])]  # the usual case, without scanning every installed distribution
    installed = _installed_map().get(parts[0])
    if installed and parts[0] not in NAMESPACES:
        return sorted({norm(d) for d in installed})
    return [norm(key2 if parts[0] in NAMESPACES and len(parts) > 1 else parts[0])]


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@lru_cache(maxsize=1)
def _dist_index() -> dict[str, Path]:
    """Normalised distribution name -> its metadata directory, for every sys.path entry (one
    listing per directory: importlib.metadata's search costs more than the rest of validation)."""
    import os

    out: dict[str, Path] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for n in names:
            if n.endswith((".dist-info", ".egg-info")):
                dist = norm(n.rsplit(".", 1)[0].split("-")[0])
                out.setdefault(dist, Path(entry or ".") / n)
    return out


def is_distribution(name: str) -> bool:
    return name in _dist_index()


@lru_cache(maxsize=1)
def _installed_map() -> dict[str, list[str]]:
    try:
        from importlib.metadata import packages_distributions
    except ImportError:  # Python < 3.10
        return {}
    try:
        return dict(packages_distributions())
    except Exception:  # noqa: BLE001 - broken metadata of some installed package must not break validate
        return {}


# Dependencies of packages pipelines commonly declare, for when they are not installed where
# `dagc validate` runs (an isolated pre-commit environment has only dagc): what each brings along
# on Snowflake's channel, as far as step code imports it.
WELL_KNOWN_DEPS: dict[str, tuple[str, ...]] = {
    "pandas": ("numpy", "python-dateutil", "pytz", "tzdata"),
    "scikit-learn": ("numpy", "scipy", "joblib", "threadpoolctl"),
    "xgboost": ("numpy", "scipy"),
    "lightgbm": ("numpy", "scipy", "scikit-learn"),
    "scipy": ("numpy",),
    "snowflake-snowpark-python": ("snowflake-connector-python", "cloudpickle", "pyyaml", "typing-extensions",
                                  "protobuf", "python-dateutil", "tzlocal"),
    "snowflake-connector-python": ("requests", "urllib3", "certifi", "cryptography", "pyjwt", "pytz", "boto3",
                                   "botocore", "packaging", "platformdirs", "filelock", "sortedcontainers"),
    "snowflake-ml-python": ("numpy", "pandas", "pyarrow", "cloudpickle", "fsspec", "pyyaml", "packaging",
                            "pydantic", "snowflake-snowpark-python", "sqlparse", "typing-extensions", "jinja2"),
}


@lru_cache(maxsize=256)
def closure(declared: tuple[str, ...]) -> frozenset[str]:
    """The declared distributions and, as far as installed metadata tells, all they require."""
    seen: set[str] = set()
    todo = list(declared)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_requires(name) if is_distribution(name) else WELL_KNOWN_DEPS.get(name, ()))
    return frozenset(seen)


_REQUIRES = re.compile(r"^Requires-Dist:\s*([A-Za-z0-9][A-Za-z0-9._-]*)(.*)$", re.M)


@lru_cache(maxsize=1024)
def _requires(name: str) -> tuple[str, ...]:
    """A distribution's unconditional requirements (Requires-Dist without an extra), from its METADATA."""
    where = _dist_index().get(name)
    if where is None:
        return ()
    text = ""
    for f in ("METADATA", "PKG-INFO"):
        try:
            text = (where / f).read_text(encoding="utf-8", errors="replace")
            break
        except OSError:
            continue
    out = []
    for dep, rest in _REQUIRES.findall(text.split("\n\n", 1)[0]):  # the headers, not the long description
        if re.search(r"extra\s*==", rest):
            continue  # optional extras are not installed with the package itself
        out.append(norm(dep))
    return tuple(out)


