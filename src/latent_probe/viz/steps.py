"""Points moving through a model's steps (how a narrow network bends 2-D space): one panel per step, a grid of panels
and a GIF, drawn straight into pixels (``viz.raster``; matplotlib took about 4 s a firing for a deep narrow network)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from latent_probe.viz.projection3d import CubeView, draw_points_3d
from latent_probe.viz.raster import Axes, Canvas, legend, splat, to_uint8
from latent_probe.viz.scatter import class_colors, project_2d

CELL = (240, 236)  # one panel with its title and tick labels, in pixels (matplotlib's 2.7 inches at 90 dpi were 243)
BOX = 168  # the side of a 2-D panel's square plot area
MIDDLE = 128  # panels and titles are centred this far into their cell, leaving the left for tick labels
CUBE = (184, 178)  # the area a 3-D panel's cube and its tick labels are fitted into
HEADER = 36  # above the panels: the title and the legend
RADIUS, ALPHA = 1.5, 0.85  # points: about matplotlib's s=5 at 90 dpi, slightly see-through
LINE_WIDTH = 1.5  # the decision boundary's level line, in pixels
DPI = 80  # the GIF's pixels per inch (its size is given in inches)


@dataclass
class Step:
    """The points after one step of the chain: ``input``, or a module path and its class (``Linear``, ``Tanh``)."""

    name: str
    kind: str
    points: np.ndarray


@dataclass
class Boundary:
    """A model's final 1-D output over a grid of the 2-D input plane, and the level that separates the classes."""

    xs: np.ndarray
    ys: np.ndarray
    values: np.ndarray
    level: float


def view_2d(points: np.ndarray) -> tuple[np.ndarray, str]:
    """The 2-D view of a step's points and how it was made: 1-D jittered, x-y of 3-D, PCA of wider ones."""
    dim = points.shape[1]
    if dim == 1:
        # The same jitter for every 1-D step, so that points keep their height between such steps.
        spread = 0.05 * max(float(np.ptp(points)), 1e-6)
        jitter = np.random.default_rng(0).uniform(-spread, spread, len(points))
        return np.column_stack([points[:, 0], jitter]), "1-D (height: jitter)"
    if dim == 3:
        return points[:, :2].astype(np.float64), "x-y projection of 3-D"
    flat, how = project_2d(points)
    return flat, how.replace(" layer", "")


def step_views(steps: Sequence[Step]) -> list[tuple[np.ndarray, str]]:
    """Every step's 2-D view; PCA axes are flipped to agree with the previous view, so the GIF does not jump."""
    views = []
    for step in steps:
        flat, how = view_2d(step.points)
        if how.startswith("PCA") and views:
            previous = views[-1][0]
            signs = np.sign([np.dot(flat[:, k] - flat[:, k].mean(), previous[:, k] - previous[:, k].mean()) for k in (0, 1)])
            flat = flat * np.where(signs == 0, 1.0, signs)
        views.append((flat, how))
    return views


def square_limits(points: np.ndarray, margin: float = 0.06) -> tuple[tuple[float, float], tuple[float, float]]:
    """Equal x and y ranges around ``points`` (so that equal aspect fills a square panel)."""
    low, high = points.min(axis=0), points.max(axis=0)
    center, half = (low + high) / 2, max(float((high - low).max()) / 2, 1e-6) * (1 + margin)
    return (center[0] - half, center[0] + half), (center[1] - half, center[1] + half)


def step_title(index: int, step: Step, how: str) -> str:
    """``"3. net.hidden_layer1 (Linear)"`` over how the view was made."""
    kind = f" ({step.kind})" if step.kind else ""
    return f"{index}. {step.name}{kind}\n{how}"


