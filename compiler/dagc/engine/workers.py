"""The engine's side of the worker pool.

Each worker is `python -m dagc.engine.worker` in its own session (so a Ctrl-C at the terminal
reaches only the engine, which then decides what to stop), talking over a socketpair with
multiprocessing's framed pickles. A step's child processes are in its worker's process group,
and they end with the task, not after it: the worker kills what is left of its group when a
step returns, the engine kills the whole group when a worker is stopped, dies or is shut down,
and after a kill -9 of the engine the next engine on the host kills the leftovers of the groups
recorded in run history (only processes that carry the dead engine's DAGC_ENGINE marker, so a
reused pid is never hit).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import dagc

MARKER_ENV = "DAGC_ENGINE"  # "<engine pid>:<engine start token>", inherited by workers and their children


def group_members(pgid: int) -> list[int]:
    """Processes whose process group is `pgid` (Linux /proc; empty elsewhere)."""
    out = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid).encode():
            out.append(int(name))
    return out


def _has_marker(pid: int, marker: str) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            return f"{MARKER_ENV}={marker}".encode() in fh.read().split(b"\0")
    except OSError:
        return False


def kill_leftovers(pgids: list[int], marker: str) -> int:
    """After an engine died: kill what is left of its workers' groups; returns how many processes."""
    n = 0
    for pgid in set(pgids):
        for pid in group_members(pgid):
            if pid != os.getpid() and _has_marker(pid, marker):
                try:
                    os.kill(pid, signal.SIGKILL)
                    n += 1
                except (ProcessLookupError, PermissionError):
                    pass
    return n


def end_own_group() -> None:
    """In a worker: kill every other process of its group (what the finished step left running)."""
    me = os.getpid()
    for pid in group_members(os.getpgrp()):
        if pid != me:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass(eq=False)
class Worker:
    proc: subprocess.Popen[bytes]
    conn: Connection
    task: str | None = None
    started: float = 0.0
    deadline: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid


@dataclass
class WorkerEvent:
    worker: Worker
    result: dict[str, Any] | None  # None: the worker died (see exit_description)
    exit_description: str = ""


def describe_exit(code: int | None) -> str:
    if code is None:
        return "is gone"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with code {code}"


class WorkerPool:
    def __init__(self, size: int, project_root: Path, extra_env: dict[str, str] | None = None) -> None:
        self.size = max(1, size)
        self.project_root = Path(project_root)
        self.idle: list[Worker] = []
        self.busy: set[Worker] = set()
        compiler_dir = str(Path(dagc.__file__).resolve().parent.parent)
        env = dict(os.environ)
        paths = [str(self.project_root), compiler_dir] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        env["DAGC_PROJECT_ROOT"] = str(self.project_root)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.update(extra_env or {})
        self.env = env

    def prestart(self, n: int) -> None:
        while len(self.idle) + len(self.busy) < min(n, self.size):
            self.idle.append(self._spawn())

    def _spawn(self) -> Worker:
        parent, child = socket.socketpair()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "dagc.engine.worker", str(child.fileno())],
                pass_fds=(child.fileno(),), cwd=self.project_root, env=self.env,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        finally:
            child.close()
        conn = Connection(parent.detach())
        return Worker(proc=proc, conn=conn)

    def has_capacity(self) -> bool:
        return len(self.busy) < self.size

    def submit(self, job: dict[str, Any], timeout_s: float | None) -> Worker:
        w = self.idle.pop() if self.idle else self._spawn()
        w.task = job["task"]
        w.started = time.time()
        w.deadline = None if timeout_s is None else time.monotonic() + timeout_s
        try:
            w.conn.send(job)
        except OSError:
            pass  # the worker died while idle; wait() reports it as a crash of this task
        self.busy.add(w)
        return w

    def wait(self, timeout: float | None) -> list[WorkerEvent]:
        if not self.busy:
            if timeout:
                time.sleep(timeout)
            return []
        by_conn = {w.conn: w for w in self.busy}
        events = []
        for conn in wait(list(by_conn), timeout):
            w = by_conn[conn]
            try:
                result = conn.recv()
            except (EOFError, OSError):
                self._reap(w)
                events.append(WorkerEvent(w, None, describe_exit(w.proc.returncode)))
                continue
            self.busy.discard(w)
            w.task = None
            w.deadline = None
            self.idle.append(w)
            events.append(WorkerEvent(w, result))
        return events

    def kill(self, w: Worker) -> None:
        """Stop a worker and everything it started (timeout, cancel)."""
        self._reap(w, kill=True)

    def _reap(self, w: Worker, kill: bool = False) -> None:
        if kill:
            _killpg(w.proc.pid)
        try:
            w.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait()
        _killpg(w.proc.pid)  # a worker that died (os._exit) leaves its step's children behind
        w.conn.close()
        self.busy.discard(w)
        if w in self.idle:
            self.idle.remove(w)

    def shutdown(self) -> None:
        for w in list(self.busy):
            self.kill(w)
        for w in list(self.idle):
            try:
                w.conn.send(None)
            except OSError:
                pass
        for w in list(self.idle):
            try:
                w.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.kill(w)
            _killpg(w.proc.pid)  # the group outlives its leader: end what is left of it
            w.conn.close()
        self.idle.clear()
