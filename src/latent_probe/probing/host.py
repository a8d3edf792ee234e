"""``ProbeHost``: how a post-hoc run hands any model to Lightning without running the model's own validation.

``latent-probe probe`` and ``latent_probe.probe()`` need what a Lightning run sets up (strategy, processes, devices,
precision, logger) but none of the model's own steps: an autoencoder, a segmentation net or a model on unlabelled
data has no loss the probes could use, and a plain ``nn.Module`` has no steps at all. The host is a LightningModule
whose only child is the model and whose validation step does nothing; one one-item validation pass sets everything up,
and the ``ProbeRunner`` fires at its end on the hosted model (``probed_model``), whose layer names are unchanged.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader


class ProbeHost(pl.LightningModule):
    """A LightningModule holding ``model`` (any ``nn.Module``) whose validation does nothing."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self._log_hyperparams = False  # the run's hparams.yaml stays the trained model's

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Nothing: the probes fire when the pass ends."""

    def one_step_loader(self) -> DataLoader:
        """The one-item data of the setup pass (each process gets the item)."""
        return DataLoader([torch.zeros(1)], batch_size=1)


def probed_model(pl_module: nn.Module) -> nn.Module:
    """The model the probes read: the hosted one in a post-hoc run, else the LightningModule itself."""
    return pl_module.model if isinstance(pl_module, ProbeHost) else pl_module
