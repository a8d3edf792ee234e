"""Linear classifier probes (Alain & Bengio, arXiv:1610.01644): how linearly decodable is the label at each layer?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

from latent_probe.analysis.linear_readout import readout_accuracy
from latent_probe.errors import ConfigError, require_choice
from latent_probe.probing import DataSpec, SetupPass, Firing, MomentWriter, Probe
from latent_probe.registry import register_probe
from latent_probe.viz.raster import Axes, Canvas, font, splat, tick_label, to_uint8
from latent_probe.viz.scatter import class_colors
from latent_probe.viz.slanted_text import slanted_extent, slanted_text

ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.ELU, nn.SELU, nn.SiLU, nn.Softplus, nn.Mish)


@dataclass
class LayerData:
    """Flattened activations of the fit split and the evaluation split, with labels, on the model's device."""

    train: dict[str, torch.Tensor]
    train_label: torch.Tensor
    evaluation: dict[str, torch.Tensor]
    evaluation_label: torch.Tensor


@register_probe()
class LinearProbe(Probe):
    """Fit a linear classifier on each layer's activations (train split) and report its accuracy (val split).

    The accuracy says how much label information a *linear* read-out can take from that layer:
    it usually rises with depth, and over training. Default layers: every activation module
    (ReLU, Tanh, Sigmoid, ...). The classifier is scikit-learn's default logistic regression
    (L2, C=1, standardized features), fitted in float32 on the model's device by a preconditioned
    full-batch L-BFGS (``torch``; ``sklearn`` runs scikit-learn itself, as a slow reference).
    Writes ``metrics.json``, TensorBoard scalars ``linear_probe/<layer>/accuracy``, and plots of
    accuracy against depth and, when it runs on a cadence, against epoch.

    Args:
        fit_split: the split whose activations train the classifiers.
        method: ``torch`` (``auto`` is the same) or ``sklearn``.
        split: the split the accuracy is measured on.
        max_samples: samples taken from each of the two splits.
        **kwargs: the shared options of ``Probe``.
    """

    needs_labels = True

    def __init__(
        self,
        fit_split: Literal["train", "val", "test"] = "train",
        method: Literal["auto", "sklearn", "torch"] = "auto",
        split: str = "val",
        max_samples: int | None = 2000,
        **kwargs: Any,
    ) -> None:
        super().__init__(split=split, max_samples=max_samples, **kwargs)
        require_choice("fit_split", fit_split, ("train", "val", "test"))
        require_choice("method", method, ("auto", "sklearn", "torch"))
        self.fit_split, self.method = fit_split, method
        self.history: dict[str, dict[str, float]] = {}  # moment -> layer -> accuracy

    def default_layers(self, pl_module: pl.LightningModule) -> list[str]:
        """Every activation module, in model order."""
        return [name for name, module in pl_module.named_modules() if isinstance(module, ACTIVATIONS)]

    def splits(self) -> list[str]:
        """The split the classifiers are fitted on and the one they are scored on."""
        return list(dict.fromkeys([self.fit_split, self.split]))

    def check(self, spec: DataSpec, pl_module: pl.LightningModule, setup_pass: SetupPass | None) -> None:
        """There must be layers to read."""
        if not self.layers:
            raise ConfigError(f"LinearProbe found no activation modules in {type(pl_module).__name__}; set `layers`")

    def extra_state(self) -> dict[str, Any]:
        """The accuracy history, so the plot over training goes on after a resume."""
        return {"history": self.history}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore the accuracy history."""
        self.history = dict(state.get("history", {}))

    def compute(self, firing: Firing) -> LayerData:
        """Gather the chosen layers' outputs on both splits (every rank)."""
        fit = firing.activations(split=self.fit_split)
        evaluation = firing.activations()
        device = firing.device  # the read-outs are fitted where the model runs
        return LayerData(
            train={p: o.to(device) for p, o in fit.outputs.items()},
            train_label=fit.label.to(device),
            evaluation={p: o.to(device) for p, o in evaluation.outputs.items()},
            evaluation_label=evaluation.label.to(device),
        )

    def write(self, result: LayerData, out: MomentWriter) -> None:
        """Fit one classifier per layer, then write metrics, scalars and plots."""
        accuracy, methods = {}, {}
        usable = out.finite({p: result.train[p] for p in self.layers})
        for path in [p for p in self.layers if p in usable and bool(torch.isfinite(result.evaluation[p]).all())]:
            accuracy[path], methods[path] = readout_accuracy(
                result.train[path], result.train_label, result.evaluation[path], result.evaluation_label, self.seed,
                "sklearn" if self.method == "sklearn" else "torch")
        self.history[out.when] = accuracy
        features = {path: int(result.train[path].shape[1]) for path in self.layers}
        out.json("metrics.json", {"accuracy": accuracy, "method": methods, "features": features, "fit_split": self.fit_split,
                                  "eval_split": self.split, "layers_in_order": self.layers, "history": self.history})
        out.scalars({f"{self.name}/{path}/accuracy": value for path, value in accuracy.items()})
        out.png("accuracy_vs_depth.png", self._depth_plot(accuracy, out.when), tag=f"{self.name}/accuracy_vs_depth")
        if len(self.history) > 1:
            out.png("accuracy_vs_epoch.png", self._history_plot(), tag=f"{self.name}/accuracy_vs_epoch")

    def _depth_plot(self, accuracy: dict[str, float], when: str) -> np.ndarray:
        return accuracy_bars(self.layers, [accuracy.get(p, np.nan) for p in self.layers],
                             f"linear probe accuracy ({self.split})", f"Linear read-out accuracy by layer @ {when}")

    def _history_plot(self) -> np.ndarray:
        moments = list(self.history)
        series = {path: [self.history[m].get(path, np.nan) for m in moments] for path in self.layers}
        return accuracy_lines(moments, series, "linear probe accuracy", "Linear read-out accuracy over training")


