"""The linear probe's accuracy charts, drawn straight into pixels (``viz.raster``): a bar per layer, and a line per layer
over training, each value with its interval as an error bar, and a baseline (the raw inputs' accuracy) as a dashed line
in its interval's band."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from latent_probe.viz.raster import INK, Axes, Canvas, font, splat, tick_label, to_uint8
from latent_probe.viz.scatter import class_colors
from latent_probe.viz.slanted_text import slanted_extent, slanted_text

ACCURACY_RANGE = (0.0, 1.08)  # room above a bar at 1.0 for its value
ACCURACY_TICKS = np.linspace(0.0, 1.0, 6)
BAR_COLOR = (0.12, 0.47, 0.71)  # matplotlib's first colour
ERROR_BAR_COLOR = (0.0, 0.0, 0.0)  # pure black: no text (INK, even anti-aliased) or frame pixel has it
BASELINE_COLOR = (0.35, 0.35, 0.35)  # grey: apart from every layer colour
UNTRAINED_COLOR = (0.85, 0.37, 0.01)  # orange: each layer at its initial weights, across its bar
BAND_COLOR = (0.86, 0.86, 0.86)  # the baseline's interval, darker than the grid lines (0.9)
PLOT_HEIGHT, LABEL_SIZE = 260, 10


class Baseline(NamedTuple):
    """A reference accuracy drawn across the chart: its value, its interval and its name."""

    value: float
    low: float
    high: float
    name: str = "raw inputs"


def accuracy_bars(names: list[str], values: list[float], ylabel: str, title: str,
                  intervals: np.ndarray | None = None, baseline: Baseline | None = None,
                  untrained: list[float] | None = None) -> np.ndarray:
    """One bar per layer, its accuracy written above it (``n/a`` where there is none) and its interval ``(low, high)``
    (a row of ``intervals`` per layer; NaN: none) drawn as an error bar; ``baseline`` across them all; ``untrained``
    (per layer, NaN: none) as an orange tick across each bar; an ``(H, W, 3)`` uint8 picture."""
    slot = int(np.clip(900 / max(len(names), 1), 28, 80))
    canvas, axes = _chart(title, ylabel, names, range(len(names)), (-0.5, len(names) - 0.5), slot * len(names), 20,
                          key=_key_text(baseline))
    pixels = _gridded(axes, baseline)
    tops = axes.to_pixels(np.column_stack([np.arange(len(values)), np.nan_to_num(values, nan=0.0)]))
    for (middle, row), value in zip(tops, values):
        if np.isfinite(value):
            pixels[int(round(row)):, int(middle - slot * 0.35):int(middle + slot * 0.35) + 1] = BAR_COLOR
    bounds = np.full((len(values), 2), np.nan) if intervals is None else np.asarray(intervals, dtype=float).reshape(-1, 2)
    _baseline_line(pixels, axes, baseline)
    _untrained_ticks(pixels, axes, untrained, slot)
    _error_bars(pixels, axes, np.arange(len(values)), bounds, np.tile(ERROR_BAR_COLOR, (len(values), 1)), max(2, slot // 8))
    _framed(canvas, axes, pixels, baseline)
    left, top = axes.box[:2]
    # The value is written above the bar, or above its error bar when that reaches higher.
    highest = np.fmax(np.asarray(values, dtype=float), bounds[:, 1])
    rows = axes.to_pixels(np.column_stack([np.arange(len(values)), np.nan_to_num(highest, nan=0.0)]))[:, 1]
    for (middle, _), row, value in zip(tops, rows, values):
        text, y = (f"{value:.2f}", top + row - 3) if np.isfinite(value) else ("n/a", top + axes.box[3] - 3)
        canvas.text((left + middle, y), text, size=9, anchor="md", fill=INK if np.isfinite(value) else (140, 140, 140))
    return canvas.pixels()


def accuracy_lines(moments: list[str], series: dict[str, list[float]], ylabel: str, title: str,
                   intervals: dict[str, list] | None = None, baseline: Baseline | None = None) -> np.ndarray:
    """One line per layer over the moments, with a legend of layers at the right; an ``(H, W, 3)`` uint8 picture.

    ``intervals`` (optional): per layer, a ``(low, high)`` per moment (NaN: none), drawn as error bars in its colour;
    ``baseline`` across all moments."""
    colors = class_colors(len(series))
    names = [short_name(n) for n in series]
    legend_w = int(max((font(LABEL_SIZE).getlength(n) for n in names), default=0)) + 40
    every = max(1, int(np.ceil(len(moments) * 16 / 460)))  # a label per 16 pixels at most
    shown = [m if i % every == 0 else "" for i, m in enumerate(moments)]
    canvas, axes = _chart(title, ylabel, shown, range(len(moments)), (-0.3, max(len(moments) - 0.7, 0.3)), 460, legend_w,
                         len(series) * 16 + 10, _key_text(baseline))
    spots = [axes.to_pixels(np.column_stack([np.arange(len(v)), v])) for v in series.values()]
    traces, dots = [_polyline(s) for s in spots], [s[np.isfinite(s[:, 1])] for s in spots]
    pixels = _gridded(axes, baseline)
    _baseline_line(pixels, axes, baseline)
    for color, (name, values) in zip(colors, series.items()):
        bounds = np.asarray((intervals or {}).get(name, np.full((len(values), 2), np.nan)), dtype=float).reshape(-1, 2)
        _error_bars(pixels, axes, np.arange(len(values)), bounds, np.tile(color, (len(values), 1)), 3)
    # Two splats for all layers (lines, then markers) instead of two per layer.
    for pieces, radius in ((traces, 1.0), (dots, 3.0)):
        splat(pixels, np.concatenate(pieces), np.repeat(colors, [len(p) for p in pieces], axis=0), radius, 1.0)
    _framed(canvas, axes, pixels, baseline)
    _line_legend(canvas, (axes.box[0] + axes.box[2] + 14, axes.box[1] + 4), colors, names)
    return canvas.pixels()


def _chart(title: str, ylabel: str, labels: list[str], spots: range, xlim: tuple[float, float], plot_width: int, right: int,
          plot_height: int = PLOT_HEIGHT, key: str = "") -> tuple[Canvas, Axes]:
    # A canvas with the title, the vertical y label and slanted x labels at data x ``spots`` under axes of
    # ``plot_width`` pixels on ``xlim`` x the accuracy range, ``right`` pixels to spare at the right, and room for a
    # baseline's ``key`` above the axes.
    labels = [short_name(n) for n in labels]
    reach = [slanted_extent(n, LABEL_SIZE) if n else (0.0, 0.0) for n in labels]
    probe = Axes((0, 0, plot_width, 1), xlim, ACCURACY_RANGE)
    xs = probe.to_pixels(np.column_stack([np.asarray(spots, dtype=float), np.zeros(len(labels))]))[:, 0]
    left = int(max([62.0] + [r[0] - x + 12 for r, x in zip(reach, xs)]))
    plot_height = max(PLOT_HEIGHT, plot_height)
    bottom = int(max([16.0] + [r[1] for r in reach])) + 14
    width = max(left + plot_width + right, int(font(13).getlength(title)) + 30, left + 36 + int(font(9).getlength(key)))
    canvas = Canvas(width, 40 + plot_height + bottom)
    canvas.text((width / 2, 8), title, size=13, anchor="ma")
    canvas.vertical_text((16, 40 + plot_height / 2), ylabel, size=11)
    for label, x in zip(labels, xs):
        if label:
            canvas.line([(left + x, 40 + plot_height), (left + x, 40 + plot_height + 3)])
            slanted_text(canvas, (left + x + 3, 40 + plot_height + 8), label, LABEL_SIZE)
    return canvas, Axes((left, 40, plot_width, plot_height), xlim, ACCURACY_RANGE)


def _gridded(axes: Axes, baseline: Baseline | None = None) -> np.ndarray:
    """A white float picture of the axes with light horizontal lines at the accuracy ticks, and the baseline's band."""
    pixels = axes.blank()
    rows = axes.to_pixels(np.column_stack([np.zeros(len(ACCURACY_TICKS)), ACCURACY_TICKS]))[:, 1]
    pixels[np.rint(rows).astype(int)] = 0.9
    if baseline is not None and np.isfinite([baseline.low, baseline.high]).all():
        high, low = _rows(axes, [baseline.high, baseline.low])
        pixels[high:low + 1] = BAND_COLOR
    return pixels


