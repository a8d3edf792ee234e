"""Encoding pictures for files and TensorBoard: matplotlib figures, arrays and tensors to HWC uint8, PNG and GIF."""

from __future__ import annotations

import io
import zlib

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image


def figure_to_array(figure: Figure) -> np.ndarray:
    """Render ``figure`` on its own Agg canvas to an ``(H, W, 3)`` uint8 array (no display needed)."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def to_hwc_uint8(image) -> np.ndarray:
    """Accept a Figure, an HWC/HW array or a CHW tensor in [0, 1] or uint8; return HWC uint8."""
    if isinstance(image, Figure):
        return figure_to_array(image)
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu()
        if image.dim() == 3 and image.shape[0] in (1, 3, 4):
            image = image.permute(1, 2, 0)
        image = image.numpy()
    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = (np.clip(array, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    if array.ndim == 2:
        array = array[..., None]
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return array[..., :3]


# Figures are mostly flat colour: zlib's run-length strategy at level 1 encodes them several times faster than
# Pillow's default (level 6) for files a few percent larger.
PNG_OPTIONS = {"compress_level": 1, "compress_type": zlib.Z_RLE}


def png_bytes(image) -> bytes:
    """Encode an image (see ``to_hwc_uint8``) as PNG."""
    buffer = io.BytesIO()
    Image.fromarray(to_hwc_uint8(image)).save(buffer, format="PNG", **PNG_OPTIONS)
    return buffer.getvalue()


def gif_bytes(frames: list, duration_ms: int = 80, loop: int = 0) -> bytes:
    """Encode frames (see ``to_hwc_uint8``) as an animated GIF with one palette for all frames.

    Pillow would build a palette for every frame (median cut, most of the encoding time); the frames of one
    animation share their colours, so one palette from the first, middle and last frames maps them all, by a
    nearest-colour lookup, and no frame flickers between palettes.
    """
    arrays = [to_hwc_uint8(frame) for frame in frames]
    samples = [arrays[0], arrays[len(arrays) // 2], arrays[-1]]
    width = max(a.shape[1] for a in samples)
    stacked = np.concatenate([np.pad(a, ((0, 0), (0, width - a.shape[1]), (0, 0)), mode="edge") for a in samples])
    palette = Image.fromarray(stacked).quantize(colors=255, method=Image.Quantize.MEDIANCUT)
    images = [Image.fromarray(a).quantize(palette=palette, dither=Image.Dither.NONE) for a in arrays]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=loop)
    return buffer.getvalue()
