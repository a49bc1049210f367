"""Entry points of the local engine: start a run, retry a run. The CLI is a thin layer over these.

A run is one run id with one or more graph attempts: the first, then automatic graph-level
retries (`retries:` = Snowflake's TASK_AUTO_RETRY_ATTEMPTS) and manual `dagc retry`s, each
re-running the failed and not-run tasks while keeping the succeeded ones and their return values,
with the same config, run id and scheduled time, exactly like Snowflake's retry-last.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from dagc.diagnostics import DagcError, UsageError
from dagc.engine import rules
from dagc.engine.project import pipeline_hash, resolve_steps
from dagc.engine.scheduler import NullObserver, Observer, Preset, RunContext, Scheduler, TaskView, default_parallelism
from dagc.engine.state import RunRecord, StateStore
from dagc.engine.workers import WorkerPool
from dagc.ir import Pipeline, thaw
from dagc.redact import redact_data, secrets_of

FAIL_ENV = "DAGC_FAIL_TASKS"
WEBHOOK_ENV = "DAGC_WEBHOOK_URL"


@dataclass
class RunResult:
    run_id: str
    state: str
    graph_attempts: int
    tasks: dict[str, TaskView]
    first_failed_task: str | None
    first_error: str | None
    started_at: float
    ended_at: float

    @property
    def exit_code(self) -> int:
        return {rules.SUCCEEDED: 0, rules.CANCELLED: 130}.get(self.state, 1)


def new_run_id(now: float | None = None) -> str:
    """Sortable and unique across engines started in the same second: UTC time + random suffix."""
    t = time.gmtime(now if now is not None else time.time())
    return time.strftime("%Y%m%dT%H%M%SZ", t) + "-" + secrets.token_hex(3)


def _fail_tasks(explicit: Sequence[str], pipeline: Pipeline) -> frozenset[str]:
    names = set(explicit) | {n.strip() for n in os.environ.get(FAIL_ENV, "").split(",") if n.strip()}
    known = {t.name for t in pipeline.all_tasks()}
    unknown = sorted(names - known)
    if unknown:
        raise UsageError(f"cannot inject a failure into unknown task(s): {', '.join(unknown)}",
                         f"tasks of {pipeline.name}: {', '.join(sorted(known))}")
    return frozenset(names)


def _encode_config(pipeline: Pipeline) -> dict[str, Any]:
    from dagc.configcodec import ConfigEncodingError, encode_config

    try:
        return encode_config(thaw(pipeline.config))
    except ConfigEncodingError as exc:
        raise DagcError(f"the graph config of {pipeline.name} cannot be encoded: {exc}") from None


def _unmask(stored: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The run's stored config with its masked secrets taken from the pipeline as loaded now
    (run history never holds a secret; a retry reads it from the environment again)."""
    from dagc.redact import MASK

    return {k: current.get(k, v) if isinstance(v, str) and MASK in v else v for k, v in stored.items()}