ACCURACY_RANGE = (0.0, 1.08)  # room above a bar at 1.0 for its value
ACCURACY_TICKS = np.linspace(0.0, 1.0, 6)
BAR_COLOR = (0.12, 0.47, 0.71)  # matplotlib's first colour
PLOT_HEIGHT, LABEL_SIZE = 260, 10


def accuracy_bars(names: list[str], values: list[float], ylabel: str, title: str) -> np.ndarray:
    """One bar per layer, its accuracy written above it (``n/a`` where there is none); an ``(H, W, 3)`` uint8 picture."""
    slot = int(np.clip(900 / max(len(names), 1), 28, 80))
    canvas, axes = _chart(title, ylabel, names, range(len(names)), (-0.5, len(names) - 0.5), slot * len(names), 20)
    pixels = _gridded(axes)
    tops = axes.to_pixels(np.column_stack([np.arange(len(values)), np.nan_to_num(values, nan=0.0)]))
    for (middle, row), value in zip(tops, values):
        if np.isfinite(value):
            pixels[int(round(row)):, int(middle - slot * 0.35):int(middle + slot * 0.35) + 1] = BAR_COLOR
    _framed(canvas, axes, pixels)
    left, top = axes.box[:2]
    for (middle, row), value in zip(tops, values):
        text, y = (f"{value:.2f}", top + row - 3) if np.isfinite(value) else ("n/a", top + axes.box[3] - 3)
        canvas.text((left + middle, y), text, size=9, anchor="md", fill=(0, 0, 0) if np.isfinite(value) else (140, 140, 140))
    return canvas.pixels()


def accuracy_lines(moments: list[str], series: dict[str, list[float]], ylabel: str, title: str) -> np.ndarray:
    """One line per layer over the moments, with a legend of layers at the right; an ``(H, W, 3)`` uint8 picture."""
    colors = class_colors(len(series))
    names = [short_name(n) for n in series]
    legend_w = int(max((font(LABEL_SIZE).getlength(n) for n in names), default=0)) + 40
    every = max(1, int(np.ceil(len(moments) * 16 / 460)))  # a label per 16 pixels at most
    shown = [m if i % every == 0 else "" for i, m in enumerate(moments)]
    canvas, axes = _chart(title, ylabel, shown, range(len(moments)), (-0.3, max(len(moments) - 0.7, 0.3)), 460, legend_w,
                         len(series) * 16 + 10)
    spots = [axes.to_pixels(np.column_stack([np.arange(len(v)), v])) for v in series.values()]
    traces, dots = [_polyline(s) for s in spots], [s[np.isfinite(s[:, 1])] for s in spots]
    pixels = _gridded(axes)
    # Two splats for all layers (lines, then markers) instead of two per layer.
    for pieces, radius in ((traces, 1.0), (dots, 3.0)):
        splat(pixels, np.concatenate(pieces), np.repeat(colors, [len(p) for p in pieces], axis=0), radius, 1.0)
    _framed(canvas, axes, pixels)
    _line_legend(canvas, (axes.box[0] + axes.box[2] + 14, axes.box[1] + 4), colors, names)
    return canvas.pixels()


