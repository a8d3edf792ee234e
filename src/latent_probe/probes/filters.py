"""Filter tiler: a layer's incoming weights, or a stacked chain's product, tiled as images (the strokes a
denoising autoencoder learns, and how they change from pretraining to fine-tuning)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pytorch_lightning as pl
import torch
from torch import nn

from latent_probe.artifacts.files import safe_name
from latent_probe.errors import ConfigError, check_memory, check_range, require_choice
from latent_probe.probing import DataSpec, Firing, MomentWriter, Probe, SetupPass, module_path
from latent_probe.registry import register_probe
from latent_probe.viz.tiles import SCALINGS, auto_zoom, tile_grid

UNIT_ORDERS = ("first", "largest_norm")
TILEABLE = (nn.Linear, nn.Conv2d)


@dataclass
class Tiles:
    """The weights drawn for one picture: ``(n, C, H, W)`` tiles and the unit (row) each one belongs to."""

    weights: torch.Tensor
    units: torch.Tensor


@register_probe()
class FilterTiler(Probe):
    """Tile the incoming weights of ``Linear``/``Conv2d`` units as images: PNG, TensorBoard image, ``filters.npz``.

    Each unit's weights are reshaped to the input image shape (a ``Conv2d`` layer's kernels are drawn as
    they are), like the Deep Learning Tutorial's ``tile_raster_images``: 10 tiles a row, 1 px apart. With ``compose`` the
    chosen layers are one chain from the input and its product ``W_k ... W_2 W_1`` is drawn instead: one
    tile per unit of the last layer (the SdA's stacked encoders). Reads weights only, no data.
    ``filters.npz`` holds, per picture (key = module path, or the chain's paths joined by ``*``), the raw
    ``(n, C, H, W)`` tiles and under ``units:<key>`` the units they belong to.

    Args:
        compose: multiply the chosen layers (in forward order) into one filter bank.
        image_shape: ``(C, H, W)`` or ``(H, W)`` of one tile; default: the datamodule's ``image_shape``,
            else its ``input_shape``.
        max_tiles: draw at most this many units.
        units: which units: the ``first`` ones, or those with the ``largest_norm`` (largest first).
        scaling: ``per_tile`` (each tile to [0, 1], the article's way) or ``symmetric`` (one range for all
            tiles with 0 at mid-grey, so signs compare across tiles).
        tiles_per_row: tiles in one row of the picture.
        spacing: pixels between tiles.
        zoom: enlarge each tile this many times; default: small tiles to about 28 px.
        moments: named moments to fire at (e.g. ``pretrain_end`` and ``fit_end`` for an SdA).
        **kwargs: the shared options of ``Probe`` (``layers``, ``every_n_epochs``, ``name``, ...).
    """

    def __init__(
        self,
        compose: bool = False,
        image_shape: Sequence[int] | None = None,
        max_tiles: int = 100,
        units: Literal["first", "largest_norm"] = "first",
        scaling: Literal["per_tile", "symmetric"] = "per_tile",
        tiles_per_row: int = 10,
        spacing: int = 1,
        zoom: int | None = None,
        moments: Sequence[str] = ("fit_end",),
        **kwargs: Any,
    ) -> None:
        super().__init__(moments=moments, **kwargs)
        for name, value in (("max_tiles", max_tiles), ("tiles_per_row", tiles_per_row), ("zoom", zoom)):
            if value is not None:
                check_range(name, value, minimum=1)
        check_range("spacing", spacing, minimum=0)
        self.units = require_choice("units", units, UNIT_ORDERS)
        self.scaling = require_choice("scaling", scaling, SCALINGS)
        self.compose, self.max_tiles, self.tiles_per_row, self.spacing, self.zoom = compose, max_tiles, tiles_per_row, spacing, zoom
        self.requested_shape = tuple(image_shape) if image_shape is not None else None
        self.tile_shape: tuple[int, int, int] | None = None

    reads_activations = False  # weights only: no data, no setup forward pass

    def default_layers(self, pl_module: pl.LightningModule) -> list[str]:
        """The model's first ``Linear`` or ``Conv2d`` layer (its filters look at the input)."""
        return next(([path] for path, module in pl_module.named_modules() if isinstance(module, TILEABLE)), [])

    def check(self, spec: DataSpec, pl_module: pl.LightningModule, setup_pass: SetupPass | None) -> None:
        """Every chosen layer must be tileable: the right type, and weights that fit the image shape."""
        if any(module_path(layer) != layer for layer in self.layers):
            raise ConfigError(f"FilterTiler reads weights, not outputs: name modules without a [part], got {self.layers}")
        modules = dict(pl_module.named_modules())
        for path in self.layers:
            if not isinstance(modules[path], TILEABLE):
                raise ConfigError(f"FilterTiler: layer {path!r} is a {type(modules[path]).__name__}, not a Linear or Conv2d layer")
        weights = [modules[path].weight for path in self.layers]
        if self.compose:
            self._check_chain(weights)
        for path, weight in zip(self.layers, weights):
            if weight.dim() == 4:
                check_kernels(path, weight)
            elif not self.compose or path == self.layers[0]:
                self._check_fits_image(path, weight, spec)
        units = [weights[-1].shape[0]] if self.compose else [weight.shape[0] for weight in weights]
        for count, weight in zip(units, weights):
            self._check_picture(count, weight.shape[-2:] if weight.dim() == 4 else self.tile_shape[1:])

    def _check_picture(self, units: int, tile: Sequence[int]) -> None:
        """Refuse ``zoom``, ``spacing`` (and ``tiles_per_row``) that would make a picture larger than memory holds."""
        count = min(units, self.max_tiles)
        zoom = self.zoom or auto_zoom(*tile)
        columns, rows = min(count, self.tiles_per_row), math.ceil(count / self.tiles_per_row)
        height, width = (n * (side * zoom + self.spacing) + self.spacing for n, side in ((rows, tile[0]), (columns, tile[1])))
        check_memory("zoom", f"{zoom} with spacing {self.spacing} ({count} tiles of {tile[0]}x{tile[1]})",
                     height * width * 3 * 4, f"one picture of {width:,} x {height:,} pixels")  # RGB float32, as tile_grid makes it

    def _check_chain(self, weights: list[torch.Tensor]) -> None:
        if any(w.dim() != 2 for w in weights):
            raise ConfigError(f"FilterTiler: compose multiplies Linear layers only; got {', '.join(self.layers)}")
        for i in range(1, len(weights)):
            if weights[i].shape[1] != weights[i - 1].shape[0]:
                raise ConfigError(
                    f"FilterTiler: layers {self.layers[i - 1]!r} (weight {tuple(weights[i - 1].shape)}) and {self.layers[i]!r} "
                    f"(weight {tuple(weights[i].shape)}) do not form a chain. HINT: list consecutive layers from the input"
                )

    def _check_fits_image(self, path: str, weight: torch.Tensor, spec: DataSpec) -> None:
        self.tile_shape = self.tile_shape or tile_shape_of(spec, self.requested_shape, self.name)
        if weight.shape[1] != math.prod(self.tile_shape):
            raise ConfigError(
                f"FilterTiler: layer {path!r} has weight shape {tuple(weight.shape)}, whose rows of {weight.shape[1]} "
                f"values cannot be reshaped to the image shape {self.tile_shape}. HINT: tile the first layer, set "
                "`compose: true` to multiply a chain of layers from the input, or set `image_shape`"
            )

    def compute(self, firing: Firing) -> dict[str, Tiles]:
        """The tiles of every picture; weights are the same on every rank, so nothing is gathered."""
        modules = dict(firing.model.named_modules())
        weights = [modules[path].weight.detach().float().cpu() for path in self.layers]
        if self.compose:
            return {"*".join(self.layers): self._tiles(composed_weight(weights))}
        return {path: self._tiles(weight) for path, weight in zip(self.layers, weights)}

    def _tiles(self, weight: torch.Tensor) -> Tiles:
        units = select_units(weight.flatten(1), self.max_tiles, self.units)
        tiles = weight if weight.dim() == 4 else weight.reshape(len(weight), *self.tile_shape)
        return Tiles(weights=tiles[units].clone(), units=units)

    def write(self, result: dict[str, Tiles], out: MomentWriter) -> None:
        """One PNG (and TensorBoard image) per picture, and every picture's raw tiles in ``filters.npz``."""
        arrays = {key: tiles.weights.numpy() for key, tiles in result.items()}
        out.npz("filters.npz", {**arrays, **{f"units:{key}": tiles.units.numpy() for key, tiles in result.items()}})
        for key in out.finite(arrays):
            weights = result[key].weights
            zoom = self.zoom or auto_zoom(*weights.shape[-2:])
            image = tile_grid(weights, self.tiles_per_row, self.spacing, self.scaling, zoom)
            out.png(f"{safe_name(key)}_filters.png", image, tag=f"{self.name}/{key}")


def composed_weight(weights: list[torch.Tensor]) -> torch.Tensor:
    """``W_k @ ... @ W_2 @ W_1`` of a chain of ``(out, in)`` weights: one row per last-layer unit, over the inputs.

    This is the stacked-autoencoder article's ``W1 * W2 * W3`` (Theano stores the transposes): each row is what the last
    layer's unit would respond to if the layers were linear.
    """
    product = weights[0]
    for weight in weights[1:]:
        product = weight @ product
    return product


def select_units(rows: torch.Tensor, max_units: int, order: str) -> torch.Tensor:
    """Indices of the ``first`` ``max_units`` rows, or of those with the ``largest_norm``, largest first."""
    if order == "largest_norm":
        return torch.argsort(rows.norm(dim=1), descending=True, stable=True)[:max_units]
    return torch.arange(min(max_units, len(rows)))


def check_kernels(path: str, weight: torch.Tensor) -> None:
    """A ``Conv2d`` layer's kernels are drawable when they have 1 (grey) or 3 (colour) input channels."""
    if weight.shape[1] not in (1, 3):
        raise ConfigError(
            f"FilterTiler: Conv2d layer {path!r} has weight shape {tuple(weight.shape)}; only kernels over 1 or 3 "
            "input channels can be drawn. HINT: tile the first convolution"
        )


def tile_shape_of(spec: DataSpec, requested: Sequence[int] | None, probe: str) -> tuple[int, int, int]:
    """``(C, H, W)`` of one tile: ``requested``, else the data's image shape; 1 (grey) or 3 (colour) channels."""
    shape = spec.require_image_shape(probe, requested)
    if shape[0] not in (1, 3):
        raise ConfigError(f"FilterTiler: image shape {list(shape)} has {shape[0]} channels; tiles are grey (1) or colour (3). "
                          "HINT: set `image_shape`")
    return shape
