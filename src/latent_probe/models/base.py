"""Shared training loop of the models: one ``_step`` per stage, the standard metric names, Adam, and batches split
by the run's ``DataSpec`` (the same rule the probes read the data by) once ``use_data_spec`` gave it."""

from __future__ import annotations

import math

import pytorch_lightning as pl
import torch
from torch.nn import functional as F

from latent_probe.dataspec import Batch, DataSpec, batch_parts
from latent_probe.errors import ConfigError, check_range, require_choice
from latent_probe.models.train_metrics import TrainMetrics, logging_step

LR_SCHEDULES = ("constant", "cosine")


def example_input(in_features: int, batch: int = 2) -> torch.Tensor:
    """An example batch for a model of ``in_features`` inputs: square grey images when the count is a square (28 x 28
    for 784), else flat vectors. Lightning's model summary and the probes' tests read it as ``example_input_array``."""
    side = math.isqrt(in_features)
    return torch.zeros(batch, 1, side, side) if side * side == in_features and side > 1 else torch.zeros(batch, in_features)


class StepModule(pl.LightningModule):
    """A LightningModule whose train/val/test steps all go through ``_step(batch, stage)``, optimised by Adam.

    ``lr_schedule``: ``constant``, or ``cosine``: the rate decays to 0 over the run's optimiser steps (a short run
    then ends on small steps instead of bouncing around at the full rate).

    Batches are split by ``split_batch``: by the run's ``DataSpec`` once ``use_data_spec`` gave one (its
    ``input_key``/``label_key``, exactly as the probes read them), else by ``default_parts``.
    """

    data_spec: DataSpec | None = None  # the run's data contract, once use_data_spec gave it

    def __init__(self, lr: float = 1e-3, lr_schedule: str = "constant") -> None:
        super().__init__()
        check_range("lr", lr, positive=True)
        self.lr, self.lr_schedule = lr, require_choice("lr_schedule", lr_schedule, LR_SCHEDULES)
        self.train_metrics = TrainMetrics()

    def __setattr__(self, name: str, value: object) -> None:
        """Set an attribute; Lightning's hook-name bookkeeping skips ``nn.Module``'s parameter/submodule checks."""
        # Lightning sets `_current_fx_name` around each of the ~45 hooks it calls per training step, and nn.Module's
        # __setattr__ looks the name up among parameters, buffers and submodules every time: about 0.2 ms a step, a
        # tenth of a small MLP's step. A hook name (a string or None) is never one of those.
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def log_train(self, name: str, value: torch.Tensor, size: int, prog_bar: bool = False) -> None:
        """``train/<name>``: summed for its epoch mean (logged at the epoch's end); the step value on logging steps only."""
        self.train_metrics.add(name, value, size)
        if logging_step(self._trainer):
            self.log(f"train/{name}_step", value, on_step=True, on_epoch=False, prog_bar=prog_bar, batch_size=size)

    def on_train_epoch_end(self) -> None:
        """Log the epoch means of the training metrics (``train/loss``, ...)."""
        for name, mean in self.train_metrics.pop_means().items():
            self.log(f"train/{name}", mean, on_step=False, on_epoch=True, prog_bar=name == "loss")

    def use_data_spec(self, spec: DataSpec | None) -> None:
        """Train, validate, test and predict on ``spec``'s keys, the ones the probes read (None: back to ``default_parts``)."""
        self.data_spec = spec

    def split_batch(self, batch) -> Batch:
        """Inputs and labels of a batch: by the run's ``DataSpec`` when one is set, else by ``default_parts``."""
        return self.data_spec.split_batch(batch) if self.data_spec is not None else self.default_parts(batch)

    def default_parts(self, batch) -> Batch:
        """Without a ``DataSpec``: the data spec's inference rule (``(x, y, ...)`` tuples, dicts, a bare tensor), so a
        model trains on what the probes would read."""
        return batch_parts(batch)

    def _step(self, batch, stage: str) -> torch.Tensor:
        raise NotImplementedError

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        """One optimisation step's loss."""
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        """Log the validation metrics (``val/...``)."""
        self._step(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        """Log the test metrics (``test/...``)."""
        self._step(batch, "test")

    def predict_step(self, batch, batch_idx: int) -> torch.Tensor:
        """The model's output for the batch's inputs."""
        return self(self.split_batch(batch).inputs)

    def configure_optimizers(self):
        """Adam with the configured learning rate and schedule (override with LightningCLI's ``optimizer:``)."""
        optimizer = torch.optim.Adam(self.parameter_groups(), lr=self.lr)
        if self.lr_schedule == "constant":
            return optimizer
        steps = self.trainer.estimated_stepping_batches
        if not math.isfinite(steps):
            raise ConfigError("lr_schedule cosine decays over the whole run, which has no end: set trainer.max_epochs or max_steps")
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, int(steps)))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def parameter_groups(self) -> list[dict]:
        """Adam's parameter groups (override to give some layers their own learning rate)."""
        return [{"params": list(self.parameters())}]


