"""A layers x layers similarity heatmap drawn straight into pixels (``viz.raster``): a cell per pair of layers, the layer
names along both sides, values written in the cells when they fit, and a colour bar."""

from __future__ import annotations

import matplotlib
import numpy as np

from latent_probe.viz.accuracy_charts import short_name
from latent_probe.viz.raster import Canvas, colorbar, colormapped, font
from latent_probe.viz.slanted_text import slanted_extent, slanted_text

LABEL_SIZE = 10
MISSING = (200, 200, 200)  # a cell with no value (a constant layer)


def similarity_heatmap(names: list[str], matrix: np.ndarray, title: str, label: str = "linear CKA",
                       limits: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """``matrix`` (``len(names)`` square) as coloured cells, row ``i`` and column ``i`` for ``names[i]``; ``(H, W, 3)`` uint8."""
    count = len(names)
    matrix = np.asarray(matrix, dtype=np.float64).reshape(count, count)
    slot = int(np.clip(480 / max(count, 1), 10, 64))
    side = slot * count
    size = int(np.clip(slot * 0.7, 6, LABEL_SIZE))  # rows of labels stay apart however many layers
    labels = [short_name(n) for n in names]
    reach = [slanted_extent(n, size) for n in labels]
    left = int(max([40.0] + [font(size).getlength(n) + 14 for n in labels]))
    left = max(left, int(max((r[0] - slot * (i + 0.5) + 12 for i, r in enumerate(reach)), default=0.0)))
    top, bottom = 40, int(max([16.0] + [r[1] for r in reach])) + 14
    width = max(left + side + 90, int(font(13).getlength(title)) + 30)
    canvas = Canvas(width, top + side + bottom)
    canvas.text((width / 2, 10), title, size=13, anchor="ma")
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad=np.array(MISSING) / 255)
    cells = colormapped(np.ma.masked_invalid(matrix), cmap, *limits)
    canvas.paste(np.repeat(np.repeat(cells, slot, axis=0), slot, axis=1), (left, top))
    canvas.rectangle((left - 1, top - 1, left + side, top + side))
    value_size = min(11, slot // 3)
    for i, name in enumerate(labels):
        middle = slot * (i + 0.5)
        canvas.text((left - 6, top + middle), name, size=size, anchor="rm")
        canvas.line([(left + middle, top + side), (left + middle, top + side + 3)])
        slanted_text(canvas, (left + middle + 3, top + side + 8), name, size)
        if slot >= 26:
            for j in range(count):
                value = matrix[i, j]
                text = f"{value:.2f}" if np.isfinite(value) else "n/a"
                dark = not np.isfinite(value) or value > limits[0] + 0.6 * (limits[1] - limits[0])
                canvas.text((left + slot * (j + 0.5), top + middle), text, size=value_size, anchor="mm",
                            fill=(0, 0, 0) if dark else (255, 255, 255))
    colorbar(canvas, (left + side + 14, top, 12, min(side, 240)), cmap, *limits, label=label)
    return canvas.pixels()
