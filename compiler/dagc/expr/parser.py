"""A hand-written recursive-descent parser for the condition language (grammar.py): no eval.

`parse(text)` returns the tree or raises `ExprError` at the first syntax error, with the span of
the offending characters, so the front end can put a caret under them inside the YAML string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dagc.expr import grammar as g
from dagc.expr.ast import Call, Compare, Config, Literal, Logic, Name, Node, Not, PathPart

MAX_LENGTH = 4096  # a condition is one line of logic; this bounds the work on hostile input
MAX_DEPTH = 50


@dataclass
class ExprError(Exception):
    code: str
    message: str
    start: int
    end: int
    hint: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Token:
    kind: str  # "name" | "number" | "string" | "op" | "end"
    text: str
    value: object
    start: int
    end: int


_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|<|>|\(|\)|\.|\[|\]|,)
  | (?P<quote>['"])
""", re.X)
_MISTAKES = {"=": "use == to compare", "&&": "use `and`", "||": "use `or`", "!": "use `not` (or != to compare)",
             "<>": "use !="}


def tokenize(text: str) -> list[Token]:
    out: list[Token] = []
    i = 0
    while i < len(text):
        for bad, hint in _MISTAKES.items():  # common spellings from other languages
            if text.startswith(bad, i) and not any(text.startswith(ok, i) for ok in ("==", "!=")):
                raise ExprError("DAGC601", f"unexpected {bad!r}", i, i + len(bad), hint)
        m = _TOKEN.match(text, i)
        if not m:
            raise ExprError("DAGC601", f"unexpected character {text[i]!r}", i, i + 1,
                            "conditions use names, numbers, 'strings', comparisons, and/or/not and parentheses")
        kind = m.lastgroup
        if kind == "space":
            i = m.end()
            continue
        if kind == "quote":
            out.append(_string(text, i))
            i = out[-1].end
            continue
        word = m.group()
        if kind == "number":
            value: object = float(word) if any(c in word for c in ".eE") else int(word)
        else:
            value = word
        out.append(Token(kind or "", word, value, i, m.end()))
        i = m.end()
    out.append(Token("end", "", None, len(text), len(text)))
    return out