def _rows(axes: Axes, values: list[float]) -> list[int]:
    """The pixel rows of accuracies inside the axes (clipped to them)."""
    rows = axes.to_pixels(np.column_stack([np.zeros(len(values)), values]))[:, 1]
    return [int(r) for r in np.clip(np.rint(rows), 0, axes.box[3] - 1)]


def _baseline_line(pixels: np.ndarray, axes: Axes, baseline: Baseline | None) -> None:
    """The baseline's value as a dashed line across the axes (8 pixels on, 4 off)."""
    if baseline is not None and np.isfinite(baseline.value):
        row = _rows(axes, [baseline.value])[0]
        dashes = np.arange(pixels.shape[1]) % 12 < 8
        pixels[row, dashes] = BASELINE_COLOR


def _untrained_ticks(pixels: np.ndarray, axes: Axes, untrained: list[float] | None, slot: int) -> None:
    """A 3-pixel orange tick as wide as the bar at each finite untrained accuracy."""
    values = np.asarray([] if untrained is None else untrained, dtype=float)
    for x in np.flatnonzero(np.isfinite(values)):
        middle, row = axes.to_pixels(np.array([[x, values[x]]]))[0]
        row = int(np.clip(round(row), 1, pixels.shape[0] - 2))
        pixels[row - 1:row + 2, max(int(middle - slot * 0.45), 0):int(middle + slot * 0.45) + 1] = UNTRAINED_COLOR


