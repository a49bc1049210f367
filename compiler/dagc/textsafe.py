"""Text from steps, logs and pipelines, made safe to print on a terminal.

A step's error, return value or log line is data, not terminal commands: an ESC sequence could
clear the screen, set the window title or write the clipboard (OSC 52), a carriage return could
overwrite what a reviewer sees, and bidi overrides could reorder it. `printable` escapes every
such character visibly (`\\x1b`), and `clip` bounds length (a 5 MB error must not become 10 MB of
status output); the full text stays in the task's log. Rich markup is never parsed from this
text: the views build `rich.text.Text` objects from it (see engine/view.py).
"""

from __future__ import annotations

import re

MAX_ERROR_CHARS = 2000  # what status, run and reports show of an error; the log keeps all of it

# C0 controls but tab and newline, DEL, C1 controls, and the Unicode bidi/format controls
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb]")
_UNSAFE_LINE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def printable(text: object, *, newlines: bool = True) -> str:
    """`text` with control characters shown as escapes; newlines kept unless newlines=False."""
    s = text if isinstance(text, str) else str(text)
    return (_UNSAFE if newlines else _UNSAFE_LINE).sub(_escape, s)


def clip(text: str, limit: int = MAX_ERROR_CHARS, *, where: str = "the task log") -> str:
    """At most `limit` characters, saying how much was left out and where the rest is."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters in {where})"


def safe_error(text: str | None, limit: int = MAX_ERROR_CHARS) -> str:
    return printable(clip(text or "", limit))
