"""Linear CKA between the layers of two models on the same samples (model A's layers x model B's), from statistics
folded in batch by batch.

For layer ``X_i`` (n x p) of A and ``Y_j`` (n x q) of B, CKA is ``||C_ij||_F^2 / (||C_ii^A||_F ||C_jj^B||_F)`` with
``C_ij = X_i^T Y_j - s_i t_j^T / n`` (``s``, ``t`` the column sums), as in ``analysis/cka.py``. The statistics kept
differ from that file's: each model's own ``X^T X`` per layer and ``X_i^T Y_j`` for every pair across the models, never
the pairs within one model, which this matrix does not show. Every statistic is a float64 sum over samples, so batches
fold in any order and processes reduce by a sum; the result is exact whatever n.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from latent_probe.analysis.cka import centred_square, is_constant
from latent_probe.errors import ConfigError

SIDES = ("a", "b")
# All statistics together, in float64: 8 bytes a number, held twice while reduced across processes. Two models of eight
# 1,024-feature layers take 0.7 GB; eight 2,048-feature ones 2.7 GB, past this cap.
MAX_STATISTICS_BYTES = 2 << 30


def cross_statistics(widths_a: Sequence[int], widths_b: Sequence[int]) -> dict[str, torch.Tensor]:
    """Zero float64 statistics: ``count``; per layer ``sum:a:i`` and ``gram:a:i`` (``X_i^T X_i``), the same for ``b``;
    per pair ``cross:i:j`` (``X_i^T Y_j``). Every entry is a sum over samples."""
    stats = {"count": torch.zeros((), dtype=torch.float64)}
    for side, widths in zip(SIDES, (widths_a, widths_b)):
        for i, width in enumerate(widths):
            stats[f"sum:{side}:{i}"] = torch.zeros(width, dtype=torch.float64)
            stats[f"gram:{side}:{i}"] = torch.zeros(width, width, dtype=torch.float64)
    for i, p in enumerate(widths_a):
        for j, q in enumerate(widths_b):
            stats[f"cross:{i}:{j}"] = torch.zeros(p, q, dtype=torch.float64)
    return stats


def statistics_bytes(widths_a: Sequence[int], widths_b: Sequence[int]) -> int:
    """The bytes ``cross_statistics`` takes for layers of these widths."""
    own = sum(w * (w + 1) for w in (*widths_a, *widths_b))
    return 8 * (1 + own + sum(widths_a) * sum(widths_b))


def check_statistics_size(widths_a: dict[str, int], widths_b: dict[str, int], limit: int = MAX_STATISTICS_BYTES) -> None:
    """Raise ``ConfigError`` when the statistics of these layers would take more than ``limit`` bytes."""
    size = statistics_bytes(list(widths_a.values()), list(widths_b.values()))
    if size > limit:
        widest = max({**widths_a, **widths_b}.items(), key=lambda item: item[1])
        raise ConfigError(f"{len(widths_a)} x {len(widths_b)} layers need {size / 2**30:.1f} GiB of float64 statistics, more than "
                          f"{limit / 2**30:.0f} GiB (the widest, {widest[0]!r}, has {widest[1]} features). HINT: choose fewer "
                          "layers, or pool wide ones further (max_features)")


def fold_cross(stats: dict[str, torch.Tensor], batch_a: Sequence[torch.Tensor], batch_b: Sequence[torch.Tensor]) -> None:
    """Add one batch: ``batch_a[i]`` the ``(b, p_i)`` outputs of A's layer ``i``, ``batch_b[j]`` B's, on the same ``b``
    samples (entries replaced, not changed in place: states made under inference mode cannot be updated in place)."""
    rows = {len(values) for values in (*batch_a, *batch_b)}
    if len(rows) != 1:
        raise ValueError(f"every layer of both models must hold the same samples; got {sorted(rows)} rows")
    sides = {side: [v.reshape(len(v), -1).to(torch.float64) for v in batch] for side, batch in zip(SIDES, (batch_a, batch_b))}
    stats["count"] = stats["count"] + rows.pop()
    for side, values in sides.items():
        for i, x in enumerate(values):
            stats[f"sum:{side}:{i}"] = stats[f"sum:{side}:{i}"] + x.sum(dim=0)
            stats[f"gram:{side}:{i}"] = stats[f"gram:{side}:{i}"] + x.T @ x
    for i, x in enumerate(sides["a"]):
        for j, y in enumerate(sides["b"]):
            stats[f"cross:{i}:{j}"] = stats[f"cross:{i}:{j}"] + x.T @ y


def cross_cka_matrix(stats: dict[str, torch.Tensor]) -> np.ndarray:
    """The ``A layers x B layers`` linear CKA matrix (float64) from reduced statistics; NaN where a layer is constant."""
    count = float(stats["count"])
    if count <= 0:
        raise ValueError("no samples were folded in")
    layers = {side: sum(1 for key in stats if key.startswith(f"sum:{side}:")) for side in SIDES}
    norms = {side: np.array([np.nan if is_constant(stats[f"gram:{side}:{i}"], stats[f"sum:{side}:{i}"], count) else
                             np.sqrt(centred_square(stats[f"gram:{side}:{i}"], stats[f"sum:{side}:{i}"], stats[f"sum:{side}:{i}"],
                                                    count)) for i in range(layers[side])]) for side in SIDES}
    squared = np.array([[centred_square(stats[f"cross:{i}:{j}"], stats[f"sum:a:{i}"], stats[f"sum:b:{j}"], count)
                         for j in range(layers["b"])] for i in range(layers["a"])]).reshape(layers["a"], layers["b"])
    with np.errstate(divide="ignore", invalid="ignore"):
        matrix = squared / np.outer(norms["a"], norms["b"])
    matrix[~np.isfinite(matrix)] = np.nan
    return matrix


__all__ = ["MAX_STATISTICS_BYTES", "check_statistics_size", "cross_cka_matrix", "cross_statistics", "fold_cross",
           "statistics_bytes"]
