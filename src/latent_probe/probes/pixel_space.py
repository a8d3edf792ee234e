"""Images in pixel space ([0, 1], ``(C, H, W)``) and the model inputs a datamodule makes of them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from latent_probe.errors import ConfigError

ARRAY_SUFFIXES = (".npy",)


@dataclass(frozen=True)
class PixelSpace:
    """How ``(n, C, H, W)`` pixels in [0, 1] become model inputs ``(n, *input_shape)`` and back.

    ``transform`` is the datamodule's pixel transform when it has one (callable on pixels, with a
    ``to_pixels`` inverse, as the image datamodules' ``transform``); else inputs are the pixels reshaped.
    """

    image_shape: tuple[int, int, int]
    input_shape: tuple[int, ...]
    transform: Any = None

    def to_inputs(self, pixels: torch.Tensor) -> torch.Tensor:
        """Model inputs of a batch of images."""
        if self.transform is not None:
            return self.transform(pixels).reshape(len(pixels), *self.input_shape)
        return pixels.reshape(len(pixels), *self.input_shape)

    def to_pixels(self, inputs: torch.Tensor) -> torch.Tensor:
        """Images ``(n, C, H, W)`` in [0, 1] of a batch of model inputs, for display."""
        if self.transform is not None:
            return self.transform.to_pixels(inputs).reshape(len(inputs), *self.image_shape)
        return inputs.reshape(len(inputs), *self.image_shape).clamp(0, 1)


def pixel_space(datamodule, pl_module, image_shape: tuple[int, ...] | None = None) -> PixelSpace:
    """The run's ``PixelSpace``: ``image_shape`` if given, else the datamodule's (or the model's) ``image_shape``."""
    shape = image_shape or getattr(datamodule, "image_shape", None) or getattr(pl_module, "image_shape", None)
    if not shape or len(shape) not in (2, 3):
        raise ConfigError(
            f"cannot tell the image shape of {type(pl_module).__name__}'s inputs (got {shape!r}). "
            "HINT: set the probe's image_shape, e.g. [1, 28, 28]"
        )
    shape = (1, *shape) if len(shape) == 2 else tuple(shape)
    inputs = tuple(getattr(datamodule, "input_shape", None) or shape)
    if math.prod(inputs) != math.prod(shape):
        raise ConfigError(
            f"image_shape {list(shape)} does not hold the model's {math.prod(inputs)} input values (input_shape {list(inputs)})"
        )
    transform = getattr(datamodule, "transform", None)
    usable = callable(transform) and callable(getattr(transform, "to_pixels", None))
    return PixelSpace(shape, inputs, transform if usable else None)


def read_image(path: str | Path, image_shape: tuple[int, int, int]) -> torch.Tensor:
    """A ``(C, H, W)`` image in [0, 1] from an image file (PNG, JPEG, ...: 0–255) or a ``.npy`` array (already in [0, 1])."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"input image file not found: {str(path)!r}")
    channels, height, width = image_shape
    if path.suffix.lower() in ARRAY_SUFFIXES:
        array = np.load(path, allow_pickle=False).astype(np.float32)
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
