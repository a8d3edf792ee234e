"""Layer similarity: linear CKA (Kornblith et al., ICML 2019) between every pair of chosen layers over a whole split.

A streaming probe: it keeps per-layer sums and cross-products (``analysis/cka.py``), or for wide layers the summed
unbiased HSIC of groups of samples (``analysis/minibatch_cka.py``), never the split's activations, so memory does not
grow with the number of samples, and the sums reduced across processes give 1 and N processes the same exact matrix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import nn

from latent_probe.analysis.cka import MAX_EXACT_WIDTH, METHODS, choose_method, cka_matrix, fold, initial_statistics
from latent_probe.analysis.minibatch_cka import MIN_GROUP, GroupCutter, fold_groups, initial_hsic, minibatch_cka
from latent_probe.errors import ConfigError, check_range, require_choice
from latent_probe.probing import Batch, Firing, MomentWriter, Probe, StreamState
from latent_probe.probing.layers import activation_modules
from latent_probe.registry import register_probe
from latent_probe.viz.similarity_heatmap import similarity_heatmap

if TYPE_CHECKING:
    from latent_probe.dataspec import DataSpec
    from latent_probe.probing.setup_pass import SetupPass

ESTIMATORS = {
    "exact": "linear CKA, exact (feature-space sufficient statistics over the whole split)",
    "minibatch": "linear CKA, unbiased minibatch HSIC estimator (Nguyen, Raghu & Kornblith 2021) over groups of samples",
}


class GroupedState(StreamState):
    """The estimator's sums plus this process's unfinished group (held here, never reduced across processes)."""

    def __init__(self, group_size: int) -> None:
        super().__init__()
        self.cutter = GroupCutter(group_size)


@register_probe()
class LayerSimilarity(Probe):
    """Linear CKA between every pair of chosen layers over a whole split: how alike their representations are.

    CKA is 1 for representations equal up to a rotation and an isotropic scaling and near 0 for unrelated ones. With
    ``method: exact`` it is computed exactly from float64 sums and cross-products of the stored (pooled) features, for
    layers of at most ``MAX_EXACT_WIDTH`` (2,048) features. With ``method: minibatch`` it is the unbiased minibatch
    HSIC estimator (Nguyen, Raghu & Kornblith, ICLR 2021) over groups of ``group_size`` consecutive samples of each
    process (each process's last, smaller group left out): any width, memory ``group_size`` rows per layer; its value
    depends on the grouping, so 1 and N processes differ by the estimator's noise. ``auto`` is exact when every layer
    fits, else the estimator for the whole matrix. Writes ``similarity.npz`` (``cka``, ``layers``, ``n_samples``,
    ``method``), ``similarity.json`` (also the groups used), the heatmap ``similarity.png`` (also in TensorBoard) and
    TensorBoard scalars ``<name>/<layer>/next``: each layer's CKA with the next one. The method (and the estimator's
    group size and number of groups) is also in the moment's ``manifest.json``.

    Args:
        max_samples: samples read (default: the whole split, streamed).
        method: ``auto``, ``exact`` or ``minibatch``.
        group_size: samples per group of the minibatch estimator (at least 4: it divides by ``group_size - 3``).
        **kwargs: the shared options of ``Probe``.
    """

    streams = True

    def __init__(self, max_samples: int | None = None, method: Literal["auto", "exact", "minibatch"] = "auto",
                 group_size: int = 256, **kwargs: Any) -> None:
        super().__init__(max_samples=max_samples, **kwargs)
        self.method = require_choice("method", method, METHODS)
        check_range("group_size", group_size, minimum=MIN_GROUP)
        self.group_size = group_size

    def default_layers(self, model: nn.Module) -> list[str]:
        """Every activation module, in model order."""
        return activation_modules(model)

    def widths(self) -> dict[str, int]:
        """Each layer's stored (pooled) features, from the setup pass."""
        return {layer: self.pooling.width(self.layer_shapes[layer]) for layer in self.layers if layer in self.layer_shapes}

    def check(self, spec: DataSpec, model: nn.Module, setup_pass: SetupPass | None) -> None:
        """Refuse a layer too wide for ``method: exact`` and a split smaller than one group of the estimator."""
        size = len(spec.dataset(self.split))  # type: ignore[arg-type]
        samples = size if self.max_samples is None else min(size, self.max_samples)
        if choose_method(self.method, self.widths()) == "minibatch" and samples < self.group_size:
            raise ConfigError(f"group_size {self.group_size} is more than the {samples} samples of the {self.split} split "
                              f"the minibatch estimator reads; lower group_size (at least {MIN_GROUP})")

    def start_stream(self, widths: dict[str, int]) -> StreamState:
        """Exact: a count, feature sums and per pair ``X^T Y``; minibatch: a count, the groups and the summed HSIC_1."""
        if choose_method(self.method, widths) == "exact":
            state, stats = StreamState(), initial_statistics([widths[layer] for layer in self.layers])
        else:
            state, stats = GroupedState(self.group_size), initial_hsic(len(self.layers))
        for key, value in stats.items():
            state.add(key, value)
        return state

    def update(self, state: StreamState, outputs: dict[str, torch.Tensor], batch: Batch) -> None:
        """Fold one batch's outputs into the state (every state is a float64 sum)."""
        values = [outputs[layer] for layer in self.layers]
        if isinstance(state, GroupedState):
            fold_groups(state.values, state.cutter, values)
        else:
            fold(state.values, values)

    def compute(self, firing: Firing) -> dict[str, Any]:
        """The CKA matrix from the reduced state, with what the method used."""
        state = firing.stream
        stats = {key: value.cpu() for key, value in state.values.items()}
        result = {"count": int(stats["count"]), "layers": list(self.layers)}
        if not isinstance(state, GroupedState):
            return {**result, "cka": cka_matrix(stats), "method": "exact"}
        groups = int(stats["groups"])
        if groups == 0:
            raise ConfigError(f"no process read {self.group_size} samples (group_size) of the {self.split} split "
                              f"({result['count']} in all); lower group_size (at least {MIN_GROUP})")
        return {**result, "cka": minibatch_cka(stats), "method": "minibatch", "groups": groups,
                "group_size": self.group_size, "left_out": result["count"] - groups * self.group_size}

    def write(self, result: dict[str, Any], out: MomentWriter) -> None:
        """``similarity.npz``, ``similarity.json``, the manifest's method, the heatmap and each layer's CKA with the next."""
        layers, matrix, method = result["layers"], result["cka"], result["method"]
        how = {"method": method, "estimator": ESTIMATORS[method], "max_exact_width": MAX_EXACT_WIDTH}
        if method == "minibatch":
            how.update(group_size=result["group_size"], groups=result["groups"], samples_left_out=result["left_out"])
        out.note(similarity=how)
        out.npz("similarity.npz", {"cka": matrix, "layers": np.array(layers), "n_samples": np.array(result["count"]),
                                   "method": np.array(method)})
        out.json("similarity.json", {"split": self.split, "n_samples": result["count"], **how, "layers": layers,
                                     "cka": as_json(matrix)})
        title = f"{self.name}: linear CKA between layers ({self.split}, {result['count']} samples)"
        out.png("similarity.png", similarity_heatmap(layers, matrix, title), tag=f"{self.name}/cka")
        out.scalars({f"{self.name}/{layer}/next": matrix[i, i + 1] for i, layer in enumerate(layers[:-1])
                     if np.isfinite(matrix[i, i + 1])})


def as_json(matrix: np.ndarray) -> list[list[float | None]]:
    """A matrix as JSON rows, NaN (undefined) as null."""
    return [[float(v) if np.isfinite(v) else None for v in row] for row in matrix]
