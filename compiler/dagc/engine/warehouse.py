"""The local warehouse file (`<state>/warehouse/DAGC.db`) and who may have it open.

Both the Tables API (tables.py) and `sql:` tasks (sqlemu.py, through fakesnow) open the same
DuckDB file, from many worker processes of several engines at once. DuckDB's own file lock is
not enough to keep their commits: it is a POSIX record lock, which a process loses when it closes
*any* descriptor of the file, and DuckDB releases it while it is still finishing a close
(checkpoint, write-ahead log clean-up). Under 8 concurrent engines that lost committed rows
(issue 15: 10 of 1,512 appends, every task SUCCEEDED).

So every open of the file, whatever opens it, happens under one exclusive `flock` on a separate
lock file, taken before DuckDB opens the database and released only after DuckDB has closed it
completely. flock belongs to the open file description, so nothing else in the process can drop
it by closing a descriptor. Within a process, one holder at a time (a semaphore, since the
Tables connection may be closed by its idle-closer thread), so one process never has two DuckDB
instances on the file either.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from dagc.diagnostics import DagcError

DATABASE = "DAGC"
SCHEMA = "PUBLIC"
LOCK_WAIT_S = 300.0


def warehouse_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "warehouse"


def warehouse_file(state_dir: Path) -> Path:
    """fakesnow names a database file `<db_path>/<DATABASE>.db`; the Tables API opens the same file."""
    return warehouse_dir(state_dir) / f"{DATABASE}.db"


def is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


class FileLock:
    """The warehouse's exclusive lock: one process (and within it one holder) at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.local = threading.Semaphore(1)  # released by whichever thread closes the connection
        self.fd: int | None = None

    def acquire(self, what: str) -> None:
        import fcntl

        deadline = time.monotonic() + LOCK_WAIT_S
        if not self.local.acquire(timeout=LOCK_WAIT_S):
            raise DagcError(f"waited {LOCK_WAIT_S:g} s for this process's own use of the local warehouse ({what})")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            delay = 0.001
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        os.close(fd)
                        raise DagcError(f"another process held the local warehouse for {LOCK_WAIT_S:g} s ({what})",
                                        f"lock file: {self.path}") from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.02)
            self.fd = fd
        except BaseException:
            self.local.release()
            raise

    def release(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the flock
        self.local.release()


_LOCKS: dict[Path, FileLock] = {}
_LOCKS_GUARD = threading.Lock()


def file_lock(state_dir: Path) -> FileLock:
    path = warehouse_file(state_dir).resolve()
    with _LOCKS_GUARD:
        if path not in _LOCKS:
            _LOCKS[path] = FileLock(path.with_name(path.name + ".lock"))
        return _LOCKS[path]


class Holder:
    """One process's open Tables connection to the warehouse file, closed soon after it goes idle.

    Opening a DuckDB file costs tens of milliseconds (database start-up, checkpoint on close),
    so consecutive operations of a step reuse one connection; but only one process may hold the
    file, so the connection (and the lock) is let go IDLE_S after the last operation (and at the
    end of every step), letting parallel tasks in other workers take their turn.
    """

    IDLE_S = 0.05

    def __init__(self, state_dir: Path, path: Path) -> None:
        self.state_dir = Path(state_dir)
        self.path = path
        self.lock = threading.RLock()
        self.con: Any = None
        self.last = 0.0
        self.depth = 0
        self.closer: threading.Thread | None = None

    def open(self) -> Any:
        import duckdb

        flock = file_lock(self.state_dir)
        flock.acquire("tables")
        try:
            deadline = time.monotonic() + LOCK_WAIT_S
            delay = 0.002
            while True:  # a process outside dagc (the duckdb CLI) may still hold DuckDB's own lock
                try:
                    con = duckdb.connect(str(self.path))
                    break
                except duckdb.Error as exc:
                    if not is_lock_error(exc) or time.monotonic() > deadline:
                        raise DagcError(f"cannot open the local warehouse {self.path}: {exc}") from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
            try:
                con.execute(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"')
                con.execute(f"SET schema = '{SCHEMA}'")
            except duckdb.Error:
                con.close()
                raise
        except BaseException:
            flock.release()
            raise
        return con

    def close(self) -> None:
        with self.lock:
            if self.con is not None and self.depth == 0:
                try:
                    self.con.close()
                finally:
                    self.con = None
                    file_lock(self.state_dir).release()

    def _close_when_idle(self) -> None:
        while True:
            time.sleep(self.IDLE_S / 2)
            with self.lock:
                if self.con is None:
                    self.closer = None
                    return
                if self.depth == 0 and time.monotonic() - self.last >= self.IDLE_S:
                    self.close()
                    self.closer = None
                    return


_HOLDERS: dict[Path, Holder] = {}
_HOLDERS_LOCK = threading.Lock()


@atexit.register
def _close_all() -> None:
    for h in list(_HOLDERS.values()):
        try:
            h.close()
        except Exception:
            pass


def holder(state_dir: Path) -> Holder:
    path = warehouse_file(state_dir).resolve()
    with _HOLDERS_LOCK:
        if path not in _HOLDERS:
            _HOLDERS[path] = Holder(state_dir, path)
        return _HOLDERS[path]


@contextlib.contextmanager
def connect(state_dir: Path, *, read_only: bool = False) -> Iterator[Any]:
    """A DuckDB cursor on the warehouse file with PUBLIC as the current schema, waiting out other holders.

    read_only is accepted for callers that only read; the connection is the same shared one (a
    DuckDB read-only open would still conflict with a writer, and it takes the same lock)."""
    h = holder(state_dir)
    with h.lock:
        if h.con is None:
            h.con = h.open()
        h.depth += 1
        cur = h.con.cursor()  # a fresh cursor per operation: no half-read result left behind
        try:
            cur.execute(f"SET schema = '{SCHEMA}'")
            yield cur
        finally:
            cur.close()
            h.depth -= 1
            h.last = time.monotonic()
            if h.closer is None and h.con is not None:
                h.closer = threading.Thread(target=h._close_when_idle, daemon=True, name="dagc-duckdb-idle")
                h.closer.start()


def release(state_dir: Path) -> None:
    """Close this process's Tables connection now (end of a step, or before fakesnow opens the file)."""
    holder(state_dir).close()


def busy(state_dir: Path) -> bool:
    """True while this process is inside a Tables operation (the file cannot be handed to fakesnow)."""
    return holder(state_dir).depth > 0
