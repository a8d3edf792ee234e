"""A short fit of the digits net with probes attached through a ``ProbeRunner``, and a net that counts the rows the
probes' passes forward (the engine's sharing is checked on the model itself)."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch

from helpers.probe_models import TinyDigitNet
from latent_probe.data import DigitsDataModule
from latent_probe.probing import ProbeRunner


class CountingNet(TinyDigitNet):
    """TinyDigitNet counting the samples of every forward call outside training (the probes' passes)."""

    def __init__(self) -> None:
        super().__init__()
        self.probe_rows: list[int] = []

    def forward(self, x):
        """Count, then the usual logits."""
        if not self.training:
            self.probe_rows.append(len(x))
        return super().forward(x)


def fit_with_probes(folder: Path, probes: list, epochs: int = 1, callbacks: tuple = ()) -> tuple[CountingNet, Path]:
    """Short epochs (3 batches each, no validation) of a seeded ``CountingNet`` with ``probes`` at their moments (and
    ``callbacks`` after them); returns the model and the run's probes folder."""
    torch.manual_seed(0)
    model = CountingNet()
    trainer = pl.Trainer(max_epochs=epochs, limit_train_batches=3, limit_val_batches=0, accelerator="cpu",
                         enable_checkpointing=any(isinstance(c, pl.callbacks.ModelCheckpoint) for c in callbacks),
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[ProbeRunner(probes), *callbacks],
                         logger=pl.loggers.TensorBoardLogger(str(folder), name="run", version=0))
    trainer.fit(model, datamodule=DigitsDataModule(batch_size=32))
    return model, Path(folder) / "run" / "version_0" / "probes"
