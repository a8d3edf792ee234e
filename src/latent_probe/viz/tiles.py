"""Weights drawn as a raster of image tiles (the Deep Learning Tutorial's ``tile_raster_images``), laid out by torchvision."""

from __future__ import annotations

import torch
from torchvision.utils import make_grid

SCALINGS = ("per_tile", "symmetric")
MIN_TILE_PX = 28  # small tiles (8x8 digits, 5x5 kernels) are enlarged to about this size


def auto_zoom(height: int, width: int) -> int:
    """Integer enlargement that makes a ``height x width`` tile at least ``MIN_TILE_PX`` on its longer side."""
    return max(1, -(-MIN_TILE_PX // max(height, width)))


def tile_grid(
    tiles: torch.Tensor,
    per_row: int = 10,
    spacing: int = 1,
    scaling: str = "per_tile",
    zoom: int = 1,
    pad_value: float = 0.0,
) -> torch.Tensor:
    """``(N, C, H, W)`` weights (C = 1 or 3) as one ``(3, H', W')`` image in [0, 1], ``per_row`` tiles a row.

    ``per_tile`` stretches each tile to [0, 1] on its own (the article's way); ``symmetric`` maps
    ``[-m, m]`` to [0, 1] with one ``m`` = the largest absolute weight shown, so 0 is mid-grey in
    every tile and tiles compare. Tiles are enlarged ``zoom`` times (nearest pixel) before spacing.
    """
    tiles = tiles.detach().float().cpu()
    if zoom > 1:
        tiles = tiles.repeat_interleave(zoom, dim=-2).repeat_interleave(zoom, dim=-1)
    if scaling == "per_tile":
        scale = {"scale_each": True}
    else:
        bound = max(tiles.abs().max().item(), 1e-12)
        scale = {"value_range": (-bound, bound)}
    return make_grid(tiles, nrow=per_row, padding=spacing, normalize=True, pad_value=pad_value, **scale)
