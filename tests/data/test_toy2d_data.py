"""Seed 003's pieces: the toy datamodule and DeepMLP."""

import pytorch_lightning as pl
import torch

from latent_probe.data import Toy2DDataModule
from latent_probe.models import DeepMLP


def test_toy_splits_are_disjoint_balanced_and_reproducible():
    data = Toy2DDataModule(kind="moons", n_samples=1000, seed=3)
    data.setup()
    sizes = {name: len(data.dataset(name)) for name in ("train", "val", "test")}
    assert sizes == {"train": 600, "val": 200, "test": 200}
    all_points = torch.cat([data.dataset(s).tensors[0] for s in sizes])
    assert len(torch.unique(all_points, dim=0)) == 1000
    labels = torch.cat([data.dataset(s).tensors[1] for s in sizes])
    assert labels.sum().item() == 500
    again = Toy2DDataModule(kind="moons", n_samples=1000, seed=3)
    again.setup()
    assert torch.equal(again.dataset("val").tensors[0], data.dataset("val").tensors[0])


def test_deep_mlp_alternates_affine_and_tanh_modules():
    model = DeepMLP(width=3, depth=2)
    names = [name for name, _ in model.named_modules() if name.startswith("net.")]
    assert names == [
        "net.input_layer", "net.input_act", "net.hidden_layer1", "net.hidden_act1",
        "net.hidden_layer2", "net.hidden_act2", "net.output_layer", "net.output_act",
    ]
    assert model(torch.zeros(5, 2)).shape == (5,)


def test_short_fit_lowers_the_loss():
    pl.seed_everything(0)
    data = Toy2DDataModule(kind="moons", n_samples=400, noise=0.1)
    data.setup()
    model = DeepMLP(width=3, depth=1, lr=0.01)
    x, y = data.dataset("train").tensors
    before = model.loss_and_predictions(x, y)[0].item()
    trainer = pl.Trainer(max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu")
    trainer.fit(model, datamodule=data)
    after = model.loss_and_predictions(x, y)[0].item()
    assert after < before * 0.9
