"""The scenario file `dagc init` writes beside the example pipeline (kept here, with the format)."""

from __future__ import annotations

HELLO_SCENARIOS = '''# Scenarios for {name}.yaml: `dagc test` runs each on the local engine in a throw-away state.
# returns: stubs a task (its step is not called) · fail: injects a failure · set: config for the run
pipeline: ../{name}.yaml

scenarios:
  greets:
    set: {{greeting: hi}}
    expect: {{greet: SUCCEEDED, count: SUCCEEDED, run: SUCCEEDED}}
  greet_fails:
    fail: [greet]
    expect: {{greet: FAILED, count: SKIPPED, run: FAILED}}
  stubbed_greeting:
    returns: {{greet: {{greeting: "a stubbed greeting"}}}}
    expect: {{count: SUCCEEDED, run: SUCCEEDED}}
'''


def scenario_file(name: str) -> str:
    return HELLO_SCENARIOS.format(name=name)
