"""Finding a step function at run time, and the one error a task raises when a step cannot run.

Its own module so that both task bodies (the task procedure, `dagc.runtime.snowflake`, and the ML
Job entry point, `dagc.snowflake.mljob`) import it without importing each other.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Callable

from dagc.runtime.steps import STEP_ATTR


class StepFailure(RuntimeError):
    """A step cannot run or its result cannot travel; the message says what to do."""


def resolve_step(step: str, module: str | None = None, package: str = "steps") -> Callable[..., Any]:
    """Import the module that defines `step` (or search the steps package) and return the function."""
    modules = [module] if module else None
    if modules is None:
        pkg = importlib.import_module(package)
        modules = [package] + [m.name for m in pkgutil.walk_packages(pkg.__path__, package + ".")]
    for name in modules:
        mod = importlib.import_module(name)
        for value in vars(mod).values():
            if callable(value) and getattr(value, STEP_ATTR, None) == step:
                return value  # type: ignore[no-any-return]
    raise StepFailure(
        f"step {step!r} is not defined in {module or package}; was the bundle uploaded with this deploy? "
        "Run `dagc plan` to see what would be uploaded"
    )
