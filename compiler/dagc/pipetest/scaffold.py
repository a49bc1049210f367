"""The scenario file `dagc init` writes beside the example pipeline (kept here, with the format)."""

from __future__ import annotations

HELLO_SCENARIOS = '''# Scenarios for {name}.yaml: `dagc test` runs each on the local engine in a throw-away state.
# returns: stubs a task (its step is not called) · fail: injects a failure · set: config for the run
# expect: task and run states · expect_returns: what tasks returned (these keys, these values)
pipeline: ../{name}.yaml

scenarios:
  greets:
    set: {{greeting: hi}}
    expect: {{greet: SUCCEEDED, count: SUCCEEDED, run: SUCCEEDED}}
    expect_returns: {{greet: {{greeting: "hi, dagc"}}, count: {{letters: 6}}}}
  greet_fails:
    fail: [greet]
    expect: {{greet: FAILED, count: SKIPPED, run: FAILED}}
  stubbed_greeting:
    returns: {{greet: {{greeting: "a stubbed greeting"}}}}
    expect: {{count: SUCCEEDED, run: SUCCEEDED}}
    expect_returns: {{count: {{letters: 16}}}}
'''


def scenario_file(name: str) -> str:
    return HELLO_SCENARIOS.format(name=name)
