"""Every diagnostic code in the code is documented and has a failing-input test."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _codes_in(folder: Path, pattern: str) -> set[str]:
    return {c for f in folder.rglob(pattern) for c in re.findall(r"DAGC\d{3}", f.read_text(encoding="utf-8"))}


def test_every_code_is_documented_and_tested():
    used = _codes_in(ROOT / "compiler" / "dagc", "*.py")
    assert len(used) > 40
    documented = set(re.findall(r"^### (DAGC\d{3})", (ROOT / "docs" / "diagnostics.md").read_text(), re.M))
    assert used - documented == set(), "undocumented codes"
    assert documented - used == set(), "documented codes that no check emits"
    tested = _codes_in(Path(__file__).parent, "test_*.py") | _codes_in(ROOT / "tests" / "sweep", "test_*.py")
    tested |= _codes_in(ROOT / "tests" / "ops", "test_*.py")  # scenario files (dagc test): DAGC8xx
    assert used - tested == set(), "codes without a test"


def test_reference_covers_every_schema_key():
    import json

    from dagc.frontend.schema import schema as base_schema

    schema = base_schema()
    text = (ROOT / "docs" / "pipeline-reference.md").read_text()
    keys = set(schema["properties"]) | set(schema["$defs"]["task"]["properties"])
    missing = {k for k in keys if f"| `{k}` |" not in text}
    assert missing == set()