def _points_panel(canvas: Canvas, box: tuple[int, int, int, int], flat: np.ndarray, colors: np.ndarray, title: str,
                  boundary: Boundary | None = None, light: np.ndarray | None = None) -> None:
    """A square 2-D panel of ``flat`` on its own square limits; with ``boundary`` its level line over the points, and
    with ``light`` (two colours) also the class regions under them."""
    xlim, ylim = square_limits(flat)
    axes = Axes(box, xlim, ylim)
    pixels = axes.blank()
    if boundary is not None:
        above, line, inside = _boundary_pixels(boundary, axes)
        if light is not None:  # the boundary panel: regions and line under the points, as matplotlib layered them
            pixels[inside] = light[above[inside].astype(np.intp)]
            pixels *= 1 - line[..., None]
    splat(pixels, axes.to_pixels(flat), colors, RADIUS, ALPHA)
    if boundary is not None and light is None:  # the input panel: the line over the points
        pixels *= 1 - line[..., None]
    axes.draw(canvas, pixels, title=title)


def _boundary_pixels(boundary: Boundary, axes: Axes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """On ``axes``' pixels: where the output is above the level, how much of each pixel the level line covers (in
    [0, 1]), and which pixels the grid reaches; the grid is interpolated bilinearly, as matplotlib's contour does."""
    width, height = axes.box[2], axes.box[3]
    (x0, x1), (y0, y1) = axes.xlim, axes.ylim
    x = x0 + np.arange(width) / max(width - 1, 1) * (x1 - x0)
    y = y1 - np.arange(height) / max(height - 1, 1) * (y1 - y0)  # rows go down, y goes up
    xs, ys = np.asarray(boundary.xs, dtype=np.float64), np.asarray(boundary.ys, dtype=np.float64)
    values = np.asarray(boundary.values, dtype=np.float64)
    if xs[0] > xs[-1]:
        xs, values = xs[::-1], values[:, ::-1]
    if ys[0] > ys[-1]:
        ys, values = ys[::-1], values[::-1]
    inside = ((y >= ys[0]) & (y <= ys[-1]))[:, None] & ((x >= xs[0]) & (x <= xs[-1]))[None, :]
    fx, fy = np.interp(x, xs, np.arange(len(xs))), np.interp(y, ys, np.arange(len(ys)))
    j, i = np.minimum(fx.astype(np.intp), len(xs) - 2), np.minimum(fy.astype(np.intp), len(ys) - 2)
    tx, ty = (fx - j)[None, :], (fy - i)[:, None]
    low, high = values[i], values[i + 1]
    field = ((low[:, j] * (1 - tx) + low[:, j + 1] * tx) * (1 - ty) + (high[:, j] * (1 - tx) + high[:, j + 1] * tx) * ty)
    above = field > boundary.level
    # The line only where the sides change between neighbours (a flat output at the level draws nothing), its
    # width from the distance to the level in pixels: |value - level| / |gradient|, so it comes out anti-aliased.
    change = np.zeros_like(above)
    for axis in (0, 1):
        step = np.diff(above, axis=axis)
        index = [slice(None), slice(None)]
        index[axis] = slice(1, None)
        change[tuple(index)] |= step
        index[axis] = slice(None, -1)
        change[tuple(index)] |= step
    rows, cols = np.gradient(field)
    distance = np.abs(field - boundary.level) / np.maximum(np.hypot(rows, cols), 1e-300)
    line = np.clip(LINE_WIDTH / 2 + 0.5 - distance, 0.0, 1.0) * (change & inside)
    return above, line.astype(np.float32), inside


def _legend_width(class_names: Sequence[str], size: int = 10) -> float:
    """Width of ``raster.legend``'s row of ``class_names`` (a dot, a gap, the name; ``size`` apart)."""
    scratch = Canvas(1, 1)
    return sum(0.8 * size + 4 + scratch.text_width(str(name), size) for name in class_names) + size * (len(class_names) - 1)


def steps_figure(
    steps: Sequence[Step],
    labels: np.ndarray,
    class_names: Sequence[str],
    title: str,
    boundary: Boundary | None = None,
    three_d: bool = True,
    columns: int = 6,
) -> np.ndarray:
    """One panel per step (3-D as 3-D views when ``three_d``), then the decision boundary if given: ``(H, W, 3)`` uint8."""
    views = step_views(steps)
    colors = class_colors(len(class_names))
    point_colors = colors[labels]
    count = len(steps) + (boundary is not None)
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    title_width, legend_width = Canvas(1, 1).text_width(title, 13), _legend_width(class_names)
    width = round(max(CELL[0] * columns + 20, title_width + 40, legend_width + 20))
    # The legend gets a row of its own when the title would run into it.
    own_row = (width + title_width) / 2 > width - 10 - legend_width - 12
    header = HEADER + 18 * own_row
    canvas = Canvas(width, header + CELL[1] * rows + 6)
    canvas.text((width / 2, 8), title, size=13, anchor="ma")
    legend(canvas, (width - 10, 8 + 18 * own_row), colors, class_names, size=10)
    left0 = (width - CELL[0] * columns) // 2

    def cell(i: int) -> tuple[int, int]:
        return left0 + CELL[0] * (i % columns), header + CELL[1] * (i // columns)

    for i, (step, (flat, how)) in enumerate(zip(steps, views)):
        x, y = cell(i)
        if three_d and step.points.shape[1] == 3:
            view = CubeView.around(step.points, (x + MIDDLE - CUBE[0] // 2, y + 34, *CUBE))
            draw_points_3d(canvas, view, step.points, point_colors, RADIUS, ALPHA)
            canvas.text((x + MIDDLE, y + 30), step_title(i, step, "3-D"), size=9, anchor="md")
        else:
            line = boundary if i == 0 else None
            _points_panel(canvas, (x + MIDDLE - BOX // 2, y + 36, BOX, BOX), flat, point_colors, step_title(i, step, how), line)
    if boundary is not None:
        x, y = cell(count - 1)
        light = 0.65 + 0.35 * colors[[0, min(1, len(colors) - 1)]]
        _points_panel(canvas, (x + MIDDLE - BOX // 2, y + 36, BOX, BOX), views[0][0], point_colors,
                      f"decision boundary on the input\n(final output = {boundary.level:g})", boundary, light)
    return canvas.pixels()


def frame_schedule(n_steps: int, frames_per_step: int, hold: int) -> list[tuple[int, float]]:
    """``(step, t)`` of every GIF frame: each step shown ``1 + hold`` times, ``frames_per_step - 1`` frames between.

    The frame shows step ``step`` moved a fraction ``t`` of the way to the next step; the count is
    ``n_steps * (1 + hold) + (n_steps - 1) * (frames_per_step - 1)``.
    """
    schedule: list[tuple[int, float]] = []
    for step in range(n_steps):
        schedule += [(step, 0.0)] * (1 + hold)
        if step < n_steps - 1:
            schedule += [(step, k / frames_per_step) for k in range(1, frames_per_step)]
    return schedule


def _legend_patch(colors: np.ndarray, class_names: Sequence[str], size: int = 9) -> np.ndarray:
    """Class names under each other in a framed white box (matplotlib's "upper right" legend), as uint8 pixels."""
    scratch = Canvas(1, 1)
    width = round(max(0.8 * size + 4 + scratch.text_width(str(name), size) for name in class_names)) + 12
    patch = Canvas(width, (size + 5) * len(class_names) + 8)
    for k, (color, name) in enumerate(zip(colors, class_names)):
        legend(patch, (6, 4 + (size + 5) * k), color[None], [name], size=size, anchor="left")
    patch.rectangle((0, 0, patch.size[0] - 1, patch.size[1] - 1), outline=(204, 204, 204))
    return patch.pixels()


class _Painter:
    """The same coloured points splatted again and again on a white square (one GIF frame each), exactly as
    ``raster.splat`` would but about 3x faster: the disc's offsets and each colour's blend term are worked out once,
    a margin round the square saves checking bounds, one flat index per channel is numpy's fastest gather and
    scatter, and only the pixels a frame touches are converted to uint8 and wiped."""

    def __init__(self, side: int, colors: np.ndarray, radius: float = RADIUS, alpha: float = ALPHA) -> None:
        reach = math.ceil(radius)
        dy, dx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
        cover = np.clip(radius + 0.5 - np.hypot(dy, dx), 0.0, 1.0)
        keep = cover > 0
        self.side, self.reach, self.stride = side, reach, side + 2 * reach
        self.offsets = 3 * (dy[keep] * self.stride + dx[keep])  # in the flat array of channels
        weights = (alpha * cover[keep]).astype(np.float32)
        self.kept = 1 - weights
        self.added = [(weight * np.asarray(colors, dtype=np.float32)).ravel() for weight in weights]
        self.pixels = np.ones(self.stride * self.stride * 3, dtype=np.float32)  # white again after every paint
        self.white = np.full(self.stride * self.stride * 3, 255, dtype=np.uint8)

    def paint(self, xy: np.ndarray) -> np.ndarray:
        """The square with discs at the pixel positions ``xy`` (``(n, 2)``, clamped to the square), as uint8."""
        cols, rows = (np.clip(np.rint(xy[:, k]), 0, self.side - 1).astype(np.intp) + self.reach for k in (0, 1))
        centers = ((rows * self.stride + cols) * 3)[:, None] + np.arange(3)
        centers = centers.ravel()
        pixels = self.pixels
        for offset, kept, added in zip(self.offsets, self.kept, self.added):
            index = centers + offset
            pixels[index] = pixels[index] * kept + added
        touched = (self.offsets[:, None] + centers[None, :]).ravel()  # repeats are harmless: the same value twice
        out = self.white.copy()
        out[touched] = to_uint8(pixels[touched])
        pixels[touched] = 1.0
        inner = slice(self.reach, self.reach + self.side)
        return out.reshape(self.stride, self.stride, 3)[inner, inner]


def animation_frames(
    steps: Sequence[Step],
    labels: np.ndarray,
    class_names: Sequence[str],
    title: str,
    frames_per_step: int = 6,
    hold: int = 2,
    inches: float = 4.4,
) -> list[np.ndarray]:
    """GIF frames (equal-shaped ``(H, W, 3)`` uint8, ``inches`` wide at 80 dpi) moving the points from step to step
    through their 2-D views, on fixed equal axes.

    Between steps of 2 or 3 dimensions this moves the points themselves (3-D seen from above, as in the
    seed); across a change of dimension or between PCA views it blends the two views.
    """
    views = step_views(steps)
    colors = class_colors(len(class_names))
    point_colors = colors[labels].astype(np.float32)
    width, height = round(inches * DPI), round((inches + 0.3) * DPI)
    heading_top = 24
    side = max(min(width - 56, height - heading_top - 30 - 20), 16)
    box = ((width - side) // 2 + 16, heading_top + 30, side, side)
    xlim, ylim = square_limits(np.concatenate([v for v, _ in views]))
    axes = Axes(box, xlim, ylim)
    # Title, frame, ticks and legend are drawn once; a frame is a copy with its points and heading put in.
    canvas = Canvas(width, height)
    canvas.text((width / 2, 5), title, size=11, anchor="ma")
    axes.draw(canvas, size=8)
    background = canvas.pixels()
    patch = _legend_patch(colors, class_names)
    patch = patch[: side - 8, : side - 8]  # dozens of classes: the list is cut at the axes' bottom
    spot = (box[1] + 4, box[0] + box[2] - 4 - patch.shape[1])
    painter = _Painter(side, point_colors)
    headings: dict[str, np.ndarray] = {}
    frames: list[np.ndarray] = []
    last = None
    for step, t in frame_schedule(len(steps), frames_per_step, hold):
        if (step, t) == last:
            frames.append(frames[-1])
            continue
        last, (start, how) = (step, t), views[step]
        if t == 0:
            text, xy = step_title(step, steps[step], how), start
        else:
            text, xy = f"{steps[step].name} → {steps[step + 1].name}\n", (1 - t) * start + t * views[step + 1][0]
        if text not in headings:
            strip = Canvas(width, box[1] - heading_top - 2)
            strip.text((width / 2, 0), text, size=10, anchor="ma")
            headings[text] = strip.pixels()
        frame = background.copy()
        frame[box[1] : box[1] + side, box[0] : box[0] + side] = painter.paint(axes.to_pixels(xy))
        frame[spot[0] : spot[0] + patch.shape[0], spot[1] : spot[1] + patch.shape[1]] = patch
        frame[heading_top : heading_top + headings[text].shape[0]] = headings[text]
        frames.append(frame)
    return frames
