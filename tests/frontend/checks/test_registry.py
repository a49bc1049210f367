"""The checks package's own structure: every family declares the codes it reports, and only those."""

from __future__ import annotations

import re
from pathlib import Path

from dagc.frontend import checks
from dagc.frontend.checks.context import RULES

PKG = Path(checks.__file__).parent


def test_every_family_module_is_registered_and_described():
    modules = {p.stem for p in PKG.glob("*.py")} - {"__init__", "context", "build"}
    assert {m.__name__.rsplit(".", 1)[-1] for m in checks.FAMILIES} == modules
    for m in modules:  # the package docstring is the map of the families
        assert f"{m}.py" in checks.__doc__


def test_a_family_reports_exactly_the_codes_it_declares():
    import importlib

    for module in checks.FAMILIES:
        emitted = set(re.findall(r'"(DAGC\d{3})"', Path(module.__file__).read_text().split("CODES = {", 1)[1].split("}", 1)[1]))
        for name in getattr(module, "DELEGATES", ()):  # a package that reports for the family (dagc.expr)
            pkg = Path(importlib.import_module(name).__file__).parent
            emitted |= {c for f in pkg.glob("*.py") for c in re.findall(r'"(DAGC\d{3})"', f.read_text())}
        assert emitted == set(module.CODES), module.__name__


def test_rules_declare_codes_of_their_own_family():
    assert len(RULES) >= 10
    by_family = {m.__name__.rsplit(".", 1)[-1]: m for m in checks.FAMILIES}
    for r in RULES:
        assert r.codes and set(r.codes) <= set(by_family[r.family].CODES), r.fn.__name__
