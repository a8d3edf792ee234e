"""A probe's fixed sample of a split: chosen by seed, sharded across DDP ranks, and all-gathered back by dataset index."""

from __future__ import annotations

import math

import torch


def select_indices(dataset_size: int, max_samples: int | None, seed: int = 0) -> torch.Tensor:
    """The dataset indices a probe looks at: all, or a seeded random ``max_samples`` of them, sorted.

    The same seed gives the same points at every epoch and on any number of processes.
    """
    if max_samples is None or max_samples >= dataset_size:
        return torch.arange(dataset_size)
    order = torch.randperm(dataset_size, generator=torch.Generator().manual_seed(seed))
    return order[:max_samples].sort().values


def visiting_order(dataset_size: int, max_samples: int | None, seed: int = 0, shuffled: bool = False) -> torch.Tensor:
    """The order a pass visits its samples in: ``select_indices``, or with ``shuffled`` a seeded permutation of them.

    Statistics of consecutive samples (the minibatch CKA estimator's groups) need the random order: in dataset order a
    split sorted by class would give groups of one class each, and estimate the within-class similarity instead.
    """
    indices = select_indices(dataset_size, max_samples, seed)
    if not shuffled:
        return indices
    return indices[torch.randperm(len(indices), generator=torch.Generator().manual_seed(seed + 1))]


def shard(indices: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """This rank's share of ``indices`` (strided, so shares differ in size by at most one)."""
    return indices[rank::world_size]


def gather_rows(strategy, rows: torch.Tensor, total: int, world_size: int) -> torch.Tensor:
    """All-gather each rank's ``rows`` (first dim = samples), padded to equal size, concatenated by rank.

    Every rank must call this with tensors of the same trailing shape and dtype. Padding rows are
    kept; the caller drops them using the gathered indices (padded with -1).
    """
    if world_size == 1:
        return rows
    per_rank = math.ceil(total / world_size)
    padded = rows.new_full((per_rank, *rows.shape[1:]), -1 if not rows.is_floating_point() else 0)
    padded[: len(rows)] = rows
    gathered = strategy.all_gather(padded)  # (world_size, per_rank, ...)
    return gathered.reshape(world_size * per_rank, *rows.shape[1:])


def order_by_index(gathered_index: torch.Tensor) -> torch.Tensor:
    """Positions of real (non-padding) rows, ordered by dataset index; duplicates are dropped."""
    valid = torch.nonzero(gathered_index >= 0).squeeze(1)
    ordered = valid[torch.argsort(gathered_index[valid], stable=True)]
    keep = torch.ones(len(ordered), dtype=torch.bool)
    keep[1:] = gathered_index[ordered][1:] != gathered_index[ordered][:-1]
    return ordered[keep]


def any_rank(strategy, flag: bool, device: torch.device) -> bool:
    """True on every rank if ``flag`` is true on any rank (a collective: every rank must call it)."""
    value = torch.tensor(float(flag), device=device)
    return bool(strategy.reduce(value, reduce_op="sum").item() > 0)
