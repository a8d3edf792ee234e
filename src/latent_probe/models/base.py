"""Shared training loop of the classifiers: one loss, the standard metric names, Adam."""

from __future__ import annotations

import pytorch_lightning as pl
import torch

from latent_probe.errors import check_range


class ClassifierModule(pl.LightningModule):
    """A LightningModule that logs ``train/loss``, ``val/loss``, ``val/acc`` and ``test/acc``.

    Subclasses implement ``loss_and_predictions(x, y)`` returning the loss and predicted labels.
    """

    def __init__(self, lr: float = 1e-3) -> None:
        super().__init__()
        check_range("lr", lr, positive=True)
        self.lr = lr

    def loss_and_predictions(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Loss of the batch and predicted class of each sample."""
        raise NotImplementedError

    def _step(self, batch, stage: str) -> torch.Tensor:
        x, y = batch[0], batch[1]
        loss, predicted = self.loss_and_predictions(x, y)
        on_step = stage == "train"
        self.log(f"{stage}/loss", loss, on_step=on_step, on_epoch=True, prog_bar=stage != "test", batch_size=len(x))
        if stage != "train":
            accuracy = (predicted == y).float().mean()
            self.log(f"{stage}/acc", accuracy, on_epoch=True, prog_bar=True, batch_size=len(x))
        return loss

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        """One optimisation step's loss."""
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        """Log ``val/loss`` and ``val/acc``."""
        self._step(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        """Log ``test/loss`` and ``test/acc``."""
        self._step(batch, "test")

    def predict_step(self, batch, batch_idx: int) -> torch.Tensor:
        """The model's output for the batch's inputs."""
        return self(batch[0])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam with the configured learning rate (override with LightningCLI's ``optimizer:``)."""
        return torch.optim.Adam(self.parameters(), lr=self.lr)
