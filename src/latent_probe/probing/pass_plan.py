"""The passes of one moment, planned from what the due probes declare: one pass per split and sampling.

Probes due at the same moment that read the same split with the same sampling seed, batch size and pooling share one
forward pass over the largest sample any of them wants (a smaller seeded sample is a subset of a larger one with the
same seed), recording the union of their layers; streaming probes fold every batch of that pass into their states.
The plan depends only on the set of due probes, never on their order, so sharing is deterministic. A probe that
declares ``own_pass`` shares with nobody: its pass runs when its own ``compute`` first reads it. A request the
plan did not foresee (a split a probe did not declare) gets a pass of its own: sharing changes how often the model
runs, never what a probe receives. A probe that declares ``needs_initial_weights`` also gets a pass at the model's
initial weights planned (run only if asked for): probes that want activations at them share it as they share the other.
That pass keeps no inputs (they are the same at any weights: the pass at the current weights keeps them).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from latent_probe.dataspec import DataSpec
from latent_probe.probing.collection import Activations, PassReport, PassRequest, Streamer, run_pass, sample_activations
from latent_probe.probing.initial_weights import CURRENT, INITIAL, InitialWeights, initial_weights_in
from latent_probe.probing.probe import Probe
from latent_probe.probing.sharding import select_indices
from latent_probe.probing.stream import StreamState


@dataclass(frozen=True)
class PassKey:
    """What must agree for two probes to share a pass."""

    split: str
    seed: int
    batch_size: int
    pooling: Any
    weights: str = CURRENT  # or INITIAL: the pass runs at the model's initial weights
    owner: str = ""  # the probe whose pass this is alone (``Probe.own_pass``), else "" (shared)


@dataclass
class PlannedPass:
    """One pass of the plan: its request, the probes it serves, and (once run) its result or the error it raised."""

    request: PassRequest
    readers: list[Probe]
    weights: str = CURRENT
    streams: dict[str, StreamState] = field(default_factory=dict)
    result: Activations | None = None
    error: Exception | None = None
    done: bool = False


def plan_passes(probes: Sequence[Probe], spec: DataSpec, device: torch.device) -> dict[PassKey, PlannedPass]:
    """One planned pass per key, for every split every due probe declares."""
    groups: dict[PassKey, list[Probe]] = {}
    for probe in sorted(probes, key=lambda p: p.name):  # the plan must not depend on the probes' order
        for split in probe.splits():
            key = pass_key(probe, split, device)
            groups.setdefault(key, []).append(probe)
            if probe.needs_initial_weights:
                groups.setdefault(pass_key(probe, split, device, INITIAL), []).append(probe)
    return {key: _planned(key, members, spec, device) for key, members in groups.items()}


def pass_key(probe: Probe, split: str, device: torch.device, weights: str = CURRENT) -> PassKey:
    """The key of ``probe``'s pass over ``split``: probes with equal keys share it."""
    return PassKey(split, probe.seed, probe.batch_size_on(device), probe.pooling, weights, probe.name if probe.own_pass else "")


def _planned(key: PassKey, members: list[Probe], spec: DataSpec, device: torch.device) -> PlannedPass:
    size = len(spec.dataset(key.split))  # type: ignore[arg-type]
    at_initial = key.weights == INITIAL  # a stream reads the current weights: at the initial ones every reader gathers
    gatherers = [p for p in members if at_initial or p.gathered_samples() != 0]  # a streaming probe may also want a sample
    streamers = [p for p in members if not at_initial and p.streams]
    layers = list(dict.fromkeys(layer for p in members for layer in p.layers))
    sizes = [_sample_size(p) if at_initial else p.gathered_samples() for p in gatherers]
    gathered = _largest(sizes, size) if gatherers else 0
    covered = _largest([p.max_samples for p in members] + sizes, size)
    current = [] if at_initial else gatherers  # the inputs are the same at any weights: the current weights' pass keeps them
    request = PassRequest(key.split, layers, covered, gathered, key.batch_size, key.seed, key.pooling,
                          keep_inputs=any(p.keeps_inputs for p in current),
                          keep_input_features=any(p.keeps_input_features for p in current))
    planned = PlannedPass(request, gatherers, key.weights)
    for probe in streamers:
        state = probe.start_stream({layer: probe.pooling.width(probe.layer_shapes[layer]) for layer in probe.layers}).to(device)
        planned.streams[probe.name] = state
        request.streamers.append(Streamer(list(probe.layers), probe.max_samples, state, probe.update))
    request.shuffled = any(state.needs_random_order for state in planned.streams.values())
    return planned


