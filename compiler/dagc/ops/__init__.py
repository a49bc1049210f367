"""Operating pipelines the way the team that owns them does: backfills, a local scheduler, run
history across targets. (Per-run config lives in dagc.snowflake.runconfig; pipeline tests in
dagc.pipetest.)

  dates.py     logical dates of a backfill: --from/--to with --every or the pipeline's schedule
  ledger.py    the backfill ledger, in the engine's SQLite state (what makes a backfill resumable)
  backfill.py  one graph run per logical date, on the local engine or on Snowflake (a small interface)
  cron.py      next fire times of a cron or interval schedule (croniter, time zones)
  localsched.py  `dagc schedule`: start pipelines on their schedules with Snowflake's rules
  history.py   run history rows and filters shared by local and Snowflake `dagc runs`

Nothing here is imported by `dagc validate`.
"""
