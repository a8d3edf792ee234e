"""Embedding pictures drawn straight into pixels: class colours where the points are, thumbnails kept pixel for pixel,
heatmap cells coloured in the order of their values."""

import numpy as np
from matplotlib import colormaps

from latent_probe.viz.raster import FRAME, to_uint8
from latent_probe.viz.scatter import (
    THUMBNAIL_PX,
    class_colors,
    class_scatter,
    heatmap,
    padded_range,
    thumbnail_canvas,
    thumbnail_scatter,
)


def frame_lines(picture: np.ndarray, axis: int, length: int) -> np.ndarray:
    """Rows (``axis=1``) or columns (``axis=0``) holding at least ``length`` pixels of the axes frame's colour."""
    return np.flatnonzero((picture == FRAME).all(axis=-1).sum(axis=axis) >= length)


def axes_box(picture: np.ndarray, length: int = 200) -> tuple[int, int, int, int]:
    """``(top, left, bottom, right)`` of the pixels inside the first frame at least ``length`` pixels long each way."""
    rows, cols = frame_lines(picture, 1, length), frame_lines(picture, 0, length)
    return rows[0] + 1, cols[0] + 1, rows[1], cols[1]


def blended(color: np.ndarray, alpha: float = 0.8) -> np.ndarray:
    return color * alpha + (1.0 - alpha)


def test_a_point_shows_its_class_colour_where_it_lies():
    points = np.array([[0.0, 0.0], [-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
    labels = np.array([3, 0, 1, 2, 4])
    colors = class_colors(5)
    picture = class_scatter(points, labels, [f"class {k}" for k in range(5)], "five points")
    top, left, bottom, right = axes_box(picture)
    (x0, x1), (y0, y1) = padded_range(points[:, 0]), padded_range(points[:, 1])
    for (x, y), label in zip(points, labels):
        col = left + round((x - x0) / (x1 - x0) * (right - left - 1))
        row = top + round((y1 - y) / (y1 - y0) * (bottom - top - 1))
        seen = picture[row, col] / 255.0
        nearest = np.argmin([np.abs(seen - blended(c)).max() for c in colors])
        assert nearest == label and np.abs(seen - blended(colors[label])).max() < 0.02
    assert (picture[top + 5, left + 5] == 255).all()  # no point there


def test_thumbnails_keep_the_canvas_pixels():
    rng = np.random.default_rng(0)
    points, labels = rng.normal(size=(200, 2)), rng.integers(0, 10, 200)
    images = (rng.random((200, 28, 28)) > 0.6).astype(np.float32)
    canvas = thumbnail_canvas(points, images, labels, 10, size=THUMBNAIL_PX)
    picture = thumbnail_scatter(points, images, labels, [str(k) for k in range(10)], "thumbnails")
    top, left, bottom, right = axes_box(picture, length=THUMBNAIL_PX)
    assert (bottom - top, right - left) == canvas.shape[:2]
    np.testing.assert_array_equal(picture[top:bottom, left:right], to_uint8(canvas))


def test_heatmap_cells_are_coloured_in_the_order_of_their_values_with_readable_text():
    values = np.random.default_rng(1).permutation(16).reshape(4, 4).astype(float)
    picture = heatmap(values, ["zero", "one", "two", "three"], "distances")
    top, left, bottom, right = axes_box(picture, length=150)
    cell = (bottom - top) // 4
    assert cell * 4 == bottom - top == right - left
    lut = colormaps["viridis"](np.linspace(0, 1, 256))[:, :3] * 255
    place = np.zeros_like(values)
    for (i, j), _ in np.ndenumerate(values):
        seen = picture[top + i * cell + 2, left + j * cell + 2].astype(float)
        place[i, j] = np.argmin(np.abs(lut - seen).sum(axis=1))
    assert (np.argsort(place, axis=None) == np.argsort(values, axis=None)).all()
    lowest, highest = np.unravel_index(values.argmin(), values.shape), np.unravel_index(values.argmax(), values.shape)
    middle = slice(cell // 4, 3 * cell // 4)

    def cell_pixels(i, j):
        return picture[top + i * cell : top + (i + 1) * cell, left + j * cell : left + (j + 1) * cell][middle, middle]

    def has_white_and_black(pixels):
        return (pixels.min(axis=-1) > 200).any(), (pixels.max(axis=-1) < 60).any()

    assert has_white_and_black(cell_pixels(*lowest)) == (True, False)
    assert has_white_and_black(cell_pixels(*highest)) == (False, True)
