"""The quality gate: promote only a model that clears a threshold and does not regress.

The decision is a pure function so it can be tested exhaustively: metric, threshold, direction,
and (when there is a current default model) the champion's value on the same test rows. A model
whose metric equals the threshold clears it. Unknown metric names and a direction that contradicts
the metric (asking for a higher log loss) are configuration errors, raised before any training is
wasted: a gate that silently promotes worse models is worse than no gate.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from steps.ml.evaluate import HIGHER_IS_BETTER

PREFIXES = ("validation", "test")
KNOWN = tuple(f"{p}_{m}" for p in PREFIXES for m in HIGHER_IS_BETTER)


@dataclass(frozen=True)
class GateConfig:
    metric: str
    threshold: float
    higher_is_better: bool
    min_improvement: float = 0.0  # over the default model; negative tolerates a small regression


@dataclass(frozen=True)
class Decision:
    passed: bool
    metric: str
    value: float
    threshold: float
    higher_is_better: bool
    baseline: float | None
    reasons: list[str] = field(default_factory=list)

    @property
    def case(self) -> str:
        return "pass" if self.passed else "fail"

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case, "metric": self.metric, "value": self.value, "threshold": self.threshold,
            "higher_is_better": self.higher_is_better, "baseline": self.baseline, "reasons": self.reasons,
        }


def natural_direction(metric: str) -> bool:
    """True if higher is better for `metric`; ValueError naming the known metrics otherwise."""
    if metric in KNOWN:
        return HIGHER_IS_BETTER[metric.split("_", 1)[1]]
    close = difflib.get_close_matches(str(metric), KNOWN, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"the quality gate does not know the metric {metric!r}{hint} Known metrics: {', '.join(KNOWN)}")


def parse_config(raw: Mapping[str, Any] | None) -> GateConfig:
    """`config.gate` -> GateConfig, with clear errors for anything missing or contradictory."""
    if not isinstance(raw, Mapping) or "metric" not in raw or "threshold" not in raw:
        raise ValueError("config.gate needs at least `metric` and `threshold`, e.g. gate: {metric: test_roc_auc, threshold: 0.75}")
    metric = str(raw["metric"])
    natural = natural_direction(metric)
    try:
        threshold = float(raw["threshold"])
        min_improvement = float(raw.get("min_improvement", 0.0))
    except (TypeError, ValueError):
        raise ValueError(f"config.gate.threshold and min_improvement must be numbers, got {raw.get('threshold')!r}, {raw.get('min_improvement')!r}") from None
    if math.isnan(threshold):
        raise ValueError("config.gate.threshold is NaN")
    higher = raw.get("higher_is_better", natural)
    if not isinstance(higher, bool):
        raise ValueError(f"config.gate.higher_is_better must be true or false, got {higher!r}")
    if higher != natural:
        raise ValueError(
            f"config.gate says {'higher' if higher else 'lower'} is better for {metric}, but for "
            f"{metric.split('_', 1)[1]} {'higher' if natural else 'lower'} is better; fix higher_is_better "
            "or the gate would promote worse models"
        )
    return GateConfig(metric, threshold, higher, min_improvement)


def decide(gate: GateConfig, metrics: Mapping[str, float], baseline: Mapping[str, float] | None = None) -> Decision:
    """Pass iff the metric clears the threshold and, with a baseline, improves on it by min_improvement."""
    natural_direction(gate.metric)
    if gate.metric not in metrics:
        raise ValueError(f"the evaluation produced no {gate.metric!r}; it has {', '.join(sorted(metrics))}")
    value = float(metrics[gate.metric])
    reasons: list[str] = []
    better = (lambda a, b: a >= b) if gate.higher_is_better else (lambda a, b: a <= b)
    word = ">=" if gate.higher_is_better else "<="
    passed = True
    if math.isnan(value):
        passed = False
        reasons.append(f"{gate.metric} is NaN")
    elif better(value, gate.threshold):
        reasons.append(f"{gate.metric} {value:.4f} {word} threshold {gate.threshold:.4f}")
    else:
        passed = False
        reasons.append(f"{gate.metric} {value:.4f} misses threshold {gate.threshold:.4f} (needs {word})")
    base = None
    if baseline is not None and gate.metric in baseline and not math.isnan(float(baseline[gate.metric])):
        base = float(baseline[gate.metric])
        target = base + gate.min_improvement if gate.higher_is_better else base - gate.min_improvement
        if not math.isnan(value) and better(value, target):
            reasons.append(f"{gate.metric} {value:.4f} {word} default model's {base:.4f} (min improvement {gate.min_improvement:g})")
        else:
            passed = False
            reasons.append(f"{gate.metric} {value:.4f} does not beat the default model's {base:.4f} (min improvement {gate.min_improvement:g})")
    return Decision(passed, gate.metric, value, gate.threshold, gate.higher_is_better, base, reasons)
