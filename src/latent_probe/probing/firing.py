"""``Firing``: what a probe receives when it fires. The moment, the model and where it runs, and its layers' outputs
from the pass it shares with every other probe due at the same moment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from latent_probe.probing.collection import Activations
from latent_probe.probing.hooks import device_of

if TYPE_CHECKING:
    from latent_probe.probing.pass_plan import SharedPasses
    from latent_probe.probing.probe import Probe
    from latent_probe.probing.stream import StreamState


class Firing:
    """One probe's firing at one moment.

    Attributes:
        moment: the moment's name (``fit_end``, ``epoch=0004``, ``probe``, a model phase, ...).
        trainer: the Lightning trainer (for ``strategy``, ``global_step``, ...).
        model: the probed module (a LightningModule, or a plain ``nn.Module`` in ``latent-probe probe`` / notebook runs).
    """

    def __init__(self, probe: Probe, moment: str, trainer: Any, model: nn.Module, passes: SharedPasses) -> None:
        self.probe, self.moment, self.trainer, self.model, self._passes = probe, moment, trainer, model, passes

    def activations(self, split: str | None = None, keep_inputs: bool = False) -> Activations:
        """The probe's layers on its samples of ``split`` (default: its own), gathered from every rank in dataset-index order."""
        return self._passes.view(self.probe, split or self.probe.split, keep_inputs or self.probe.keeps_inputs)

    @property
    def stream(self) -> StreamState:
        """A streaming probe's states after the whole split, reduced across processes."""
        return self._passes.stream(self.probe)

    @property
    def device(self) -> torch.device:
        """Where the model's parameters are (the CPU for a model without any)."""
        return device_of(self.model)

    @property
    def dtype(self) -> torch.dtype:
        """The floating dtype of the model's parameters (float32 for a model without any)."""
        return next((p.dtype for p in self.model.parameters() if p.is_floating_point()), torch.float32)

    @property
    def batch_size(self) -> int:
        """Samples per forward pass of the probe's own on this device."""
        return self.probe.batch_size_on(self.device)

    @property
    def is_global_zero(self) -> bool:
        """Whether this process writes (global rank 0)."""
        return bool(self.trainer.is_global_zero)
