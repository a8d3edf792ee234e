"""Percentile bootstrap intervals of means of per-sample scores (a read-out's accuracy: the mean of "got it right").

Every score vector of one call is resampled with the *same* draws, so that the interval of a difference of two means
(trained minus untrained: selectivity) is the interval of the paired difference, not of two independent draws.

The draw: ``numpy.random.default_rng(seed)`` gives the resamples block after block, each block
``integers(0, n, size=(rows, n))`` with ``rows = max(1, BLOCK_VALUES // n)`` (the last block shorter): memory stays
bounded on whole splits, and ``resampled_indices`` is the one place that says it. A resample's mean is its counts
(how often each sample was drawn) times the scores, one matrix product per block for all score vectors at once.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import NamedTuple

import numpy as np

RESAMPLES = 1000
LEVEL = 0.95
BLOCK_VALUES = 2**20  # drawn indices held at a time (8 MiB of int64)


class Estimate(NamedTuple):
    """A mean and the ends of its percentile bootstrap interval."""

    value: float
    low: float
    high: float


def resampled_indices(n: int, resamples: int = RESAMPLES, seed: int = 0) -> Iterator[np.ndarray]:
    """Blocks ``(rows, n)`` of sample indices drawn with replacement, ``resamples`` rows in all (see the module's draw)."""
    rng = np.random.default_rng(seed)
    rows = max(1, BLOCK_VALUES // max(n, 1))
    for start in range(0, resamples, rows):
        yield rng.integers(0, n, size=(min(rows, resamples - start), n))


def bootstrap_means(scores: np.ndarray, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """``(k, resamples)`` means of each row of ``scores`` ``(k, n)`` over the same resampled samples, in float64."""
    scores = np.asarray(scores, dtype=np.float64)
    n = scores.shape[1]
    blocks = []
    for indices in resampled_indices(n, resamples, seed):
        rows = len(indices)
        # Counts per (resample, sample): one bincount over the block, offset so that each resample has its own bins.
        counts = np.bincount((indices + n * np.arange(rows)[:, None]).ravel(), minlength=rows * n).reshape(rows, n)
        blocks.append(scores @ counts.T.astype(np.float64) / n)
    return np.concatenate(blocks, axis=1) if blocks else np.zeros((len(scores), 0))


def percentile_intervals(means: np.ndarray, level: float = LEVEL) -> np.ndarray:
    """``(k, 2)``: the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of each row of bootstrap ``means``."""
    return np.quantile(means, [(1 - level) / 2, (1 + level) / 2], axis=1, method="linear").T


def bootstrap_estimates(scores: dict[Hashable, np.ndarray], resamples: int = RESAMPLES, seed: int = 0,
                        level: float = LEVEL) -> dict[Hashable, Estimate]:
    """The mean of each score vector (all of one length) with its percentile bootstrap interval, on shared resamples."""
    if not scores:
        return {}
    matrix = np.stack([np.asarray(s, dtype=np.float64) for s in scores.values()])
    intervals = percentile_intervals(bootstrap_means(matrix, resamples, seed), level)
    return {key: Estimate(float(row.mean()), float(low), float(high))
            for key, row, (low, high) in zip(scores, matrix, intervals)}
