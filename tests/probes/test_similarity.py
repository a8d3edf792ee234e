"""LayerSimilarity, the streaming CKA probe: over a whole split it writes the layers x layers linear CKA matrix of a
model's activations, equal to a float64 NumPy reference of Kornblith's formula, and the same on 1 and 2 processes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from helpers.probe_fits import fit_with_probes
from helpers.probe_models import TinyDigitNet
from PIL import Image

from latent_probe.analysis.cka import MAX_EXACT_WIDTH
from latent_probe.data import DigitsDataModule
from latent_probe.errors import ConfigError
from latent_probe.probes import LayerSimilarity
from latent_probe.probing import ProbeRunner

LAYERS = ["hidden", "hidden_act", "bottleneck_act", "classifier"]


def reference_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Kornblith et al. (2019): HSIC = tr(K H L H) on linear Gram matrices, normalised."""
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    kh, lh = x @ x.T @ h, y @ y.T @ h
    return float(np.sum(kh * lh.T) / np.sqrt(np.sum(kh * kh.T) * np.sum(lh * lh.T)))


def activations(model: TinyDigitNet) -> dict[str, np.ndarray]:
    """The chosen layers' outputs over the whole val split, in float64 NumPy."""
    dataset = DigitsDataModule().dataset("val")
    x = torch.stack([dataset[i][0] for i in range(len(dataset))]).flatten(1).double().numpy()
    w = {name: p.detach().double().numpy() for name, p in model.named_parameters()}
    hidden = x @ w["hidden.weight"].T + w["hidden.bias"]
    act = np.maximum(hidden, 0)
    bottleneck = np.tanh(act @ w["bottleneck.weight"].T + w["bottleneck.bias"])
    return {"hidden": hidden, "hidden_act": act, "bottleneck_act": bottleneck,
            "classifier": bottleneck @ w["classifier.weight"].T + w["classifier.bias"]}


def test_the_matrix_of_a_whole_split_equals_a_float64_reference(tmp_path):
    model, probes = fit_with_probes(tmp_path, [LayerSimilarity(layers=LAYERS, strict=True)])
    folder = probes / "layer_similarity" / "fit_end"
    outputs = activations(model)
    expected = np.array([[reference_cka(outputs[a], outputs[b]) for b in LAYERS] for a in LAYERS])
    with np.load(folder / "similarity.npz") as npz:
        matrix, layers, count = npz["cka"], list(npz["layers"]), int(npz["n_samples"])
    assert layers == LAYERS and count == len(DigitsDataModule().dataset("val"))
    np.testing.assert_array_equal(matrix, matrix.T)
    np.testing.assert_array_equal(np.diag(matrix), 1.0)
    np.testing.assert_allclose(matrix, expected, rtol=0, atol=1e-5)  # the model runs in float32
    summary = json.loads((folder / "similarity.json").read_text())
    assert summary["layers"] == LAYERS and summary["n_samples"] == count and "exact" in summary["method"]
    np.testing.assert_allclose(np.array(summary["cka"]), matrix, rtol=0, atol=1e-12)
    picture = np.asarray(Image.open(folder / "similarity.png"))
    assert picture.ndim == 3 and min(picture.shape[:2]) > 200


def test_default_layers_are_the_activation_modules(tmp_path):
    _, probes = fit_with_probes(tmp_path, [LayerSimilarity(strict=True)])
    with np.load(probes / "layer_similarity" / "fit_end" / "similarity.npz") as npz:
        assert list(npz["layers"]) == ["hidden_act", "bottleneck_act"]


def test_a_layer_too_wide_for_exact_cka_is_refused_at_setup(tmp_path):
    class WideNet(TinyDigitNet):
        def __init__(self) -> None:
            super().__init__()
            self.hidden = torch.nn.Linear(64, MAX_EXACT_WIDTH + 1)
            self.bottleneck = torch.nn.Linear(MAX_EXACT_WIDTH + 1, 2)

    trainer = pl.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=0, accelerator="cpu", enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, logger=False,
                         callbacks=[ProbeRunner([LayerSimilarity(layers=["hidden_act", "bottleneck_act"], strict=True)])])
    with pytest.raises(ConfigError, match=rf"'hidden_act' has {MAX_EXACT_WIDTH + 1} features"):
        trainer.fit(WideNet(), datamodule=DigitsDataModule(batch_size=32))


# 1 and 2 processes give the same matrix: tests/probes/test_unit_stats.py runs both streaming probes in one DDP pass.
