"""A shuffling sampler whose order depends only on the seed and the epoch, so a resumed run replays it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import torch
from torch.utils.data import RandomSampler


class EpochSeededRandomSampler(RandomSampler):
    """``RandomSampler`` whose permutation is a function of (``seed_everything``'s seed, epoch).

    Lightning calls ``set_epoch`` before each epoch, so a run resumed at epoch k draws the same order
    an uninterrupted run drew at epoch k (a plain RandomSampler's generator restarts instead). Under
    DDP Lightning replaces any ``RandomSampler`` by a ``DistributedSampler``, which is seeded the same way.
    """

    def __init__(self, data_source, seed: int | None = None) -> None:
        super().__init__(data_source)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of ``epoch``."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        seed = self.seed if self.seed is not None else int(os.environ.get("PL_GLOBAL_SEED", 0))
        generator = torch.Generator().manual_seed(seed * 1_000_003 + self.epoch)
        yield from torch.randperm(len(self.data_source), generator=generator).tolist()
