"""The layer-transform pictures drawn into pixels: panel grid layout, where points land, the 3-D view, the decision
boundary panel and the GIF frames."""

import numpy as np

from latent_probe.viz.scatter import class_colors
from latent_probe.viz.steps import Boundary, Step, animation_frames, steps_figure

COLORS = class_colors(3)
DARK = 100  # darker than any class colour's brightest channel; an anti-aliased black line straddling two pixels is 64


def cluster(center, n: int = 40, spread: float = 0.01, seed: int = 0) -> np.ndarray:
    """``n`` points packed around ``center`` (overlapping discs reach the class colour itself)."""
    return np.asarray(center, dtype=np.float64) + np.random.default_rng(seed).normal(0, spread, (n, len(center)))


def near(image: np.ndarray, color, tolerance: int = 10) -> np.ndarray:
    """Where ``image`` has ``color`` (RGB in [0, 1])."""
    target = np.round(np.asarray(color) * 255)
    return (np.abs(image.astype(np.int64) - target) <= tolerance).all(axis=-1)


def centroid(mask: np.ndarray) -> np.ndarray:
    """Mean ``(row, col)`` of a non-empty mask."""
    rows, cols = np.nonzero(mask)
    assert len(rows), "no pixel of that colour"
    return np.array([rows.mean(), cols.mean()])


def long_dark_column(image: np.ndarray) -> bool:
    """Whether a column in the middle third (between a panel's frame edges) has a long run of dark pixels."""
    third = image.shape[1] // 3
    return bool(((image[:, third : 2 * third].max(axis=-1) < DARK).sum(axis=0) > 100).any())


def test_grid_is_uint8_and_grows_with_the_steps():
    points = cluster([0.0, 0.0], spread=1.0)
    labels = np.zeros(len(points), dtype=np.int64)

    def picture(count: int) -> np.ndarray:
        return steps_figure([Step(f"s{k}", "", points) for k in range(count)], labels, ["a"], "t")

    one, three, six, seven, thirteen = (picture(n) for n in (1, 3, 6, 7, 13))
    assert one.dtype == np.uint8 and one.ndim == 3 and one.shape[2] == 3
    assert one.shape[1] < three.shape[1] < six.shape[1] == seven.shape[1] == thirteen.shape[1], "up to 6 columns"
    assert one.shape[0] == three.shape[0] == six.shape[0] < seven.shape[0] < thirteen.shape[0], "a row per 6 panels"
    assert steps_figure([Step("s", "", points)] * 4, labels, ["a"], "t", columns=2).shape[0] > six.shape[0]


def test_points_land_where_their_class_is():
    # Swapping the classes changes only the panel's points (the legend stays), so the changed pixels are the points.
    points = np.concatenate([cluster([-1.0, -1.0]), cluster([1.0, 1.0], seed=1)])
    labels = np.repeat([0, 1], 40)
    first = steps_figure([Step("input", "", points)], labels, ["low", "high"], "t")
    swapped = steps_figure([Step("input", "", points)], 1 - labels, ["low", "high"], "t")
    moved = (first != swapped).any(axis=-1)
    low, high = centroid(moved & near(first, COLORS[0])), centroid(moved & near(first, COLORS[1]))
    assert high[0] < low[0] - 100 and high[1] > low[1] + 100, "class 1 at the top right, class 0 at the bottom left"
    assert np.allclose(centroid(moved & near(swapped, COLORS[1])), low, atol=2)


def test_3d_view_shows_height_that_the_xy_projection_drops():
    # Two clusters one above the other (same x, y), in a cube set by a third class at its corners.
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
    points = np.concatenate([cluster([0.0, 0.0, -0.8]), cluster([0.0, 0.0, 0.8], seed=1), corners])
    labels = np.concatenate([np.repeat([0, 1], 40), np.full(8, 2)])
    swapped = np.concatenate([np.repeat([1, 0], 40), np.full(8, 2)])
    names = ["down", "up", "corner"]
    for three_d in (True, False):
        steps = [Step("lift", "Linear", points)]
        first = steps_figure(steps, labels, names, "t", three_d=three_d)
        other = steps_figure(steps, swapped, names, "t", three_d=three_d)
        moved = (first != other).any(axis=-1)
        down, up = centroid(moved & near(first, COLORS[0])), centroid(moved & near(first, COLORS[1]))
        if three_d:
            assert up[0] < down[0] - 60, "z points up in the 3-D view"
            assert abs(up[1] - down[1]) < 3
        else:
            assert np.allclose(up, down, atol=3), "the x-y projection puts both clusters on the same spot"
    assert steps_figure(steps, labels, names, "t").shape == first.shape
    assert not np.array_equal(steps_figure(steps, labels, names, "t"), first)


