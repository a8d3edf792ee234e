"""One collection pass per moment and split: probes that fire together share the model's forward passes.

When several probes fire at the same moment (``fit_end``, say) and read the same split with the same sampling
seed, batch size and pooling, the first of them to ask records the layers of all of them in one pass over the
largest sample any of them wants; each gets back its own layers and its own rows (a smaller seeded sample is a
subset of a larger one with the same seed). A probe whose needs the pass did not foresee gets a pass of its own,
so sharing changes what is computed only in how often, never in its values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

import pytorch_lightning as pl
import torch

from latent_probe.probing.activations import Activations, sample_activations
from latent_probe.probing.sharding import select_indices

if TYPE_CHECKING:
    from latent_probe.probing.probe import Probe


@dataclass
class _Collected:
    activations: Activations
    inputs_kept: bool


@dataclass
class _MomentPasses:
    stamp: tuple
    collected: dict[tuple, _Collected] = field(default_factory=dict)


_passes: WeakKeyDictionary = WeakKeyDictionary()  # trainer -> the passes of its current moment


def shared_activations(trainer: pl.Trainer, pl_module: pl.LightningModule, probe: Probe, partners: Sequence[Probe],
                       when: str, split: str, keep_inputs: bool) -> Activations:
    """``probe``'s layers on its sample of ``split``, from a pass shared with the ``partners`` firing at ``when``."""
    stamp = (trainer.global_step, trainer.current_epoch, when, str(trainer.state.fn))
    passes = _passes.get(trainer)
    if passes is None or passes.stamp != stamp:
        passes = _passes[trainer] = _MomentPasses(stamp)
    key = _pass_key(probe, split, pl_module)
    found = passes.collected.get(key)
    wanted = _sample_size(probe, split)
    if found is None or not _covers(found, probe.layers, keep_inputs, wanted):
        sharing = [p for p in partners if split in p.splits() and _pass_key(p, split, pl_module) == key]
        layers = list(dict.fromkeys([*probe.layers, *(layer for p in sharing for layer in p.layers)]))
        largest = max([probe, *sharing], key=lambda p: _sample_size(p, split))
        inputs = keep_inputs or any(p.keeps_inputs for p in sharing)
        activations = sample_activations(trainer, pl_module, probe.spec, layers, split, largest.max_samples, probe.pass_rows(pl_module),
                                         probe.seed, inputs, probe.pooling)
        found = passes.collected[key] = _Collected(activations, inputs)
    return _view(found.activations, probe, split, keep_inputs)


def _pass_key(probe: Probe, split: str, pl_module: pl.LightningModule) -> tuple:
    return (split, probe.seed, probe.pass_rows(pl_module), probe.pooling.token_pooling, probe.pooling.max_features, id(probe.spec))


def _sample_size(probe: Probe, split: str) -> int:
    size = len(probe.spec.dataset(split))
    return size if probe.max_samples is None else min(size, probe.max_samples)


def _covers(found: _Collected, layers: Sequence[str], keep_inputs: bool, rows: int) -> bool:
    return set(layers) <= set(found.activations.outputs) and (found.inputs_kept or not keep_inputs) and len(found.activations) >= rows


def _view(activations: Activations, probe: Probe, split: str, keep_inputs: bool) -> Activations:
    """The probe's own layers and rows of a shared collection."""
    own = select_indices(len(probe.spec.dataset(split)), probe.max_samples, probe.seed)
    rows = slice(None) if len(own) == len(activations) else torch.isin(activations.index, own)

    def take(values: torch.Tensor | None) -> torch.Tensor | None:
        return None if values is None else values[rows]

    return Activations(index=take(activations.index), label=take(activations.label),
                       inputs=take(activations.inputs) if keep_inputs else None,
                       outputs={layer: activations.outputs[layer][rows] for layer in probe.layers})
