"""dagc: declare Snowflake Task Graphs in YAML, validate them in CI, run them locally, deploy them.

A step author needs two names, `from dagc import StepContext, step`. They load on first use, so
`import dagc` (which every command does) stays as cheap as the validate path needs.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["StepContext", "step", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("StepContext", "step"):
        from dagc import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module 'dagc' has no attribute {name!r}")
