"""The local engine: runs a pipeline's IR on this machine with Snowflake's task-graph rules.

Layout (a file per concern):
  rules.py      Snowflake's documented rules for when a task runs (pure functions)
  state.py      run and task-attempt records in SQLite (WAL) under the state directory
  scheduler.py  the event loop that walks the graph, starts workers, enforces timeouts, cancels
  workers.py    the engine side of the worker pool (separate processes, replaced when killed)
  worker.py     the worker process: imports one step module, runs the step, reports back
  backend.py    the local Backend steps see through StepContext (tables, session, models, notify)
  tables.py     DuckDB-backed tables in one file under the state directory
  session.py    a Snowpark local-testing session kept in step with the DuckDB tables
  sqlemu.py     `sql:` tasks: Snowflake SQL on DuckDB (fakesnow) plus SYSTEM$ emulation
  registry.py   the local model registry
  notify.py     the local notifications log (+ optional webhook POST)
  project.py    locating the state directory, resolving steps, hashing the pipeline
  api.py        run / retry entry points the CLI calls

Nothing here is imported by `dagc validate`.
"""
