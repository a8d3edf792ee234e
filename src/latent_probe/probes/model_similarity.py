"""Model similarity: linear CKA between each chosen layer of the probed model and each layer of a reference model of
the same architecture with other weights (another seed, the model before fine-tuning, a weights file, the weights as
built), over a whole split, both models in one pass.

The reference is a twin of the probed model (``probing/twin.py``) with the reference weights, run on every batch of the
probed model's pass (a pass of its own: ``compute`` readies the twin, then reads the stream); the probe folds float64
statistics of both (``analysis/cka_cross.py``), never the activations, and sums them across processes, so 1 and N
processes give the same matrix. Its weights come from ``reference``: ``initial`` (the engine's initial weights: the model
as built, before training and before a checkpoint's weights), or a file the CLI and ``latent_probe.probe`` load, checked
against the architecture before anything runs (``cli/reference_weights.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from latent_probe.analysis.cka import MAX_EXACT_WIDTH, check_widths
from latent_probe.analysis.cka_cross import check_statistics_size, cross_cka_matrix, cross_statistics, fold_cross
from latent_probe.errors import ConfigError
from latent_probe.probing import Batch, Firing, MomentWriter, Probe, StreamState
from latent_probe.probing.hooks import device_of
from latent_probe.probing.initial_weights import INITIAL, TAKEN, copy_into, model_tensors
from latent_probe.probing.layers import activation_modules
from latent_probe.probing.twin import module_shapes, read_layers, twin
from latent_probe.registry import register_probe
from latent_probe.viz.accuracy_charts import short_name
from latent_probe.viz.matrix_heatmap import matrix_heatmap

if TYPE_CHECKING:
    from latent_probe.dataspec import DataSpec
    from latent_probe.probing.setup_pass import SetupPass

METHOD = "linear CKA, exact (feature-space float64 statistics of both models over the whole split)"
REFERENCE_FORMS = ("initial, a Lightning checkpoint (.ckpt), a run folder (its checkpoints/last.ckpt) or a weights file "
                   "(.pt, .pth, .bin, .safetensors, .npz)")


@register_probe()
class ModelSimilarity(Probe):
    """Linear CKA between each chosen layer of the model and each layer of a reference model (same architecture, other weights).

    Rows are the probed model's layers, columns the same layers of the reference, both read on the same samples in one
    pass over the whole split: two seeds, a model before and after fine-tuning, a backbone and its weights-loaded twin.
    The diagonal says how alike each layer is in both models (1 for the same weights). Computed exactly from float64
    sums and cross-products, for layers of at most ``MAX_EXACT_WIDTH`` (2,048) stored features. Writes ``similarity.npz``
    (``cka``, ``layers``, ``reference_layers``, ``n_samples``), ``similarity.json`` (with the reference: its file, sha256
    and weights digest, also in ``manifest.json``), the heatmap ``similarity.png`` (also in TensorBoard) and TensorBoard
    scalars ``<name>/<layer>/reference``: each layer's CKA with itself in the reference.

    Args:
        reference: the reference's weights: ``initial`` (the model as built from the config and ``--weights``, before
            training and before a checkpoint's weights), or a Lightning checkpoint, a run folder or a weights file, read
            without unpickling and checked against the architecture by ``latent-probe compare``/``probe`` and
            ``latent_probe.probe`` (in your own Trainer, give the model with ``use_reference``).
        max_samples: samples read (default: the whole split, streamed).
        **kwargs: the shared options of ``Probe``.
    """

    streams = True
    own_pass = True  # its update runs the twin, readied in compute: another probe's compute must not start the pass first

    def __init__(self, reference: str = INITIAL, max_samples: int | None = None, **kwargs: Any) -> None:
        super().__init__(max_samples=max_samples, **kwargs)
        if not isinstance(reference, str) or not reference.strip():
            raise ConfigError(f"reference must be {REFERENCE_FORMS}; got {reference!r}")
        self.reference = reference
        self.twin: nn.Module | None = None
        self.about_reference: dict[str, Any] = {"reference": reference}

    @property
    def needs_initial_weights(self) -> bool:  # type: ignore[override]
        """Only a comparison with the initial weights has the runner keep them."""
        return self.reference == INITIAL

    def use_reference(self, model: nn.Module, about: dict[str, Any]) -> None:
        """Compare with ``model``: the probed model's architecture with the reference weights (a twin, ``probing/twin.py``);
        ``about`` says where its weights came from (file, sha256, digest: the manifest records it)."""
        self.twin, self.about_reference = model, {"reference": self.reference, **about}

    def default_layers(self, model: nn.Module) -> list[str]:
        """Every activation module, in model order."""
        return activation_modules(model)

    def check(self, spec: DataSpec, model: nn.Module, setup_pass: SetupPass | None) -> None:
        """Refuse layers too wide, a reference file nobody loaded, and a reference of another architecture."""
        widths = {layer: self.pooling.width(self.layer_shapes[layer]) for layer in self.layers if layer in self.layer_shapes}
        check_widths(widths)
        check_statistics_size(widths, widths)
        if self.twin is None and self.reference != INITIAL:
            raise ConfigError(f"reference {self.reference!r} is loaded by `latent-probe compare`, `latent-probe probe` and "
                              "latent_probe.probe; in your own Trainer call use_reference(model, about) with the reference model")
        if self.twin is not None and module_shapes(self.twin) != module_shapes(model):
            raise ConfigError(f"the reference model's parameters and buffers differ from {type(model).__name__}'s (names or "
                              "shapes): compare models of one architecture")

    def start_stream(self, widths: dict[str, int]) -> StreamState:
        """A sample count, per layer of each model the float64 sums and ``X^T X``, per pair across the models ``X^T Y``."""
        state = StreamState()
        sizes = [widths[layer] for layer in self.layers]
        for key, value in cross_statistics(sizes, sizes).items():
            state.add(key, value)
        return state

    def update(self, state: StreamState, outputs: dict[str, torch.Tensor], batch: Batch) -> None:
        """Run the reference on the same samples and fold both models' outputs into the statistics."""
        theirs = read_layers(self.twin, self.spec, batch, self.layers, self.pooling, device_of(self.twin))  # type: ignore[arg-type]
        fold_cross(state.values, [outputs[layer] for layer in self.layers], [theirs[layer] for layer in self.layers])

    def compute(self, firing: Firing) -> dict[str, Any]:
        """The reference readied (weights, device), the pass (both models), then the CKA matrix."""
        if self.twin is None:  # initial: made when first needed (setup checks stay cheap), the engine's weights loaded below
            self.use_reference(twin(firing.model), {"kind": "initial", "weights": TAKEN})
        model: nn.Module = self.twin  # type: ignore[assignment]
        if self.reference == INITIAL:  # a collective: every rank gets rank 0's copy
            copy_into(model_tensors(model), firing.initial_weights())
        model.to(device=firing.device, dtype=firing.dtype)
        try:
            state = firing.stream
        finally:
            model.to("cpu")  # not held on the accelerator between firings (a training run needs that memory)
        stats = {key: value.cpu() for key, value in state.values.items()}
        return {"count": int(stats["count"]), "layers": list(self.layers), "cka": cross_cka_matrix(stats)}

    def write(self, result: dict[str, Any], out: MomentWriter) -> None:
        """``similarity.npz``, ``similarity.json``, the heatmap and each layer's CKA with itself in the reference."""
        layers, matrix = result["layers"], result["cka"]
        out.note(reference=self.about_reference)
        out.npz("similarity.npz", {"cka": matrix, "layers": np.array(layers), "reference_layers": np.array(layers),
                                   "n_samples": np.array(result["count"])})
        out.json("similarity.json", {
            "split": self.split, "n_samples": result["count"], "method": METHOD, "max_exact_width": MAX_EXACT_WIDTH,
            "rows": "this model's layers", "columns": "the reference's layers", "reference": self.about_reference,
            "layers": layers, "cka": [[float(v) if np.isfinite(v) else None for v in row] for row in matrix]})
        title = (f"{self.name}: linear CKA, this model (rows) x {short_name(self.reference)} (columns), {self.split}, "
                 f"{result['count']} samples")
        out.png("similarity.png", matrix_heatmap(layers, layers, matrix, title), tag=f"{self.name}/cka")
        out.scalars({f"{self.name}/{layer}/reference": matrix[i, i] for i, layer in enumerate(layers) if np.isfinite(matrix[i, i])})
