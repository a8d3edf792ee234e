"""The frozen ``DataSpec``: what the probes (and, given one, the models) know about a run's data and how they call
its model. ``build_data_spec`` (``inference.py``) makes the complete value once per run; nothing changes it after."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import Dataset, default_collate

from latent_probe.dataspec.batches import Batch, Inputs, Key, is_stacked, split_batch
from latent_probe.errors import ConfigError, check_memory, require_choice

SPLITS = ("train", "val", "test")


class _Infer:
    """Marks a key that ``build_data_spec`` infers from the data (a datamodule's ``data_spec()`` may leave keys so)."""

    def __repr__(self) -> str:
        return "<inferred>"


INFER: Any = _Infer()
INFERRED_KEYS = ("input_key", "label_key", "mask_key")  # the fields INFER may stand in; a built spec has none left


@dataclass(frozen=True)
class Normalization:
    """Pixels in [0, 1] ``(n, C, H, W)`` <-> model inputs ``(n, *input_shape)`` through ``(x - mean) / std``."""

    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)

    def _stats(self, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
        mean, std = torch.tensor(self.mean, dtype=torch.float32), torch.tensor(self.std, dtype=torch.float32)
        return mean.reshape(-1, 1, 1).expand(channels, 1, 1), std.reshape(-1, 1, 1).expand(channels, 1, 1)

    def to_inputs(self, pixels: torch.Tensor) -> torch.Tensor:
        """Model inputs of images in [0, 1]."""
        mean, std = self._stats(pixels.shape[1])
        return (pixels.float() - mean.to(pixels.device)) / std.to(pixels.device)

    def to_pixels(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] of model inputs shaped as images."""
        mean, std = self._stats(images.shape[1])
        return (images.float() * std.to(images.device) + mean.to(images.device)).clamp(0, 1)


@dataclass(frozen=True)
class DataSpec:
    """What the probes know about a run's data and how they call its model: a frozen value, complete once built.

    Attributes:
        datasets: ``split -> Dataset`` (``train``, ``val``, ``test``); raises ``ConfigError`` for a missing split.
        input_key: where the input is in an item: a position, a dict key, a tuple of dict keys (the model
            is then called with them as keyword arguments), or None when an item *is* the input.
        label_key: where the label is (position or key), or None when items have no label.
        input_shape: one sample's model input shape (tensor inputs only).
        image_shape: ``(C, H, W)`` of one input seen as an image, or None when inputs are not images.
        class_names: one name per class index, or None (probes then use the index).
        normalization: how inputs were made of pixels in [0, 1]; None: unknown (pictures are stretched).
        source: what the spec was built from, for messages (``MNISTDataModule``, ``inferred from ...``).
        num_classes: how many classes the data has, when it says (a datamodule's ``num_classes``, a dataset's ``classes``).
        given: the ``data_spec:`` keys the config set, checked against the data by ``check_given``.
        collate_fn: how items become a batch: the data's own (the config's, a datamodule's, a DataLoader's), None for
            torch's default.
        mask_key: the batch key of the padding mask token pooling respects (``attention_mask``), or None.

    A datamodule's ``data_spec()`` may leave ``input_key``, ``label_key`` and ``mask_key`` as ``INFER``;
    ``build_data_spec`` then reads them (and unknown shapes, classes, normalisation) from the data at once.
    """

    datasets: Callable[[str], Dataset]
    input_key: Key | tuple[str, ...] | None = 0
    label_key: Key | None = 1
    input_shape: tuple[int, ...] | None = None
    image_shape: tuple[int, int, int] | None = None
    class_names: tuple[str, ...] | None = None
    normalization: Normalization | None = None
    source: str = "the data"
    num_classes: int | None = None
    given: frozenset[str] = frozenset()
    collate_fn: Callable | None = None
    mask_key: str | None = None
    # Datasets read so far, so that a datamodule's ``*_dataloader()`` runs once per split: no value of the spec, only
    # a memo of ``datasets`` (specs replaced from one another share it, as they share ``datasets``).
    _cache: dict[str, Dataset] = field(default_factory=dict, repr=False, compare=False)

    # ----- data ----------------------------------------------------------------------------
    def dataset(self, split: str) -> Dataset:
        """The dataset of ``split``."""
        require_choice("split", split, SPLITS)
        if split not in self._cache:
            self._cache[split] = self.datasets(split)
        return self._cache[split]

    @property
    def collate(self) -> Callable[[list], Any]:
        """The data's own ``collate_fn`` (the config's, a datamodule's or a DataLoader's), else torch's ``default_collate``."""
        return self.collate_fn or default_collate

    def fetch(self, dataset: Dataset, indices: Sequence[int]) -> Batch:
        """The items at ``indices`` as one batch: one ``__getitems__`` call where the dataset stacks batches itself."""
        indices = list(indices)
        getitems = getattr(dataset, "__getitems__", None)
        items = getitems(indices) if getitems is not None else [dataset[i] for i in indices]
        return self.split_batch(items if is_stacked(items, len(indices)) else self.collated(list(items)))

    def collated(self, items: list) -> Any:
        """``items`` batched by the data's collate; items of different shapes under torch's default are a ``ConfigError``."""
        collate = self.collate
        try:
            return collate(items)
        except RuntimeError as error:
            if collate is not default_collate:
                raise
            raise ConfigError(f"the items of {self.source} differ in shape and torch's default collate cannot batch them "
                              f"({str(error).strip().splitlines()[0]}). HINT: give the data a padding collate_fn, "
                              "e.g. DatasetDataModule(collate_fn=pad_sequences)") from None

    def split_batch(self, batch: Any) -> Batch:
        """Inputs, labels and padding mask of a collated batch, by ``input_key``, ``label_key`` and ``mask_key``."""
        return split_batch(batch, self.input_key, self.label_key, self.mask_key)

    def check_given(self) -> None:
        """Raise when a ``data_spec:`` value contradicts the data: the image's size, the channels of mean/std, the classes."""
        if "image_shape" in self.given and self.input_shape is not None and math.prod(self.image_shape) != math.prod(self.input_shape):
            raise ConfigError(
                f"data_spec.image_shape {list(self.image_shape)} holds {math.prod(self.image_shape)} values, but one input of "
                f"{self.source} has {math.prod(self.input_shape)} (shape {list(self.input_shape)}). HINT: fix data_spec.image_shape"
            )
        if "mean" in self.given and self.normalization is not None and self.image_shape is not None:
            channels = self.image_shape[0]
            for key, values in (("mean", self.normalization.mean), ("std", self.normalization.std)):
                if len(values) not in (1, channels):
                    raise ConfigError(f"data_spec.{key} has {len(values)} values {list(values)}, but the images of {self.source} "
                                      f"have {channels} channel(s). HINT: give one value, or one per channel")
        self.check_class_names(self.num_classes, self.source)

    def check_class_names(self, count: int | None, owner: str) -> None:
        """Raise when the config's ``class_names`` do not name exactly ``count`` classes (the data's or the model's, if known)."""
        if "class_names" in self.given and count is not None and len(self.class_names or ()) != count:
            names = list(self.class_names or ())
            shown = names if len(names) <= 12 else [*names[:12], "..."]
            raise ConfigError(f"data_spec.class_names has {len(names)} names {shown}, but {owner} has {count} classes. "
                              "HINT: give one name per class")

    # ----- the model -----------------------------------------------------------------------
    def call(self, model: Callable, inputs: Inputs) -> Any:
        """``model(x)`` for a tensor input, ``model(**x)`` for a dict of inputs."""
        return model(**inputs) if isinstance(inputs, dict) else model(inputs)

    # ----- pictures ------------------------------------------------------------------------
    @property
    def tensor_inputs(self) -> bool:
        """Whether the model input is one tensor (not a dict of keyword arguments)."""
        return not isinstance(self.input_key, tuple)

    def to_pixels(self, inputs: torch.Tensor | None, image_shape: Sequence[int] | None = None) -> torch.Tensor | None:
        """Images ``(n, C, H, W)`` in [0, 1] of model inputs, or None when the inputs are not images.

        ``image_shape`` (default: the spec's) is the shape of one image. With a known normalisation the
        pixels are exact; else each image is stretched to [0, 1] for display.
        """
        shape = tuple(image_shape or self.image_shape or ())
        if len(shape) != 3 or not isinstance(inputs, torch.Tensor) or len(inputs) == 0 or inputs[0].numel() != math.prod(shape):
            return None
        images = inputs.reshape(len(inputs), *shape).float()
        if self.normalization is not None:
            return self.normalization.to_pixels(images)
        low, high = images.amin(dim=(1, 2, 3), keepdim=True), images.amax(dim=(1, 2, 3), keepdim=True)
        return (images - low) / (high - low).clamp_min(1e-12)

    def to_inputs(self, pixels: torch.Tensor) -> torch.Tensor:
        """Model inputs ``(n, *input_shape)`` of images in [0, 1] (identity when the normalisation is unknown)."""
        inputs = self.normalization.to_inputs(pixels) if self.normalization is not None else pixels.float()
        return inputs.reshape(len(pixels), *(self.input_shape or pixels.shape[1:]))

    # ----- what a probe needs --------------------------------------------------------------
    def require_labels(self, probe: str) -> None:
        """Raise at setup when a probe needs labels that the data does not have."""
        if self.label_key is None:
            raise ConfigError(f"probe {probe!r} needs labels, but the items of {self.source} have none. HINT: set data_spec.label_key")

    def require_image_shape(self, probe: str, given: Sequence[int] | None = None) -> tuple[int, int, int]:
        """``(C, H, W)``: the probe's own ``image_shape`` if given, else the spec's; raise when neither is known."""
        shape = given or self.image_shape
        if shape is None:
            raise ConfigError(
                f"probe {probe!r} needs the inputs' image shape, which {self.source} does not give. "
                "HINT: set data_spec.image_shape (or the probe's image_shape), e.g. [1, 28, 28]"
            )
        shape = as_image_shape(shape, "image_shape")
        if self.input_shape is not None and math.prod(self.input_shape) != math.prod(shape):
            raise ConfigError(
                f"probe {probe!r}: image shape {list(shape)} does not hold the model's {math.prod(self.input_shape)} "
                f"input values (input shape {list(self.input_shape)}). HINT: fix image_shape"
            )
        return shape

    def class_name(self, label: int) -> str:
        """The name of class ``label`` (its number when no names are known)."""
        names = self.class_names or ()
        return str(names[label]) if 0 <= label < len(names) else str(label)

    def names_for(self, labels: torch.Tensor | None) -> list[str]:
        """Class names for ``0 .. max(labels)`` (numbers where unnamed)."""
        count = int(labels.max()) + 1 if labels is not None and len(labels) else 1
        return [self.class_name(c) for c in range(max(count, len(self.class_names or ())))]




def as_image_shape(shape: Sequence[int] | None, what: str) -> tuple[int, int, int]:
    """``(C, H, W)`` from a ``(C, H, W)`` or ``(H, W)`` sequence of positive ints; anything else raises."""
    values = tuple(shape or ())
    if len(values) == 2:
        values = (1, *values)
    if len(values) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
        raise ConfigError(f"{what} must be [C, H, W] or [H, W] of positive integers, got {list(shape or [])}")
    check_memory(what, list(values), math.prod(values) * 4, "one float32 image")
    return values  # type: ignore[return-value]
