"""Fire each registered probe once on the bottleneck CNN on a chosen accelerator and precision (GPU and bf16 tests)."""

from __future__ import annotations

import inspect

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger
from torch.utils.data import DataLoader, TensorDataset

from latent_probe.cli.trainer import ProbeTrainer
from latent_probe.models import BottleneckClassifier
from latent_probe.probing import ProbeRunner
from latent_probe.registry import PROBES, list_probes


def probe_once(tmp_path, probe_name: str, accelerator: str, precision: str = "32-true"):
    """Fire registered probe ``probe_name`` once on the bottleneck CNN (random weights, seed 0) over fake digits."""
    pl.seed_everything(0)
    accepted = inspect.signature(PROBES.resolve(probe_name)).parameters
    extra = {"n_images": 2} if "n_images" in accepted else {}
    probe = PROBES.get(probe_name, max_samples=64, strict=True, **extra)
    generator = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.rand(64, 1, 28, 28, generator=generator), torch.arange(64) % 10)

    class Digits(pl.LightningDataModule):
        def train_dataloader(self):
            return DataLoader(data, batch_size=16)

        val_dataloader = test_dataloader = train_dataloader

    trainer = ProbeTrainer(accelerator=accelerator, devices=1, precision=precision, callbacks=[ProbeRunner([probe])],
                           enable_progress_bar=False,
                           logger=TensorBoardLogger(tmp_path / accelerator, name=precision, version=0),
                           enable_model_summary=False, enable_checkpointing=False)
    trainer.probe(BottleneckClassifier(), datamodule=Digits())
    return tmp_path / accelerator / precision / "version_0" / "probes" / probe.name / "probe"


def registered_probes() -> list[str]:
    """Every registered probe's name."""
    return list_probes()

