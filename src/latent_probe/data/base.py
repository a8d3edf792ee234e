"""The base of the registered datamodules: splits as datasets, seeded shuffling, and the probes' ``data_spec()``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from latent_probe.data.in_memory import InMemoryDataset, keep_batch
from latent_probe.data.sampler import EpochSeededRandomSampler, ResumableDataLoader, batches_done_this_epoch
from latent_probe.dataspec import SPLITS, DataSpec
from latent_probe.errors import check_range, require_choice


class ProbeableDataModule(pl.LightningDataModule):
    """A LightningDataModule that tells probes how to read it through ``data_spec()``.

    Subclasses fill ``self.splits`` (``{"train": Dataset, "val": ..., "test": ...}``) in ``setup``
    and set ``input_shape``, ``num_classes`` and ``class_names``. Items are ``(input, label)``.
    """

    input_shape: tuple[int, ...] = ()
    num_classes: int = 0
    class_names: Sequence[str] = ()

    def __init__(self, batch_size: int = 32, num_workers: int = 0) -> None:
        super().__init__()
        check_range("batch_size", batch_size, minimum=1)
        check_range("num_workers", num_workers, minimum=0)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.splits: dict[str, Dataset] = {}
        self.collate_fn: Callable | None = None  # the loaders' own collate (None: torch's default); the probes batch with it too

    def dataset(self, split: str) -> Dataset:
        """The dataset of ``split`` (``train``, ``val`` or ``test``), setting up the datamodule if needed."""
        require_choice("split", split, SPLITS)
        if split not in self.splits:
            self.setup("fit" if split in ("train", "val") else "test")
        return self.splits[split]

    def data_spec(self) -> DataSpec:
        """How the probes read this data: ``(input, label)`` items, the input shape and the class names."""
        return DataSpec(datasets=self.dataset, input_key=0, label_key=1, input_shape=tuple(self.input_shape) or None,
                        class_names=tuple(self.class_names) or None, source=type(self).__name__, collate_fn=self.collate_fn)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        dataset = self.dataset(split)
        sampler = EpochSeededRandomSampler(dataset) if shuffle else None
        loader_class = ResumableDataLoader if shuffle else DataLoader
        if isinstance(dataset, InMemoryDataset):
            # One tensor indexing per batch: worker processes would only add pickling overhead.
            return loader_class(dataset, batch_size=self.batch_size, sampler=sampler, collate_fn=keep_batch)
        return loader_class(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=self.collate_fn,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches; resumed mid-epoch, the rest of that epoch's batches first."""
        loader = self._loader("train", shuffle=True)
        loader.sampler.resume_after(batches_done_this_epoch(self.trainer, len(loader)) * self.batch_size)
        return loader

    def val_dataloader(self) -> DataLoader:
        """Validation batches in dataset order."""
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        """Test batches in dataset order."""
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        """Test batches, for ``latent-probe predict``."""
        return self._loader("test", shuffle=False)


def split_indices(n: int, fractions: Sequence[float], seed: int) -> list[torch.Tensor]:
    """Shuffle ``range(n)`` with ``seed`` and cut it into consecutive parts of the given fractions."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    sizes = [int(round(f * n)) for f in fractions]
    parts, start = [], 0
    for size in sizes:
        parts.append(order[start : start + size])
        start += size
    parts.append(order[start:])
    return parts
