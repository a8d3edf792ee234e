"""Training reads the data by the run's ``DataSpec``, the same rule the probes read it by: keys given only through
``data_spec:`` are the ones a model trains on."""

from __future__ import annotations

import dataclasses
import warnings

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from latent_probe.data import DatasetDataModule
from latent_probe.dataspec import DataSpec, build_data_spec
from latent_probe.errors import ConfigError
from latent_probe.models import Classifier, DenoisingAutoencoder


class DecoyItems(Dataset):
    """Dict items whose true input and label sit under unusual keys, next to the keys inference would pick."""

    def __init__(self, n: int = 16) -> None:
        generator = torch.Generator().manual_seed(0)
        self.pixels, self.inputs = torch.randn(n, 4, generator=generator), torch.randn(n, 4, generator=generator)
        self.target, self.decoy = torch.arange(n) % 3, (torch.arange(n) + 1) % 3

    def __len__(self) -> int:
        return len(self.target)

    def __getitem__(self, index: int) -> dict:
        return {"pixels": self.pixels[index], "target_class": self.target[index],
                "inputs": self.inputs[index], "label": self.decoy[index]}


def spec_and_batch(overrides: dict | None) -> tuple[DataSpec, dict, DecoyItems]:
    items = DecoyItems()
    spec = build_data_spec(datamodule=DatasetDataModule(train=items, val=items, batch_size=8), overrides=overrides)
    return spec, spec.collated([items[i] for i in range(8)]), items


def training_loss(model: Classifier, batch: dict) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # self.log outside a trainer says it does nothing
        return model.training_step(batch, 0)


def test_a_classifier_given_the_spec_trains_on_the_keys_of_data_spec():
    spec, batch, items = spec_and_batch({"input_key": "pixels", "label_key": "target_class"})
    model = Classifier(backbone=nn.Linear(4, 3))
    model.use_data_spec(spec)
    assert model.data_spec is spec
    expected = F.cross_entropy(model.backbone(items.pixels[:8]), items.target[:8])
    assert torch.allclose(training_loss(model, batch), expected)
    assert torch.equal(model.predict_step(batch, 0), model.backbone(items.pixels[:8]))


def test_without_a_spec_the_classifier_reads_batches_by_the_inference_rule():
    spec, batch, items = spec_and_batch(None)
    assert (spec.input_key, spec.label_key) == ("inputs", "label"), "the rule picks the usual names"
    model = Classifier(backbone=nn.Linear(4, 3))
    decoy = F.cross_entropy(model.backbone(items.inputs[:8]), items.decoy[:8])
    assert torch.allclose(training_loss(model, batch), decoy), "the same keys as the inferred spec"
    model.use_data_spec(spec)
    assert torch.allclose(training_loss(model, batch), decoy)


def test_a_spec_without_labels_stops_a_classifier_and_cannot_be_changed():
    spec, batch, _ = spec_and_batch({"input_key": "pixels", "label_key": "none"})
    model = Classifier(backbone=nn.Linear(4, 3))
    model.use_data_spec(spec)
    with pytest.raises(ConfigError, match="Classifier needs labels, but the batches have none"):
        training_loss(model, batch)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.label_key = "target_class"  # type: ignore[misc]


def test_a_reconstruction_model_given_the_spec_rebuilds_the_input_of_data_spec():
    spec, batch, items = spec_and_batch({"input_key": "pixels", "label_key": "none"})
    model = DenoisingAutoencoder(hidden=3, in_features=4)
    model.use_data_spec(spec)
    assert torch.equal(model.split_batch(batch).inputs, items.pixels[:8])
    assert torch.equal(model.predict_step(batch, 0), model(items.pixels[:8]))
