"""The family tests share tests/frontend/fe_helpers.py with the other front-end tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
