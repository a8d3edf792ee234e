"""One collection pass: the model over a seeded sample of a split, sharded across ranks, every hooked layer pooled per
batch; gathered rows for the probes that want a sample, per-batch updates for the probes that stream."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from latent_probe.dataspec import DataSpec
from latent_probe.dataspec.batches import Batch, to_device
from latent_probe.errors import ConfigError
from latent_probe.probing.hooks import recorded_outputs
from latent_probe.probing.input_features import input_features
from latent_probe.probing.pooling import Pooling
from latent_probe.probing.sharding import gather_rows, order_by_index, select_indices, shard, visiting_order
from latent_probe.probing.stream import StreamState

# A pass says it begins (its split and this rank's number of samples); the function it gets back is told each batch's size.
PassReport = Callable[[str, int], Callable[[int], None]]


@dataclass
class Activations:
    """Per-sample results in dataset-index order, identical on every rank after gathering.

    ``label`` is None when the data has no labels; ``inputs`` (the raw inputs) and ``input_features`` (the same reduced
    per batch: input_features.py) are None unless asked for, and for inputs that are not one tensor (a dict of token ids
    and masks, say).
    """

    index: torch.Tensor
    label: torch.Tensor | None
    inputs: torch.Tensor | None = None
    outputs: dict[str, torch.Tensor] = field(default_factory=dict)
    input_features: torch.Tensor | None = None
    input_reduction: str = ""  # what was done to the inputs to make ``input_features``

    def __len__(self) -> int:
        return len(self.index)


@dataclass
class Streamer:
    """A streaming consumer of a pass: its layers, its own sample size and the states it folds batches into."""

    layers: list[str]
    max_samples: int | None
    state: StreamState
    update: object  # (state, outputs, batch) -> None


@dataclass
class PassRequest:
    """What one pass over ``split`` computes: ``layers`` on the seeded sample of ``max_samples`` (None = all).

    ``gathered``: how many of those samples (the same seed's subset) come back gathered from every rank (0: none);
    ``streamers`` see their own samples batch by batch on their own rank. ``keep_inputs`` keeps the gathered rows' raw
    inputs, ``keep_input_features`` only their reduction by ``pooling`` (input_features.py).
    """

    split: str
    layers: list[str]
    max_samples: int | None
    gathered: int | None
    batch_size: int
    seed: int
    pooling: Pooling
    keep_inputs: bool = False
    streamers: list[Streamer] = field(default_factory=list)
    keep_input_features: bool = False
    shuffled: bool = False  # visit the samples in a seeded random order (``sharding.visiting_order``)


def batches(spec: DataSpec, split: str, indices: torch.Tensor, batch_size: int):
    """``(start, batch)`` for the batches of ``indices`` of ``split``, in order."""
    dataset = spec.dataset(split)
    index_list = indices.tolist()
    for start in range(0, len(index_list), batch_size):
        yield start, spec.fetch(dataset, index_list[start : start + batch_size])


@torch.no_grad()
def run_pass(trainer, model: nn.Module, spec: DataSpec, request: PassRequest, device: torch.device,
             report: PassReport | None = None) -> Activations | None:
    """Forward this rank's share of the request's samples once; return the gathered rows (None when none are asked for).

    Every rank must call this (it runs collectives). Streamers' states are reduced across ranks before it returns.
    ``report`` (probing/progress.py) is told the pass's split and size, then each batch's size.
    """
    size = len(spec.dataset(request.split))  # type: ignore[arg-type]
    order = visiting_order(size, request.max_samples, request.seed, request.shuffled)
    mine = shard(order, trainer.global_rank, trainer.world_size)
    advance = report(request.split, len(mine)) if report is not None else None
    wanted = select_indices(size, request.gathered, request.seed) if request.gathered != 0 else mine[:0]
    kept = _Kept(torch.isin(mine, wanted), request)
    own = [torch.isin(mine, select_indices(size, s.max_samples, request.seed)) for s in request.streamers]
    pool, current = request.pooling, {"mask": None}  # the hooks pool each batch with that batch's padding mask
    with recorded_outputs(model, request.layers, lambda output: pool(output, current["mask"])) as records:
        for start, batch in batches(spec, request.split, mine, request.batch_size):
            current["mask"] = batch.mask
            inputs = to_device(batch.inputs, device)
            spec.call(model, inputs)
            outputs = {layer: records[layer].pop().float() for layer in request.layers}  # one call per layer and batch
            rows = slice(start, start + len(batch))
            kept.add(mine[rows], batch, outputs, inputs)
            for streamer, chosen in zip(request.streamers, own):
                feed(streamer, outputs, batch, chosen[rows])
            if advance is not None:
                advance(len(batch))
    for streamer in request.streamers:
        streamer.state.sync(trainer.strategy, trainer.world_size)
    return kept.gathered(trainer, spec, device, len(wanted)) if request.gathered != 0 else None


class _Kept:
    """The rows of this rank that are gathered, batch by batch."""

    def __init__(self, chosen: torch.Tensor, request: PassRequest) -> None:
        self.chosen, self.request, self.position = chosen, request, 0
        self.index: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []
        self.inputs: list[torch.Tensor] = []
        self.input_features: list[torch.Tensor] = []
        self.input_reduction = ""
        self.outputs: dict[str, list[torch.Tensor]] = {layer: [] for layer in request.layers}

    def add(self, index: torch.Tensor, batch: Batch, outputs: dict[str, torch.Tensor], on_device: torch.Tensor | dict) -> None:
        """Keep the chosen rows of one batch (``on_device``: its inputs on the model's device, reduced there)."""
        rows = self.chosen[self.position : self.position + len(index)]
        self.position += len(index)
        if not rows.any():
            return
        self.index.append(index[rows])
        for layer, values in outputs.items():
            self.outputs[layer].append(values[rows.to(values.device)])
        if batch.labels is not None:
            self.labels.append(batch.labels[rows])
        if self.request.keep_inputs and isinstance(batch.inputs, torch.Tensor):
            self.inputs.append(batch.inputs[rows])
        if self.request.keep_input_features and isinstance(on_device, torch.Tensor):
            features, self.input_reduction = input_features(on_device[rows.to(on_device.device)].float(), self.request.pooling)
            self.input_features.append(features)

    def gathered(self, trainer, spec: DataSpec, device: torch.device, total: int) -> Activations:
        index = torch.cat(self.index) if self.index else torch.empty(0, dtype=torch.int64)
        local = {"index": index.to(device), **{f"out:{layer}": _cat(parts, layer) for layer, parts in self.outputs.items()}}
        if spec.label_key is not None:
            local["label"] = (torch.cat(self.labels) if self.labels else torch.empty(0, dtype=torch.int64)).to(device)
        if self.inputs:
            local["inputs"] = torch.cat(self.inputs).float().to(device)
        if self.input_features:
            local["input_features"] = torch.cat(self.input_features).to(device)
        activations = _gathered(trainer, local, total)
        activations.input_reduction = self.input_reduction
        return activations


def feed(streamer: Streamer, outputs: dict[str, torch.Tensor], batch: Batch, chosen: torch.Tensor) -> None:
    """Fold the ``chosen`` rows (a boolean mask) of one batch into a streamer: the batch as it is when all are chosen
    (the usual case: a streamer reads the whole split), so its rows are not copied. Streamers of one pass then share
    the outputs' tensors: ``Probe.update`` reads them and must not change them in place (docs/plugins.md)."""
    if bool(chosen.all()):
        streamer.update(streamer.state, {layer: outputs[layer] for layer in streamer.layers}, batch)
    elif bool(chosen.any()):
        streamer.update(streamer.state, {layer: outputs[layer][chosen] for layer in streamer.layers}, rows_of(batch, chosen))


def rows_of(batch: Batch, rows: torch.Tensor) -> Batch:
    """The ``rows`` (a boolean mask) of a batch: inputs (a tensor or a dict of them), labels and padding mask."""
    def take(value):
        return value[rows.to(value.device)] if isinstance(value, torch.Tensor) else value

    inputs = {k: take(v) for k, v in batch.inputs.items()} if isinstance(batch.inputs, dict) else take(batch.inputs)
    return Batch(inputs, None if batch.labels is None else take(batch.labels), None if batch.mask is None else take(batch.mask))


def sample_activations(trainer, model: nn.Module, spec: DataSpec, layers: list[str], split: str, max_samples: int | None,
                       batch_size: int = 256, seed: int = 0, keep_inputs: bool = False, pooling: Pooling | None = None,
                       device: torch.device | None = None, report: PassReport | None = None,
                       keep_input_features: bool = False) -> Activations:
    """``layers`` on a seeded sample of ``split``, gathered from every rank: one pass of its own (no other probe shares it)."""
    request = PassRequest(split, list(layers), max_samples, max_samples, batch_size, seed, pooling or Pooling(), keep_inputs,
                          keep_input_features=keep_input_features)
    device = device if device is not None else next(model.parameters()).device
    return run_pass(trainer, model, spec, request, device, report)  # type: ignore[return-value]


def _cat(parts: list[torch.Tensor], layer: str) -> torch.Tensor:
    widths = {part.shape[1:] for part in parts}
    if len(widths) > 1:  # flattened tokens of batches padded to different lengths
        raise ConfigError(f"layer {layer!r} gives {sorted(math.prod(w) for w in widths)} values per sample in different batches "
                          "(token sequences padded to each batch's longest). HINT: set token_pooling to mean or first")
    if parts:
        return torch.cat(parts)
    raise ConfigError(f"layer {layer!r} recorded no samples on this rank. HINT: lower the number of devices or raise max_samples")


def _gathered(trainer, local: dict[str, torch.Tensor], total: int) -> Activations:
    gathered = {k: gather_rows(trainer.strategy, v, total, trainer.world_size).cpu() for k, v in local.items()}
    keep = order_by_index(gathered["index"])
    rows = {k: v[keep] for k, v in gathered.items()}
    outputs = {k[len("out:"):]: v for k, v in rows.items() if k.startswith("out:")}
    return Activations(index=rows["index"], label=rows.get("label"), inputs=rows.get("inputs"), outputs=outputs,
                       input_features=rows.get("input_features"))
