"""DigitsDataModule: scikit-learn's real 8x8 digits through the same interface as MNIST."""

import pytest
import torch

from latent_probe.data import DigitsDataModule
from latent_probe.errors import ConfigError


def test_splits_shapes_and_names():
    data = DigitsDataModule()
    data.setup()
    assert {name: len(data.dataset(name)) for name in ("train", "val", "test")} == {"train": 1257, "val": 180, "test": 360}
    assert data.image_shape == data.input_shape == (1, 8, 8)
    assert data.num_classes == 10 and data.class_names[9] == "9"
    x, y = next(iter(data.train_dataloader()))
    assert x.shape == (64, 1, 8, 8) and y.dtype == torch.int64


def test_splits_are_disjoint_and_reproducible():
    first, again = DigitsDataModule(seed=1), DigitsDataModule(seed=1)
    first.setup()
    again.setup()
    images = torch.cat([first.dataset(s).tensors[0] for s in ("train", "val", "test")]).flatten(1)
    assert len(images) == 1797
    assert torch.equal(first.dataset("test").tensors[0], again.dataset("test").tensors[0])


def test_normalization_uses_training_pixels_and_inverts():
    raw, normalized = DigitsDataModule(normalize=False, flatten=True), DigitsDataModule()
    raw.setup()
    normalized.setup()
    pixels = raw.dataset("train").tensors[0]
    assert raw.input_shape == (64,) and pixels.shape == (1257, 64) and pixels.min() == 0 and pixels.max() == 1
    train = normalized.dataset("train").tensors[0]
    assert abs(train.mean().item()) < 1e-4 and abs(train.std().item() - 1) < 1e-3
    assert torch.allclose(normalized.data_spec().to_pixels(train).flatten(1), pixels, atol=1e-5)


def test_sizes_must_leave_training_images():
    with pytest.raises(ConfigError, match="test_size"):
        DigitsDataModule(test_size=1700, val_size=100).setup()
