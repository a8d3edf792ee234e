"""The stacked denoising autoencoder: phase order, phase announcements, and what fine-tuning starts from."""

import pytest
import pytorch_lightning as pl
import torch
from helpers.mnist_files import write_fake_mnist
from helpers.quick_fit import fake_mnist_data, quick_trainer

from latent_probe.errors import ConfigError
from latent_probe.models import StackedDenoisingAutoencoder


def snapshot(model: StackedDenoisingAutoencoder) -> dict[str, torch.Tensor]:
    """Copies of the encoder and classifier weights."""
    weights = {f"encoders.{i}": encoder.weight.detach().clone() for i, encoder in enumerate(model.encoders)}
    return {**weights, "classifier": model.classifier.weight.detach().clone()}


class PhaseRecorder(pl.Callback):
    """Records every phase announcement with its epoch, the weights at each, and the first fine-tuning phase seen."""

    def __init__(self) -> None:
        self.phases: list[tuple[int, str]] = []
        self.weights: dict[str, dict[str, torch.Tensor]] = {}
        self.training_phases: list[tuple[int, str]] = []

    def on_phase_end(self, trainer, pl_module, phase: str) -> None:
        self.phases.append((trainer.current_epoch, phase))
        self.weights[phase] = snapshot(pl_module)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        layer = pl_module.pretraining_layer()
        phase = "finetune" if layer is None else f"pretrain_layer{layer + 1}"
        if not self.training_phases or self.training_phases[-1][1] != phase:
            self.training_phases.append((trainer.current_epoch, phase))
            self.weights[f"start_{phase}"] = snapshot(pl_module)


@pytest.fixture(scope="module")
def recorded_fit(tmp_path_factory):
    """One fit of a 784-32-16-10 SdA: 2 layers x 2 pretraining epochs, then 2 fine-tuning epochs."""
    pl.seed_everything(0)
    model = StackedDenoisingAutoencoder([32, 16], corruption=[0.1, 0.2], pretrain_epochs=2, lr=1e-2)
    initial = snapshot(model)
    recorder = PhaseRecorder()
    trainer = quick_trainer(max_epochs=6, limit_train_batches=3, limit_val_batches=1, callbacks=[recorder])
    trainer.fit(model, datamodule=fake_mnist_data(write_fake_mnist(tmp_path_factory.mktemp("mnist"))))
    return model, trainer, recorder, initial


def test_phases_run_in_order_and_are_announced_once(recorded_fit):
    model, _, recorder, _ = recorded_fit
    assert recorder.training_phases == [(0, "pretrain_layer1"), (2, "pretrain_layer2"), (4, "finetune")]
    assert recorder.phases == [(1, "pretrain_layer1_end"), (3, "pretrain_layer2_end"), (3, "pretrain_end"),
                               (6, "finetune_end")]
    assert [model.pretraining_layer(epoch) for epoch in range(6)] == [0, 0, 1, 1, None, None]


def test_pretraining_trains_one_layer_at_a_time(recorded_fit):
    _, _, recorder, initial = recorded_fit
    layer1_end, pretrain_end = recorder.weights["pretrain_layer1_end"], recorder.weights["pretrain_end"]
    assert not torch.equal(layer1_end["encoders.0"], initial["encoders.0"])
    assert torch.equal(layer1_end["encoders.1"], initial["encoders.1"])
    assert torch.equal(pretrain_end["encoders.0"], layer1_end["encoders.0"]), "layer 1 is frozen while layer 2 learns"
    assert not torch.equal(pretrain_end["encoders.1"], initial["encoders.1"])
    assert torch.equal(pretrain_end["classifier"], initial["classifier"]), "the output layer waits for fine-tuning"


def test_fine_tuning_starts_from_the_pretrained_weights(recorded_fit):
    model, _, recorder, _ = recorded_fit
    start, pretrained = recorder.weights["start_finetune"], recorder.weights["pretrain_end"]
    assert all(torch.equal(start[name], pretrained[name]) for name in pretrained)
    assert not torch.equal(model.encoders[0].weight, pretrained["encoders.0"]), "fine-tuning moves the whole stack"


def test_both_phases_log_their_metrics(recorded_fit):
    _, trainer, _, _ = recorded_fit
    logged = set(trainer.callback_metrics)
    assert {"train/loss", "val/loss", "val/acc"} <= logged
    assert {f"{stage}/pretrain_layer{k}_loss" for stage in ("train", "val") for k in (1, 2)} <= logged


def test_too_few_epochs_for_fine_tuning_warn(fake_mnist):
    model = StackedDenoisingAutoencoder([8], pretrain_epochs=1)
    with pytest.warns(UserWarning, match="leaves no fine-tuning"):
        trainer = quick_trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=0)
        trainer.fit(model, datamodule=fake_mnist_data(fake_mnist))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"hidden_sizes": []}, "hidden_sizes must list at least one layer"),
     ({"hidden_sizes": [10, 10], "corruption": [0.1, 0.2, 0.3]}, "one per hidden layer"),
     ({"corruption": 1.2}, "corruption must be"),
     ({"pretrain_epochs": -1}, "pretrain_epochs")],
)
def test_bad_values_are_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        StackedDenoisingAutoencoder(**kwargs)
