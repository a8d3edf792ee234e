"""scikit-learn's 8x8 handwritten digits: real images that ship with scikit-learn, no download."""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits

from latent_probe.data.images import ImageDataModule
from latent_probe.errors import check_range
from latent_probe.registry import register_datamodule

PIXEL_MAX = 16.0  # load_digits' pixels are counts 0..16


@register_datamodule()
class DigitsDataModule(ImageDataModule):
    """scikit-learn's 1,797 real 8x8 handwritten digits (``load_digits``), split into train/val/test by a seed.

    ``image_shape`` is ``(1, 8, 8)``; ``input_shape`` is that, or ``(64,)`` with ``flatten``. Pixels are
    scaled to [0, 1]; ``normalize`` then uses the training split's pixel mean and standard deviation.

    Args:
        val_size: images held out for validation.
        test_size: images held out for testing.
        normalize: ``(x - mean) / std``; false keeps pixels in [0, 1].
        flatten: give models flat ``(64,)`` vectors instead of ``(1, 8, 8)`` images.
        seed: seed of the split (independent of ``seed_everything``).
        batch_size: batch size of every dataloader.
        num_workers: unused (the data is held in memory); kept for the common interface.
    """

    image_shape = (1, 8, 8)
    num_classes = 10
    class_names = tuple(str(digit) for digit in range(10))

    def __init__(
        self,
        val_size: int = 180,
        test_size: int = 360,
        normalize: bool = True,
        flatten: bool = False,
        seed: int = 0,
        batch_size: int = 64,
        num_workers: int = 0,
    ) -> None:
        super().__init__(normalize, flatten, seed, batch_size, num_workers)
        check_range("val_size", val_size, minimum=1)
        check_range("test_size", test_size, minimum=1)
        self.save_hyperparameters()
        self.val_size, self.test_size = val_size, test_size

    def setup(self, stage: str | None = None) -> None:
        """Load the digits once and split them."""
        if self.splits:
            return
        digits = load_digits()
        pixels = torch.as_tensor(digits.images, dtype=torch.float32) / PIXEL_MAX
        labels = torch.as_tensor(digits.target, dtype=torch.int64)
        test, val, train = self.split_off(len(pixels), {"test_size": self.test_size, "val_size": self.val_size})
        train_pixels = pixels[train]
        self.use_pixel_stats(train_pixels.mean().item(), train_pixels.std().item())
        self.splits = {
            name: self.in_memory_split(pixels[index], labels[index])
            for name, index in (("train", train), ("val", val), ("test", test))
        }
