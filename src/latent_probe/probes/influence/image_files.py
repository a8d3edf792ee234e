"""Reading the image files an influence map is drawn for: PNG/JPEG (0-255) or ``.npy`` arrays in [0, 1].

A file's size is checked from its header before anything is decoded or loaded: a PNG of a few hundred bytes
may declare 100000 x 100000 pixels (a decompression bomb), an ``.npy`` header any shape.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from latent_probe.errors import ConfigError, check_memory

ARRAY_SUFFIXES = (".npy",)
NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def read_image(path: str | Path, image_shape: tuple[int, int, int]) -> torch.Tensor:
    """A ``(C, H, W)`` image in [0, 1] from an image file (PNG, JPEG, ...: 0–255) or a ``.npy`` array (already in [0, 1])."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"input image file not found: {str(path)!r}")
    array = read_array(path, image_shape) if path.suffix.lower() in ARRAY_SUFFIXES else read_picture(path, image_shape)
    return torch.from_numpy(array.reshape(image_shape).copy())


def read_array(path: Path, image_shape: tuple[int, int, int]) -> np.ndarray:
    """The float32 array of an ``.npy`` file whose header declares a numeric array of the image's size."""
    try:
        shape, dtype = npy_header(path)
        if dtype.kind not in "biuf":
            raise ValueError(f"its dtype is {dtype}, not a number")
    except Exception as error:  # noqa: BLE001  object arrays (pickles), strings, truncated or not .npy at all
        raise cannot_read(path, "as a numeric .npy array", error) from None
    check_declared_size(path, list(shape), math.prod(shape) * dtype.itemsize, image_shape)
    try:
        return np.load(path, allow_pickle=False).astype(np.float32)
    except Exception as error:  # noqa: BLE001  a header that promises more data than the file holds
        raise cannot_read(path, "as a numeric .npy array", error) from None


def npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype an ``.npy`` file declares, read from its header alone (an ``.npz`` archive fails here)."""
    with open(path, "rb") as stream:
        version = np.lib.format.read_magic(stream)
        if version not in NPY_HEADERS:
            raise ValueError(f".npy format version {version} is not read (numeric arrays are written as 1.0 or 2.0)")
        shape, _, dtype = NPY_HEADERS[version](stream)
    return tuple(shape), dtype


def read_picture(path: Path, image_shape: tuple[int, int, int]) -> np.ndarray:
    """The ``(C, H, W)`` (or ``(H, W)`` for grey) pixels in [0, 1] of a PNG, JPEG, ..., decoded once its size is checked."""
    channels = image_shape[0]
    try:
        with warnings.catch_warnings():
            # Pillow warns of large images; the declared size is checked against the model's below, before decoding.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                declared = [height, width] if channels == 1 else [3, height, width]
                check_declared_size(path, declared, math.prod(declared) * 4, image_shape)  # decoded as float32
                array = np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.float32) / 255.0
    except Image.DecompressionBombError as error:  # Pillow refuses to even open it: far above any model's input
        raise ConfigError(f"input image {str(path)!r} is refused before decoding: {error}") from None
    except (UnidentifiedImageError, OSError) as error:
        raise ConfigError(f"cannot read input image {str(path)!r}: {error}") from None
    return array if array.ndim == 2 else array.transpose(2, 0, 1)


def check_declared_size(path: Path, shape: list[int], nbytes: int, image_shape: tuple[int, int, int]) -> None:
    """Refuse, before decoding, a file that would take more than the memory limit or does not hold one model input."""
    check_memory(f"input image {str(path)!r}", f"of shape {shape}", nbytes, "its decoded pixels")
    if math.prod(shape) != math.prod(image_shape):
        raise ConfigError(f"input image {str(path)!r} has shape {shape}; the model takes images of shape {list(image_shape)}")


def cannot_read(path: Path, how: str, error: BaseException) -> ConfigError:
    """The one-line error of a file that is not what it claims: its first line of reason, at most 160 characters."""
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return ConfigError(f"cannot read input image {str(path)!r} {how}: {reason[:160]}")
