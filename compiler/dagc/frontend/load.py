"""Read a pipeline file into plain data plus the position of every key and value.

We build values from libyaml's event stream ourselves instead of calling `yaml.safe_load`,
because the stock loader (a) silently keeps the last of two duplicate keys, (b) expands aliases
without limit (a "billion laughs" document), (c) recurses once per nesting level, so 10,000
levels overflow the stack, and (d) forgets where each value came from. One pass over the events,
with an explicit stack, fixes all four and keeps every error pointing at a line and column.
"""

from __future__ import annotations

import os
import stat
from collections import ChainMap
from dataclasses import dataclass, field
from typing import Any

import yaml

from dagc.diagnostics import Diagnostic

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000  # after alias expansion

Path = tuple[Any, ...]

try:  # libyaml's C parser when present: several times faster than the pure-Python one
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader


@dataclass(frozen=True)
class Pos:
    line: int  # 1-based
    col: int  # 1-based
    end_col: int = 0
    file: str = ""  # set when the value came from another file (`include:`); "" = the document's own


@dataclass
class Document:
    """A loaded file: its data, the position of every value and key, and its text for snippets."""

    path: str
    text: str
    data: Any = None
    values: dict[Path, Pos] = field(default_factory=dict)  # where the value at a path starts
    keys: dict[Path, Pos] = field(default_factory=dict)  # where the key naming a path starts
    included: dict[str, str] = field(default_factory=dict)  # text of each `include:`d file (Pos.file), for carets

    def pos(self, path: Path, *, key: bool = False) -> Pos:
        """The best position for a path: its key or value, else the nearest enclosing one."""
        path = tuple(path)
        while True:
            table = (self.keys, self.values) if key else (self.values, self.keys)
            for t in table:
                if path in t:
                    return t[path]
            if not path:
                return Pos(1, 1)
            path = path[:-1]


def _diag(code: str, message: str, file: str, line: int, col: int, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code=code, message=message, file=file, line=line, col=col, hint=hint)


def _too_big(path: str) -> Diagnostic:
    return _diag("DAGC002", f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; a pipeline should be a few KB",
                 path, 1, 1, hint="keep large data in tables or stages and refer to it by name")


