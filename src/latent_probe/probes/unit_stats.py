"""Unit statistics: per-unit mean, variance, maximum and the share of dead units of each layer over a whole split.

A streaming probe: it never holds the split's activations, only running sums, so it reads every sample of a split of
any size in constant memory, in the same pass as the probes that gather a sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from latent_probe.errors import check_range
from latent_probe.probing import Batch, Firing, MomentWriter, Probe, StreamState
from latent_probe.probing.layers import activation_modules
from latent_probe.registry import register_probe


@dataclass
class LayerStats:
    """One layer's per-unit statistics over the samples read."""

    mean: np.ndarray
    var: np.ndarray
    max: np.ndarray

    def dead(self, below: float) -> np.ndarray:
        """Units never above ``below`` on any sample."""
        return self.max <= below


@register_probe()
class UnitStats(Probe):
    """Per-unit mean, variance and maximum of each chosen layer over a whole split, and the share of dead units.

    A unit is one stored feature of a layer (a channel of a pooled feature map, a dimension of the token mean). A unit
    is dead when it is never above ``dead_below`` on any sample (a ReLU that never fires). Sums are kept in float64
    and reduced across processes, so 1 and N processes give the same figures. Writes ``unit_stats.npz`` (per layer:
    ``<layer>/mean``, ``/var``, ``/max``), ``stats.json`` and TensorBoard scalars ``unit_stats/<layer>/dead_share``.

    Args:
        dead_below: a unit whose maximum over the split is at most this is dead.
        max_samples: samples read (default: the whole split, streamed).
        **kwargs: the shared options of ``Probe``.
    """

    streams = True

    def __init__(self, dead_below: float = 0.0, max_samples: int | None = None, **kwargs: Any) -> None:
        super().__init__(max_samples=max_samples, **kwargs)
        check_range("dead_below", dead_below)
        self.dead_below = float(dead_below)

    def default_layers(self, model: nn.Module) -> list[str]:
        """Every activation module, in model order."""
        return activation_modules(model)

    def start_stream(self, widths: dict[str, int]) -> StreamState:
        """A sample count, and per layer float64 sums of values and squares and a running maximum."""
        state = StreamState()
        state.add("count", torch.zeros((), dtype=torch.float64))
        for layer, width in widths.items():
            state.add(f"sum:{layer}", torch.zeros(width, dtype=torch.float64))
            state.add(f"squares:{layer}", torch.zeros(width, dtype=torch.float64))
            state.add(f"max:{layer}", torch.full((width,), -torch.inf, dtype=torch.float64), reduce="max")
        return state

    def update(self, state: StreamState, outputs: dict[str, torch.Tensor], batch: Batch) -> None:
        """Add one batch's values, squares and maxima."""
        state["count"] = state["count"] + len(next(iter(outputs.values())))
        for layer, values in outputs.items():
            values = values.double()
            state[f"sum:{layer}"] = state[f"sum:{layer}"] + values.sum(dim=0)
            state[f"squares:{layer}"] = state[f"squares:{layer}"] + values.square().sum(dim=0)
            state[f"max:{layer}"] = torch.maximum(state[f"max:{layer}"], values.amax(dim=0))

    def compute(self, firing: Firing) -> dict[str, Any]:
        """Means and (population) variances from the reduced sums."""
        state = firing.stream
        count = float(state["count"])
        stats = {}
        for layer in self.layers:
            mean = state[f"sum:{layer}"] / count
            var = (state[f"squares:{layer}"] / count - mean.square()).clamp_min(0)
            stats[layer] = LayerStats(mean.cpu().numpy(), var.cpu().numpy(), state[f"max:{layer}"].cpu().numpy())
        return {"count": int(count), "layers": stats}

    def write(self, result: dict[str, Any], out: MomentWriter) -> None:
        """``unit_stats.npz``, ``stats.json`` and the dead share and mean variance of each layer as scalars."""
        layers: dict[str, LayerStats] = result["layers"]
        out.npz("unit_stats.npz", {f"{layer}/{key}": getattr(stats, key) for layer, stats in layers.items()
                                   for key in ("mean", "var", "max")})
        summary = {layer: {"units": int(stats.mean.size), "dead_units": int(stats.dead(self.dead_below).sum()),
                           "dead_share": float(stats.dead(self.dead_below).mean()), "mean_variance": float(stats.var.mean())}
                   for layer, stats in layers.items()}
        out.json("stats.json", {"split": self.split, "n_samples": result["count"], "dead_below": self.dead_below, "layers": summary})
        out.scalars({f"{self.name}/{layer}/{key}": values[key] for layer, values in summary.items()
                     for key in ("dead_share", "mean_variance")})
