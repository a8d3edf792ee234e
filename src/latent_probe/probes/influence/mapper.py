"""Influence mapper: what each single pixel does to every node of an MNIST MLP (or any image model), drawn as
one map per node, for a white image, data images and image files."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytorch_lightning as pl
import torch

from latent_probe.artifacts.files import safe_name
from latent_probe.errors import ConfigError, check_memory, check_range, require_choice
from latent_probe.probes.influence.image_files import read_image
from latent_probe.probes.influence.maps import MODES, influence_maps
from latent_probe.probing import DataSpec, Firing, MomentWriter, Probe, SetupPass
from latent_probe.probing.batch_size import default_batch_size
from latent_probe.probing.sharding import select_indices
from latent_probe.registry import register_probe
from latent_probe.viz.node_maps import node_map_grid, symmetric_range

MEANINGS = {
    "inclusion": "f(reference with pixel p from the input) − f(reference)",
    "ablation": "f(input) − f(input with pixel p from the reference)",
    "integrated_gradients": "integrated gradients (a map sums to f(input) − f(reference))",
}
MAX_IG_STEPS = 10_000  # the path integral settles long before (20-300 is usual); more is hours of passes per node


@dataclass
class InfluenceInputs:
    """The images whose maps are drawn: model inputs, their pixels for display, file-safe names and titles."""

    inputs: torch.Tensor
    pixels: torch.Tensor
    names: list[str]
    titles: list[str]


@dataclass
class InfluenceResult:
    """One moment's maps: ``{layer: (n_inputs, n_nodes, H, W)}`` and the inputs they belong to."""

    maps: dict[str, np.ndarray]
    inputs: InfluenceInputs
    reference: np.ndarray