class ClassifierModule(StepModule):
    """A LightningModule that logs ``train/loss``, ``val/loss``, ``val/acc`` and ``test/acc``.

    Subclasses implement ``loss_and_predictions(x, y)`` returning the loss and predicted labels.
    """

    def loss_and_predictions(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Loss of the batch and predicted class of each sample."""
        raise NotImplementedError

    def _step(self, batch, stage: str) -> torch.Tensor:
        parts = self.split_batch(batch)
        if parts.labels is None:
            raise ConfigError(f"{type(self).__name__} needs labels, but the batches have none. HINT: give the data a label field")
        loss, predicted = self.loss_and_predictions(parts.inputs, parts.labels)
        size = len(parts)  # samples, also for dict inputs
        if stage == "train":
            self.log_train("loss", loss, size, prog_bar=True)
            return loss
        # sync_dist: under DDP, epoch metrics of val/test are averaged over ranks, not rank 0's shard alone.
        accuracy = (predicted == parts.labels).float().mean()
        self.log(f"{stage}/loss", loss, on_epoch=True, prog_bar=stage != "test", batch_size=size, sync_dist=True)
        self.log(f"{stage}/acc", accuracy, on_epoch=True, prog_bar=True, batch_size=size, sync_dist=True)
        return loss


class LogitsClassifierModule(ClassifierModule):
    """A ``ClassifierModule`` whose ``forward`` returns class logits: cross-entropy loss, argmax prediction."""

    def loss_and_predictions(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-entropy on the logits; the predicted class is their argmax."""
        logits = self(x)
        return F.cross_entropy(logits, y), logits.argmax(dim=-1)


class ReconstructionModule(StepModule):
    """A LightningModule trained to rebuild its inputs in [0, 1]; logs ``{stage}/loss`` and each loss part.

    Subclasses implement ``losses(x)`` returning ``{"loss": optimised total, "<part>": ...}``; parts
    (e.g. ``recon``, ``kl``) are logged as ``train/recon``, ``val/kl``, ... Labels are ignored.
    """

    def losses(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The batch's loss (key ``loss``) and its named parts."""
        raise NotImplementedError

    def _step(self, batch, stage: str) -> torch.Tensor:
        x = self.split_batch(batch).inputs
        if self.global_step == 0:  # only until the first optimiser step: each check costs a device sync
            require_unit_interval(x, type(self).__name__)
        losses = self.losses(x)
        for name, value in losses.items():
            main = name == "loss"
            if stage == "train":
                self.log_train(name, value, len(x), prog_bar=main)
            else:
                self.log(f"{stage}/{name}", value, on_epoch=True, prog_bar=main and stage != "test", batch_size=len(x),
                         sync_dist=True)
        return losses["loss"]


def require_unit_interval(x: torch.Tensor, model: str) -> None:
    """Raise ``ConfigError`` unless ``x`` lies in [0, 1], the range a Bernoulli decoder can rebuild."""
    low, high = x.min().item(), x.max().item()
    if low < 0 or high > 1:
        raise ConfigError(
            f"{model} rebuilds pixels in [0, 1] but its inputs range over [{low:.3g}, {high:.3g}]. "
            "HINT: set --data.normalize false"
        )
