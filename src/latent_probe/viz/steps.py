"""Points moving through a model's steps (how a narrow network bends 2-D space): one panel per step, a grid of panels and a GIF."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from latent_probe.viz.figure import new_figure
from latent_probe.viz.scatter import class_colors, project_2d

PANEL_INCHES = 2.7
POINT_SIZE = 5


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


def _draw_points(axes, xy: np.ndarray, colors: np.ndarray, limits=None) -> None:
    axes.scatter(xy[:, 0], xy[:, 1], s=POINT_SIZE, c=colors, linewidths=0, alpha=0.85)
    xlim, ylim = limits or square_limits(xy)
    axes.set_xlim(*xlim)
    axes.set_ylim(*ylim)
    axes.set_aspect("equal", adjustable="box")
    _few_ticks(axes, (axes.xaxis, axes.yaxis))


def _draw_points_3d(axes, xyz: np.ndarray, colors: np.ndarray) -> None:
    axes.scatter(xyz[:, 0], xyz[:, 1], xyz[:, 2], s=POINT_SIZE, c=colors, linewidths=0, alpha=0.85, depthshade=False)
    center, half = (xyz.min(axis=0) + xyz.max(axis=0)) / 2, max(float(np.ptp(xyz, axis=0).max()) / 2, 1e-6)
    for setter, middle in zip((axes.set_xlim, axes.set_ylim, axes.set_zlim), center):
        setter(middle - half, middle + half)
    axes.set_box_aspect((1, 1, 1), zoom=1.1)
    axes.view_init(elev=25, azim=-60)
    _few_ticks(axes, (axes.xaxis, axes.yaxis, axes.zaxis), pad=0)


def _few_ticks(axes, axis_list, pad: float = 2) -> None:
    # Three ticks an axis keep small panels readable, and tick labels are most of a panel's drawing time.
    for axis in axis_list:
        axis.set_major_locator(MaxNLocator(3))
    axes.tick_params(labelsize=6, pad=pad)


def _draw_boundary(axes, boundary: Boundary, colors: np.ndarray, filled: bool) -> None:
    if filled:
        # Light class colours on each side of the level: class 1 where the output is above it.
        light = ListedColormap([0.65 + 0.35 * colors[0], 0.65 + 0.35 * colors[min(1, len(colors) - 1)]])
        axes.contourf(boundary.xs, boundary.ys, boundary.values > boundary.level, levels=[-0.5, 0.5, 1.5], cmap=light)
    axes.contour(boundary.xs, boundary.ys, boundary.values, levels=[boundary.level], colors="k", linewidths=1.2)


def steps_figure(
    steps: Sequence[Step],
    labels: np.ndarray,
    class_names: Sequence[str],
    title: str,
    boundary: Boundary | None = None,
    three_d: bool = True,
    columns: int = 6,
) -> Figure:
    """One panel per step (3-D steps as 3-D views when ``three_d``), then the decision boundary if given."""
    views = step_views(steps)
    colors = class_colors(len(class_names))
    point_colors = colors[labels]
    count = len(steps) + (boundary is not None)
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    height = PANEL_INCHES * rows + 0.5
    figure = new_figure(PANEL_INCHES * columns, height, dpi=90)
    # Fixed margins instead of constrained layout: with dozens of (3-D) panels the layout solver took a third
    # of the drawing time, and equal square panels need no solving.
    figure.set_layout_engine("none")
    grid = figure.add_gridspec(rows, columns, left=0.04, right=0.98, bottom=0.3 / height, top=1 - 0.75 / height,
                               wspace=0.25, hspace=0.35)
    for i, (step, (flat, how)) in enumerate(zip(steps, views)):
        if three_d and step.points.shape[1] == 3:
            axes = figure.add_subplot(grid[i], projection="3d")
            _draw_points_3d(axes, step.points, point_colors)
            how = "3-D"
        else:
            axes = figure.add_subplot(grid[i])
            _draw_points(axes, flat, point_colors)
            if i == 0 and boundary is not None:
                _draw_boundary(axes, boundary, colors, filled=False)
        axes.set_title(step_title(i, step, how), fontsize=7)
    if boundary is not None:
        axes = figure.add_subplot(grid[count - 1])
        _draw_boundary(axes, boundary, colors, filled=True)
        _draw_points(axes, views[0][0], point_colors)
        axes.set_title(f"decision boundary on the input\n(final output = {boundary.level:g})", fontsize=7)
    _legend(figure, colors, class_names)
    figure.suptitle(title, fontsize=10)
    return figure


def _legend(figure: Figure, colors: np.ndarray, class_names: Sequence[str]) -> None:
    handles = [figure.axes[0].scatter([], [], s=20, color=c) for c in colors]
    figure.legend(handles, [str(n) for n in class_names], loc="upper right", bbox_to_anchor=(0.99, 1.0), fontsize=8,
                  ncols=len(class_names), frameon=False)


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


def animation_frames(
    steps: Sequence[Step],
    labels: np.ndarray,
    class_names: Sequence[str],
    title: str,
    frames_per_step: int = 6,
    hold: int = 2,
    inches: float = 4.4,
) -> list[np.ndarray]:
    """GIF frames moving the points from step to step through their 2-D views, on fixed equal axes.

    Between steps of 2 or 3 dimensions this moves the points themselves (3-D seen from above, as in the
    seed); across a change of dimension or between PCA views it blends the two views.
    """
    views = step_views(steps)
    colors = class_colors(len(class_names))
    figure = new_figure(inches, inches + 0.3, dpi=80)
    axes = figure.add_subplot()
    _draw_points(axes, views[0][0], colors[labels], limits=square_limits(np.concatenate([v for v, _ in views])))
    scatter = axes.collections[0]
    axes.legend([axes.scatter([], [], s=20, color=c) for c in colors], [str(n) for n in class_names], fontsize=7, loc="upper right")
    figure.suptitle(title, fontsize=9)
    heading = axes.set_title("\n", fontsize=8)
    # Blitting: axes, ticks and legend are drawn once; each frame redraws only the points and the heading.
    scatter.set_animated(True)
    heading.set_animated(True)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    background = canvas.copy_from_bbox(figure.bbox)
    frames, last = [], None
    for step, t in frame_schedule(len(steps), frames_per_step, hold):
        if (step, t) == last:
            frames.append(frames[-1])
            continue
        last, (start, how) = (step, t), views[step]
        if t == 0:
            heading.set_text(step_title(step, steps[step], how))
            scatter.set_offsets(start)
        else:
            heading.set_text(f"{steps[step].name} → {steps[step + 1].name}\n")
            scatter.set_offsets((1 - t) * start + t * views[step + 1][0])
        canvas.restore_region(background)
        figure.draw_artist(scatter)
        figure.draw_artist(heading)
        frames.append(np.asarray(canvas.buffer_rgba())[..., :3].copy())
    return frames
