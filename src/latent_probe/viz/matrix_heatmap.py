"""A rows x columns heatmap drawn straight into pixels (``viz.raster``): a cell per pair, row names on the left, column
names slanted below (every k-th when they would crowd), values written in the cells when they fit, and a colour bar:
layers against layers (square cells), layers against moments, one model's layers against another's."""

from __future__ import annotations

import math

import matplotlib
import numpy as np

from latent_probe.viz.accuracy_charts import short_name
from latent_probe.viz.raster import Canvas, colorbar, colormapped, font
from latent_probe.viz.slanted_text import slanted_extent, slanted_text

LABEL_SIZE = 10
MISSING = (200, 200, 200)  # a cell with no value
LABEL_GAP = 13  # pixels between slanted column names, at least
INTERVAL_CELL = (56, 40)  # the smallest cell (width, height) that holds a value and "[0.84, 0.90]" under it


def matrix_heatmap(rows: list[str], columns: list[str], matrix: np.ndarray, title: str, label: str = "linear CKA",
                   limits: tuple[float, float] = (0.0, 1.0), intervals: tuple[np.ndarray, np.ndarray] | None = None,
                   ) -> np.ndarray:
    """``matrix`` (``len(rows) x len(columns)``) as coloured cells, NaN in grey; ``(H, W, 3)`` uint8.

    ``intervals`` (lower and upper bounds, the matrix's shape) are written under each value as ``[lo, hi]`` where the
    cells are wide enough to hold them (up to 8 or so layers a side); ``interval_heatmap`` draws them at any size.
    """
    matrix = np.asarray(matrix, dtype=np.float64).reshape(len(rows), len(columns))
    width, height = _cell(len(columns), 720), _cell(len(rows), 480)
    if rows == columns:  # a layer against itself sits on the diagonal: keep the cells square
        width = height
    row_names, column_names = [short_name(n) for n in rows], [short_name(n) for n in columns]
    row_size, column_size = _text_size(height), _text_size(max(width, LABEL_GAP))
    every = math.ceil(LABEL_GAP / width)  # column names at least LABEL_GAP apart
    shown = [(j, name) for j, name in enumerate(column_names) if j % every == 0 or j == len(columns) - 1]
    reach = {j: slanted_extent(name, column_size) for j, name in shown}
    left = int(max([40.0] + [font(row_size).getlength(n) + 14 for n in row_names]
                   + [r[0] - width * (j + 0.5) + 12 for j, r in reach.items()]))
    top, bottom = 40, int(max([16.0] + [r[1] for r in reach.values()])) + 14
    side_x, side_y = width * len(columns), height * len(rows)
    canvas = Canvas(max(left + side_x + 90, int(font(13).getlength(title)) + 30), top + side_y + bottom)
    canvas.text((canvas.size[0] / 2, 10), title, size=13, anchor="ma")
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad=np.array(MISSING) / 255)
    cells = colormapped(np.ma.masked_invalid(matrix), cmap, *limits)
    canvas.paste(np.repeat(np.repeat(cells, height, axis=0), width, axis=1), (left, top))
    canvas.rectangle((left - 1, top - 1, left + side_x, top + side_y))
    for i, name in enumerate(row_names):
        canvas.text((left - 6, top + height * (i + 0.5)), name, size=row_size, anchor="rm")
    for j, name in shown:
        middle = left + width * (j + 0.5)
        canvas.line([(middle, top + side_y), (middle, top + side_y + 3)])
        slanted_text(canvas, (middle + 3, top + side_y + 8), name, column_size)
    if width >= 30 and height >= 20:
        bounds = intervals if intervals is not None and width >= INTERVAL_CELL[0] and height >= INTERVAL_CELL[1] else None
        _values(canvas, matrix, (left, top), (width, height), limits, bounds)
    colorbar(canvas, (left + side_x + 14, top, 12, min(side_y, 240)), cmap, *limits, label=label)
    return canvas.pixels()


def _cell(count: int, room: int) -> int:
    """Pixels per cell along a side of ``count`` cells: the room shared out, within 6 to 64."""
    return int(np.clip(room / max(count, 1), 6, 64))


def _text_size(cell: int) -> int:
    return int(np.clip(cell * 0.7, 6, LABEL_SIZE))  # rows of labels stay apart however many there are


def interval_heatmap(rows: list[str], columns: list[str], lower: np.ndarray, upper: np.ndarray, title: str,
                     what: str = "CKA") -> np.ndarray:
    """The width of each cell's interval (``upper - lower``) as a heatmap: where a value is sure and where it is not."""
    width = np.asarray(upper, dtype=np.float64) - np.asarray(lower, dtype=np.float64)
    finite = width[np.isfinite(width)]
    top = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    return matrix_heatmap(rows, columns, width, title, label=f"{what} interval width", limits=(0.0, top))


def _values(canvas: Canvas, matrix: np.ndarray, origin: tuple[int, int], cell: tuple[int, int],
            limits: tuple[float, float], intervals: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """Each cell's value written in it (with its interval under it when given), dark on light colours, light on dark."""
    size = min(11, cell[1] // 3, cell[0] // 4)
    for (i, j), value in np.ndenumerate(matrix):
        text = f"{value:.2f}" if np.isfinite(value) else "n/a"
        dark = not np.isfinite(value) or value > limits[0] + 0.6 * (limits[1] - limits[0])
        x, y, fill = origin[0] + cell[0] * (j + 0.5), origin[1] + cell[1] * (i + 0.5), (0, 0, 0) if dark else (255, 255, 255)
        if intervals is None or not np.isfinite(value):
            canvas.text((x, y), text, size=size, anchor="mm", fill=fill)
            continue
        low, high = intervals[0][i, j], intervals[1][i, j]
        canvas.text((x, y - cell[1] * 0.14), text, size=size, anchor="mm", fill=fill)
        canvas.text((x, y + cell[1] * 0.2), f"[{low:.2f}, {high:.2f}]", size=max(7, size - 3), anchor="mm", fill=fill)


__all__ = ["interval_heatmap", "matrix_heatmap"]
