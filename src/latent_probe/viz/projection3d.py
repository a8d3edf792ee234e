"""3-D points drawn straight into pixels: an orthographic view of their bounding cube (shaded back panes, grid, edges,
labelled ticks), the points painted back to front.

The view follows matplotlib's ``view_init(elev, azim)`` (z up, the eye at azimuth ``azim`` around it), but is
orthographic: a cube stays a cube, and one view matrix serves every point, edge and tick.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from latent_probe.viz.raster import FRAME, Canvas, splat, tick_label, tick_values, to_uint8

ELEV, AZIM = 25.0, -60.0
SUPERSAMPLE = 3  # line art drawn 3x larger and averaged down: smooth edges at a millisecond a panel
PANES = (0.965, 0.945, 0.925)  # back panes facing x, y and z, a shade apart so the corner reads (matplotlib's look)
GRID, EDGE = 0.80, 0.45
CORNERS = np.array(list(itertools.product((-1.0, 1.0), repeat=3)))


def view_matrix(elev: float = ELEV, azim: float = AZIM) -> np.ndarray:
    """Rows: the screen's right, up and towards-the-eye directions as unit vectors in data space."""
    e, a = np.radians(elev), np.radians(azim)
    toward = np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
    right = np.array([-np.sin(a), np.cos(a), 0.0])  # matplotlib's u = (0, 0, 1) x w, normalised
    return np.stack([right, np.cross(toward, right), toward])


