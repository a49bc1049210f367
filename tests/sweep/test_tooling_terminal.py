"""What a person sees in a real terminal (tmux): `dagc run`'s live view gives way to the summary."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from dagc.scaffold import init_project

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is needed")


def _screen(cmd: str, cwd: Path, env: dict[str, str], timeout: float = 120.0) -> str:
    """Run `cmd` in a detached tmux pane (160x50) and return the pane, scrollback included, once it ends."""
    sock = f"dagc-test-{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-L", sock]
    subprocess.run([*tmux, "new-session", "-d", "-s", "t", "-x", "160", "-y", "50", "-c", str(cwd),
                    f"{cmd}; echo __DONE__$?; sleep 120"], env=env, check=True, timeout=30)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = subprocess.run([*tmux, "capture-pane", "-p", "-J", "-S", "-", "-t", "t"], env=env,
                                 capture_output=True, text=True, timeout=30).stdout
            if "__DONE__" in out:
                return out
            time.sleep(0.2)
        pytest.fail(f"timed out; screen:\n{out}")
    finally:
        subprocess.run([*tmux, "kill-server"], env=env, capture_output=True, timeout=30)


def test_live_view_is_replaced_by_the_summary(tmp_path):
    init_project(tmp_path / "proj", "demo")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "compiler"), "TERM": "xterm-256color", "HOME": str(tmp_path)}
    env.pop("TMUX", None)
    screen = _screen(f"{sys.executable} -m dagc run pipelines/demo.yaml", tmp_path / "proj", env)
    assert "__DONE__0" in screen, screen
    rows = [ln for ln in screen.splitlines() if "greet" in ln and "SUCCEEDED" in ln]
    assert len(rows) == 1, screen  # the summary's row only: the live table's copy was erased
    assert "attempt" in screen and "run " in screen and "of demo: SUCCEEDED" in screen
