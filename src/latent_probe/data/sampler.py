"""A shuffling sampler whose order depends only on the seed and the epoch, so a resumed run replays it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_warn
from torch.utils.data import DataLoader, RandomSampler


class EpochSeededRandomSampler(RandomSampler):
    """``RandomSampler`` whose permutation is a function of (``seed_everything``'s seed, epoch).

    Lightning calls ``set_epoch`` before each epoch, so a run resumed at epoch k draws the same order
    an uninterrupted run drew at epoch k (a plain RandomSampler's generator restarts instead). A run
    resumed mid-epoch also skips the samples it already trained on (``resume_after``). Under DDP
    Lightning replaces any ``RandomSampler`` by a ``DistributedSampler``, which is seeded the same way.
    """

    def __init__(self, data_source, seed: int | None = None) -> None:
        super().__init__(data_source)
        self.seed, self.epoch, self.skip = seed, 0, 0

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of ``epoch``."""
        self.epoch = epoch

    def resume_after(self, samples: int) -> None:
        """Leave out the first ``samples`` of the next permutation drawn (a mid-epoch resume); later epochs are whole."""
        self.skip = samples

    def effective_seed(self) -> int:
        """The seed the permutations come from: the one given, else ``seed_everything``'s."""
        return self.seed if self.seed is not None else int(os.environ.get("PL_GLOBAL_SEED", 0))

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.effective_seed() * 1_000_003 + self.epoch)
        skip, self.skip = self.skip, 0
        yield from torch.randperm(len(self.data_source), generator=generator)[skip:].tolist()


def batches_done_this_epoch(trainer: pl.Trainer | None, batches_per_epoch: int) -> int:
    """How many batches of the current epoch the checkpoint being resumed had trained on (0 at an epoch's boundary).

    Lightning restores its loop counters before it asks for the train loader, so the loader can start where the
    checkpoint stopped instead of replaying the epoch from its first batch.
    """
    if trainer is None or not trainer.fit_loop.restarting:
        return 0
    done = trainer.fit_loop.epoch_loop.batch_progress.current.completed
    if not 0 < done < batches_per_epoch:
        return 0
    if trainer.world_size > 1:
        # Lightning swaps in a DistributedSampler, which cannot skip: the epoch's order restarts.
        rank_zero_warn(f"resuming mid-epoch ({done} of {batches_per_epoch} batches done) on {trainer.world_size} processes: the "
                       "epoch restarts from its first batch, so the run will not equal an uninterrupted one", category=UserWarning)
    return done


class ResumableDataLoader(DataLoader):
    """A DataLoader over an ``EpochSeededRandomSampler`` that Lightning checkpoints (its ``state_dict`` protocol).

    The state is the seed of the shuffling order, so a resumed run replays the order it was trained on; the
    position within the epoch comes from the trainer's counters (``batches_done_this_epoch``).
    """

    def state_dict(self) -> dict[str, int]:
        """The shuffling seed, saved in Lightning's checkpoint (none once DDP swapped in its own sampler)."""
        return {"seed": self.sampler.effective_seed()} if isinstance(self.sampler, EpochSeededRandomSampler) else {}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Shuffle with the checkpoint's seed."""
        if "seed" in state and isinstance(self.sampler, EpochSeededRandomSampler):
            self.sampler.seed = int(state["seed"])
