"""One error type for the whole front end, and one for everything a user can get wrong later.

Every problem found while reading a pipeline is a `Diagnostic` (stable code, message, position,
hint); formatters in `dagc.render` turn a list of them into text, JSON, GitHub annotations or
SARIF. Errors outside the front end (no connection, a read-only state directory, a run that
cannot be retried) raise `DagcError`, which the CLI prints as one clean line with a hint and a
non-zero exit code instead of a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    code: str  # stable, e.g. "DAGC201"; documented in docs/diagnostics.md
    message: str
    file: str = ""
    line: int = 0  # 1-based; 0 = the whole file
    col: int = 0  # 1-based; 0 = the whole line
    hint: str | None = None
    severity: Severity = Severity.ERROR
    end_col: int = 0  # 1-based inclusive end of the underlined span, 0 = one caret

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line, self.col, self.code)


class DagcError(Exception):
    """A user-facing failure: printed as `error: message` + hint, exit `exit_code`, no traceback."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(DagcError):
    """Bad invocation: missing file, unknown flag value, empty directory (exit 2)."""

    exit_code = 2


@dataclass
class PipelineError(DagcError):
    """A pipeline failed validation; carries every diagnostic found, not only the first."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __post_init__(self) -> None:
        errors = [d for d in self.diagnostics if d.severity is Severity.ERROR]
        first = errors[0] if errors else None
        summary = f"{len(errors)} error(s)" + (f", first: {first.message}" if first else "")
        DagcError.__init__(self, f"invalid pipeline: {summary}")
