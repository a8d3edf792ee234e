"""Linear CKA (Kornblith et al., ICML 2019) from sufficient statistics folded in batch by batch.

For layers ``X`` (n x p) and ``Y`` (n x q) over the same n samples, linear CKA is

    CKA(X, Y) = ||C_XY||_F^2 / (||C_XX||_F ||C_YY||_F),   C_XY = X^T Y - s_X s_Y^T / n,

where ``s_X`` is the column sum of ``X``: ``C_XY`` is the (unnormalised) centred cross-covariance, and
``||C_XY||_F^2 = tr(K H L H)`` with ``K = X X^T``, ``L = Y Y^T``, ``H`` the centring matrix (the HSIC of the paper up to
a factor ``(n - 1)^-2`` that cancels). The statistics are sums over samples, so they can be accumulated over batches
in any order and summed across processes; the result is exact whatever n, in memory that does not grow with n.

This feature-space form needs ``p^2`` numbers per layer and ``p q`` per pair, so it is used only for layers of at most
``MAX_EXACT_WIDTH`` features; wider layers get the minibatch unbiased HSIC estimator (``minibatch_cka.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from latent_probe.errors import ConfigError, require_choice

# Widest layer (stored, pooled features) for the exact feature-space form. Memory in float64: p^2 * 8 bytes per layer
# (2,048 features: 32 MiB) plus p * q * 8 bytes per pair of layers (two 2,048-wide layers: 32 MiB more per pair), and
# the same again while states are reduced across processes. Beyond this a few layers would already need gigabytes.
MAX_EXACT_WIDTH = 2048
METHODS = ("auto", "exact", "minibatch")
# A layer whose centred sum of squares is below this share of its raw sum of squares is constant up to rounding (its
# features vary by less than a millionth of their size): its CKA is undefined, not the noise of the subtraction.
CONSTANT_SHARE = 1e-12


def check_widths(widths: dict[str, int], limit: int = MAX_EXACT_WIDTH) -> None:
    """Raise ``ConfigError`` naming the first layer wider than ``limit`` (exact CKA would not fit in memory)."""
    for layer, width in widths.items():
        if width > limit:
            raise ConfigError(
                f"layer {layer!r} has {width} features, more than the {limit} that exact (feature-space) linear CKA "
                f"keeps ({width}^2 float64 statistics per layer); set method to minibatch or auto (the unbiased "
                "minibatch HSIC estimator), pool it (max_features) or choose narrower layers")


def choose_method(method: str, widths: dict[str, int]) -> str:
    """``exact`` or ``minibatch`` for ``method`` (auto, exact or minibatch) on layers of ``widths``.

    ``auto`` is exact when every layer fits ``MAX_EXACT_WIDTH``, else the estimator for the whole matrix, so that all
    its entries are estimates of one kind; ``exact`` on a layer too wide raises ``ConfigError``.
    """
    require_choice("method", method, METHODS)
    if method == "auto":
        return "exact" if all(width <= MAX_EXACT_WIDTH for width in widths.values()) else "minibatch"
    if method == "exact":
        check_widths(widths)
    return method


def normalised(hsic: np.ndarray, undefined: np.ndarray | None = None) -> np.ndarray:
    """CKA from a symmetric ``layers x layers`` HSIC matrix: ``hsic[i, j] / sqrt(hsic[i, i] hsic[j, j])``.

    Layers with a non-positive self-HSIC, or flagged in ``undefined`` (constant ones), get NaN rows and columns; the
    diagonal is exactly 1 elsewhere (not 1 +- an ulp).
    """
    diagonal = np.diag(hsic).copy()
    bad = ~(diagonal > 0) | (np.zeros(len(diagonal), bool) if undefined is None else undefined)
    norms = np.sqrt(np.where(bad, np.nan, diagonal))
    matrix = hsic / np.outer(norms, norms)
    matrix[~np.isfinite(matrix)] = np.nan
    matrix[np.diag_indices(len(diagonal))] = np.where(bad, np.nan, 1.0)
    return matrix


def pairs(count: int) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)`` with ``i <= j`` of ``count`` layers, in row order (the cross-products kept)."""
    return [(i, j) for i in range(count) for j in range(i, count)]