@dataclass
class CubeView:
    """The cube ``center ± half`` (equal ranges on all axes) seen orthographically, fitted into the pixel box
    ``(left, top, width, height)`` of a canvas."""

    center: np.ndarray
    half: float
    box: tuple[int, int, int, int]
    elev: float = ELEV
    azim: float = AZIM

    @classmethod
    def around(cls, xyz: np.ndarray, box: tuple[int, int, int, int], elev: float = ELEV, azim: float = AZIM) -> CubeView:
        """The smallest cube centred on ``xyz``'s bounding box that holds it."""
        low, high = xyz.min(axis=0), xyz.max(axis=0)
        return cls((low + high) / 2, max(float((high - low).max()) / 2, 1e-6), box, elev, azim)

    def __post_init__(self) -> None:
        self.matrix = view_matrix(self.elev, self.azim)
        flat = CORNERS @ self.matrix[:2].T
        extent = flat.max(axis=0) - flat.min(axis=0)
        width, height = self.box[2], self.box[3]
        self.scale = min((width - 1) / extent[0], (height - 1) / extent[1])
        # The projected cube's middle at the box's middle.
        self.offset = np.array([(width - 1) / 2, (height - 1) / 2]) - self.scale * np.array([1.0, -1.0]) * flat.mean(axis=0)

    def unit(self, xyz: np.ndarray) -> np.ndarray:
        """Data points in the cube's own coordinates, ``[-1, 1]`` on every axis."""
        return (np.asarray(xyz, dtype=np.float64) - self.center) / self.half

    def project(self, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel positions ``(n, 2)`` inside the box of cube-coordinate points, and their depth (larger: nearer)."""
        seen = unit @ self.matrix.T
        return seen[:, :2] * np.array([1.0, -1.0]) * self.scale + self.offset, seen[:, 2]

    def pixel(self, unit) -> tuple[float, float]:
        """One cube-coordinate point on the canvas (not relative to the box)."""
        flat, _ = self.project(np.asarray(unit, dtype=np.float64)[None])
        return self.box[0] + float(flat[0, 0]), self.box[1] + float(flat[0, 1])

    def ticks(self, count: int = 3) -> list[np.ndarray]:
        """Round tick values of each axis inside the cube."""
        return [tick_values(c - self.half, c + self.half, count) for c in self.center]


def _facing(view: CubeView) -> np.ndarray:
    # +1 where the eye is on an axis' positive side: that side's face is a front face, the other a back pane.
    return np.where(view.matrix[2] >= 0, 1.0, -1.0)


def _back_panes(view: CubeView, ticks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The three back panes with their grid and edges, as float pixels of the box, and the coverage of the three
    edges that meet at the nearest corner (drawn over the points)."""
    s = SUPERSAMPLE
    width, height = view.box[2], view.box[3]
    image = Image.new("L", (width * s, height * s), 255)
    front = Image.new("L", (width * s, height * s), 0)
    draw, draw_front = ImageDraw.Draw(image), ImageDraw.Draw(front)
    near = _facing(view)

    def points(corners) -> list[tuple[float, float]]:
        flat, _ = view.project(np.asarray(corners, dtype=np.float64))
        return [(float(c) * s + s / 2, float(r) * s + s / 2) for c, r in flat]

    unit_ticks = [(t - c) / view.half for t, c in zip(ticks, view.center)]
    for axis in range(3):
        # The pane on the far side of this axis: a square spanned by the two other axes.
        u, v = [a for a in range(3) if a != axis]
        corner = np.zeros(3)
        corner[axis] = -near[axis]
        square = []
        for cu, cv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            corner[u], corner[v] = cu, cv
            square.append(corner.copy())
        draw.polygon(points(square), fill=round(255 * PANES[axis]))
        for along, across in ((u, v), (v, u)):
            for value in unit_ticks[along]:
                ends = np.repeat(corner[None], 2, axis=0)
                ends[:, along] = value
                ends[:, across] = (-1, 1)
                draw.line(points(ends), fill=round(255 * GRID), width=s)
    for a, b in itertools.combinations(CORNERS, 2):
        if np.count_nonzero(a != b) != 1:
            continue
        # An edge is in front when both its faces are: it has the nearest corner's coordinates off its own axis.
        axis = int(np.flatnonzero(a != b)[0])
        in_front = all(a[k] == near[k] for k in range(3) if k != axis)
        if in_front:
            draw_front.line(points([a, b]), fill=255, width=s)
        else:
            draw.line(points([a, b]), fill=round(255 * EDGE), width=s)
    panes = np.asarray(image.reduce(s), dtype=np.float32) / 255
    return np.repeat(panes[..., None], 3, axis=2), np.asarray(front.reduce(s), dtype=np.float32) / 255


def draw_points_3d(canvas: Canvas, view: CubeView, xyz: np.ndarray, colors: np.ndarray, radius: float = 1.5,
                   alpha: float = 0.85, ticks: int = 3, size: int = 8) -> None:
    """Draw ``xyz`` (``(n, 3)``, ``colors`` ``(n, 3)`` in [0, 1]) in its cube: back panes with a grid at the ticks,
    the points from the farthest to the nearest, the front edges faintly over them, tick labels outside."""
    values = view.ticks(ticks)
    pixels, front = _back_panes(view, values)
    flat, depth = view.project(view.unit(xyz))
    order = np.argsort(depth, kind="stable")
    splat(pixels, flat[order], np.asarray(colors)[order], radius, alpha)
    weight = 0.6 * front[..., None]
    pixels = pixels * (1 - weight) + EDGE * weight
    canvas.paste(to_uint8(pixels), view.box[:2])
    _tick_labels(canvas, view, values, size)


def _tick_labels(canvas: Canvas, view: CubeView, values: list[np.ndarray], size: int) -> None:
    # Ticks on the outline: x and y along the front edges of the floor, z up the vertical edge farthest right
    # (where matplotlib puts them for this view); labels pushed outwards from the cube's middle.
    near = _facing(view)
    floor = -near[2]
    right = [np.array([sx, sy, 0.0]) for sx in (-1, 1) for sy in (-1, 1)]
    z_edge = max(right, key=lambda p: view.pixel(p)[0])
    edges = {0: np.array([0.0, near[1], floor]), 1: np.array([near[0], 0.0, floor]), 2: z_edge}
    middle = np.array(view.pixel(np.zeros(3)))
    for axis, edge in edges.items():
        outward = np.array(view.pixel(edge)) - middle
        outward /= max(float(np.hypot(*outward)), 1e-9)
        for value in values[axis]:
            spot = edge.copy()
            spot[axis] = (value - view.center[axis]) / view.half
            x, y = view.pixel(spot)
            canvas.line([(x, y), (x + 4 * outward[0], y + 4 * outward[1])], fill=FRAME)
            text = tick_label(value, values[axis])
            # Far enough out that the label's box clears the tick whichever way it points.
            reach = 7 + abs(outward[0]) * canvas.text_width(text, size) / 2 + abs(outward[1]) * size / 2
            canvas.text((x + reach * outward[0], y + reach * outward[1]), text, size=size, anchor="mm")
