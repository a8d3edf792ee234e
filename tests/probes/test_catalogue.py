"""Every registered probe on every registered model (timm-style: a new model or probe is tested without editing a list).

Each model gives its own example input (``example_input_array``); the data are random samples shaped like it. A probe
either writes a complete moment or refuses at setup with a ``ConfigError``; the layers a model documents for a
probe (``probe_layers``) must always work.
"""

from __future__ import annotations

import inspect
import json

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger
from torch.utils.data import DataLoader, TensorDataset

from latent_probe.cli.trainer import ProbeTrainer
from latent_probe.errors import ConfigError
from latent_probe.models import Classifier
from latent_probe.probing import ProbeRunner, resolve_layers
from latent_probe.registry import MODELS, PROBES, list_models, list_probes

SAMPLES = 24
# Registered models that need constructor arguments: a small instance of each (every other model is built with its defaults).
NEEDS_ARGUMENTS = {
    "Classifier": lambda: Classifier(backbone=torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                                                  torch.nn.Linear(4 * 6 * 6, 10)), num_classes=10),
}


def build(name: str) -> pl.LightningModule:
    """The registered model ``name``, with an ``example_input_array`` to shape the test data by."""
    model = NEEDS_ARGUMENTS[name]() if name in NEEDS_ARGUMENTS else MODELS.get(name)
    if getattr(model, "example_input_array", None) is None:
        model.example_input_array = torch.zeros(2, 1, 8, 8)
    return model


class ExampleData(pl.LightningDataModule):
    """Random inputs in [0, 1] shaped like the model's example input, labels 0/1 (every model's loss accepts them)."""

    def __init__(self, example: torch.Tensor) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        inputs = torch.rand(SAMPLES, *example.shape[1:], generator=generator)
        self.dataset = TensorDataset(inputs, torch.arange(SAMPLES) % 2)

    def val_dataloader(self):
        return DataLoader(self.dataset, batch_size=8)

    def train_dataloader(self):
        return DataLoader(self.dataset, batch_size=8)

    def test_dataloader(self):
        return DataLoader(self.dataset, batch_size=8)


def small_probe(name: str):
    """The probe with few samples (and one image to map, where it maps images), strict so a failure is raised."""
    accepted = inspect.signature(PROBES.resolve(name)).parameters
    extra = {"n_images": 1} if "n_images" in accepted else {}
    return PROBES.get(name, max_samples=SAMPLES, strict=True, **extra)


@pytest.mark.parametrize("probe_name", list_probes())
@pytest.mark.parametrize("model_name", list_models())
def test_probe_on_model_writes_a_moment_or_refuses_at_setup(model_name, probe_name, tmp_path):
    pl.seed_everything(0)
    model, probe = build(model_name), small_probe(probe_name)
    hinted = probe_name in getattr(model, "probe_layers", {})
    trainer = ProbeTrainer(accelerator="cpu", devices=1, logger=TensorBoardLogger(tmp_path, name="matrix"),
                           callbacks=[ProbeRunner([probe])],
                           enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
    try:
        trainer.probe(model, datamodule=ExampleData(model.example_input_array))
    except ConfigError as error:
        assert not hinted, f"{probe_name} refused the layers {model_name} documents for it: {error}"
        assert "\n" not in str(error).strip()
        return
    folder = tmp_path / "matrix" / "version_0" / "probes" / probe.name / "probe"
    assert (folder / ".complete").is_file(), f"{probe_name} on {model_name} wrote no complete moment"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["layers"] and [row["layer"] for row in manifest["layers"]] == probe.layers
    assert manifest["files"], "the moment lists its files"


@pytest.mark.parametrize("model_name", list_models())
def test_documented_layers_exist(model_name):
    model = build(model_name)
    for probe_name, layers in getattr(model, "probe_layers", {}).items():
        assert probe_name in PROBES, f"{model_name}.probe_layers names an unknown probe {probe_name!r}"
        assert resolve_layers(model, layers), f"{model_name}.probe_layers[{probe_name!r}] matches nothing"