@register_probe()
class InfluenceMapper(Probe):
    """Map how each pixel moves each node of the chosen layers: one image per node, for several inputs.

    For an input ``x`` and a reference ``r`` (all pixels = ``reference``, black by default), ``mode``
    decides what the map of node ``n`` holds at pixel ``p``:

    - ``inclusion`` (the influence-map article's algorithm): ``f_n(r with pixel p set to x_p) − f_n(r)``, what pixel ``p``
      does on its own. Exact for the first layer's nodes, but from the second layer on pixels interact
      (the article's caveat), so the maps do not add up to ``f_n(x) − f_n(r)``.
    - ``ablation``: ``f_n(x) − f_n(x with pixel p set to r_p)``, the leave-one-out effect of pixel ``p``
      with all the other pixels of ``x`` present: what the node loses without it.
    - ``integrated_gradients``: ``(x_p − r_p)`` times the node's gradient averaged along the straight
      path from ``r`` to ``x`` (``ig_steps`` points); accounts for interactions, and each node's map sums
      to about ``f_n(x) − f_n(r)``.

    Inputs are an all-ones (white) image, ``n_images`` images of ``split`` (one per class in turn, so 10
    gives the article's per-digit maps) and ``files`` (PNG/JPEG, or ``.npy`` in [0, 1]). Pixel values are
    in [0, 1] and go through the datamodule's pixel transform (normalisation) when it has one. All
    nodes of all layers come from one batched pass per chunk of single-pixel inputs.

    Writes ``influence.npz`` (per layer, key = module path, ``(n_inputs, n_nodes, H, W)``; ``inputs``
    ``(n_inputs, C, H, W)`` and ``reference`` as model inputs; ``input_names``), ``influence.json``
    (mode, ranges, inputs) and per input and layer a PNG and TensorBoard image of the tiled maps on one
    symmetric range per layer (grey = 0, brighter = positive). Computed on global rank 0 only.

    Args:
        mode: ``inclusion``, ``ablation`` or ``integrated_gradients``.
        reference: pixel value of the reference image (0 = black, the article's all-zero image).
        white: map an all-ones (white) image.
        n_images: images of ``split`` to map (taken from the seeded ``max_samples`` subset).
        per_class: take those images class by class (0, 1, 2, ...) rather than the first ones.
        files: image files to map as well.
        image_shape: ``(C, H, W)`` of an input; default: the datamodule's ``image_shape``.
        chunk_size: single-pixel inputs (or gradient rows) per forward pass; bounds memory (default: 64 on a
            CPU, where cache-sized passes run fastest, 4,096 on an accelerator).
        ig_steps: path points of ``integrated_gradients``.
        max_tiles: draw at most this many nodes of a layer in a picture (the NPZ holds all).
        **kwargs: the shared options of ``Probe`` (``layers``, ``split``, ``max_samples``, cadence, ...).
    """

    def __init__(
        self,
        mode: Literal["inclusion", "ablation", "integrated_gradients"] = "inclusion",
        reference: float = 0.0,
        white: bool = True,
        n_images: int = 10,
        per_class: bool = True,
        files: Sequence[str] = (),
        image_shape: Sequence[int] | None = None,
        chunk_size: int | None = None,
        ig_steps: int = 32,
        max_tiles: int = 256,
        split: str = "test",
        **kwargs: Any,
    ) -> None:
        super().__init__(split=split, **kwargs)
        require_choice("mode", mode, MODES)
        for name, value in (("n_images", n_images), ("chunk_size", chunk_size), ("ig_steps", ig_steps), ("max_tiles", max_tiles)):
            if value is not None:
                check_range(name, value, minimum=0 if name == "n_images" else 1, maximum=MAX_IG_STEPS if name == "ig_steps" else None)
        check_range("reference", reference, minimum=0, maximum=1)  # a pixel value, like the inputs' pixels
        if not (white or n_images or files):
            raise ConfigError("InfluenceMapper has no input to map: set white: true, n_images > 0 or files")
        self.mode, self.reference, self.white, self.n_images, self.per_class = mode, reference, white, n_images, per_class
        self.files = [str(f) for f in files]
        self.image_shape = tuple(image_shape) if image_shape else None
        self.chunk_size, self.ig_steps, self.max_tiles = chunk_size, ig_steps, max_tiles
        self.shape: tuple[int, int, int] = (1, 1, 1)

    def check(self, spec: DataSpec, pl_module: pl.LightningModule, setup_pass: SetupPass | None) -> None:
        """Needs one image-shaped input tensor and readable files."""
        if not spec.tensor_inputs:
            raise ConfigError(f"InfluenceMapper maps pixels of one input tensor, but the model takes {spec.input_key}. "
                              "HINT: set data_spec.input_key to the image key")
        self.shape = spec.require_image_shape(self.name, self.image_shape)
        self._check_memory(spec)
        for path in self.files:
            read_image(path, self.shape)

    def _check_memory(self, spec: DataSpec) -> None:
        """Refuse options whose maps, or whose passes (``chunk_size``), would take more memory than allowed."""
        pixels = math.prod(self.shape) if self.mode == "integrated_gradients" else math.prod(self.shape[1:])
        nodes = sum(math.prod(shape) for shape in self.layer_shapes.values())
        images = min(self.n_images, self.max_samples or self.n_images, len(spec.dataset(self.split)))  # type: ignore[arg-type]
        inputs = int(self.white) + images + len(self.files)
        check_memory("n_images", f"{self.n_images} ({inputs} inputs x {nodes:,} nodes x {pixels:,} pixels)",
                     inputs * nodes * pixels * 4, "the influence maps")
        if self.chunk_size is not None:
            row_bytes = (math.prod(self.shape) + nodes) * 4  # one single-pixel input and the chosen nodes' outputs
            check_memory("chunk_size", self.chunk_size, self.chunk_size * row_bytes, "one pass's inputs and nodes")

    def compute(self, firing: Firing) -> InfluenceResult | None:
        """Every node's maps for every input, on global rank 0 (the work is the same on every rank)."""
        if not firing.is_global_zero:
            return None
        chosen = self._inputs()
        reference = self.spec.to_inputs(torch.full((1, *self.shape), float(self.reference)))
        device, dtype = firing.device, firing.dtype
        maps = influence_maps(
            firing.model, chosen.inputs.to(device, dtype), reference[0].to(device, dtype), self.layers,
            self.shape, self.mode, default_batch_size(self.chunk_size, device, accelerator_batch=4096), self.ig_steps,
        )
        return InfluenceResult({path: m.float().cpu().numpy() for path, m in maps.items()}, chosen, reference[0].numpy())

    def write(self, result: InfluenceResult, out: MomentWriter) -> None:
        """influence.npz, influence.json, and per input and layer the tiled maps as PNG and TensorBoard image."""
        shape = self.shape
        chosen = result.inputs
        out.npz("influence.npz", {
            **result.maps,
            "inputs": chosen.inputs.reshape(len(chosen.names), *shape).float().numpy(),
            "reference": result.reference.reshape(shape),
            "input_names": np.array(chosen.names),
        })
        finite = out.finite(result.maps)
        limits = {path: symmetric_range(maps) for path, maps in finite.items()}
        for path, maps in finite.items():
            for i, (name, title) in enumerate(zip(chosen.names, chosen.titles)):
                self._draw(out, path, maps[i], limits[path], name, title, chosen.pixels[i].numpy())
        out.json("influence.json", {
            "mode": self.mode, "meaning": MEANINGS[self.mode], "reference": self.reference,
            "layers": {path: {"nodes": maps.shape[1], "range": limits[path]} for path, maps in finite.items()},
            "skipped_non_finite": sorted(set(result.maps) - set(finite)),
            "inputs": [{"name": n, "title": t} for n, t in zip(chosen.names, chosen.titles)],
        })

    def _draw(self, out: MomentWriter, path: str, maps: np.ndarray, limit: float, name: str, title: str, pixels: np.ndarray) -> None:
        count = len(maps)
        shown = f"nodes 0–{self.max_tiles - 1} of {count}" if count > self.max_tiles else f"{count} nodes"
        heading = f"{path} ({shown}), input: {title} @ {out.moment}\neach tile: {MEANINGS[self.mode]}, pixel by pixel"
        figure = node_map_grid(maps[: self.max_tiles], limit, heading, pixels, label=f"{self.mode.replace('_', ' ')} (±{limit:.3g})")
        out.png(f"{name}_{safe_name(path)}.png", figure, tag=f"{self.name}/{path}/{name}")

    def _inputs(self) -> InfluenceInputs:
        groups = []
        if self.white:
            groups.append(self._from_pixels(torch.ones(1, *self.shape), ["white"], ["all-ones (white) image"]))
        if self.n_images:
            groups.append(self._split_images())
        if self.files:
            pixels = torch.stack([read_image(path, self.shape) for path in self.files])
            groups.append(self._from_pixels(pixels, [safe_name(Path(p).stem) for p in self.files], [Path(p).name for p in self.files]))
        return InfluenceInputs(
            inputs=torch.cat([g.inputs.float() for g in groups]),
            pixels=torch.cat([g.pixels.float() for g in groups]),
            names=unique_names([n for g in groups for n in g.names]),
            titles=[t for g in groups for t in g.titles],
        )

    def _from_pixels(self, pixels: torch.Tensor, names: list[str], titles: list[str]) -> InfluenceInputs:
        return InfluenceInputs(self.spec.to_inputs(pixels), pixels, names, titles)

    def _split_images(self) -> InfluenceInputs:
        dataset = self.spec.dataset(self.split)
        candidates = select_indices(len(dataset), self.max_samples, self.seed)
        batch = self.spec.fetch(dataset, candidates.tolist())
        labels = batch.labels if batch.labels is not None else torch.full((len(candidates),), -1)
        chosen = one_per_class(labels, self.n_images) if self.per_class and batch.labels is not None \
            else torch.arange(min(self.n_images, len(labels)))
        names, titles = [], []
        for position in chosen.tolist():
            index, label = int(candidates[position]), labels[position]
            named = label.dim() == 0 and not label.is_floating_point()
            shown = self.spec.class_name(int(label)) if named else str(label.tolist())
            shown = "none" if batch.labels is None else shown
            names.append(safe_name(f"{self.split}{index}_label_{shown}"))
            titles.append(f"{self.split} image {index}, label {shown}")
        model_inputs = batch.inputs[chosen].float()
        return InfluenceInputs(model_inputs, self.spec.to_pixels(model_inputs, self.shape), names, titles)


def one_per_class(labels: torch.Tensor, count: int) -> torch.Tensor:
    """Positions of ``count`` samples taken class by class in turn (0, 1, ..., 0, 1, ...), each class in order."""
    if labels.dim() != 1 or labels.is_floating_point() or len(labels) == 0:
        return torch.arange(min(count, len(labels)))
    labels = labels - labels.min()
    rank = torch.zeros_like(labels)
    for value in labels.unique():
        members = labels == value
        rank[members] = torch.arange(int(members.sum()))
    order = torch.argsort(rank * (int(labels.max()) + 1) + labels, stable=True)
    return order[:count]


def unique_names(names: list[str]) -> list[str]:
    """``names`` with repeats suffixed ``_2``, ``_3``, ... so that no two inputs share a file name."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return unique
