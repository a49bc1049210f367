"""What runs inside a task, on Snowflake and on the local engine alike.

Kept free of heavy imports: a deployed task and a local worker both import this first, and the
validator reads step signatures statically without importing it at all.
"""

from dagc.runtime.context import StepContext
from dagc.runtime.steps import STEP_ATTR, step

__all__ = ["StepContext", "step", "STEP_ATTR"]
