"""Write small MNIST-format (IDX) files that torchvision reads as if they were the real thing."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

IMAGES_MAGIC, LABELS_MAGIC = 0x00000803, 0x00000801  # IDX: unsigned bytes, 3 and 1 dimensions


def write_idx(path: Path, magic: int, array: np.ndarray) -> None:
    """One uncompressed IDX file: big-endian magic, then each dimension, then the uint8 data."""
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", size) for size in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def digit_like_images(labels: np.ndarray, seed: int) -> np.ndarray:
    """28x28 uint8 images a model can learn: a bright bar whose row depends on the class, plus noise."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, size=(len(labels), 28, 28))
    for i, label in enumerate(labels):
        row = 3 + 2 * int(label)
        images[i, row : row + 2, 4:24] = 255
    return images.astype(np.uint8)


def write_fake_mnist(root: Path, n_train: int = 256, n_test: int = 64, dataset: str = "MNIST") -> Path:
    """Write ``<root>/<dataset>/raw/{train,t10k}-*`` as torchvision expects (uncompressed); returns ``root``."""
    raw = root / dataset / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        labels = np.arange(n) % 10
        write_idx(raw / f"{prefix}-images-idx3-ubyte", IMAGES_MAGIC, digit_like_images(labels, seed))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", LABELS_MAGIC, labels)
    return root


@pytest.fixture
def fake_mnist(tmp_path_factory) -> Path:
    """A folder holding small MNIST IDX files (256 train, 64 test images) under ``MNIST/raw/``."""
    return write_fake_mnist(tmp_path_factory.mktemp("mnist"))


def fake_mnist_args(root: Path) -> list[str]:
    """Command-line options that point an MNIST config at fake files under ``root``, never downloading."""
    return ["--data.root", str(root), "--data.download", "false", "--data.val_size", "32"]
