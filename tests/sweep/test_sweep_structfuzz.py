"""Structure-aware fuzz (issue 15): mutated YAML trees end in a pipeline or a clean diagnostic,
never an exception or a hang. The suite runs a small count; bench/bench_fuzz.py runs 20,000."""

from __future__ import annotations

import os
from collections import Counter

from structfuzz import check_one, inputs, project

N_INPUTS = int(os.environ.get("DAGC_STRUCTFUZZ_INPUTS", "300"))


def test_structure_mutated_pipelines_never_crash(tmp_path):
    path = project(tmp_path)
    outcomes: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for text, env in inputs(N_INPUTS):
        outcome, _ = check_one(path, text, env)
        outcomes[outcome] += 1
        examples.setdefault(outcome, text[:2000])
    bad = {k: v for k, v in outcomes.items() if k not in ("valid", "invalid")}
    assert not bad, "\n\n".join(f"{k} x{v}:\n{examples[k]}" for k, v in bad.items())
    assert outcomes["valid"] > 0 and outcomes["invalid"] > N_INPUTS // 3, outcomes
