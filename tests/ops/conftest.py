"""Fixtures for tests/ops; helpers live in ops_helpers.py (a unique module name)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops_helpers import make_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj")