def test_boundary_panel_fills_each_side_with_its_light_colour():
    xs, ys = np.linspace(-1, 1, 30), np.linspace(-1, 1, 30)
    boundary = Boundary(xs, ys, np.broadcast_to(xs, (30, 30)).copy(), 0.0)  # class 1 where x > 0
    points = np.array([[-1.0, -1.0], [1.0, 1.0], [-0.5, 0.5]])
    image = steps_figure([Step("input", "", points)], np.array([0, 1, 0]), ["left", "right"], "t", boundary)
    light = 0.65 + 0.35 * COLORS[:2]
    left, right = near(image, light[0], 3), near(image, light[1], 3)
    assert left.sum() > 5000 and right.sum() > 5000
    (left_row, left_col), (right_row, right_col) = centroid(left), centroid(right)
    assert right_col > left_col + 40 and abs(left_row - right_row) < 10
    # Across the middle row of the regions: light left, then the black level line, then light right.
    row = int(round(left_row))
    last_left, first_right = np.flatnonzero(left[row]).max(), np.flatnonzero(right[row]).min()
    assert first_right > last_left, "no class-1 colour left of the line"
    assert image[row, last_left:first_right + 1].max(axis=-1).min() < DARK
    # The same line crosses the input panel (the left half) at x = 0: a long dark column in its middle.
    assert long_dark_column(image[:, : image.shape[1] // 2])


def test_no_boundary_no_line():
    points = np.array([[-1.0, -1.0], [1.0, 1.0], [-0.5, 0.5]])
    image = steps_figure([Step("input", "", points)], np.array([0, 1, 0]), ["left", "right"], "t")
    assert not long_dark_column(image), "only text and the frame are that dark"


def test_frames_share_a_shape_move_the_points_and_change_the_heading():
    rng = np.random.default_rng(0)
    fixed = cluster([0.0, 1.0], seed=2)  # class 1 stays put, at the top
    steps = [Step("input", "", np.concatenate([cluster([-1.0, -1.0]), fixed])),
             Step("shift", "Linear", np.concatenate([cluster([1.0, -1.0]), fixed])),
             Step("lift", "Linear", np.concatenate([cluster([1.0, -1.0]), fixed]) @ rng.normal(size=(2, 3)))]
    labels = np.repeat([0, 1], 40)
    frames = animation_frames(steps, labels, ["moving", "still"], "title", frames_per_step=2, hold=1)
    assert len(frames) == 3 * 2 + 2 * 1
    assert len({frame.shape for frame in frames}) == 1 and all(frame.dtype == np.uint8 for frame in frames)
    assert frames[1] is frames[0], "a held frame is the same picture"
    # (0, 0) (0, 0) (0, 0.5) (1, 0) (1, 0) (1, 0.5) (2, 0) (2, 0): the moving class half-way at t = 0.5.
    start, middle, end = frames[0], frames[2], frames[3]
    bottom = slice(start.shape[0] // 2, None)  # below the legend, where only the moving class is
    x0, xm, x1 = (centroid(near(f[bottom], COLORS[0]))[1] for f in (start, middle, end))
    assert x1 - x0 > 80 and abs(xm - (x0 + x1) / 2) < 3
    changed = np.flatnonzero((start != middle).any(axis=-1).any(axis=-1))
    top = np.flatnonzero((start != end).any(axis=-1).any(axis=-1))
    assert changed.min() < start.shape[0] // 5, "the heading changes between a step and the way to the next"
    assert top.min() < start.shape[0] // 5, "and between steps"
    assert np.array_equal(start[:15], end[:15]), "the title stays"