def read_text(path: str) -> tuple[str | None, list[Diagnostic]]:
    """Read a regular file as UTF-8 within the size limit; report bad bytes by line and column.

    Only regular files are read: a FIFO, a device, a socket or a terminal could block forever
    (a pipe that never closes) or never end (/dev/zero), which would stall a pre-commit hook.
    The check is made on the open descriptor (opened non-blocking, so opening a FIFO cannot
    wait for a writer), so a file swapped after a check cannot slip through.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        return None, [_diag("DAGC001", f"cannot read file: {_oserror(exc)}", path, 0, 0)]
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            return None, [_diag("DAGC001", "cannot read file: Is a directory", path, 0, 0,
                                hint="give the path of a pipeline .yaml file")]
        if not stat.S_ISREG(st.st_mode):
            return None, [_diag("DAGC013", f"not a regular file ({_kind(st.st_mode)}); only pipeline files are read",
                                path, 0, 0, hint="give the path of a .yaml file; pipes, devices and sockets are refused")]
        if st.st_size > MAX_FILE_BYTES:
            return None, [_too_big(path)]
        with os.fdopen(fd, "rb", closefd=False) as fh:
            # read(n) allocates n bytes up front: read what the file holds (+1 to notice growth)
            raw = fh.read(st.st_size + 1)
            if len(raw) > st.st_size:  # the file grew while read: read on, within the limit
                raw += fh.read(MAX_FILE_BYTES + 1 - len(raw))
    except OSError as exc:
        return None, [_diag("DAGC001", f"cannot read file: {_oserror(exc)}", path, 0, 0)]
    finally:
        os.close(fd)
    if len(raw) > MAX_FILE_BYTES:
        return None, [_too_big(path)]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        return None, [
            _diag("DAGC003", f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})", path, line, col,
                  hint="save the file as UTF-8")
        ]
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, []


def _oserror(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO or pipe"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory")):
        if test(mode):
            return name
    return "a special file"


DEPTH_HINT = "a pipeline needs only a few levels; flatten this value"


_LOADED: dict[tuple[str, str], tuple[Any, dict[Path, Pos], dict[Path, Pos], list[Diagnostic]]] = {}


def load(path: str, text: str) -> tuple[Document, list[Diagnostic]]:
    """The document of a file's text. `dagc validate` checks a file once per environment: the
    text is composed once and later calls get a private copy (400 environments took 54 s)."""
    cached = _LOADED.get((path, text))
    if cached is not None:
        data, values, keys, diags = cached
        return Document(path=path, text=text, data=_private(data), values=ChainMap({}, values),  # type: ignore[arg-type]
                        keys=ChainMap({}, keys)), list(diags)  # type: ignore[arg-type]
    doc, diags = _load(path, text)
    if len(_LOADED) >= 4:
        _LOADED.pop(next(iter(_LOADED)))
    _LOADED[(path, text)] = (_private(doc.data), dict(doc.values), dict(doc.keys), list(diags))
    return doc, diags


def _private(data: Any) -> Any:
    """A copy later stages may change; `environments:` is shared (the overlay only reads it, and
    copying 1000 environments for each of 1000 environment checks was quadratic)."""
    import copy

    if isinstance(data, dict) and "environments" in data:
        envs = data["environments"]
        out = copy.deepcopy({k: v for k, v in data.items() if k != "environments"})
        return {k: (envs if k == "environments" else out[k]) for k in data}
    return copy.deepcopy(data)


def _load(path: str, text: str) -> tuple[Document, list[Diagnostic]]:
    doc = Document(path=path, text=text)
    if not text.strip() or all(ln.strip().startswith("#") or not ln.strip() for ln in text.splitlines()):
        return doc, [_diag("DAGC004", "file is empty", path, 1, 1, hint="a pipeline needs at least `name:` and `tasks:`")]
    tabs = _tab_indentation(path, text)
    if tabs:
        return doc, tabs
    try:
        doc.data = _compose(doc)
    except _LoadError as exc:
        return doc, [exc.diagnostic]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "malformed YAML"
        if "nesting depth" in problem:  # libyaml >= 0.2.5 stops at 1000 levels, before our own limit is seen
            return doc, [_diag("DAGC011", f"nesting deeper than {MAX_DEPTH} levels", path, line, col,
                               hint=DEPTH_HINT)]
        return doc, [_diag("DAGC005", f"malformed YAML: {problem}", path, line, col,
                           hint="check indentation, colons after keys and matching quotes/brackets")]
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow: at its own line and column
        line, col = _line_col(text, exc.position)
        char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        return doc, [_diag("DAGC005", f"malformed YAML: character {char} is not allowed in a YAML file", path, line,
                           col, hint="remove the control character (write it as an escape such as \\x0c inside a "
                           "double-quoted string if you need it)")]
    except yaml.YAMLError as exc:
        return doc, [_diag("DAGC005", f"malformed YAML: {exc}", path, 1, 1)]
    return doc, []


def _line_col(text: str, position: int) -> tuple[int, int]:
    """1-based line and column of a character offset (libyaml counts characters, as Python does)."""
    position = max(0, min(position, len(text)))
    line = text.count("\n", 0, position) + 1
    return line, position - (text.rfind("\n", 0, position) + 1) + 1


def _tab_indentation(path: str, text: str) -> list[Diagnostic]:
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip(" ")
        if stripped.startswith("\t"):
            return [_diag("DAGC006", "tab character used for indentation; YAML allows only spaces", path, n,
                          len(line) - len(stripped) + 1, hint="replace the tabs with spaces (2 per level is usual)")]
    return []


class _LoadError(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


class _Frame:
    __slots__ = ("kind", "value", "path", "key", "key_mark", "anchor", "nodes", "seen", "start")

    def __init__(self, kind: str, path: Path, anchor: str | None, start: Any) -> None:
        self.start = start
        self.kind = kind  # "map" | "seq"
        self.value: Any = {} if kind == "map" else []
        self.path = path
        self.key: Any = _NO_KEY
        self.key_mark: Pos | None = None
        self.anchor = anchor
        self.nodes = 1  # expanded size, to bound alias bombs
        self.seen: dict[Any, Pos] = {}


_NO_KEY = object()
_constructor = yaml.constructor.SafeConstructor()
_resolver = yaml.resolver.Resolver()


def _scalar_value(ev: Any, path: str) -> Any:
    tag = ev.tag
    if tag is None or tag == "!":
        tag = _resolver.resolve(yaml.ScalarNode, ev.value, ev.implicit)
    if tag == "tag:yaml.org,2002:merge":
        return "<<"
    if tag == "tag:yaml.org,2002:str":  # most scalars: no need for the (slow) constructor
        return ev.value
    if not tag.startswith("tag:yaml.org,2002:"):
        raise _LoadError(_diag("DAGC007", f"unsupported YAML tag {tag!r}", path, ev.start_mark.line + 1,
                               ev.start_mark.column + 1, hint="pipelines use plain YAML values only"))
    node = yaml.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, ev.style)
    try:
        return _constructor.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        raise _LoadError(_diag("DAGC007", f"cannot read value: {exc.problem}", path, ev.start_mark.line + 1,
                               ev.start_mark.column + 1)) from None
    except ValueError:  # Python refuses to convert integers of more than 4300 digits (and so should we)
        raise _LoadError(_diag("DAGC007", f"cannot read value: a number of {len(ev.value):,} characters is too large",
                               path, ev.start_mark.line + 1, ev.start_mark.column + 1,
                               hint="Snowflake numbers hold at most 38 digits; quote it if it is text")) from None


def _compose(doc: Document) -> Any:
    """Build the single document's value from parser events, iteratively."""
    path = doc.path
    stack: list[_Frame] = []
    anchors: dict[str, tuple[Any, int]] = {}
    total_nodes = 0
    root: Any = None
    documents = 0

    def pos_of(mark: Any, end: Any = None) -> Pos:
        end_col = end.column if end is not None and end.line == mark.line else 0
        return Pos(mark.line + 1, mark.column + 1, end_col)

    def attach(value: Any, size: int, start: Any, end: Any, anchor: str | None, new: int | None = None) -> None:
        # size: the value's expanded node count (for its parent and its anchor); new: nodes not yet
        # counted in total_nodes (a closed container's children were counted as they came, so a
        # plain value is counted once, not once per ancestor; an alias adds its whole expansion)
        nonlocal root, total_nodes
        total_nodes += size if new is None else new
        if total_nodes > MAX_NODES:
            raise _LoadError(_diag("DAGC008", f"document expands to more than {MAX_NODES:,} values through aliases",
                                   path, start.line + 1, start.column + 1,
                                   hint="aliases that expand exponentially (a 'billion laughs' document) are refused"))
        if anchor is not None:
            anchors[anchor] = (value, size)
        if not stack:
            root = value
            return
        top = stack[-1]
        top.nodes += size
        if top.kind == "seq":
            p = top.path + (len(top.value),)
            doc.values[p] = pos_of(start, end)
            top.value.append(value)
            return
        if top.key is _NO_KEY:  # this value is a key
            if isinstance(value, (dict, list)):
                raise _LoadError(_diag("DAGC009", "a mapping key must be a plain value", path, start.line + 1,
                                       start.column + 1))
            top.key = value
            top.key_mark = pos_of(start, end)
            return
        key, top.key = top.key, _NO_KEY
        if key == "<<" and isinstance(value, (dict, list)):  # YAML merge key: earlier keys win
            for src in value if isinstance(value, list) else [value]:
                if isinstance(src, dict):
                    for k, v in src.items():
                        top.value.setdefault(k, v)
            return
        if key in top.seen:
            first = top.seen[key]
            raise _LoadError(_diag("DAGC010", f"duplicate key {key!r} (first defined at line {first.line})",
                                   path, top.key_mark.line, top.key_mark.col,  # type: ignore[union-attr]
                                   hint="YAML loaders silently keep only the last one; remove or rename one of them"))
        p = top.path + (key,)
        top.seen[key] = top.key_mark  # type: ignore[assignment]
        doc.keys[p] = top.key_mark  # type: ignore[assignment]
        doc.values[p] = pos_of(start, end)
        top.value[key] = value

    for ev in yaml.parse(doc.text, Loader=_Loader):
        if isinstance(ev, yaml.ScalarEvent):
            attach(_scalar_value(ev, path), 1, ev.start_mark, ev.end_mark, ev.anchor)
        elif isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if ev.tag not in (None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
                raise _LoadError(_diag("DAGC007", f"unsupported YAML tag {ev.tag!r}", path, ev.start_mark.line + 1,
                                       ev.start_mark.column + 1))
            if len(stack) >= MAX_DEPTH:
                raise _LoadError(_diag("DAGC011", f"nesting deeper than {MAX_DEPTH} levels", path,
                                       ev.start_mark.line + 1, ev.start_mark.column + 1,
                                       hint=DEPTH_HINT))
            parent = stack[-1] if stack else None
            if parent is None:
                fpath: Path = ()
            elif parent.kind == "seq":
                fpath = parent.path + (len(parent.value),)
            else:
                fpath = parent.path + (parent.key,) if parent.key is not _NO_KEY else parent.path + ("<key>",)
            stack.append(_Frame("map" if isinstance(ev, yaml.MappingStartEvent) else "seq", fpath, ev.anchor,
                                ev.start_mark))
        elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            frame = stack.pop()
            attach(frame.value, frame.nodes, frame.start, None, frame.anchor, new=1)
        elif isinstance(ev, yaml.AliasEvent):
            if ev.anchor not in anchors:
                raise _LoadError(_diag("DAGC005", f"unknown alias *{ev.anchor}", path, ev.start_mark.line + 1,
                                       ev.start_mark.column + 1))
            value, size = anchors[ev.anchor]
            attach(value, size, ev.start_mark, ev.end_mark, None)
        elif isinstance(ev, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _LoadError(_diag("DAGC012", "more than one YAML document in the file", path,
                                       ev.start_mark.line + 1, ev.start_mark.column + 1,
                                       hint="one pipeline per file; remove the extra `---`"))
    return root



def locate(doc: Document, path: Path, offset: int, value: str) -> Pos:
    """The line and column of character `offset` of the string scalar at `path`.

    Walks the scalar's source the way YAML reads it (plain, 'single' or "double" quoted, `|` and
    `>` block scalars), so a caret can point inside a string even when quotes, escapes or a block
    moved it. A string that came from an `include:`d file (Pos.file) is read in that file's text
    (Document.included). If the source does not decode to `value` (a template rendered it, or it
    came from an overlay), the position of the scalar itself is returned.
    """
    start = doc.values.get(tuple(path))
    if start is None:
        return doc.pos(path)
    source = doc.included.get(start.file) if start.file and start.file != doc.path else doc.text
    if source is None:
        return start
    lines = source.splitlines()
    if start.line - 1 >= len(lines):
        return start
    mapped = _scalar_chars(lines, start.line - 1, start.col - 1)
    if mapped is None or "".join(c for c, _, _ in mapped).rstrip("\n") != value.rstrip("\n"):
        return start
    if offset >= len(mapped):
        if not mapped:
            return start
        _, line, col = mapped[-1]
        return Pos(line, col + 1 + (offset - len(mapped)), 0, start.file)
    _, line, col = mapped[offset]
    return Pos(line, col, 0, start.file)


def _scalar_chars(lines: list[str], row: int, col: int) -> list[tuple[str, int, int]] | None:
    """(char, line, col) for every character of the scalar starting at lines[row][col], 1-based."""
    first = lines[row]
    c0 = first[col] if col < len(first) else ""
    out: list[tuple[str, int, int]] = []
    if c0 in ("|", ">"):
        body = [r for r in range(row + 1, len(lines))]
        indent = None
        for r in body:
            text = lines[r]
            if not text.strip():
                if indent is not None:
                    out.append(("\n", r + 1, len(text) + 1))
                continue
            lead = len(text) - len(text.lstrip(" "))
            if indent is None:
                indent = lead
            if lead < indent:
                break
            if out and out[-1][0] != "\n":
                out.append(("\n" if c0 == "|" else " ", r, len(lines[r - 1]) + 1))
            out.extend((ch, r + 1, indent + i + 1) for i, ch in enumerate(text[indent:]))
        while out and out[-1][0] == "\n":
            out.pop()
        return out
    if c0 in ("'", '"'):
        r, i = row, col + 1
        while r < len(lines):
            text = lines[r]
            while i < len(text):
                ch = text[i]
                if c0 == "'" and ch == "'":
                    if text[i + 1:i + 2] == "'":
                        out.append(("'", r + 1, i + 1))
                        i += 2
                        continue
                    return out
                if c0 == '"' and ch == '"':
                    return out
                if c0 == '"' and ch == "\\":
                    nxt = text[i + 1:i + 2]
                    simple = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "/": "/", "0": "\0", " ": " "}
                    if nxt in simple:
                        out.append((simple[nxt], r + 1, i + 1))
                        i += 2
                        continue
                    width = {"x": 2, "u": 4, "U": 8}.get(nxt)
                    digits = text[i + 2:i + 2 + width] if width else ""
                    if width and len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
                        out.append((chr(int(digits, 16)), r + 1, i + 1))
                        i += 2 + width
                        continue
                    return None  # another escape (\a, \e, \N...): fall back to the scalar's start
                out.append((ch, r + 1, i + 1))
                i += 1
            r, i = r + 1, 0
            if r < len(lines):
                stripped = len(lines[r]) - len(lines[r].lstrip(" "))
                out.append((" ", r, len(lines[r - 1]) + 1))  # a line break inside quotes folds to a space
                i = stripped
        return None
    # plain scalar: up to ` #`, or a flow indicator when inside [ ] / { }
    text = first[col:]
    end = len(text)
    for marker in (" #",):
        k = text.find(marker)
        if k >= 0:
            end = min(end, k)
    flow = first[:col].count("{") + first[:col].count("[") > first[:col].count("}") + first[:col].count("]")
    if flow:
        for ch in ",}]":
            k = text.find(ch)
            if k >= 0:
                end = min(end, k)
    chunk = text[:end].rstrip()
    out = [(ch, row + 1, col + i + 1) for i, ch in enumerate(chunk)]
    key_indent = len(first) - len(first.lstrip(" "))
    r = row + 1
    while not flow and r < len(lines) and lines[r].strip() and len(lines[r]) - len(lines[r].lstrip(" ")) > key_indent:
        more = lines[r]
        lead = len(more) - len(more.lstrip(" "))
        body = more[lead:]
        k = body.find(" #")
        body = (body[:k] if k >= 0 else body).rstrip()
        out.append((" ", r, len(lines[r - 1]) + 1))  # a line break in a plain scalar folds to a space
        out.extend((ch, r + 1, lead + i + 1) for i, ch in enumerate(body))
        r += 1
    return out
