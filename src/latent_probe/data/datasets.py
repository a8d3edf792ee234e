"""``DatasetDataModule``: any ``torch.utils.data.Dataset`` (torchvision, your own class) as a datamodule, from a config."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils.data import Dataset, Subset

from latent_probe.data.base import ProbeableDataModule
from latent_probe.data.collate import named_collate
from latent_probe.dataspec import INFER, DataSpec
from latent_probe.errors import ConfigError, check_range
from latent_probe.registry import register_datamodule


@register_datamodule()
class DatasetDataModule(ProbeableDataModule):
    """Train, validation and test splits from any datasets given in the config (``FakeData``, ``ImageFolder``, ``CIFAR10``,
    a class of your own); items may be ``(input, label, ...)`` tuples or dicts, read by the probes' data spec.

    Example::

        data:
          class_path: DatasetDataModule
          init_args:
            train: {class_path: torchvision.datasets.FakeData, init_args: {size: 512, image_size: [1, 28, 28], num_classes: 10,
                    transform: {class_path: torchvision.transforms.ToTensor}}}
            val_fraction: 0.2

    Args:
        train: the training dataset.
        val: the validation dataset; when missing, ``val_fraction`` of ``train`` is held out (seeded by ``seed``).
        test: the test dataset; when missing, the validation split serves as the test split too.
        val_fraction: share of ``train`` held out for validation when ``val`` is not given.
        batch_size: batch size of every dataloader.
        num_workers: worker processes of every dataloader.
        seed: seed of the held-out split.
        collate_fn: how items become batches, for training and for the probes: a callable (an import path such as
            ``latent_probe.data.collate.pad_sequences``), a registered name (``pad_sequences``: pads variable-length
            token ids and adds ``attention_mask``), or None for torch's default (items of one shape).
    """

    def __init__(
        self,
        train: Dataset,
        val: Dataset | None = None,
        test: Dataset | None = None,
        val_fraction: float = 0.1,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        collate_fn: str | Callable | None = None,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        check_range("val_fraction", val_fraction, minimum=0, maximum=0.9)
        for name, dataset in (("train", train), ("val", val), ("test", test)):
            if dataset is not None and not hasattr(type(dataset), "__getitem__"):
                raise ConfigError(f"DatasetDataModule: {name} must be a Dataset (indexable), got {type(dataset).__name__}")
        self.given = {"train": train, "val": val, "test": test}
        self.val_fraction, self.seed = val_fraction, seed
        self.collate_fn = named_collate(collate_fn)

    def setup(self, stage: str | None = None) -> None:
        """Hold out the validation split (once) when no validation dataset was given."""
        if self.splits:
            return
        train, val, test = self.given["train"], self.given["val"], self.given["test"]
        if val is None:
            size = len(train)  # type: ignore[arg-type]
            held_out = int(round(self.val_fraction * size))
            if held_out == 0 or held_out >= size:
                raise ConfigError(f"DatasetDataModule: val_fraction {self.val_fraction} of {size} training items leaves no "
                                  "validation or no training split. HINT: give `val`, or change val_fraction")
            order = torch.randperm(size, generator=torch.Generator().manual_seed(self.seed)).tolist()
            train, val = Subset(train, order[held_out:]), Subset(train, order[:held_out])
        self.splits = {"train": train, "val": val, "test": test if test is not None else val}

    def data_spec(self) -> DataSpec:
        """Items of any form: keys, shapes and class names are left to ``build_data_spec``, which infers them from the first
        item (``data_spec:`` corrects them)."""
        return DataSpec(self.dataset, INFER, INFER, source=type(self).__name__, collate_fn=self.collate_fn, mask_key=INFER)
