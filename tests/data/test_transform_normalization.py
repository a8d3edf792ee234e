"""Pictures of RGB data normalised by its own transform, through the real CLI: the ``Normalize`` in the dataset's
transform gives the pixels back (sprites and thumbnails in true colour), and the config's ``data_spec.mean/std`` win."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.datasets import FakeData
from torchvision.transforms import ToTensor

MEAN, STD = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]
SHAPE = [3, 8, 8]
LAYER = "act1"


def fake_data(size: int, offset: int) -> dict:
    steps = [{"class_path": "torchvision.transforms.ToTensor"},
             {"class_path": "torchvision.transforms.Normalize", "init_args": {"mean": MEAN, "std": STD}}]
    return {"class_path": "torchvision.datasets.FakeData",
            "init_args": {"size": size, "image_size": SHAPE, "num_classes": 3, "random_offset": offset,
                          "transform": {"class_path": "torchvision.transforms.Compose", "init_args": {"transforms": steps}}}}


def raw_images(size: int = 20, offset: int = 500) -> torch.Tensor:
    """The test split's images as pixels in [0, 1], before any normalisation."""
    data = FakeData(size=size, image_size=tuple(SHAPE), num_classes=3, random_offset=offset, transform=ToTensor())
    return torch.stack([data[i][0] for i in range(size)])


def fit(run_cli, tmp_path, *extra: str):
    data = {"train": fake_data(40, 0), "val": fake_data(20, 500), "test": fake_data(20, 500), "batch_size": 8}
    probes = [{"class_path": "EmbeddingDumper", "init_args": {"layers": [LAYER], "strict": True, "metrics": False}}]
    result = run_cli("fit", "--model", "MLPClassifier", "--model.in_features", str(math.prod(SHAPE)), "--model.hidden_sizes", "[16]",
                     "--model.num_classes", "3", "--data", json.dumps({"class_path": "DatasetDataModule", "init_args": data}),
                     "--probes", json.dumps(probes), "--experiment", "rgb", *extra)
    assert result.code == 0, result.err[-3000:]
    return tmp_path / "runs" / "rgb" / "version_0" / "probes" / "embedding_dumper" / "fit_end"


def sprite_tiles(folder) -> np.ndarray:
    """The projector sprite's 8x8 tiles ``(n, 8, 8, 3)``, in sample order."""
    (path,) = folder.rglob("sprite.png")
    sprite = np.asarray(Image.open(path).convert("RGB")).astype(int)
    per_side = sprite.shape[0] // SHAPE[1]
    tiles = sprite.reshape(per_side, SHAPE[1], per_side, SHAPE[2], 3).transpose(0, 2, 1, 3, 4).reshape(-1, SHAPE[1], SHAPE[2], 3)
    return tiles


def as_uint8(images: torch.Tensor) -> np.ndarray:
    return (images.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(int)


def found_block(picture: np.ndarray, block: np.ndarray) -> bool:
    """Whether ``block`` appears in ``picture`` (to within one level per channel)."""
    height, width = block.shape[:2]
    for row, col in np.argwhere(np.abs(picture - block[0, 0]).max(axis=-1) <= 1):
        part = picture[row : row + height, col : col + width]
        if part.shape == block.shape and np.abs(part - block).max() <= 1:
            return True
    return False


def test_normalize_in_the_transform_gives_true_colours(run_cli, tmp_path):
    folder = fit(run_cli, tmp_path)
    expected = as_uint8(raw_images())
    tiles = sprite_tiles(folder)[: len(expected)]
    assert np.abs(tiles - expected).max() <= 1, "sprites show the un-normalised pixels"
    # Thumbnails: the last sample is drawn on top, in its own colours, enlarged 3x (8x8 images on a 1000-pixel canvas).
    thumbnails = np.asarray(Image.open(folder / f"{LAYER}_thumbnails.png").convert("RGB")).astype(int)
    assert found_block(thumbnails, expected[-1].repeat(3, axis=0).repeat(3, axis=1))


@pytest.mark.parametrize("given", [{"mean": [0.0], "std": [1.0]}])
def test_the_configs_mean_and_std_win(given, run_cli, tmp_path):
    folder = fit(run_cli, tmp_path, "--data_spec", json.dumps(given))
    normalised = (raw_images() - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
    tiles = sprite_tiles(folder)[: len(normalised)]
    assert np.abs(tiles - as_uint8(normalised)).max() <= 1, "the config's identity normalisation: inputs clamped to [0, 1]"
