"""Linear classifier probes (Alain & Bengio, arXiv:1610.01644): how linearly decodable is the label at each layer?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pytorch_lightning as pl
import torch

from latent_probe.analysis.linear_readout import readout_accuracy
from latent_probe.errors import require_choice
from latent_probe.probing import Firing, MomentWriter, Probe
from latent_probe.probing.layers import activation_modules
from latent_probe.registry import register_probe
from latent_probe.viz.accuracy_charts import accuracy_bars, accuracy_lines


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
        return activation_modules(pl_module)

    def splits(self) -> list[str]:
        """The split the classifiers are fitted on and the one they are scored on."""
        return list(dict.fromkeys([self.fit_split, self.split]))

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
        self.history[out.moment] = accuracy
        features = {path: int(result.train[path].shape[1]) for path in self.layers}
        out.json("metrics.json", {"accuracy": accuracy, "method": methods, "features": features, "fit_split": self.fit_split,
                                  "eval_split": self.split, "layers_in_order": self.layers, "history": self.history})
        out.scalars({f"{self.name}/{path}/accuracy": value for path, value in accuracy.items()})
        out.png("accuracy_vs_depth.png", self._depth_plot(accuracy, out.moment), tag=f"{self.name}/accuracy_vs_depth")
        if len(self.history) > 1:
            out.png("accuracy_vs_epoch.png", self._history_plot(), tag=f"{self.name}/accuracy_vs_epoch")

    def _depth_plot(self, accuracy: dict[str, float], moment: str) -> np.ndarray:
        return accuracy_bars(self.layers, [accuracy.get(p, np.nan) for p in self.layers],
                             f"linear probe accuracy ({self.split})", f"Linear read-out accuracy by layer @ {moment}")

    def _history_plot(self) -> np.ndarray:
        moments = list(self.history)
        series = {path: [self.history[m].get(path, np.nan) for m in moments] for path in self.layers}
        return accuracy_lines(moments, series, "linear probe accuracy", "Linear read-out accuracy over training")
