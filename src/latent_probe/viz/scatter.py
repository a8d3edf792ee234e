"""2-D pictures of embeddings: class-coloured scatter, thumbnails at their coordinates, heatmaps."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from latent_probe.viz.figure import new_figure


def class_colors(n_classes: int) -> np.ndarray:
    """``(n_classes, 3)`` distinct RGB colours in [0, 1] (tab10, then tab20)."""
    cmap = colormaps["tab10" if n_classes <= 10 else "tab20"]
    return np.array([cmap(i % cmap.N)[:3] for i in range(n_classes)])


def project_2d(points: np.ndarray) -> tuple[np.ndarray, str]:
    """The points themselves if 2-D, else their first two principal components; and a label saying which."""
    points = np.asarray(points, dtype=np.float64)
    if points.shape[1] == 2:
        return points, "2-D layer"
    centered = points - points.mean(axis=0)
    _, singular, components = np.linalg.svd(centered, full_matrices=False)
    explained = (singular[:2] ** 2).sum() / max((singular**2).sum(), 1e-12)
    return centered @ components[:2].T, f"PCA of {points.shape[1]}-D layer ({explained:.0%} of variance)"


def class_scatter(points: np.ndarray, labels: np.ndarray, class_names: Sequence[str], title: str) -> Figure:
    """Scatter of 2-D points coloured by class, with a legend of class names."""
    figure = new_figure(6.5, 6)
    axes = figure.add_subplot()
    colors = class_colors(len(class_names))
    for c, name in enumerate(class_names):
        mask = labels == c
        axes.scatter(points[mask, 0], points[mask, 1], s=6, color=colors[c], label=str(name), alpha=0.8, linewidths=0)
    axes.set_title(title, fontsize=10)
    axes.legend(markerscale=3, fontsize=8, loc="best")
    return figure


def thumbnail_canvas(points: np.ndarray, images: np.ndarray, labels: np.ndarray, n_classes: int, size: int = 1000) -> np.ndarray:
    """The bottleneck picture (digits on rays): each ``(H, W)`` image in [0, 1] drawn, ink tinted by class, at its 2-D position.

    Returns an ``(size, size, 3)`` float32 array; overlapping ink darkens (min-compositing), like ink on paper.
    The default size is about the axes' size in pixels, so that drawing the figure resamples little.
    """
    # Small images (8x8 digits) are enlarged so that a thumbnail is about 1/45 of the canvas.
    scale = max(1, round(size / 45 / images.shape[-2]))
    images = np.asarray(images, dtype=np.float32).repeat(scale, axis=-2).repeat(scale, axis=-1)
    height, width = images.shape[-2:]
    canvas = np.ones((size + height, size + width, 3), dtype=np.float32)
    low, high = points.min(axis=0), points.max(axis=0)
    scaled = (points - low) / np.maximum(high - low, 1e-12)
    cols = (scaled[:, 0] * size).astype(int)
    rows = ((1.0 - scaled[:, 1]) * size).astype(int)  # y grows upwards in the plot
    colors = class_colors(n_classes).astype(np.float32)
    for image, label, row, col in zip(images, labels, rows, cols):
        ink = image[..., None] * (1.0 - colors[label])[None, None, :]
        patch = canvas[row : row + height, col : col + width]
        np.minimum(patch, 1.0 - ink, out=patch)
    return canvas


def thumbnail_scatter(points, images, labels, class_names: Sequence[str], title: str) -> Figure:
    """A figure of ``thumbnail_canvas`` with the embedding's axis ranges."""
    canvas = thumbnail_canvas(points, images, labels, len(class_names))
    figure = new_figure(9, 9, dpi=120)
    axes = figure.add_subplot()
    low, high = points.min(axis=0), points.max(axis=0)
    axes.imshow(canvas, extent=(low[0], high[0], low[1], high[1]), aspect="auto", interpolation="antialiased")
    axes.set_title(title, fontsize=10)
    return figure


def heatmap(matrix: np.ndarray, names: Sequence[str], title: str) -> Figure:
    """An annotated square heatmap (e.g. centroid distances)."""
    figure = new_figure(6, 5.5)
    axes = figure.add_subplot()
    shown = axes.imshow(matrix, cmap="viridis")
    figure.colorbar(shown, ax=axes, shrink=0.8)
    axes.set_xticks(range(len(names)), [str(n) for n in names])
    axes.set_yticks(range(len(names)), [str(n) for n in names])
    for (i, j), value in np.ndenumerate(matrix):
        axes.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=7, color="w" if value < matrix.max() / 2 else "k")
    axes.set_title(title, fontsize=10)
    return figure
