"""Syntax tree of a condition. Every node keeps its span (0-based offsets into the source text),
so the checker can point at the exact characters inside the YAML string."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union


@dataclass(frozen=True)
class Literal:
    value: Any  # float | int | str | bool | None
    kind: str  # grammar.NUMBER | STRING | BOOL | NULL
    start: int
    end: int


@dataclass(frozen=True)
class PathPart:
    key: str | int
    start: int
    end: int


@dataclass(frozen=True)
class Call:
    fn: str
    arg: str
    arg_start: int
    arg_end: int
    path: tuple[PathPart, ...]
    start: int
    end: int


@dataclass(frozen=True)
class Config:
    path: tuple[PathPart, ...]
    start: int
    end: int


@dataclass(frozen=True)
class Name:
    """A bare name: never valid; kept so the checker can say what was probably meant."""

    name: str
    start: int
    end: int


@dataclass(frozen=True)
class Not:
    operand: "Node"
    start: int
    end: int


@dataclass(frozen=True)
class Logic:
    op: str  # "and" | "or"
    left: "Node"
    right: "Node"
    start: int
    end: int


@dataclass(frozen=True)
class Compare:
    op: str  # a key of grammar.COMPARISONS
    left: "Node"
    right: "Node"
    op_start: int
    start: int
    end: int


Node = Union[Literal, Call, Config, Name, Not, Logic, Compare]


def walk(node: Node):  # type: ignore[no-untyped-def]
    """Every node, parents first."""
    yield node
    for child in (getattr(node, "operand", None), getattr(node, "left", None), getattr(node, "right", None)):
        if child is not None:
            yield from walk(child)
