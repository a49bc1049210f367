"""The `@step` decorator.

It only marks a function; nothing is registered at import time. The validator finds steps by
reading `steps/**/*.py` statically (see `dagc.frontend.registry`), and the runtime imports the one module
that defines the step it needs. So a typo in one step module cannot break another task, and
validation never executes user code.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])
STEP_ATTR = "__dagc_step__"


@overload
def step(fn: F) -> F: ...
@overload
def step(*, name: str | None = None) -> Callable[[F], F]: ...


def step(fn: Any = None, *, name: str | None = None) -> Any:
    """Mark `fn(ctx, **params)` as a pipeline step, optionally under another name."""

    def mark(f: F) -> F:
        setattr(f, STEP_ATTR, name or f.__name__)
        return f

    return mark(fn) if fn is not None else mark