def _chart(title: str, ylabel: str, labels: list[str], spots: range, xlim: tuple[float, float], plot_width: int, right: int,
          plot_height: int = PLOT_HEIGHT) -> tuple[Canvas, Axes]:
    # A canvas with the title, the vertical y label and slanted x labels at data x ``spots`` under axes of
    # ``plot_width`` pixels on ``xlim`` x the accuracy range, and ``right`` pixels to spare at the right.
    labels = [short_name(n) for n in labels]
    reach = [slanted_extent(n, LABEL_SIZE) if n else (0.0, 0.0) for n in labels]
    probe = Axes((0, 0, plot_width, 1), xlim, ACCURACY_RANGE)
    xs = probe.to_pixels(np.column_stack([np.asarray(spots, dtype=float), np.zeros(len(labels))]))[:, 0]
    left = int(max([62.0] + [r[0] - x + 12 for r, x in zip(reach, xs)]))
    plot_height = max(PLOT_HEIGHT, plot_height)
    bottom = int(max([16.0] + [r[1] for r in reach])) + 14
    width = max(left + plot_width + right, int(font(13).getlength(title)) + 30)
    canvas = Canvas(width, 40 + plot_height + bottom)
    canvas.text((width / 2, 8), title, size=13, anchor="ma")
    canvas.vertical_text((16, 40 + plot_height / 2), ylabel, size=11)
    for label, x in zip(labels, xs):
        if label:
            canvas.line([(left + x, 40 + plot_height), (left + x, 40 + plot_height + 3)])
            slanted_text(canvas, (left + x + 3, 40 + plot_height + 8), label, LABEL_SIZE)
    return canvas, Axes((left, 40, plot_width, plot_height), xlim, ACCURACY_RANGE)


def _gridded(axes: Axes) -> np.ndarray:
    """A white float picture of the axes with light horizontal lines at the accuracy ticks."""
    pixels = axes.blank()
    rows = axes.to_pixels(np.column_stack([np.zeros(len(ACCURACY_TICKS)), ACCURACY_TICKS]))[:, 1]
    pixels[np.rint(rows).astype(int)] = 0.9
    return pixels


def _framed(canvas: Canvas, axes: Axes, pixels: np.ndarray) -> None:
    """Paste the axes' ``pixels``, frame them and label the accuracy ticks at the left."""
    left, top, width, height = axes.box
    canvas.paste(to_uint8(pixels), (left, top))
    canvas.rectangle((left - 1, top - 1, left + width, top + height))
    rows = axes.to_pixels(np.column_stack([np.zeros(len(ACCURACY_TICKS)), ACCURACY_TICKS]))[:, 1]
    for value, row in zip(ACCURACY_TICKS, rows):
        canvas.line([(left - 4, top + row), (left - 1, top + row)])
        canvas.text((left - 6, top + row), tick_label(value, ACCURACY_TICKS), size=LABEL_SIZE, anchor="rm")


def _polyline(points: np.ndarray) -> np.ndarray:
    """Points every half pixel along the segments between consecutive finite ``points`` (a gap where one is NaN)."""
    pieces = []
    for start, end in zip(points[:-1], points[1:]):
        if np.isfinite(start).all() and np.isfinite(end).all():
            steps = max(2, int(np.hypot(*(end - start)) * 2))
            pieces.append(start + np.linspace(0.0, 1.0, steps)[:, None] * (end - start))
    return np.concatenate(pieces) if pieces else np.zeros((0, 2))


def _line_legend(canvas: Canvas, corner: tuple[float, float], colors: np.ndarray, names: list[str]) -> None:
    """A column of short coloured lines with a dot and their names, from ``corner`` (top-left) down."""
    x, y = corner
    for color, name in zip(colors, names):
        fill = tuple(int(round(255 * c)) for c in color)
        canvas.line([(x, y + 6), (x + 18, y + 6)], fill=fill, width=2)
        canvas.draw.ellipse((x + 6, y + 3, x + 12, y + 9), fill=fill)
        canvas.text((x + 24, y + 6), name, size=LABEL_SIZE, anchor="lm")
        y += 16


def short_name(name: str, limit: int = 40) -> str:
    """``name`` cut to its last ``limit`` characters (the end of a module path says most), marked with ``…``."""
    return name if len(name) <= limit else "\u2026" + name[-(limit - 1):]
