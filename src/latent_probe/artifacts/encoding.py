"""Encoding pictures for files and TensorBoard: matplotlib figures, arrays and tensors to HWC uint8, PNG and GIF."""

from __future__ import annotations

import io

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


def png_bytes(image) -> bytes:
    """Encode an image (see ``to_hwc_uint8``) as PNG."""
    buffer = io.BytesIO()
    Image.fromarray(to_hwc_uint8(image)).save(buffer, format="PNG")
    return buffer.getvalue()


def gif_bytes(frames: list, duration_ms: int = 80, loop: int = 0) -> bytes:
    """Encode frames (see ``to_hwc_uint8``) as an animated GIF."""
    images = [Image.fromarray(to_hwc_uint8(frame)) for frame in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=loop)
    return buffer.getvalue()
