"""CKA on a sample with 95 % bootstrap intervals (basic or percentile), linear or RBF kernel (Kornblith et al., 2019).

On a sample of m rows, CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) with HSIC(K, L) = tr(K H L H) (the paper's form;
its factor (m - 1)^-2 cancels). A bootstrap resample draws m rows with replacement: row r drawn ``w_r`` times. Its
HSIC is that of the Gram matrix's rows and columns repeated, which depends on the weights ``w`` only through

    S(w) = w'(K o L)w - (2/m) sum_r w_r (K w)_r (L w)_r + (w'K w)(w'L w) / m^2      (o: elementwise product)

(expand sum_rs w_r w_s (K~_rs)(L~_rs) with K~ the Gram matrix centred with the weights ``w``). So every resample of
every pair costs matrix products with the B x m weight matrix, never a resampled copy of the data: for L layers,
L + L (L + 1) / 2 products of (B x m) by (m x m). They run in float32 on Gram matrices centred in float64 (centring
changes no S(w): the weighted centring absorbs it), which keeps 6 digits, far finer than any interval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from latent_probe.analysis.cka import normalised
from latent_probe.analysis.minibatch_cka import centred_features
from latent_probe.errors import require_choice

KERNELS = ("linear", "rbf")
INTERVALS = ("basic", "percentile")  # bootstrap intervals: see bootstrap_interval
LEVEL = 0.95
CHUNK = 256  # resamples per block of products: B x m weights and L products of them stay small


def gram_matrices(outputs: Sequence[torch.Tensor], kernel: str = "linear", rbf_sigma: float = 1.0) -> torch.Tensor:
    """``(layers, m, m)`` float64 centred Gram matrices ``H K H`` of the sample's layers (``outputs[i]``: ``(m, p_i)``).

    ``rbf``: ``K = exp(-d^2 / (2 sigma^2))`` with ``sigma = rbf_sigma x`` the median distance between the sample's
    examples (Kornblith et al.'s heuristic and code: the median of all squared distances, the zero diagonal included;
    where that median is 0, the median of the non-zero ones, so that a layer with many equal rows still has a scale).
    """
    require_choice("kernel", kernel, KERNELS)
    grams = []
    for values in outputs:
        x = centred_features(values, torch.float64)
        gram = x @ x.T if kernel == "linear" else rbf_gram(x, rbf_sigma)
        grams.append(centred(gram))
    return torch.stack(grams)


def rbf_gram(x: torch.Tensor, rbf_sigma: float) -> torch.Tensor:
    """The RBF Gram matrix of rows ``x`` with the median heuristic (see ``gram_matrices``); all ones for equal rows."""
    squared = x.square().sum(dim=1)
    distances = (squared[:, None] + squared[None, :] - 2 * x @ x.T).clamp_min(0.0).fill_diagonal_(0.0)
    median = middle(distances.flatten())
    if median <= 0:
        positive = distances[distances > 0]
        median = middle(positive) if len(positive) else torch.ones((), dtype=x.dtype)
    return torch.exp(-distances / (2 * rbf_sigma**2 * median))


def middle(values: torch.Tensor) -> torch.Tensor:
    """The median as NumPy takes it (the mean of the two middle values of an even count; ``torch.median`` takes the lower)."""
    ordered, half = values.sort().values, len(values) // 2
    return ordered[half] if len(values) % 2 else (ordered[half - 1] + ordered[half]) / 2


def centred(gram: torch.Tensor) -> torch.Tensor:
    """``H K H``: rows and columns of a Gram matrix centred."""
    gram = gram - gram.mean(dim=0, keepdim=True)
    return gram - gram.mean(dim=1, keepdim=True)


def sample_cka(grams: torch.Tensor) -> np.ndarray:
    """The ``layers x layers`` CKA of the sample from its centred Gram matrices (float64; NaN for a constant layer)."""
    flat = grams.reshape(len(grams), -1)
    return normalised((flat @ flat.T).cpu().numpy())


def resample_weights(rows: int, resamples: int, seed: int) -> torch.Tensor:
    """``(resamples, rows)`` counts: how often each row is drawn in each resample of ``rows`` draws with replacement."""
    draws = torch.randint(rows, (resamples, rows), generator=torch.Generator().manual_seed(seed))
    return torch.zeros(resamples, rows).scatter_add_(1, draws, torch.ones(resamples, rows))


def resampled_hsic(grams: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``(B, layers, layers)`` HSIC ``S(w)`` of every resample (the rows of ``weights``) and pair, in float32."""
    count, layers = grams.shape[-1], len(grams)
    kernels = grams.to(torch.float32)
    weighted = [weights @ kernel for kernel in kernels]  # K w, for every resample at once
    quadratic = torch.stack([(weights * kw).sum(dim=1) for kw in weighted], dim=1)  # w'K w
    hsic = torch.empty(len(weights), layers, layers, device=weights.device)
    for i in range(layers):
        for j in range(i, layers):
            value = ((weights @ (kernels[i] * kernels[j])) * weights).sum(dim=1)
            value -= (2 / count) * (weights * weighted[i] * weighted[j]).sum(dim=1)
            value += quadratic[:, i] * quadratic[:, j] / count**2
            hsic[:, i, j] = hsic[:, j, i] = value
    return hsic


def bootstrap_interval(grams: torch.Tensor, resamples: int, seed: int, level: float = LEVEL,
                       method: str = "basic") -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper ``layers x layers`` bounds of the sample's CKA's bootstrap interval at ``level`` (95 %).

    ``percentile``: the resampled CKAs' quantiles. ``basic`` (the default): those quantiles reflected about the
    sample's CKA, ``[2c - q_hi, 2c - q_lo]`` within [0, 1]. CKA on m rows is biased upwards (more so with more features
    per row), and a resample, with its repeated rows, more so again: the percentile interval then sits above the value
    it should cover (in Gaussian simulations with a known CKA, 27 % coverage at 32 features and 1,000 rows, 0 % at 128),
    while the basic one corrects that first-order bias (95 % and 69 %). NaN where a layer is constant.
    """
    require_choice("method", method, INTERVALS)
    weights = resample_weights(grams.shape[-1], resamples, seed).to(grams.device)  # drawn on the CPU: any device, one draw
    values = torch.cat([resampled_cka(grams, block) for block in weights.split(CHUNK)])
    tails = torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64, device=grams.device)
    low, high = torch.quantile(values.to(torch.float64), tails, dim=0).cpu().numpy()  # NaN stays NaN: no CKA
    if method == "percentile":
        return low, high
    centre = sample_cka(grams)
    return np.clip(2 * centre - high, 0.0, 1.0), np.clip(2 * centre - low, 0.0, 1.0)


def resampled_cka(grams: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``(B, layers, layers)`` CKA of each resample: S_ij / sqrt(S_ii S_jj), NaN where a self-HSIC is not positive."""
    hsic = resampled_hsic(grams, weights)
    diagonal = torch.diagonal(hsic, dim1=1, dim2=2)
    norms = torch.where(diagonal > 0, diagonal, torch.nan).sqrt()
    return hsic / (norms[:, :, None] * norms[:, None, :])


__all__ = ["INTERVALS", "KERNELS", "LEVEL", "bootstrap_interval", "gram_matrices", "resample_weights", "resampled_cka", "sample_cka"]
