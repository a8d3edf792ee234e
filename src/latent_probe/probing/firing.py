"""``Firing``: what a probe receives when it fires. The moment, the model and where it runs, and its layers' outputs
from the pass it shares with every other probe due at the same moment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from latent_probe.errors import ConfigError, require_choice
from latent_probe.probing.collection import Activations
from latent_probe.probing.hooks import device_of
from latent_probe.probing.initial_weights import CURRENT, WEIGHTS

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
        run_dir: the run folder (``probes/<probe>/<moment>/`` lie under it), the same on every rank.
        used_initial_weights: whether the probe read the initial weights or activations at them (its manifest then says so).
    """

    def __init__(self, probe: Probe, moment: str, trainer: Any, model: nn.Module, passes: SharedPasses,
                 run_dir: str | None = None) -> None:
        self.probe, self.moment, self.trainer, self.model, self._passes = probe, moment, trainer, model, passes
        self.run_dir = run_dir
        self.used_initial_weights = False

    def activations(self, split: str | None = None, keep_inputs: bool = False, weights: str = CURRENT,
                    input_features: bool = False) -> Activations:
        """The probe's layers on its samples of ``split`` (default: its own), gathered from every rank in dataset-index order.

        ``keep_inputs``/``input_features``: with the raw inputs, or their reduction (``input_features.py``); at the current
        weights also when the probe declares ``keeps_inputs``/``keeps_input_features``.
        ``weights="initial"``: at the model's weights as built, before training (the probe declares
        ``needs_initial_weights``); the model's own weights are back once this returns.
        """
        require_choice("weights", weights, WEIGHTS)
        current = weights == CURRENT  # the inputs are the same at any weights: a probe reads them with the current ones
        if not current:
            self._reads_initial_weights("activations at the initial weights")
        return self._passes.view(self.probe, split or self.probe.split, keep_inputs or (current and self.probe.keeps_inputs),
                                 weights, input_features or (current and self.probe.keeps_input_features))

    def initial_weights(self) -> dict[str, torch.Tensor]:
        """The model's parameters and buffers as built, by name (CPU copies, the same on every rank: a collective), for a
        probe that declares ``needs_initial_weights`` (to load them into a model of its own); its manifest records them."""
        self._reads_initial_weights("the initial weights")
        return self._passes.initial_weights().tensors

    def _reads_initial_weights(self, what: str) -> None:
        if not self.probe.needs_initial_weights:
            raise ConfigError(f"probe {self.probe.name!r} asks for {what} without declaring them: set "
                              "`needs_initial_weights = True` on its class")
        self.used_initial_weights = True

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
