"""Initial weights: a CPU copy of the model's parameters and buffers as built, for probes that compare with them.

The runner takes it once, and only when a probe declares ``needs_initial_weights``: when it is prepared (the CLI and
``latent_probe.probe`` prepare it right after the model is built and ``--weights``/``weights=`` loaded), else at the
trainer's ``setup`` hook. Both come before any training step and before a checkpoint's weights: Lightning calls the
setup hook before ``_restore_modules_and_callbacks`` (``Trainer._run``), and ``latent-probe probe --ckpt_path`` loads
the checkpoint after the runner is prepared. A resumed run builds its model again: the digest of the weights it started
with is kept in the checkpoint, so a rebuilt model that differs (an unseeded config) is told apart, warned about and
recorded in the manifest. A probe reads activations at these weights with ``firing.activations(weights="initial")``:
the pass copies them into the model in place and copies the model's own weights back after, also when it raises.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from latent_probe.probing.sharding import any_rank

CURRENT, INITIAL = "current", "initial"
WEIGHTS = (CURRENT, INITIAL)
TAKEN = "the model's weights when the probes were set up: before any training step and before a checkpoint's weights"


def model_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every parameter and buffer of ``model`` by name (non-persistent buffers too: the forward pass reads them)."""
    return {**dict(model.named_parameters()), **dict(model.named_buffers())}


def weights_digest(tensors: dict[str, torch.Tensor]) -> str:
    """``sha256:<hex>`` of the names, dtypes, shapes and bytes of ``tensors`` (equal weights, equal digest)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(tensors.items()):
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return f"sha256:{digest.hexdigest()}"


class InitialWeights:
    """A CPU copy of a model's parameters and buffers, its digest and whether it equals the weights the run started with.

    Attributes:
        tensors: name -> CPU tensor (parameters and buffers).
        digest: ``weights_digest`` of ``tensors`` when taken.
        same_as_run_start: None in a run that started here; in a resumed run, whether the rebuilt model's weights equal
            those the run started with (the digest kept in the checkpoint).
    """

    def __init__(self, model: nn.Module) -> None:
        self.tensors = {name: tensor.detach().to("cpu", copy=True) for name, tensor in model_tensors(model).items()}
        self.digest = weights_digest(self.tensors)
        self.same_as_run_start: bool | None = None
        self._agreed = False

    def record(self) -> dict[str, Any]:
        """What a moment's manifest says of the initial weights a firing used."""
        return {"taken": TAKEN, "digest": self.digest, "same_as_run_start": self.same_as_run_start}

    def agree(self, strategy: Any, world_size: int, device: torch.device) -> None:
        """Every rank holds rank 0's copy (ranks built without a common seed differ until DDP syncs them, after setup).

        A collective: every rank calls it; it broadcasts the weights only when the ranks' digests differ.
        """
        if self._agreed or world_size == 1:
            return
        self._agreed = True
        differs = strategy.broadcast(self.digest, src=0) != self.digest
        if any_rank(strategy, differs, device):
            self.tensors = strategy.broadcast(self.tensors, src=0)
            self.digest = weights_digest(self.tensors)


@contextmanager
def initial_weights_in(model: nn.Module, initial: InitialWeights) -> Iterator[None]:
    """Inside the block ``model`` holds ``initial``'s weights (copied in place); its own come back after, even on error."""
    tensors = model_tensors(model)
    if tensors.keys() != initial.tensors.keys():
        changed = sorted(tensors.keys() ^ initial.tensors.keys())
        raise RuntimeError(f"the model's parameters and buffers changed since its initial weights were kept: {changed[:5]}")
    own = {name: tensor.detach().to("cpu", copy=True) for name, tensor in tensors.items()}
    try:
        copy_into(tensors, initial.tensors)
        yield
    finally:
        copy_into(tensors, own)


@torch.no_grad()
def copy_into(targets: dict[str, torch.Tensor], sources: dict[str, torch.Tensor]) -> None:
    """Copy ``sources`` into the tensors ``targets`` of the same names, in place (cast to each target's device and dtype)."""
    # In place: the optimizer, DDP and any hook keep holding the same tensors; copy_ casts to the model's device and dtype.
    for name, target in targets.items():
        if target.shape != sources[name].shape:
            raise RuntimeError(f"{name!r} has shape {tuple(target.shape)} now, {tuple(sources[name].shape)} as built")
        target.copy_(sources[name])


__all__ = ["CURRENT", "INITIAL", "WEIGHTS", "InitialWeights", "copy_into", "initial_weights_in", "model_tensors", "weights_digest"]
