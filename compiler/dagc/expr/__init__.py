"""dagc's condition language (`if:`): grammar, parser, checker, SQL emitter, local evaluator.

grammar.py is the one definition; parser.py turns text into a tree (ast.py) with spans; check.py
types it and refuses what cannot work; sql.py compiles it into the task's WHEN; evaluate.py runs
it in the local engine with the same semantics. Nothing here imports Snowflake libraries.
"""

from dagc.expr.check import Facts, Scope, check_text
from dagc.expr.evaluate import Runtime, evaluate
from dagc.expr.parser import ExprError, parse
from dagc.expr.sql import to_sql

__all__ = ["ExprError", "Facts", "Runtime", "Scope", "check_text", "evaluate", "parse", "to_sql"]
