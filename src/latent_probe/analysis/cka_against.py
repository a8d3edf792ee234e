"""Exact linear CKA of one representation against several others of the same samples (a layer now against the same
layer at earlier moments), from ``analysis/cka.py``'s statistics: those of the one are computed once, so each other
costs two products (``X^T Y`` and ``Y^T Y``) instead of three."""

from __future__ import annotations

import math

import torch

from latent_probe.analysis.cka import cka_matrix, fold, initial_statistics


class CkaAgainst:
    """``CkaAgainst(x)(y)``: linear CKA of ``x`` ``(n, p)`` with ``y`` ``(n, q)``, in float64 on ``x``'s device."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x.to(torch.float64)
        self.stats = statistics(self.x)

    def __call__(self, y: torch.Tensor | None) -> float:
        """CKA with ``y`` (NaN when ``y`` is None, or when either is constant: undefined)."""
        if y is None:
            return math.nan
        y = y.to(self.x.device, torch.float64)
        own = statistics(y)
        return float(cka_matrix({"count": self.stats["count"], "sum:0": self.stats["sum:0"], "sum:1": own["sum:0"],
                                 "cross:0:0": self.stats["cross:0:0"], "cross:0:1": self.x.T @ y, "cross:1:1": own["cross:0:0"]})[0, 1])


def statistics(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """``analysis/cka.py``'s statistics of one layer ``x`` (count, sum, ``X^T X``), on ``x``'s device."""
    stats = {key: value.to(x.device) for key, value in initial_statistics([x.shape[1]]).items()}
    fold(stats, [x])
    return stats


__all__ = ["CkaAgainst"]
