"""One map per node, tiled in a grid on one diverging colour scale (0 = grey), rows and columns numbered, with a colour bar."""

from __future__ import annotations

import math

import numpy as np
import torch
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from torchvision.utils import make_grid

from latent_probe.viz.figure import new_figure

# Negative dark blue, zero mid-grey, positive light orange: brighter than grey is positive, as in the influence-map article.
# The gaps between tiles are NaN, drawn white.
DIVERGING_GREY = LinearSegmentedColormap.from_list(
    "diverging_grey", ["#08306b", "#3f7fc1", "#808080", "#ec9a3c", "#fff5c0"]
).with_extremes(bad="white")


def grid_columns(count: int) -> int:
    """Tiles per row: 10 (the influence-map article's layout), more for large layers so the grid stays about square."""
    return max(1, min(count, max(10, math.ceil(math.sqrt(count)))))


def symmetric_range(maps: np.ndarray) -> float:
    """The largest absolute value (at least a tiny positive number), so that ``[-m, m]`` holds every map."""
    return max(float(np.abs(maps).max(initial=0.0)), 1e-12)


def node_map_grid(maps: np.ndarray, limit: float, title: str, image: np.ndarray | None = None, label: str = "") -> Figure:
    """``(n, H, W)`` maps as numbered tiles on ``[-limit, limit]``, beside the input ``image`` (``(C, H, W)`` in [0, 1])."""
    count, height, width = maps.shape
    columns = grid_columns(count)
    gap = max(2, round(height * 0.3))  # room above each tile for its node number
    tiles = torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32))[:, None]
    canvas = make_grid(tiles, nrow=columns, padding=gap, pad_value=float("nan"))[0].numpy()
    # Axes are placed by hand, in inches: a layout engine would measure every node number (slow).
    grid_w = columns * min(0.9, 10.0 / columns)
    grid_h = grid_w * canvas.shape[0] / canvas.shape[1]
    panel_h = max(grid_h, 1.5)
    left = 0.2 + (1.5 if image is not None else 0.0)
    size = (left + grid_w + 1.5, panel_h + 1.0)
    figure = new_figure(*size)
    figure.set_layout_engine("none")

    def place(x: float, y: float, w: float, h: float):
        return figure.add_axes((x / size[0], y / size[1], w / size[0], h / size[1]))

    axes = place(left, 0.25 + (panel_h - grid_h) / 2, grid_w, grid_h)
    shown = axes.imshow(canvas, cmap=DIVERGING_GREY, vmin=-limit, vmax=limit, interpolation="nearest", aspect="auto")
    # Node k sits in row k // columns and column k % columns: the column numbers along the top and each row's first
    # node on the left name every tile with columns + rows labels instead of one per tile (text is most of the drawing).
    font = 6 if columns > 12 else 7
    for column in range(min(columns, count)):
        axes.text(column * (width + gap) + gap + width / 2 - 0.5, gap - 0.8, f"+{column}" if column else "0", fontsize=font,
                  va="bottom", ha="center", color="#333333")
    for row in range(math.ceil(count / columns)):
        axes.text(gap - 1.0, row * (height + gap) + gap + height / 2 - 0.5, str(row * columns), fontsize=font, va="center",
                  ha="right", color="#333333")
    axes.set_axis_off()
    bar = figure.colorbar(shown, cax=place(left + grid_w + 0.25, 0.25, 0.15, panel_h))
    bar.set_label(label, fontsize=8)
    bar.ax.tick_params(labelsize=7)
    if image is not None:
        _draw_input(place(0.2, 0.25 + (panel_h - 1.2) / 2, 1.2, 1.2), image)
    figure.suptitle(title, fontsize=9, y=1 - 0.1 / size[1], va="top")
    return figure


def _draw_input(axes, image: np.ndarray) -> None:
    pixels = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
    axes.imshow(pixels, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    axes.set_title("input", fontsize=8)
    axes.set_xticks([])
    axes.set_yticks([])
