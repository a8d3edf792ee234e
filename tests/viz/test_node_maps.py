"""Node-map grids drawn straight into pixels: tile colours, white gaps, placement, sizes, the input image."""

import numpy as np

from latent_probe.viz.node_maps import DIVERGING_GREY, grid_columns, node_map_grid, tile_layout
from latent_probe.viz.raster import colormapped, font

LIMIT = 2.0
TITLE = "features.act1 (3 nodes), input: white @ epoch_0001\neach tile: change of the node's activation"


def colour(value: float) -> np.ndarray:
    return colormapped(np.array([[value]]), DIVERGING_GREY, -LIMIT, LIMIT)[0, 0]


def square_of(picture: np.ndarray, value: float, side: int) -> tuple[int, int]:
    """Top-left corner of the one ``side`` x ``side`` block drawn in ``value``'s colour (colour-bar rows are narrower)."""
    mask = (picture == colour(value)).all(axis=-1)
    rows = np.flatnonzero(mask.sum(axis=1) >= side)
    assert len(rows) == side and rows[-1] - rows[0] == side - 1
    cols = np.flatnonzero(mask[rows].all(axis=0))
    assert len(cols) == side and cols[-1] - cols[0] == side - 1
    return int(rows[0]), int(cols[0])


def test_tiles_at_the_limits_show_the_map_ends_and_nan_and_gaps_are_white():
    maps = np.zeros((3, 28, 28))
    maps[0], maps[1], maps[2, :14, :14] = -LIMIT, LIMIT, np.nan
    zoom, shrink, gap = tile_layout(28, grid_columns(3))
    side = 28 * zoom // shrink
    assert side >= 60
    picture = node_map_grid(maps, LIMIT, TITLE, label="input shortcut (±2)")
    assert picture.dtype == np.uint8 and picture.shape[2] == 3
    top, left = square_of(picture, LIMIT, side)
    assert square_of(picture, -LIMIT, side) == (top, left - side - gap)
    assert (picture[top : top + side, left - gap : left] == 255).all()  # the gap between tiles 0 and 1
    third = picture[top : top + side, left + side + gap : left + 2 * side + gap]
    assert (third[: 14 * zoom, : 14 * zoom] == 255).all()
    assert (third[14 * zoom :] == colour(0.0)).all() and (third[:, 14 * zoom :] == colour(0.0)).all()


def test_a_tile_sits_at_its_row_and_column_in_a_large_layer():
    maps = np.zeros((256, 28, 28))
    maps[0], maps[17] = -LIMIT, LIMIT  # node 17: row 1, column 1 of 16
    zoom, shrink, gap = tile_layout(28, grid_columns(256))
    side = 28 * zoom // shrink
    picture = node_map_grid(maps, LIMIT, TITLE)
    first = square_of(picture, -LIMIT, side)
    assert square_of(picture, LIMIT, side) == (first[0] + side + gap, first[1] + side + gap)


def test_grids_stay_about_the_size_of_the_matplotlib_figures():
    for count, (width, height) in ((10, (1220, 250)), (100, (1220, 1000)), (256, (1320, 1100))):
        picture = node_map_grid(np.zeros((count, 28, 28)), LIMIT, TITLE, np.zeros((1, 28, 28)), "label")
        assert 0.8 * width <= picture.shape[1] <= 1.15 * width and 0.8 * height <= picture.shape[0] <= 1.15 * height
    large = node_map_grid(np.zeros((10, 200, 200)), LIMIT, TITLE)  # shrunk, not drawn 2000 pixels wide
    assert large.shape[1] <= 1300


def test_the_input_image_is_drawn_enlarged_and_the_title_is_not_cut():
    image = np.ones((1, 28, 28))
    image[:, :, :14] = 0.0
    title = "a very long layer path " * 6 + "\nsecond line"
    picture = node_map_grid(np.zeros((2, 28, 28)), LIMIT, title, image)
    black = (picture == 0).all(axis=-1)
    rows, cols = np.flatnonzero(black.any(axis=1)), np.flatnonzero(black.any(axis=0))
    assert black.sum() == len(rows) * len(cols) and len(rows) >= 100 and len(rows) == 2 * len(cols)
    assert picture.shape[1] >= font(13).getlength(title.split("\n")[0])
