"""Features stored compactly: float16 values of each column centred on its mean and divided by its largest deviation,
with the float32 mean and scale beside them (2 bytes per value, 8 per column).

Each column's values then lie in [-1, 1], where float16 keeps 11 significant bits whatever the column's magnitude (a
column of values near 1e5, or near 1e-6, would overflow or lose its digits as plain float16): a value is kept to within
2^-12 of its column's largest deviation. Linear CKA ignores column means (it centres), so ``centred`` is what it reads.
"""

from __future__ import annotations

import numpy as np

DTYPE = np.float16


def compact(features: np.ndarray) -> dict[str, np.ndarray]:
    """``features`` ``(n, p)`` as ``values`` (float16, ``(n, p)``), ``mean`` and ``scale`` (float32, ``(p,)``)."""
    x = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    mean = x.mean(axis=0) if len(x) else np.zeros(x.shape[1])
    deviation = x - mean
    scale = np.abs(deviation).max(axis=0, initial=0.0)
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)  # a constant column stays all zeros
    return {"values": (deviation / scale).astype(DTYPE), "mean": mean.astype(np.float32), "scale": scale}


def centred(values: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The stored features less their column means, in float64 (what linear CKA reads)."""
    return values.astype(np.float64) * scale.astype(np.float64)


def expanded(values: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The stored features in float64, their means added back."""
    return centred(values, scale) + mean.astype(np.float64)


__all__ = ["DTYPE", "centred", "compact", "expanded"]
