"""viz.accuracy_charts (the linear probe's pictures), drawn straight into pixels: bar heights, line colours and gaps,
long layer names."""

import numpy as np

from latent_probe.viz.accuracy_charts import ACCURACY_RANGE, BAR_COLOR, accuracy_bars, accuracy_lines, short_name
from latent_probe.viz.raster import FRAME, to_uint8
from latent_probe.viz.scatter import class_colors

LONG = ["backbone.layer1.0.relu", "backbone.layer1.1.relu", "head.encoder.transformer_block_11.mlp.activation"]


def axes_box(picture: np.ndarray) -> tuple[int, int, int, int]:
    """``(top, left, bottom, right)`` inside the axes frame (the only long lines of the frame's colour)."""
    frame = (picture == FRAME).all(axis=-1)
    rows, cols = np.flatnonzero(frame.sum(axis=1) >= 150), np.flatnonzero(frame.sum(axis=0) >= 150)
    return rows[0] + 1, cols[0] + 1, rows[-1], cols[-1]


def test_bars_are_as_tall_as_their_accuracy_and_a_missing_one_has_none():
    values = [0.25, np.nan, 1.0]
    picture = accuracy_bars(LONG, values, "accuracy", "by layer")
    top, left, bottom, right = axes_box(picture)
    slot = (right - left) / 3
    bar = (picture[top:bottom] == to_uint8(np.array(BAR_COLOR))).all(axis=-1)
    for k, value in enumerate(values):
        filled = bar[:, int(left + (k + 0.5) * slot)].sum()
        expected = 0.0 if np.isnan(value) else value / ACCURACY_RANGE[1] * (bottom - top)
        assert abs(filled - expected) <= 2


def test_lines_take_their_layer_colour_and_break_where_a_value_is_missing():
    series = {"low": [0.2, 0.2, 0.2], "gappy": [0.8, np.nan, 0.8]}
    picture = accuracy_lines(["epoch_0000", "epoch_0001", "fit_end"], series, "accuracy", "over training")
    top, left, bottom, right = axes_box(picture)
    colors = to_uint8(class_colors(2))

    def row_of(value):
        return round(top + (1 - value / ACCURACY_RANGE[1]) * (bottom - top - 1))

    span = picture[:, left + (right - left) // 4 : left + 3 * (right - left) // 4]  # between the outer moments
    assert (span[row_of(0.2)] == colors[0]).all(axis=-1).mean() > 0.9
    assert not (span[row_of(0.8)] == colors[1]).all(axis=-1).any()
    assert (picture[row_of(0.8)] == colors[1]).all(axis=-1).sum() >= 2  # the two markers


def test_long_layer_names_are_shortened_and_stay_inside_the_picture():
    assert short_name(LONG[2]) == "\u2026" + LONG[2][-39:] and len(short_name(LONG[2])) == 40
    assert short_name(LONG[0]) == LONG[0]
    for picture in (accuracy_bars(LONG, [0.5, 0.6, 0.7], "accuracy", "by layer"),
                    accuracy_lines([f"epoch_{e:04d}" for e in range(40)], dict.fromkeys(LONG, [0.5] * 40), "accuracy", "t")):
        edges = np.concatenate([picture[0], picture[-1], picture[:, 0], picture[:, -1]])
        assert (edges == 255).all()
