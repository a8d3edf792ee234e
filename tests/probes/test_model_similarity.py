"""ModelSimilarity in a user's own Trainer and from a notebook: during training against the initial weights (equal to
tr(KHLH) on float64 forward passes, a curve per layer in TensorBoard, its pass its own beside a stream's shared one), a
reference file nobody loaded and a reference of another architecture refused at setup, and ``latent_probe.probe`` loading
a weights file as the reference."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers.cka_reference import digits_layers, reference_cka
from helpers.probe_fits import CountingNet, fit_with_probes
from helpers.probe_models import TinyDigitNet
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import latent_probe
from latent_probe.data import DigitsDataModule
from latent_probe.errors import ConfigError
from latent_probe.probes import ModelSimilarity, UnitStats
from latent_probe.probing import ProbeRunner, build_data_spec

LAYERS = ["hidden", "hidden_act", "bottleneck_act", "classifier"]


def matrix_of(folder) -> np.ndarray:
    with np.load(folder / "similarity.npz") as npz:
        return npz["cka"]


def test_during_training_against_the_initial_weights(tmp_path):
    torch.manual_seed(0)
    built = CountingNet().state_dict()  # fit_with_probes seeds 0 and builds the same net
    probes = [ModelSimilarity(layers=LAYERS, every_n_epochs=1, strict=True),
              UnitStats(layers=["hidden_act"], every_n_epochs=1, strict=True)]
    model, folder = fit_with_probes(tmp_path, probes, epochs=2)
    size = len(DigitsDataModule().dataset("val"))
    assert sum(model.probe_rows[1:]) == 2 * 2 * size, "per epoch a pass for the stream, one of its own for the comparison"
    index = np.arange(size)
    trained, initial = digits_layers(model.state_dict(), index), digits_layers(built, index)
    expected = np.array([[reference_cka(trained[x], initial[y]) for y in LAYERS] for x in LAYERS])
    np.testing.assert_allclose(matrix_of(folder / "model_similarity" / "epoch=0001"), expected, rtol=0, atol=1e-6)
    manifest = json.loads((folder / "model_similarity" / "epoch=0001" / "manifest.json").read_text())
    assert manifest["reference"]["kind"] == "initial" and "digest" in manifest["initial_weights"]
    events = EventAccumulator(str(folder.parent), size_guidance={"scalars": 0, "images": 0}).Reload()
    assert len(events.Scalars("model_similarity/hidden/reference")) == 2 and "model_similarity/cka" in events.Tags()["images"]


def prepared(probe: ModelSimilarity) -> None:
    """Set the probe up on the digits net, as a runner in the user's own Trainer does."""
    ProbeRunner([probe]).prepare(TinyDigitNet(), build_data_spec(datamodule=DigitsDataModule()))


def test_a_file_nobody_loaded_and_another_architecture_are_refused_at_setup():
    with pytest.raises(ConfigError, match=r"reference 'b.ckpt' is loaded by `latent-probe compare`.*call use_reference"):
        prepared(ModelSimilarity(reference="b.ckpt", layers=LAYERS))
    other = ModelSimilarity(reference="mine", layers=LAYERS)
    other.use_reference(torch.nn.Sequential(torch.nn.Linear(64, 16)), {"kind": "a module"})
    with pytest.raises(ConfigError, match="differ from TinyDigitNet's"):
        prepared(other)
    with pytest.raises(ConfigError, match="reference must be initial, a Lightning checkpoint"):
        ModelSimilarity(reference="")


def test_a_notebook_compares_with_a_weights_file(tmp_path):
    torch.manual_seed(3)
    model = TinyDigitNet()
    torch.save(model.state_dict(), tmp_path / "same.pt")
    probes = [{"class_path": "ModelSimilarity", "init_args": {"reference": str(tmp_path / "same.pt"), "layers": LAYERS}}]
    run = latent_probe.probe(model, DigitsDataModule(), probes, out=tmp_path / "runs" / "nb", show=False, accelerator="cpu")
    folder = run / "probes" / "model_similarity" / "probe"
    np.testing.assert_allclose(np.diag(matrix_of(folder)), 1.0, rtol=0, atol=1e-12)
    assert json.loads((folder / "manifest.json").read_text())["reference"]["kind"] == "weights file"
