"""Run the model over a probe's fixed sample of a split and return every chosen layer's outputs, from all ranks."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytorch_lightning as pl
import torch

from latent_probe.dataspec import DataSpec, to_device
from latent_probe.errors import ConfigError
from latent_probe.probing.hooks import recorded_outputs
from latent_probe.probing.pooling import Pooling
from latent_probe.probing.sharding import gather_rows, order_by_index, select_indices, shard


@dataclass
class Activations:
    """Per-sample results in dataset-index order, identical on every rank after gathering.

    ``label`` is None when the data has no labels; ``inputs`` is None unless asked for, and for
    inputs that are not one tensor (a dict of token ids and masks, say).
    """

    index: torch.Tensor
    label: torch.Tensor | None
    inputs: torch.Tensor | None = None
    outputs: dict[str, torch.Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.index)


def batches(spec: DataSpec, split: str, indices: torch.Tensor, batch_size: int):
    """The batches of ``indices`` of ``split``, in order."""
    dataset = spec.dataset(split)
    index_list = indices.tolist()
    for start in range(0, len(index_list), batch_size):
        yield spec.fetch(dataset, index_list[start : start + batch_size])


@torch.no_grad()
def sample_activations(
    trainer: pl.Trainer,
    pl_module: pl.LightningModule,
    spec: DataSpec,
    layers: list[str],
    split: str,
    max_samples: int | None,
    batch_size: int = 256,
    seed: int = 0,
    keep_inputs: bool = False,
    pooling: Pooling | None = None,
) -> Activations:
    """Forward this rank's share of the chosen samples, record ``layers``, and gather all ranks' rows.

    Each output is reduced to ``(n, features)`` by ``pooling`` (default: the standard ``Pooling()``) as it is
    recorded. Every rank must call this (it runs collectives). Rows come back once per dataset index, sorted.
    """
    chosen = select_indices(len(spec.dataset(split)), max_samples, seed)
    mine = shard(chosen, trainer.global_rank, trainer.world_size)
    labels, inputs = [], []
    pool, current = pooling or Pooling(), {"mask": None}  # the hooks pool each batch with that batch's padding mask
    with recorded_outputs(pl_module, layers, lambda output: pool(output, current["mask"])) as records:
        for batch in batches(spec, split, mine, batch_size):
            current["mask"] = batch.mask
            spec.call(pl_module, to_device(batch.inputs, pl_module.device))
            if batch.labels is not None:
                labels.append(batch.labels)
            if keep_inputs and isinstance(batch.inputs, torch.Tensor):
                inputs.append(batch.inputs)
    device = pl_module.device
    local = {"index": mine.to(device), **{f"out:{layer}": _cat(records[layer], layer).float() for layer in layers}}
    if spec.label_key is not None:
        local["label"] = (torch.cat(labels) if labels else torch.empty(0, dtype=torch.int64)).to(device)
    if inputs:
        local["inputs"] = torch.cat(inputs).float().to(device)
    return _gathered(trainer, local, total=len(chosen))


def _cat(parts: list[torch.Tensor], layer: str) -> torch.Tensor:
    widths = {part.shape[1:] for part in parts}
    if len(widths) > 1:  # flattened tokens of batches padded to different lengths
        raise ConfigError(f"layer {layer!r} gives {sorted(math.prod(w) for w in widths)} values per sample in different batches "
                          "(token sequences padded to each batch's longest). HINT: set token_pooling to mean or first")
    if parts:
        return torch.cat(parts)
    raise ConfigError(f"layer {layer!r} recorded no samples on this rank. HINT: lower the number of devices or raise max_samples")


def _gathered(trainer: pl.Trainer, local: dict[str, torch.Tensor], total: int) -> Activations:
    gathered = {k: gather_rows(trainer.strategy, v, total, trainer.world_size).cpu() for k, v in local.items()}
    keep = order_by_index(gathered["index"])
    rows = {k: v[keep] for k, v in gathered.items()}
    outputs = {k[len("out:"):]: v for k, v in rows.items() if k.startswith("out:")}
    return Activations(index=rows["index"], label=rows.get("label"), inputs=rows.get("inputs"), outputs=outputs)