def _error_bars(pixels: np.ndarray, axes: Axes, xs: np.ndarray, bounds: np.ndarray, colors: np.ndarray, cap: int) -> None:
    """A vertical line from low to high at each data ``x`` with a finite ``(low, high)`` row of ``bounds``, capped at both
    ends by a ``2 * cap + 1`` pixel tick, painted into the axes' float ``pixels``."""
    finite = np.isfinite(bounds).all(axis=1)
    low = axes.to_pixels(np.column_stack([xs[finite], bounds[finite, 0]]))
    high = axes.to_pixels(np.column_stack([xs[finite], bounds[finite, 1]]))
    last_row, last_col = pixels.shape[0] - 1, pixels.shape[1] - 1
    for (col, bottom), (_, top), color in zip(low, high, colors[finite]):
        col, top, bottom = int(round(col)), int(np.clip(round(top), 0, last_row)), int(np.clip(round(bottom), 0, last_row))
        pixels[top:bottom + 1, col] = color
        for row in (top, bottom):
            pixels[row, max(col - cap, 0):min(col + cap, last_col) + 1] = color


def _framed(canvas: Canvas, axes: Axes, pixels: np.ndarray, baseline: Baseline | None = None) -> None:
    """Paste the axes' ``pixels``, frame them, label the accuracy ticks at the left and key the baseline above."""
    left, top, width, height = axes.box
    canvas.paste(to_uint8(pixels), (left, top))
    canvas.rectangle((left - 1, top - 1, left + width, top + height))
    rows = axes.to_pixels(np.column_stack([np.zeros(len(ACCURACY_TICKS)), ACCURACY_TICKS]))[:, 1]
    for value, row in zip(ACCURACY_TICKS, rows):
        canvas.line([(left - 4, top + row), (left - 1, top + row)])
        canvas.text((left - 6, top + row), tick_label(value, ACCURACY_TICKS), size=LABEL_SIZE, anchor="rm")
    if baseline is not None and np.isfinite(baseline.value):  # its key, above the axes' top-left corner
        fill, y = tuple(int(round(255 * c)) for c in BASELINE_COLOR), top - 9
        for start in (0, 12):
            canvas.line([(left + start, y), (left + start + 7, y)], fill=fill)
        canvas.text((left + 26, y), _key_text(baseline), size=9, anchor="lm", fill=fill)


def _key_text(baseline: Baseline | None) -> str:
    """The baseline's key: its name, value and interval (empty without a baseline)."""
    if baseline is None or not np.isfinite(baseline.value):
        return ""
    return f"{baseline.name} {baseline.value:.2f} [{baseline.low:.2f}, {baseline.high:.2f}]"


def _polyline(points: np.ndarray) -> np.ndarray:
    """Points every half pixel along the segments between consecutive finite ``points`` (a gap where one is NaN)."""
    pieces = []
    for start, end in zip(points[:-1], points[1:]):
        if np.isfinite(start).all() and np.isfinite(end).all():
            steps = max(2, int(np.hypot(*(end - start)) * 2))
            pieces.append(start + np.linspace(0.0, 1.0, steps)[:, None] * (end - start))
    return np.concatenate(pieces) if pieces else np.zeros((0, 2))


def _line_legend(canvas: Canvas, corner: tuple[float, float], colors: np.ndarray, names: list[str]) -> None:
    """A column of short coloured lines with a dot and their names, from ``corner`` (top-left) down."""
    x, y = corner
    for color, name in zip(colors, names):
        fill = tuple(int(round(255 * c)) for c in color)
        canvas.line([(x, y + 6), (x + 18, y + 6)], fill=fill, width=2)
        canvas.draw.ellipse((x + 6, y + 3, x + 12, y + 9), fill=fill)
        canvas.text((x + 24, y + 6), name, size=LABEL_SIZE, anchor="lm")
        y += 16


def short_name(name: str, limit: int = 40) -> str:
    """``name`` cut to its last ``limit`` characters (the end of a module path says most), marked with ``…``."""
    return name if len(name) <= limit else "\u2026" + name[-(limit - 1):]
