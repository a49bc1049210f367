"""The worker process: runs one task at a time for the engine, then waits for the next.

A separate process per worker, so a step that calls os._exit, crashes the interpreter in native
code or hangs cannot take the engine with it: the engine sees the pipe close (or the timeout
pass), kills this process group, records the failure and starts a fresh worker. Workers stay warm
between tasks (imports, DuckDB, pandas stay loaded), which is what keeps the engine's overhead per
task near a millisecond. A worker dies with its engine (PR_SET_PDEATHSIG plus a parent watchdog),
so a `kill -9` of the engine leaves no orphan running steps.

Started as `python -m dagc.engine.worker FD`; FD is one end of a socketpair.
"""

from __future__ import annotations

import errno
import importlib
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any

from dagc.redact import redact_file, redact_text
from dagc.textsafe import MAX_ERROR_CHARS, clip


def _die_with_parent() -> None:
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: the watchdog below is enough
        pass
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="dagc-parent-watchdog").start()


class InjectedFailure(RuntimeError):
    """Raised instead of calling the step when fault injection names the task."""


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run one task attempt with stdout/stderr (fd level, so native output too) going to its log."""
    try:
        log_fd = os.open(job["log_path"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError as exc:  # a full disk or a missing directory: the task fails, saying why
        return {"ok": False, "error": f"cannot open the task log {job['log_path']}: {exc.strerror}" + _disk_note(exc),
                "traceback": None}
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    backend = None
    from dagc.engine.notify import Notifier

    Notifier.job_secrets = tuple(job.get("secrets") or ())
    try:
        print(f"--- {job['task']} attempt {job['attempt']} of run {job['run_id']} "
              f"(pid {os.getpid()}) at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}", flush=True)
        if job.get("inject_failure"):
            raise InjectedFailure(f"injected failure for task {job['task']!r} (fault injection: "
                                  "--fail-task / DAGC_FAIL_TASKS); the step was not called")
        if "stub_return" in job:
            return _stubbed(job)
        from dagc.engine.backend import LocalBackend

        backend = LocalBackend.from_job(job)
        if job["kind"] == "sql":
            from dagc.engine.sqlemu import run_sql_task

            value = run_sql_task(job, backend)
            result: dict[str, Any] = {"ok": True, "return_value": value, "branch_case": None}
        else:
            result = _run_step(job, backend)
        backend.close()
        backend = None
        print(f"--- {job['task']} succeeded", flush=True)
        if job.get("secrets") and isinstance(result.get("return_value"), str):
            result["return_value"] = redact_text(result["return_value"], job["secrets"])
        return result
    except BaseException as exc:  # noqa: BLE001 - every failure of user code is a task failure
        # (a KeyboardInterrupt too: the worker ignores SIGINT, so only the step can have raised it)
        tb = redact_text(_user_traceback(exc), job.get("secrets") or ())
        message = redact_text(_message(exc) + _disk_note(exc), job.get("secrets") or ())
        try:  # the log may be on the full disk that failed the step: the result must still get back
            sys.stderr.write(tb)
            print(f"--- {job['task']} failed: {message}", flush=True)  # the whole message stays in the log
        except OSError:
            pass
        message = clip(message, MAX_ERROR_CHARS)
        tb = clip(tb, 20 * MAX_ERROR_CHARS)
        if backend is not None:
            try:
                backend.close(persist=False)
            except Exception:
                pass
        return {"ok": False, "error": message, "traceback": tb}
    finally:
        Notifier.job_secrets = ()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except OSError:  # a full disk: what could not be written is lost, the result is not
                pass
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        os.close(log_fd)
        if job.get("secrets"):
            redact_file(job["log_path"], job["secrets"])


_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _disk_note(exc: BaseException) -> str:
    """Say plainly when a step failed because a disk (or quota, or file-size limit) was full."""
    seen = 0
    e: BaseException | None = exc
    while e is not None and seen < 20:
        if isinstance(e, OSError) and e.errno in _DISK_FULL:
            where = f" writing {e.filename}" if getattr(e, "filename", None) else ""
            return (f" [disk full{where}: {os.strerror(e.errno)}; free space there and retry the run with "
                    "`dagc retry` - run history is kept]")
        e = e.__cause__ or e.__context__
        seen += 1
    return ""


def _user_traceback(exc: BaseException) -> str:
    """The traceback from the step's own frames down (the worker's frames are noise to users)."""
    try:
        return _traceback_text(exc)
    except Exception:  # noqa: BLE001 - an exception whose __str__ raises must not kill the worker
        return f"{_type_name(exc)} (its traceback could not be formatted)\n"


def _type_name(exc: BaseException) -> str:
    return getattr(type(exc), "__qualname__", None) or "exception"


def _traceback_text(exc: BaseException) -> str:
    tb = exc.__traceback__
    engine_dir = os.path.dirname(os.path.abspath(__file__))
    while tb is not None and os.path.dirname(os.path.abspath(tb.tb_frame.f_code.co_filename)) == engine_dir:
        tb = tb.tb_next
    if tb is None:
        tb = exc.__traceback__
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _message(exc: BaseException) -> str:
    from dagc.diagnostics import DagcError
    from dagc.runtime.returns import ReturnValueError

    if isinstance(exc, DagcError):
        return _safe_str(exc.message, str) + (f" ({_safe_str(exc.hint, str)})" if exc.hint else "")
    if isinstance(exc, (ReturnValueError, InjectedFailure)):
        return _safe_str(exc, str)
    if isinstance(exc, SystemExit):
        return f"the step called sys.exit({_safe_str(exc.code, repr)})"
    if isinstance(exc, KeyboardInterrupt):
        return "KeyboardInterrupt raised by the step"
    text = _safe_str(exc, str)
    return f"{_type_name(exc)}: {text}" if text else _type_name(exc)


def _safe_str(value: Any, conv: Any) -> str:
    """str()/repr() of user objects, which may raise or return something that is not a str."""
    try:
        out = conv(value)
        return out if isinstance(out, str) else repr(out)
    except Exception:  # noqa: BLE001
        try:
            return repr(value)
        except Exception:  # noqa: BLE001
            return f"<{type(value).__name__} that cannot be shown>"


_STEPS: dict[tuple[str, str], Any] = {}


def _load_step(module: str, function: str) -> Any:
    key = (module, function)
    if key not in _STEPS:
        mod = importlib.import_module(module)
        try:
            _STEPS[key] = getattr(mod, function)
        except AttributeError:
            raise RuntimeError(f"module {module} has no function {function}") from None
    return _STEPS[key]


def _stubbed(job: dict[str, Any]) -> dict[str, Any]:
    """A stubbed task (`returns:` in a `dagc test` scenario): its value, without calling the step."""
    from dagc.runtime.returns import encode_return

    value = job["stub_return"]
    print(f"--- {job['task']} stubbed: returns {value!r} without calling its step", flush=True)
    if job["kind"] == "branch":
        cases: dict[str, str] = job["cases"]
        if not isinstance(value, str) or value not in cases:
            raise RuntimeError(f"stubbed branch task {job['task']!r} returns {value!r}, which is not one of its "
                               f"cases ({', '.join(sorted(cases))})")
        return {"ok": True, "return_value": cases[value], "branch_case": value}
    return {"ok": True, "return_value": encode_return(job["task"], value), "branch_case": None}


def _run_step(job: dict[str, Any], backend: Any) -> dict[str, Any]:
    from datetime import datetime, timezone

    from dagc.configcodec import decode_config, logical_date_of
    from dagc.runtime.context import Inputs, StepContext
    from dagc.runtime.returns import decode_return, encode_return
    import logging

    fn = _load_step(job["module"], job["function"])
    params = dict(job["params"])
    ctx = StepContext(
        pipeline=job["pipeline"],
        task=job["task"],
        run_id=job["run_id"],
        scheduled_at=datetime.fromtimestamp(job["scheduled_at"], tz=timezone.utc),
        config=decode_config(job["config"]),
        params=dict(params),
        inputs=Inputs(job["task"], list(job["inputs"]),
                      lambda name: job["inputs"][name] if name in job.get("raw_inputs", ()) else
                      decode_return(job["inputs"][name])),
        backend=backend,
        environment=job.get("environment"),
        log=logging.getLogger(f"dagc.step.{job['task']}"),
        logical_date=logical_date_of(job["config"]),
    )
    value = fn(ctx, **params)
    if job["kind"] == "branch":
        cases: dict[str, str] = job["cases"]
        if not isinstance(value, str) or value not in cases:
            valid = ", ".join(sorted(cases))
            raise RuntimeError(
                f"branch task {job['task']!r} returned case {value!r}, which is not one of its cases ({valid})")
        return {"ok": True, "return_value": cases[value], "branch_case": value}
    return {"ok": True, "return_value": encode_return(job["task"], value), "branch_case": None}


def main(argv: list[str]) -> None:
    from multiprocessing.connection import Connection

    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the engine's to handle
    root = os.environ.get("DAGC_PROJECT_ROOT")
    if root and root not in sys.path:
        sys.path.insert(0, root)
    import logging

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    conn = Connection(int(argv[1]))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            os._exit(0)
        if job is None:
            os._exit(0)
        result = run_job(job)
        from dagc.engine.workers import end_own_group

        end_own_group()  # a step's processes end with its task
        try:
            conn.send(result)
        except (BrokenPipeError, OSError):
            os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
