"""Every seed model: output shapes, documented module paths, a real short fit that lowers the loss."""

import pytest
import pytorch_lightning as pl
import torch
from helpers.paths import CONFIGS
from helpers.quick_fit import fake_mnist_data, quick_trainer
from torch import nn

from latent_probe.errors import ConfigError, UnknownNameError
from latent_probe.models import (
    VAE,
    BottleneckClassifier,
    ClassifierModule,
    DenoisingAutoencoder,
    MLPClassifier,
    StackedDenoisingAutoencoder,
)
from latent_probe.models.dae import masking_noise

# Small versions of each model, the epochs a short fit needs (the SdA pretrains two layers first) and the
# training batches per epoch (the CNN costs ~0.3 s a batch on 2 CPU cores).
SMALL_MODELS = {
    "BottleneckClassifier": (lambda: BottleneckClassifier(lr=1e-2), 3, 7),
    "VAE": (lambda: VAE(hidden_sizes=[64], latent_dim=4, lr=3e-3), 3, 7),
    "DenoisingAutoencoder": (lambda: DenoisingAutoencoder(hidden=32, lr=3e-3), 3, 7),
    "StackedDenoisingAutoencoder": (lambda: StackedDenoisingAutoencoder([64, 32], pretrain_epochs=1, lr=1e-2), 5, 7),
    "MLPClassifier": (lambda: MLPClassifier(lr=0.01), 3, 7),
}

# The module paths each model's docstring promises, with the output width there.
DOCUMENTED_PATHS = {
    BottleneckClassifier: {"bottleneck": 2, "bottleneck_act": 2, "classifier": 10, "features.fc": 128},
    VAE: {"encoder.mean": 20, "encoder.logvar": 20, "decoder.out": 784, "decoder_act": 784},
    DenoisingAutoencoder: {"encoder": 500, "encoder_act": 500, "decoder_act": 784},
    StackedDenoisingAutoencoder: {"encoders.0": 500, "encoders.1": 500, "encoder_acts.1": 500, "classifier": 10},
    MLPClassifier: {"fc1": 50, "act1": 50, "fc2": 100, "act2": 100, "fc3": 10},
}


def evaluation_loss(model: pl.LightningModule, x: torch.Tensor, y: torch.Tensor) -> float:
    """The model's loss on a fixed batch, in eval mode and with fixed sampling noise."""
    model.eval()
    torch.manual_seed(0)
    with torch.no_grad():
        loss = model.loss_and_predictions(x, y)[0] if isinstance(model, ClassifierModule) else model.losses(x)["loss"]
    model.train()  # Lightning keeps the mode a model arrives in
    return loss.item()


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_short_fit_lowers_the_loss(name, fake_mnist):
    pl.seed_everything(0)
    build, epochs, batches = SMALL_MODELS[name]
    model, data = build(), fake_mnist_data(fake_mnist)
    data.setup()
    x, y = data.dataset("val").tensors
    before = evaluation_loss(model, x, y)
    quick_trainer(max_epochs=epochs, limit_train_batches=batches, limit_val_batches=1).fit(model, datamodule=data)
    assert evaluation_loss(model, x, y) < 0.9 * before


@pytest.mark.parametrize("model_class", DOCUMENTED_PATHS, ids=lambda c: c.__name__)
def test_documented_module_paths_and_output_shapes(model_class):
    model = model_class().eval()
    seen: dict[str, torch.Tensor] = {}
    modules = dict(model.named_modules())
    for path in DOCUMENTED_PATHS[model_class]:
        modules[path].register_forward_hook(lambda module, args, output, path=path: seen.setdefault(path, output))
    images = torch.rand(3, 1, 28, 28)
    output = model(images)
    assert {path: out.shape[-1] for path, out in seen.items()} == DOCUMENTED_PATHS[model_class]
    classifier = isinstance(model, ClassifierModule)
    assert output.shape == ((3, 10) if classifier else images.shape)
    assert torch.allclose(model(images.flatten(1)).flatten(1), output.flatten(1))


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "tanh", "identity"])
def test_bottleneck_activations(activation):
    model = BottleneckClassifier(activation=activation)
    assert type(model.bottleneck_act).__name__.lower().replace("_", "") in {
        "relu", "leakyrelu", "sigmoid", "tanh", "identity"
    }
    assert isinstance(model.bottleneck, nn.Linear) and model.bottleneck.out_features == 2


def test_unknown_activation_lists_the_choices():
    with pytest.raises(UnknownNameError, match="unknown activation 'swish'; valid choices: .*leaky_relu.*sigmoid"):
        BottleneckClassifier(activation="swish")


def test_bottleneck_on_8x8_digits():
    assert BottleneckClassifier(image_size=8)(torch.rand(4, 1, 8, 8)).shape == (4, 10)


def test_bad_activation_through_the_cli_is_one_line(run_cli):
    result = run_cli("fit", "--config", str(CONFIGS / "bottleneck2d.yaml"), "--model.activation", "swish", shrink=False)
    assert result.code == 2 and "Traceback" not in result.err
    assert "unknown activation 'swish'; valid choices:" in result.err.strip().splitlines()[-1]