def _string(text: str, start: int) -> Token:
    quote = text[start]
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in (quote, "\\"):
            chars.append(text[i + 1])
            i += 2
            continue
        if c == quote:
            return Token("string", text[start:i + 1], "".join(chars), start, i + 1)
        chars.append(c)
        i += 1
    raise ExprError("DAGC601", "unterminated string", start, len(text), f"close it with {quote}")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def next(self) -> Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def at(self, kind: str, text: str | None = None) -> bool:
        t = self.tok
        return t.kind == kind and (text is None or t.text == text)

    def expect(self, text: str, what: str) -> Token:
        if not self.at("op", text):
            raise self.unexpected(f"expected {text!r} {what}")
        return self.next()

    def unexpected(self, message: str, hint: str | None = None) -> ExprError:
        t = self.tok
        found = "the end of the condition" if t.kind == "end" else repr(t.text)
        return ExprError("DAGC601", f"{message}, found {found}", t.start, max(t.end, t.start + 1), hint)

    # condition := or
    def condition(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError("DAGC601", f"condition nested deeper than {MAX_DEPTH} levels", self.tok.start,
                            self.tok.end + 1)
        node = self.logic("or")
        self.depth -= 1
        return node

    def logic(self, op: str) -> Node:
        sub = (lambda: self.logic("and")) if op == "or" else self.negation
        left = sub()
        while self.at("name", op):
            self.next()
            right = sub()
            left = Logic(op, left, right, left.start, right.end)
        return left

    def negation(self) -> Node:
        if self.at("name", "not"):
            t = self.next()
            operand = self.negation()
            return Not(operand, t.start, operand.end)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        if self.at("op") and self.tok.text in g.COMPARISONS:
            op = self.next()
            right = self.operand()
            node = Compare(op.text, left, right, op.start, left.start, right.end)
            if self.at("op") and self.tok.text in g.COMPARISONS:
                raise self.unexpected("comparisons do not chain", "write `a < b and b < c`")
            return node
        return left

    def operand(self) -> Node:
        t = self.tok
        if self.at("op", "("):
            self.next()
            inner = self.condition()
            close = self.expect(")", "to close the parenthesis")
            return _respan(inner, t.start, close.end)
        if t.kind == "number":
            self.next()
            return Literal(t.value, g.NUMBER, t.start, t.end)
        if t.kind == "string":
            self.next()
            return Literal(t.value, g.STRING, t.start, t.end)
        if t.kind == "name":
            if t.text in ("true", "false"):
                self.next()
                return Literal(t.text == "true", g.BOOL, t.start, t.end)
            if t.text == "null":
                self.next()
                return Literal(None, g.NULL, t.start, t.end)
            if t.text in ("and", "or", "not"):
                raise self.unexpected("expected a value")
            self.next()
            if t.text == g.CONFIG:
                return self.config(t)
            if self.at("op", "("):
                return self.call(t)
            return Name(t.text, t.start, t.end)
        raise self.unexpected("expected a value", "e.g. value(task).key, state(task), config.key, 0, 'text', true")

    def config(self, t: Token) -> Node:
        parts: list[PathPart] = []
        while self.at("op", "."):
            self.next()
            key = self.tok
            if key.kind != "name":
                raise self.unexpected("expected a config key after '.'")
            self.next()
            parts.append(PathPart(key.text, key.start, key.end))
        if not parts:
            raise self.unexpected("expected '.' and a key after config", "e.g. config.publish.enabled")
        return Config(tuple(parts), t.start, parts[-1].end)

    def call(self, fn: Token) -> Node:
        self.expect("(", "")
        arg = self.tok
        spec = g.FUNCTIONS.get(fn.text)
        if arg.kind not in ("name", "string"):
            raise self.unexpected(f"expected {'a task name' if spec is None or spec.arg == 'task' else 'a quoted name'}")
        self.next()
        close = self.expect(")", f"after the argument of {fn.text}()")
        path: list[PathPart] = []
        while self.at("op", ".") or self.at("op", "["):
            if self.next().text == ".":
                key = self.tok
                if key.kind != "name":
                    raise self.unexpected("expected a key after '.'", "quote odd keys: ['my key']")
                self.next()
                path.append(PathPart(key.text, key.start, key.end))
            else:
                key = self.tok
                if key.kind == "number" and isinstance(key.value, int) and key.value >= 0:
                    value: str | int = key.value
                elif key.kind == "string":
                    value = str(key.value)
                else:
                    raise self.unexpected("expected a list index or a quoted key inside [ ]")
                self.next()
                end = self.expect("]", "to close the index")
                path.append(PathPart(value, key.start, end.end))
        end_pos = path[-1].end if path else close.end
        if arg.kind == "string":
            return Call(fn.text, str(arg.value), arg.start, arg.end, tuple(path), fn.start, end_pos)
        return Call(fn.text, arg.text, arg.start, arg.end, tuple(path), fn.start, end_pos)


def _respan(node: Node, start: int, end: int) -> Node:
    from dataclasses import replace

    return replace(node, start=start, end=end)


def parse(text: str) -> Node:
    if len(text) > MAX_LENGTH:
        raise ExprError("DAGC601", f"condition is longer than {MAX_LENGTH} characters", MAX_LENGTH, len(text))
    if not text.strip():
        raise ExprError("DAGC601", "empty condition", 0, max(len(text), 1), "e.g. \"value(score).rows > 0\"")
    p = _Parser(text)
    node = p.condition()
    if not p.at("end"):
        raise p.unexpected("expected and/or or the end of the condition")
    return node
