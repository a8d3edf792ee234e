"""Reading the image files an influence map is drawn for: PNG/JPEG (0-255) or ``.npy`` arrays in [0, 1]."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from latent_probe.errors import ConfigError

ARRAY_SUFFIXES = (".npy",)


def read_image(path: str | Path, image_shape: tuple[int, int, int]) -> torch.Tensor:
    """A ``(C, H, W)`` image in [0, 1] from an image file (PNG, JPEG, ...: 0–255) or a ``.npy`` array (already in [0, 1])."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"input image file not found: {str(path)!r}")
    channels, height, width = image_shape
    if path.suffix.lower() in ARRAY_SUFFIXES:
        try:
            loaded = np.load(path, allow_pickle=False)
            if not isinstance(loaded, np.ndarray):  # an .npz archive renamed .npy
                raise ValueError("it is an .npz archive, not one array")
            array = loaded.astype(np.float32)
        except Exception as error:  # noqa: BLE001  object arrays (pickles), strings, truncated or not .npy at all
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ConfigError(f"cannot read input image {str(path)!r} as a numeric .npy array: {reason[:160]}") from None
    else:
        try:
            with Image.open(path) as image:
                array = np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.float32) / 255.0
        except (UnidentifiedImageError, OSError) as error:
            raise ConfigError(f"cannot read input image {str(path)!r}: {error}") from None
        array = array if array.ndim == 2 else array.transpose(2, 0, 1)
    if array.size != channels * height * width:
        raise ConfigError(f"input image {str(path)!r} has shape {list(array.shape)}; the model takes images of shape {list(image_shape)}")
    return torch.from_numpy(array.reshape(image_shape).copy())
