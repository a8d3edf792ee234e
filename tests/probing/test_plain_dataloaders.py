"""Probes on a run with plain dataloaders and no datamodule (the Python API): the data spec reads the trainer's
dataloaders' datasets when the probes first fire, since Lightning loads them after the setup hooks."""

from __future__ import annotations

import json

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger
from torch.utils.data import DataLoader, TensorDataset

from latent_probe.models import MLPClassifier
from latent_probe.probes import EmbeddingDumper, LinearProbe
from latent_probe.probing import ProbeRunner


def test_probes_read_the_trainers_dataloaders(tmp_path):
    pl.seed_everything(0)
    data = TensorDataset(torch.rand(96, 1, 28, 28), torch.arange(96) % 10)
    probes = [EmbeddingDumper(layers=["act2"], split="val", max_samples=48, strict=True),
              LinearProbe(layers=["act1", "act2"], max_samples=48, strict=True)]
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", logger=TensorBoardLogger(tmp_path, name="plain"),
                         callbacks=[runner := ProbeRunner(probes)],
                         enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
    trainer.fit(MLPClassifier(), DataLoader(data, batch_size=32), DataLoader(data, batch_size=32))
    assert runner.fired == {"embedding_dumper": ["fit_end"], "linear_probe": ["fit_end"]}
    assert probes[0].spec.image_shape == (1, 28, 28) and "trainer's dataloaders" in probes[0].spec.source
    folder = tmp_path / "plain" / "version_0" / "probes"
    assert json.loads((folder / "linear_probe" / "fit_end" / "manifest.json").read_text())["split"] == "val"
    assert (folder / "embedding_dumper" / "fit_end" / "embeddings.npz").is_file()
