"""Embedding dumper (seeds 000 and 001): layer outputs to NPZ and TensorBoard's projector, the
thumbnail scatter, and latent-space metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

from latent_probe.artifacts import safe_name
from latent_probe.errors import ConfigError, check_range
from latent_probe.latent_metrics import baseline_report, latent_report
from latent_probe.probes.base import Probe, finite_only
from latent_probe.probes.capture import module_paths
from latent_probe.probes.output import MomentWriter
from latent_probe.projector import write_embedding
from latent_probe.registry import register_probe
from latent_probe.viz.scatter import class_scatter, heatmap, project_2d, thumbnail_scatter


@dataclass
class EmbeddingResult:
    """Gathered embeddings of one moment, in dataset-index order."""

    index: np.ndarray
    label: np.ndarray
    embeddings: dict[str, np.ndarray]
    images: torch.Tensor | None
    inputs: np.ndarray
    class_names: list[str]


@register_probe()
class EmbeddingDumper(Probe):
    """Dump chosen layers' outputs: embeddings.npz, TensorBoard projector with sprites, 2-D pictures, latent metrics.

    For each layer (key = module path): ``embeddings.npz`` holds ``index``, ``label`` and one
    ``(n, dim)`` array per layer. The projector shows every layer with class-name metadata and
    image sprites. 2-D layers (or the first two principal components) are drawn as a class-coloured
    scatter and as seed 000's picture of every input thumbnail at its coordinates. ``metrics.json``
    holds seed 001's numbers: class centroids, their distance matrix (also a heatmap),
    nearest-centroid share per class, active units, and the same share plus k-means accuracy on the
    raw inputs as a baseline.

    Args:
        projector: write TensorBoard projector files.
        sprites: attach input thumbnails to the projector (image data only).
        pictures: draw the scatter and thumbnail pictures.
        metrics: compute the latent metrics.
        active_threshold: a unit is active when its variance over the data exceeds this.
        baseline: also compute the raw-input baseline (k-means; once per run).
        **kwargs: the shared options of ``Probe`` (``layers``, ``split``, ``max_samples``, cadence, ...).
    """

    def __init__(
        self,
        projector: bool = True,
        sprites: bool = True,
        pictures: bool = True,
        metrics: bool = True,
        active_threshold: float = 0.01,
        baseline: bool = True,
        split: str = "test",
        max_samples: int | None = 2000,
        **kwargs: Any,
    ) -> None:
        super().__init__(split=split, max_samples=max_samples, **kwargs)
        check_range("active_threshold", active_threshold, minimum=0)
        self.projector, self.sprites, self.pictures, self.metrics = projector, sprites, pictures, metrics
        self.active_threshold, self.baseline = active_threshold, baseline
        self._baseline_cache: dict | None = None

    def check(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """The dumper needs at least one layer."""
        if not self.layers:
            paths = ", ".join(module_paths(pl_module)[:30])
            raise ConfigError(f"EmbeddingDumper needs `layers` (module paths); {type(pl_module).__name__} has: {paths}")

    def compute(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> EmbeddingResult:
        """Gather every layer's flattened outputs and the inputs on the probe's samples."""
        collected = self.collect(trainer, pl_module, keep_inputs=True)
        datamodule = trainer.datamodule
        labels = collected.label.numpy()
        names = list(getattr(datamodule, "class_names", None) or [str(c) for c in range(int(labels.max()) + 1)])
        return EmbeddingResult(
            index=collected.index.numpy(),
            label=labels,
            embeddings={path: out.flatten(1).numpy() for path, out in collected.outputs.items()},
            images=as_images(collected.inputs, datamodule),
            inputs=collected.inputs.flatten(1).numpy(),
            class_names=names,
        )

    def write(self, result: EmbeddingResult, out: MomentWriter) -> None:
        """NPZ, projector files, pictures and metrics for every layer."""
        out.npz("embeddings.npz", {"index": result.index, "label": result.label, **result.embeddings})
        report: dict[str, Any] = {"split": self.split, "n_samples": len(result.index), "layers": {}}
        finite = finite_only(result.embeddings, out.when, self.name)
        report["skipped_non_finite"] = sorted(set(result.embeddings) - set(finite))
        for path, points in finite.items():
            if self.projector:
                self._write_projector(result, path, points, out)
            if self.pictures and points.shape[1] >= 2:
                self._draw(result, path, points, out)
            if self.metrics:
                report["layers"][path] = self._layer_metrics(result, path, points, out)
        if self.metrics:
            if self.baseline:
                report["raw_input_baseline"] = self._raw_baseline(result)
            out.json("metrics.json", report)

    def _write_projector(self, result: EmbeddingResult, path: str, points: np.ndarray, out: MomentWriter) -> None:
        folder = out.dir.relative_to(out.log_dir) / "projector" / safe_name(path)
        metadata = {
            "label": [result.class_names[c] for c in result.label],
            "class": result.label.tolist(),
            "index": result.index.tolist(),
        }
        images = result.images if self.sprites else None
        write_embedding(out.log_dir, folder, f"{self.name}/{path}@{out.when}", points, metadata, images)

    def _draw(self, result: EmbeddingResult, path: str, points: np.ndarray, out: MomentWriter) -> None:
        flat, how = project_2d(points)
        title = f"{path} @ {out.when}: {how}"
        stem = safe_name(path)
        out.png(f"{stem}_scatter.png", class_scatter(flat, result.label, result.class_names, title), tag=f"{self.name}/{path}/scatter")
        if result.images is not None:
            images = result.images[:, 0].numpy() if result.images.shape[1] == 1 else result.images.mean(1).numpy()
            picture = thumbnail_scatter(flat, images, result.label, result.class_names, title)
            out.png(f"{stem}_thumbnails.png", picture, tag=f"{self.name}/{path}/thumbnails")

    def _layer_metrics(self, result: EmbeddingResult, path: str, points: np.ndarray, out: MomentWriter) -> dict:
        report = latent_report(points.astype(np.float64), result.label, self.active_threshold)
        distances = np.array(report["centroid_distances"])
        title = f"{path} @ {out.when}: distances between class centroids"
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


def as_images(inputs: torch.Tensor | None, datamodule) -> torch.Tensor | None:
    """Inputs as ``(N, C, H, W)`` images in [0, 1] when the data are images, else None."""
    if inputs is None:
        return None
    shape = tuple(getattr(datamodule, "image_shape", None) or getattr(datamodule, "input_shape", None) or ())
    if len(shape) != 3 or inputs[0].numel() != int(np.prod(shape)):
        return None
    images = inputs.reshape(len(inputs), *shape)
    low, high = images.amin(dim=(1, 2, 3), keepdim=True), images.amax(dim=(1, 2, 3), keepdim=True)
    return (images - low) / (high - low).clamp_min(1e-12)  # undo any normalisation for display
