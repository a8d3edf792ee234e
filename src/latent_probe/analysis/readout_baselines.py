"""A linear read-out's held-out accuracy per layer with its bootstrap interval, beside its baselines.

The baselines: the same read-out on the raw inputs, and on the same layers at their initial (untrained) weights; the
*selectivity* of a layer is its accuracy minus the untrained one's (what training added over what the architecture
alone makes linearly decodable). All are scored on the same held-out samples, and all intervals come from one
bootstrap (``bootstrap.py``): the same resamples for every row, so a selectivity's interval is that of the paired
difference.

What the intervals cover: which held-out samples were drawn, for read-outs fitted once. They do not include the
spread of the fit itself (another training sample, another optimizer run): refitting per resample would cost a
thousand fits per layer, and the held-out interval is the usual report of a classifier's test accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latent_probe.analysis.bootstrap import LEVEL, RESAMPLES, Estimate, bootstrap_estimates


@dataclass
class ReadoutScores:
    """Which held-out samples each fitted read-out got right (a bool per sample; the same samples everywhere)."""

    layers: dict[str, np.ndarray]
    inputs: np.ndarray | None = None  # the read-out on the raw inputs
    untrained: dict[str, np.ndarray] | None = None  # the same layers at their initial weights


@dataclass
class ReadoutEstimates:
    """Accuracies with their intervals: per layer, on the raw inputs, per untrained layer, and the selectivities."""

    layers: dict[str, Estimate]
    inputs: Estimate | None = None
    untrained: dict[str, Estimate] | None = None
    selectivity: dict[str, Estimate] | None = None  # trained minus untrained, for the layers that have both


def estimate_readouts(scores: ReadoutScores, resamples: int = RESAMPLES, seed: int = 0,
                      level: float = LEVEL) -> ReadoutEstimates:
    """Every accuracy of ``scores`` and every selectivity with its percentile bootstrap interval (one shared draw)."""
    rows: dict[tuple[str, str], np.ndarray] = {("layer", p): c for p, c in scores.layers.items()}
    if scores.inputs is not None:
        rows[("inputs", "")] = scores.inputs
    for path, correct in (scores.untrained or {}).items():
        rows[("untrained", path)] = correct
        if path in scores.layers:  # the paired difference, per sample: +1, 0 or -1
            rows[("selectivity", path)] = scores.layers[path].astype(np.float64) - correct.astype(np.float64)
    estimates = bootstrap_estimates(rows, resamples, seed, level)

    def part(kind: str) -> dict[str, Estimate]:
        return {path: value for (k, path), value in estimates.items() if k == kind}

    untrained = None if scores.untrained is None else part("untrained")
    return ReadoutEstimates(part("layer"), estimates.get(("inputs", "")), untrained,
                            None if untrained is None else part("selectivity"))