def _sample_size(probe: Probe) -> int | None:
    """The sample a pass of the probe's own gathers: its declared sample, else (a stream asking anyway) ``max_samples``."""
    size = probe.gathered_samples()
    return probe.max_samples if size == 0 else size


def _largest(sizes: list[int | None], total: int) -> int | None:
    return None if any(s is None or s >= total for s in sizes) else max(sizes)  # type: ignore[type-var]


class SharedPasses:
    """The planned passes of one moment, each run once (on first use, in the same order on every rank); each pass tells
    ``report`` (probing/progress.py) how far it got. ``initial``: the model's initial weights (when a probe needs them)."""

    def __init__(self, trainer: Any, model: nn.Module, spec: DataSpec, probes: Sequence[Probe], device: torch.device,
                 report: PassReport | None = None, initial: InitialWeights | None = None) -> None:
        self.trainer, self.model, self.spec, self.device, self.report = trainer, model, spec, device, report
        self.initial = initial
        self.plan = plan_passes([p for p in probes if p.reads_activations and p.layers], spec, device)

    def view(self, probe: Probe, split: str, keep_inputs: bool, weights: str = CURRENT,
             input_features: bool = False) -> Activations:
        """``probe``'s layers and rows of ``split`` at ``weights`` (with the raw inputs, or their reduction, when asked): from
        its planned pass when that covers them, else from a pass of its own."""
        planned = self._planned(probe, split, weights)
        if (planned is None or probe not in planned.readers or (keep_inputs and not planned.request.keep_inputs)
                or (input_features and not planned.request.keep_input_features)):
            with self._weights(weights):
                return sample_activations(self.trainer, self.model, self.spec, probe.layers, split, _sample_size(probe),
                                          probe.batch_size_on(self.device), probe.seed, keep_inputs, probe.pooling, self.device,
                                          self.report, input_features)
        return _view(self._run(planned), probe, split, keep_inputs, self.spec, input_features)

    def stream(self, probe: Probe) -> StreamState:
        """A streaming probe's states after its pass (run now if it has not run yet)."""
        planned = self._planned(probe, probe.split)
        if planned is None or probe.name not in planned.streams:
            raise RuntimeError(f"probe {probe.name!r} does not stream (set `streams = True` and implement start_stream/update)")
        self._run(planned)
        return planned.streams[probe.name]

    def _planned(self, probe: Probe, split: str, weights: str = CURRENT) -> PlannedPass | None:
        return self.plan.get(pass_key(probe, split, self.device, weights))

    @contextmanager
    def _weights(self, weights: str) -> Iterator[None]:
        """The model at ``weights`` inside the block: as it is, or with its initial weights swapped in."""
        if weights == CURRENT:
            yield
            return
        with initial_weights_in(self.model, self.initial_weights()):
            yield

    def initial_weights(self) -> InitialWeights:
        """The model's initial weights, the same on every rank (a collective: every rank calls it)."""
        if self.initial is None:
            raise RuntimeError("the initial weights were not kept: the runner keeps them when it is prepared or set up, "
                               "for probes that declare needs_initial_weights")
        self.initial.agree(self.trainer.strategy, self.trainer.world_size, self.device)
        return self.initial

    def _run(self, planned: PlannedPass) -> Activations | None:
        if not planned.done:
            planned.done = True
            try:
                with self._weights(planned.weights):
                    planned.result = run_pass(self.trainer, self.model, self.spec, planned.request, self.device, self.report)
            except Exception as error:  # noqa: BLE001  every probe of this pass fails with it (each on its own)
                planned.error = error
        if planned.error is not None:
            raise planned.error
        return planned.result


def _view(activations: Activations | None, probe: Probe, split: str, keep_inputs: bool, spec: DataSpec,
          input_features: bool = False) -> Activations:
    """The probe's own layers and rows of a shared collection."""
    assert activations is not None  # a planned reader always has gathered rows
    own = select_indices(len(spec.dataset(split)), probe.gathered_samples(), probe.seed)  # type: ignore[arg-type]
    rows = slice(None) if len(own) == len(activations) else torch.isin(activations.index, own)

    def take(values: torch.Tensor | None) -> torch.Tensor | None:
        return None if values is None else values[rows]

    return Activations(index=take(activations.index), label=take(activations.label),  # type: ignore[arg-type]
                       inputs=take(activations.inputs) if keep_inputs else None,
                       outputs={layer: activations.outputs[layer][rows] for layer in probe.layers},
                       input_features=take(activations.input_features) if input_features else None,
                       input_reduction=activations.input_reduction if input_features else "")
