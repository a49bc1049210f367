"""`dagc schedule`: a local scheduler with Snowflake's rules (logic in dagc.ops.localsched)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import click

from dagc.cli.local import state_dir_option

BANNER = ("dagc schedule runs pipelines on this machine on their schedules, with Snowflake's rules "
          "(no catch-up, overlap, suspend after failures).\nIt is for trying a schedule and for one-machine "
          "setups: in production, Snowflake is the scheduler (dagc deploy).")


@click.command()
@click.argument("pipelines", nargs=-1, type=click.Path())
@click.option("--env", help="Environment overlay to apply to every pipeline.")
@click.option("--max-runs", type=click.IntRange(1), help="Stop after this many runs of each pipeline.")
@click.option("--time-scale", type=float, default=1.0, hidden=True,
              help="Scheduler seconds per real second (demos and tests).")
@click.option("-j", "--parallel", "parallelism", type=click.IntRange(1, 256), help="Tasks at once within a run.")
@state_dir_option
def schedule(pipelines: tuple[str, ...], env: str | None, max_runs: int | None, time_scale: float,
             parallelism: int | None, state_dir: str | None) -> int:
    """Keep running: start each pipeline on its schedule (cron or interval) on the local engine.

    PIPELINES are files or folders (default: pipelines/); pipelines without a schedule are left out.
    Ctrl-C or SIGTERM stops cleanly: no new runs, runs in flight finish; twice stops at once.

    \b
    Examples:
      dagc schedule                                 # every scheduled pipeline under pipelines/
      dagc schedule pipelines/inference.yaml --env dev
      dagc schedule pipelines/training.yaml --max-runs 3
    """
    from dagc.diagnostics import UsageError
    from dagc.engine.project import find_project_root, load_pipeline, state_dir_for
    from dagc.ops.cron import describe
    from dagc.ops.localsched import LocalScheduler, ScaledClock, engine_runner, serve

    files = _pipeline_files(pipelines)
    loaded = [load_pipeline(f, env) for f in files]
    scheduled = [p for p in loaded if p.schedule is not None]
    if not scheduled:
        raise UsageError("none of these pipelines has a `schedule:`", "add one (e.g. schedule: 1d), or run it with `dagc run`")
    root = find_project_root(files[0])
    sdir = state_dir_for(root, state_dir)
    if time_scale <= 0:
        raise UsageError("--time-scale must be positive")
    clock = ScaledClock(time_scale)
    click.echo(BANNER)
    sched = LocalScheduler(scheduled, now=clock.now(), runner=engine_runner(root, sdir, parallelism=parallelism),
                           on_event=_print_event, max_runs=max_runs)
    for e in sched.entries.values():
        click.echo(f"  {e.pipeline.name}: {describe(e.pipeline.schedule)}, overlap "
                   f"{getattr(e.pipeline.overlap, 'value', 'none')}; first run {e.next_fire:%Y-%m-%d %H:%M:%S} UTC")
    for p in loaded:
        if p.schedule is None:
            click.echo(f"  {p.name}: no schedule, left out")
    stop = threading.Event()
    signals = {"n": 0}

    def on_signal(signum: int, _frame: Any) -> None:
        signals["n"] += 1
        if signals["n"] > 1:
            raise KeyboardInterrupt
        click.echo(f"dagc schedule: {signal.Signals(signum).name}: stopping (no new runs; runs in flight finish; "
                   "again to stop at once)")
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        serve(sched, clock, stop=stop)
        while sched.busy():
            sched.wait_idle(clock.now(), timeout=0.5)
    except KeyboardInterrupt:
        click.echo("dagc schedule: stopped at once; runs in flight are closed as failed by the next dagc command")
        return 130
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    total = sum(e.runs for e in sched.entries.values())
    click.echo(f"dagc schedule: stopped after {total} run(s)")
    return 0 if not stop.is_set() else 0


def _print_event(e: Any) -> None:
    at = f"{e.at:%H:%M:%S}"
    if e.kind == "started":
        click.echo(f"{at} {e.pipeline}: started the {e.fire_time:%H:%M:%S} run (late {e.lag_s:.2f} s)")
    elif e.kind == "finished":
        click.echo(f"{at} {e.pipeline}: run {e.run_id} {e.state}" + (f"  {e.detail}" if e.detail else ""))
    elif e.kind in ("skipped", "missed"):
        click.echo(f"{at} {e.pipeline}: {e.kind} the {e.fire_time:%H:%M:%S} run: {e.detail}")
    elif e.kind == "suspended":
        click.echo(f"{at} {e.pipeline}: {e.detail}")


def _pipeline_files(args: tuple[str, ...]) -> list[Path]:
    from dagc.cli.front import expand_paths
    from dagc.pipetest.spec import is_scenario_file

    if not args:
        from dagc.frontend.project import find_project_root

        args = (str(Path(find_project_root(Path.cwd())) / "pipelines"),)
    return [f for f in expand_paths(args) if not is_scenario_file(f)]
