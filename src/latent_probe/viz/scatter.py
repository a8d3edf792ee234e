"""2-D pictures of embeddings: class-coloured scatter, thumbnails at their coordinates, heatmaps."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps

from latent_probe.viz.raster import Axes, Canvas, colorbar, colormapped, font, legend, splat, tick_label, tick_values
from latent_probe.viz.slanted_text import slanted_extent, slanted_text

TITLE_SIZE = 13
TICK_SIZE = 11
THUMBNAIL_PX = 1000  # the thumbnail canvas's side: drawn pixel for pixel, not resampled
HEATMAP_COLORS = colormaps["viridis"].with_extremes(bad="#d9d9d9")  # a missing value is light grey


def class_colors(n_classes: int) -> np.ndarray:
    """``(n_classes, 3)`` distinct RGB colours in [0, 1] (tab10, then tab20)."""
    cmap = colormaps["tab10" if n_classes <= 10 else "tab20"]
    return np.array([cmap(i % cmap.N)[:3] for i in range(n_classes)])


def project_2d(points: np.ndarray) -> tuple[np.ndarray, str]:
    """The points themselves if 2-D, else their first two principal components; and a label saying which."""
    points = np.asarray(points, dtype=np.float64)
    if points.shape[1] == 2:
        return points, "2-D layer"
    centered = points - points.mean(axis=0)
    _, singular, components = np.linalg.svd(centered, full_matrices=False)
    explained = (singular[:2] ** 2).sum() / max((singular**2).sum(), 1e-12)
    return centered @ components[:2].T, f"PCA of {points.shape[1]}-D layer ({explained:.0%} of variance)"


def class_scatter(points: np.ndarray, labels: np.ndarray, class_names: Sequence[str], title: str) -> np.ndarray:
    """Scatter of 2-D points coloured by class, with a legend of class names; an ``(H, W, 3)`` uint8 picture."""
    colors = class_colors(len(class_names))
    width = max(650, _title_width(title) + 30)
    rows = _legend_rows([str(n) for n in class_names], TICK_SIZE, width - 40)
    xlim, ylim = padded_range(points[:, 0]), padded_range(points[:, 1])
    top = 34 + 18 * len(rows)
    left = 16 + _y_tick_width(ylim)
    canvas = Canvas(width, 600)
    canvas.text((width / 2, 8), title, size=TITLE_SIZE, anchor="ma")
    for i, row in enumerate(rows):
        _centred_legend(canvas, (width / 2, 30 + 18 * i), colors[row], [str(class_names[k]) for k in row], TICK_SIZE)
    axes = Axes((left, top, width - left - 16, 600 - top - 28), xlim, ylim)
    pixels = axes.blank()
    # Points go down in the data's order, not class by class, so that no class hides the others everywhere.
    splat(pixels, axes.to_pixels(np.asarray(points, dtype=np.float64)), colors[np.asarray(labels)], radius=1.8, alpha=0.8)
    axes.draw(canvas, pixels, ticks=6, size=TICK_SIZE)
    return canvas.pixels()


def _title_width(title: str) -> int:
    """Width in pixels of the widest line of a figure title."""
    return int(max(font(TITLE_SIZE).getlength(line) for line in title.split("\n")))


def padded_range(values: np.ndarray, margin: float = 0.05) -> tuple[float, float]:
    """``[min, max]`` widened by ``margin`` of its span on each side (matplotlib's default), never empty."""
    low, high = float(np.min(values)), float(np.max(values))
    span = high - low if high > low else max(abs(low), 1.0)
    return low - margin * span, high + margin * span


def _y_tick_width(ylim: tuple[float, float], count: int = 6) -> int:
    """Room the y tick labels ``Axes.draw`` writes left of the axes need, in pixels."""
    ticks = tick_values(*ylim, count)
    return int(max((font(TICK_SIZE).getlength(tick_label(v, ticks)) for v in ticks), default=0)) + 8


def _legend_rows(names: Sequence[str], size: int, width: float) -> list[list[int]]:
    """Indices of ``names`` split into legend rows no wider than ``width`` (as ``raster.legend`` spaces them)."""
    rows: list[list[int]] = [[]]
    used = 0.0
    for k, name in enumerate(names):
        entry = size * 0.8 + 4 + font(size).getlength(name) + size
        if rows[-1] and used + entry - size > width:
            rows.append([])
            used = 0.0
        rows[-1].append(k)
        used += entry
    return rows


def _centred_legend(canvas: Canvas, middle_top: tuple[float, float], colors: np.ndarray, names: Sequence[str], size: int) -> None:
    """One ``raster.legend`` row centred on ``middle_top[0]``."""
    width = sum(size * 0.8 + 4 + font(size).getlength(n) for n in names) + size * (len(names) - 1)
    legend(canvas, (middle_top[0] - width / 2, middle_top[1]), colors, names, size, anchor="left")


def thumbnail_canvas(points: np.ndarray, images: np.ndarray, labels: np.ndarray, n_classes: int, size: int = 1000) -> np.ndarray:
    """The bottleneck picture (digits on rays): each image in [0, 1] drawn at its 2-D position. Grey ``(n, H, W)`` images are
    ink tinted by class, overlapping ink darkening (min-compositing, like ink on paper); colour ``(n, H, W, 3)`` images are
    drawn in their true colours, each over the ones before.

    Returns an ``(size + H, size + W, 3)`` float32 array. The default size is about the axes' size in pixels, so that
    drawing the figure resamples little.
    """
    images = np.asarray(images, dtype=np.float32)
    rgb = images.ndim == 4
    # Small images (8x8 digits) are enlarged so that a thumbnail is about 1/45 of the canvas.
    rows_axis = -3 if rgb else -2
    scale = max(1, round(size / 45 / images.shape[rows_axis]))
    images = images.repeat(scale, axis=rows_axis).repeat(scale, axis=rows_axis + 1)
    height, width = images.shape[rows_axis], images.shape[rows_axis + 1]
    canvas = np.ones((size + height, size + width, 3), dtype=np.float32)
    low, high = points.min(axis=0), points.max(axis=0)
    scaled = (points - low) / np.maximum(high - low, 1e-12)
    cols = (scaled[:, 0] * size).astype(int)
    rows = ((1.0 - scaled[:, 1]) * size).astype(int)  # y grows upwards in the plot
    colors = class_colors(n_classes).astype(np.float32)
    for image, label, row, col in zip(images, labels, rows, cols):
        patch = canvas[row : row + height, col : col + width]
        if rgb:
            patch[...] = image
        else:
            np.minimum(patch, 1.0 - image[..., None] * (1.0 - colors[label])[None, None, :], out=patch)
    return canvas


def thumbnail_scatter(points, images, labels, class_names: Sequence[str], title: str) -> np.ndarray:
    """``thumbnail_canvas`` in framed axes with the embedding's axis ranges; an ``(H, W, 3)`` uint8 picture."""
    pixels = thumbnail_canvas(points, images, labels, len(class_names), size=THUMBNAIL_PX)
    xlim, ylim = _thumbnail_limits(np.asarray(points, dtype=np.float64), pixels.shape[:2], THUMBNAIL_PX)
    left = 16 + _y_tick_width(ylim)
    width = max(left + pixels.shape[1] + 20, _title_width(title) + 30)
    canvas = Canvas(width, 34 + pixels.shape[0] + 28)
    canvas.text((width / 2, 8), title, size=TITLE_SIZE, anchor="ma")
    Axes((left, 34, pixels.shape[1], pixels.shape[0]), xlim, ylim).draw(canvas, pixels, ticks=6, size=TICK_SIZE)
    return canvas.pixels()


def _thumbnail_limits(points: np.ndarray, shape: tuple[int, int], size: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """Data limits of a ``thumbnail_canvas`` of ``shape`` (drawn at ``size``): a thumbnail's middle sits at its point."""
    low, high = points.min(axis=0), points.max(axis=0)
    step = np.maximum(high - low, 1e-12) / size  # data per pixel
    (rows, cols), (half_h, half_w) = shape, ((shape[0] - size) / 2, (shape[1] - size) / 2)
    xlim = (low[0] - half_w * step[0], low[0] + (cols - 1 - half_w) * step[0])
    ylim = (high[1] - (rows - 1 - half_h) * step[1], high[1] + half_h * step[1])
    return (float(xlim[0]), float(xlim[1])), (float(ylim[0]), float(ylim[1]))


def heatmap(matrix: np.ndarray, names: Sequence[str], title: str) -> np.ndarray:
    """An annotated square heatmap (e.g. centroid distances) with a colour bar; an ``(H, W, 3)`` uint8 picture."""
    matrix = np.asarray(matrix, dtype=np.float64)
    count = len(matrix)
    cell = max(6, min(60, 480 // max(count, 1)))
    low, high = float(np.nanmin(matrix)), float(np.nanmax(matrix))
    high = high if high > low else low + 1.0
    names = [str(n) for n in names]
    slant = max(font(TICK_SIZE).getlength(n) for n in names) > cell - 4
    reach_x, reach_y = max(slanted_extent(n, TICK_SIZE) for n in names) if slant else (0.0, TICK_SIZE + 2.0)
    left = int(max(max(font(TICK_SIZE).getlength(n) for n in names) + 14, reach_x - cell / 2 + 10))
    side = cell * count
    width = max(left + side + 100, _title_width(title) + 30)
    canvas = Canvas(width, int(34 + side + reach_y + 16))
    canvas.text((width / 2, 8), title, size=TITLE_SIZE, anchor="ma")
    cells = colormapped(matrix, HEATMAP_COLORS, low, high).repeat(cell, axis=0).repeat(cell, axis=1)
    canvas.paste(cells, (left, 34))
    canvas.rectangle((left - 1, 33, left + side, 34 + side))
    _annotate(canvas, matrix, (left, 34), cell, (low, high))
    _name_cells(canvas, names, (left, 34), cell, slant)
    colorbar(canvas, (left + side + 20, 34, 15, side), HEATMAP_COLORS, low, high, size=TICK_SIZE)
    return canvas.pixels()


def _annotate(canvas: Canvas, matrix: np.ndarray, corner: tuple[int, int], cell: int, span: tuple[float, float]) -> None:
    # Values are written only where they fit their cell; white on the dark half of viridis, black on the light half.
    size = max(7, min(11, cell // 4))
    if max(font(size).getlength(f"{v:.1f}") for v in matrix.flat) > cell - 2:
        return
    dark = (matrix - span[0]) / (span[1] - span[0]) < 0.5
    for (i, j), value in np.ndenumerate(matrix):
        where = (corner[0] + (j + 0.5) * cell, corner[1] + (i + 0.5) * cell)
        canvas.text(where, f"{value:.1f}", size=size, anchor="mm", fill=(255, 255, 255) if dark[i, j] else (0, 0, 0))


def _name_cells(canvas: Canvas, names: Sequence[str], corner: tuple[int, int], cell: int, slant: bool) -> None:
    # Names too wide for their column hang slanted below it, as matplotlib's rotated tick labels.
    left, top = corner
    bottom = top + cell * len(names)
    for k, name in enumerate(names):
        middle = (left + (k + 0.5) * cell, top + (k + 0.5) * cell)
        canvas.line([(middle[0], bottom), (middle[0], bottom + 3)])
        canvas.line([(left - 4, middle[1]), (left - 1, middle[1])])
        canvas.text((left - 6, middle[1]), name, size=TICK_SIZE, anchor="rm")
        if slant:
            slanted_text(canvas, (middle[0] + 3, bottom + 6), name, TICK_SIZE)
        else:
            canvas.text((middle[0], bottom + 5), name, size=TICK_SIZE, anchor="ma")
