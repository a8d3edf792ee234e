"""One map per node, tiled in a grid on one diverging colour scale (0 = grey), rows and columns numbered, with a colour bar."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.colors import LinearSegmentedColormap

from latent_probe.viz.raster import Canvas, colorbar, colormapped, font, to_uint8

# Negative dark blue, zero mid-grey, positive light orange: brighter than grey is positive, as in the influence-map article.
# NaN (a gap in a map) is drawn white, like the space between tiles.
DIVERGING_GREY = LinearSegmentedColormap.from_list(
    "diverging_grey", ["#08306b", "#3f7fc1", "#808080", "#ec9a3c", "#fff5c0"]
).with_extremes(bad="white")

TILE_PX = 60  # small maps (28x28) are enlarged by an integer factor to at least this
CELL_PX = 90  # a tile and its gap at most (0.9 inch at 100 dpi, as the matplotlib figure had) ...
GRID_PX = 1000  # ... and the whole grid at most this wide, so large layers shrink their tiles instead
INPUT_PX = 120  # the input image's side
TITLE_SIZE = 13


def grid_columns(count: int) -> int:
    """Tiles per row: 10 (the influence-map article's layout), more for large layers so the grid stays about square."""
    return max(1, min(count, max(10, math.ceil(math.sqrt(count)))))


def symmetric_range(maps: np.ndarray) -> float:
    """The largest absolute value (at least a tiny positive number), so that ``[-m, m]`` holds every map."""
    return max(float(np.abs(maps).max(initial=0.0)), 1e-12)


def tile_layout(side: int, columns: int) -> tuple[int, int, int]:
    """``(zoom, shrink, gap)``: a map of ``side`` pixels is drawn ``side * zoom // shrink`` pixels wide, ``gap`` apart."""
    cell = min(CELL_PX, GRID_PX // columns)
    gap = 6 if cell >= 60 else 4
    room = cell - gap
    if side > room:
        return 1, math.ceil(side / room), gap
    return max(1, min(math.ceil(TILE_PX / side), room // side)), 1, gap


def _resized(values: np.ndarray, shrink: int) -> np.ndarray:
    """``(n, H, W)`` values averaged over ``shrink x shrink`` blocks (the last block takes the edge's values)."""
    if shrink == 1:
        return values
    n, height, width = values.shape
    padded = np.pad(values, ((0, 0), (0, -height % shrink), (0, -width % shrink)), mode="edge")
    return padded.reshape(n, padded.shape[1] // shrink, shrink, padded.shape[2] // shrink, shrink).mean(axis=(2, 4))


def _enlarged(pixels: np.ndarray, zoom: int) -> np.ndarray:
    """``(..., H, W, 3)`` pixels each repeated ``zoom x zoom`` times (nearest pixel)."""
    return pixels if zoom == 1 else pixels.repeat(zoom, axis=-3).repeat(zoom, axis=-2)


def _tiled(tiles: np.ndarray, columns: int, gap: int) -> np.ndarray:
    """``(n, h, w, 3)`` uint8 tiles as one white-gapped ``(rows, columns)`` grid picture, row by row."""
    count, height, width = tiles.shape[:3]
    rows = math.ceil(count / columns)
    padded = np.pad(tiles, ((0, rows * columns - count), (0, gap), (0, gap), (0, 0)), constant_values=255)
    grid = padded.reshape(rows, columns, height + gap, width + gap, 3).transpose(0, 2, 1, 3, 4)
    return grid.reshape(rows * (height + gap), columns * (width + gap), 3)[:-gap, :-gap]


def node_map_grid(maps: np.ndarray, limit: float, title: str, image: np.ndarray | None = None, label: str = "") -> np.ndarray:
    """``(n, H, W)`` maps as numbered tiles on ``[-limit, limit]`` beside the input ``image``, as ``(H', W', 3)`` uint8."""
    count, columns = len(maps), grid_columns(len(maps))
    grid, tile, gap = _grid_picture(maps, limit, columns)
    size = 10 if columns <= 12 else 9
    number_w = math.ceil(font(size).getlength(str((math.ceil(count / columns) - 1) * columns))) + 8
    input_w = INPUT_PX + 40 if image is not None else 0
    content_w = 20 + input_w + number_w + grid.shape[1] + 110
    title_w = max(font(TITLE_SIZE).getlength(line) for line in title.split("\n"))
    top = 14 + (TITLE_SIZE + 3) * (title.count("\n") + 1) + size + 10
    panel_h = max(grid.shape[0], 150)
    canvas = Canvas(max(content_w, math.ceil(title_w) + 30), top + panel_h + 16)
    canvas.text((canvas.size[0] / 2, 10), title, size=TITLE_SIZE, anchor="ma")
    left = (canvas.size[0] - content_w) // 2 + 20
    if image is not None:
        _draw_input(canvas, image, (left, top + panel_h // 2))
    corner = (left + input_w + number_w, top + (panel_h - grid.shape[0]) // 2)
    canvas.paste(grid, corner)
    _number_tiles(canvas, corner, count, columns, tile, gap, size)
    colorbar(canvas, (corner[0] + grid.shape[1] + 25, top, 15, panel_h), DIVERGING_GREY, -limit, limit, label, size=10)
    return canvas.pixels()


def _grid_picture(maps: np.ndarray, limit: float, columns: int) -> tuple[np.ndarray, tuple[int, int], int]:
    """The coloured, resized tiles in a grid; with one tile's ``(height, width)`` and the gap between tiles."""
    zoom, shrink, gap = tile_layout(max(maps.shape[1:]), columns)
    tiles = _enlarged(colormapped(_resized(maps, shrink), DIVERGING_GREY, -limit, limit), zoom)
    return _tiled(tiles, columns, gap), tiles.shape[1:3], gap


def _number_tiles(canvas: Canvas, corner: tuple[int, int], count: int, columns: int, tile: tuple[int, int], gap: int,
                  size: int) -> None:
    # Node k sits in row k // columns and column k % columns: the column numbers along the top and each row's first
    # node on the left name every tile with columns + rows labels instead of one per tile.
    (left, top), (height, width) = corner, tile
    for column in range(min(columns, count)):
        x = left + column * (width + gap) + width / 2
        canvas.text((x, top - 4), f"+{column}" if column else "0", size=size, anchor="md")
    for row in range(math.ceil(count / columns)):
        canvas.text((left - 6, top + row * (height + gap) + height / 2), str(row * columns), size=size, anchor="rm")


def _draw_input(canvas: Canvas, image: np.ndarray, left_middle: tuple[int, int]) -> None:
    # Grey for one channel, colour for three; any other count is averaged to grey.
    pixels = image.transpose(1, 2, 0) if image.shape[0] == 3 else image.mean(axis=0)[..., None].repeat(3, axis=-1)
    side = max(pixels.shape[:2])
    shrink = math.ceil(side / INPUT_PX)
    pixels = _resized(pixels.transpose(2, 0, 1), shrink).transpose(1, 2, 0)
    pixels = _enlarged(to_uint8(pixels), max(1, INPUT_PX // max(pixels.shape[:2])))
    x, y = left_middle[0], left_middle[1] - pixels.shape[0] // 2
    canvas.paste(pixels, (x, y))
    canvas.rectangle((x - 1, y - 1, x + pixels.shape[1], y + pixels.shape[0]))
    canvas.text((x + pixels.shape[1] / 2, y - 5), "input", size=11, anchor="md")
