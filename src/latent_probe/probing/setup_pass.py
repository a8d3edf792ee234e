"""Find problems before training: one forward pass of a tiny batch with every probe's layers hooked.

The pass tells, for each layer, how often the forward pass calls it, which part of its output a
probe reads and that part's shape, in the order the layers are first called. Probes check these
facts at setup, so a layer named exactly but never called, called twice or giving no per-sample tensor is one
``latent-probe: error:`` line before any run folder exists.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from latent_probe.dataspec import Batch, DataSpec, to_device
from latent_probe.errors import ConfigError
from latent_probe.probing.hooks import device_of, hooked
from latent_probe.probing.layers import output_kind, reduce_output

DRY_RUN_SAMPLES = 2


@dataclass
class LayerCalls:
    """What one forward pass showed about one layer."""

    shapes: list[tuple[int, ...]] = field(default_factory=list)  # the read part's shape at each call
    part: str = ""  # the part read from a non-tensor output, e.g. "[0]" or "[last_hidden_state]"
    problem: str = ""  # why no tensor could be read, if so
    order: int = -1  # position of its first call among the hooked layers (-1: never called)
    calls: int = 0  # how many times the forward pass called it
    output: str = ""  # what its first call gave, e.g. "tensor (2, 16)" or "tuple of 2"

    @property
    def count(self) -> int:
        """How many times the layer was called."""
        return self.calls


@dataclass
class SetupPass:
    """The result of the setup forward pass: the batch it used and every hooked layer's calls."""

    batch_size: int
    layers: dict[str, LayerCalls]
    label_shape: tuple[int, ...] | None = None  # the labels of the batch (None: the data has none)

    def check_class_labels(self, probe: str, label_key: object) -> None:
        """Raise when the labels are not one class index per sample (a per-pixel mask under ``label_key``, say)."""
        if self.label_shape is not None and self.label_shape != (self.batch_size,):
            raise ConfigError(f"probe {probe!r} needs one class label per sample, but data_spec.label_key {label_key!r} holds "
                              f"{list(self.label_shape[1:])} values per sample. HINT: point data_spec.label_key at a class index")

    def called_in_order(self, layers: Iterable[str]) -> list[str]:
        """``layers`` that were called, in the order of their first call."""
        called = [layer for layer in layers if self.layers[layer].order >= 0]
        return sorted(called, key=lambda layer: self.layers[layer].order)

    def readable(self, layer: str) -> bool:
        """Whether a probe can read ``layer``: called once, giving a tensor with one row per sample."""
        calls = self.layers[layer]
        return calls.count == 1 and not calls.problem and calls.shapes[0][:1] == (self.batch_size,)

    def never_called(self, layers: Iterable[str]) -> list[str]:
        """``layers`` the forward pass did not call."""
        return [layer for layer in layers if self.layers[layer].count == 0]

    def problems(self, layers: Iterable[str], named: Container[str]) -> list[str]:
        """Why some layers cannot be read one row per sample: never called (an error for ``named`` layers only: a
        pattern may match modules the forward pass skips), called twice, no tensor."""
        found = []
        for layer in layers:
            calls = self.layers[layer]
            if calls.problem:
                found.append(f"layer {layer!r}: {calls.problem}")
            elif calls.count == 0 and layer in named:
                found.append(f"layer {layer!r} is never called by the model's forward pass")
            elif calls.count > 1:
                found.append(f"layer {layer!r} is called {calls.count} times per forward pass (a probe reads one output per sample)")
            elif calls.count == 1 and (not calls.shapes[0] or calls.shapes[0][0] != self.batch_size):
                found.append(f"layer {layer!r} gives no per-sample tensor (shape {calls.shapes[0]} for a batch of {self.batch_size})")
        return found


@torch.no_grad()
def run_setup_pass(model: nn.Module, spec: DataSpec, split: str, layers: Iterable[str]) -> SetupPass:
    """Run ``model`` once (eval mode, modes restored) on the first samples of ``split``, noting every layer's calls."""
    layers = list(dict.fromkeys(layers))
    batch = first_batch(spec, split)
    calls = {layer: LayerCalls() for layer in layers}
    seen = [0]

    def make_hook(layer: str, part):
        def hook(module, inputs, output):
            record = calls[layer]
            if record.order < 0:
                record.order, seen[0] = seen[0], seen[0] + 1
                record.output = output_kind(output)
            record.calls += 1
            try:
                tensor, record.part = reduce_output(output, part)
                record.shapes.append(tuple(tensor.shape))
            except TypeError as error:
                record.problem = str(error)

        return hook

    with hooked(model, layers, make_hook):
        try:
            spec.call(model, to_device(batch.inputs, device_of(model)))
        except ConfigError:
            raise
        except Exception as error:  # noqa: BLE001  the model cannot run on the data: the user's problem, said in one line
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ConfigError(
                f"{type(model).__name__}'s forward pass fails on {len(batch)} samples of the {split!r} split of {spec.source}: "
                f"{type(error).__name__}: {reason}. HINT: check data_spec.input_key and the model's input size"
            ) from None
    return SetupPass(len(batch), calls, None if batch.labels is None else tuple(batch.labels.shape))


def first_batch(spec: DataSpec, split: str) -> Batch:
    """The first ``DRY_RUN_SAMPLES`` samples of ``split`` (an empty split is an error)."""
    dataset = spec.dataset(split)
    size = len(dataset)  # type: ignore[arg-type]
    if size == 0:
        raise ConfigError(f"the {split!r} split of {spec.source} has no samples")
    return spec.fetch(dataset, list(range(min(DRY_RUN_SAMPLES, size))))
