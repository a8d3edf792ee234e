"""Pictures drawn straight into pixels with Pillow and numpy: a canvas, framed axes, points, text, legends, colour bars.

Why not matplotlib: a figure costs 0.05-0.3 s to lay out and draw (mostly text and ticks), and probes that draw
dozens of panels at every firing spent longer drawing than their model spent training. These few primitives draw
the same pictures in milliseconds. Coordinates are pixels, ``(x, y)`` from the top-left corner.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.colors import Colormap
from matplotlib.ticker import MaxNLocator
from PIL import Image, ImageDraw, ImageFont

WHITE = (255, 255, 255)
INK = (30, 30, 30)
FRAME = (90, 90, 90)
FONT_FILE = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"  # matplotlib's own default font


@lru_cache(maxsize=32)
def font(size: int) -> ImageFont.FreeTypeFont:
    """DejaVu Sans (the font matplotlib ships) at ``size`` pixels."""
    return ImageFont.truetype(str(FONT_FILE), size)


class Canvas:
    """An RGB picture being drawn: numpy for pixel arrays and points, Pillow for text and lines."""

    def __init__(self, width: int, height: int, background: tuple[int, int, int] = WHITE) -> None:
        self.image = Image.new("RGB", (int(width), int(height)), background)
        self.draw = ImageDraw.Draw(self.image)

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return self.image.size

    def text(self, xy: tuple[float, float], text: str, size: int = 10, anchor: str = "la", fill=INK) -> None:
        """Write ``text`` (lines split on ``\\n``) at ``xy``; ``anchor`` as Pillow's (``"ma"``: middle, top)."""
        align = {"l": "left", "m": "center", "r": "right"}[anchor[0]]
        if "\n" in text:
            self.draw.multiline_text(xy, text, fill=fill, font=font(size), anchor=anchor, align=align, spacing=2)
        else:
            self.draw.text(xy, text, fill=fill, font=font(size), anchor=anchor)

    def vertical_text(self, xy: tuple[float, float], text: str, size: int = 10, fill=INK) -> None:
        """Write ``text`` turned 90 degrees (read bottom to top), centred on ``xy``."""
        left, top, right, bottom = font(size).getbbox(text)
        strip = Image.new("L", (right - left + 2, bottom - top + 2), 0)
        ImageDraw.Draw(strip).text((1 - left, 1 - top), text, fill=255, font=font(size))
        strip = strip.rotate(90, expand=True)
        x, y = round(xy[0] - strip.width / 2), round(xy[1] - strip.height / 2)
        self.image.paste(Image.new("RGB", strip.size, fill), (x, y), strip)

    def text_width(self, text: str, size: int = 10) -> float:
        """Width of ``text`` in pixels."""
        return self.draw.textlength(text, font=font(size))

    def paste(self, pixels: np.ndarray, xy: tuple[float, float]) -> None:
        """Put an ``(H, W, 3)`` uint8 array with its top-left corner at ``xy``."""
        self.image.paste(Image.fromarray(np.ascontiguousarray(pixels)), (round(xy[0]), round(xy[1])))

    def rectangle(self, box: tuple[float, float, float, float], outline=FRAME, fill=None, width: int = 1) -> None:
        """Draw the rectangle ``(left, top, right, bottom)``."""
        self.draw.rectangle(box, outline=outline, fill=fill, width=width)

    def line(self, points: Sequence[tuple[float, float]], fill=FRAME, width: int = 1) -> None:
        """Draw a polyline through ``points``."""
        self.draw.line(list(points), fill=fill, width=width)

    def pixels(self) -> np.ndarray:
        """The picture as an ``(H, W, 3)`` uint8 array."""
        return np.asarray(self.image).copy()