@contextmanager
def _sigint(handler: Any) -> Iterator[None]:
    """Route Ctrl-C to the scheduler (cancel the run, still run the finalizer) while a run executes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda *_: handler())
    prev_term = signal.signal(signal.SIGTERM, lambda *_: handler())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, prev_term)


def _descendants(pipeline: Pipeline, start: str) -> set[str]:
    out = {start}
    changed = True
    while changed:
        changed = False
        for t in pipeline.tasks:
            if t.name not in out and any(a in out for a in t.after):
                out.add(t.name)
                changed = True
    return out


def _ancestors(pipeline: Pipeline, names: set[str]) -> set[str]:
    """Every task some task in `names` depends on, directly or not (their values are reused)."""
    out: set[str] = set()
    stack = [a for n in names for a in pipeline.task(n).after]
    while stack:
        n = stack.pop()
        if n not in out:
            out.add(n)
            stack.extend(pipeline.task(n).after)
    return out


def run_pipeline(
    pipeline: Pipeline,
    *,
    project_root: Path,
    state_dir: Path,
    sets: Mapping[str, str] | None = None,
    var_sets: Mapping[str, str] | None = None,
    only: Sequence[str] = (),
    from_task: str | None = None,
    fail_tasks: Sequence[str] = (),
    parallelism: int | None = None,
    observer: Observer | None = None,
    webhook_url: str | None = None,
    logical_date: Any = None,
    stub_returns: Mapping[str, Any] | None = None,
) -> RunResult:
    """Run a pipeline now; returns when the run (with its automatic graph retries) has ended.

    `logical_date` (a timezone-aware datetime) is the date the run stands for (a backfill's date):
    it travels in the run's config, as on Snowflake, and steps read it as ctx.logical_date.
    `stub_returns` (task -> value) makes those tasks return the value without calling their step
    (`dagc test` scenarios use it to test branch logic without the heavy steps).
    A triggered pipeline runs whether or not its stream has data (as EXECUTE TASK does; see
    `triggered` for `dagc run --if-triggered`); a run that succeeds consumes the stream.
    """
    known = {t.name for t in pipeline.all_tasks()}
    for name in list(only) + ([from_task] if from_task else []):
        if name not in known:
            raise UsageError(f"pipeline {pipeline.name} has no task {name!r}", f"tasks: {', '.join(sorted(known))}")
    if only and from_task:
        raise UsageError("use either --only or --from, not both")
    injected = _fail_tasks(fail_tasks, pipeline)
    steps = resolve_steps(pipeline, project_root)
    config = _encode_config(pipeline)
    if logical_date is not None:
        from dagc.configcodec import LOGICAL_DATE

        config = dict(sorted({**config, LOGICAL_DATE: logical_date.isoformat()}.items()))
    stubs = dict(stub_returns or {})
    unknown_stubs = sorted(set(stubs) - known)
    if unknown_stubs:
        raise UsageError(f"cannot stub the return value of unknown task(s): {', '.join(unknown_stubs)}",
                         f"tasks of {pipeline.name}: {', '.join(sorted(known))}")
    store = StateStore(state_dir)
    store.reconcile()
    started = time.time()
    run_id = new_run_id(started)
    streams = _streams(store, pipeline)
    seen = streams.current(pipeline.trigger.stream) if streams and pipeline.trigger else None
    options = {"only": list(only), "from": from_task, "fail_tasks": sorted(injected)}
    if stubs:
        options["stubbed"] = sorted(stubs)
    if seen is not None:
        options["stream_offset"] = seen  # what a successful run (or its retry) consumes
    store.create_run(run_id=run_id, pipeline=pipeline.name, source=str(Path(pipeline.source).resolve())
                     if pipeline.source else "", environment=pipeline.environment,
                     sets=redact_data({"set": dict(sets or {}), "var": dict(var_sets or {})}, secrets_of(pipeline)),
                     scheduled_at=started, config=redact_data(config, secrets_of(pipeline)),  # run history: masked
                     manifest_hash=pipeline_hash(pipeline), options=options)
    presets: dict[str, Preset] = {}
    forced: frozenset[str] = frozenset()
    if only or from_task:
        selected = set(only) if only else _descendants(pipeline, from_task) | (
            {pipeline.finalizer.name} if pipeline.finalizer else set())
        forced = frozenset(only) if only else frozenset({from_task})  # type: ignore[arg-type]
        needed = _ancestors(pipeline, selected)
        for t in pipeline.all_tasks():
            if t.name in selected:
                continue
            prev = store.last_success(pipeline.name, t.name) if t.name in needed else None
            if prev is not None:
                presets[t.name] = Preset(rules.SUCCEEDED, prev.return_value, prev.branch_case,
                                       prev.reused_from or prev.run_id, True)
            else:
                presets[t.name] = Preset(rules.NOT_EXECUTED, record=True)
    result = _execute(store, pipeline, steps, state_dir, project_root, run_id, started, config, presets, {}, forced,
                      injected, parallelism, observer, webhook_url, graph_attempt=1, started=started, streams=streams,
                      stub_returns=stubs)
    if streams and pipeline.trigger and result.state == rules.SUCCEEDED:
        streams.consume(pipeline.trigger.stream, seen)
    return result


def _streams(store: StateStore, pipeline: Pipeline) -> Any:
    if not pipeline.streams:
        return None
    from dagc.engine.streams import Streams

    return Streams(store, pipeline)


def triggered(pipeline: Pipeline, state_dir: Path) -> bool:
    """Whether the root's WHEN SYSTEM$STREAM_HAS_DATA(...) holds now (True for a pipeline without a trigger)."""
    if pipeline.trigger is None:
        return True
    from dagc.engine.streams import Streams

    return Streams(StateStore(state_dir), pipeline).has_data(pipeline.trigger.stream)


def _execute(store: StateStore, pipeline: Pipeline, steps: Any, state_dir: Path, project_root: Path, run_id: str,
             scheduled_at: float, config: dict[str, Any], presets: dict[str, Preset], attempts: dict[str, int],
             forced: frozenset[str], injected: frozenset[str], parallelism: int | None, observer: Observer | None,
             webhook_url: str | None, *, graph_attempt: int, started: float, streams: Any = None,
             stub_returns: Mapping[str, Any] | None = None) -> RunResult:
    observer = observer or NullObserver()
    from dagc.engine.state import process_token
    from dagc.engine.workers import MARKER_ENV

    pool = WorkerPool(parallelism or default_parallelism(), project_root,
                      extra_env={MARKER_ENV: f"{os.getpid()}:{process_token(os.getpid())}"})
    rc = RunContext(pipeline=pipeline, steps=steps, store=store, state_dir=state_dir, run_id=run_id,
                    scheduled_at=scheduled_at, config=config, environment=pipeline.environment, pool=pool,
                    fail_tasks=injected, webhook_url=webhook_url or os.environ.get(WEBHOOK_ENV),
                    observer=observer, streams=streams if streams is not None else _streams(store, pipeline),
                    stub_returns=dict(stub_returns or {}))
    retries_left = pipeline.retries or 0
    current: Scheduler | None = None
    try:
        with _sigint(lambda: current.request_cancel() if current else None):
            pool.prestart(len(pipeline.roots()) or 1)
            while True:
                current = Scheduler(rc, graph_attempt, presets, attempts, forced)
                state = current.execute()
                first_task, first_error = current.first_failure
                if state != rules.FAILED or retries_left <= 0 or current.cancelled:
                    break
                # graph-level auto retry: like retry-last, keep what succeeded
                retries_left -= 1
                graph_attempt += 1
                store.set_graph_attempt(run_id, graph_attempt)
                # --only/--from selections stay as they were: forced tasks run again, tasks outside
                # the selection stay not executed
                presets, attempts = _kept(current.views), dict(current.attempts)
    finally:
        pool.shutdown()
    store.finish_run(run_id, state, first_task, first_error)
    assert current is not None
    return RunResult(run_id, state, graph_attempt, dict(current.views), first_task, first_error, started, time.time())


def _kept(views: Mapping[str, TaskView]) -> dict[str, Preset]:
    kept = {n: Preset(rules.SUCCEEDED, v.return_value, v.branch_case, v.reused_from)
            for n, v in views.items() if v.state == rules.SUCCEEDED and not v.is_finalizer}
    kept.update({n: Preset(rules.NOT_EXECUTED) for n, v in views.items() if v.state == rules.NOT_EXECUTED})
    return kept


def retry_run(
    run: RunRecord | str | None,
    *,
    project_root: Path,
    state_dir: Path,
    pipeline: Pipeline | None = None,
    force: bool = False,
    parallelism: int | None = None,
    observer: Observer | None = None,
    fail_tasks: Sequence[str] = (),
    webhook_url: str | None = None,
) -> RunResult:
    """Snowflake's retry-last, locally: re-run failed and not-run tasks of a failed/cancelled run.

    `pipeline` is the pipeline as it is now (loaded by the caller from the run's source with the
    run's environment and --set values); if its hash differs from the run's, refuse unless `force`.
    """
    from dagc.engine.project import load_pipeline

    store = StateStore(state_dir)
    store.reconcile()
    rec = _find_run(store, run)
    if rec.state == rules.SUCCEEDED:
        raise DagcError(f"run {rec.run_id} of {rec.pipeline} succeeded: there is nothing to retry",
                        "start a new run with `dagc run`")
    if rec.state == rules.RUNNING:
        raise DagcError(f"run {rec.run_id} of {rec.pipeline} is still running (engine pid {rec.engine_pid})",
                        "wait for it to end, or stop it with Ctrl-C, then retry")
    if pipeline is None:
        if not rec.source or not Path(rec.source).exists():
            raise DagcError(f"the pipeline file of run {rec.run_id} ({rec.source or 'unknown'}) no longer exists")
        from dagc.redact import MASK

        masked = [f"--{flag} {k}" for flag, group in (("set", "set"), ("var", "var"))
                  for k, v in (rec.sets.get(group) or {}).items() if MASK in str(v)]
        if masked:  # run history never holds a secret, so a retry cannot repeat it
            raise DagcError(f"run {rec.run_id} was started with {', '.join(masked)} set to a secret, which run "
                            "history does not keep; retry cannot supply it again",
                            "start a new run with `dagc run` and the same --set/--var values")
        pipeline = load_pipeline(rec.source, env=rec.environment, sets=rec.sets.get("set"),
                                 var_sets=rec.sets.get("var"))
    if pipeline.name != rec.pipeline:
        raise DagcError(f"run {rec.run_id} belongs to pipeline {rec.pipeline}, not {pipeline.name}")
    now_hash = pipeline_hash(pipeline)
    if now_hash != rec.manifest_hash and not force:
        raise DagcError(
            f"pipeline {rec.pipeline} changed since run {rec.run_id} (definition hash {rec.manifest_hash} -> "
            f"{now_hash}); Snowflake refuses to retry a run of a graph that was modified, and so does dagc",
            "start a new run with `dagc run`, or pass --force to retry with the current definition anyway",
        )
    injected = _fail_tasks(fail_tasks, pipeline)
    steps = resolve_steps(pipeline, project_root)
    latest = store.latest_attempts(rec.run_id)
    attempts = {n: a.attempt for n, a in latest.items()}
    fin = pipeline.finalizer.name if pipeline.finalizer else None
    presets = {n: Preset(rules.SUCCEEDED, a.return_value, a.branch_case, a.reused_from)
               for n, a in latest.items() if a.state == rules.SUCCEEDED and n != fin}
    # a run started with --only/--from keeps its selection: outside it stays not executed
    presets.update({n: Preset(rules.NOT_EXECUTED) for n, a in latest.items() if a.state == rules.NOT_EXECUTED})
    forced = frozenset(rec.options.get("only") or ([rec.options["from"]] if rec.options.get("from") else []))
    forced = frozenset(n for n in forced if n in {t.name for t in pipeline.all_tasks()})
    graph_attempt = rec.graph_attempt + 1
    store.claim_run(rec.run_id, graph_attempt)
    config = _unmask(rec.config, _encode_config(pipeline))
    result = _execute(store, pipeline, steps, state_dir, project_root, rec.run_id, rec.scheduled_at, config,
                      presets, attempts, forced, injected, parallelism, observer, webhook_url,
                      graph_attempt=graph_attempt, started=time.time())
    streams = _streams(store, pipeline)
    if streams and pipeline.trigger and result.state == rules.SUCCEEDED:  # the retry consumed the stream
        streams.consume(pipeline.trigger.stream, rec.options.get("stream_offset"))
    return result


def _find_run(store: StateStore, run: RunRecord | str | None) -> RunRecord:
    if isinstance(run, RunRecord):
        run = run.run_id  # read it again: the record may be stale
    if run is None:
        rec = store.latest_run()
        if rec is None:
            raise DagcError(f"no runs recorded in {store.state_dir}", "start one with `dagc run PIPELINE`")
        return rec
    rec = store.get_run(run)
    if rec is None:
        raise DagcError(f"no run {run!r} in {store.state_dir}", "list runs with `dagc runs`")
    return rec
