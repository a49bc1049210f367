"""Fixtures for the engine tests; the helpers live in engine_helpers.py (a unique module name, so
they cannot be confused with another test folder's conftest)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine_helpers import make_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj")
