"""The graph as Mermaid or Graphviz DOT, for READMEs, pull requests and reports."""

from __future__ import annotations

from dagc import ir

_WHEN_LABEL = {c: c.value for c in ir.Condition if c is not ir.Condition.ALL_SUCCEEDED}


def _edges(p: ir.Pipeline) -> list[tuple[str, str, str]]:
    """(from, to, label): branch edges carry their case, conditioned edges their condition."""
    out = []
    for t in p.tasks:
        preds = t.after or ("__root__",)
        for a in preds:
            label = ""
            parent = p.task(a) if a != "__root__" else None
            if parent is not None and parent.is_branch:
                label = ", ".join(c for c, child in parent.cases.items() if child == t.name)
            if t.when in _WHEN_LABEL:
                label = f"{label}; {t.when.value}" if label else t.when.value
            out.append((a, t.name, label))
    return out


def _root_label(p: ir.Pipeline) -> str:
    return p.name + (f" (when {p.trigger.stream} has data)" if p.trigger else "")


def mermaid(p: ir.Pipeline) -> str:
    lines = ["flowchart LR", f'  __root__(["{_root_label(p)}"])']
    for t in p.all_tasks():
        shape = ('{{"%s"}}' if t.is_branch else '["%s"]') % _label(t)
        lines.append(f"  {t.name}{shape}")
    for a, b, label in _edges(p):
        lines.append(f"  {a} -->|{label}| {b}" if label else f"  {a} --> {b}")
    if p.finalizer:
        lines.append(f"  {p.finalizer.name}:::finalizer")
        lines.append(f"  __root__ -. finally .-> {p.finalizer.name}")
        lines.append("  classDef finalizer stroke-dasharray: 5 5")
    return "\n".join(lines) + "\n"


def _label(t: ir.Task) -> str:
    what = t.step if t.kind is not ir.TaskKind.SQL else "sql"
    extra = " (finally)" if t.is_finalizer else ""
    cond = ""
    if t.condition:  # Mermaid's entities, so `<` in a condition is not read as markup
        cond = "<br/><small>if " + t.condition.replace("<", "#lt;").replace(">", "#gt;") + "</small>"
    return f"{t.name}<br/><small>{what}{extra}</small>{cond}".replace('"', "'")


def dot(p: ir.Pipeline) -> str:
    lines = [f'digraph "{p.name}" {{', "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];',
             f'  "__root__" [label="{_root_label(p)}", shape=oval];']
    for t in p.all_tasks():
        shape = "diamond" if t.is_branch else "box"
        style = ', style=dashed, xlabel="finally"' if t.is_finalizer else ""
        what = t.step if t.kind is not ir.TaskKind.SQL else "sql"
        cond = ("\\nif " + t.condition.replace("\\", "\\\\").replace('"', '\\"')) if t.condition else ""
        lines.append(f'  "{t.name}" [label="{t.name}\\n{what}{cond}", shape={shape}{style}];')
    for a, b, label in _edges(p):
        lines.append(f'  "{a}" -> "{b}"' + (f' [label="{label}"]' if label else "") + ";")
    if p.finalizer:
        lines.append(f'  "__root__" -> "{p.finalizer.name}" [style=dotted, label="finally"];')
    lines.append("}")
    return "\n".join(lines) + "\n"