def test_dae_decoder_is_tied_to_the_encoder():
    model = DenoisingAutoencoder(hidden=16)
    assert {name for name, _ in model.named_parameters()} == {"encoder.weight", "encoder.bias", "decoder_bias"}
    code = torch.rand(2, 16)
    expected = torch.sigmoid(code @ model.encoder.weight + model.decoder_bias)
    assert torch.allclose(model.decode(code), expected)


def test_masking_noise_zeroes_about_the_corruption_share():
    torch.manual_seed(0)
    kept = masking_noise(torch.ones(100_000), 0.3)
    assert set(kept.unique().tolist()) == {0.0, 1.0} and abs((kept == 0).float().mean().item() - 0.3) < 0.01


@pytest.mark.parametrize(
    "build",
    [lambda: DenoisingAutoencoder(corruption=1.5), lambda: DenoisingAutoencoder(corruption=-0.1),
     lambda: VAE(latent_dim=0), lambda: MLPClassifier(hidden_sizes=[50, 0]), lambda: BottleneckClassifier(lr=0)],
)
def test_bad_values_are_config_errors(build):
    with pytest.raises(ConfigError):
        build()


@pytest.mark.parametrize("model_class", [VAE, DenoisingAutoencoder])
def test_autoencoders_reject_normalized_pixels(model_class, fake_mnist):
    data = fake_mnist_data(fake_mnist, normalize=True)
    with pytest.raises(ConfigError, match="normalize false"):
        quick_trainer(limit_train_batches=1, limit_val_batches=0).fit(model_class(), datamodule=data)


def test_vae_logs_loss_parts(fake_mnist):
    trainer = quick_trainer(limit_train_batches=2, limit_val_batches=1, limit_test_batches=1)
    model, data = VAE(hidden_sizes=[32], latent_dim=2), fake_mnist_data(fake_mnist)
    trainer.fit(model, datamodule=data)
    assert {"train/loss", "train/recon", "train/kl", "val/loss", "val/recon", "val/kl"} <= set(trainer.callback_metrics)
    trainer.test(model, datamodule=data, verbose=False)
    assert "test/loss" in trainer.callback_metrics


def test_vae_kl_weight_scales_only_the_kl_term_of_the_trained_loss():
    torch.manual_seed(0)
    x = torch.rand(8, 784)
    parts = {}
    for weight in (1.0, 4.0):
        torch.manual_seed(1)
        model = VAE(hidden_sizes=[32], latent_dim=3, kl_weight=weight)
        torch.manual_seed(2)
        parts[weight] = model.losses(x)
    assert torch.allclose(parts[1.0]["loss"], parts[1.0]["nelbo"])
    same = parts[4.0]
    assert torch.allclose(same["loss"], same["recon"] + 4.0 * same["kl"]) and torch.allclose(same["nelbo"], parts[1.0]["nelbo"])
    with pytest.raises(ConfigError, match="kl_weight must be >= 0"):
        VAE(kl_weight=-1)


def test_readout_learns_at_its_own_rate_and_cosine_decays_to_zero(fake_mnist):
    model = BottleneckClassifier(activation="sigmoid", bottleneck_norm=True, readout_lr_scale=30, lr=1e-3, lr_schedule="cosine")
    trainer = quick_trainer(max_epochs=2, limit_train_batches=3, limit_val_batches=1)
    trainer.fit(model, datamodule=fake_mnist_data(fake_mnist))
    optimizer = trainer.optimizers[0]
    readout = next(g for g in optimizer.param_groups if any(p is model.classifier.weight for p in g["params"]))
    rest = next(g for g in optimizer.param_groups if g is not readout)
    assert readout["initial_lr"] == pytest.approx(30 * rest["initial_lr"]) and rest["initial_lr"] == pytest.approx(1e-3)
    assert readout["lr"] == pytest.approx(0.0, abs=1e-12) and rest["lr"] == pytest.approx(0.0, abs=1e-12), "decayed over 6 steps"
    assert isinstance(model.bottleneck_norm, nn.BatchNorm1d) and model.bottleneck_norm.num_batches_tracked == 6


def test_bottleneck_norm_feeds_the_activation():
    model = BottleneckClassifier(activation="sigmoid", bottleneck_norm=True).eval()
    with torch.no_grad():
        model.bottleneck_norm.running_mean.fill_(3.0)
    seen = {}
    model.bottleneck_act.register_forward_hook(lambda module, args, output: seen.setdefault("input", args[0]))
    images = torch.rand(4, 1, 28, 28)
    model(images)
    assert torch.allclose(seen["input"], model.bottleneck_norm(model.bottleneck(model.features(images))))
    assert BottleneckClassifier().bottleneck_norm is None


def test_unknown_lr_schedule_lists_the_choices():
    with pytest.raises(UnknownNameError, match="unknown lr_schedule .linear.; valid choices: .*(constant.*cosine|cosine.*constant)"):
        BottleneckClassifier(lr_schedule="linear")
