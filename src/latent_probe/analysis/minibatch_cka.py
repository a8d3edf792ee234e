"""Linear CKA of wide layers: the unbiased minibatch HSIC estimator (Nguyen, Raghu & Kornblith, ICLR 2021, eq. 3).

The samples are cut into groups of ``b``; for each group and layer the ``b x b`` linear Gram matrix ``K`` with its
diagonal zeroed (``K~``) gives the unbiased HSIC of Song et al. (2012)

    HSIC_1(K, L) = [tr(K~ L~) + 1'K~1 1'L~1 / ((b-1)(b-2)) - 2/(b-2) 1'K~L~1] / (b (b-3)),

and CKA = mean_k HSIC_1(K_k, L_k) / sqrt(mean_k HSIC_1(K_k, K_k) mean_k HSIC_1(L_k, L_k)). Each group's HSIC_1 is
unbiased, so the mean over groups converges to the population HSIC; memory is ``b`` rows per layer plus ``b^2`` per layer,
whatever the width. The sums over groups are float64 and reduced across processes by a sum.

Groups are cut in the order the samples arrive: ``b`` consecutive samples of each process's share. The engine streams
them in a seeded random order (``sharding.visiting_order``, strided over processes by ``sharding.shard``), so that every
group is a random draw from the split: in dataset order, a split sorted by class would give groups of one class and
estimate the within-class similarity. A group's Gram matrix needs the features of all its members in one process, and
no grouping keeps every group within one process for every number of processes, so the estimate on W processes
averages other groups than on one: it differs by the estimator's noise, not its expectation.
Each process's last group, fewer than ``b`` samples, is left out (``count - groups * b`` samples): the estimator
divides by ``b - 3``, and groups of one size keep the mean over groups equally weighted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from latent_probe.analysis.cka import normalised

MIN_GROUP = 4  # HSIC_1 divides by b - 3


def initial_hsic(layers: int) -> dict[str, torch.Tensor]:
    """Zero float64 sums: ``count`` (samples seen), ``groups`` (groups used) and ``hsic`` (layers x layers, summed HSIC_1)."""
    return {"count": torch.zeros((), dtype=torch.float64), "groups": torch.zeros((), dtype=torch.float64),
            "hsic": torch.zeros(layers, layers, dtype=torch.float64)}


def gram_matrices(group: Sequence[torch.Tensor]) -> torch.Tensor:
    """``(layers, b, b)`` float32 linear Gram matrices of one group (``group[i]``: ``(b, p_i)``), diagonals zeroed.

    HSIC_1 does not change when a constant is added to every feature, so the features are centred first
    (``centred_features``); their products are then taken in float32 (float64 matrix products are 4x slower on a CPU
    and 30-60x on most GPUs): centred, the Gram entries carry no mean to cancel, so float32 costs about 1e-6 of relative
    precision, far below the estimator's own noise.
    """
    grams = torch.empty(len(group), len(group[0]), len(group[0]), device=group[0].device)
    for gram, x in zip(grams, map(centred_features, group)):
        torch.mm(x, x.T, out=gram)  # straight into the stack: no copy of the products
    grams.diagonal(dim1=-2, dim2=-1).zero_()
    return grams


def centred_features(values: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``values`` as ``(n, features)`` in ``dtype``, shifted by their first row (a constant layer becomes exactly zero),
    then centred: linear HSIC and CKA do not change, and the Gram entries no longer carry the mean's size (a feature's
    mean cancels in its shift by one sample's value, taken before any rounding to ``dtype``)."""
    x = values.reshape(len(values), -1).to(torch.promote_types(values.dtype, dtype))
    x = (x - x[:1]).to(dtype)  # shifted in the finer of the two precisions (a new tensor: the caller's stay as they are)
    return x.sub_(x.mean(dim=0, keepdim=True))


def unbiased_hsic(grams: torch.Tensor) -> torch.Tensor:
    """HSIC_1 of every pair of layers of one group, ``(layers, layers)``, from zero-diagonal ``(layers, b, b)`` Grams."""
    b = grams.shape[-1]
    if b < MIN_GROUP:
        raise ValueError(f"a group of {b} samples is too small for the unbiased HSIC (at least {MIN_GROUP})")
    flat = grams.reshape(len(grams), -1)
    # Products and row sums in the Grams' dtype (float32 ones: about 1e-7 relative per sum), combined in float64: the
    # three terms below cancel each other, so their difference is taken where rounding cannot reach it.
    traces = (flat @ flat.T).to(torch.float64)  # tr(K~ L~) = sum of K~ * L~ (both symmetric)
    row_sums = grams.sum(dim=-1).to(torch.float64)  # K~ 1
    totals = row_sums.sum(dim=-1)  # 1' K~ 1
    return (traces + torch.outer(totals, totals) / ((b - 1) * (b - 2)) - 2 * (row_sums @ row_sums.T) / (b - 2)) / (b * (b - 3))


class GroupCutter:
    """Cuts a stream of batches into groups of ``size`` consecutive samples, holding the rows of the unfinished group."""

    def __init__(self, size: int) -> None:
        if size < MIN_GROUP:
            raise ValueError(f"group size {size} is below {MIN_GROUP}")
        self.size = size
        self.pending: list[torch.Tensor] = []

    def add(self, batch: Sequence[torch.Tensor]) -> list[list[torch.Tensor]]:
        """Append one batch (``batch[i]``: layer ``i``'s rows) and return the groups it completes."""
        values = [v.reshape(len(v), -1) for v in batch]
        self.pending = [torch.cat(pair) for pair in zip(self.pending, values)] if self.pending else values
        groups = []
        while self.pending and len(self.pending[0]) >= self.size:
            groups.append([v[: self.size] for v in self.pending])
            self.pending = [v[self.size :] for v in self.pending] if len(self.pending[0]) > self.size else []
        return groups


def fold_groups(stats: dict[str, torch.Tensor], cutter: GroupCutter, batch: Sequence[torch.Tensor]) -> None:
    """Add one batch to ``stats`` (``initial_hsic``): its samples counted, the HSIC_1 of the groups it completes summed."""
    rows = {len(values) for values in batch}
    if len(rows) != 1:
        raise ValueError(f"every layer must hold the same samples; got {sorted(rows)} rows")
    # New tensors, not in-place sums: states made under torch.inference_mode cannot be updated in place outside it.
    stats["count"] = stats["count"] + rows.pop()
    for group in cutter.add(batch):
        stats["hsic"] = stats["hsic"] + unbiased_hsic(gram_matrices(group)).to(stats["hsic"].device)
        stats["groups"] = stats["groups"] + 1


def minibatch_cka(stats: dict[str, torch.Tensor]) -> np.ndarray:
    """The ``layers x layers`` CKA matrix from summed HSIC_1 (the means' common factor cancels); NaN for a constant layer."""
    if float(stats["groups"]) < 1:
        raise ValueError("no complete group of samples was folded in")
    return normalised(stats["hsic"].cpu().to(torch.float64).numpy())


__all__ = ["MIN_GROUP", "GroupCutter", "centred_features", "fold_groups", "gram_matrices", "initial_hsic", "minibatch_cka", "unbiased_hsic"]
