"""Embedding dumper: layer outputs to NPZ and TensorBoard's projector, every input drawn at its 2-D
coordinates (digits fanning out on rays through a 2-unit bottleneck), and latent-space metrics
(class centroids of a VAE's latent means, nearest-centroid shares, active units)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from latent_probe.analysis.latent_metrics import baseline_report, latent_report
from latent_probe.artifacts.files import safe_name
from latent_probe.errors import check_range, require_choice
from latent_probe.probing import Firing, MomentWriter, Probe
from latent_probe.registry import register_probe
from latent_probe.viz.scatter import class_scatter, heatmap, project_2d, thumbnail_scatter


@dataclass
class EmbeddingResult:
    """Gathered embeddings of one moment, in dataset-index order."""

    index: np.ndarray
    label: np.ndarray | None
    embeddings: dict[str, np.ndarray]
    images: torch.Tensor | None
    inputs: np.ndarray | None
    class_names: list[str]


@register_probe()
class EmbeddingDumper(Probe):
    """Dump chosen layers' outputs: embeddings.npz, TensorBoard projector with sprites, 2-D pictures, latent metrics.

    For each layer (key = layer name): ``embeddings.npz`` holds ``index``, ``label`` (when the data has
    labels) and one ``(n, dim)`` array per layer. The projector shows every layer with class-name
    metadata and image sprites. 2-D layers (or the first two principal components) are drawn as a
    class-coloured scatter and as a picture of every input thumbnail at its coordinates (how a 2-unit
    bottleneck fans the digits out on rays). ``metrics.json`` holds latent-space numbers (they need
    labels): class centroids, their distance matrix (also a heatmap), nearest-centroid share per
    class, active units, and the same share plus k-means accuracy on the raw inputs as a baseline
    (inputs larger than ``max_features`` pooled like the layers).

    Args:
        projector: write TensorBoard projector files.
        sprites: attach input thumbnails to the projector (image data only).
        pictures: draw the scatter and thumbnail pictures.
        metrics: compute the latent metrics.
        active_threshold: a unit is active when its variance over the data exceeds this.
        baseline: also compute the raw-input baseline (k-means; once per run).
        projector_format: how the projector tensor is stored: ``"binary"`` (raw float32 ``tensors.bytes``,
            fast to write and to load; TSV where TensorBoard would misread the bytes as text) or ``"tsv"``.
        **kwargs: the shared options of ``Probe`` (``layers``, ``split``, ``max_samples``, cadence, ...).
    """

    keeps_inputs = True  # sprites, pictures and the raw-input baseline

    def __init__(
        self,
        projector: bool = True,
        sprites: bool = True,
        pictures: bool = True,
        metrics: bool = True,
        active_threshold: float = 0.01,
        baseline: bool = True,
        projector_format: Literal["binary", "tsv"] = "binary",
        split: str = "test",
        max_samples: int | None = 2000,
        **kwargs: Any,
    ) -> None:
        super().__init__(split=split, max_samples=max_samples, **kwargs)
        check_range("active_threshold", active_threshold, minimum=0)
        self.projector_format = require_choice("projector_format", projector_format, ("binary", "tsv"))
        self.projector, self.sprites, self.pictures, self.metrics = projector, sprites, pictures, metrics
        self.active_threshold, self.baseline = active_threshold, baseline
        self._baseline_cache: dict | None = None

    def compute(self, firing: Firing) -> EmbeddingResult:
        """Gather every layer's flattened outputs and the inputs on the probe's samples."""
        sample = firing.activations(keep_inputs=True)
        return EmbeddingResult(
            index=sample.index.numpy(),
            label=None if sample.label is None else sample.label.numpy(),
            embeddings={layer: out.flatten(1).numpy() for layer, out in sample.outputs.items()},
            images=self.spec.to_pixels(sample.inputs),
            inputs=None if sample.inputs is None else self.pooling(sample.inputs).numpy(),  # the baseline's raw inputs, pooled
            class_names=self.spec.names_for(sample.label),
        )

    def write(self, result: EmbeddingResult, out: MomentWriter) -> None:
        """NPZ, projector files, pictures and metrics for every layer."""
        labels = {} if result.label is None else {"label": result.label}
        out.npz("embeddings.npz", {"index": result.index, **labels, **result.embeddings})
        report: dict[str, Any] = {"split": self.split, "n_samples": len(result.index), "layers": {}}
        finite = out.finite(result.embeddings)
        report["skipped_non_finite"] = sorted(set(result.embeddings) - set(finite))
        metrics = self.metrics and result.label is not None
        for layer, points in finite.items():
            if self.projector:
                self._write_projector(result, layer, points, out)
            if self.pictures and points.shape[1] >= 2:
                self._draw(result, layer, points, out)
            if metrics:
                report["layers"][layer] = self._layer_metrics(result, layer, points, out)
        if metrics:
            if self.baseline and result.inputs is not None:
                report["raw_input_baseline"] = self._raw_baseline(result)
            out.json("metrics.json", report)

    def _write_projector(self, result: EmbeddingResult, layer: str, points: np.ndarray, out: MomentWriter) -> None:
        metadata: dict[str, list] = {"index": result.index.tolist()}
        if result.label is not None:
            metadata = {"label": [result.class_names[c] for c in result.label], "class": result.label.tolist(), **metadata}
        out.embedding(layer, points, metadata, result.images if self.sprites else None, tensor_format=self.projector_format)

    def _draw(self, result: EmbeddingResult, layer: str, points: np.ndarray, out: MomentWriter) -> None:
        flat, how = project_2d(points)
        title = f"{layer} @ {out.moment}: {how}"
        stem = safe_name(layer)
        labels = result.label if result.label is not None else np.zeros(len(points), dtype=np.int64)
        names = result.class_names if result.label is not None else ["all samples"]
        out.png(f"{stem}_scatter.png", class_scatter(flat, labels, names, title), tag=f"{self.name}/{layer}/scatter")
        if result.images is not None:
            # grey images are tinted by class; colour images keep their colours, channels last
            images = result.images[:, 0].numpy() if result.images.shape[1] == 1 else result.images.permute(0, 2, 3, 1).numpy()
            picture = thumbnail_scatter(flat, images, labels, names, title)
            out.png(f"{stem}_thumbnails.png", picture, tag=f"{self.name}/{layer}/thumbnails")

    def _layer_metrics(self, result: EmbeddingResult, path: str, points: np.ndarray, out: MomentWriter) -> dict:
        report = latent_report(points.astype(np.float64), result.label, self.active_threshold)
        distances = np.array(report["centroid_distances"])
        title = f"{path} @ {out.moment}: distances between class centroids"
        out.png(f"{safe_name(path)}_centroid_distances.png", heatmap(distances, result.class_names, title),
                tag=f"{self.name}/{path}/centroid_distances")
        scalars = {f"{self.name}/{path}/nearest_centroid_share": report["nearest_centroid_share_mean"],
                   f"{self.name}/{path}/active_units": report["n_active_units"]}
        out.scalars(scalars)
        return report

    def _raw_baseline(self, result: EmbeddingResult) -> dict:
        # The raw inputs never change during a run: compute the (k-means) baseline once.
        if self._baseline_cache is None:
            self._baseline_cache = baseline_report(result.inputs.astype(np.float64), result.label, seed=self.seed)
        return self._baseline_cache

