"""The project's step functions. A step is `@step def name(ctx, **params)`; see docs/steps.md.

dagc finds steps by reading these files statically (no import at validation time), and the
runtime imports only the module that defines the step a task runs.
"""

from dagc.runtime import StepContext, step

__all__ = ["StepContext", "step"]
