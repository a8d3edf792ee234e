"""viz.accuracy_charts (the linear probe's pictures), drawn straight into pixels: bar heights, error bars, the baseline, line colours
and gaps, long layer names."""

import numpy as np

from latent_probe.viz.accuracy_charts import (
    ACCURACY_RANGE,
    BAND_COLOR,
    BAR_COLOR,
    BASELINE_COLOR,
    ERROR_BAR_COLOR,
    UNTRAINED_COLOR,
    Baseline,
    accuracy_bars,
    accuracy_lines,
    short_name,
)
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


def error_bar_rows(picture: np.ndarray, column: float) -> np.ndarray:
    """The rows painted in the error bars' colour in the column near ``column`` that has most of them."""
    painted = (picture == to_uint8(np.array(ERROR_BAR_COLOR))).all(axis=-1)
    near = range(int(column) - 2, int(column) + 3)
    return np.flatnonzero(painted[:, max(near, key=lambda c: painted[:, c].sum())])


def test_error_bars_span_each_interval_and_a_missing_one_draws_none():
    values, intervals = [0.5, 0.7, 0.9], np.array([[0.3, 0.65], [np.nan, np.nan], [0.8, 0.97]])
    picture = accuracy_bars(LONG, values, "accuracy", "by layer", intervals=intervals)
    top, left, bottom, right = axes_box(picture)
    slot = (right - left) / 3

    def row_of(value):
        return top + (1 - value / ACCURACY_RANGE[1]) * (bottom - top - 1)

    for k, interval in enumerate(intervals):
        rows = error_bar_rows(picture, left + (k + 0.5) * slot)
        if np.isnan(interval).any():
            assert len(rows) == 0
            continue
        assert abs(rows.min() - row_of(interval[1])) <= 1 and abs(rows.max() - row_of(interval[0])) <= 1
        assert len(rows) == rows.max() - rows.min() + 1, "one unbroken line, through the bar's top"


def test_lines_carry_error_bars_in_their_layer_colour():
    series = {"a": [0.2, 0.4], "b": [0.8, 0.9]}
    intervals = {"a": [[0.1, 0.3], [0.35, 0.45]], "b": [[np.nan, np.nan], [0.85, 0.95]]}
    picture = accuracy_lines(["epoch_0000", "fit_end"], series, "accuracy", "over training", intervals=intervals)
    top, left, bottom, right = axes_box(picture)
    colors = to_uint8(class_colors(2))
    x = round(left + 0.3 / 1.6 * (right - left - 1))  # the first moment, on the x range (-0.3, 1.3) of two moments
    first = picture[top:bottom, x - 4 : x + 5]

    def painted_rows(color):
        return np.flatnonzero((first == color).all(axis=-1).any(axis=1)) + top

    a_rows = painted_rows(colors[0])
    assert abs(a_rows.min() - (top + (1 - 0.3 / ACCURACY_RANGE[1]) * (bottom - top - 1))) <= 2
    assert abs(a_rows.max() - (top + (1 - 0.1 / ACCURACY_RANGE[1]) * (bottom - top - 1))) <= 2
    b_rows = painted_rows(colors[1])
    assert b_rows.max() - b_rows.min() <= 8, "b's first moment has no interval: its marker alone"


def test_a_baseline_is_a_dashed_line_in_its_interval_band_across_the_bars():
    baseline = Baseline(0.6, 0.5, 0.7)
    picture = accuracy_bars(LONG, [0.3, 0.9, np.nan], "accuracy", "by layer", baseline=baseline)
    top, left, bottom, right = axes_box(picture)

    def row_of(value):
        return round(top + (1 - value / ACCURACY_RANGE[1]) * (bottom - top - 1))

    column = int(left + 2.5 * (right - left) / 3)  # the third layer has no bar: only the background
    gap = picture[top:bottom, column]
    dashed = (picture[row_of(0.6), left:right] == to_uint8(np.array(BASELINE_COLOR))).all(axis=-1).mean()
    assert 0.6 < dashed < 0.7, "8 pixels on, 4 off, across the whole axes, over the bars too"
    band = np.flatnonzero((gap == to_uint8(np.array(BAND_COLOR))).all(axis=-1)) + top
    assert abs(band.min() - row_of(0.7)) <= 1 and abs(band.max() - row_of(0.5)) <= 1
    plain = accuracy_bars(LONG, [0.3, 0.9, np.nan], "accuracy", "by layer")
    assert not (plain[top:bottom, column] == to_uint8(np.array(BAND_COLOR))).all(axis=-1).any()


def test_the_untrained_accuracy_is_an_orange_tick_across_each_bar():
    values, untrained = [0.9, 0.8, 0.7], [0.3, np.nan, 0.6]
    picture = accuracy_bars(LONG, values, "accuracy", "by layer", untrained=untrained)
    top, left, bottom, right = axes_box(picture)
    slot = (right - left) / 3
    orange = (picture[top:bottom] == to_uint8(np.array(UNTRAINED_COLOR))).all(axis=-1)
    for k, value in enumerate(untrained):
        rows = np.flatnonzero(orange[:, int(left + (k + 0.5) * slot)])
        if np.isnan(value):
            assert rows.size == 0
        else:
            expected = (1 - value / ACCURACY_RANGE[1]) * (bottom - top - 1)
            assert rows.size == 3 and abs(rows.mean() - expected) <= 1.5, (k, rows, expected)
