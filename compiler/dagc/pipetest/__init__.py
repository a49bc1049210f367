"""`dagc test`: scenario files beside the pipelines, run on the local engine in a throw-away state.

  spec.py    read and check a scenario file (positions from the front end's loader; no engine)
  run.py     run each scenario on the local engine, compare with `expect:`
  output.py  text, github, json and junit output
"""
