"""The heatmap of a layers x layers matrix: intervals written in cells wide enough for them, and the intervals' widths
as a heatmap of their own (wider intervals in brighter colours)."""

from __future__ import annotations

import matplotlib
import numpy as np

from latent_probe.viz.matrix_heatmap import interval_heatmap, matrix_heatmap

LAYERS = ["features.act1", "features.act2", "bottleneck", "classifier"]
MATRIX = np.array([[1, 0.8, 0.3, 0.1], [0.8, 1, 0.5, 0.2], [0.3, 0.5, 1, 0.9], [0.1, 0.2, 0.9, 1.0]])


def test_intervals_are_written_in_cells_that_hold_them_and_left_out_of_small_ones():
    bounds = (MATRIX - 0.03, np.minimum(MATRIX + 0.02, 1.0))
    plain, with_bounds = (matrix_heatmap(LAYERS, LAYERS, MATRIX, "t", intervals=i) for i in (None, bounds))
    assert plain.shape == with_bounds.shape and (plain != with_bounds).any(axis=2).sum() > 500  # text in 16 cells
    many = [f"layer{i}" for i in range(30)]  # 16-pixel cells: no room for "[0.97, 1.00]"
    eye = np.eye(30)
    np.testing.assert_array_equal(matrix_heatmap(many, many, eye, "t"), matrix_heatmap(many, many, eye, "t", intervals=(eye, eye)))


def test_interval_widths_map_wider_intervals_to_brighter_cells():
    lower, upper = np.zeros((2, 2)), np.array([[0.0, 0.1], [0.1, 0.4]])
    picture = interval_heatmap(["a", "b"], ["a", "b"], lower, upper, "widths")

    def pixels_of(share: float) -> int:  # the viridis colour of share x the widest interval, in 8-bit RGB
        colour = np.round(np.array(matplotlib.colormaps["viridis"](share)[:3]) * 255)
        return int((np.abs(picture.astype(int) - colour).max(axis=2) <= 2).sum())

    cell = pixels_of(0.0)  # one cell of the narrowest (its value written over part of it)
    assert cell > 1000 and pixels_of(1.0) > 0.5 * cell and pixels_of(0.25) > 1.5 * cell  # two cells of 0.1 / 0.4
