"""What the image datamodules share: pixels in [0, 1] to model inputs, and a seeded held-out split."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from latent_probe.data.base import ProbeableDataModule, split_indices
from latent_probe.data.in_memory import InMemoryDataset
from latent_probe.dataspec import DataSpec, Normalization
from latent_probe.errors import ConfigError


@dataclass(frozen=True)
class PixelTransform:
    """Pixels in [0, 1] of shape ``(..., C, H, W)`` to model inputs: ``(x - mean) / std``, then optional flattening.

    A plain picklable object, so it can also serve as a torchvision per-item ``transform`` in workers.
    """

    image_shape: tuple[int, ...]
    mean: float = 0.0
    std: float = 1.0
    flatten: bool = False

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        """Model inputs from one image ``(C, H, W)`` or a batch ``(n, C, H, W)``."""
        inputs = (pixels.float() - self.mean) / self.std
        return inputs.flatten(start_dim=-len(self.image_shape)) if self.flatten else inputs

    def to_pixels(self, inputs: torch.Tensor) -> torch.Tensor:
        """The inverse: a batch of inputs back to images ``(n, C, H, W)`` in [0, 1], e.g. for thumbnails."""
        images = inputs.reshape(len(inputs), *self.image_shape) * self.std + self.mean
        return images.clamp(0, 1)


class ImageDataModule(ProbeableDataModule):
    """Base of the image datamodules: pixels in [0, 1], optional normalization and flattening, seeded splits.

    Subclasses set ``image_shape`` (``(C, H, W)``, whatever ``flatten`` says) and build their splits
    with ``split_off`` and ``in_memory_split``. ``input_shape`` is ``image_shape``, or ``(C*H*W,)`` flattened.
    """

    image_shape: tuple[int, int, int] = (1, 1, 1)

    def __init__(self, normalize: bool, flatten: bool, seed: int, batch_size: int, num_workers: int) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        self.normalize, self.flatten, self.seed = normalize, flatten, seed
        self.input_shape = (math.prod(self.image_shape),) if flatten else tuple(self.image_shape)
        self.transform = PixelTransform(self.image_shape, flatten=flatten)

    def use_pixel_stats(self, mean: float, std: float) -> PixelTransform:
        """Set (and return) the transform, normalizing with ``mean``/``std`` when ``normalize`` is on."""
        if self.normalize:
            self.transform = PixelTransform(self.image_shape, mean, std, self.flatten)
        return self.transform

    def data_spec(self) -> DataSpec:
        """The base spec plus the image shape and the normalisation (known once the splits are set up)."""
        self.prepare_data()
        self.dataset("train")
        normalization = Normalization((float(self.transform.mean),), (float(self.transform.std),))
        return replace(super().data_spec(), image_shape=tuple(self.image_shape), normalization=normalization)

    def split_off(self, n: int, sizes: dict[str, int]) -> list[torch.Tensor]:
        """Seeded random index sets of the given sizes out of ``range(n)``, then the rest (for training)."""
        if sum(sizes.values()) >= n:
            held_out = " + ".join(f"{name} ({size})" for name, size in sizes.items())
            raise ConfigError(f"{held_out} must leave some of the {n} training images for training; make it smaller")
        return split_indices(n, [size / n for size in sizes.values()], self.seed)

    def in_memory_split(self, pixels: torch.Tensor, labels: torch.Tensor) -> InMemoryDataset:
        """A split held as tensors: the transformed pixels (``(n, C, H, W)`` in [0, 1]) and int64 labels."""
        inputs = self.transform(pixels.reshape(len(pixels), *self.image_shape))
        return InMemoryDataset(inputs.contiguous(), labels.long())