def initial_statistics(widths: Sequence[int]) -> dict[str, torch.Tensor]:
    """Zero float64 statistics for layers of ``widths``: ``count``, ``sum:i`` (p_i) and ``cross:i:j`` (p_i x p_j, i <= j).

    ``cross:i:i`` is ``X_i^T X_i``; every key is a sum over samples (reduce across processes with a sum).
    """
    stats = {"count": torch.zeros((), dtype=torch.float64)}
    for i, width in enumerate(widths):
        stats[f"sum:{i}"] = torch.zeros(width, dtype=torch.float64)
    for i, j in pairs(len(widths)):
        stats[f"cross:{i}:{j}"] = torch.zeros(widths[i], widths[j], dtype=torch.float64)
    return stats


def fold(stats: dict[str, torch.Tensor], batch: Sequence[torch.Tensor]) -> None:
    """Add one batch, ``batch[i]`` the ``(b, p_i)`` outputs of layer ``i`` on the same ``b`` samples, into ``stats`` (entries replaced)."""
    rows = {len(values) for values in batch}
    if len(rows) != 1:
        raise ValueError(f"every layer must hold the same samples; got {sorted(rows)} rows")
    values = [v.reshape(len(v), -1).to(torch.float64) for v in batch]
    # New tensors, not in-place sums: states made under torch.inference_mode cannot be updated in place outside it.
    stats["count"] = stats["count"] + rows.pop()
    for i, x in enumerate(values):
        stats[f"sum:{i}"] = stats[f"sum:{i}"] + x.sum(dim=0)
    for i, j in pairs(len(values)):
        stats[f"cross:{i}:{j}"] = stats[f"cross:{i}:{j}"] + values[i].T @ values[j]


def centred_square(cross: torch.Tensor, sum_x: torch.Tensor, sum_y: torch.Tensor, n: float) -> float:
    """``||X^T Y - s t^T / n||_F^2`` from the sums: the squared norm of the centred cross-product (unnormalised HSIC)."""
    return float((cross.to(torch.float64) - torch.outer(sum_x.to(torch.float64), sum_y.to(torch.float64)) / n).square().sum())


def is_constant(gram: torch.Tensor, total: torch.Tensor, n: float) -> bool:
    """Whether a layer with ``X^T X`` = ``gram`` and column sums ``total`` is constant up to rounding (CKA undefined)."""
    gram, total = gram.to(torch.float64), total.to(torch.float64)
    return float(gram.trace() - total.square().sum() / n) <= CONSTANT_SHARE * float(gram.trace())


def cka_matrix(stats: dict[str, torch.Tensor], count: int | None = None) -> np.ndarray:
    """The ``layers x layers`` linear CKA matrix (float64, symmetric) from reduced statistics.

    A pair with a constant layer (zero centred covariance) gets NaN: its CKA is undefined.
    """
    layers = sum(1 for key in stats if key.startswith("sum:"))
    n = float(stats["count"]) if count is None else float(count)
    if n <= 0:
        raise ValueError("no samples were folded in")
    squared = np.empty((layers, layers))
    for i, j in pairs(layers):
        squared[i, j] = squared[j, i] = centred_square(stats[f"cross:{i}:{j}"], stats[f"sum:{i}"], stats[f"sum:{j}"], n)
    constant = np.array([is_constant(stats[f"cross:{i}:{i}"], stats[f"sum:{i}"], n) for i in range(layers)], bool)
    return normalised(squared, constant)


__all__ = ["CONSTANT_SHARE", "MAX_EXACT_WIDTH", "METHODS", "centred_square", "check_widths", "choose_method", "cka_matrix", "fold",
           "initial_statistics", "is_constant", "normalised", "pairs"]
