"""Where a pipeline's project lives: the folder whose `steps/` package defines its steps."""

from __future__ import annotations

from pathlib import Path


def find_project_root(path: str | Path) -> Path:
    """The nearest ancestor of `path` holding a `steps/` folder; the working directory otherwise.

    Projects keep `pipelines/` and `steps/` side by side, so a pipeline anywhere below the
    project finds its steps without configuration.
    """
    start = Path(path).resolve()
    for folder in ([start] if start.is_dir() else []) + list(start.parents):
        if (folder / "steps").is_dir():
            return folder
    return Path.cwd()
