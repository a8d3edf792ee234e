"""Text turned by an angle and hung from its right end: tick labels too long to stand side by side."""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

from latent_probe.viz.raster import INK, Canvas, font


def slanted_text(canvas: Canvas, xy: tuple[float, float], text: str, size: int = 10, angle: float = 45.0, fill=INK) -> None:
    """Write ``text`` rising ``angle`` degrees to the right, the middle of its right end at ``xy`` (a slanted tick label)."""
    left, top, right, bottom = font(size).getbbox(text)
    strip = Image.new("L", (right - left + 2, bottom - top + 2), 0)
    ImageDraw.Draw(strip).text((1 - left, 1 - top), text, fill=255, font=font(size))
    turned = strip.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    # Where the middle of the strip's right edge lands once turned about the centre (y grows downwards).
    half, radians = strip.width / 2, math.radians(angle)
    end_x, end_y = turned.width / 2 + half * math.cos(radians), turned.height / 2 - half * math.sin(radians)
    corner = (round(xy[0] - end_x), round(xy[1] - end_y))
    canvas.image.paste(Image.new("RGB", turned.size, fill), corner, turned)


def slanted_extent(text: str, size: int = 10, angle: float = 45.0) -> tuple[float, float]:
    """How far left of and below its anchor ``slanted_text`` reaches, in pixels."""
    left, top, right, bottom = font(size).getbbox(text)
    radians = math.radians(angle)
    long, short = right - left + 2, bottom - top + 2
    return long * math.cos(radians) + short * math.sin(radians) / 2, long * math.sin(radians) + short * math.cos(radians) / 2
