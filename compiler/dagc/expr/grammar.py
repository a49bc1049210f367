"""The condition language of `if:`: its one definition.

Everything that knows the language reads these tables: the parser (tokens, keywords, operators and
their precedence), the checker (what each function takes and returns, the task states), the SQL
emitter and the local evaluator (each function's meaning on each target), and the text of the
JSON Schema's and the reference's description (`describe()`; a test holds the schema to it).

    condition  := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := operand (("==" | "!=" | "<" | "<=" | ">" | ">=") operand)?
    operand    := literal | call path | "config" ("." NAME)+ | "(" condition ")"
    call       := "value" "(" TASK ")" | "state" "(" TASK ")" | "stream_has_data" "(" STRING ")"
    path       := ("." NAME | "[" INTEGER "]" | "[" STRING "]")*        (value(...) only)
    literal    := NUMBER | STRING | "true" | "false" | "null"

Comparisons do not chain (`a < b < c` is refused: write `a < b and b < c`). Strings are quoted with
'single' or "double" quotes (backslash escapes the quote and itself).
"""

from __future__ import annotations

from dataclasses import dataclass

# Types. "json" is a step's JSON return value and "text" a plain string (a SQL or branch task's
# return value, a config value read at run time): both are dynamic and take the type of what they
# are compared with, converted as Snowflake's TRY_TO_DOUBLE / TRY_TO_BOOLEAN / ::STRING would.
BOOL, NUMBER, STRING, STATE, JSON, TEXT, NULL = "bool", "number", "string", "state", "json", "text", "null"
DYNAMIC = frozenset({JSON, TEXT})

KEYWORDS = ("and", "or", "not", "true", "false", "null")
LOGIC = {"and": "AND", "or": "OR"}  # binary, and binds tighter than or
COMPARISONS = {"==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}  # dagc -> SQL
ORDERING = frozenset({"<", "<=", ">", ">="})
ORDERED_TYPES = frozenset({NUMBER, STRING})  # types `<` and friends compare

# What SYSTEM$TASK_COMPLETION_STATE returns (and what state(...) is compared with).
STATES = ("SUCCEEDED", "FAILED", "SKIPPED", "CANCELLED", "NOT_EXECUTED")

# Snowflake's TRY_TO_BOOLEAN spellings (case-insensitive); the local evaluator uses the same table.
TRUE_TEXT = frozenset({"true", "t", "yes", "y", "on", "1"})
FALSE_TEXT = frozenset({"false", "f", "no", "n", "off", "0"})


@dataclass(frozen=True)
class Function:
    name: str
    arg: str  # "task": a task name (bare); "string": a quoted string
    result: str  # a type above; value() is json for step tasks and text for sql/branch tasks
    sql: str  # the Snowflake function it compiles to
    doc: str
    takes_path: bool = False


FUNCTIONS: dict[str, Function] = {f.name: f for f in (
    Function("value", "task", JSON, "SYSTEM$GET_PREDECESSOR_RETURN_VALUE",
             "the return value of an ancestor task: a step's JSON (go into it with .key, [0], ['odd key']), "
             "or the plain string a sql or branch task returned", takes_path=True),
    Function("state", "task", STATE, "SYSTEM$TASK_COMPLETION_STATE",
             "how an ancestor task ended: " + ", ".join(repr(s) for s in STATES)),
    Function("stream_has_data", "string", BOOL, "SYSTEM$STREAM_HAS_DATA",
             "whether a stream (declared under `streams:`) has rows not yet consumed"),
)}
CONFIG = "config"  # config.a.b: the graph config value at that path (typed by the value in the file)
NAMES = tuple(FUNCTIONS) + (CONFIG,) + KEYWORDS  # everything a bare name may be


def describe() -> str:
    """The one-paragraph description of `if:` used by the JSON Schema (and the reference)."""
    funcs = "; ".join(f"{f.name}({'TASK' if f.arg == 'task' else chr(39) + 'NAME' + chr(39)}): {f.doc}"
                      for f in FUNCTIONS.values())
    return ("An additional condition, ANDed with `when` (and any branch condition): the task runs only if it is "
            "true, otherwise it is SKIPPED. A typed expression over " + funcs + "; config.PATH: a graph config "
            "value; literals (numbers, 'strings', true, false, null); comparisons " + " ".join(COMPARISONS)
            + "; and, or, not, parentheses. Tasks named must be ancestors. Compiles to the task's WHEN "
            "(e.g. value(score).rows > 0 -> TRY_TO_DOUBLE(PARSE_JSON(SYSTEM$GET_PREDECESSOR_RETURN_VALUE("
            "'G$SCORE'))['rows']::STRING) > 0).")


if __name__ == "__main__":  # print the schema description (paste it into pipeline.schema.json's `if`)
    print(describe())