@lru_cache(maxsize=8)
def _stamp(radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row and column offsets of an anti-aliased disc and each offset's coverage in (0, 1]."""
    reach = math.ceil(radius)
    dy, dx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    coverage = np.clip(radius + 0.5 - np.hypot(dy, dx), 0.0, 1.0)
    keep = coverage > 0
    return dy[keep], dx[keep], coverage[keep].astype(np.float32)


def splat(pixels: np.ndarray, xy: np.ndarray, colors: np.ndarray, radius: float = 1.5, alpha: float = 0.85) -> None:
    """Draw discs of ``radius`` pixels at ``xy`` (``(n, 2)`` pixel positions) in ``colors`` (``(n, 3)`` in [0, 1]) on
    ``pixels`` (a float32 ``(H, W, 3)`` array in [0, 1]), in order, each blended over what is below by ``alpha``."""
    height, width = pixels.shape[:2]
    cols, rows = np.rint(xy[:, 0]).astype(np.int64), np.rint(xy[:, 1]).astype(np.int64)
    colors = np.asarray(colors, dtype=np.float32)
    for dy, dx, cover in zip(*_stamp(radius)):
        r, c = rows + dy, cols + dx
        inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        weight = alpha * cover
        r, c = r[inside], c[inside]
        pixels[r, c] = pixels[r, c] * (1.0 - weight) + colors[inside] * weight


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Float pixels in [0, 1] as uint8."""
    return (np.clip(pixels, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def colormapped(values: np.ndarray, cmap: Colormap, low: float, high: float) -> np.ndarray:
    """``values`` ``(H, W)`` through ``cmap`` on ``[low, high]`` as ``(H, W, 3)`` uint8; NaN gets the map's "bad" colour."""
    scaled = (np.asarray(values, dtype=np.float64) - low) / max(high - low, 1e-300)
    return cmap(scaled, bytes=True)[..., :3]


def tick_values(low: float, high: float, count: int = 3) -> np.ndarray:
    """Round tick positions inside ``[low, high]``, at most about ``count + 1`` of them (matplotlib's own rule)."""
    ticks = MaxNLocator(count).tick_values(low, high)
    span = max(high - low, 1e-300)
    return ticks[(ticks >= low - 1e-9 * span) & (ticks <= high + 1e-9 * span)]


def tick_label(value: float, ticks: np.ndarray) -> str:
    """``value`` with the fewest decimals that print every tick exactly (2.5 stays 2.5), a true minus sign, no ``-0``."""
    scale = max(float(np.max(np.abs(ticks))) if len(ticks) else 0.0, abs(value), 1e-300)
    decimals = next((d for d in range(10) if np.allclose(np.round(ticks, d), ticks, rtol=0, atol=1e-9 * scale)), 10)
    text = f"{value:.{decimals}f}"
    if float(text) == 0:
        text = f"{0:.{decimals}f}"
    return text.replace("-", "\u2212")


@dataclass
class Axes:
    """A framed plot area of a canvas: data limits mapped to the pixel box ``(left, top, width, height)``, y up."""

    box: tuple[int, int, int, int]
    xlim: tuple[float, float]
    ylim: tuple[float, float]

    def to_pixels(self, xy: np.ndarray) -> np.ndarray:
        """Data points ``(n, 2)`` as pixel positions inside the box (relative to the box's top-left corner)."""
        left, top, width, height = self.box
        (x0, x1), (y0, y1) = self.xlim, self.ylim
        cols = (xy[:, 0] - x0) / max(x1 - x0, 1e-300) * (width - 1)
        rows = (1.0 - (xy[:, 1] - y0) / max(y1 - y0, 1e-300)) * (height - 1)
        return np.column_stack([cols, rows])

    def blank(self) -> np.ndarray:
        """A white float32 ``(height, width, 3)`` array the size of the box, to splat points on."""
        return np.ones((self.box[3], self.box[2], 3), dtype=np.float32)

    def draw(self, canvas: Canvas, pixels: np.ndarray | None = None, ticks: int = 3, size: int = 8, title: str = "") -> None:
        """Paste ``pixels`` (float in [0, 1] or uint8) into the box, frame it, label a few ticks and write ``title`` above."""
        left, top, width, height = self.box
        if pixels is not None:
            canvas.paste(pixels if pixels.dtype == np.uint8 else to_uint8(pixels), (left, top))
        canvas.rectangle((left - 1, top - 1, left + width, top + height))
        xs, ys = tick_values(*self.xlim, ticks), tick_values(*self.ylim, ticks)
        spots = self.to_pixels(np.column_stack([xs, np.full(len(xs), self.ylim[0])]))
        for value, (col, _) in zip(xs, spots):
            x = left + col
            canvas.line([(x, top + height), (x, top + height + 3)])
            canvas.text((x, top + height + 4), tick_label(value, xs), size=size, anchor="ma")
        spots = self.to_pixels(np.column_stack([np.full(len(ys), self.xlim[0]), ys]))
        for value, (_, row) in zip(ys, spots):
            y = top + row
            canvas.line([(left - 4, y), (left - 1, y)])
            canvas.text((left - 5, y), tick_label(value, ys), size=size, anchor="rm")
        if title:
            canvas.text((left + width / 2, top - 4), title, size=size + 1, anchor="md")


def legend(canvas: Canvas, xy: tuple[float, float], colors: np.ndarray, names: Sequence[str], size: int = 10,
           anchor: str = "right") -> None:
    """One row of coloured dots and class names, its top edge at ``xy[1]`` and its right (or left) end at ``xy[0]``."""
    gap, dot = size, size * 0.4
    widths = [2 * dot + 4 + canvas.text_width(str(name), size) for name in names]
    x = xy[0] - (sum(widths) + gap * (len(names) - 1)) if anchor == "right" else xy[0]
    middle = xy[1] + size * 0.6
    for color, name, width in zip(colors, names, widths):
        fill = tuple(int(round(255 * c)) for c in color[:3])
        canvas.draw.ellipse((x, middle - dot, x + 2 * dot, middle + dot), fill=fill)
        canvas.text((x + 2 * dot + 4, middle), str(name), size=size, anchor="lm")
        x += width + gap


def colorbar(canvas: Canvas, box: tuple[int, int, int, int], cmap: Colormap, low: float, high: float, label: str = "",
             size: int = 8) -> None:
    """A vertical colour bar in ``box`` (``(left, top, width, height)``): ``low`` at the bottom, ticks on the right."""
    left, top, width, height = box
    ramp = np.linspace(high, low, height)[:, None].repeat(width, axis=1)
    axes = Axes(box, (0.0, 1.0), (low, high))
    canvas.paste(colormapped(ramp, cmap, low, high), (left, top))
    canvas.rectangle((left - 1, top - 1, left + width, top + height))
    values = tick_values(low, high, 4)
    for value, (_, row) in zip(values, axes.to_pixels(np.column_stack([np.zeros(len(values)), values]))):
        y = top + row
        canvas.line([(left + width, y), (left + width + 3, y)])
        canvas.text((left + width + 5, y), tick_label(value, values), size=size, anchor="lm")
    if label:
        widest = max(canvas.text_width(tick_label(v, values), size) for v in values) if len(values) else 0
        canvas.vertical_text((left + width + 10 + widest + size * 0.7, top + height / 2), label, size=size)
