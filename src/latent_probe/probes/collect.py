"""Run a model over a fixed, sharded sample of a split and gather layer outputs from every rank."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytorch_lightning as pl
import torch
from torch.utils.data import Dataset, default_collate

from latent_probe.errors import ConfigError
from latent_probe.probes.capture import capture_outputs
from latent_probe.probes.gather import gather_rows, order_by_index, select_indices, shard


@dataclass
class Collected:
    """Per-sample results in dataset-index order, identical on every rank after gathering."""

    index: torch.Tensor
    label: torch.Tensor
    inputs: torch.Tensor | None = None
    outputs: dict[str, torch.Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.index)


def split_dataset(trainer: pl.Trainer, split: str) -> Dataset:
    """The dataset of ``split`` from the trainer's datamodule (``dataset(split)`` or its dataloader)."""
    datamodule = trainer.datamodule
    if datamodule is None:
        raise ConfigError("this probe reads data, but the run has no datamodule. HINT: set `data:` in the config")
    if hasattr(datamodule, "dataset"):
        return datamodule.dataset(split)
    loader_fn = getattr(datamodule, f"{split}_dataloader", None)
    if loader_fn is None:
        raise ConfigError(f"datamodule {type(datamodule).__name__} has no {split!r} split")
    return loader_fn().dataset


def fetch_batch(dataset: Dataset, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inputs, labels)`` of ``indices``: one ``__getitems__`` call for in-memory datasets that stack
    batches themselves, else per-item access and ``default_collate``."""
    getitems = getattr(dataset, "__getitems__", None)
    if getitems is not None:
        batch = getitems(indices)
        if _is_stacked(batch, len(indices)):
            return batch[0], batch[1]
        items = batch
    else:
        items = [dataset[i] for i in indices]
    inputs, labels = default_collate(items)[:2]
    return inputs, labels


def _is_stacked(batch, size: int) -> bool:
    return (
        isinstance(batch, tuple)
        and len(batch) >= 2
        and all(isinstance(t, torch.Tensor) and t.dim() >= 1 and len(t) == size for t in batch[:2])
    )


def _batches(dataset: Dataset, indices: torch.Tensor, batch_size: int):
    index_list = indices.tolist()
    for start in range(0, len(index_list), batch_size):
        yield fetch_batch(dataset, index_list[start : start + batch_size])


@torch.no_grad()
def collect_outputs(
    trainer: pl.Trainer,
    pl_module: pl.LightningModule,
    layers: list[str],
    split: str,
    max_samples: int | None,
    batch_size: int = 256,
    seed: int = 0,
    keep_inputs: bool = False,
) -> Collected:
    """Forward this rank's share of the chosen samples, capture ``layers``, and gather all ranks' rows.

    Every rank must call this (it runs collectives). Rows come back once per dataset index, sorted.
    """
    dataset = split_dataset(trainer, split)
    chosen = select_indices(len(dataset), max_samples, seed)
    world_size, rank = trainer.world_size, trainer.global_rank
    mine = shard(chosen, rank, world_size)
    labels, inputs = [], []
    with capture_outputs(pl_module, layers) as records:
        for x, y in _batches(dataset, mine, batch_size):
            pl_module(x.to(pl_module.device))
            labels.append(torch.as_tensor(y))
            if keep_inputs:
                inputs.append(x)
    device = pl_module.device
    local = {
        "index": mine.to(device),
        "label": _cat(labels, torch.empty(0, dtype=torch.int64)).to(device),
        **{f"out:{path}": _cat(records[path]).float() for path in layers},
    }
    if keep_inputs:
        local["inputs"] = _cat(inputs).float().to(device)
    return _gather(trainer, local, total=len(chosen))


def _cat(parts: list[torch.Tensor], empty: torch.Tensor | None = None) -> torch.Tensor:
    if parts:
        return torch.cat(parts)
    if empty is None:
        raise ConfigError("the probe's split has no samples on this rank. HINT: lower devices or raise max_samples")
    return empty


def _gather(trainer: pl.Trainer, local: dict[str, torch.Tensor], total: int) -> Collected:
    gathered = {k: gather_rows(trainer.strategy, v, total, trainer.world_size).cpu() for k, v in local.items()}
    keep = order_by_index(gathered["index"])
    rows = {k: v[keep] for k, v in gathered.items()}
    outputs = {k[len("out:"):]: v for k, v in rows.items() if k.startswith("out:")}
    return Collected(index=rows["index"], label=rows["label"], inputs=rows.get("inputs"), outputs=outputs)
