"""Layer similarity: linear CKA (Kornblith et al., ICML 2019) between every pair of chosen layers over a whole split.

A streaming probe: it keeps per-layer sums and cross-products (``analysis/cka.py``), never the split's activations, so
memory does not grow with the number of samples, and the sums reduced across processes give 1 and N processes the
same matrix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from latent_probe.analysis.cka import MAX_EXACT_WIDTH, check_widths, cka_matrix, fold, initial_statistics, pairs
from latent_probe.probing import Batch, Firing, MomentWriter, Probe, StreamState
from latent_probe.probing.layers import activation_modules
from latent_probe.registry import register_probe
from latent_probe.viz.similarity_heatmap import similarity_heatmap

if TYPE_CHECKING:
    from latent_probe.dataspec import DataSpec
    from latent_probe.probing.setup_pass import SetupPass

METHOD = "linear CKA, exact (feature-space sufficient statistics over the whole split)"


@register_probe()
class LayerSimilarity(Probe):
    """Linear CKA between every pair of chosen layers over a whole split: how alike their representations are.

    CKA is 1 for representations equal up to a rotation and an isotropic scaling and near 0 for unrelated ones. It is
    computed exactly from float64 sums and cross-products of the stored (pooled) features, for layers of at most
    ``MAX_EXACT_WIDTH`` (2,048) features; a wider layer is refused at setup (pool it with ``max_features``). Writes
    ``similarity.npz`` (``cka``, ``layers``, ``n_samples``), ``similarity.json``, the heatmap ``similarity.png``
    (also in TensorBoard) and TensorBoard scalars ``<name>/<layer>/next``: each layer's CKA with the next one.

    Args:
        max_samples: samples read (default: the whole split, streamed).
        **kwargs: the shared options of ``Probe``.
    """

    streams = True

    def __init__(self, max_samples: int | None = None, **kwargs: Any) -> None:
        super().__init__(max_samples=max_samples, **kwargs)

    def default_layers(self, model: nn.Module) -> list[str]:
        """Every activation module, in model order."""
        return activation_modules(model)

    def check(self, spec: DataSpec, model: nn.Module, setup_pass: SetupPass | None) -> None:
        """Refuse a layer too wide for exact CKA (its name and width in the error)."""
        check_widths({layer: self.pooling.width(self.layer_shapes[layer]) for layer in self.layers if layer in self.layer_shapes})

    def start_stream(self, widths: dict[str, int]) -> StreamState:
        """A sample count, per layer the float64 feature sums, and per pair of layers (itself included) ``X^T Y``."""
        check_widths(widths)
        state = StreamState()
        for key, value in initial_statistics([widths[layer] for layer in self.layers]).items():
            state.add(key, value)
        return state

    def update(self, state: StreamState, outputs: dict[str, torch.Tensor], batch: Batch) -> None:
        """Fold one batch's outputs into the sums and cross-products."""
        fold(state.values, [outputs[layer] for layer in self.layers])  # every state is a float64 sum

    def compute(self, firing: Firing) -> dict[str, Any]:
        """The CKA matrix from the reduced statistics."""
        state = firing.stream
        count = int(state["count"])
        stats = {key: state[key].cpu() for key in ["count", *(f"sum:{i}" for i in range(len(self.layers))),
                                                  *(f"cross:{i}:{j}" for i, j in pairs(len(self.layers)))]}
        return {"count": count, "layers": list(self.layers), "cka": cka_matrix(stats)}

    def write(self, result: dict[str, Any], out: MomentWriter) -> None:
        """``similarity.npz``, ``similarity.json``, the heatmap and each layer's CKA with the next as scalars."""
        layers, matrix = result["layers"], result["cka"]
        out.npz("similarity.npz", {"cka": matrix, "layers": np.array(layers), "n_samples": np.array(result["count"])})
        out.json("similarity.json", {
            "split": self.split, "n_samples": result["count"], "method": METHOD, "max_exact_width": MAX_EXACT_WIDTH,
            "layers": layers, "cka": [[float(v) if np.isfinite(v) else None for v in row] for row in matrix]})
        title = f"{self.name}: linear CKA between layers ({self.split}, {result['count']} samples)"
        out.png("similarity.png", similarity_heatmap(layers, matrix, title), tag=f"{self.name}/cka")
        out.scalars({f"{self.name}/{layer}/next": matrix[i, i + 1] for i, layer in enumerate(layers[:-1])
                     if np.isfinite(matrix[i, i + 1])})
